//! Seeded test and benchmark inputs, shared by the tests, `fastpath bench` and the peer
//! harness (which receives the same arrays as .npy files), so every comparison uses the
//! same numbers.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// `n` values uniform in `[lo, hi)`.
pub fn uniform(n: usize, lo: f32, hi: f32, seed: u64) -> Vec<f32> {
    let mut r = rng(seed);
    (0..n).map(|_| r.random_range(lo..hi)).collect()
}

/// `n` values spread over many magnitudes: sign × 10^u with u uniform in `[lo_exp, hi_exp)`.
pub fn log_uniform(n: usize, lo_exp: f32, hi_exp: f32, seed: u64) -> Vec<f32> {
    let mut r = rng(seed);
    (0..n)
        .map(|_| {
            let m = 10f32.powf(r.random_range(lo_exp..hi_exp));
            if r.random_bool(0.5) { m } else { -m }
        })
        .collect()
}

/// The IEEE special values every float kernel is tested with.
pub const SPECIALS: [f32; 10] = [
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
    0.0,
    -0.0,
    f32::MAX,
    f32::MIN,
    f32::MIN_POSITIVE,
    1.0e-30,
    -1.0e30,
];

/// Overwrites about `fraction` of the positions with special values.
pub fn sprinkle_specials(v: &mut [f32], fraction: f64, seed: u64) {
    let mut r = rng(seed ^ 0x5eed);
    for x in v.iter_mut() {
        if r.random_bool(fraction) {
            *x = SPECIALS[r.random_range(0..SPECIALS.len())];
        }
    }
}

/// A u32 mask: about `density` of the entries non-zero (random non-zero values, not just 1,
/// since contracts say "non-zero means keep").
pub fn mask(n: usize, density: f64, seed: u64) -> Vec<u32> {
    let mut r = rng(seed);
    (0..n).map(|_| if r.random_bool(density) { r.random_range(1..=u32::MAX) } else { 0 }).collect()
}

/// Uniform random u32 values.
pub fn uniform_u32(n: usize, seed: u64) -> Vec<u32> {
    let mut r = rng(seed);
    (0..n).map(|_| r.random()).collect()
}
