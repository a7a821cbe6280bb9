//! Catalog domain `statistics_sorting`: SORT_RADIX, SORT_BITONIC, SORT_BITONIC_KV,
//! TOPK_SELECT, MEDIAN_SELECT and PERCENTILE_SELECT, plus [`route`], the entry points that
//! pick between them by the routing table (operation-routing.md §4).
//!
//! **Algorithms.** GPU: an LSD radix sort with 8-bit digits in reduce-then-scan form
//! ([`radix`]), a bitonic network sorted in workgroup memory with global merge steps above
//! one block ([`bitonic`]), and radix select — four byte-wise histogram passes, no sort — for
//! median, percentile and top-k's threshold, followed for top-k by an ordered compaction of
//! the winners and a sort of only those ([`select`]). None of them waits on another
//! workgroup (Apple GPUs give no forward-progress guarantee), every workgroup scan has a
//! subgroup-free twin, and all of them chunk inputs larger than one storage binding. CPU: a
//! parallel stable radix sort — one MSD scatter, then LSD passes in cache ([`cpu_sort`]) —
//! and a 16-bit radix select over two or three streaming reads ([`cpu_select`]).
//!
//! **Float order** ([`keys`]): every f32 sort and selection uses one total order — NaN (of
//! either sign) after +∞, −0.0 before +0.0 — through an order-preserving u32 key; sorts
//! return every bit pattern unchanged. Distinct NaN bit patterns are ordered among themselves
//! by their key (the order is total), which the float references do not check. Top-k ranks NaN above +∞ with all NaNs tied (ties by
//! index, returned as the canonical NaN). Median and percentile return NaN when any element
//! is NaN, as numpy does.
//!
//! **In place.** SORT_BITONIC and SORT_BITONIC_KV sort the GPU input tensors in place and
//! return those same tensors (their contract declares the outputs `in_place_of` the inputs);
//! the CPU returns new arrays. SORT_RADIX never modifies its input.

pub(crate) mod bitonic;
pub mod cpu_select;
pub mod cpu_sort;
pub mod keys;
pub(crate) mod radix;
pub mod route;
pub(crate) mod select;
mod shaders;
#[cfg(test)]
mod tests;

use fastpath_gpu::{Gpu, GpuTensor};

use crate::array::{ArgMeta, HostArray};
use crate::error::KernelError;
use crate::expected::Expected;
use crate::kernel::{Cost, Kernel, WgslVariant, leading_len, require_nonempty};
use crate::params::Params;
use cpu_select::{lerp, midpoint, order_statistics, percentile_position};
use keys::{f32_from_sort_key, f32_sort_key, reference_order};
use radix::{KeyMap, Payload, RadixJob};

pub(crate) fn kernels() -> Vec<&'static dyn Kernel> {
    vec![&SortRadix, &SortBitonic, &SortBitonicKv, &TopkSelect, &MedianSelect, &PercentileSelect]
}

/// Smallest tolerance unit: GPUs may flush subnormal results to zero.
const TINY: f64 = f32::MIN_POSITIVE as f64;

fn sorted_bits(bits: &[u32]) -> Vec<f32> {
    cpu_sort::sorted_f32_bits(bits).into_iter().map(f32::from_bits).collect()
}

// ---------------------------------------------------------------- SORT_RADIX

/// SORT_RADIX: u32 keys ascending, stable, with an optional u32 payload moved alongside.
pub struct SortRadix;

impl Kernel for SortRadix {
    fn id(&self) -> &'static str {
        "SORT_RADIX"
    }

    fn cost(&self, args: &[ArgMeta], _params: &Params) -> Cost {
        let n = leading_len(args);
        let arrays = args.len() as f64; // keys, and the payload when given
        Cost::per_element(n, 4.0 * arrays, 4.0 * arrays, 0.0)
    }

    fn cpu(&self, inputs: &[&HostArray], _params: &Params) -> Result<Vec<HostArray>, KernelError> {
        let (keys, payload) =
            cpu_sort::radix_sorted_u32(inputs[0].u32s(), inputs.get(1).map(|p| p.u32s()));
        Ok(std::iter::once(keys).chain(payload).map(HostArray::vec_u32).collect())
    }

    fn gpu(
        &self,
        gpu: &Gpu,
        inputs: &[&GpuTensor],
        _params: &Params,
    ) -> Result<Vec<GpuTensor>, KernelError> {
        let keys = inputs[0];
        let job = RadixJob {
            keys,
            payload: inputs.get(1).map_or(Payload::None, |p| Payload::Buffer(p)),
            key_in: KeyMap::Identity,
            key_out: KeyMap::Identity,
            out_len: keys.len(),
            out_dtype: fastpath_gpu::DType::U32,
        };
        let sorted = radix::radix_sort(gpu, &job)?;
        Ok(std::iter::once(sorted.keys).chain(sorted.payload).collect())
    }

    fn reference(&self, inputs: &[&HostArray], _params: &Params) -> Vec<Expected> {
        let keys = inputs[0].u32s();
        let payload: Vec<u32> = match inputs.get(1) {
            Some(p) => p.u32s().to_vec(),
            None => vec![0; keys.len()],
        };
        let mut pairs: Vec<(u32, u32)> = keys.iter().copied().zip(payload).collect();
        pairs.sort_by_key(|p| p.0); // std's stable sort
        let mut out = vec![Expected::ints(pairs.iter().map(|p| p.0 as u64))];
        if inputs.len() > 1 {
            out.push(Expected::ints(pairs.iter().map(|p| p.1 as u64)));
        }
        out
    }

    fn tolerance(&self) -> &'static str {
        "exact; stable (equal keys keep their input order, payload included)"
    }

    fn wgsl_variants(&self) -> Vec<WgslVariant> {
        radix::variants()
    }
}

// ---------------------------------------------------------------- SORT_BITONIC(_KV)

fn check_power_of_two(id: &str, args: &[ArgMeta]) -> Result<(), KernelError> {
    let n = leading_len(args);
    if n != 0 && !n.is_power_of_two() {
        return Err(KernelError::invalid(format!(
            "{id} needs n to be a power of two (got n = {n}); SORT_RADIX sorts any length"
        )));
    }
    Ok(())
}

fn bitonic_cost(n: usize, bytes_per_element: f64) -> Cost {
    let log = (n.max(2) as f64).log2();
    Cost { bytes: n as f64 * bytes_per_element * 2.0, flops: n as f64 * log * (log + 1.0) / 4.0 }
}

/// SORT_BITONIC: f32 ascending in the domain's total order (NaN last, −0.0 before +0.0),
/// n a power of two (or 0). The GPU sorts in place and returns the input tensor.
pub struct SortBitonic;

impl Kernel for SortBitonic {
    fn id(&self) -> &'static str {
        "SORT_BITONIC"
    }

    fn check(&self, args: &[ArgMeta], _params: &Params) -> Result<(), KernelError> {
        check_power_of_two(self.id(), args)
    }

    fn cost(&self, args: &[ArgMeta], _params: &Params) -> Cost {
        bitonic_cost(leading_len(args), 4.0)
    }

    fn cpu(&self, inputs: &[&HostArray], _params: &Params) -> Result<Vec<HostArray>, KernelError> {
        let bits: &[u32] = bytemuck::cast_slice(inputs[0].f32s());
        Ok(vec![HostArray::vec_f32(sorted_bits(bits))])
    }

    fn gpu(
        &self,
        gpu: &Gpu,
        inputs: &[&GpuTensor],
        _params: &Params,
    ) -> Result<Vec<GpuTensor>, KernelError> {
        bitonic::bitonic_sort(gpu, inputs[0], None, KeyMap::F32Sort)?;
        Ok(vec![inputs[0].clone()])
    }

    fn reference(&self, inputs: &[&HostArray], _params: &Params) -> Vec<Expected> {
        let mut v = inputs[0].f32s().to_vec();
        v.sort_by(|a, b| reference_order(*a, *b));
        vec![Expected::elementwise(v.iter().map(|&x| x as f64).collect(), 0.0, 0.0)]
    }

    fn tolerance(&self) -> &'static str {
        "exact; NaN last, -0.0 before +0.0, bit patterns preserved"
    }

    fn wgsl_variants(&self) -> Vec<WgslVariant> {
        bitonic::variants(false)
    }
}

/// SORT_BITONIC_KV: f32 keys ascending (SORT_BITONIC's order) with u32 values permuted
/// alike. Equal keys come out ordered by value — a deterministic choice where the contract
/// leaves the order unspecified. In place on the GPU.
pub struct SortBitonicKv;

impl Kernel for SortBitonicKv {
    fn id(&self) -> &'static str {
        "SORT_BITONIC_KV"
    }

    fn check(&self, args: &[ArgMeta], _params: &Params) -> Result<(), KernelError> {
        check_power_of_two(self.id(), args)
    }

    fn cost(&self, args: &[ArgMeta], _params: &Params) -> Cost {
        bitonic_cost(leading_len(args), 8.0)
    }

    fn cpu(&self, inputs: &[&HostArray], _params: &Params) -> Result<Vec<HostArray>, KernelError> {
        let mut keys: Vec<u32> =
            inputs[0].f32s().iter().map(|v| f32_sort_key(v.to_bits())).collect();
        let mut values = inputs[1].u32s().to_vec();
        cpu_sort::sort_pairs_by_key_then_value(&mut keys, &mut values);
        let keys = keys.into_iter().map(|k| f32::from_bits(f32_from_sort_key(k))).collect();
        Ok(vec![HostArray::vec_f32(keys), HostArray::vec_u32(values)])
    }

    fn gpu(
        &self,
        gpu: &Gpu,
        inputs: &[&GpuTensor],
        _params: &Params,
    ) -> Result<Vec<GpuTensor>, KernelError> {
        bitonic::bitonic_sort(gpu, inputs[0], Some(inputs[1]), KeyMap::F32Sort)?;
        Ok(vec![inputs[0].clone(), inputs[1].clone()])
    }

    /// Pairs by (key in the documented order, value). All NaN keys compare equal here, so
    /// tests use one NaN bit pattern (the kernels order distinct NaN patterns by their bits).
    fn reference(&self, inputs: &[&HostArray], _params: &Params) -> Vec<Expected> {
        let mut pairs: Vec<(f32, u32)> =
            inputs[0].f32s().iter().copied().zip(inputs[1].u32s().iter().copied()).collect();
        pairs.sort_by(|a, b| reference_order(a.0, b.0).then(a.1.cmp(&b.1)));
        vec![
            Expected::elementwise(pairs.iter().map(|p| p.0 as f64).collect(), 0.0, 0.0),
            Expected::ints(pairs.iter().map(|p| p.1 as u64)),
        ]
    }

    fn tolerance(&self) -> &'static str {
        "exact; keys as SORT_BITONIC, equal keys ordered by value"
    }

    fn wgsl_variants(&self) -> Vec<WgslVariant> {
        bitonic::variants(true)
    }
}

// ---------------------------------------------------------------- TOPK_SELECT

/// TOPK_SELECT: the k largest values, descending, with their indices; equal values by
/// ascending index. NaN ranks above +∞ (all NaNs tie); −0.0 ranks below +0.0.
pub struct TopkSelect;

impl Kernel for TopkSelect {
    fn id(&self) -> &'static str {
        "TOPK_SELECT"
    }

    fn check(&self, args: &[ArgMeta], params: &Params) -> Result<(), KernelError> {
        let n = leading_len(args);
        let k = params.u32("k") as usize;
        if k == 0 || k > n {
            return Err(KernelError::invalid(format!(
                "TOPK_SELECT needs 1 <= k <= n (got k = {k}, n = {n})"
            )));
        }
        Ok(())
    }

    fn cost(&self, args: &[ArgMeta], params: &Params) -> Cost {
        let n = leading_len(args) as f64;
        let k = params.get("k").map_or(0, |_| params.u32("k")) as f64;
        Cost { bytes: n * 4.0 + k * 8.0, flops: n }
    }

    fn cpu(&self, inputs: &[&HostArray], params: &Params) -> Result<Vec<HostArray>, KernelError> {
        let (values, indices) = cpu_select::top_k(inputs[0].f32s(), params.u32("k") as usize);
        Ok(vec![HostArray::vec_f32(values), HostArray::vec_u32(indices)])
    }

    fn gpu(
        &self,
        gpu: &Gpu,
        inputs: &[&GpuTensor],
        params: &Params,
    ) -> Result<Vec<GpuTensor>, KernelError> {
        let (values, indices) = select::top_k(gpu, inputs[0], params.u32("k") as usize)?;
        Ok(vec![values, indices])
    }

    fn reference(&self, inputs: &[&HostArray], params: &Params) -> Vec<Expected> {
        let x = inputs[0].f32s();
        let k = params.u32("k") as usize;
        let mut order: Vec<usize> = (0..x.len()).collect();
        // Descending, NaNs first and tied; ties by index. Select, then sort the k.
        let cmp = |a: &usize, b: &usize| reference_order(x[*b], x[*a]).then(a.cmp(b));
        if k < order.len() {
            order.select_nth_unstable_by(k - 1, cmp);
            order.truncate(k);
        }
        order.sort_by(cmp);
        vec![
            Expected::elementwise(order.iter().map(|&i| x[i] as f64).collect(), 0.0, 0.0),
            Expected::ints(order.iter().map(|&i| i as u64)),
        ]
    }

    fn tolerance(&self) -> &'static str {
        "exact values and indices; ties by smaller index; NaN ranks first"
    }

    fn wgsl_variants(&self) -> Vec<WgslVariant> {
        let mut v = select::select_variants();
        v.extend(select::compact_variants());
        v.extend(bitonic::variants(true));
        v.extend(radix::variants());
        v
    }
}

// ---------------------------------------------------------------- MEDIAN / PERCENTILE

/// Float64 reference order statistics of ranks `rank` and `rank + 1` (the second clamped to
/// the last element), or None when any element is NaN. Selection, not a sort: the tests run
/// it on 2^20-element inputs in debug builds.
fn reference_order_statistics(x: &[f32], rank: usize) -> Option<(f64, f64)> {
    if x.iter().any(|v| v.is_nan()) {
        return None;
    }
    let mut v: Vec<f64> = x.iter().map(|&a| a as f64).collect();
    let (_, &mut lo, above) = v.select_nth_unstable_by(rank, |a, b| a.partial_cmp(b).unwrap());
    let hi = above.iter().copied().fold(f64::INFINITY, f64::min);
    Some((lo, if rank + 1 < x.len() { hi } else { lo }))
}

/// The median from the two middle order statistics (NaN if any element is NaN): the value
/// MEDIAN_SELECT and the sort-based routes all return.
pub fn median_of_sorted_keys(n: usize, lo: u32, hi: Option<u32>, has_nan: bool) -> f32 {
    if has_nan {
        return f32::NAN;
    }
    let a = f32::from_bits(f32_from_sort_key(lo));
    if !n.is_multiple_of(2) {
        return a;
    }
    midpoint(a, f32::from_bits(f32_from_sort_key(hi.expect("even n has a next rank"))))
}

/// MEDIAN_SELECT: rank (n−1)/2 for odd n, the mean of ranks n/2−1 and n/2 for even n
/// (correctly rounded); NaN if any element is NaN; n = 0 is rejected.
pub struct MedianSelect;

impl Kernel for MedianSelect {
    fn id(&self) -> &'static str {
        "MEDIAN_SELECT"
    }

    fn check(&self, args: &[ArgMeta], _params: &Params) -> Result<(), KernelError> {
        require_nonempty(self.id(), args)
    }

    fn cost(&self, args: &[ArgMeta], _params: &Params) -> Cost {
        Cost::per_element(leading_len(args), 4.0, 0.0, 1.0)
    }

    fn cpu(&self, inputs: &[&HostArray], _params: &Params) -> Result<Vec<HostArray>, KernelError> {
        let x = inputs[0].f32s();
        let n = x.len();
        let s = order_statistics(x, (n - 1) / 2);
        Ok(vec![HostArray::scalar_f32(median_of_sorted_keys(n, s.lo, s.hi, s.has_nan))])
    }

    fn gpu(
        &self,
        gpu: &Gpu,
        inputs: &[&GpuTensor],
        _params: &Params,
    ) -> Result<Vec<GpuTensor>, KernelError> {
        let n = inputs[0].len();
        let fraction = if n.is_multiple_of(2) { 0.5 } else { 0.0 };
        Ok(vec![select::order_statistic(gpu, inputs[0], (n - 1) / 2, fraction, true)?])
    }

    fn reference(&self, inputs: &[&HostArray], _params: &Params) -> Vec<Expected> {
        let x = inputs[0].f32s();
        let n = x.len();
        let Some((a, b)) = reference_order_statistics(x, (n - 1) / 2) else {
            return vec![Expected::scalar(f64::NAN, 0.0)];
        };
        let m = if n.is_multiple_of(2) { (a + b) / 2.0 } else { a };
        // Correct rounding to f32: within half an ulp.
        vec![Expected::scalar(m, m.abs() * f64::from(f32::EPSILON) / 2.0 + TINY)]
    }

    fn tolerance(&self) -> &'static str {
        "correctly rounded (half an ulp; subnormals may flush to zero); NaN if any element is NaN"
    }

    fn wgsl_variants(&self) -> Vec<WgslVariant> {
        select::select_variants()
    }
}

fn check_percentile(args: &[ArgMeta], params: &Params) -> Result<(), KernelError> {
    require_nonempty("PERCENTILE_SELECT", args)?;
    let p = params.f32("p");
    if !(0.0..=100.0).contains(&p) {
        return Err(KernelError::invalid(format!(
            "PERCENTILE_SELECT needs p in [0, 100] (got p = {p})"
        )));
    }
    Ok(())
}

/// PERCENTILE_SELECT: v[⌊h⌋] + (h − ⌊h⌋)(v[⌊h⌋+1] − v[⌊h⌋]) with h = (n−1)p/100, by
/// selection. Infinite neighbours give the limit (−∞ and +∞: NaN); NaN if any element is
/// NaN (numpy's rule).
pub struct PercentileSelect;

impl Kernel for PercentileSelect {
    fn id(&self) -> &'static str {
        "PERCENTILE_SELECT"
    }

    fn check(&self, args: &[ArgMeta], params: &Params) -> Result<(), KernelError> {
        check_percentile(args, params)
    }

    fn cost(&self, args: &[ArgMeta], _params: &Params) -> Cost {
        Cost::per_element(leading_len(args), 4.0, 0.0, 1.0)
    }

    fn cpu(&self, inputs: &[&HostArray], params: &Params) -> Result<Vec<HostArray>, KernelError> {
        let x = inputs[0].f32s();
        let (rank, t) = percentile_position(x.len(), params.f32("p"));
        let s = order_statistics(x, rank);
        let value = if s.has_nan {
            f32::NAN
        } else {
            let a = f32::from_bits(f32_from_sort_key(s.lo)) as f64;
            let b = s.hi.map_or(a, |h| f32::from_bits(f32_from_sort_key(h)) as f64);
            lerp(a, b, t) as f32
        };
        Ok(vec![HostArray::scalar_f32(value)])
    }

    fn gpu(
        &self,
        gpu: &Gpu,
        inputs: &[&GpuTensor],
        params: &Params,
    ) -> Result<Vec<GpuTensor>, KernelError> {
        let (rank, t) = percentile_position(inputs[0].len(), params.f32("p"));
        Ok(vec![select::order_statistic(gpu, inputs[0], rank, t as f32, false)?])
    }

    fn reference(&self, inputs: &[&HostArray], params: &Params) -> Vec<Expected> {
        let x = inputs[0].f32s();
        let (rank, t) = percentile_position(x.len(), params.f32("p"));
        let Some((a, b)) = reference_order_statistics(x, rank) else {
            return vec![Expected::scalar(f64::NAN, 0.0)];
        };
        let value = lerp(a, b, t);
        let scale = if value.is_finite() { a.abs().max(b.abs()) } else { 0.0 };
        vec![Expected::scalar(value, 1e-6 * scale + TINY)]
    }

    fn tolerance(&self) -> &'static str {
        "1e-6 x max(|v_lo|, |v_hi|) (f32 interpolation); exact when h is integral; NaN if any element is NaN"
    }

    fn wgsl_variants(&self) -> Vec<WgslVariant> {
        select::select_variants()
    }
}
