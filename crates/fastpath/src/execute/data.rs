//! The arrays an operation starts from: synthetic, seeded and cached, or read from `.npy`.

use std::collections::HashMap;
use std::sync::Arc;

use fastpath_kernels::{ArgMeta, DType, HostArray};
use rayon::prelude::*;

use super::plan::{Domain, f32_sort_key};

/// Elements generated per seeded chunk. Chunks are generated in parallel and each has its own
/// seed, so the data is the same whatever the number of threads.
const CHUNK: usize = 1 << 16;

/// Synthetic arrays kept for reuse across operations, up to this many bytes: the built-in
/// workload's 32 operations then share one main operand instead of generating 32.
const CACHE_BYTES: usize = 512 << 20;

/// SplitMix64 finaliser: decorrelates seeds that differ in a few bits.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn domain_tag(domain: Domain) -> u64 {
    match domain {
        Domain::Uniform { lo, hi } => ((lo.to_bits() as u64) << 32) | hi.to_bits() as u64,
        Domain::Mask { density } => 1 ^ density.to_bits(),
        Domain::Keys => 2,
        Domain::Iota => 3,
        Domain::SmallCounts => 4,
        Domain::Unsupported => 5,
        Domain::F32Keys { lo, hi } => 6 ^ (((lo.to_bits() as u64) << 32) | hi.to_bits() as u64),
    }
}

/// What identifies a synthetic array: the same slot, domain and size give the same values, so
/// `sum` and `mean` of the built-in workload read one array and their results agree.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    slot: usize,
    domain: u64,
    dtype: DType,
    shape: Vec<usize>,
    seed: u64,
}

/// Generates synthetic inputs and keeps recent ones.
#[derive(Default)]
pub(crate) struct InputCache {
    arrays: HashMap<Key, Arc<HostArray>>,
    bytes: usize,
}

impl InputCache {
    /// The `slot`-th input of an operation (0 is the main operand).
    pub fn get(
        &mut self,
        slot: usize,
        meta: &ArgMeta,
        domain: Domain,
        seed: u64,
    ) -> Result<Arc<HostArray>, String> {
        let key = Key {
            slot,
            domain: domain_tag(domain),
            dtype: meta.dtype,
            shape: meta.shape.clone(),
            seed,
        };
        if let Some(a) = self.arrays.get(&key) {
            return Ok(a.clone());
        }
        let seed = mix(seed ^ mix(slot as u64) ^ mix(key.domain));
        let array = Arc::new(generate(meta, domain, seed)?);
        let size = array.bytes().len();
        if self.bytes + size <= CACHE_BYTES {
            self.bytes += size;
            self.arrays.insert(key, array.clone());
        }
        Ok(array)
    }
}

/// Fills `out` from a SplitMix64 stream seeded with `seed`; `each` turns 64 random bits into
/// an element. A plain loop rather than `testdata`'s `rand` generators: debug builds (the
/// tests) compile this crate, and generic `rand` code instantiated in it, without optimisation,
/// where this is about five times faster; SplitMix64 is as good for synthetic data.
macro_rules! fill {
    ($out:expr, $seed:expr, |$z:ident| $each:expr) => {{
        let mut state: u64 = $seed;
        for x in $out.iter_mut() {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut $z = state;
            $z = ($z ^ ($z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            $z = ($z ^ ($z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            $z ^= $z >> 31;
            *x = $each;
        }
    }};
}

/// One synthetic array. Values are drawn per chunk of [`CHUNK`] elements in parallel.
pub(crate) fn generate(meta: &ArgMeta, domain: Domain, seed: u64) -> Result<HostArray, String> {
    let n = meta.len();
    let shape = meta.shape.clone();
    let chunk_seed = |i: usize| mix(seed ^ (i as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
    match (meta.dtype, domain) {
        (DType::F32, Domain::Uniform { lo, hi }) => {
            // 24 random bits: every value on the f32 grid of [lo, hi) is reachable.
            let step = (hi - lo) / (1u32 << 24) as f32;
            let mut v = vec![0f32; n];
            v.par_chunks_mut(CHUNK).enumerate().for_each(|(i, c)| {
                fill!(c, chunk_seed(i), |z| {
                    let x = lo + (z >> 40) as f32 * step;
                    if x < hi { x } else { lo }
                })
            });
            Ok(HostArray::f32(shape, v))
        }
        (DType::U32, Domain::F32Keys { lo, hi }) => {
            let values = generate(
                &ArgMeta { dtype: DType::F32, shape: shape.clone() },
                Domain::Uniform { lo, hi },
                seed,
            )?;
            let keys: Vec<u32> = values.f32s().par_iter().map(|&x| f32_sort_key(x)).collect();
            Ok(HostArray::u32(shape, keys))
        }
        (DType::U32, Domain::Iota) => Ok(HostArray::u32(shape, (0..n as u32).collect())),
        (DType::U32, Domain::Mask { density }) => {
            // Set entries hold random non-zero values, not just 1: contracts say "non-zero
            // means keep".
            let threshold = (density.clamp(0.0, 1.0) * (1u64 << 32) as f64) as u64;
            let mut v = vec![0u32; n];
            v.par_chunks_mut(CHUNK).enumerate().for_each(|(i, c)| {
                fill!(c, chunk_seed(i), |z| if (z >> 32) < threshold { z as u32 | 1 } else { 0 })
            });
            Ok(HostArray::u32(shape, v))
        }
        (DType::U32, Domain::Keys) => {
            let mut v = vec![0u32; n];
            v.par_chunks_mut(CHUNK)
                .enumerate()
                .for_each(|(i, c)| fill!(c, chunk_seed(i), |z| z as u32));
            Ok(HostArray::u32(shape, v))
        }
        (DType::U32, Domain::SmallCounts) => {
            let mut v = vec![0u32; n];
            v.par_chunks_mut(CHUNK)
                .enumerate()
                .for_each(|(i, c)| fill!(c, chunk_seed(i), |z| (z & 0xff) as u32));
            Ok(HostArray::u32(shape, v))
        }
        (dtype, _) => Err(format!("no synthetic generator for {dtype} inputs yet")),
    }
}

/// A one-line description of how an input was made, for the report.
pub(crate) fn describe_domain(domain: Domain) -> String {
    match domain {
        Domain::Uniform { lo, hi } => format!("uniform in [{lo}, {hi})"),
        Domain::Mask { density } => format!("mask, {}% set", density * 100.0),
        Domain::Keys => "uniform u32 keys".into(),
        Domain::Iota => "0, 1, 2, …".into(),
        Domain::SmallCounts => "uniform in 0..256".into(),
        Domain::F32Keys { lo, hi } => format!("uniform in [{lo}, {hi}) as f32 sort keys"),
        Domain::Unsupported => "no generator".into(),
    }
}

/// Smallest and largest finite f32 value of an array (None for other dtypes or no finite
/// value): the data range an input file gives the parameters derived from it.
pub(crate) fn finite_range(array: &HostArray) -> Option<(f32, f32)> {
    let values = array.as_f32()?;
    let (lo, hi) = values
        .par_iter()
        .filter(|x| x.is_finite())
        .fold(|| (f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &x| (lo.min(x), hi.max(x)))
        .reduce(|| (f32::INFINITY, f32::NEG_INFINITY), |a, b| (a.0.min(b.0), a.1.max(b.1)));
    (lo <= hi).then_some((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_data_is_seeded_and_in_range() {
        let meta = ArgMeta { dtype: DType::F32, shape: vec![200_000] };
        let domain = Domain::Uniform { lo: -4.0, hi: 4.0 };
        let a = generate(&meta, domain, 7).unwrap();
        let b = generate(&meta, domain, 7).unwrap();
        let c = generate(&meta, domain, 8).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.f32s().iter().all(|x| (-4.0..4.0).contains(x)));
        assert_eq!(finite_range(&a).map(|(lo, hi)| (lo < -3.9, hi > 3.9)), Some((true, true)));
        // Chunks differ from each other (each has its own seed).
        assert_ne!(a.f32s()[..16], a.f32s()[CHUNK..CHUNK + 16]);
    }

    #[test]
    fn masks_and_small_counts() {
        let meta = ArgMeta { dtype: DType::U32, shape: vec![100_000] };
        let mask = generate(&meta, Domain::Mask { density: 0.5 }, 1).unwrap();
        let set = mask.u32s().iter().filter(|&&x| x != 0).count();
        assert!((45_000..55_000).contains(&set), "{set}");
        let counts = generate(&meta, Domain::SmallCounts, 1).unwrap();
        assert!(counts.u32s().iter().all(|&x| x < 256));
        let f16 = ArgMeta { dtype: DType::F16, shape: vec![4] };
        assert!(generate(&f16, Domain::Unsupported, 1).unwrap_err().contains("f16"));
    }

    #[test]
    fn the_cache_returns_the_same_array_for_the_same_slot() {
        let mut cache = InputCache::default();
        let meta = ArgMeta { dtype: DType::F32, shape: vec![1000] };
        let d = Domain::Uniform { lo: -4.0, hi: 4.0 };
        let a = cache.get(0, &meta, d, 3).unwrap();
        let b = cache.get(0, &meta, d, 3).unwrap();
        let other_slot = cache.get(1, &meta, d, 3).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_ne!(*a, *other_slot);
    }
}
