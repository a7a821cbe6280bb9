// Peak arithmetic probe: eight independent chains of vec4 fused multiply-adds per thread
// (enough independent work to hide FMA latency), 64 flops per thread per iteration. The
// result is stored so the compiler cannot drop the loop.
struct Params {
    iters: u32,
    _p0: u32,
    _p1: u32,
    _p2: u32,
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;

@compute @workgroup_size(256)
fn peak_fma(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * 256u + lid;
    let s = f32(i) * 1e-9;
    var a0 = vec4<f32>(s, s + 0.1, s + 0.2, s + 0.3);
    var a1 = a0 + 0.01;
    var a2 = a0 + 0.02;
    var a3 = a0 + 0.03;
    var a4 = a0 + 0.04;
    var a5 = a0 + 0.05;
    var a6 = a0 + 0.06;
    var a7 = a0 + 0.07;
    let m = vec4<f32>(0.9999999);
    let k = vec4<f32>(1e-7);
    for (var j = 0u; j < params.iters; j++) {
        a0 = fma(a0, m, k);
        a1 = fma(a1, m, k);
        a2 = fma(a2, m, k);
        a3 = fma(a3, m, k);
        a4 = fma(a4, m, k);
        a5 = fma(a5, m, k);
        a6 = fma(a6, m, k);
        a7 = fma(a7, m, k);
    }
    out[i] = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));
}
