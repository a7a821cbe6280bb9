// TOPK_SELECT after radix select has found the threshold key T (the k-th smallest rank key)
// and NEED, how many keys equal to T are among the k winners: an order-preserving
// compaction of the winners — every key below T, and the first NEED keys equal to T in
// index order (ties go to smaller indices) — as (rank key, index) pairs in index order.
//
// Reduce-then-scan over tiles of 4096 elements (256 invocations x 16 consecutive
// elements): count_winners counts both kinds per tile, scan_counts turns the counts into
// offsets (one workgroup), scatter_winners recounts, scans inside the tile and writes. A
// winner's position is (keys < T before it) + min(keys == T before it, NEED).

const TILE: u32 = 4096u;
const PER_THREAD: u32 = 16u;
const THRESHOLD: u32 = 2052u; // select.wgsl's state layout
const NEED: u32 = 2053u;

struct Params {
    len: u32,          // elements in this window
    tile_base: u32,    // global index of the window's first tile
    window_start: u32, // global index of the window's first element
    window_tiles: u32, // tiles in this window
    tiles: u32,        // tiles over all windows
    out_start: u32,    // first winner position the output window holds
    out_len: u32,      // positions in the output window
    key_mode: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> state: array<u32>;
@group(0) @binding(3) var<storage, read_write> tile_counts: array<u32>;
@group(0) @binding(4) var<storage, read_write> out_keys: array<u32>;
@group(0) @binding(5) var<storage, read_write> out_index: array<u32>;

// The 16 keys of this thread (index order); keys past the window are 0xffffffff and never
// counted (they are beyond `len`).
fn load_keys(tile: u32, tid: u32) -> array<u32, PER_THREAD> {
    var keys: array<u32, PER_THREAD>;
    let first_vec = tile * (TILE / 4u) + tid * (PER_THREAD / 4u);
    let vecs = (params.len + 3u) / 4u;
    for (var q = 0u; q < PER_THREAD / 4u; q = q + 1u) {
        var v = vec4<u32>(0u);
        if (first_vec + q < vecs) {
            v = x[first_vec + q];
        }
        for (var c = 0u; c < 4u; c = c + 1u) {
            keys[q * 4u + c] = to_key(v[c], params.key_mode);
        }
    }
    return keys;
}

fn element_index(tile: u32, tid: u32, m: u32) -> u32 {
    return tile * TILE + tid * PER_THREAD + m;
}

// Keys below T in the low half, keys equal to T in the high half (each at most 16).
fn count_thread(keys: array<u32, PER_THREAD>, tile: u32, tid: u32, threshold: u32) -> u32 {
    var packed = 0u;
    for (var m = 0u; m < PER_THREAD; m = m + 1u) {
        if (element_index(tile, tid, m) < params.len) {
            packed = packed + select(0u, 1u, keys[m] < threshold) + select(0u, 0x10000u, keys[m] == threshold);
        }
    }
    return packed;
}

@compute @workgroup_size(256)
fn count_winners(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>{{SG_PARAMS}}
) {
    let tid = thread_position(lid, {{SG_VEC}});
    let tile = linear_workgroup(wid, nwg);
    if (tile >= params.window_tiles) {
        return;
    }
    let keys = load_keys(tile, tid);
    let scan = wg_exclusive_scan(count_thread(keys, tile, tid, state[THRESHOLD]), tid);
    if (tid == 0u) {
        // A tile holds at most 4096 elements: the packed halves cannot overflow.
        let g = params.tile_base + tile;
        tile_counts[2u * g] = scan.y & 0xffffu;
        tile_counts[2u * g + 1u] = scan.y >> 16u;
    }
}

// One workgroup; thread t owns a contiguous span of tiles (in index order), read in batches
// of 16 independent loads, so the whole scan costs a few memory round trips rather than one
// per 1024 tiles.
const BATCH: u32 = 16u;

fn load_pair(tile: u32, end: u32) -> vec2<u32> {
    if (tile < end) {
        return vec2<u32>(tile_counts[2u * tile], tile_counts[2u * tile + 1u]);
    }
    return vec2<u32>(0u);
}

@compute @workgroup_size(256)
fn scan_counts(
    @builtin(local_invocation_index) lid: u32{{SG_PARAMS}}
) {
    let tid = thread_position(lid, {{SG_VEC}});
    let span = (params.tiles + 255u) / 256u;
    let first = min(tid * span, params.tiles);
    let end = min(first + span, params.tiles);
    var sum = vec2<u32>(0u);
    for (var t = first; t < end; t = t + BATCH) {
        var v: array<vec2<u32>, BATCH>;
        for (var q = 0u; q < BATCH; q = q + 1u) {
            v[q] = load_pair(t + q, end);
        }
        for (var q = 0u; q < BATCH; q = q + 1u) {
            sum = sum + v[q];
        }
    }
    let scan_below = wg_exclusive_scan(sum.x, tid);
    let scan_equal = wg_exclusive_scan(sum.y, tid);
    var run = vec2<u32>(scan_below.x, scan_equal.x);
    for (var t = first; t < end; t = t + BATCH) {
        var v: array<vec2<u32>, BATCH>;
        for (var q = 0u; q < BATCH; q = q + 1u) {
            v[q] = load_pair(t + q, end);
        }
        for (var q = 0u; q < BATCH; q = q + 1u) {
            if (t + q < end) {
                tile_counts[2u * (t + q)] = run.x;
                tile_counts[2u * (t + q) + 1u] = run.y;
            }
            run = run + v[q];
        }
    }
}

fn write_winner(position: u32, key: u32, index: u32) {
    if (position >= params.out_start && position - params.out_start < params.out_len) {
        out_keys[position - params.out_start] = key;
        out_index[position - params.out_start] = index;
    }
}

@compute @workgroup_size(256)
fn scatter_winners(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>{{SG_PARAMS}}
) {
    let tid = thread_position(lid, {{SG_VEC}});
    let tile = linear_workgroup(wid, nwg);
    if (tile >= params.window_tiles) {
        return;
    }
    let threshold = state[THRESHOLD];
    let need = state[NEED];
    let keys = load_keys(tile, tid);
    let scan = wg_exclusive_scan(count_thread(keys, tile, tid, threshold), tid);
    let g = params.tile_base + tile;
    var below = tile_counts[2u * g] + (scan.x & 0xffffu);
    var equal = tile_counts[2u * g + 1u] + (scan.x >> 16u);
    for (var m = 0u; m < PER_THREAD; m = m + 1u) {
        let e = element_index(tile, tid, m);
        if (e >= params.len) {
            break;
        }
        let key = keys[m];
        if (key < threshold) {
            write_winner(below + min(equal, need), key, params.window_start + e);
            below = below + 1u;
        } else if (key == threshold) {
            if (equal < need) {
                write_winner(below + equal, key, params.window_start + e);
            }
            equal = equal + 1u;
        }
    }
}
