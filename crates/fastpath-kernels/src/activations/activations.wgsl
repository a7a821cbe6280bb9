// Ops of the activations domain (vec4, after math.wgsl). alpha is params.p0. Each op computes
// on clamped finite inputs, then restores x where the activation is x itself (large x, so
// +Inf passes through untouched) and NaN from the input's bits.

const GELU_SQRT_2_OVER_PI: f32 = 0.7978845608;
const GELU_CUBIC: f32 = 0.044715;
const GELU_IS_X_ABOVE: f32 = 10.0;   // sigmoid(2u) rounds to 1 there
const GELU_IS_ZERO_BELOW: f32 = -20.0; // x sigmoid(2u) rounds to 0 there
const SILU_MISH_IS_X_ABOVE: f32 = 20.0;

// max(0, x) with NaN propagated (max of NaN is undefined in WGSL).
fn op_relu(x: vec4<f32>) -> vec4<f32> {
    return select(max(x, splat(0.0)), x, fp_is_nan4(x));
}

// x for x > 0, alpha x otherwise.
fn op_leaky_relu(x: vec4<f32>) -> vec4<f32> {
    let y = select(params.p0 * x, x, x > splat(0.0));
    return select(y, x, fp_is_nan4(x));
}

// x for x > 0, alpha (e^x - 1) otherwise (expm1, so small negative x keeps its accuracy).
fn op_elu(x: vec4<f32>) -> vec4<f32> {
    let negative_part = params.p0 * expm1_core4(clamp_finite4(x, EXP_M1_LO, 0.0));
    let y = select(negative_part, x, x > splat(0.0));
    return select(y, x, fp_is_nan4(x));
}

// Tanh-form GELU as x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3): the identity
// 0.5 (1 + tanh u) = sigmoid(2u) avoids the cancellation of 1 + tanh u for negative x.
fn op_gelu(x: vec4<f32>) -> vec4<f32> {
    let xc = clamp_finite4(x, GELU_IS_ZERO_BELOW, GELU_IS_X_ABOVE);
    let two_u = (2.0 * GELU_SQRT_2_OVER_PI) * xc * (1.0 + GELU_CUBIC * xc * xc);
    let y = select(times_sigmoid4(xc, two_u), x, x > splat(GELU_IS_X_ABOVE));
    return select(y, x, fp_is_nan4(x));
}

// x sigmoid(x), with sigmoid through e^-|x| (no overflow); -Inf gives -0.
fn op_silu(x: vec4<f32>) -> vec4<f32> {
    let xc = clamp_finite4(x, EXP_PARTS_LO, SILU_MISH_IS_X_ABOVE);
    let y = select(times_sigmoid4(xc, xc), x, x > splat(SILU_MISH_IS_X_ABOVE));
    return select(y, x, fp_is_nan4(x));
}

// x tanh(softplus(x)) = x n / (n + 2) with n = t (t + 2), t = e^x: one exp and no
// cancellation; exactly x for x > 20, -0 for -Inf. With t = p 2^k the result is
// x p (t + 2) / (n + 2) scaled by 2^k last (full precision where t is subnormal).
fn op_mish(x: vec4<f32>) -> vec4<f32> {
    let xc = clamp_finite4(x, EXP_PARTS_LO, SILU_MISH_IS_X_ABOVE);
    let e = exp_parts4(xc);
    let t = scale_pow2_4(e.p, e.n);
    let n = t * (t + 2.0);
    let core = scale_pow2_4(xc * e.p * (t + 2.0) / (n + 2.0), e.n);
    let y = select(core, x, x > splat(SILU_MISH_IS_X_ABOVE));
    return select(y, x, fp_is_nan4(x));
}
