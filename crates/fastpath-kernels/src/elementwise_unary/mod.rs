//! Catalog domain `elementwise_unary`: x: f32[n] -> out: f32[n], out[i] = f(x[i]) for exp,
//! log, sigmoid, tanh, softplus, clamp and abs.
//!
//! This folder also holds what the three elementwise domains (this one, `activations`,
//! `elementwise_binary`) share:
//! - [`math`] / `math.wgsl`: branch-free f32 exp, expm1, ln, ln(1+t), tanh, sigmoid,
//!   softplus with every IEEE special handled, the same algorithm on CPU and GPU;
//! - [`map_cpu`]: the CPU map template (rayon chunks, AVX-512 / AVX2+FMA / baseline copies
//!   of each loop chosen at run time, scalar-broadcast operands folded in);
//! - [`map_gpu`] / `map.wgsl`: the GPU map template (vec4 loads and stores, 16 elements per
//!   thread, one shader per operand pattern, windows beyond the largest binding);
//! - [`unary_map`]: the `Kernel` impl every one-input map uses.
//!
//! NaN propagates through every kernel here. ±Inf and range edges follow IEEE: exp(+Inf) =
//! +Inf, exp(x > 88.72283) = +Inf, exp(−Inf) = 0; ln(±0) = −Inf, ln(x < 0) = NaN,
//! ln(+Inf) = +Inf; sigmoid(+Inf) = 1, sigmoid(−Inf) = 0; tanh(±Inf) = ±1;
//! softplus(+Inf) = +Inf, softplus(−Inf) = 0; clamp and abs are exact. Subnormal results may be flushed to zero on
//! GPUs that flush them; subnormal inputs are handled exactly by ln on every backend.

pub(crate) mod map_cpu;
pub(crate) mod map_gpu;
pub(crate) mod math;
#[cfg(test)]
mod tests;
pub(crate) mod unary_map;

use fastpath_gpu::DType;

use crate::error::KernelError;
use crate::kernel::Kernel;
use crate::params::Params;
use map_cpu::map_unary;
use map_gpu::{MapShader, Read};
use unary_map::{FLUSH_TOLERANCE, UnaryMap, exact, no_check, no_gpu_params, relative_1e5};

const UNARY_OPS_WGSL: &str = include_str!("unary_ops.wgsl");

pub(crate) fn kernels() -> Vec<&'static dyn Kernel> {
    vec![&MAP_EXP, &MAP_LOG, &MAP_SIGMOID, &MAP_TANH, &MAP_SOFTPLUS, &MAP_CLAMP, &MAP_ABS]
}

/// A one-input f32 map shader of this domain.
const fn shader(key: &'static str, op: &'static str) -> MapShader {
    MapShader { key, library: UNARY_OPS_WGSL, op, operands: &[Read::Array], output: DType::F32 }
}

/// MAP_EXP: e^x.
pub(crate) static MAP_EXP: UnaryMap = UnaryMap {
    id: "MAP_EXP",
    flops: 14.0,
    cpu: |x, _| map_unary(x, math::exp),
    gpu: shader("map/exp", "exp4"),
    gpu_params: no_gpu_params,
    check: no_check,
    reference: |x, _| x.exp(),
    tolerance: relative_1e5,
    tolerance_text: "relative 1e-5 (about 2 ulp in practice); results below f32::MIN_POSITIVE may \
                     be flushed to 0; overflow is exactly +inf",
};

/// MAP_LOG: ln x, no clamping.
pub(crate) static MAP_LOG: UnaryMap = UnaryMap {
    id: "MAP_LOG",
    flops: 20.0,
    cpu: |x, _| map_unary(x, math::ln),
    gpu: shader("map/log", "log4"),
    gpu_params: no_gpu_params,
    check: no_check,
    reference: |x, _| x.ln(),
    tolerance: relative_1e5,
    tolerance_text: "relative 1e-5 (about 1 ulp in practice); ln(0) = -inf and ln(x<0) = NaN exactly",
};

/// MAP_SIGMOID: 1 / (1 + e^-x), through e^-|x| so nothing overflows.
pub(crate) static MAP_SIGMOID: UnaryMap = UnaryMap {
    id: "MAP_SIGMOID",
    flops: 18.0,
    cpu: |x, _| map_unary(x, math::sigmoid),
    gpu: shader("map/sigmoid", "sigmoid4"),
    gpu_params: no_gpu_params,
    check: no_check,
    reference: |x, _| 1.0 / (1.0 + (-x).exp()),
    tolerance: |_, r, _| 1e-6 * r.abs() + FLUSH_TOLERANCE,
    tolerance_text: "relative 1e-6, so also within the spec's 1e-6 absolute (results are <= 1); \
                     results below f32::MIN_POSITIVE may be flushed to 0",
};

/// MAP_TANH: tanh x.
pub(crate) static MAP_TANH: UnaryMap = UnaryMap {
    id: "MAP_TANH",
    flops: 22.0,
    cpu: |x, _| map_unary(x, math::tanh),
    gpu: shader("map/tanh", "tanh4"),
    gpu_params: no_gpu_params,
    check: no_check,
    reference: |x, _| x.tanh(),
    tolerance: relative_1e5,
    tolerance_text: "relative 1e-5 (about 2 ulp in practice, small |x| included); |x| >= 10 gives \
                     exactly +-1",
};

/// MAP_SOFTPLUS: ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|).
pub(crate) static MAP_SOFTPLUS: UnaryMap = UnaryMap {
    id: "MAP_SOFTPLUS",
    flops: 30.0,
    cpu: |x, _| map_unary(x, math::softplus),
    gpu: shader("map/softplus", "softplus4"),
    gpu_params: no_gpu_params,
    check: no_check,
    reference: |x, _| {
        if x.is_nan() { x } else { x.max(0.0) + (-x.abs()).exp().ln_1p() }
    },
    tolerance: relative_1e5,
    tolerance_text: "relative 1e-5 (about 3 ulp in practice); large x gives x, never +inf",
};

fn clamp_bounds(params: &Params) -> (f32, f32) {
    (params.f32("lo"), params.f32("hi"))
}

/// MAP_CLAMP: min(max(x, lo), hi) with lo <= hi; NaN propagates.
pub(crate) static MAP_CLAMP: UnaryMap = UnaryMap {
    id: "MAP_CLAMP",
    flops: 2.0,
    cpu: |x, p| {
        let (lo, hi) = clamp_bounds(p);
        // Compare-and-select keeps NaN (f32::max/min would replace it with a bound).
        map_unary(x, move |v, _| {
            let v = if v < lo { lo } else { v };
            if v > hi { hi } else { v }
        })
    },
    gpu: shader("map/clamp", "op_clamp"),
    gpu_params: |p| {
        let (lo, hi) = clamp_bounds(p);
        [lo, hi]
    },
    check: |id, p| {
        let (lo, hi) = clamp_bounds(p);
        // Written so that a NaN bound fails too.
        if lo <= hi {
            Ok(())
        } else {
            Err(KernelError::invalid(format!("{id} needs lo <= hi (got lo={lo}, hi={hi})")))
        }
    },
    reference: |x, p| {
        let (lo, hi) = clamp_bounds(p);
        if x.is_nan() { x } else { x.max(lo as f64).min(hi as f64) }
    },
    tolerance: |_, _, _| FLUSH_TOLERANCE,
    tolerance_text: "exact, except that subnormal inputs may come back as 0 on GPUs that flush \
                     subnormals; NaN stays NaN; infinite bounds allowed",
};

/// MAP_ABS: |x| by clearing the sign bit.
pub(crate) static MAP_ABS: UnaryMap = UnaryMap {
    id: "MAP_ABS",
    flops: 1.0,
    cpu: |x, _| map_unary(x, |v, _| v.abs()),
    gpu: shader("map/abs", "abs_bits4"),
    gpu_params: no_gpu_params,
    check: no_check,
    reference: |x, _| x.abs(),
    tolerance: exact,
    tolerance_text: "exact (sign bit cleared; NaN stays NaN)",
};
