//! Operation-level entry points — `sort_f32`, `top_k`, `median`, `percentile` — that pick
//! the kernel by the routing table (operation-routing.md §4) and run it on a backend:
//!
//! | operation    | condition                          | kernel                      |
//! |--------------|------------------------------------|-----------------------------|
//! | `top_k`      | k/n < 0.1                          | TOPK_SELECT                 |
//! | `top_k`      | k/n ≥ 0.1                          | SORT_RADIX, then the top k  |
//! | `sort`       | n ≤ 32768 and n a power of two     | SORT_BITONIC                |
//! | `sort`       | otherwise                          | SORT_RADIX                  |
//! | `median`     | n > 8192                           | MEDIAN_SELECT               |
//! | `median`     | n ≤ 8192, a power of two           | SORT_BITONIC, then middle   |
//! | `median`     | n ≤ 8192, not a power of two       | SORT_RADIX, then middle     |
//! | `percentile` | always                             | PERCENTILE_SELECT           |
//!
//! Every route of an operation returns the same result (bit for bit on one backend): the
//! f32 sorts share one total order and one key transform, top-k through a sort uses
//! TOPK_SELECT's rank key and tie rule, and the median from a sorted array is computed by
//! the same correctly rounded midpoint as MEDIAN_SELECT. The `*_via` functions force a route
//! (tests, benchmarks).
//!
//! SORT_RADIX is a u32 kernel; f32 data routed to it goes through the contract's
//! order-preserving key transform, fused into the sort's first and last pass.

use fastpath_gpu::{DType, Gpu};

use super::cpu_sort::{radix_sort_u32, sorted_f32_bits};
use super::keys::{f32_desc_rank_key, f32_from_desc_rank_key, f32_sort_key};
use super::median_of_sorted_keys;
use super::radix::{KeyMap, Payload, RadixJob, radix_sort};
use super::select::top_k_by_sort;
use crate::array::HostArray;
use crate::error::KernelError;
use crate::kernel::{Backend, run_host};
use crate::params::{ParamValue, Params};
use crate::registry::kernel;

/// Largest n the routing table sorts with the bitonic network.
pub const BITONIC_MAX_N: usize = 32768;
/// Above this many elements the median is selected rather than sorted.
pub const MEDIAN_SORT_MAX_N: usize = 8192;

/// How `sort_f32` sorts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortRoute {
    Bitonic,
    Radix,
}

/// How `top_k` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopKRoute {
    Select,
    RadixThenSlice,
}

/// How `median` finds the middle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MedianRoute {
    Select,
    BitonicThenMiddle,
    RadixThenMiddle,
}

/// How `percentile` finds its order statistics (the table has one row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PercentileRoute {
    Select,
}

impl SortRoute {
    pub fn kernel(self) -> &'static str {
        match self {
            SortRoute::Bitonic => "SORT_BITONIC",
            SortRoute::Radix => "SORT_RADIX",
        }
    }
}

impl TopKRoute {
    pub fn kernel(self) -> &'static str {
        match self {
            TopKRoute::Select => "TOPK_SELECT",
            TopKRoute::RadixThenSlice => "SORT_RADIX",
        }
    }
}

impl MedianRoute {
    pub fn kernel(self) -> &'static str {
        match self {
            MedianRoute::Select => "MEDIAN_SELECT",
            MedianRoute::BitonicThenMiddle => "SORT_BITONIC",
            MedianRoute::RadixThenMiddle => "SORT_RADIX",
        }
    }
}

impl PercentileRoute {
    pub fn kernel(self) -> &'static str {
        "PERCENTILE_SELECT"
    }
}

/// The routing table's sort row for n elements.
pub fn sort_route(n: usize) -> SortRoute {
    if n <= BITONIC_MAX_N && n.is_power_of_two() { SortRoute::Bitonic } else { SortRoute::Radix }
}

/// The routing table's top-k row: select while k/n < 0.1 (decided in integers: 10k < n).
pub fn top_k_route(n: usize, k: usize) -> TopKRoute {
    if k.saturating_mul(10) < n { TopKRoute::Select } else { TopKRoute::RadixThenSlice }
}

/// The routing table's median rows.
pub fn median_route(n: usize) -> MedianRoute {
    if n > MEDIAN_SORT_MAX_N {
        MedianRoute::Select
    } else if n.is_power_of_two() {
        MedianRoute::BitonicThenMiddle
    } else {
        MedianRoute::RadixThenMiddle
    }
}

/// The routing table's percentile row.
pub fn percentile_route(_n: usize) -> PercentileRoute {
    PercentileRoute::Select
}

fn run(
    backend: &Backend,
    id: &str,
    inputs: &[HostArray],
    params: &[(&str, ParamValue)],
) -> Result<Vec<HostArray>, KernelError> {
    let k = kernel(id)?;
    let p = Params::with(k.spec(), params)?;
    let refs: Vec<&HostArray> = inputs.iter().collect();
    run_host(k, backend, &refs, &p)
}

fn gpu_of(backend: &Backend) -> Option<&Gpu> {
    match backend {
        Backend::Gpu(g) => Some(g),
        Backend::Cpu => None,
    }
}

/// Sorts f32 values (NaN last, −0.0 before +0.0, bit patterns preserved), routed by n.
pub fn sort_f32(backend: &Backend, x: &[f32]) -> Result<(Vec<f32>, SortRoute), KernelError> {
    let route = sort_route(x.len());
    Ok((sort_f32_via(backend, x, route)?, route))
}

/// [`sort_f32`] through a given route (Bitonic needs a power-of-two length).
pub fn sort_f32_via(
    backend: &Backend,
    x: &[f32],
    route: SortRoute,
) -> Result<Vec<f32>, KernelError> {
    match route {
        SortRoute::Bitonic => {
            let out = run(backend, "SORT_BITONIC", &[HostArray::vec_f32(x.to_vec())], &[])?;
            Ok(out[0].f32s().to_vec())
        }
        SortRoute::Radix => {
            let mut bits: Vec<u32> = x.iter().map(|v| v.to_bits()).collect();
            match gpu_of(backend) {
                None => bits = sorted_f32_bits(&bits),
                Some(gpu) => {
                    let input = gpu.upload(&bits, DType::F32, vec![bits.len()])?;
                    let sorted = radix_sort(
                        gpu,
                        &RadixJob {
                            keys: &input,
                            payload: Payload::None,
                            key_in: KeyMap::F32Sort,
                            key_out: KeyMap::F32Sort,
                            out_len: bits.len(),
                            out_dtype: DType::F32,
                        },
                    )?;
                    bits = gpu.read(&sorted.keys)?;
                }
            }
            Ok(bits.into_iter().map(f32::from_bits).collect())
        }
    }
}

fn check_k(n: usize, k: usize) -> Result<(), KernelError> {
    if k == 0 || k > n {
        return Err(KernelError::invalid(format!(
            "top_k needs 1 <= k <= n (got k = {k}, n = {n})"
        )));
    }
    Ok(())
}

/// The k largest values (descending; ties by smaller index; NaN first) and their indices,
/// routed by k/n.
pub fn top_k(
    backend: &Backend,
    x: &[f32],
    k: usize,
) -> Result<(Vec<f32>, Vec<u32>, TopKRoute), KernelError> {
    let route = top_k_route(x.len(), k);
    let (v, i) = top_k_via(backend, x, k, route)?;
    Ok((v, i, route))
}

/// [`top_k`] through a given route.
pub fn top_k_via(
    backend: &Backend,
    x: &[f32],
    k: usize,
    route: TopKRoute,
) -> Result<(Vec<f32>, Vec<u32>), KernelError> {
    check_k(x.len(), k)?;
    match route {
        TopKRoute::Select => {
            let p = [("k", ParamValue::U32(k as u32))];
            let out = run(backend, "TOPK_SELECT", &[HostArray::vec_f32(x.to_vec())], &p)?;
            Ok((out[0].f32s().to_vec(), out[1].u32s().to_vec()))
        }
        TopKRoute::RadixThenSlice => match gpu_of(backend) {
            None => {
                // Stable ascending sort of the descending rank keys with their indices:
                // descending values, ties by index.
                let mut keys: Vec<u32> = x.iter().map(|v| f32_desc_rank_key(v.to_bits())).collect();
                let mut idx: Vec<u32> = (0..x.len() as u32).collect();
                radix_sort_u32(&mut keys, Some(&mut idx));
                keys.truncate(k);
                idx.truncate(k);
                let values = keys.iter().map(|&key| f32::from_bits(f32_from_desc_rank_key(key)));
                Ok((values.collect(), idx))
            }
            Some(gpu) => {
                let input = gpu.upload(x, DType::F32, vec![x.len()])?;
                let (values, indices) = top_k_by_sort(gpu, &input, k)?;
                let bytes = gpu.read_many(&[&values, &indices])?;
                Ok((
                    bytemuck::pod_collect_to_vec(&bytes[0]),
                    bytemuck::pod_collect_to_vec(&bytes[1]),
                ))
            }
        },
    }
}

fn check_nonempty(op: &str, n: usize) -> Result<(), KernelError> {
    if n == 0 {
        return Err(KernelError::invalid(format!(
            "{op} needs at least one element (n >= 1); the input is empty"
        )));
    }
    Ok(())
}

/// The median (mean of the two middle values for even n; NaN if any value is NaN), routed
/// by n.
pub fn median(backend: &Backend, x: &[f32]) -> Result<(f32, MedianRoute), KernelError> {
    let route = median_route(x.len());
    Ok((median_via(backend, x, route)?, route))
}

/// [`median`] through a given route (BitonicThenMiddle needs a power-of-two length).
pub fn median_via(backend: &Backend, x: &[f32], route: MedianRoute) -> Result<f32, KernelError> {
    check_nonempty("median", x.len())?;
    let sorted = match route {
        MedianRoute::Select => {
            let out = run(backend, "MEDIAN_SELECT", &[HostArray::vec_f32(x.to_vec())], &[])?;
            return Ok(out[0].f32s()[0]);
        }
        MedianRoute::BitonicThenMiddle => sort_f32_via(backend, x, SortRoute::Bitonic)?,
        MedianRoute::RadixThenMiddle => sort_f32_via(backend, x, SortRoute::Radix)?,
    };
    let n = sorted.len();
    let mid = (n - 1) / 2;
    let key = |i: usize| f32_sort_key(sorted[i].to_bits());
    let has_nan = sorted[n - 1].is_nan(); // NaN sorts last
    Ok(median_of_sorted_keys(n, key(mid), (mid + 1 < n).then(|| key(mid + 1)), has_nan))
}

/// The p-th percentile (linear interpolation, numpy's default), p in [0, 100].
pub fn percentile(
    backend: &Backend,
    x: &[f32],
    p: f32,
) -> Result<(f32, PercentileRoute), KernelError> {
    check_nonempty("percentile", x.len())?;
    let route = percentile_route(x.len());
    let out = run(
        backend,
        route.kernel(),
        &[HostArray::vec_f32(x.to_vec())],
        &[("p", ParamValue::F32(p))],
    )?;
    Ok((out[0].f32s()[0], route))
}
