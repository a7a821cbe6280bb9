//! REDUCE_HISTOGRAM's binning, exact on every backend.
//!
//! The contract's bin of x is trunc((x - lo) * 256 / (hi - lo)) evaluated on the real numbers
//! the f32 inputs stand for. Evaluated in f32 (or with a GPU's 2.5-ulp division) it lands in
//! the neighbouring bin for values within a few ulps of a boundary, and counts must be
//! bit-exact. So the host finds the 256 boundaries as f32 values — edge[k] is the smallest f32
//! whose exact bin is at least k — using an exact sign test (once per range: they are
//! remembered), and both backends place x by comparing it with the edges (an f32 estimate
//! picks where to look). The CPU skips the comparison where the estimate is provably right
//! ([`Binner`]).

use std::sync::{Arc, Mutex};

/// Exact sign of `256·x + (k − 256)·lo − k·hi`, i.e. whether x's exact bin is ≥ k.
///
/// Every term is exact in f64 (an f32 times an integer ≤ 256 needs at most 33 bits), and the
/// three-term sum is evaluated exactly as a floating-point expansion (Shewchuk's two-sum), so
/// the sign is right for any finite inputs.
pub(crate) fn bin_at_least(x: f32, k: u32, lo: f32, hi: f32) -> bool {
    let terms = [256.0 * x as f64, (k as f64 - 256.0) * lo as f64, -(k as f64) * hi as f64];
    expansion_sign(&terms) >= 0
}

fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    let err = (a - (s - bb)) + (b - bb);
    (s, err)
}

/// Sign of the exact sum of `terms` (-1, 0 or 1); at most three terms.
fn expansion_sign(terms: &[f64]) -> i32 {
    // Grow a non-overlapping expansion one term at a time; its sign is that of its largest
    // non-zero component, which is the last non-zero one. Each term adds at most one
    // component, so three terms fit a fixed array: no allocation (the host evaluates this
    // about a thousand times per histogram call).
    debug_assert!(terms.len() <= 3);
    let mut expansion = [0.0f64; 3];
    let mut len = 0;
    for &t in terms {
        let mut q = t;
        let mut next = [0.0f64; 3];
        let mut next_len = 0;
        for &e in &expansion[..len] {
            let (s, err) = two_sum(q, e);
            if err != 0.0 {
                next[next_len] = err;
                next_len += 1;
            }
            q = s;
        }
        next[next_len] = q;
        expansion = next;
        len = next_len + 1;
    }
    match expansion[..len].iter().rev().find(|v| **v != 0.0) {
        Some(v) if *v > 0.0 => 1,
        Some(_) => -1,
        None => 0,
    }
}

/// The exact bin of an in-range x (lo ≤ x ≤ hi), by binary search over k with the exact test
/// (independent of [`edges`]; the reference uses it).
pub(crate) fn exact_bin(x: f32, lo: f32, hi: f32) -> u32 {
    let (mut a, mut b) = (0u32, 255u32);
    while a < b {
        let mid = (a + b).div_ceil(2);
        if bin_at_least(x, mid, lo, hi) {
            a = mid;
        } else {
            b = mid - 1;
        }
    }
    a
}

/// Maps f32 to integers in the same order (for searching over representable values).
fn ordered(x: f32) -> i64 {
    let b = x.to_bits() as i32;
    (if b < 0 { i32::MIN - b } else { b }) as i64
}

fn from_ordered(v: i64) -> f32 {
    let v = v as i32;
    f32::from_bits((if v < 0 { i32::MIN - v } else { v }) as u32)
}

/// The 256 lower bin boundaries: `edges[0] = lo` and `edges[k]` is the smallest f32 in
/// `[lo, hi]` whose exact bin is at least k (hi + one ulp, i.e. "never", if none is).
///
/// Every call of the kernel needs them, on both backends, so they are remembered for the
/// last few ranges: a benchmark or a training loop asks for the same range again and again.
pub(crate) fn edges(lo: f32, hi: f32) -> Arc<[f32]> {
    type Remembered = Vec<((u32, u32), Arc<[f32]>)>;
    static RECENT: Mutex<Remembered> = Mutex::new(Vec::new());
    const REMEMBERED: usize = 8;
    let key = (lo.to_bits(), hi.to_bits());
    if let Ok(recent) = RECENT.lock()
        && let Some((_, e)) = recent.iter().find(|(k, _)| *k == key)
    {
        return e.clone();
    }
    let e: Arc<[f32]> = compute_edges(lo, hi).into();
    if let Ok(mut recent) = RECENT.lock() {
        if recent.len() == REMEMBERED {
            recent.remove(0);
        }
        recent.push((key, e.clone()));
    }
    e
}

/// [`edges`] without the memo. Each edge is searched for over representable values, starting
/// from its f64 estimate and galloping outwards: the estimate is within a few ulps of the
/// answer for any sane range, so each edge costs a handful of exact tests instead of the
/// ~32 of a bisection over all floats in `[lo, hi]`.
fn compute_edges(lo: f32, hi: f32) -> Vec<f32> {
    let (olo, ohi) = (ordered(lo), ordered(hi));
    // "x's exact bin is at least k", monotone in x; everything above hi counts as true so
    // that ohi + 1 is the "never" answer.
    let at_least = |o: i64, k: u32| o > ohi || bin_at_least(from_ordered(o), k, lo, hi);
    let mut out = Vec::with_capacity(256);
    out.push(lo);
    let mut floor = olo; // edges never decrease: edge k - 1 bounds edge k from below
    for k in 1..256u32 {
        let estimate = lo as f64 + (hi as f64 - lo as f64) * k as f64 / 256.0;
        let g = ordered(estimate as f32).clamp(floor, ohi + 1);
        // Bracket the answer as (below, above]: at_least(below) is false (or below < floor,
        // where it is false by monotonicity), at_least(above) is true.
        let (mut below, mut above);
        let mut step = 1i64;
        if at_least(g, k) {
            above = g;
            loop {
                let c = g - step;
                if c < floor {
                    below = floor - 1;
                    break;
                }
                if !at_least(c, k) {
                    below = c;
                    break;
                }
                above = c;
                step *= 2;
            }
        } else {
            below = g;
            loop {
                let c = g + step;
                if c > ohi {
                    above = ohi + 1;
                    break;
                }
                if at_least(c, k) {
                    above = c;
                    break;
                }
                below = c;
                step *= 2;
            }
        }
        while above - below > 1 {
            let mid = below + (above - below) / 2;
            if at_least(mid, k) {
                above = mid;
            } else {
                below = mid;
            }
        }
        floor = above;
        out.push(from_ordered(above));
    }
    out
}

/// Places values into bins on the CPU, exactly, mostly by float arithmetic alone.
///
/// Fast path: t = (x − lo)·scale in f32 is within a relative 4u (u = 2⁻²⁴: one rounding each
/// in x − lo, hi − lo, 256 / (hi − lo) and the product) of the exact t, so for t < 256 within
/// 256 · 4u ≈ 6.1e-5 of it. When t's fractional part is at least [`Binner::MARGIN`] (2⁻¹⁰,
/// sixteen times that) away from an integer, trunc(t) is the exact bin. Otherwise — about
/// one value in 500 for spread-out data, and every value when hi − lo overflows — the bin
/// comes from the exact edges ([`Binner::bin_from_edges`], the GPU shader's procedure).
///
/// Values out of range and NaNs go to a spare bin, [`Binner::SPARE`], rather than through a
/// branch: bench inputs are ~30 % out of range, and a branch on it mispredicted often enough
/// to halve the kernel's speed.
pub(crate) struct Binner {
    lo: f32,
    hi: f32,
    scale: f32,
    /// Whether hi − lo and 256 / (hi − lo) are finite normal numbers (the fast path's premise).
    fast: bool,
    /// The 256 edges and +∞ after them, so `edges[b + 1]` exists for every bin b.
    edges: [f32; 257],
}

impl Binner {
    /// The bin index that collects everything not counted.
    pub(crate) const SPARE: usize = 256;
    /// How far from an integer t must be for its truncation to be trusted.
    const MARGIN: f32 = 1.0 / 1024.0;
    /// 1.5 · 2^23: t − 0.5 + ROUNDER stays within [2^23, 2^24) for every t here.
    const ROUNDER: f32 = 12_582_912.0;
    /// Values binned together before their counters are bumped (a multiple of four).
    const BLOCK: usize = 64;

    pub(crate) fn new(lo: f32, hi: f32, edges: &[f32]) -> Binner {
        let mut padded = [f32::INFINITY; 257];
        padded[..256].copy_from_slice(&edges[..256]);
        let scale = 256.0 / (hi - lo);
        let fast = (hi - lo).is_normal() && scale.is_normal();
        Binner { lo, hi, scale, fast, edges: padded }
    }

    /// x's bin, or [`Binner::SPARE`] for a value out of range or NaN.
    #[inline(always)]
    pub(crate) fn bin(&self, x: f32) -> usize {
        let (b, in_range, trusted) = self.estimate(x);
        if in_range & !(trusted & self.fast) {
            return self.bin_from_edges(x);
        }
        if in_range { b as usize } else { Self::SPARE }
    }

    /// The fast path's estimate of x's bin: (floor(t), whether x is in range, whether floor(t)
    /// is trusted to be the exact bin — given [`Binner::fast`]). Float arithmetic only, no
    /// branches and no table look-ups, so a loop of it vectorises.
    #[inline(always)]
    fn estimate(&self, x: f32) -> (u32, bool, bool) {
        let in_range = (x >= self.lo) & (x <= self.hi);
        // Out of range: a t that is trusted and lands nowhere (callers replace the bin).
        let t = if in_range { (x - self.lo) * self.scale } else { 0.5 };
        // floor(t) without a float → int conversion (SSE2 has no saturating one, and Rust's
        // `as` must saturate, so a loop would not vectorise): every float in [2^23, 2^24) is
        // an integer, so adding ROUNDER rounds t − 0.5 to the nearest integer, which is
        // floor(t) unless t is an integer itself — and then frac comes out 0 or 1, which is
        // untrusted below. t − 0.5 is exact for t ≥ 0.25; below, a rounding of it still lands
        // on 0. (No libm `floorf` call either: x86-64's baseline has no rounding instruction.)
        let y = (t - 0.5) + Self::ROUNDER;
        let floor = y - Self::ROUNDER;
        let b = y.to_bits().wrapping_sub(Self::ROUNDER.to_bits());
        let frac = t - floor; // exact: floor ≤ t ≤ floor + 1
        // frac within [MARGIN, 1 − MARGIN], in one comparison (frac − 0.5 rounds monotonically).
        let trusted = ((frac - 0.5).abs() <= 0.5 - Self::MARGIN) & (t < 256.0);
        (b, in_range, trusted)
    }

    /// Counts `xs` into `counts` (four interleaved sub-histograms of 256 bins and the spare
    /// bin; value i goes to sub-histogram i % 4, so that consecutive values sharing a bin —
    /// the spare one takes every value out of range — do not chain their read-modify-writes).
    ///
    /// Works in blocks of [`Binner::BLOCK`]: a loop without data-dependent branches or table
    /// look-ups computes every value's bin and whether it is trusted (the compiler vectorises
    /// it), the few untrusted values are fixed from the exact edges, then the counters are
    /// bumped. The same bins as [`Binner::bin`] for each value, 1.6× as fast (2-core EPYC).
    pub(crate) fn count(&self, xs: &[f32], counts: &mut [[u32; 257]; 4]) {
        if !self.fast {
            for (i, &x) in xs.iter().enumerate() {
                counts[i % 4][self.bin(x)] += 1;
            }
            return;
        }
        let mut blocks = xs.chunks_exact(Self::BLOCK);
        // Compiled for the baseline only: inside `with_widest_simd`'s AVX2 function LLVM chose
        // a scalar, branching loop (2.6× slower on the 2-core EPYC).
        for block in &mut blocks {
            let block: &[f32; Self::BLOCK] = block.try_into().expect("chunks_exact");
            self.count_block(block, counts);
        }
        for (i, &x) in blocks.remainder().iter().enumerate() {
            counts[i % 4][self.bin(x)] += 1;
        }
    }

    /// One block of [`Binner::count`]: bins and trust computed in a loop the compiler can
    /// vectorise (fixed length, selects instead of branches), then the rare fix-ups, then the
    /// counters.
    #[inline(always)]
    fn count_block(&self, block: &[f32; Self::BLOCK], counts: &mut [[u32; 257]; 4]) {
        let mut bins = [0u32; Self::BLOCK];
        let mut untrusted = [0u32; Self::BLOCK];
        for i in 0..Self::BLOCK {
            let (b, in_range, trusted) = self.estimate(block[i]);
            untrusted[i] = !trusted as u32;
            bins[i] = if in_range { b } else { Self::SPARE as u32 };
        }
        if untrusted.iter().fold(0, |a, &u| a | u) != 0 {
            for i in 0..Self::BLOCK {
                if untrusted[i] != 0 {
                    bins[i] = self.bin_from_edges(block[i]) as u32;
                }
            }
        }
        for i in 0..Self::BLOCK {
            counts[i % 4][(bins[i] as usize).min(Self::SPARE)] += 1;
        }
    }

    /// The bin of an in-range x from the exact edges: an f32 estimate, corrected by one
    /// comparison each way, and a search when the estimate is far (hi − lo overflowed).
    #[cold]
    fn bin_from_edges(&self, x: f32) -> usize {
        let e = &self.edges;
        let t = (x - self.lo) * self.scale;
        let mut b = (t as usize).min(255);
        if x >= e[b + 1] {
            b = (b + 1).min(255);
        } else if x < e[b] {
            b = b.saturating_sub(1);
        }
        if x >= e[b] && x < e[b + 1] {
            return b;
        }
        e[1..256].partition_point(|&edge| x >= edge)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_sign_of_three_terms() {
        assert_eq!(expansion_sign(&[1e300, 1.0, -1e300]), 1);
        assert_eq!(expansion_sign(&[1e300, -1.0, -1e300]), -1);
        assert_eq!(expansion_sign(&[3.0, -1.0, -2.0]), 0);
        assert_eq!(expansion_sign(&[0.1, 0.2, -0.30000000000000004]), -1);
    }

    #[test]
    fn edges_bound_every_bin_exactly() {
        for (lo, hi) in
            [(0.0f32, 1.0f32), (-1.0, 3.0), (0.1, 0.7), (-3.0e38, 3.0e38), (1.0, 1.0000001)]
        {
            let e = edges(lo, hi);
            assert_eq!(e[0], lo);
            for k in 1..256 {
                assert!(e[k] >= e[k - 1], "edges must not decrease ({lo}, {hi}) k={k}");
                if e[k] <= hi {
                    assert!(bin_at_least(e[k], k as u32, lo, hi));
                    let below = f32::from_bits(if e[k] > 0.0 {
                        e[k].to_bits() - 1
                    } else if e[k] == 0.0 {
                        0x8000_0001
                    } else {
                        e[k].to_bits() + 1
                    });
                    if below >= lo {
                        assert!(!bin_at_least(below, k as u32, lo, hi), "({lo},{hi}) k={k}");
                    }
                }
            }
            let binner = Binner::new(lo, hi, &e);
            let outside = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, f32::MAX, -f32::MAX];
            for x in [lo, hi, (lo + hi) / 2.0, e[17], e[200], lo + (hi - lo) * 0.999]
                .into_iter()
                .chain(outside)
            {
                let expected = if x >= lo && x <= hi {
                    exact_bin(x, lo, hi).min(255) as usize
                } else {
                    Binner::SPARE
                };
                assert_eq!(binner.bin(x), expected, "({lo},{hi}) x={x}");
            }
        }
    }

    /// The plain bisection over every float in [lo, hi] that the galloping search replaced.
    fn bisected_edges(lo: f32, hi: f32) -> Vec<f32> {
        let (olo, ohi) = (ordered(lo), ordered(hi));
        let mut out = vec![lo];
        for k in 1..256u32 {
            let (mut a, mut b) = (olo, ohi + 1);
            while a < b {
                let mid = a + (b - a) / 2;
                if bin_at_least(from_ordered(mid), k, lo, hi) {
                    b = mid;
                } else {
                    a = mid + 1;
                }
            }
            out.push(from_ordered(a));
        }
        out
    }

    #[test]
    fn galloping_edges_match_a_full_bisection() {
        let tiny = f32::from_bits(1); // the smallest subnormal
        for (lo, hi) in [
            (0.0f32, 1.0f32),
            (-1.0, 1.0),
            (-1.0, 3.0),
            (0.1, 0.7),
            (-7.3, -7.2),
            (-3.0e38, 3.0e38),
            (-f32::MAX, f32::MAX),
            (1.0, 1.0000001),
            (1.0, 1.0 + 300.0 * f32::EPSILON),
            (-tiny, tiny),
            (0.0, 1000.0 * tiny),
            (1.0e-30, 1.0e30),
        ] {
            let fast = compute_edges(lo, hi);
            let slow = bisected_edges(lo, hi);
            for k in 0..256 {
                assert_eq!(fast[k].to_bits(), slow[k].to_bits(), "({lo}, {hi}) edge {k}");
            }
            assert_eq!(&edges(lo, hi)[..], &fast[..], "the memo returns the same edges");
        }
    }

    /// The CPU binner against the exact bin, on every edge's neighbourhood (where an f32
    /// estimate goes wrong) and on values spread over and beyond the range.
    #[test]
    fn binner_agrees_with_the_exact_bin() {
        let step = |x: f32, up: bool| {
            let o = ordered(x) + if up { 1 } else { -1 };
            from_ordered(o)
        };
        for (lo, hi) in [
            (-1.0f32, 1.0f32),
            (0.1, 0.7),
            (-7.3, -7.2),
            (1.0e-30, 1.0e30),
            (-3.0e38, 3.0e38),
            (1.0, 1.0 + 300.0 * f32::EPSILON),
            (0.0, 1000.0 * f32::from_bits(1)),
        ] {
            let e = edges(lo, hi);
            let binner = Binner::new(lo, hi, &e);
            let mut values = vec![lo, hi, step(lo, false), step(hi, true), f32::NAN];
            for &edge in e.iter() {
                let (mut below, mut above) = (edge, edge);
                values.push(edge);
                for _ in 0..3 {
                    below = step(below, false);
                    above = step(above, true);
                    values.extend([below, above]);
                }
            }
            let mut state = 0x2545_f491_4f6c_dd1du64;
            for _ in 0..20_000 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let u = (state >> 40) as f64 / (1u64 << 24) as f64; // [0, 1)
                let x = lo as f64 + (hi as f64 - lo as f64) * (1.4 * u - 0.2);
                values.push(x as f32);
            }
            let mut expected_counts = [0u32; 257];
            for &x in &values {
                let expected = if x >= lo && x <= hi {
                    exact_bin(x, lo, hi).min(255) as usize
                } else {
                    Binner::SPARE
                };
                assert_eq!(binner.bin(x), expected, "({lo}, {hi}) x={x:e}");
                expected_counts[expected] += 1;
            }
            // The blocked counting loop, on lengths that end mid-block too.
            for len in [values.len(), values.len() - 37, 3] {
                let mut sub = [[0u32; 257]; 4];
                binner.count(&values[..len], &mut sub);
                let mut expected = [0u32; 257];
                for &x in &values[..len] {
                    expected[binner.bin(x)] += 1;
                }
                let counted: Vec<u32> = (0..257).map(|b| sub.iter().map(|s| s[b]).sum()).collect();
                assert_eq!(counted, expected.to_vec(), "({lo}, {hi}) count() over {len} values");
            }
            assert_eq!(expected_counts.iter().sum::<u32>() as usize, values.len());
        }
    }

    #[test]
    fn top_edge_lands_in_the_last_bin() {
        // x == hi has exact bin 256, clamped into bin 255 (numpy.histogram's rule).
        assert_eq!(exact_bin(1.0, 0.0, 1.0), 255);
        assert!(bin_at_least(1.0, 255, 0.0, 1.0));
        assert_eq!(exact_bin(0.5, 0.0, 1.0), 128);
        assert_eq!(exact_bin(0.5 - f32::EPSILON / 4.0, 0.0, 1.0), 127);
    }
}
