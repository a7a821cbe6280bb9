// Device-wide scan over tiles: the core shared by the scans and compaction kernels.
//
// A tile is TILE consecutive elements (256 threads x VEC4_PER_THREAD vec4s). Each workgroup
// scans one tile locally, learns the sum of every element before its tile ("tile prefix") and
// hands each vec4 to the kernel's `emit` (scan: write the prefix sums; compaction: scatter the
// survivors), then calls `finish_tile` once. What is scanned and written comes from the item
// pieces composed after this file: `alias T`, `struct Raw`, `load_raw`, `item`, `emit`,
// `finish_tile` and the `out` binding (binding 3). The cross-lane steps (`lanes_of`,
// `lane_exclusive`, `groups_exclusive`, `workgroup_sum`, `poll`) come from tile_subgroup.wgsl or
// tile_shared.wgsl.
//
// How a tile learns its prefix depends on `params.mode`:
//   MODE_LOOKBACK  - single pass, chained scan with decoupled look-back and *decoupled
//                    fallback*: a tile publishes its reduction at once, then walks back over its
//                    predecessors' published values. If a predecessor has published nothing
//                    after `max_spins` polls, the workgroup computes that tile's reduction itself
//                    from the input and walks on. Nothing ever waits on another workgroup without
//                    bound, so this is safe on GPUs without forward progress between workgroups
//                    (Apple, ARM) - Smith, Levien & Owens, "Decoupled Fallback", SPAA 2025.
//   MODE_REDUCE    - reduce-then-scan, pass 1: publish the tile's reduction only.
//   MODE_FROM_STATE- reduce-then-scan, pass 3 (after spine.wgsl made every tile INCLUSIVE), and
//                    the replay passes of chunked compaction: the prefix is read from the state.
//   MODE_UNORDERED - compaction only: each tile reserves its output block with one atomicAdd on
//                    the total (blocks land in any order; elements inside a block keep theirs).
//
// Look-back state: per global tile g two u32 words, the low and high 16 bits of the published
// 32-bit value, each tagged with its flag in bits 16..17 (1 = REDUCTION: the tile's own sum,
// 2 = INCLUSIVE: everything up to and including the tile). WGSL atomics are relaxed and nothing
// orders two words, so a reader trusts a value only when both halves carry the same non-zero
// flag (each flag is written once per run, by the tile's owner only). Packing 16 bits per word
// keeps the full 32-bit value: u32 sums wrap modulo 2^32 and f32 sums keep all their bits.
// The words must read zero (not ready) at the start of a look-back run: the host clears them in
// the same batch, before the scan, so stale state from an earlier run can never be trusted.

const WG: u32 = 256u;
const VEC4_PER_THREAD: u32 = {{VEC4_PER_THREAD}}u;
const TILE_VEC4: u32 = WG * VEC4_PER_THREAD;
const TILE: u32 = TILE_VEC4 * 4u;

const MODE_LOOKBACK: u32 = 0u;
const MODE_REDUCE: u32 = 1u;
const MODE_FROM_STATE: u32 = 2u;
const MODE_UNORDERED: u32 = 3u;

const FLAG_REDUCTION: u32 = 1u;
const FLAG_INCLUSIVE: u32 = 2u;

const SEARCHING: u32 = 0u;
const DONE: u32 = 1u;

struct Params {
    len: u32,               // elements in this window
    window_first_tile: u32, // global index of the window's first tile
    last_tile: u32,         // global index of the last tile of all windows
    mode: u32,
    ticket_slot: u32,       // state word handing out this window's tiles (look-back mode)
    use_tickets: u32,       // 0: tile = workgroup index (one tile, or modes without look-back)
    tile_words: u32,        // first state word of tile 0's published value
    max_spins: u32,         // polls of a silent predecessor before falling back
    reverse_tiles: u32,     // test hook: hand tiles out last-first, so look-back must fall back
    dest_start: u32,        // global element index of `out`'s first element (compaction)
    dest_len: u32,          // elements bound at `out` (compaction)
    skip_outside_dest: u32, // from-state mode, u32 counts: skip tiles writing nothing into `out`
    threshold_bits: u32,    // compaction predicate threshold (f32 bits)
    op: u32,                // compaction predicate operator
    exclusive: u32,         // scans: 1 = exclusive, 0 = inclusive
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> aux: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> state: array<atomic<u32>>;
@group(0) @binding(5) var<storage, read_write> total: array<atomic<u32>>;

// How the workgroup's threads are grouped for the cross-lane steps. With subgroups: the real
// subgroups. Without: 256 groups of one thread each (so "lane" steps are trivial and the
// cross-group step is a workgroup-memory scan).
struct Lanes {
    lane: u32,
    size: u32,
    group: u32,
    groups: u32,
}

var<workgroup> wg_tile: u32;
var<workgroup> wg_status: u32;
var<workgroup> wg_lookback: u32;
var<workgroup> wg_prefix: T;
var<workgroup> wg_dest_hit: u32;

fn vec4_count() -> u32 {
    return (params.len + 3u) / 4u;
}

// Which elements of vec4 number j of the window exist.
fn lanes_in_range(j: u32) -> vec4<bool> {
    let i = j * 4u;
    return vec4<u32>(i, i + 1u, i + 2u, i + 3u) < vec4<u32>(params.len);
}

// First vec4 a thread owns in local tile t; its k-th vec4 is `first + k * lanes.size`. With
// subgroups, each subgroup owns a contiguous run of the tile and, for each k, its lanes read
// consecutive vec4s (coalesced loads, and the subgroup scan follows element order).
fn first_vec4(t: u32, l: Lanes) -> u32 {
    return t * TILE_VEC4 + l.group * l.size * VEC4_PER_THREAD + l.lane;
}

fn hsum(v: vec4<T>) -> T {
    return (v.x + v.y) + (v.z + v.w);
}

// ---- published tile values -----------------------------------------------------------------

fn publish(g: u32, value: T, flag: u32) {
    let bits = bitcast<u32>(value);
    let w = params.tile_words + 2u * g;
    atomicStore(&state[w], (flag << 16u) | (bits & 0xffffu));
    atomicStore(&state[w + 1u], (flag << 16u) | (bits >> 16u));
}

// The flag of tile g's published value (0 while not ready or torn), and the value.
struct Published {
    flag: u32,
    value: T,
}

fn read_published(g: u32) -> Published {
    let w = params.tile_words + 2u * g;
    let lo = atomicLoad(&state[w]);
    let hi = atomicLoad(&state[w + 1u]);
    let flag = lo >> 16u;
    if (flag != (hi >> 16u)) {
        return Published(0u, T(0));
    }
    return Published(flag, bitcast<T>((lo & 0xffffu) | (hi << 16u)));
}

// ---- reductions of whole tiles (reduce pass and look-back fallback) ------------------------

fn tile_reduce(t: u32, l: Lanes, lid: u32) -> T {
    let first = first_vec4(t, l);
    let count = vec4_count();
    var s = T(0);
    for (var k = 0u; k < VEC4_PER_THREAD; k = k + 1u) {
        let j = first + k * l.size;
        if (j < count) {
            s = s + hsum(item(load_raw(j), j));
        }
    }
    return workgroup_sum(s, l, lid);
}

// ---- look-back with decoupled fallback ------------------------------------------------------

// One thread: poll predecessors from wg_lookback downwards, one per round trip, adding what they
// published, until an INCLUSIVE value ends the walk (status DONE) or one stays silent for
// max_spins polls (then the caller reduces that tile itself). Tiles of earlier windows were
// finished by an earlier dispatch, so they are always ready; the fallback could not read their
// input anyway. (tile_subgroup.wgsl polls a subgroup-wide window of predecessors instead.)
fn poll_one_by_one() {
    var p = wg_lookback;
    var acc = wg_prefix;
    var spins = 0u;
    loop {
        let pub_value = read_published(p);
        if (pub_value.flag != 0u) {
            acc = pub_value.value + acc;
            if (pub_value.flag == FLAG_INCLUSIVE) {
                wg_status = DONE;
                break;
            }
            p = p - 1u;
            spins = 0u;
        } else {
            spins = spins + 1u;
            if (spins > params.max_spins && p >= params.window_first_tile) {
                break;
            }
        }
    }
    wg_lookback = p;
    wg_prefix = acc;
}

// Sum of every element before global tile g (which holds tile_total); publishes g's values.
fn look_back(g: u32, tile_total: T, l: Lanes, lid: u32) -> T {
    if (lid == 0u) {
        wg_prefix = T(0);
        if (g == 0u) {
            publish(g, tile_total, FLAG_INCLUSIVE);
            wg_status = DONE;
        } else {
            publish(g, tile_total, FLAG_REDUCTION);
            wg_status = SEARCHING;
            wg_lookback = g - 1u;
        }
    }
    loop {
        if (workgroupUniformLoad(&wg_status) == DONE) {
            break;
        }
        poll(l, lid);
        if (workgroupUniformLoad(&wg_status) == DONE) {
            break;
        }
        // Fallback: the predecessor may never be scheduled while we wait; reduce it ourselves.
        let p = workgroupUniformLoad(&wg_lookback);
        let r = tile_reduce(p - params.window_first_tile, l, lid);
        if (lid == 0u) {
            wg_prefix = r + wg_prefix;
            if (p == 0u) {
                wg_status = DONE;
            } else {
                wg_lookback = p - 1u;
            }
        }
    }
    let prefix = workgroupUniformLoad(&wg_prefix);
    if (lid == 0u && g != 0u) {
        publish(g, prefix + tile_total, FLAG_INCLUSIVE);
    }
    return prefix;
}

// ---- the kernel -----------------------------------------------------------------------------

@compute @workgroup_size(256)
fn tile_scan(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>{{SG_PARAMS}}
) {
    let l = lanes_of(lid{{SG_CALL}});
    let tiles = (params.len + TILE - 1u) / TILE;
    if (lid == 0u) {
        var t = linear_workgroup(wid, nwg);
        if (params.use_tickets != 0u) {
            // Tiles in the order workgroups start, so predecessors are usually running already.
            let ticket = atomicAdd(&state[params.ticket_slot], 1u);
            t = ticket;
            if (params.reverse_tiles != 0u && ticket < tiles) {
                t = tiles - 1u - ticket;
            }
        }
        wg_tile = t;
    }
    let t = workgroupUniformLoad(&wg_tile);
    if (t >= tiles) {
        return;
    }
    let g = params.window_first_tile + t;

    if (params.mode == MODE_REDUCE) {
        let r = tile_reduce(t, l, lid);
        if (lid == 0u) {
            publish(g, r, FLAG_REDUCTION);
        }
        return;
    }

    if (params.mode == MODE_FROM_STATE) {
        // Read before loading anything: replay passes skip most tiles.
        if (lid == 0u) {
            var prefix = T(0);
            if (g != 0u) {
                prefix = read_published(g - 1u).value;
            }
            wg_prefix = prefix;
            var hit = 1u;
            if (params.skip_outside_dest != 0u) {
                let start = bitcast<u32>(prefix);
                let end = bitcast<u32>(read_published(g).value);
                hit = select(0u, 1u, start < params.dest_start + params.dest_len && end > params.dest_start);
            }
            wg_dest_hit = hit;
        }
        if (workgroupUniformLoad(&wg_dest_hit) == 0u) {
            return;
        }
    }

    // Local scan: in-thread over each vec4, across lanes per k, across groups once.
    let first = first_vec4(t, l);
    let count = vec4_count();
    var raw: array<Raw, VEC4_PER_THREAD>;
    var incl: array<vec4<T>, VEC4_PER_THREAD>;
    var lane_base: array<T, VEC4_PER_THREAD>;
    var carry = T(0);
    for (var k = 0u; k < VEC4_PER_THREAD; k = k + 1u) {
        let j = first + k * l.size;
        var r: Raw; // zero: item() masks lanes past the end anyway
        if (j < count) {
            r = load_raw(j);
        }
        raw[k] = r;
        var s = item(r, j);
        s.y = s.y + s.x;
        s.z = s.z + s.y;
        s.w = s.w + s.z;
        incl[k] = s;
        let across = lane_exclusive(s.w, l);
        lane_base[k] = carry + across.x;
        carry = carry + across.y;
    }
    let groups = groups_exclusive(carry, l, lid);
    let tile_total = groups.y;

    var tile_prefix = T(0);
    if (params.mode == MODE_LOOKBACK) {
        tile_prefix = look_back(g, tile_total, l, lid);
        if (lid == 0u && g == params.last_tile) {
            atomicStore(&total[0], bitcast<u32>(tile_prefix + tile_total));
        }
    } else if (params.mode == MODE_FROM_STATE) {
        tile_prefix = wg_prefix; // written before the uniform load above
    } else {
        if (lid == 0u) {
            wg_prefix = bitcast<T>(atomicAdd(&total[0], bitcast<u32>(tile_total)));
        }
        tile_prefix = workgroupUniformLoad(&wg_prefix);
    }

    for (var k = 0u; k < VEC4_PER_THREAD; k = k + 1u) {
        let j = first + k * l.size;
        if (j < count) {
            emit(j, raw[k], incl[k], tile_prefix, groups.x + lane_base[k]);
        }
    }
    finish_tile(tile_prefix, tile_total, lid);
}
