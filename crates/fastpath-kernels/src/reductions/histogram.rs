//! REDUCE_HISTOGRAM's binning, exact on every backend.
//!
//! The contract's bin of x is trunc((x - lo) * 256 / (hi - lo)) evaluated on the real numbers
//! the f32 inputs stand for. Evaluated in f32 (or with a GPU's 2.5-ulp division) it lands in
//! the neighbouring bin for values within a few ulps of a boundary, and counts must be
//! bit-exact. So the host finds, once per call, the 256 boundaries as f32 values — edge[k]
//! is the smallest f32 whose exact bin is at least k — using an exact sign test, and both
//! backends place x by comparing it with the edges (an f32 estimate picks where to look).

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

/// Sign of the exact sum of `terms` (-1, 0 or 1).
fn expansion_sign(terms: &[f64]) -> i32 {
    // Grow a non-overlapping expansion one term at a time; its sign is that of its largest
    // non-zero component, which is the last non-zero one.
    let mut expansion: Vec<f64> = Vec::with_capacity(terms.len() * 2);
    for &t in terms {
        let mut q = t;
        let mut next = Vec::with_capacity(expansion.len() + 1);
        for &e in &expansion {
            let (s, err) = two_sum(q, e);
            if err != 0.0 {
                next.push(err);
            }
            q = s;
        }
        next.push(q);
        expansion = next;
    }
    match expansion.iter().rev().find(|v| **v != 0.0) {
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
pub(crate) fn edges(lo: f32, hi: f32) -> Vec<f32> {
    let (olo, ohi) = (ordered(lo), ordered(hi));
    let mut out = Vec::with_capacity(256);
    out.push(lo);
    for k in 1..256u32 {
        // Smallest representable x with bin ≥ k; the predicate is monotone in x.
        let (mut a, mut b) = (olo, ohi + 1);
        while a < b {
            let mid = a + (b - a) / 2;
            if bin_at_least(from_ordered(mid), k, lo, hi) {
                b = mid;
            } else {
                a = mid + 1;
            }
        }
        out.push(if a > ohi { from_ordered(ohi + 1) } else { from_ordered(a) });
    }
    out
}

/// Bin of an in-range value using the edges: an f32 estimate, corrected by comparisons
/// (the same procedure as the GPU shader).
#[inline]
pub(crate) fn bin_with_edges(x: f32, lo: f32, scale: f32, edges: &[f32]) -> usize {
    let t = ((x - lo) * scale).floor();
    let mut b = if t.is_nan() { 0 } else { t.clamp(0.0, 255.0) as usize };
    if b < 255 && x >= edges[b + 1] {
        b += 1;
    } else if b > 0 && x < edges[b] {
        b -= 1;
    }
    if x >= edges[b] && (b == 255 || x < edges[b + 1]) {
        return b;
    }
    // Far estimate (overflowed x - lo): binary search.
    let (mut a, mut c) = (0usize, 255usize);
    while a < c {
        let mid = (a + c).div_ceil(2);
        if x >= edges[mid] {
            a = mid;
        } else {
            c = mid - 1;
        }
    }
    a
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
            let scale = 256.0 / (hi - lo);
            for x in [lo, hi, (lo + hi) / 2.0, e[17], e[200], lo + (hi - lo) * 0.999] {
                if x >= lo && x <= hi {
                    let b = bin_with_edges(x, lo, scale, &e);
                    assert_eq!(b as u32, exact_bin(x, lo, hi).min(255), "({lo},{hi}) x={x}");
                }
            }
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
