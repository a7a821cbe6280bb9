// Radix sort, step 2 of a pass: tile counts -> offsets, in two small dispatches that read and
// write only whole 1 KiB rows (the tile-major layout keeps step 1's writes and step 3's reads
// coalesced too). Nothing waits on another workgroup.
//
// Buffer layout (u32): tile rows [t * 256 + digit] for t < tiles, then chunk rows
// [256 * tiles + c * 256 + digit] for c < chunks, then the 256 digit totals. A chunk is
// CHUNK_TILES consecutive tiles.
//
// * scan_chunk: workgroup c, thread d: tile rows of chunk c -> exclusive offsets within the
//   chunk; the chunk's sum -> its chunk row (with one chunk: offset 0 and the digit totals,
//   and scan_chunks is skipped).
// * scan_chunks: one workgroup: chunk rows -> exclusive offsets over chunks; digit totals.
//
// Each thread walks its column in batches of 16 independent loads, so the serial running
// sum waits for one memory round trip per batch, not per element.

const CHUNK_TILES: u32 = 64u;
const BATCH: u32 = 16u;

struct Params {
    tiles: u32,
    chunks: u32,
    _p0: u32,
    _p1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> tile_hist: array<u32>;

// Exclusive running sum over rows first..last of column `digit` (row r at base + r * 256).
fn scan_column(base: u32, first: u32, last: u32, digit: u32) -> u32 {
    var run = 0u;
    for (var r = first; r < last; r = r + BATCH) {
        var v: array<u32, BATCH>;
        for (var q = 0u; q < BATCH; q = q + 1u) {
            v[q] = 0u;
            if (r + q < last) {
                v[q] = tile_hist[base + (r + q) * 256u + digit];
            }
        }
        for (var q = 0u; q < BATCH; q = q + 1u) {
            if (r + q < last) {
                tile_hist[base + (r + q) * 256u + digit] = run;
            }
            run = run + v[q];
        }
    }
    return run;
}

@compute @workgroup_size(256)
fn scan_chunk(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>
) {
    let chunk = linear_workgroup(wid, nwg);
    if (chunk >= params.chunks) {
        return;
    }
    let first = chunk * CHUNK_TILES;
    let last = min(first + CHUNK_TILES, params.tiles);
    let sum = scan_column(0u, first, last, lid);
    let chunk_rows = 256u * params.tiles;
    if (params.chunks == 1u) {
        tile_hist[chunk_rows + lid] = 0u;
        tile_hist[chunk_rows + 256u + lid] = sum;
    } else {
        tile_hist[chunk_rows + chunk * 256u + lid] = sum;
    }
}

@compute @workgroup_size(256)
fn scan_chunks(@builtin(local_invocation_index) lid: u32) {
    let chunk_rows = 256u * params.tiles;
    let total = scan_column(chunk_rows, 0u, params.chunks, lid);
    tile_hist[chunk_rows + params.chunks * 256u + lid] = total;
}
