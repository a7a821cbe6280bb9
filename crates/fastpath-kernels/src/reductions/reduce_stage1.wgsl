// Stage 1 of a two-stage reduction: every workgroup folds a grid-stride share of one window
// (read as vec4, the tail masked) into a state and writes one partial. The host picks the
// workgroup count so each thread reads at least a few vec4s.

struct Params {
    len: u32,            // elements in this window
    base: u32,           // global index of the window's first element
    partial_offset: u32, // first partial slot of this window
    total: u32,          // elements over all windows
    f0: f32,             // operator parameter (threshold)
    f1: f32,
    u0: u32,
    u1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> aux: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> partials: array<{{STATE}}>;

alias State = {{STATE}};

fn identity() -> State {
    return id_{{FAM}}();
}
fn combine(a: State, b: State) -> State {
    return combine_{{FAM}}(a, b);
}

var<workgroup> scratch: array<State, 256>;

fn lanes(j: u32) -> vec4<bool> {
    let i = j * 4u;
    return vec4<u32>(i, i + 1u, i + 2u, i + 3u) < vec4<u32>(params.len);
}

fn hsum(v: vec4<f32>) -> f32 {
    return (v.x + v.y) + (v.z + v.w);
}

// ---- accumulators: fold one loaded vec4 (number j of the window) into a state. `m` is the
// second input (the mask of masked sums, otherwise unused) and `ok` marks the lanes inside
// the window: all true except in the window's last vec4. ----
fn acc_sum(s: f32, v: vec4<f32>, m: vec4<u32>, ok: vec4<bool>, j: u32) -> f32 {
    return s + hsum(select(vec4<f32>(0.0), v, ok));
}
fn acc_square(s: f32, v: vec4<f32>, m: vec4<u32>, ok: vec4<bool>, j: u32) -> f32 {
    let w = select(vec4<f32>(0.0), v, ok);
    return s + hsum(w * w);
}
fn acc_abs(s: f32, v: vec4<f32>, m: vec4<u32>, ok: vec4<bool>, j: u32) -> f32 {
    return s + hsum(abs(select(vec4<f32>(0.0), v, ok)));
}
fn acc_masked(s: f32, v: vec4<f32>, m: vec4<u32>, ok: vec4<bool>, j: u32) -> f32 {
    // A select, not a multiply: x = NaN under mask 0 must not count.
    return s + hsum(select(vec4<f32>(0.0), v, ok & (m != vec4<u32>(0u))));
}
// min/max: NaN lanes are detected from their bits (min/max builtins may drop NaN operands);
// the other lanes fold with the builtins, padded with the identity.
fn acc_min(s: f32, v: vec4<f32>, m: vec4<u32>, ok: vec4<bool>, j: u32) -> f32 {
    if (any(fp_is_nan4(v) & ok)) {
        return fp_nan();
    }
    let w = select(vec4<f32>(fp_inf()), v, ok);
    return combine_min(s, min(min(w.x, w.y), min(w.z, w.w)));
}
fn acc_max(s: f32, v: vec4<f32>, m: vec4<u32>, ok: vec4<bool>, j: u32) -> f32 {
    if (any(fp_is_nan4(v) & ok)) {
        return fp_nan();
    }
    let w = select(vec4<f32>(-fp_inf()), v, ok);
    return combine_max(s, max(max(w.x, w.y), max(w.z, w.w)));
}
fn acc_count_gt(s: u32, v: vec4<f32>, m: vec4<u32>, ok: vec4<bool>, j: u32) -> u32 {
    let hit = ok & (v > vec4<f32>(params.f0)) & !fp_is_nan4(v);
    return s + dot(vec4<u32>(hit), vec4<u32>(1u));
}
// Welford over the (up to four) valid lanes of one vec4: exact local mean and M2 of the
// block, then one Chan merge; a division per four elements instead of per element.
fn acc_welford(s: Welford, v: vec4<f32>, m: vec4<u32>, ok: vec4<bool>, j: u32) -> Welford {
    let cnt = dot(vec4<u32>(ok), vec4<u32>(1u));
    let vm = select(vec4<f32>(0.0), v, ok);
    let mean = hsum(vm) / f32(cnt);
    let d = select(vec4<f32>(0.0), v - vec4<f32>(mean), ok);
    return combine_welford(s, Welford(cnt, mean, hsum(d * d)));
}
// arg-reductions: the best lane of the vec4 (first NaN, else the first extreme lane), then
// one combine.
fn best_lane(v: vec4<f32>, ok: vec4<bool>, want_max: bool) -> u32 {
    let nan = fp_is_nan4(v) & ok;
    if (any(nan)) {
        return select(select(select(3u, 2u, nan.z), 1u, nan.y), 0u, nan.x);
    }
    var w: vec4<f32>;
    var e: f32;
    if (want_max) {
        w = select(vec4<f32>(-fp_inf()), v, ok);
        e = max(max(w.x, w.y), max(w.z, w.w));
    } else {
        w = select(vec4<f32>(fp_inf()), v, ok);
        e = min(min(w.x, w.y), min(w.z, w.w));
    }
    let hit = ok & (w == vec4<f32>(e));
    return select(select(select(3u, 2u, hit.z), 1u, hit.y), 0u, hit.x);
}
fn acc_argmax(s: Arg, v: vec4<f32>, m: vec4<u32>, ok: vec4<bool>, j: u32) -> Arg {
    let k = best_lane(v, ok, true);
    return combine_argmax(s, Arg(v[k], params.base + j * 4u + k));
}
fn acc_argmin(s: Arg, v: vec4<f32>, m: vec4<u32>, ok: vec4<bool>, j: u32) -> Arg {
    let k = best_lane(v, ok, false);
    return combine_argmin(s, Arg(v[k], params.base + j * 4u + k));
}
// Blue's three scaled sums, lane-parallel: each lane lands in exactly one accumulator; NaN
// fails both comparisons and poisons the medium sum.
fn acc_l2(s: vec3<f32>, v: vec4<f32>, m: vec4<u32>, ok: vec4<bool>, j: u32) -> vec3<f32> {
    let w = select(vec4<f32>(0.0), v, ok);
    let a = abs(w);
    let big = a > vec4<f32>(L2_TBIG);
    let small = a < vec4<f32>(L2_TSML);
    let sb = w * L2_SBIG;
    let ss = w * L2_SSML;
    let zero = vec4<f32>(0.0);
    return s + vec3<f32>(
        hsum(select(zero, ss * ss, small)),
        hsum(select(w * w, zero, big | small)),
        hsum(select(zero, sb * sb, big))
    );
}

@compute @workgroup_size(256)
fn stage1(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>{{SG_PARAMS}}
) {
    let stride = nwg.x * 256u;
    let vecs = (params.len + 3u) / 4u;
    let full = params.len / 4u; // vec4s whose four lanes are all inside the window
    let all = vec4<bool>(true);
    var s = identity();
    var j = wid.x * 256u + lid;
    // Four independent loads per iteration, issued before any arithmetic: GPUs issue in order,
    // and one load in flight per thread leaves a large GPU's memory system half idle.
    while (j + 3u * stride < full) {
        let v0 = x[j];
        let v1 = x[j + stride];
        let v2 = x[j + 2u * stride];
        let v3 = x[j + 3u * stride];
        let m0 = {{AUX}}(j);
        let m1 = {{AUX}}(j + stride);
        let m2 = {{AUX}}(j + 2u * stride);
        let m3 = {{AUX}}(j + 3u * stride);
        s = {{ACC}}(s, v0, m0, all, j);
        s = {{ACC}}(s, v1, m1, all, j + stride);
        s = {{ACC}}(s, v2, m2, all, j + 2u * stride);
        s = {{ACC}}(s, v3, m3, all, j + 3u * stride);
        j = j + 4u * stride;
    }
    while (j < vecs) {
        s = {{ACC}}(s, x[j], {{AUX}}(j), lanes(j), j);
        j = j + stride;
    }
    s = workgroup_reduce(s, lid{{SG_CALL}});
    if (lid == 0u) {
        partials[params.partial_offset + wid.x] = s;
    }
}

// The second input, read only by accumulators that use it.
fn aux_mask(j: u32) -> vec4<u32> {
    return aux[j];
}
fn aux_none(j: u32) -> vec4<u32> {
    return vec4<u32>(0u);
}
