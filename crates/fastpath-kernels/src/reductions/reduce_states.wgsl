// State algebra of every reduction family: an identity and an associative, commutative
// combine. The reduction template picks one family by name ({{FAM}}); the others are
// compiled and dropped as dead code.

// ---- sum: f32 running sum (also square-sum, abs-sum, masked-sum, mean) ----
fn id_sum() -> f32 {
    return 0.0;
}
fn combine_sum(a: f32, b: f32) -> f32 {
    return a + b;
}

// ---- min / max: NaN wins (numpy propagates NaN) ----
fn id_min() -> f32 {
    return fp_inf();
}
fn combine_min(a: f32, b: f32) -> f32 {
    if (fp_is_nan(a)) {
        return a;
    }
    if (fp_is_nan(b)) {
        return b;
    }
    return select(a, b, b < a);
}
fn id_max() -> f32 {
    return -fp_inf();
}
fn combine_max(a: f32, b: f32) -> f32 {
    if (fp_is_nan(a)) {
        return a;
    }
    if (fp_is_nan(b)) {
        return b;
    }
    return select(a, b, b > a);
}

// ---- count: u32 ----
fn id_count() -> u32 {
    return 0u;
}
fn combine_count(a: u32, b: u32) -> u32 {
    return a + b;
}

// ---- Welford: (count, mean, M2), merged with Chan et al.'s formula ----
struct Welford {
    n: u32,
    mean: f32,
    m2: f32,
}
fn id_welford() -> Welford {
    return Welford(0u, 0.0, 0.0);
}
fn combine_welford(a: Welford, b: Welford) -> Welford {
    if (a.n == 0u) {
        return b;
    }
    if (b.n == 0u) {
        return a;
    }
    let n = a.n + b.n;
    let na = f32(a.n);
    let nb = f32(b.n);
    let nf = f32(n);
    let delta = b.mean - a.mean;
    let mean = a.mean + delta * (nb / nf);
    let m2 = a.m2 + b.m2 + delta * delta * (na * (nb / nf));
    return Welford(n, mean, m2);
}

// ---- arg-reductions: (value, index); NaN beats everything (first NaN wins), ties keep the
// smaller index, so the result does not depend on scheduling ----
const NO_INDEX: u32 = 0xffffffffu;
struct Arg {
    v: f32,
    i: u32,
}
fn id_argmax() -> Arg {
    return Arg(0.0, NO_INDEX);
}
fn id_argmin() -> Arg {
    return Arg(0.0, NO_INDEX);
}
fn first_of(a: Arg, b: Arg) -> Arg {
    if (a.i < b.i) {
        return a;
    }
    return b;
}
fn combine_arg(a: Arg, b: Arg, b_better: bool, a_better: bool) -> Arg {
    if (a.i == NO_INDEX) {
        return b;
    }
    if (b.i == NO_INDEX) {
        return a;
    }
    let an = fp_is_nan(a.v);
    let bn = fp_is_nan(b.v);
    if (an || bn) {
        if (an && bn) {
            return first_of(a, b);
        }
        if (an) {
            return a;
        }
        return b;
    }
    if (a_better) {
        return a;
    }
    if (b_better) {
        return b;
    }
    return first_of(a, b);
}
fn combine_argmax(a: Arg, b: Arg) -> Arg {
    return combine_arg(a, b, b.v > a.v, a.v > b.v);
}
fn combine_argmin(a: Arg, b: Arg) -> Arg {
    return combine_arg(a, b, b.v < a.v, a.v < b.v);
}

// ---- L2 norm: Blue's three accumulators (small, medium, big), scaled so no square
// overflows or underflows f32 (Anderson, "Safe scaling in the level 1 BLAS", 2017) ----
const L2_TSML: f32 = 0x1p-63f;
const L2_TBIG: f32 = 0x1p52f;
const L2_SSML: f32 = 0x1p75f;
const L2_SBIG: f32 = 0x1p-76f;
fn id_l2() -> vec3<f32> {
    return vec3<f32>(0.0);
}
fn combine_l2(a: vec3<f32>, b: vec3<f32>) -> vec3<f32> {
    return a + b;
}
fn l2_term(v: f32) -> vec3<f32> {
    let a = abs(v);
    if (a > L2_TBIG) {
        let s = v * L2_SBIG;
        return vec3<f32>(0.0, 0.0, s * s);
    }
    if (a < L2_TSML) {
        let s = v * L2_SSML;
        return vec3<f32>(s * s, 0.0, 0.0);
    }
    // NaN lands here (every comparison is false) and poisons the medium sum.
    return vec3<f32>(0.0, v * v, 0.0);
}
fn l2_finish(acc: vec3<f32>) -> f32 {
    let sml = acc.x;
    let med = acc.y;
    let big = acc.z;
    if (fp_is_nan(sml) || fp_is_nan(med) || fp_is_nan(big)) {
        return fp_nan();
    }
    if (big > 0.0) {
        var b = big;
        if (med > 0.0) {
            b = b + (med * L2_SBIG) * L2_SBIG;
        }
        return sqrt(b) / L2_SBIG;
    }
    if (sml > 0.0) {
        if (med > 0.0) {
            let ymed = sqrt(med);
            let ysml = sqrt(sml) / L2_SSML;
            let ymax = max(ymed, ysml);
            let ymin = min(ymed, ysml);
            let r = ymin / ymax;
            return ymax * sqrt(1.0 + r * r);
        }
        return sqrt(sml) / L2_SSML;
    }
    return sqrt(med);
}
