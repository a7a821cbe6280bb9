//! The CPU runtime: rayon over chunks big enough to amortise scheduling and small enough to
//! keep every core reading memory ([`chunk_len`]), sequential up to 64 Ki elements, and inner
//! loops written so the compiler vectorises them
//! (fixed-width lane accumulators, no early exits). Float reductions accumulate in f64 lanes:
//! converting costs nothing next to the memory traffic and makes the result essentially exact.

use rayon::prelude::*;

use crate::simd::with_widest_simd;

/// Most elements per parallel task, and the size up to which work stays on the calling thread.
pub const CHUNK: usize = 64 * 1024;
/// Fewest elements per parallel task (32 KiB of f32): a task stays long against rayon's
/// per-task cost of well under a microsecond.
pub const MIN_CHUNK: usize = 8 * 1024;
/// Tasks a parallel call aims for, so that a host with many cores puts all of them on the
/// memory bus: one core of a server reads only ~10 GB/s. On the 16-thread H100 host, 2^18
/// elements in four 64 Ki tasks ran on four threads (MAP_ABS 45–61 µs, the same as 2^20 in
/// sixteen tasks).
pub const TARGET_TASKS: usize = 64;

/// Elements per parallel task for `n` elements: `n` itself up to [`CHUNK`] (one task, on the
/// calling thread), else `n / TARGET_TASKS` within [`MIN_CHUNK`]..=[`CHUNK`], a multiple of
/// 1024. It depends on `n` alone, not on the thread count, so a result is the same on every
/// machine (float reductions combine their chunks in a fixed tree).
pub fn chunk_len(n: usize) -> usize {
    if n <= CHUNK {
        return n.max(1);
    }
    (n / TARGET_TASKS).clamp(MIN_CHUNK, CHUNK) / 1024 * 1024
}

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
    let chunk = chunk_len(input.len());
    output.par_chunks_mut(chunk).zip(input.par_chunks(chunk)).for_each(|(o, i)| f(i, o));
}

/// Runs `f(start, chunk_len)` over chunk ranges of `0..len` in parallel and combines the
/// results with `combine` in a balanced tree (rayon's reduce), i.e. pairwise.
pub fn reduce_ranges<T, F, C>(len: usize, identity: T, f: F, combine: C) -> T
where
    T: Send + Sync + Clone,
    F: Fn(usize, usize) -> T + Sync,
    C: Fn(T, T) -> T + Sync,
{
    reduce_ranges_by(len, chunk_len(len), identity, f, combine)
}

/// [`reduce_ranges`] with the chunk length chosen by the caller: kernels that spend much more
/// per element than a sum (a histogram's ~1.6 ns) go parallel at smaller sizes.
pub fn reduce_ranges_by<T, F, C>(len: usize, chunk: usize, identity: T, f: F, combine: C) -> T
where
    T: Send + Sync + Clone,
    F: Fn(usize, usize) -> T + Sync,
    C: Fn(T, T) -> T + Sync,
{
    let chunk = chunk.max(1);
    if len <= chunk {
        return combine(identity, f(0, len));
    }
    let chunks = len.div_ceil(chunk);
    (0..chunks)
        .into_par_iter()
        .map(|c| {
            let start = c * chunk;
            f(start, chunk.min(len - start))
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

    #[test]
    fn chunks_spread_mid_sizes_over_many_tasks_and_cap_large_ones() {
        assert_eq!(chunk_len(0), 1);
        assert_eq!(chunk_len(1000), 1000);
        assert_eq!(chunk_len(CHUNK), CHUNK);
        assert_eq!(chunk_len(CHUNK + 1), MIN_CHUNK);
        assert_eq!(chunk_len(1 << 18), MIN_CHUNK);
        assert_eq!(chunk_len(1 << 20), 16 * 1024);
        assert_eq!(chunk_len(1 << 22), CHUNK);
        assert_eq!(chunk_len(1 << 26), CHUNK);
        assert_eq!(chunk_len((1 << 20) + 3), 16 * 1024);
        for n in [CHUNK + 1, 100_000, 1 << 19, 3_000_000, 1 << 24] {
            let c = chunk_len(n);
            assert!((MIN_CHUNK..=CHUNK).contains(&c) && c.is_multiple_of(1024), "n = {n}: {c}");
            // Every chunk but the last is full, so chunk arithmetic covers n exactly.
            let mut y = vec![0u8; n];
            map_chunks(&vec![1u8; n], &mut y, |i, o| o.copy_from_slice(i));
            assert!(y.iter().all(|&v| v == 1));
        }
    }
}
