//! CPU sorts: a parallel, stable LSD radix sort with 8-bit digits (four passes over 32-bit
//! keys), the same algorithm as the GPU's.
//!
//! Each pass scatters contiguous *parts* of the input in parallel; a part's keys of digit d go
//! after those of every earlier part (offsets are digit-major, part-minor), which keeps the
//! sort stable. While scattering pass p, every thread also counts pass p+1's digits per
//! destination part, so each pass reads the keys once instead of twice (count, then move).
//! A pass whose digit is the same for every key is skipped (narrow-range keys cost less).

use rayon::prelude::*;

use super::keys::{f32_from_sort_key, f32_sort_key};

/// Below this many keys a comparison sort beats four radix passes.
const SMALL: usize = 1 << 12;
/// Smallest part a thread scatters (keeps per-part bookkeeping negligible).
const MIN_PART: usize = 1 << 15;

type Counts = Vec<[u32; 256]>;

/// A pointer the scatter threads write through; every position is written by exactly one
/// thread (the digit offsets of different parts are disjoint).
#[derive(Clone, Copy)]
struct Scatter(*mut u32);
unsafe impl Send for Scatter {}
unsafe impl Sync for Scatter {}

#[inline]
fn digit(key: u32, shift: u32) -> usize {
    ((key >> shift) & 0xFF) as usize
}

fn count_parts(keys: &[u32], shift: u32, part_len: usize) -> Counts {
    keys.par_chunks(part_len)
        .map(|c| {
            let mut h = [0u32; 256];
            for &k in c {
                h[digit(k, shift)] += 1;
            }
            h
        })
        .collect()
}

/// One part's share of a scatter pass.
struct ScatterJob<'a> {
    keys: &'a [u32],
    payload: &'a [u32],
    out_keys: Scatter,
    out_payload: Scatter,
    /// Where this part's next key of each digit goes.
    offsets: [u32; 256],
    shift: u32,
    part_shift: u32,
    parts: usize,
}

/// Scatters one part; returns the next pass's digit counts per destination part when `NEXT`.
fn scatter_part<const PAYLOAD: bool, const NEXT: bool>(job: ScatterJob<'_>) -> Counts {
    let ScatterJob { keys, payload, out_keys, out_payload, mut offsets, shift, part_shift, parts } =
        job;
    let mut next = vec![[0u32; 256]; if NEXT { parts } else { 0 }];
    for (i, &k) in keys.iter().enumerate() {
        let d = digit(k, shift);
        let pos = offsets[d] as usize;
        offsets[d] += 1;
        // SAFETY: `pos` lies in this part's exclusive range of the output for digit d.
        unsafe {
            *out_keys.0.add(pos) = k;
            if PAYLOAD {
                *out_payload.0.add(pos) = *payload.get_unchecked(i);
            }
        }
        if NEXT {
            next[pos >> part_shift][digit(k, shift + 8)] += 1;
        }
    }
    next
}

/// Sorts `keys` ascending, stably, permuting `payload` (same length) alongside.
pub fn radix_sort_u32(keys: &mut Vec<u32>, payload: Option<&mut Vec<u32>>) {
    let n = keys.len();
    if let Some(p) = payload.as_deref() {
        assert_eq!(p.len(), n, "payload length must match the keys");
    }
    if n < SMALL {
        small_sort(keys, payload);
        return;
    }
    let threads = rayon::current_num_threads().max(1);
    let part_len = n.div_ceil(threads * 4).max(MIN_PART).next_power_of_two();
    let part_shift = part_len.trailing_zeros();
    let parts = n.div_ceil(part_len);

    let mut src = std::mem::take(keys);
    let mut dst = vec![0u32; n];
    let has_payload = payload.is_some();
    let mut payload = payload;
    let mut src_p = payload.as_deref_mut().map(std::mem::take).unwrap_or_default();
    let mut dst_p = if has_payload { vec![0u32; n] } else { Vec::new() };

    let mut counts: Option<Counts> = None;
    for pass in 0..4u32 {
        let shift = pass * 8;
        let c = counts.take().unwrap_or_else(|| count_parts(&src, shift, part_len));
        let mut totals = [0u32; 256];
        for h in &c {
            for d in 0..256 {
                totals[d] += h[d];
            }
        }
        if totals.iter().any(|&t| t as usize == n) {
            continue; // every key has the same digit: the pass would be the identity
        }
        // Digit-major, part-minor offsets: stable across parts.
        let mut offsets = vec![[0u32; 256]; parts];
        let mut run = 0u32;
        for d in 0..256 {
            for (p, h) in c.iter().enumerate() {
                offsets[p][d] = run;
                run += h[d];
            }
        }
        let want_next = pass < 3;
        let (ok, op) = (Scatter(dst.as_mut_ptr()), Scatter(dst_p.as_mut_ptr()));
        let src_ref = &src;
        let src_p_ref = &src_p;
        let next_parts: Vec<Counts> = (0..parts)
            .into_par_iter()
            .map(|p| {
                let range = p * part_len..n.min((p + 1) * part_len);
                let k = &src_ref[range.clone()];
                let pl = if has_payload { &src_p_ref[range] } else { &[][..] };
                let job = ScatterJob {
                    keys: k,
                    payload: pl,
                    out_keys: ok,
                    out_payload: op,
                    offsets: offsets[p],
                    shift,
                    part_shift,
                    parts,
                };
                match (has_payload, want_next) {
                    (true, true) => scatter_part::<true, true>(job),
                    (true, false) => scatter_part::<true, false>(job),
                    (false, true) => scatter_part::<false, true>(job),
                    (false, false) => scatter_part::<false, false>(job),
                }
            })
            .collect();
        if want_next {
            let mut next = vec![[0u32; 256]; parts];
            for thread_counts in &next_parts {
                for (acc, h) in next.iter_mut().zip(thread_counts) {
                    for d in 0..256 {
                        acc[d] += h[d];
                    }
                }
            }
            counts = Some(next);
        }
        std::mem::swap(&mut src, &mut dst);
        if has_payload {
            std::mem::swap(&mut src_p, &mut dst_p);
        }
    }
    *keys = src;
    if let Some(p) = payload {
        *p = src_p;
    }
}

fn small_sort(keys: &mut [u32], payload: Option<&mut Vec<u32>>) {
    match payload {
        None => keys.sort_unstable(),
        Some(p) => {
            let mut pairs: Vec<(u32, u32)> = keys.iter().copied().zip(p.iter().copied()).collect();
            pairs.sort_by_key(|&(k, _)| k); // stable
            for (i, (k, v)) in pairs.into_iter().enumerate() {
                keys[i] = k;
                p[i] = v;
            }
        }
    }
}

/// Applies `f` to every element in parallel chunks.
pub(crate) fn map_in_place(v: &mut [u32], f: impl Fn(u32) -> u32 + Sync) {
    v.par_chunks_mut(crate::cpu::CHUNK).for_each(|c| {
        for x in c {
            *x = f(*x);
        }
    });
}

/// Sorts f32 values (as bits) in the documented total order: NaN last, −0.0 before +0.0;
/// every bit pattern is returned unchanged.
pub fn sort_f32_bits(bits: &mut Vec<u32>, payload: Option<&mut Vec<u32>>) {
    map_in_place(bits, f32_sort_key);
    radix_sort_u32(bits, payload);
    map_in_place(bits, f32_from_sort_key);
}

/// Sorts (key, value) pairs by key, equal keys by value (the bitonic KV kernel's order).
pub fn sort_pairs_by_key_then_value(keys: &mut Vec<u32>, values: &mut Vec<u32>) {
    // LSD on the composite: values first, then a stable pass over the keys.
    radix_sort_u32(values, Some(keys));
    radix_sort_u32(keys, Some(values));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::uniform_u32;

    #[test]
    fn radix_sort_is_stable_and_sorted() {
        for n in [0usize, 1, 5, SMALL - 1, SMALL, 100_000, (1 << 20) + 7] {
            let keys: Vec<u32> = uniform_u32(n, n as u64).iter().map(|k| k % 1000).collect();
            let payload: Vec<u32> = (0..n as u32).collect();
            let (mut k, mut p) = (keys.clone(), payload.clone());
            radix_sort_u32(&mut k, Some(&mut p));
            let mut want: Vec<(u32, u32)> = keys.iter().copied().zip(payload).collect();
            want.sort_by_key(|x| x.0);
            assert!(k.iter().zip(&p).eq(want.iter().map(|(a, b)| (a, b))), "n={n}");
            let mut plain = uniform_u32(n, 7);
            let mut sorted = plain.clone();
            sorted.sort_unstable();
            radix_sort_u32(&mut plain, None);
            assert_eq!(plain, sorted);
        }
    }

    #[test]
    fn skipped_passes_keep_payload_aligned() {
        // Keys that differ only in the top byte: passes 0..2 are skipped.
        let n = 200_000;
        let keys: Vec<u32> =
            (0..n as u32).map(|i| ((i * 7919) % 251) << 24 | 0x00AB_CDEF).collect();
        let mut k = keys.clone();
        let mut p: Vec<u32> = (0..n as u32).collect();
        radix_sort_u32(&mut k, Some(&mut p));
        for (kk, pp) in k.iter().zip(&p) {
            assert_eq!(*kk, keys[*pp as usize]);
        }
        assert!(k.windows(2).all(|w| w[0] <= w[1]));
    }
}
