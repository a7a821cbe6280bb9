// Fills a u32 buffer with one value (zeroing counters and look-back state inside the batch,
// without leaving the compute pass for a clear command).
struct Params {
    len: u32,
    value: u32,
    _p0: u32,
    _p1: u32,
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(256)
fn fill(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * 256u + lid;
    if (i < params.len) {
        out[i] = params.value;
    }
}
