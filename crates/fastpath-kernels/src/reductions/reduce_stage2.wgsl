// Stage 2: one workgroup folds every partial and writes the finished scalar(s).

struct Params {
    len: u32,   // number of partials
    total: u32, // elements reduced in stage 1
    ddof: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partials: array<{{STATE}}>;
@group(0) @binding(2) var<storage, read_write> out_f: array<f32>;
@group(0) @binding(3) var<storage, read_write> out_u: array<u32>;

alias State = {{STATE}};

fn identity() -> State {
    return id_{{FAM}}();
}
fn combine(a: State, b: State) -> State {
    return combine_{{FAM}}(a, b);
}

var<workgroup> scratch: array<State, 256>;

// ---- finishers: write the result of a family ----
fn fin_sum(s: f32) {
    out_f[0] = s;
}
fn fin_mean(s: f32) {
    // The division is applied once, to the final sum (contract of REDUCE_MEAN).
    out_f[0] = s / f32(params.total);
}
fn fin_minmax(s: f32) {
    out_f[0] = s;
}
fn fin_count(s: u32) {
    out_u[0] = s;
}
fn variance(s: Welford) -> f32 {
    return s.m2 / f32(s.n - params.ddof);
}
fn fin_var(s: Welford) {
    out_f[0] = variance(s);
}
fn fin_stddev(s: Welford) {
    let v = variance(s);
    // max() may drop a NaN operand on some GPUs: test it explicitly.
    out_f[0] = select(sqrt(max(v, 0.0)), v, fp_is_nan(v));
}
fn fin_arg(s: Arg) {
    out_f[0] = s.v;
    out_u[0] = s.i;
}
fn fin_l2(s: vec3<f32>) {
    out_f[0] = l2_finish(s);
}

@compute @workgroup_size(256)
fn stage2(@builtin(local_invocation_index) lid: u32{{SG_PARAMS}}) {
    var s = identity();
    for (var i = lid; i < params.len; i = i + 256u) {
        s = combine(s, partials[i]);
    }
    s = workgroup_reduce(s, lid{{SG_CALL}});
    if (lid == 0u) {
        {{FIN}}(s);
    }
}
