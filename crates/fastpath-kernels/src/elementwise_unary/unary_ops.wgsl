// Ops of the elementwise_unary domain that math.wgsl does not already provide as a whole
// (exp4, log4, sigmoid4, tanh4, softplus4 and abs_bits4 are used as ops directly).

// min(max(x, lo), hi) with lo = params.p0, hi = params.p1 (the host checks lo <= hi); NaN
// propagates, where min/max of NaN would be undefined.
fn op_clamp(x: vec4<f32>) -> vec4<f32> {
    let y = min(max(x, vec4<f32>(params.p0)), vec4<f32>(params.p1));
    return select(y, x, fp_is_nan4(x));
}
