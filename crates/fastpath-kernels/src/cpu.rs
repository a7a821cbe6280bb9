//! The CPU runtime: rayon over chunks big enough to amortise scheduling (64 Ki elements),
//! sequential below that, and inner loops written so the compiler vectorises them
//! (fixed-width lane accumulators, no early exits). Float reductions accumulate in f64 lanes:
//! converting costs nothing next to the memory traffic and makes the result essentially exact.

use rayon::prelude::*;

use crate::simd::with_widest_simd;

/// Elements per parallel task.
pub const CHUNK: usize = 64 * 1024;

/// Lanes of the accumulator arrays in reductions (the compiler turns them into SIMD registers).
pub const LANES: usize = 8;

/// Runs `f` over matching chunks of `input` and `output` (same length), in parallel when
/// there is more than one chunk.
pub fn map_chunks<I, O, F>(input: &[I], output: &mut [O], f: F)
where
    I: Sync,
    O: Send,
    F: Fn(&[I], &mut [O]) + Sync,
{
    assert_eq!(input.len(), output.len());
    if input.len() <= CHUNK {
        f(input, output);
        return;
    }
    output.par_chunks_mut(CHUNK).zip(input.par_chunks(CHUNK)).for_each(|(o, i)| f(i, o));
}

/// Runs `f(start, chunk_len)` over chunk ranges of `0..len` in parallel and combines the
/// results with `combine` in a balanced tree (rayon's reduce), i.e. pairwise.
pub fn reduce_ranges<T, F, C>(len: usize, identity: T, f: F, combine: C) -> T
where
    T: Send + Sync + Clone,
    F: Fn(usize, usize) -> T + Sync,
    C: Fn(T, T) -> T + Sync,
{
    if len <= CHUNK {
        return combine(identity, f(0, len));
    }
    let chunks = len.div_ceil(CHUNK);
    (0..chunks)
        .into_par_iter()
        .map(|c| {
            let start = c * CHUNK;
            f(start, CHUNK.min(len - start))
        })
        .reduce(|| identity.clone(), &combine)
}

/// Σ g(x) over a slice in f64, with [`LANES`] independent accumulators so the loop vectorises.
/// Always inlined, so that [`sum_f64`] compiles it inside its AVX2/AVX-512 variants.
#[inline(always)]
pub fn lane_sum<G: Fn(f32) -> f64>(x: &[f32], g: G) -> f64 {
    let mut acc = [0.0f64; LANES];
    let mut it = x.chunks_exact(LANES);
    for c in &mut it {
        for k in 0..LANES {
            acc[k] += g(c[k]);
        }
    }
    let mut tail = 0.0;
    for &v in it.remainder() {
        tail += g(v);
    }
    acc.iter().sum::<f64>() + tail
}

/// Parallel Σ g(x) in f64, each chunk's loop compiled for the widest SIMD level the CPU has
/// (the x86-64 baseline converts and adds two f64 per instruction; AVX2 four, AVX-512 eight).
pub fn sum_f64<G: Fn(f32) -> f64 + Sync>(x: &[f32], g: G) -> f64 {
    reduce_ranges(
        x.len(),
        0.0,
        |s, n| {
            let chunk = &x[s..s + n];
            with_widest_simd(
                #[inline(always)]
                |_| lane_sum(chunk, &g),
            )
        },
        |a, b| a + b,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_helpers_cover_every_element() {
        let n = 3 * CHUNK + 17;
        let x: Vec<f32> = (0..n).map(|i| (i % 7) as f32).collect();
        let mut y = vec![0.0f32; n];
        map_chunks(&x, &mut y, |i, o| {
            for (a, b) in i.iter().zip(o.iter_mut()) {
                *b = a + 1.0;
            }
        });
        assert!(y.iter().zip(&x).all(|(b, a)| *b == a + 1.0));
        let expected: f64 = x.iter().map(|&v| v as f64).sum();
        assert_eq!(sum_f64(&x, |v| v as f64), expected);
        let count = reduce_ranges(n, 0usize, |_, len| len, |a, b| a + b);
        assert_eq!(count, n);
    }
}
