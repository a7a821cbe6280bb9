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

fn masked(j: u32) -> vec4<f32> {
    return select(vec4<f32>(0.0), x[j], lanes(j));
}

fn hsum(v: vec4<f32>) -> f32 {
    return (v.x + v.y) + (v.z + v.w);
}

// ---- accumulators: fold vec4 number j of the window into a state ----
fn acc_sum(s: f32, j: u32) -> f32 {
    return s + hsum(masked(j));
}
fn acc_square(s: f32, j: u32) -> f32 {
    let v = masked(j);
    return s + hsum(v * v);
}
fn acc_abs(s: f32, j: u32) -> f32 {
    return s + hsum(abs(masked(j)));
}
fn acc_masked(s: f32, j: u32) -> f32 {
    let keep = lanes(j) & (aux[j] != vec4<u32>(0u));
    return s + hsum(select(vec4<f32>(0.0), x[j], keep));
}
fn acc_min(s: f32, j: u32) -> f32 {
    let v = x[j];
    let ok = lanes(j);
    var r = s;
    for (var k = 0u; k < 4u; k = k + 1u) {
        if (ok[k]) {
            r = combine_min(r, v[k]);
        }
    }
    return r;
}
fn acc_max(s: f32, j: u32) -> f32 {
    let v = x[j];
    let ok = lanes(j);
    var r = s;
    for (var k = 0u; k < 4u; k = k + 1u) {
        if (ok[k]) {
            r = combine_max(r, v[k]);
        }
    }
    return r;
}
fn acc_count_gt(s: u32, j: u32) -> u32 {
    let v = x[j];
    let hit = lanes(j) & (v > vec4<f32>(params.f0)) & !fp_is_nan4(v);
    return s + dot(vec4<u32>(hit), vec4<u32>(1u));
}
// Welford over the (up to four) valid lanes of one vec4: exact local mean and M2 of the
// block, then one Chan merge; a division per four elements instead of per element.
fn acc_welford(s: Welford, j: u32) -> Welford {
    let ok = lanes(j);
    let v = x[j];
    let cnt = dot(vec4<u32>(ok), vec4<u32>(1u));
    if (cnt == 0u) {
        return s;
    }
    let vm = select(vec4<f32>(0.0), v, ok);
    let mean = hsum(vm) / f32(cnt);
    let d = select(vec4<f32>(0.0), v - vec4<f32>(mean), ok);
    return combine_welford(s, Welford(cnt, mean, hsum(d * d)));
}
fn acc_argmax(s: Arg, j: u32) -> Arg {
    let v = x[j];
    let ok = lanes(j);
    var r = s;
    for (var k = 0u; k < 4u; k = k + 1u) {
        if (ok[k]) {
            r = combine_argmax(r, Arg(v[k], params.base + j * 4u + k));
        }
    }
    return r;
}
fn acc_argmin(s: Arg, j: u32) -> Arg {
    let v = x[j];
    let ok = lanes(j);
    var r = s;
    for (var k = 0u; k < 4u; k = k + 1u) {
        if (ok[k]) {
            r = combine_argmin(r, Arg(v[k], params.base + j * 4u + k));
        }
    }
    return r;
}
fn acc_l2(s: vec3<f32>, j: u32) -> vec3<f32> {
    let v = x[j];
    let ok = lanes(j);
    var r = s;
    for (var k = 0u; k < 4u; k = k + 1u) {
        if (ok[k]) {
            r = r + l2_term(v[k]);
        }
    }
    return r;
}

@compute @workgroup_size(256)
fn stage1(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>{{SG_PARAMS}}
) {
    let groups = nwg.x;
    let vecs = (params.len + 3u) / 4u;
    var s = identity();
    var j = wid.x * 256u + lid;
    let stride = groups * 256u;
    while (j < vecs) {
        s = {{ACC}}(s, j);
        j = j + stride;
    }
    s = workgroup_reduce(s, lid{{SG_CALL}});
    if (lid == 0u) {
        partials[params.partial_offset + wid.x] = s;
    }
}
