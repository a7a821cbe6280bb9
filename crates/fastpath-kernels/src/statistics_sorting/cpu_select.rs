//! CPU selection: radix select with two 16-bit digits, the same idea as the GPU's 8-bit one.
//!
//! Pass 1 histograms the top 16 bits of every key (65 536 bins, one table per thread: it
//! stays in L2), which locates the bin holding the wanted rank; pass 2 histograms the low 16
//! bits of the keys in that bin, which gives the exact key. Two streaming reads, no copy of
//! the data, and O(n) whatever the distribution (an all-equal input is one bin, not a slow
//! path). Top-k first tries a single pass behind a threshold estimated from a strided sample
//! (Floyd–Rivest style); otherwise its second pass collects every key in or below the
//! threshold's bin (about k + n/65536 of them) and selects among those, and when ties crowd
//! that bin it finds the exact threshold and collects the winners in index order. Small
//! inputs copy the keys and use `select_nth_unstable` (introselect).

use rayon::prelude::*;

use super::cpu_sort::sort_pairs_by_key_then_value;
use super::keys::{f32_desc_rank_key, f32_from_desc_rank_key, f32_sort_key};

/// Below this many elements, copy + introselect is cheaper than two histogram passes.
const SMALL: usize = 1 << 16;
const BINS: usize = 1 << 16;

/// Contiguous ranges of `0..n`, a few per thread (for per-thread histograms).
fn parts(n: usize) -> Vec<std::ops::Range<usize>> {
    let count = (rayon::current_num_threads() * 2).clamp(1, n.div_ceil(SMALL).max(1));
    let len = n.div_ceil(count);
    (0..count).map(|p| p * len..n.min((p + 1) * len)).filter(|r| !r.is_empty()).collect()
}

fn add_tables(mut a: Vec<u32>, b: Vec<u32>) -> Vec<u32> {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
    a
}

/// Histogram of `key >> 16` over all keys.
fn high_histogram(x: &[f32], key: impl Fn(u32) -> u32 + Sync) -> Vec<u32> {
    parts(x.len())
        .into_par_iter()
        .map(|r| {
            let mut h = vec![0u32; BINS];
            for &v in &x[r] {
                h[(key(v.to_bits()) >> 16) as usize] += 1;
            }
            h
        })
        .reduce(|| vec![0u32; BINS], add_tables)
}

/// Histograms of `key & 0xFFFF` over the keys whose top 16 bits are `bins[i]` (one table per
/// distinct bin).
fn low_histograms(x: &[f32], key: impl Fn(u32) -> u32 + Sync, bins: &[u32]) -> Vec<Vec<u32>> {
    let tables = bins.len();
    let flat = parts(x.len())
        .into_par_iter()
        .map(|r| {
            let mut h = vec![0u32; BINS * tables];
            for &v in &x[r] {
                let k = key(v.to_bits());
                let high = k >> 16;
                for (t, &b) in bins.iter().enumerate() {
                    if high == b {
                        h[t * BINS + (k & 0xFFFF) as usize] += 1;
                    }
                }
            }
            h
        })
        .reduce(|| vec![0u32; BINS * tables], add_tables);
    flat.chunks(BINS).map(<[u32]>::to_vec).collect()
}

/// The bin holding 0-based rank `rank` and the rank within that bin.
fn locate(hist: &[u32], rank: usize) -> (u32, usize) {
    let mut below = 0usize;
    for (b, &c) in hist.iter().enumerate() {
        if rank < below + c as usize {
            return (b as u32, rank - below);
        }
        below += c as usize;
    }
    unreachable!("rank {rank} beyond the histogram's {below} elements")
}

/// The sort keys of ranks `rank` and `rank + 1` (ascending sort-key order; the second is
/// `None` past the end), and whether any element is NaN.
pub struct OrderStatistics {
    pub lo: u32,
    pub hi: Option<u32>,
    pub has_nan: bool,
}

pub fn order_statistics(x: &[f32], rank: usize) -> OrderStatistics {
    let n = x.len();
    assert!(rank < n);
    let has_nan = x.par_chunks(crate::cpu::CHUNK).any(|c| c.iter().any(|v| v.is_nan()));
    if n <= SMALL {
        let mut keys: Vec<u32> = x.iter().map(|v| f32_sort_key(v.to_bits())).collect();
        let (_, &mut lo, above) = keys.select_nth_unstable(rank);
        let hi = above.iter().copied().min();
        return OrderStatistics { lo, hi, has_nan };
    }
    let key = |b: u32| f32_sort_key(b);
    let hist = high_histogram(x, key);
    let (bin_lo, r_lo) = locate(&hist, rank);
    let next = (rank + 1 < n).then(|| locate(&hist, rank + 1));
    let mut bins = vec![bin_lo];
    if let Some((b, _)) = next
        && b != bin_lo
    {
        bins.push(b);
    }
    let lows = low_histograms(x, key, &bins);
    let (low_lo, _) = locate(&lows[0], r_lo);
    let lo = bin_lo << 16 | low_lo;
    let hi = next.map(|(b, r)| {
        let table = if b == bin_lo { &lows[0] } else { &lows[1] };
        b << 16 | locate(table, r).0
    });
    OrderStatistics { lo, hi, has_nan }
}

/// The k largest values (descending; NaN largest; ties by smaller index) and their indices.
pub fn top_k(x: &[f32], k: usize) -> (Vec<f32>, Vec<u32>) {
    let n = x.len();
    assert!(k >= 1 && k <= n);
    let rank_key = |b: u32| f32_desc_rank_key(b);
    let mut winners: Vec<u64> = if n <= SMALL {
        let mut all: Vec<u64> = x
            .iter()
            .enumerate()
            .map(|(i, v)| (rank_key(v.to_bits()) as u64) << 32 | i as u64)
            .collect();
        if k < n {
            all.select_nth_unstable(k - 1);
            all.truncate(k);
        }
        all
    } else if let Some(winners) = top_k_by_sampled_threshold(x, k) {
        winners
    } else {
        let hist = high_histogram(x, rank_key);
        let (bin, _) = locate(&hist, k - 1);
        let at_or_below: usize = hist[..=bin as usize].iter().map(|&c| c as usize).sum();
        if at_or_below <= 2 * k + SMALL {
            // Few enough candidates (the usual case): collect every key in or below the
            // threshold's bin in one more pass and select among them.
            let mut candidates: Vec<u64> = parts(n)
                .into_par_iter()
                .map(|range| {
                    let start = range.start;
                    let mut out = Vec::new();
                    for (j, v) in x[range].iter().enumerate() {
                        let key = rank_key(v.to_bits());
                        if key >> 16 <= bin {
                            out.push((key as u64) << 32 | (start + j) as u64);
                        }
                    }
                    out
                })
                .flatten()
                .collect();
            if k < candidates.len() {
                candidates.select_nth_unstable(k - 1);
                candidates.truncate(k);
            }
            candidates
        } else {
            top_k_by_exact_threshold(x, k, &hist, bin)
        }
    };
    // Order by (rank key, index): the composites are distinct, so the order is exact.
    if winners.len() <= SMALL {
        winners.sort_unstable();
    } else {
        let mut keys: Vec<u32> = winners.iter().map(|w| (w >> 32) as u32).collect();
        let mut idx: Vec<u32> = winners.iter().map(|w| *w as u32).collect();
        sort_pairs_by_key_then_value(&mut keys, &mut idx);
        let values = keys.iter().map(|&key| f32::from_bits(f32_from_desc_rank_key(key)));
        return (values.collect(), idx);
    }
    let values = winners.iter().map(|w| f32::from_bits(f32_from_desc_rank_key((w >> 32) as u32)));
    (values.collect(), winners.iter().map(|w| *w as u32).collect())
}

/// Keys a strided sample draws for [`top_k_by_sampled_threshold`].
const SAMPLE: usize = 1 << 14;

/// Top-k candidates in one pass (Floyd–Rivest style): a strided sample of the rank keys
/// estimates a threshold that about 2k + 16·n/SAMPLE keys pass; every key at or below it is
/// collected, and the k smallest (rank key, index) composites among them are the answer —
/// exact whenever at least k keys passed, since then the k smallest keys overall are all
/// among them. Returns None (the caller falls back to histograms) when k is too large for a
/// sample to help, when fewer than k keys passed (an unlucky sample), or when ties at the
/// threshold let far more pass than expected.
fn top_k_by_sampled_threshold(x: &[f32], k: usize) -> Option<Vec<u64>> {
    let n = x.len();
    let step = n / SAMPLE;
    let r = (2.0 * k as f64 / n as f64 * SAMPLE as f64 + 16.0).ceil() as usize;
    if step == 0 || r >= SAMPLE / 4 {
        return None;
    }
    let mut sample: Vec<u32> =
        (0..SAMPLE).map(|i| f32_desc_rank_key(x[i * step].to_bits())).collect();
    let threshold = *sample.select_nth_unstable(r).1;
    // Expected candidates: n·r/SAMPLE; allow four times that before calling it a tie storm.
    let cap = 4 * (n / SAMPLE * (r + 1)) + k;
    let ranges = parts(n);
    let per_part_cap = cap / ranges.len() + 1;
    let per_part: Vec<Option<Vec<u64>>> = ranges
        .into_par_iter()
        .map(|range| {
            let start = range.start;
            let mut out = Vec::new();
            for (j, v) in x[range].iter().enumerate() {
                let key = f32_desc_rank_key(v.to_bits());
                if key <= threshold {
                    if out.len() == per_part_cap {
                        return None;
                    }
                    out.push((key as u64) << 32 | (start + j) as u64);
                }
            }
            Some(out)
        })
        .collect();
    let mut candidates: Vec<u64> = Vec::new();
    for part in per_part {
        candidates.extend(part?);
    }
    if candidates.len() < k {
        return None;
    }
    if k < candidates.len() {
        candidates.select_nth_unstable(k - 1);
        candidates.truncate(k);
    }
    Some(candidates)
}

/// Top-k winners when the threshold's 16-bit bin is crowded (ties, or a large k): the exact
/// threshold key from a second histogram of that bin's low bits, then the keys below it and
/// the first `need` keys equal to it in index order, as (rank key, index) composites.
fn top_k_by_exact_threshold(x: &[f32], k: usize, hist: &[u32], bin: u32) -> Vec<u64> {
    let rank_key = |b: u32| f32_desc_rank_key(b);
    let below: usize = hist[..bin as usize].iter().map(|&c| c as usize).sum();
    let lows = low_histograms(x, rank_key, &[bin]);
    let (low, r_low) = locate(&lows[0], k - 1 - below);
    let threshold = bin << 16 | low;
    let need_equal = r_low + 1; // winners whose key equals the threshold
    let per_part: Vec<Vec<u64>> = parts(x.len())
        .into_par_iter()
        .map(|range| {
            let mut out = Vec::new();
            let mut equal = 0usize;
            let start = range.start;
            for (j, v) in x[range].iter().enumerate() {
                let key = rank_key(v.to_bits());
                if key < threshold || (key == threshold && equal < need_equal) {
                    equal += (key == threshold) as usize;
                    out.push((key as u64) << 32 | (start + j) as u64);
                }
            }
            out
        })
        .collect();
    // Parts are in index order: the first `need_equal` threshold keys overall win.
    let mut equal = 0usize;
    let mut winners = Vec::with_capacity(k);
    for item in per_part.into_iter().flatten() {
        if (item >> 32) as u32 == threshold {
            if equal == need_equal {
                continue;
            }
            equal += 1;
        }
        winners.push(item);
    }
    debug_assert_eq!(winners.len(), k);
    winners
}

/// Position of the p-th percentile in the ascending order: h = (n − 1)·p/100 split into
/// floor(h) and the fraction (computed once on the host for every backend).
pub fn percentile_position(n: usize, p: f32) -> (usize, f64) {
    let h = (n - 1) as f64 * p as f64 / 100.0;
    let lo = h.floor();
    ((lo as usize).min(n - 1), h - lo)
}

/// The contract's interpolation v_lo + t·(v_hi − v_lo), with the cases the formula leaves
/// open made explicit: t = 0 or equal neighbours give v_lo exactly; with an infinite
/// neighbour the result is the limit (1 − t)·v_lo + t·v_hi (so −∞ and +∞ give NaN).
pub fn lerp(lo: f64, hi: f64, t: f64) -> f64 {
    if t == 0.0 || lo == hi {
        lo
    } else if lo.is_infinite() || hi.is_infinite() {
        (1.0 - t) * lo + t * hi
    } else {
        lo + t * (hi - lo)
    }
}

/// Mean of the two middle order statistics, correctly rounded to f32 (the GPU's
/// `a·0.5 + b·0.5` rounds once too, so both agree bit for bit on normal numbers).
pub fn midpoint(lo: f32, hi: f32) -> f32 {
    ((lo as f64 + hi as f64) * 0.5) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::uniform;

    #[test]
    fn histogram_selection_matches_sorting() {
        for n in [1usize, 2, 7, SMALL, SMALL + 1, 300_001] {
            let mut x = uniform(n, -5.0, 5.0, n as u64);
            for v in x.iter_mut().step_by(3) {
                *v = (*v * 4.0).round(); // many ties
            }
            let mut sorted: Vec<u32> = x.iter().map(|v| f32_sort_key(v.to_bits())).collect();
            sorted.sort_unstable();
            for rank in [0, n / 3, n / 2, n - 1] {
                let s = order_statistics(&x, rank);
                assert_eq!(s.lo, sorted[rank], "n={n} rank={rank}");
                assert_eq!(s.hi, sorted.get(rank + 1).copied(), "n={n} rank={rank}");
            }
        }
    }

    fn brute_top_k(x: &[f32], k: usize) -> Vec<u32> {
        let mut all: Vec<(u32, u32)> =
            x.iter().enumerate().map(|(i, v)| (f32_desc_rank_key(v.to_bits()), i as u32)).collect();
        all.sort_unstable();
        all[..k].iter().map(|w| w.1).collect()
    }

    #[test]
    fn top_k_survives_an_unlucky_sample() {
        // The only large values sit exactly on the sample positions: the sampled threshold
        // lets fewer than k keys through, and the histogram path must take over.
        let n = 200_000;
        let step = n / SAMPLE;
        let mut x = vec![0.0f32; n];
        for i in 0..181 {
            x[i * step] = 1.0 + i as f32;
        }
        assert!(top_k_by_sampled_threshold(&x, 1000).is_none());
        assert_eq!(top_k(&x, 1000).1, brute_top_k(&x, 1000));
        // Random data takes the sampled path.
        let y = uniform(n, -1.0, 1.0, 5);
        assert!(top_k_by_sampled_threshold(&y, 1000).is_some());
        assert_eq!(top_k(&y, 1000).1, brute_top_k(&y, 1000));
    }

    #[test]
    fn top_k_orders_ties_by_index() {
        let n = 200_000;
        let x: Vec<f32> = (0..n).map(|i| ((i * 7919) % 13) as f32).collect();
        for k in [1, 5, 20_000, n] {
            let (v, i) = top_k(&x, k);
            let mut want: Vec<(u32, u32)> = x
                .iter()
                .enumerate()
                .map(|(i, v)| (f32_desc_rank_key(v.to_bits()), i as u32))
                .collect();
            want.sort_unstable();
            assert_eq!(i, want[..k].iter().map(|w| w.1).collect::<Vec<_>>(), "k={k}");
            assert!(v.iter().zip(&i).all(|(v, &j)| *v == x[j as usize]));
        }
    }
}
