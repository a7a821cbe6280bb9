// Radix select: the key of a given rank without sorting (TOPK_SELECT's threshold,
// MEDIAN_SELECT, PERCENTILE_SELECT).
//
// Four levels, one per byte of the 32-bit key, most significant first. Level l histograms
// the l-th byte of the keys whose higher bytes equal the prefix chosen so far
// (select_histogram, privatised in workgroup memory, merged with global atomics); then one
// workgroup scans the 256 counts and picks the byte whose range holds the remaining rank
// (select_step). After level 3 the prefix is the exact key. Each pass reads the input once;
// no workgroup ever waits for another.
//
// Order statistics also need the key of the next rank. If it equals the selected key the
// level-3 counts say so; otherwise it is the smallest key above the selected one, which is
// the smallest key of the next non-empty bin at the deepest level that has one: the
// histogram passes keep each bin's minimum key for that (track_min).

const HIST: u32 = 0u;        // 4 levels x 256 counts
const BIN_MIN: u32 = 1024u;  // 4 levels x 256 smallest keys
const PREFIX: u32 = 2048u;   // bytes chosen so far
const RANK: u32 = 2049u;     // rank left inside the chosen bin
const SUCCESSOR: u32 = 2050u;
const NAN_SEEN: u32 = 2051u;
const THRESHOLD: u32 = 2052u;      // the selected key
const NEED: u32 = 2053u;           // how many keys equal to THRESHOLD rank at or before it
const THRESHOLD_NEXT: u32 = 2054u; // key of the next rank
const STATE_WORDS: u32 = 2056u;

const MODE_THRESHOLD: u32 = 0u; // top-k: stop at the threshold
const MODE_MEDIAN: u32 = 1u;
const MODE_PERCENTILE: u32 = 2u;

struct Params {
    len: u32,       // histogram: elements in this window
    level: u32,     // 0..3, most significant byte first
    key_mode: u32,  // KEY_* transform of the input
    track_min: u32, // histogram: keep each bin's smallest key
    rank: u32,      // step, level 0: the 0-based rank to find
    mode: u32,      // step: MODE_*
    fraction: f32,  // step: weight of the next order statistic (0: not needed)
    _p0: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> state: array<atomic<u32>>;
@group(0) @binding(3) var<storage, read_write> result: array<u32>;

var<workgroup> bin_count: array<atomic<u32>, 256>;
var<workgroup> bin_min: array<atomic<u32>, 256>;
var<workgroup> nan_seen: atomic<u32>;
var<workgroup> chosen_digit: u32;
var<workgroup> next_digit: atomic<u32>;

@compute @workgroup_size(256)
fn select_init(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>
) {
    let i = wid.x * 256u + lid;
    if (i < STATE_WORDS) {
        let all_ones = (i >= BIN_MIN && i < PREFIX) || i == SUCCESSOR;
        atomicStore(&state[i], select(0u, 0xffffffffu, all_ones));
    }
}

@compute @workgroup_size(256)
fn select_histogram(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>
) {
    atomicStore(&bin_count[lid], 0u);
    atomicStore(&bin_min[lid], 0xffffffffu);
    if (lid == 0u) {
        atomicStore(&nan_seen, 0u);
    }
    workgroupBarrier();
    let level = params.level;
    let prefix = atomicLoad(&state[PREFIX]);
    let prefix_shift = 32u - 8u * max(level, 1u); // unused at level 0
    let shift = 24u - 8u * level;
    let track_min = params.track_min == 1u;
    var saw_nan = false;
    // Runs of one digit are added once (all-equal inputs would otherwise serialise on one
    // counter).
    var run_digit = 0u;
    var run_count = 0u;
    var run_min = 0xffffffffu;
    let vecs = (params.len + 3u) / 4u;
    let stride = nwg.x * 256u;
    for (var j = wid.x * 256u + lid; j < vecs; j = j + stride) {
        let v = x[j];
        for (var c = 0u; c < 4u; c = c + 1u) {
            if (j * 4u + c >= params.len) {
                break;
            }
            let key = to_key(v[c], params.key_mode);
            saw_nan = saw_nan || (params.key_mode == KEY_F32_SORT && key >= NAN_SORT_KEY_MIN);
            if (level == 0u || (key >> prefix_shift) == prefix) {
                let d = (key >> shift) & 0xffu;
                if (d == run_digit) {
                    run_count = run_count + 1u;
                    run_min = min(run_min, key);
                } else {
                    if (run_count != 0u) {
                        atomicAdd(&bin_count[run_digit], run_count);
                        if (track_min) {
                            atomicMin(&bin_min[run_digit], run_min);
                        }
                    }
                    run_digit = d;
                    run_count = 1u;
                    run_min = key;
                }
            }
        }
    }
    if (run_count != 0u) {
        atomicAdd(&bin_count[run_digit], run_count);
        if (track_min) {
            atomicMin(&bin_min[run_digit], run_min);
        }
    }
    if (saw_nan) {
        atomicOr(&nan_seen, 1u);
    }
    workgroupBarrier();
    let count = atomicLoad(&bin_count[lid]);
    if (count != 0u) {
        atomicAdd(&state[HIST + level * 256u + lid], count);
        if (track_min) {
            atomicMin(&state[BIN_MIN + level * 256u + lid], atomicLoad(&bin_min[lid]));
        }
    }
    if (lid == 0u && atomicLoad(&nan_seen) != 0u) {
        atomicOr(&state[NAN_SEEN], 1u);
    }
}

fn is_inf_bits(v: u32) -> bool {
    return (v & 0x7fffffffu) == 0x7f800000u;
}

// The contract's v_lo + t (v_hi - v_lo) in f32, with the cases keys.rs's `lerp` makes
// explicit (t = 0 or equal neighbours: v_lo; an infinite neighbour: the limit, NaN for -inf
// and +inf) decided on the bits, since shader compilers may assume finite arithmetic.
fn interpolate(lo_bits: u32, hi_bits: u32, t: f32, midpoint: bool) -> u32 {
    if (t == 0.0 || lo_bits == hi_bits) {
        return lo_bits;
    }
    let a = bitcast<f32>(lo_bits);
    let b = bitcast<f32>(hi_bits);
    if (is_inf_bits(lo_bits) && is_inf_bits(hi_bits)) {
        return 0x7fc00000u; // -inf and +inf (equal ones returned above)
    }
    if (is_inf_bits(lo_bits)) {
        return lo_bits;
    }
    if (is_inf_bits(hi_bits)) {
        return hi_bits;
    }
    if (midpoint) {
        // Halving is exact (outside the subnormal range), so this rounds once.
        return bitcast<u32>(a * 0.5 + b * 0.5);
    }
    if ((lo_bits ^ hi_bits) >= 0x80000000u) {
        // Opposite signs: b - a could overflow; the weighted sum cannot.
        return bitcast<u32>((1.0 - t) * a + t * b);
    }
    return bitcast<u32>(a + t * (b - a));
}

@compute @workgroup_size(256)
fn select_step(
    @builtin(local_invocation_index) lid: u32{{SG_PARAMS}}
) {
    let tid = thread_position(lid, {{SG_VEC}});
    let level = params.level;
    // Thread tid looks after digit tid.
    let count = atomicLoad(&state[HIST + level * 256u + tid]);
    var rank = params.rank;
    if (level != 0u) {
        rank = atomicLoad(&state[RANK]);
    }
    if (tid == 0u) {
        atomicStore(&next_digit, 256u);
    }
    let scan = wg_exclusive_scan(count, tid);
    let mine = scan.x <= rank && rank < scan.x + count;
    if (mine) {
        chosen_digit = tid;
    }
    workgroupBarrier();
    let chosen = chosen_digit;
    if (tid > chosen && count != 0u) {
        atomicMin(&next_digit, tid);
    }
    workgroupBarrier();
    if (!mine) {
        return;
    }
    var prefix = chosen;
    if (level != 0u) {
        prefix = (atomicLoad(&state[PREFIX]) << 8u) | chosen;
    }
    let rank_in_bin = rank - scan.x;
    atomicStore(&state[PREFIX], prefix);
    atomicStore(&state[RANK], rank_in_bin);
    let next = atomicLoad(&next_digit);
    if (next < 256u) {
        // The smallest key above this bin at this level; deeper levels overwrite it with
        // smaller candidates.
        var successor = (prefix & 0xffffff00u) | next;
        if (level != 3u) {
            successor = atomicLoad(&state[BIN_MIN + level * 256u + next]);
        }
        atomicStore(&state[SUCCESSOR], successor);
    }
    if (level != 3u) {
        return;
    }
    var next_key = atomicLoad(&state[SUCCESSOR]);
    if (rank_in_bin + 1u < count) {
        next_key = prefix;
    }
    atomicStore(&state[THRESHOLD], prefix);
    atomicStore(&state[NEED], rank_in_bin + 1u);
    atomicStore(&state[THRESHOLD_NEXT], next_key);
    if (params.mode != MODE_THRESHOLD) {
        var value = 0x7fc00000u;
        if (atomicLoad(&state[NAN_SEEN]) == 0u) {
            value = interpolate(f32_from_sort_key(prefix), f32_from_sort_key(next_key),
                params.fraction, params.mode == MODE_MEDIAN);
        }
        result[0] = value;
    }
}
