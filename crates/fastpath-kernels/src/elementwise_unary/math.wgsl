// vec4 f32 math for the map kernels: the algorithms of math.rs (Cephes-style range reduction
// and short polynomials, about 1-2 ulp), so the CPU tests of those algorithms carry over.
//
// Builtin exp/log/tanh are not used: their accuracy is loose (WGSL allows exp 3 + 2|x| ulp),
// their edges are undefined in SPIR-V and MSL (log of <= 0, tanh of large |x| can be NaN in
// GLSL.std.450), and Metal compiles with fast math by default, which lets the compiler assume
// there is no NaN or Inf. So every function computes a finite core on clamped inputs and then
// puts the IEEE specials in with select(): NaN is recognised from its bits, +-Inf come from
// fp_inf(), and no arithmetic ever sees a special value the compiler could reason about.
// Subnormal results may be flushed to zero on GPUs that flush (the tolerances allow that).

const EXP_HI: f32 = 88.72283;         // largest f32 whose exponential is finite
const EXP_LO: f32 = -104.0;           // e^x rounds to 0 below this
const EXP_PARTS_LO: f32 = -170.0;     // exp_parts4 and scale_pow2_4 hold down to here
const EXP_M1_LO: f32 = -30.0;         // expm1_core4 holds on [EXP_M1_LO, EXP_M1_HI]; e^x - 1
const EXP_M1_HI: f32 = 20.0;          // rounds to -1 below -30
const LOG2E: f32 = 1.44269504;
const LN2_HI: f32 = 0.693359375;      // n * LN2_HI is exact for |n| <= 150
const LN2_LO: f32 = -2.12194440e-4;
const SQRT2: f32 = 1.41421356;
const SOFTPLUS_IS_X_ABOVE: f32 = 15.0; // ln(1 + e^-x) is below half an ulp of x there

fn splat(v: f32) -> vec4<f32> {
    return vec4<f32>(v);
}

// -Inf from bits, like fp_inf() (negating an infinity is arithmetic on a special value).
fn fp_neg_inf() -> f32 {
    return bitcast<f32>(FP_INF_BITS | 0x80000000u);
}

// Clears the sign bit (exact for every input, NaN included).
fn abs_bits4(x: vec4<f32>) -> vec4<f32> {
    return bitcast<vec4<f32>>(bitcast<vec4<u32>>(x) & vec4<u32>(0x7fffffffu));
}

// Gives x the sign of s, bit by bit.
fn copysign4(x: vec4<f32>, s: vec4<f32>) -> vec4<f32> {
    let sign = bitcast<vec4<u32>>(s) & vec4<u32>(0x80000000u);
    return bitcast<vec4<f32>>((bitcast<vec4<u32>>(x) & vec4<u32>(0x7fffffffu)) | sign);
}

// Clamps into [lo, hi]; NaN (whose clamp is undefined) becomes lo so cores stay finite.
fn clamp_finite4(x: vec4<f32>, lo: f32, hi: f32) -> vec4<f32> {
    return select(clamp(x, splat(lo), splat(hi)), splat(lo), fp_is_nan4(x));
}

// v * 2^n for n in [-252, 128]. Two ldexp steps, each with an exponent in [-126, 64]: one
// step could leave ldexp's defined range, and multiplying by 2^n1 and 2^n2 could be
// reassociated under fast math into a factor 2^n that overflows or is flushed. When
// v * 2^n1 is normal the result is rounded once.
fn scale_pow2_4(v: vec4<f32>, n: vec4<i32>) -> vec4<f32> {
    let n1 = n >> vec4<u32>(1u);
    return ldexp(ldexp(v, n1), n - n1);
}

// e^x = p * 2^n with p = e^r in [0.7, 1.42], for finite x in [EXP_PARTS_LO, 89] (callers clamp):
// x = n ln2 + r, |r| <= ln2/2, e^r by a degree-6 polynomial. Callers that multiply e^x by
// other factors scale by 2^n last, so a normal product never passes through a subnormal
// e^x (which loses precision, or is flushed to 0 on many GPUs).
struct ExpParts {
    p: vec4<f32>,
    n: vec4<i32>,
}

fn exp_parts4(x: vec4<f32>) -> ExpParts {
    let n = round(x * LOG2E);
    let r = (x - n * LN2_HI) - n * LN2_LO;
    var p = 1.9875691500e-4 * r + 1.3981999507e-3;
    p = p * r + 8.3334519073e-3;
    p = p * r + 4.1665795894e-2;
    p = p * r + 1.6666665459e-1;
    p = p * r + 5.0000001201e-1;
    p = p * r * r + r + 1.0;
    return ExpParts(p, vec4<i32>(n));
}

// e^x for finite x in [EXP_LO, 89] (callers clamp).
fn exp_core4(x: vec4<f32>) -> vec4<f32> {
    let e = exp_parts4(x);
    return scale_pow2_4(e.p, e.n);
}

// e^x: +Inf above EXP_HI, 0 below EXP_LO, NaN propagates.
fn exp4(x: vec4<f32>) -> vec4<f32> {
    var y = exp_core4(clamp_finite4(x, EXP_LO, EXP_HI));
    y = select(y, splat(fp_inf()), x > splat(EXP_HI));
    return select(y, x, fp_is_nan4(x));
}

// e^x - 1 for finite x in [EXP_M1_LO, EXP_M1_HI] (callers clamp), without cancellation near
// 0: with x = n ln2 + r, e^x - 1 = 2^n (e^r - 1) + (2^n - 1), e^r - 1 from a polynomial and
// 2^n - 1 exact.
fn expm1_core4(x: vec4<f32>) -> vec4<f32> {
    let n = round(x * LOG2E);
    let r = (x - n * LN2_HI) - n * LN2_LO;
    var p = splat(1.0 / 40320.0);
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    let q = r * r * p + r;
    let scale = bitcast<vec4<f32>>(vec4<u32>(vec4<i32>(n) + 127) << vec4<u32>(23u));
    return scale * q + (scale - 1.0);
}

// ln x: ln(+-0) = -Inf, negative input (-Inf included) gives NaN, +Inf gives +Inf. The
// exponent and mantissa come from the bits; a subnormal is normalised by converting its
// mantissa to f32 (exact, and independent of whether the GPU flushes subnormal floats).
fn log4(x: vec4<f32>) -> vec4<f32> {
    let bits = bitcast<vec4<u32>>(x);
    let subnormal = (bits & vec4<u32>(0x7f800000u)) == vec4<u32>(0u);
    let mantissa_as_float = bitcast<vec4<u32>>(vec4<f32>(vec4<i32>(bits & vec4<u32>(0x007fffffu))));
    let norm = select(bits, mantissa_as_float, subnormal);
    let bias = select(splat(127.0), splat(127.0 + 149.0), subnormal);
    var e = vec4<f32>(vec4<i32>((norm >> vec4<u32>(23u)) & vec4<u32>(0xffu))) - bias;
    let m = bitcast<vec4<f32>>((norm & vec4<u32>(0x007fffffu)) | vec4<u32>(0x3f800000u));
    // Reduced argument in [sqrt(1/2) - 1, sqrt(2) - 1]; both forms are exact.
    let upper = m > splat(SQRT2);
    let f = select(m - 1.0, m * 0.5 - 1.0, upper);
    e = select(e, e + 1.0, upper);
    let z = f * f;
    var p = 7.0376836292e-2 * f - 1.1514610310e-1;
    p = p * f + 1.1676998740e-1;
    p = p * f - 1.2420140846e-1;
    p = p * f + 1.4249322787e-1;
    p = p * f - 1.6668057665e-1;
    p = p * f + 2.0000714765e-1;
    p = p * f - 2.4999993993e-1;
    p = p * f + 3.3333331174e-1;
    var y = p * f * z + e * LN2_LO - 0.5 * z;
    y = (f + y) + e * LN2_HI;
    let magnitude = bits & vec4<u32>(0x7fffffffu);
    let negative = (bits & vec4<u32>(0x80000000u)) != vec4<u32>(0u);
    y = select(y, splat(fp_inf()), bits == vec4<u32>(0x7f800000u));
    y = select(y, splat(fp_nan()), negative);
    y = select(y, splat(fp_neg_inf()), magnitude == vec4<u32>(0u));
    return select(y, x, fp_is_nan4(x));
}

// ln(1 + t) for t in [0, 1]: 2 atanh(s), s = t / (2 + t) <= 1/3, a series in s^2.
fn ln1p_unit4(t: vec4<f32>) -> vec4<f32> {
    let s = t / (2.0 + t);
    let w = s * s;
    var p = splat(1.0 / 13.0);
    p = p * w + 1.0 / 11.0;
    p = p * w + 1.0 / 9.0;
    p = p * w + 1.0 / 7.0;
    p = p * w + 1.0 / 5.0;
    p = p * w + 1.0 / 3.0;
    p = p * w;
    return 2.0 * s + 2.0 * s * p;
}

// tanh x = e / (e + 2) with e = e^(2|x|) - 1 and the sign of x: no cancellation anywhere;
// |x| >= 10 gives +-1 exactly. tanh(-0) = -0.
fn tanh4(x: vec4<f32>) -> vec4<f32> {
    let a = clamp_finite4(abs_bits4(x), 0.0, EXP_M1_HI / 2.0);
    let e = expm1_core4(2.0 * a);
    // tanh is odd: the sign always comes from x (this also keeps tanh(-0) = -0).
    let y = copysign4(e / (e + 2.0), x);
    return select(y, x, fp_is_nan4(x));
}

// 1 / (1 + e^-x) through t = e^-|x| <= 1: 1/(1+t) for x >= 0, t/(1+t) for x < 0.
fn sigmoid4(x: vec4<f32>) -> vec4<f32> {
    let t = exp_core4(-clamp_finite4(abs_bits4(x), 0.0, -EXP_LO));
    let y = select(t, splat(1.0), x >= splat(0.0)) / (1.0 + t);
    return select(y, x, fp_is_nan4(x));
}

// v * sigmoid(y) for finite v and y (SiLU, GELU): through t = e^-|y| like sigmoid4, with the
// 2^n of t applied last so a normal result never passes through a subnormal t.
fn times_sigmoid4(v: vec4<f32>, y: vec4<f32>) -> vec4<f32> {
    let e = exp_parts4(-clamp_finite4(abs_bits4(y), 0.0, -EXP_PARTS_LO));
    let t = scale_pow2_4(e.p, e.n);
    let q = v / (1.0 + t);
    return select(scale_pow2_4(q * e.p, e.n), q, y >= splat(0.0));
}

// ln(1 + e^x) as max(x, 0) + ln(1 + e^-|x|); x itself above SOFTPLUS_IS_X_ABOVE (so +Inf
// passes through without arithmetic), 0 for -Inf.
fn softplus4(x: vec4<f32>) -> vec4<f32> {
    let t = exp_core4(-clamp_finite4(abs_bits4(x), 0.0, -EXP_LO));
    let positive_part = clamp_finite4(x, 0.0, SOFTPLUS_IS_X_ABOVE);
    var y = positive_part + ln1p_unit4(t);
    y = select(y, x, x > splat(SOFTPLUS_IS_X_ABOVE));
    return select(y, x, fp_is_nan4(x));
}
