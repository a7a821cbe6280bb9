//! Vectorisable f32 math for the map kernels (CPU side; `math.wgsl` is the same algorithms
//! on `vec4`s for the GPU).
//!
//! Why not `f32::exp`/`ln`/`tanh`: those are scalar libm calls, so a loop over them cannot
//! vectorise. These are Cephes-style (range reduction + short polynomial, about 1–2 ulp) and
//! written without branches: every function computes a finite "core" on clamped inputs, then
//! puts the IEEE special results (±Inf, NaN, overflow, ±0) in with selects, so the compiler
//! turns a loop over them into SIMD code (compare + blend) and NaN/Inf never take a slow path.
//!
//! Polynomial steps go through [`Madd`]: one fused instruction in the loops compiled with FMA,
//! a multiply and an add in the baseline loop. The tolerances hold either way.
//!
//! Integer arithmetic on bit patterns uses wrapping operations: NaN inputs feed garbage
//! through the core (harmless, the result is replaced), and debug builds must not trap on it.

pub(crate) use crate::simd::Madd;

/// Largest f32 whose exponential is finite (e^x rounds to +Inf above it).
pub(crate) const EXP_HI: f32 = 88.722_83;
/// Below this e^x rounds to 0 even with gradual underflow (e^-103.97 = 2^-150).
pub(crate) const EXP_LO: f32 = -104.0;
/// [`exp_parts`] and [`scale_by_pow2`] hold down to here (2^n with n >= -252 still splits
/// into two normal factors): products like x·e^x, which must reach 0 for x far below
/// [`EXP_LO`], clamp x here rather than at EXP_LO.
pub(crate) const EXP_PARTS_LO: f32 = -170.0;

const LOG2E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split so that `n * LN2_HI` is exact for every |n| <= 252 (Cody–Waite reduction).
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// Adding 1.5·2^23 rounds an f32 of magnitude < 2^22 to an integer (ties to even) without a
/// `round` instruction, which baseline x86-64 (SSE2) lacks.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// `a` where `keep_a`, else `b`: a plain select the vectoriser turns into a blend.
#[inline(always)]
pub(crate) fn pick(keep_a: bool, a: f32, b: f32) -> f32 {
    if keep_a { a } else { b }
}

/// Clamps into [lo, hi]; NaN becomes `lo` so the cores only ever see finite numbers.
#[inline(always)]
pub(crate) fn clamp_finite(x: f32, lo: f32, hi: f32) -> f32 {
    let y = pick(x > hi, hi, x);
    pick(y >= lo, y, lo)
}

/// v·2^n for n in [-252, 128], as v·2^n1·2^n2 with two normal factors (a single factor 2^n
/// would need exponents outside the normal range). When v·2^n1 is normal the result is
/// rounded once: gradual underflow into the subnormal range, or overflow to +Inf, exactly as
/// IEEE says.
#[inline(always)]
pub(crate) fn scale_by_pow2(v: f32, n: i32) -> f32 {
    let n1 = n >> 1;
    let n2 = n.wrapping_sub(n1);
    let s1 = f32::from_bits((n1.wrapping_add(127) as u32) << 23);
    let s2 = f32::from_bits((n2.wrapping_add(127) as u32) << 23);
    v * s1 * s2
}

/// e^x = p·2^n with p = e^r in [0.7, 1.42], for finite x in [EXP_PARTS_LO, 89] (callers
/// clamp). Cephes `expf`: x = n·ln2 + r with |r| <= ln2/2, e^r by a degree-6 polynomial,
/// relative error below 2 ulp. Callers that multiply e^x by other factors scale by 2^n last
/// (see [`scale_by_pow2`]), so a normal product never passes through a subnormal e^x and
/// loses precision (or is flushed to 0 on a GPU).
#[inline(always)]
pub(crate) fn exp_parts(x: f32, m: Madd) -> (f32, i32) {
    let t = m.madd(x, LOG2E, ROUND_MAGIC);
    let n = t - ROUND_MAGIC;
    let ni = (t.to_bits() as i32).wrapping_sub(ROUND_MAGIC.to_bits() as i32);
    let r = m.madd(-n, LN2_LO, m.madd(-n, LN2_HI, x));
    let p = 1.987_569_1e-4;
    let p = m.madd(p, r, 1.398_199_9e-3);
    let p = m.madd(p, r, 8.333_452e-3);
    let p = m.madd(p, r, 4.166_579_6e-2);
    let p = m.madd(p, r, 0.166_666_65);
    let p = m.madd(p, r, 0.5);
    let p = m.madd(p, r * r, r) + 1.0;
    (p, ni)
}

/// e^x for finite x in [EXP_LO, 89]; callers clamp.
#[inline(always)]
pub(crate) fn exp_core(x: f32, m: Madd) -> f32 {
    let (p, n) = exp_parts(x, m);
    scale_by_pow2(p, n)
}

/// e^x: +Inf above [`EXP_HI`], 0 for very negative x (subnormal results kept on the CPU),
/// NaN propagates.
#[inline(always)]
pub(crate) fn exp(x: f32, m: Madd) -> f32 {
    let y = exp_core(clamp_finite(x, EXP_LO, EXP_HI), m);
    let y = pick(x > EXP_HI, f32::INFINITY, y);
    pick(x.is_nan(), x, y)
}

/// Where [`exp_m1_core`] holds: e^x − 1 rounds to −1 below −30 (and to e^x above 20, where
/// exp is the better tool).
pub(crate) const EXP_M1_LO: f32 = -30.0;
pub(crate) const EXP_M1_HI: f32 = 20.0;

/// e^x − 1 for finite x in [EXP_M1_LO, EXP_M1_HI] (callers clamp), without cancellation near
/// 0: with x = n·ln2 + r, e^x − 1 = 2^n·(e^r − 1) + (2^n − 1), where e^r − 1 comes from a
/// polynomial (|r| <= ln2/2, terms to r^8, truncation below 1e-9 relative) and 2^n − 1 is
/// exact. One formula for the whole range: no second branch to evaluate and select.
#[inline(always)]
pub(crate) fn exp_m1_core(x: f32, m: Madd) -> f32 {
    let t = m.madd(x, LOG2E, ROUND_MAGIC);
    let n = t - ROUND_MAGIC;
    let ni = (t.to_bits() as i32).wrapping_sub(ROUND_MAGIC.to_bits() as i32);
    let r = m.madd(-n, LN2_LO, m.madd(-n, LN2_HI, x));
    let p = 1.0 / 40_320.0;
    let p = m.madd(p, r, 1.0 / 5_040.0);
    let p = m.madd(p, r, 1.0 / 720.0);
    let p = m.madd(p, r, 1.0 / 120.0);
    let p = m.madd(p, r, 1.0 / 24.0);
    let p = m.madd(p, r, 1.0 / 6.0);
    let p = m.madd(p, r, 0.5);
    let q = m.madd(r * r, p, r); // e^r − 1
    let scale = f32::from_bits((ni.wrapping_add(127) as u32) << 23);
    m.madd(scale, q, scale - 1.0)
}

/// ln x (Cephes `logf`, about 1 ulp): ln(0) = −Inf, negative input (−Inf included) gives
/// NaN, +Inf gives +Inf. Subnormal inputs are normalised with an integer-to-float conversion
/// of the mantissa, which is exact and does not depend on the FPU's denormal mode.
#[inline(always)]
pub(crate) fn ln(x: f32, m: Madd) -> f32 {
    let bits = x.to_bits();
    let subnormal = bits & 0x7f80_0000 == 0;
    // A subnormal is mantissa·2^-149; converting the mantissa to f32 yields its exponent.
    let norm = if subnormal { ((bits & 0x007f_ffff) as i32 as f32).to_bits() } else { bits };
    let bias = pick(subnormal, 127.0 + 149.0, 127.0);
    let e = ((norm >> 23) & 0xff) as i32 as f32 - bias;
    let mantissa = f32::from_bits((norm & 0x007f_ffff) | 0x3f80_0000); // in [1, 2)
    // Keep the reduced argument in [sqrt(1/2) − 1, sqrt(2) − 1]; both forms are exact.
    let upper = mantissa > std::f32::consts::SQRT_2;
    let f = pick(upper, mantissa * 0.5 - 1.0, mantissa - 1.0);
    let e = pick(upper, e + 1.0, e);
    let z = f * f;
    let p = 7.037_683_6e-2;
    let p = m.madd(p, f, -1.151_461e-1);
    let p = m.madd(p, f, 1.167_699_9e-1);
    let p = m.madd(p, f, -1.242_014_1e-1);
    let p = m.madd(p, f, 1.424_932_3e-1);
    let p = m.madd(p, f, -1.666_805_8e-1);
    let p = m.madd(p, f, 2.000_071_4e-1);
    let p = m.madd(p, f, -2.499_999_4e-1);
    let p = m.madd(p, f, 3.333_333e-1);
    let y = m.madd(p * f, z, e * LN2_LO);
    let y = m.madd(-0.5, z, y);
    let y = m.madd(e, LN2_HI, f + y);
    let y = pick(x == f32::INFINITY, f32::INFINITY, y);
    let y = pick(x < 0.0, f32::NAN, y);
    let y = pick(x == 0.0, f32::NEG_INFINITY, y);
    pick(x.is_nan(), x, y)
}

/// ln(1 + t) for t in [0, 1] (what softplus needs after e^-|x|): 2·atanh(s) with
/// s = t / (2 + t) <= 1/3, a series in s² with no cancellation; truncation error 2e-8
/// relative. Exact 0 for t = 0, so tiny t keeps full relative accuracy.
#[inline(always)]
pub(crate) fn ln_1p_unit(t: f32, m: Madd) -> f32 {
    let s = t / (2.0 + t);
    let w = s * s;
    let p = 1.0 / 13.0;
    let p = m.madd(p, w, 1.0 / 11.0);
    let p = m.madd(p, w, 1.0 / 9.0);
    let p = m.madd(p, w, 1.0 / 7.0);
    let p = m.madd(p, w, 1.0 / 5.0);
    let p = m.madd(p, w, 1.0 / 3.0);
    let two_s = 2.0 * s;
    m.madd(two_s, p * w, two_s)
}

/// tanh x = (e^{2|x|} − 1)/(e^{2|x|} + 1) with the sign of x, written as e/(e + 2) with
/// e = e^{2|x|} − 1 from [`exp_m1_core`]: no cancellation anywhere (small x included), one
/// exp-like evaluation and one division; |x| >= 10 rounds to ±1 exactly. Never evaluates a
/// builtin tanh (GLSL's may return NaN for large inputs). tanh(−0) = −0.
#[inline(always)]
pub(crate) fn tanh(x: f32, m: Madd) -> f32 {
    let a = clamp_finite(x.abs(), 0.0, EXP_M1_HI / 2.0);
    let e = exp_m1_core(2.0 * a, m);
    // tanh is odd: the sign always comes from x (this also keeps tanh(-0) = -0).
    let y = (e / (e + 2.0)).copysign(x);
    pick(x.is_nan(), x, y)
}

/// 1 / (1 + e^-x) evaluated through t = e^-|x| <= 1, so nothing overflows and negative x keeps
/// full relative accuracy: 1/(1+t) for x >= 0, t/(1+t) for x < 0.
#[inline(always)]
pub(crate) fn sigmoid(x: f32, m: Madd) -> f32 {
    let t = exp_core(-clamp_finite(x.abs(), 0.0, -EXP_LO), m);
    let y = pick(x >= 0.0, 1.0, t) / (1.0 + t);
    pick(x.is_nan(), x, y)
}

/// v·sigmoid(y) for finite v and y (SiLU, GELU): like [`sigmoid`], through t = e^-|y|, but
/// with the 2^n of t applied last, so a normal result never passes through a subnormal t
/// (SiLU near x = −90 and GELU near x = −10 would lose precision, or flush to 0 on a GPU).
#[inline(always)]
pub(crate) fn times_sigmoid(v: f32, y: f32, m: Madd) -> f32 {
    let (p, n) = exp_parts(-clamp_finite(y.abs(), 0.0, -EXP_PARTS_LO), m);
    let t = scale_by_pow2(p, n);
    let q = v / (1.0 + t);
    pick(y >= 0.0, q, scale_by_pow2(q * p, n))
}

/// Above this softplus(x) = x in f32: ln(1 + e^-x) < 4e-7 is below half an ulp of x.
pub(crate) const SOFTPLUS_IS_X_ABOVE: f32 = 15.0;

/// ln(1 + e^x) in the overflow-free form max(x, 0) + ln(1 + e^-|x|). +Inf gives +Inf, −Inf
/// gives 0.
#[inline(always)]
pub(crate) fn softplus(x: f32, m: Madd) -> f32 {
    let t = exp_core(-clamp_finite(x.abs(), 0.0, -EXP_LO), m);
    let y = pick(x > 0.0, x, 0.0) + ln_1p_unit(t, m);
    let y = pick(x > SOFTPLUS_IS_X_ABOVE, x, y);
    pick(x.is_nan(), x, y)
}

#[cfg(test)]
mod tests {
    //! Accuracy of the building blocks against f64 over dense sweeps, in ulps of the f32
    //! result, with fused and with separate multiply-adds (kernel tests check the contracts;
    //! these pin down the approximations).
    use super::*;

    const BOTH: [Madd; 2] = [Madd::FUSED, Madd::SEPARATE];

    fn ulps(got: f32, want: f64) -> f64 {
        if want == 0.0 {
            return if got == 0.0 { 0.0 } else { f64::INFINITY };
        }
        let ulp = (want.abs() as f32).max(f32::MIN_POSITIVE);
        let ulp = f32::from_bits(ulp.to_bits() + 1) as f64 - ulp as f64;
        (got as f64 - want).abs() / ulp
    }

    fn worst(f: impl Fn(f32) -> f32, reference: fn(f64) -> f64, lo: f32, hi: f32) -> f64 {
        let steps = 100_000;
        (0..=steps)
            .map(|i| lo + (hi - lo) * i as f32 / steps as f32)
            .map(|x| {
                let want = reference(x as f64);
                // Subnormal results carry absolute, not relative, accuracy.
                if want.abs() < f32::MIN_POSITIVE as f64 { 0.0 } else { ulps(f(x), want) }
            })
            .fold(0.0, f64::max)
    }

    #[test]
    fn polynomials_stay_within_a_few_ulps() {
        let softplus64 = |x: f64| x.max(0.0) + (-x.abs()).exp().ln_1p();
        for m in BOTH {
            assert!(worst(|x| exp(x, m), f64::exp, -103.0, 88.7) <= 2.0);
            assert!(worst(|x| exp_m1_core(x, m), f64::exp_m1, EXP_M1_LO, EXP_M1_HI) <= 2.0);
            assert!(worst(|x| exp_m1_core(x, m), f64::exp_m1, -1e-3, 1e-3) <= 2.0);
            assert!(worst(|x| ln(x, m), f64::ln, 1e-6, 1e6) <= 2.0);
            assert!(worst(|x| ln(x, m), f64::ln, 0.5, 2.0) <= 2.0);
            assert!(worst(|x| tanh(x, m), f64::tanh, -12.0, 12.0) <= 3.0);
            assert!(worst(|x| tanh(x, m), f64::tanh, -1e-3, 1e-3) <= 2.0);
            assert!(worst(|x| sigmoid(x, m), |x| 1.0 / (1.0 + (-x).exp()), -80.0, 40.0) <= 4.0);
            assert!(worst(|t| ln_1p_unit(t, m), f64::ln_1p, 0.0, 1.0) <= 3.0);
            assert!(worst(|x| softplus(x, m), softplus64, -80.0, 40.0) <= 4.0);
        }
    }

    #[test]
    fn specials_and_range_edges() {
        let inf = f32::INFINITY;
        for m in BOTH {
            assert_eq!(exp(inf, m), inf);
            assert_eq!(exp(-inf, m), 0.0);
            assert_eq!(exp(89.0, m), inf);
            assert!(exp(EXP_HI, m).is_finite());
            assert_eq!(exp(f32::from_bits(EXP_HI.to_bits() + 1), m), inf);
            assert!(exp(-100.0, m) > 0.0, "gradual underflow keeps e^-100 as a subnormal");
            assert!(exp(f32::NAN, m).is_nan());
            assert_eq!(ln(0.0, m), -inf);
            assert_eq!(ln(-0.0, m), -inf);
            assert!(ln(-1.0, m).is_nan() && ln(-inf, m).is_nan() && ln(f32::NAN, m).is_nan());
            assert_eq!(ln(inf, m), inf);
            assert_eq!(ln(1.0, m), 0.0);
            let smallest = f32::from_bits(1);
            assert!((ln(smallest, m) as f64 - (smallest as f64).ln()).abs() < 1e-5);
            assert_eq!(tanh(inf, m), 1.0);
            assert_eq!(tanh(-inf, m), -1.0);
            assert_eq!(tanh(-0.0, m).to_bits(), (-0.0f32).to_bits());
            assert_eq!(tanh(10.0, m), 1.0);
            assert_eq!(sigmoid(inf, m), 1.0);
            assert_eq!(sigmoid(-inf, m), 0.0);
            assert_eq!(softplus(inf, m), inf);
            assert_eq!(softplus(-inf, m), 0.0);
            assert_eq!(softplus(1e30, m), 1e30);
            assert_eq!(exp_m1_core(EXP_M1_LO, m), -1.0);
            assert_eq!(exp_m1_core(0.0, m), 0.0);
            assert_eq!(ln_1p_unit(0.0, m), 0.0);
        }
    }
}
