// Radix sort, step 3 of a pass: every tile ranks its keys by the pass's 8-bit digit inside
// workgroup memory and scatters them to
//     digit base (scan of the digit totals) + chunk offset + tile offset (step 2)
//     + rank within the tile.
//
// Ranking is stable: two 4-bit split passes (low nibble, then high nibble), each a counting
// sort of the whole tile in workgroup memory. A thread owns KEYS_PER_THREAD consecutive keys
// ("blocked" order, so thread order is key order; KEYS_PER_THREAD is odd where it matters, so
// the strided reads of a warp hit distinct banks) and one column of 16 nibble counters,
// packed two 16-bit counters per word (CUB's packed-counter trick: one 2048-word scan
// instead of 4096). After ranking, the tile is sorted by digit, so consecutive invocations
// write consecutive addresses of each digit's run: the global scatter is coalesced.
//
// Entry `sort_tile` sorts a whole input of at most one tile in one dispatch (eight nibble
// passes), which keeps small sorts at a single dispatch.
//
// With `write_destinations`, the tile writes each key's destination (indexed by the key's
// position in the window) instead of scattering: the windowed path, where the output does
// not fit one binding, scatters afterwards window by window (radix_scatter.wgsl). That mode
// carries each key's local index as its value.

const KEYS_PER_THREAD: u32 = {{KEYS_PER_THREAD}}u;
const TILE: u32 = 256u * KEYS_PER_THREAD;
const HAS_VALUES: bool = {{HAS_VALUES}};
const TILE_WORDS: u32 = {{TILE_WORDS}}u; // TILE keys, then TILE values when HAS_VALUES

const CHUNK_TILES: u32 = 64u; // radix_scan.wgsl's

const PAYLOAD_NONE: u32 = 0u;
const PAYLOAD_BUFFER: u32 = 1u;       // payload_in
const PAYLOAD_GLOBAL_INDEX: u32 = 2u; // each key's index in the whole input
const PAYLOAD_LOCAL_INDEX: u32 = 3u;  // each key's index in its tile (destinations mode)

struct Params {
    len: u32,                // keys in this window
    shift: u32,              // digit position
    tiles: u32,              // tiles over all windows
    tile_base: u32,          // global index of this window's first tile
    window_tiles: u32,       // tiles in this window
    window_start: u32,       // global index of this window's first key
    key_in: u32,             // KEY_* applied on load
    key_out: u32,            // KEY_* applied on store
    payload_mode: u32,       // PAYLOAD_*
    write_destinations: u32, // 1: write destinations instead of keys
    out_len: u32,            // destinations at or past this are dropped (truncated output)
    chunks: u32,             // chunks of CHUNK_TILES tiles (radix_scan.wgsl's layout)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> keys_in: array<u32>;
@group(0) @binding(2) var<storage, read> payload_in: array<u32>;
@group(0) @binding(3) var<storage, read> tile_hist: array<u32>;
@group(0) @binding(4) var<storage, read_write> keys_out: array<u32>;
@group(0) @binding(5) var<storage, read_write> payload_out: array<u32>;

var<workgroup> tile_data: array<u32, TILE_WORDS>;
// Word lane * 256 + thread: low half counts nibble `lane` of that thread, high half nibble
// `lane + 8`. Counts never exceed TILE < 65536, so the halves never carry into each other.
// Stored at counter_slot(word): one padding word per 32 keeps both access patterns — a
// thread's column while counting, eight consecutive words per thread while scanning — free
// of bank conflicts.
var<workgroup> counters: array<u32, 2112>;

fn counter_slot(word: u32) -> u32 {
    return word + (word >> 5u);
}
var<workgroup> digit_offset: array<u32, 256>;

// Loads a tile in striped order (coalesced); missing keys become 0xffffffff, which sorts
// after every real key of digit 0xff (ranking is stable and they come last), so sorted
// positions past the valid count are exactly the padding. Returns the valid count.
fn load_tile(tile: u32, tid: u32) -> u32 {
    let start = tile * TILE;
    let valid = min(TILE, params.len - start);
    for (var j = 0u; j < KEYS_PER_THREAD; j = j + 1u) {
        let i = j * 256u + tid;
        let g = start + i;
        var key = 0xffffffffu;
        if (i < valid) {
            key = to_key(keys_in[g], params.key_in);
        }
        tile_data[i] = key;
        if (HAS_VALUES) {
            var value = i;
            if (params.payload_mode == PAYLOAD_BUFFER && i < valid) {
                value = payload_in[g];
            } else if (params.payload_mode == PAYLOAD_GLOBAL_INDEX) {
                value = params.window_start + g;
            }
            tile_data[TILE + i] = value;
        }
    }
    return valid;
}

// One stable counting-sort pass of the whole tile by the nibble at `nibble_shift`.
// Must be entered after a barrier that follows the last write of tile_data.
fn rank_nibble(nibble_shift: u32, tid: u32) {
    var key: array<u32, KEYS_PER_THREAD>;
    var value: array<u32, KEYS_PER_THREAD>;
    var rank: array<u32, KEYS_PER_THREAD>;
    let first = tid * KEYS_PER_THREAD;
    for (var j = 0u; j < KEYS_PER_THREAD; j = j + 1u) {
        key[j] = tile_data[first + j];
        if (HAS_VALUES) {
            value[j] = tile_data[TILE + first + j];
        }
    }
    for (var lane = 0u; lane < 8u; lane = lane + 1u) {
        counters[counter_slot(lane * 256u + tid)] = 0u;
    }
    // Count this thread's keys; a key's rank among equal nibbles of this thread is the count
    // before it.
    for (var j = 0u; j < KEYS_PER_THREAD; j = j + 1u) {
        let b = (key[j] >> nibble_shift) & 15u;
        let slot = counter_slot((b & 7u) * 256u + tid);
        let half = (b >> 3u) * 16u;
        let c = counters[slot];
        rank[j] = (c >> half) & 0xffffu;
        counters[slot] = c + (1u << half);
    }
    workgroupBarrier();
    // Exclusive scan of the 2048 packed words in (lane, thread) order: each thread takes
    // eight consecutive words.
    var w: array<u32, 8>;
    var sum = 0u;
    for (var q = 0u; q < 8u; q = q + 1u) {
        w[q] = counters[counter_slot(tid * 8u + q)];
        sum = sum + w[q];
    }
    let scan = wg_exclusive_scan(sum, tid);
    var run = scan.x;
    for (var q = 0u; q < 8u; q = q + 1u) {
        counters[counter_slot(tid * 8u + q)] = run;
        run = run + w[q];
    }
    // Nibbles 8..15 (high halves) start after every key of nibbles 0..7 (low halves).
    let low_total = scan.y & 0xffffu;
    workgroupBarrier();
    for (var j = 0u; j < KEYS_PER_THREAD; j = j + 1u) {
        let b = (key[j] >> nibble_shift) & 15u;
        let half = (b >> 3u) * 16u;
        let word = counters[counter_slot((b & 7u) * 256u + tid)];
        let base = ((word >> half) & 0xffffu) + select(0u, low_total, b >= 8u);
        let dest = base + rank[j];
        tile_data[dest] = key[j];
        if (HAS_VALUES) {
            tile_data[TILE + dest] = value[j];
        }
    }
    workgroupBarrier();
}

fn digit_of(key: u32) -> u32 {
    return (key >> params.shift) & 0xffu;
}

@compute @workgroup_size(256)
fn downsweep(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>{{SG_PARAMS}}
) {
    let tid = thread_position(lid, {{SG_VEC}});
    let tile = linear_workgroup(wid, nwg);
    if (tile >= params.window_tiles) {
        return;
    }
    let valid = load_tile(tile, tid);
    // Where each digit's keys of this tile start in the output (thread tid handles digit tid).
    let global_tile = params.tile_base + tile;
    let chunk_rows = 256u * params.tiles;
    let totals = wg_exclusive_scan(tile_hist[chunk_rows + params.chunks * 256u + tid], tid);
    let chunk_offset = tile_hist[chunk_rows + (global_tile / CHUNK_TILES) * 256u + tid];
    digit_offset[tid] = totals.x + chunk_offset + tile_hist[global_tile * 256u + tid];
    workgroupBarrier();
    rank_nibble(params.shift, tid);
    rank_nibble(params.shift + 4u, tid);
    // The tile is now sorted by digit; subtract each digit's first local position so that
    // digit_offset[d] + (local position) is the global destination.
    for (var j = 0u; j < KEYS_PER_THREAD; j = j + 1u) {
        let i = j * 256u + tid;
        if (i < valid) {
            let d = digit_of(tile_data[i]);
            if (i == 0u || digit_of(tile_data[i - 1u]) != d) {
                digit_offset[d] = digit_offset[d] - i;
            }
        }
    }
    workgroupBarrier();
    for (var j = 0u; j < KEYS_PER_THREAD; j = j + 1u) {
        let i = j * 256u + tid;
        if (i < valid) {
            let key = tile_data[i];
            let g = digit_offset[digit_of(key)] + i;
            if (params.write_destinations == 1u) {
                if (HAS_VALUES) {
                    keys_out[tile * TILE + tile_data[TILE + i]] = g;
                }
            } else if (g < params.out_len) {
                keys_out[g] = from_key(key, params.key_out);
                if (HAS_VALUES && params.payload_mode != PAYLOAD_NONE) {
                    payload_out[g] = tile_data[TILE + i];
                }
            }
        }
    }
}

@compute @workgroup_size(256)
fn sort_tile(
    @builtin(local_invocation_index) lid: u32{{SG_PARAMS}}
) {
    let tid = thread_position(lid, {{SG_VEC}});
    let valid = load_tile(0u, tid);
    workgroupBarrier();
    for (var nibble = 0u; nibble < 32u; nibble = nibble + 4u) {
        rank_nibble(nibble, tid);
    }
    for (var j = 0u; j < KEYS_PER_THREAD; j = j + 1u) {
        let i = j * 256u + tid;
        if (i < valid && i < params.out_len) {
            keys_out[i] = from_key(tile_data[i], params.key_out);
            if (HAS_VALUES && params.payload_mode != PAYLOAD_NONE) {
                payload_out[i] = tile_data[TILE + i];
            }
        }
    }
}
