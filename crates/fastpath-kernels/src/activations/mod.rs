//! Catalog domain `activations`: x: f32[n] -> out: f32[n] for ReLU, leaky ReLU, ELU, GELU
//! (tanh form), SiLU and Mish. They are one-input maps: the CPU and GPU templates, the math
//! and the `Kernel` impl come from [`crate::elementwise_unary`]; this module holds the
//! element functions (here for the CPU, in `activations.wgsl` for the GPU) and references.
//!
//! NaN propagates. ±Inf: relu(+Inf) = +Inf, relu(−Inf) = 0; leaky_relu(−Inf) = −Inf (for
//! alpha > 0); elu(−Inf) = −alpha; gelu, silu and mish give +Inf for +Inf and −0 for −Inf
//! (their limits; the literal formulas would give −Inf · 0 = NaN). Large x gives x exactly
//! (gelu above 10, silu and mish above 20, as the contract says for mish).

#[cfg(test)]
mod tests;

use fastpath_gpu::DType;

use crate::elementwise_unary::map_cpu::map_unary;
use crate::elementwise_unary::map_gpu::{MapShader, Read};
use crate::elementwise_unary::math::{
    EXP_M1_LO, EXP_PARTS_LO, Madd, clamp_finite, exp_m1_core, exp_parts, pick, scale_by_pow2,
    times_sigmoid,
};
use crate::elementwise_unary::unary_map::{
    FLUSH_TOLERANCE, UnaryMap, no_check, no_gpu_params, relative_1e5,
};
use crate::kernel::Kernel;
use crate::params::Params;

const ACTIVATIONS_WGSL: &str = include_str!("activations.wgsl");

pub(crate) fn kernels() -> Vec<&'static dyn Kernel> {
    vec![&MAP_RELU, &MAP_LEAKY_RELU, &MAP_ELU, &MAP_GELU, &MAP_SILU, &MAP_MISH]
}

const fn shader(key: &'static str, op: &'static str) -> MapShader {
    MapShader { key, library: ACTIVATIONS_WGSL, op, operands: &[Read::Array], output: DType::F32 }
}

fn alpha(params: &Params) -> [f32; 2] {
    [params.f32("alpha"), 0.0]
}

const GELU_SQRT_2_OVER_PI: f32 = 0.797_884_6;
const GELU_CUBIC: f32 = 0.044_715;
/// sigmoid(2u) rounds to 1 above this, so gelu(x) = x.
const GELU_IS_X_ABOVE: f32 = 10.0;
/// x·sigmoid(2u) rounds to 0 below this.
const GELU_IS_ZERO_BELOW: f32 = -20.0;
/// sigmoid(x) and tanh(softplus(x)) round to 1 above this (the contract's mish threshold).
const SILU_MISH_IS_X_ABOVE: f32 = 20.0;

/// max(0, x), written as a select so NaN propagates (f32::max would drop it).
#[inline(always)]
fn relu(x: f32, _: Madd) -> f32 {
    if x <= 0.0 { 0.0 } else { x }
}

#[inline(always)]
fn leaky_relu(x: f32, alpha: f32) -> f32 {
    if x > 0.0 { x } else { alpha * x }
}

/// x for x > 0, alpha·(e^x − 1) otherwise; e^x − 1 without cancellation near 0.
#[inline(always)]
fn elu(x: f32, alpha: f32, m: Madd) -> f32 {
    let negative_part = alpha * exp_m1_core(clamp_finite(x, EXP_M1_LO, 0.0), m);
    let y = pick(x > 0.0, x, negative_part);
    pick(x.is_nan(), x, y)
}

/// Tanh-form GELU as x·sigmoid(2u), u = sqrt(2/π)(x + 0.044715x³): 0.5(1 + tanh u) equals
/// sigmoid(2u), and the sigmoid form does not cancel for negative x.
#[inline(always)]
fn gelu(x: f32, m: Madd) -> f32 {
    let xc = clamp_finite(x, GELU_IS_ZERO_BELOW, GELU_IS_X_ABOVE);
    let two_u = (2.0 * GELU_SQRT_2_OVER_PI) * xc * m.madd(GELU_CUBIC * xc, xc, 1.0);
    let y = pick(x > GELU_IS_X_ABOVE, x, times_sigmoid(xc, two_u, m));
    pick(x.is_nan(), x, y)
}

/// x·sigmoid(x) with the overflow-free sigmoid; −Inf gives −0.
#[inline(always)]
fn silu(x: f32, m: Madd) -> f32 {
    let xc = clamp_finite(x, EXP_PARTS_LO, SILU_MISH_IS_X_ABOVE);
    let y = pick(x > SILU_MISH_IS_X_ABOVE, x, times_sigmoid(xc, xc, m));
    pick(x.is_nan(), x, y)
}

/// x·tanh(softplus(x)) through tanh(ln(1 + t)) = n/(n + 2), n = t(t + 2), t = e^x: one exp,
/// no cancellation, exactly x above 20. With t = p·2^k the result is x·p·(t + 2)/(n + 2)
/// scaled by 2^k last, so it keeps full precision where t is subnormal but x·t is not.
#[inline(always)]
fn mish(x: f32, m: Madd) -> f32 {
    let xc = clamp_finite(x, EXP_PARTS_LO, SILU_MISH_IS_X_ABOVE);
    let (p, k) = exp_parts(xc, m);
    let t = scale_by_pow2(p, k);
    let n = t * (t + 2.0);
    let y = pick(x > SILU_MISH_IS_X_ABOVE, x, scale_by_pow2(xc * p * (t + 2.0) / (n + 2.0), k));
    pick(x.is_nan(), x, y)
}

/// 2u of the tanh-form GELU in f64.
fn gelu_two_u(x: f64) -> f64 {
    2.0 * 0.797_884_560_8 * (x + 0.044_715 * x * x * x)
}

/// MAP_RELU: max(0, x).
pub(crate) static MAP_RELU: UnaryMap = UnaryMap {
    id: "MAP_RELU",
    flops: 1.0,
    cpu: |x, _| map_unary(x, relu),
    gpu: shader("map/relu", "op_relu"),
    gpu_params: no_gpu_params,
    check: no_check,
    reference: |x, _| if x.is_nan() { x } else { x.max(0.0) },
    tolerance: |_, _, _| FLUSH_TOLERANCE,
    tolerance_text: "exact, except that subnormal inputs may come back as 0 on GPUs that flush \
                     subnormals",
};

/// MAP_LEAKY_RELU: x for x > 0, alpha·x otherwise.
pub(crate) static MAP_LEAKY_RELU: UnaryMap = UnaryMap {
    id: "MAP_LEAKY_RELU",
    flops: 2.0,
    cpu: |x, p| {
        let a = p.f32("alpha");
        map_unary(x, move |v, _| leaky_relu(v, a))
    },
    gpu: shader("map/leaky_relu", "op_leaky_relu"),
    gpu_params: alpha,
    check: no_check,
    reference: |x, p| if x > 0.0 { x } else { p.f32("alpha") as f64 * x },
    tolerance: |_, r, _| f32::EPSILON as f64 / 2.0 * r.abs() + FLUSH_TOLERANCE,
    tolerance_text: "correctly rounded (half an ulp, relative 2^-24); subnormal results may be \
                     flushed to 0",
};

/// MAP_ELU: x for x > 0, alpha·(e^x − 1) otherwise.
pub(crate) static MAP_ELU: UnaryMap = UnaryMap {
    id: "MAP_ELU",
    flops: 24.0,
    cpu: |x, p| {
        let a = p.f32("alpha");
        map_unary(x, move |v, m| elu(v, a, m))
    },
    gpu: shader("map/elu", "op_elu"),
    gpu_params: alpha,
    check: no_check,
    reference: |x, p| if x > 0.0 { x } else { p.f32("alpha") as f64 * x.exp_m1() },
    tolerance: relative_1e5,
    tolerance_text: "relative 1e-5 (about 1 ulp in practice: e^x - 1 is evaluated without \
                     cancellation near 0)",
};

/// MAP_GELU: 0.5·x·(1 + tanh(sqrt(2/π)(x + 0.044715x³))), the tanh form.
pub(crate) static MAP_GELU: UnaryMap = UnaryMap {
    id: "MAP_GELU",
    flops: 26.0,
    cpu: |x, _| map_unary(x, gelu),
    gpu: shader("map/gelu", "op_gelu"),
    gpu_params: no_gpu_params,
    check: no_check,
    reference: |x, _| {
        // x·sigmoid(2u), the exact identity, so the f64 reference does not cancel either.
        if x.is_nan() || x == f64::INFINITY {
            x
        } else if x == f64::NEG_INFINITY {
            -0.0
        } else {
            x / (1.0 + (-gelu_two_u(x)).exp())
        }
    },
    tolerance: |x, r, _| {
        // Rounding the exponent 2u to f32 (a few ulp) changes sigmoid(2u) by the relative
        // amount |2u|·(1 − sigmoid(2u))·error: the function's own condition number, which
        // passes 1e-5 below x = −7.5 however exp itself is evaluated.
        if !x.is_finite() {
            return FLUSH_TOLERANCE;
        }
        let two_u = gelu_two_u(x);
        let sensitivity = two_u.abs() / (1.0 + two_u.exp());
        let exponent_rounding = 4.0 * f32::EPSILON as f64 / 2.0;
        (1e-5 + exponent_rounding * sensitivity) * r.abs() + FLUSH_TOLERANCE
    },
    tolerance_text: "relative 1e-5 + 2^-22*|2u|*(1-sigmoid(2u)), u = sqrt(2/pi)(x + 0.044715x^3): \
                     the second term is the function's condition number times 4 ulp of f32 \
                     rounding in 2u and exceeds the first only for x < -7.5, where \
                     |result| < 1e-17; -inf gives -0",
};

/// MAP_SILU: x·sigmoid(x).
pub(crate) static MAP_SILU: UnaryMap = UnaryMap {
    id: "MAP_SILU",
    flops: 20.0,
    cpu: |x, _| map_unary(x, silu),
    gpu: shader("map/silu", "op_silu"),
    gpu_params: no_gpu_params,
    check: no_check,
    reference: |x, _| if x == f64::NEG_INFINITY { -0.0 } else { x / (1.0 + (-x).exp()) },
    tolerance: relative_1e5,
    tolerance_text: "relative 1e-5 (about 3 ulp in practice); -inf gives -0",
};

/// MAP_MISH: x·tanh(softplus(x)); exactly x for x > 20.
pub(crate) static MAP_MISH: UnaryMap = UnaryMap {
    id: "MAP_MISH",
    flops: 20.0,
    cpu: |x, _| map_unary(x, mish),
    gpu: shader("map/mish", "op_mish"),
    gpu_params: no_gpu_params,
    check: no_check,
    reference: |x, _| {
        if x.is_nan() || x > 20.0 {
            x
        } else if x == f64::NEG_INFINITY {
            -0.0
        } else {
            let softplus = x.max(0.0) + (-x.abs()).exp().ln_1p();
            x * softplus.tanh()
        }
    },
    tolerance: relative_1e5,
    tolerance_text: "relative 1e-5 (about 4 ulp in practice); exactly x for x > 20; -inf gives -0",
};
