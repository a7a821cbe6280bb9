// Radix sort, step 1 of a pass: the 256-bin digit histogram of every tile of one binding
// window, written as the tile's row (tile_hist[tile * 256 + digit], one coalesced 1 KiB write).

const KEYS_PER_THREAD: u32 = {{KEYS_PER_THREAD}}u;
const TILE: u32 = 256u * KEYS_PER_THREAD;

struct Params {
    len: u32,          // keys in this window
    shift: u32,        // digit position: 0, 8, 16 or 24
    tiles: u32,        // tiles over all windows
    tile_base: u32,    // global index of this window's first tile
    window_tiles: u32, // tiles in this window
    key_in: u32,       // KEY_* transform applied on load (first pass only)
    _p0: u32,
    _p1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> keys: array<u32>;
@group(0) @binding(2) var<storage, read_write> tile_hist: array<u32>;

var<workgroup> hist: array<atomic<u32>, 256>;

@compute @workgroup_size(256)
fn upsweep(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>
) {
    let tile = linear_workgroup(wid, nwg);
    if (tile >= params.window_tiles) {
        return;
    }
    atomicStore(&hist[lid], 0u);
    workgroupBarrier();
    let start = tile * TILE;
    let end = min(start + TILE, params.len);
    // Runs of one digit are added once: all-equal or few-distinct inputs would otherwise
    // serialise on a single shared-memory counter.
    var run_digit = 0u;
    var run_count = 0u;
    for (var i = start + lid; i < end; i = i + 256u) {
        let d = (to_key(keys[i], params.key_in) >> params.shift) & 0xffu;
        if (d == run_digit) {
            run_count = run_count + 1u;
        } else {
            if (run_count != 0u) {
                atomicAdd(&hist[run_digit], run_count);
            }
            run_digit = d;
            run_count = 1u;
        }
    }
    if (run_count != 0u) {
        atomicAdd(&hist[run_digit], run_count);
    }
    workgroupBarrier();
    tile_hist[(params.tile_base + tile) * 256u + lid] = atomicLoad(&hist[lid]);
}
