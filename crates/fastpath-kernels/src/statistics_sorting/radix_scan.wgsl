// Radix sort, step 2 of a pass: one workgroup per digit turns its row of tile counts into
// exclusive offsets (in place) and stores the digit's total after the rows
// (tile_hist[256 * tiles + digit]). Nothing waits on another workgroup.

struct Params {
    tiles: u32,
    _p0: u32,
    _p1: u32,
    _p2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> tile_hist: array<u32>;

@compute @workgroup_size(256)
fn scan_tiles(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>{{SG_PARAMS}}
) {
    let tid = thread_position(lid, {{SG_VEC}});
    let digit = wid.x;
    let row = digit * params.tiles;
    var carry = 0u;
    for (var chunk = 0u; chunk < params.tiles; chunk = chunk + 1024u) {
        // Four consecutive tiles per invocation.
        let first = chunk + tid * 4u;
        var v: array<u32, 4>;
        var sum = 0u;
        for (var q = 0u; q < 4u; q = q + 1u) {
            v[q] = 0u;
            if (first + q < params.tiles) {
                v[q] = tile_hist[row + first + q];
            }
            sum = sum + v[q];
        }
        let scan = wg_exclusive_scan(sum, tid);
        var run = carry + scan.x;
        for (var q = 0u; q < 4u; q = q + 1u) {
            if (first + q < params.tiles) {
                tile_hist[row + first + q] = run;
            }
            run = run + v[q];
        }
        carry = carry + scan.y;
    }
    if (tid == 0u) {
        tile_hist[256u * params.tiles + digit] = carry;
    }
}
