// Shared helpers for every fastpath shader.
//
// IEEE classification is done on the bit pattern: shader compilers may assume "no NaN/Inf"
// when optimising float comparisons (x != x can fold to false), but integer tests survive.

fn fp_is_nan(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

fn fp_is_inf(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u;
}

fn fp_is_nan4(v: vec4<f32>) -> vec4<bool> {
    return (bitcast<vec4<u32>>(v) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u);
}

// Special values come from private variables: a const-expression evaluating to NaN or
// infinity is a shader-creation error in WGSL.
var<private> FP_INF_BITS: u32 = 0x7f800000u;
var<private> FP_NAN_BITS: u32 = 0x7fc00000u;

fn fp_inf() -> f32 {
    return bitcast<f32>(FP_INF_BITS);
}

fn fp_nan() -> f32 {
    return bitcast<f32>(FP_NAN_BITS);
}

// Linear workgroup index of a grid spread over x and y (see split_workgroups on the host).
fn linear_workgroup(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.x + wid.y * nwg.x;
}
