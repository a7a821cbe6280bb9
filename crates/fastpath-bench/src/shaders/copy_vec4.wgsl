// Copy bandwidth probe: dst = src, 16 bytes per load and store. Each workgroup copies a tile of
// 256 * PER_THREAD vec4s with consecutive threads on consecutive addresses (coalesced). The
// measured rate is the ceiling that memory-bound kernels are reported against.
struct Params {
    len4: u32,
    _p0: u32,
    _p1: u32,
    _p2: u32,
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<f32>>;

const PER_THREAD: u32 = {{PER_THREAD}}u;

@compute @workgroup_size(256)
fn copy_vec4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let base = (wid.x + wid.y * nwg.x) * (256u * PER_THREAD) + lid;
    for (var k = 0u; k < PER_THREAD; k++) {
        let i = base + k * 256u;
        if (i < params.len4) {
            dst[i] = src[i];
        }
    }
}
