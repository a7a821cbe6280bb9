//! Catalog domain `reductions`: the whole input folded into one value (sum, mean, min, max,
//! L2 norm, variance, standard deviation, argmax, argmin) or into 256 counts (histogram).
//!
//! GPU: the two-stage template of [`engine`] (histogram has its own privatised shader).
//! CPU: rayon over 64 Ki chunks with f64 lane accumulators; per-chunk two-pass variance
//! (the second pass hits cache) merged with Chan's formula.
//!
//! NaN: sum, mean, min, max, var, stddev, L2 propagate NaN; argmax/argmin return the first
//! NaN's index; histogram ignores NaN. Empty input: sum and L2 give 0, histogram all-zero
//! counts; mean, min, max, var, stddev, argmax, argmin are rejected before dispatch.

pub(crate) mod engine;
mod histogram;
#[cfg(test)]
mod tests;

use fastpath_gpu::{Access, DType, Dispatch, Gpu, GpuTensor, OwnedShaderSpec};

use crate::array::{ArgMeta, HostArray};
use crate::error::KernelError;
use crate::expected::Expected;
use crate::gpu_util::{fill_u32, fill_variant, shader_source};
use crate::kernel::{Cost, Kernel, WgslVariant, leading_len, require_nonempty};
use crate::params::Params;
use crate::{cpu, simd};
use engine::{Family, ReduceArgs, ReduceOp, reduce};

pub(crate) fn kernels() -> Vec<&'static dyn Kernel> {
    vec![
        &ReduceSum,
        &ReduceMean,
        &ReduceMin,
        &ReduceMax,
        &ReduceL2,
        &ReduceVar,
        &ReduceStddev,
        &ReduceHistogram,
        &ReduceArgmax,
        &ReduceArgmin,
    ]
}

/// Smallest tolerance unit: f32 results below the normal range may be flushed to zero.
pub(crate) const TINY: f64 = f32::MIN_POSITIVE as f64;

fn read_cost(args: &[ArgMeta], flops_per_element: f64) -> Cost {
    let n = leading_len(args);
    Cost::per_element(n, 4.0, 0.0, flops_per_element)
}

fn f32_out(v: f64) -> HostArray {
    HostArray::scalar_f32(v as f32)
}

// ---------------------------------------------------------------- CPU building blocks

/// Lanes of the min/max accumulators: two AVX2 registers or one AVX-512 register, so the
/// compare-select chains overlap.
const EXTREME_LANES: usize = 16;

/// (min or max, saw NaN) of a slice. The lanes keep the extreme with a plain compare and
/// select (one `maxps`/`minps` per register; `f32::max`'s NaN rules cost a fix-up per element)
/// and NaN is tracked separately: a NaN never wins a comparison, so it only sets the flag.
#[inline(always)]
fn extreme_lanes<const MAX: bool>(x: &[f32]) -> (f32, bool) {
    let init = if MAX { f32::NEG_INFINITY } else { f32::INFINITY };
    let better = |v: f32, best: f32| if MAX { v > best } else { v < best };
    let mut acc = [init; EXTREME_LANES];
    let mut nan = [false; EXTREME_LANES];
    let mut it = x.chunks_exact(EXTREME_LANES);
    for c in &mut it {
        for k in 0..EXTREME_LANES {
            let v = c[k];
            acc[k] = if better(v, acc[k]) { v } else { acc[k] };
            nan[k] |= v.is_nan();
        }
    }
    let mut best = init;
    let mut any_nan = nan.iter().any(|&b| b);
    for &v in acc.iter().chain(it.remainder()) {
        any_nan |= v.is_nan();
        if better(v, best) {
            best = v;
        }
    }
    (best, any_nan)
}

/// [`extreme_lanes`] compiled for the widest SIMD level the CPU has.
fn extreme_chunk(x: &[f32], want_max: bool) -> (f32, bool) {
    simd::with_widest_simd(
        #[inline(always)]
        |_| if want_max { extreme_lanes::<true>(x) } else { extreme_lanes::<false>(x) },
    )
}

fn cpu_extreme(x: &[f32], want_max: bool) -> f32 {
    let init = (if want_max { f32::NEG_INFINITY } else { f32::INFINITY }, false);
    let (v, nan) = cpu::reduce_ranges(
        x.len(),
        init,
        |s, n| extreme_chunk(&x[s..s + n], want_max),
        |a, b| (if want_max { a.0.max(b.0) } else { a.0.min(b.0) }, a.1 || b.1),
    );
    if nan { f32::NAN } else { v }
}

/// Welford state in f64: (count, mean, M2).
#[derive(Clone, Copy)]
struct Moments {
    n: f64,
    mean: f64,
    m2: f64,
}

fn merge(a: Moments, b: Moments) -> Moments {
    if a.n == 0.0 {
        return b;
    }
    if b.n == 0.0 {
        return a;
    }
    let n = a.n + b.n;
    let delta = b.mean - a.mean;
    Moments {
        n,
        mean: a.mean + delta * (b.n / n),
        m2: a.m2 + b.m2 + delta * delta * (a.n * b.n / n),
    }
}

fn cpu_moments(x: &[f32]) -> Moments {
    cpu::reduce_ranges(
        x.len(),
        Moments { n: 0.0, mean: 0.0, m2: 0.0 },
        |s, n| {
            // Two passes over one chunk: the second one reads from cache, not memory.
            let c = &x[s..s + n];
            simd::with_widest_simd(
                #[inline(always)]
                |_| {
                    let mean = cpu::lane_sum(c, |v| v as f64) / n as f64;
                    let m2 = cpu::lane_sum(c, |v| {
                        let d = v as f64 - mean;
                        d * d
                    });
                    Moments { n: n as f64, mean, m2 }
                },
            )
        },
        merge,
    )
}

/// First index of the maximum (or minimum) with NaN first, by a vectorised extreme pass and
/// a search for its first occurrence, per chunk.
fn arg_chunk(x: &[f32], base: usize, want_max: bool) -> (f32, usize) {
    let (best, nan) = extreme_chunk(x, want_max);
    let i = simd::with_widest_simd(
        #[inline(always)]
        |_| {
            if nan { first_where(x, |v| v.is_nan()) } else { first_where(x, |v| v == best) }
        },
    )
    .expect("the extreme (or NaN) of a chunk occurs in it");
    (x[i], base + i)
}

/// Index of the first element matching `hit`. Blocks of [`EXTREME_LANES`] are tested whole
/// (an OR over the block vectorises; an early exit per element does not), then the block that
/// hit is searched.
#[inline(always)]
fn first_where(x: &[f32], hit: impl Fn(f32) -> bool) -> Option<usize> {
    let mut blocks = x.chunks_exact(EXTREME_LANES);
    for (b, block) in (&mut blocks).enumerate() {
        if block.iter().fold(false, |any, &v| any | hit(v)) {
            return block.iter().position(|&v| hit(v)).map(|i| b * EXTREME_LANES + i);
        }
    }
    let done = x.len() - blocks.remainder().len();
    blocks.remainder().iter().position(|&v| hit(v)).map(|i| done + i)
}

fn arg_combine(a: (f32, usize), b: (f32, usize), want_max: bool) -> (f32, usize) {
    if a.1 == usize::MAX {
        return b;
    }
    if b.1 == usize::MAX {
        return a;
    }
    let first = if a.1 < b.1 { a } else { b };
    match (a.0.is_nan(), b.0.is_nan()) {
        (true, true) => first,
        (true, false) => a,
        (false, true) => b,
        _ => {
            let b_better = if want_max { b.0 > a.0 } else { b.0 < a.0 };
            let a_better = if want_max { a.0 > b.0 } else { a.0 < b.0 };
            if a_better {
                a
            } else if b_better {
                b
            } else {
                first
            }
        }
    }
}

fn cpu_arg(x: &[f32], want_max: bool) -> (f32, usize) {
    cpu::reduce_ranges(
        x.len(),
        (0.0, usize::MAX),
        |s, n| arg_chunk(&x[s..s + n], s, want_max),
        |a, b| arg_combine(a, b, want_max),
    )
}

// ---------------------------------------------------------------- references (f64)

pub(crate) fn ref_sum_tol(terms: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut s, mut a) = (0.0f64, 0.0f64);
    for t in terms {
        s += t;
        a += t.abs();
    }
    (s, 1e-5 * a + TINY)
}

fn ref_moments(x: &[f32]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
    let m2 = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>();
    (mean, m2)
}

fn var_tolerance(var: f64, mean: f64) -> f64 {
    // Relative 1e-5, plus the f32 rounding of the mean that every f32 variance carries.
    1e-5 * var.abs() + 1e-6 * mean.abs() * var.abs().sqrt() + TINY
}

fn ref_arg(x: &[f32], want_max: bool) -> (f32, usize) {
    if let Some(i) = x.iter().position(|v| v.is_nan()) {
        return (x[i], i);
    }
    let mut best = 0;
    for (i, &v) in x.iter().enumerate() {
        if (want_max && v > x[best]) || (!want_max && v < x[best]) {
            best = i;
        }
    }
    (x[best], best)
}

// ---------------------------------------------------------------- GPU helpers

fn reduce_variants(op: &ReduceOp) -> Vec<WgslVariant> {
    engine::variants(op)
}

fn gpu_scalar(
    gpu: &Gpu,
    op: ReduceOp,
    x: &GpuTensor,
    ddof: u32,
) -> Result<Vec<GpuTensor>, KernelError> {
    let out = reduce(gpu, &op, &ReduceArgs { x, aux: None, threshold: 0.0, ddof })?;
    Ok(vec![out.value])
}

macro_rules! scalar_reduction {
    (
        $(#[$doc:meta])* $name:ident, $id:literal, op: $op:expr, flops: $flops:expr,
        tolerance: $tol:literal, nonempty: $nonempty:expr,
        cpu: |$x:ident, $p:ident| $cpu:expr,
        reference: |$rx:ident, $rp:ident| $reference:expr $(,)?
    ) => {
        $(#[$doc])*
        pub struct $name;

        impl Kernel for $name {
            fn id(&self) -> &'static str {
                $id
            }
            fn check(&self, args: &[ArgMeta], params: &Params) -> Result<(), KernelError> {
                if $nonempty {
                    require_nonempty($id, args)?;
                }
                check_ddof($id, args, params)
            }
            fn cost(&self, args: &[ArgMeta], _params: &Params) -> Cost {
                read_cost(args, $flops)
            }
            fn cpu(&self, inputs: &[&HostArray], params: &Params) -> Result<Vec<HostArray>, KernelError> {
                let $x = inputs[0].f32s();
                let $p = params;
                Ok(vec![f32_out($cpu)])
            }
            fn gpu(&self, gpu: &Gpu, inputs: &[&GpuTensor], params: &Params) -> Result<Vec<GpuTensor>, KernelError> {
                let ddof = params.get("ddof").map_or(0, |_| params.u32("ddof"));
                gpu_scalar(gpu, $op, inputs[0], ddof)
            }
            fn reference(&self, inputs: &[&HostArray], params: &Params) -> Vec<Expected> {
                let $rx = inputs[0].f32s();
                let $rp = params;
                let (value, tol): (f64, f64) = $reference;
                vec![Expected::scalar(value, tol)]
            }
            fn tolerance(&self) -> &'static str {
                $tol
            }
            fn wgsl_variants(&self) -> Vec<WgslVariant> {
                reduce_variants(&$op)
            }
        }
    };
}

fn check_ddof(id: &str, args: &[ArgMeta], params: &Params) -> Result<(), KernelError> {
    if params.get("ddof").is_some() {
        let ddof = params.u32("ddof") as usize;
        let n = leading_len(args);
        if n <= ddof {
            return Err(KernelError::invalid(format!(
                "{id} needs more elements than ddof (n = {n}, ddof = {ddof})"
            )));
        }
    }
    Ok(())
}

fn variance_f64(m: Moments, ddof: u32) -> f64 {
    m.m2 / (m.n - ddof as f64)
}

scalar_reduction! {
    /// REDUCE_SUM: Σ x (0 for empty input).
    ReduceSum, "REDUCE_SUM",
    op: ReduceOp { family: Family::Sum, acc: "acc_sum", fin: "fin_sum" }, flops: 1.0,
    tolerance: "|error| <= 1e-5 * sum|x| (f32 partial sums must stay within f32 range)",
    nonempty: false,
    cpu: |x, _p| cpu::sum_f64(x, |v| v as f64),
    reference: |x, _p| ref_sum_tol(x.iter().map(|&v| v as f64)),
}

scalar_reduction! {
    /// REDUCE_MEAN: Σ x / n, the division applied once to the final sum.
    ReduceMean, "REDUCE_MEAN",
    op: ReduceOp { family: Family::Sum, acc: "acc_sum", fin: "fin_mean" }, flops: 1.0,
    tolerance: "|error| <= 1e-5 * sum|x| / n",
    nonempty: true,
    cpu: |x, _p| cpu::sum_f64(x, |v| v as f64) / x.len() as f64,
    reference: |x, _p| {
        let (s, t) = ref_sum_tol(x.iter().map(|&v| v as f64));
        (s / x.len() as f64, t / x.len() as f64)
    },
}

scalar_reduction! {
    /// REDUCE_MIN: the smallest element; NaN if any element is NaN.
    ReduceMin, "REDUCE_MIN",
    op: ReduceOp { family: Family::Min, acc: "acc_min", fin: "fin_minmax" }, flops: 1.0,
    tolerance: "exact",
    nonempty: true,
    cpu: |x, _p| cpu_extreme(x, false) as f64,
    reference: |x, _p| {
        let v = if x.iter().any(|v| v.is_nan()) { f64::NAN } else { x.iter().fold(f64::INFINITY, |m, &v| m.min(v as f64)) };
        (v, 0.0)
    },
}

scalar_reduction! {
    /// REDUCE_MAX: the largest element; NaN if any element is NaN.
    ReduceMax, "REDUCE_MAX",
    op: ReduceOp { family: Family::Max, acc: "acc_max", fin: "fin_minmax" }, flops: 1.0,
    tolerance: "exact",
    nonempty: true,
    cpu: |x, _p| cpu_extreme(x, true) as f64,
    reference: |x, _p| {
        let v = if x.iter().any(|v| v.is_nan()) { f64::NAN } else { x.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64)) };
        (v, 0.0)
    },
}

scalar_reduction! {
    /// REDUCE_L2: sqrt(Σ x²), 0 for empty input. The GPU keeps Blue's three scaled
    /// accumulators so no square overflows or underflows; the CPU accumulates in f64.
    ReduceL2, "REDUCE_L2",
    op: ReduceOp { family: Family::L2, acc: "acc_l2", fin: "fin_l2" }, flops: 3.0,
    tolerance: "relative 1e-5 (finite for every finite input: scaled accumulation)",
    nonempty: false,
    cpu: |x, _p| cpu::sum_f64(x, |v| (v as f64) * (v as f64)).sqrt(),
    reference: |x, _p| {
        let v = x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt();
        (v, 1e-5 * v + TINY)
    },
}

scalar_reduction! {
    /// REDUCE_VAR: M2 / (n − ddof) by Welford/Chan (no E[x²] − E[x]² shortcut).
    ReduceVar, "REDUCE_VAR",
    op: ReduceOp { family: Family::Welford, acc: "acc_welford", fin: "fin_var" }, flops: 5.0,
    tolerance: "relative 1e-5 plus 1e-6*|mean|*stddev (the f32 rounding of the mean); inputs with |x| > 1e19 overflow f32 squares",
    nonempty: true,
    cpu: |x, p| variance_f64(cpu_moments(x), p.u32("ddof")),
    reference: |x, p| {
        let (mean, m2) = ref_moments(x);
        let v = m2 / (x.len() as f64 - p.u32("ddof") as f64);
        (v, var_tolerance(v, mean))
    },
}

scalar_reduction! {
    /// REDUCE_STDDEV: sqrt(max(var, 0)) of REDUCE_VAR's result.
    ReduceStddev, "REDUCE_STDDEV",
    op: ReduceOp { family: Family::Welford, acc: "acc_welford", fin: "fin_stddev" }, flops: 5.0,
    tolerance: "relative 5e-6 plus 5e-7*|mean| (half REDUCE_VAR's, through the square root)",
    nonempty: true,
    cpu: |x, p| {
        // f64::max drops a NaN operand: keep NaN explicitly.
        let v = variance_f64(cpu_moments(x), p.u32("ddof"));
        if v.is_nan() { v } else { v.max(0.0).sqrt() }
    },
    reference: |x, p| {
        let (mean, m2) = ref_moments(x);
        let v = m2 / (x.len() as f64 - p.u32("ddof") as f64);
        let s = if v.is_nan() { v } else { v.max(0.0).sqrt() };
        (s, 5e-6 * s + 5e-7 * mean.abs() + TINY)
    },
}

macro_rules! arg_reduction {
    ($(#[$doc:meta])* $name:ident, $id:literal, $family:expr, $acc:literal, $want_max:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl Kernel for $name {
            fn id(&self) -> &'static str {
                $id
            }
            fn check(&self, args: &[ArgMeta], _params: &Params) -> Result<(), KernelError> {
                require_nonempty($id, args)?;
                if leading_len(args) > u32::MAX as usize {
                    return Err(KernelError::invalid(format!("{} returns u32 indices: at most 2^32 elements", $id)));
                }
                Ok(())
            }
            fn cost(&self, args: &[ArgMeta], _params: &Params) -> Cost {
                read_cost(args, 2.0)
            }
            fn cpu(&self, inputs: &[&HostArray], _params: &Params) -> Result<Vec<HostArray>, KernelError> {
                let (v, i) = cpu_arg(inputs[0].f32s(), $want_max);
                Ok(vec![HostArray::scalar_f32(v), HostArray::scalar_u32(i as u32)])
            }
            fn gpu(&self, gpu: &Gpu, inputs: &[&GpuTensor], _params: &Params) -> Result<Vec<GpuTensor>, KernelError> {
                let op = ReduceOp { family: $family, acc: $acc, fin: "fin_arg" };
                let out = reduce(gpu, &op, &ReduceArgs { x: inputs[0], aux: None, threshold: 0.0, ddof: 0 })?;
                Ok(vec![out.value, out.index])
            }
            fn reference(&self, inputs: &[&HostArray], _params: &Params) -> Vec<Expected> {
                let (v, i) = ref_arg(inputs[0].f32s(), $want_max);
                vec![Expected::scalar(v as f64, 0.0), Expected::ints([i as u64])]
            }
            fn tolerance(&self) -> &'static str {
                "exact value and index; ties -> smallest index; NaN -> first NaN"
            }
            fn wgsl_variants(&self) -> Vec<WgslVariant> {
                reduce_variants(&ReduceOp { family: $family, acc: $acc, fin: "fin_arg" })
            }
        }
    };
}

arg_reduction!(
    /// REDUCE_ARGMAX: (value, index) of the largest element; first occurrence on ties.
    ReduceArgmax, "REDUCE_ARGMAX", Family::ArgMax, "acc_argmax", true
);
arg_reduction!(
    /// REDUCE_ARGMIN: (value, index) of the smallest element; first occurrence on ties.
    ReduceArgmin, "REDUCE_ARGMIN", Family::ArgMin, "acc_argmin", false
);

// ---------------------------------------------------------------- histogram

const HISTOGRAM_WGSL: &str = include_str!("histogram.wgsl");
const HISTOGRAM_BINS: usize = 256;

/// REDUCE_HISTOGRAM: 256 equal-width bins over [min_val, max_val]; x == max_val goes into
/// the last bin; NaN and out-of-range values are not counted. Bins are exact (see
/// [`histogram`]'s module docs).
pub struct ReduceHistogram;

fn histogram_range(params: &Params) -> (f32, f32) {
    (params.f32("min_val"), params.f32("max_val"))
}

fn histogram_variant() -> WgslVariant {
    WgslVariant {
        label: "reduce/histogram".into(),
        source: shader_source(&[HISTOGRAM_WGSL], &[]),
        entry: "histogram".into(),
        uses_subgroups: false,
    }
}

impl Kernel for ReduceHistogram {
    fn id(&self) -> &'static str {
        "REDUCE_HISTOGRAM"
    }

    fn check(&self, _args: &[ArgMeta], params: &Params) -> Result<(), KernelError> {
        let (lo, hi) = histogram_range(params);
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(KernelError::invalid(format!(
                "REDUCE_HISTOGRAM needs finite min_val < max_val (got min_val={lo}, max_val={hi})"
            )));
        }
        Ok(())
    }

    fn cost(&self, args: &[ArgMeta], _params: &Params) -> Cost {
        let mut c = read_cost(args, 4.0);
        c.bytes += (HISTOGRAM_BINS * 4) as f64;
        c
    }

    fn cpu(&self, inputs: &[&HostArray], params: &Params) -> Result<Vec<HostArray>, KernelError> {
        let x = inputs[0].f32s();
        let (lo, hi) = histogram_range(params);
        let binner = histogram::Binner::new(lo, hi, &histogram::edges(lo, hi));
        // ~1.6 ns per value on one core (sixteen times a sum's): tasks of 4 Ki values and up
        // already outweigh rayon's few microseconds, so mid sizes go parallel too.
        let chunk = (x.len() / cpu::TARGET_TASKS).clamp(4096, cpu::CHUNK);
        let mut counts = cpu::reduce_ranges_by(
            x.len(),
            chunk,
            vec![0u32; HISTOGRAM_BINS + 1],
            |s, n| {
                let mut local = [[0u32; HISTOGRAM_BINS + 1]; 4];
                binner.count(&x[s..s + n], &mut local);
                (0..=HISTOGRAM_BINS).map(|b| local.iter().map(|sub| sub[b]).sum()).collect()
            },
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(b) {
                    *x += y;
                }
                a
            },
        );
        counts.truncate(HISTOGRAM_BINS); // drop the spare bin of uncounted values
        Ok(vec![HostArray::vec_u32(counts)])
    }

    fn gpu(
        &self,
        gpu: &Gpu,
        inputs: &[&GpuTensor],
        params: &Params,
    ) -> Result<Vec<GpuTensor>, KernelError> {
        let x = inputs[0];
        let (lo, hi) = histogram_range(params);
        let edges = histogram::edges(lo, hi);
        let edges_t = gpu.upload(&edges, DType::F32, vec![HISTOGRAM_BINS])?;
        let counts = gpu.empty(DType::U32, vec![HISTOGRAM_BINS])?;
        fill_u32(gpu, &counts, 0)?;
        let v = histogram_variant();
        let pipeline = gpu.pipeline_for(&v.label, || OwnedShaderSpec {
            label: v.label.clone(),
            source: v.source.clone(),
            entry: v.entry.clone(),
            storage: vec![Access::ReadOnly, Access::ReadOnly, Access::ReadWrite],
        })?;
        let scale = 256.0 / (hi - lo);
        for (start, count) in gpu.windows(x.len(), 4) {
            let params: [u32; 8] =
                [count as u32, 0, 0, 0, lo.to_bits(), hi.to_bits(), scale.to_bits(), 0];
            let vecs = count.div_ceil(4) as u64;
            // Privatised counts cost a 256-bin merge per workgroup: give each workgroup a
            // good share of the data.
            let groups = vecs.div_ceil(256 * 16).clamp(1, 1024) as u32;
            gpu.dispatch(&Dispatch {
                pipeline: &pipeline,
                params: bytemuck::bytes_of(&params),
                bindings: &[x.binding_range(start, count), edges_t.binding(), counts.binding()],
                workgroups: [groups, 1, 1],
            })?;
        }
        Ok(vec![counts])
    }

    fn reference(&self, inputs: &[&HostArray], params: &Params) -> Vec<Expected> {
        let (lo, hi) = histogram_range(params);
        let mut counts = [0u64; HISTOGRAM_BINS];
        for &v in inputs[0].f32s() {
            if !v.is_nan() && v >= lo && v <= hi {
                counts[histogram::exact_bin(v, lo, hi) as usize] += 1;
            }
        }
        vec![Expected::ints(counts)]
    }

    fn tolerance(&self) -> &'static str {
        "exact counts; bins computed without rounding"
    }

    fn wgsl_variants(&self) -> Vec<WgslVariant> {
        vec![histogram_variant(), fill_variant()]
    }
}
