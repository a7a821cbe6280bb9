// Radix sort, windowed path: moves keys (and payload) of one input window to the
// destinations the ranking step wrote, keeping only those that fall into the bound output
// window. Used when the data exceeds the largest storage binding: the host runs it once
// per (input window, output window) pair.

const PAYLOAD_NONE: u32 = 0u;
const PAYLOAD_BUFFER: u32 = 1u;
const PAYLOAD_GLOBAL_INDEX: u32 = 2u;

struct Params {
    len: u32,          // keys in this input window
    out_start: u32,    // first global position the output window holds
    out_len: u32,      // positions in the output window
    key_in: u32,
    key_out: u32,
    payload_mode: u32,
    window_start: u32, // global index of the input window's first key
    _p0: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> keys_in: array<u32>;
@group(0) @binding(2) var<storage, read> payload_in: array<u32>;
@group(0) @binding(3) var<storage, read> destinations: array<u32>;
@group(0) @binding(4) var<storage, read_write> keys_out: array<u32>;
@group(0) @binding(5) var<storage, read_write> payload_out: array<u32>;

@compute @workgroup_size(256)
fn scatter(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>
) {
    let i = linear_workgroup(wid, nwg) * 256u + lid;
    if (i >= params.len) {
        return;
    }
    let g = destinations[i];
    if (g < params.out_start || g - params.out_start >= params.out_len) {
        return;
    }
    let o = g - params.out_start;
    keys_out[o] = from_key(to_key(keys_in[i], params.key_in), params.key_out);
    if (params.payload_mode == PAYLOAD_BUFFER) {
        payload_out[o] = payload_in[i];
    } else if (params.payload_mode == PAYLOAD_GLOBAL_INDEX) {
        payload_out[o] = params.window_start + i;
    }
}
