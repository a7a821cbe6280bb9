// Ops of the elementwise_binary domain (vec4). IEEE arithmetic is left to the hardware;
// what the hardware or the shading language leaves undefined is handled here: divisors
// beyond 2^126, and comparisons with NaN (fast-math compilers may assume there is none, so
// NaN is recognised from its bits).

fn op_add(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
    return a + b;
}

fn op_mul(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
    return a * b;
}

// a / b. GPUs commonly divide as a * (1/b), and for |b| > 2^126 the reciprocal is subnormal
// (flushed to 0, so 1e38 / 3e38 would give 0). Scaling both operands by 1/4 there leaves the
// quotient unchanged and the reciprocal normal; |a| < 2^-124, where the scaling could round
// a, gives a quotient that underflows anyway.
fn op_div(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
    let huge_divisor = abs_bits4(b) > splat(8.5070592e37);
    let s = select(splat(1.0), splat(0.25), huge_divisor);
    return (a * s) / (b * s);
}

// a * b + c with one rounding, where the shading language guarantees fma is fused (MSL).
fn op_fma(a: vec4<f32>, b: vec4<f32>, c: vec4<f32>) -> vec4<f32> {
    return fma(a, b, c);
}

// Comparisons give a u32 mask; with a NaN on either side every one is false except ne.
fn unordered(a: vec4<f32>, b: vec4<f32>) -> vec4<bool> {
    return fp_is_nan4(a) | fp_is_nan4(b);
}

fn mask(hit: vec4<bool>) -> vec4<u32> {
    return select(vec4<u32>(0u), vec4<u32>(1u), hit);
}

fn op_gt(a: vec4<f32>, b: vec4<f32>) -> vec4<u32> {
    return mask((a > b) & !unordered(a, b));
}

fn op_ge(a: vec4<f32>, b: vec4<f32>) -> vec4<u32> {
    return mask((a >= b) & !unordered(a, b));
}

fn op_lt(a: vec4<f32>, b: vec4<f32>) -> vec4<u32> {
    return mask((a < b) & !unordered(a, b));
}

fn op_le(a: vec4<f32>, b: vec4<f32>) -> vec4<u32> {
    return mask((a <= b) & !unordered(a, b));
}

fn op_eq(a: vec4<f32>, b: vec4<f32>) -> vec4<u32> {
    return mask((a == b) & !unordered(a, b));
}

fn op_ne(a: vec4<f32>, b: vec4<f32>) -> vec4<u32> {
    return mask((a != b) | unordered(a, b));
}
