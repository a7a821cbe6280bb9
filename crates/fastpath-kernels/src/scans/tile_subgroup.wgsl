// Cross-lane steps of tile_scan.wgsl with subgroup operations. Written for any subgroup size
// (4 to 128 on today's hardware): nothing assumes a size, and a workgroup has 256 / size
// subgroups, combined in chunks of one subgroup's width. Assumes full subgroups, which every
// driver gives when the workgroup size (256) is a multiple of the subgroup size.

// One entry per subgroup: at most 256 / 4 (no GPU has subgroups narrower than 4).
const MAX_GROUPS: u32 = 64u;

var<workgroup> wg_group_totals: array<T, MAX_GROUPS>;

fn lanes_of(lid: u32, sg_lane: u32, sg_size: u32, sg_id: u32, n_sg: u32) -> Lanes {
    return Lanes(sg_lane, sg_size, sg_id, n_sg);
}

// (exclusive prefix across the lanes of this subgroup, subgroup sum).
fn lane_exclusive(v: T, l: Lanes) -> vec2<T> {
    let exclusive = subgroupExclusiveAdd(v);
    return vec2<T>(exclusive, subgroupShuffle(exclusive + v, l.size - 1u));
}

// (exclusive prefix of this subgroup's total across the workgroup, tile total). Every subgroup
// scans the (at most 64) subgroup totals itself, so no second barrier is needed.
fn groups_exclusive(group_total: T, l: Lanes, lid: u32) -> vec2<T> {
    if (l.lane == 0u) {
        wg_group_totals[l.group] = group_total;
    }
    workgroupBarrier();
    var running = T(0);
    var mine = T(0);
    for (var base = 0u; base < l.groups; base = base + l.size) {
        let i = base + l.lane;
        var v = T(0);
        if (i < l.groups) {
            v = wg_group_totals[i];
        }
        let exclusive = subgroupExclusiveAdd(v);
        // Called by every lane (shuffles need the whole subgroup); used by the lanes whose
        // subgroup's total is in this chunk.
        let picked = subgroupShuffle(exclusive, (l.group - base) & (l.size - 1u));
        if (l.group >= base && l.group - base < l.size) {
            mine = running + picked;
        }
        running = running + subgroupShuffle(exclusive + v, l.size - 1u);
    }
    return vec2<T>(mine, running);
}

var<workgroup> wg_sums: array<T, MAX_GROUPS>;

fn workgroup_sum(v: T, l: Lanes, lid: u32) -> T {
    let s = subgroupAdd(v);
    if (l.lane == 0u) {
        wg_sums[l.group] = s;
    }
    workgroupBarrier();
    var acc = T(0);
    for (var base = 0u; base < l.groups; base = base + l.size) {
        let i = base + l.lane;
        var w = T(0);
        if (i < l.groups) {
            w = wg_sums[i];
        }
        acc = acc + subgroupAdd(w);
    }
    // A fallback round may call this again: everyone must have read wg_sums first.
    workgroupBarrier();
    return acc;
}

// Subgroup 0 polls a window of predecessors per round trip (lane i inspects tile p - i), as
// CUB's look-back does with a warp: with one thread, a tile waiting on k busy predecessors pays
// k memory round trips, which starves a large GPU. Same rules as poll_one_by_one: stop at the
// nearest INCLUSIVE, add the REDUCTIONs before it, give up (fallback) on a silent predecessor
// after max_spins polls without progress.
fn poll_window(l: Lanes) {
    var p = wg_lookback;
    var acc = wg_prefix;
    var spins = 0u;
    let none = 0xffffffffu;
    loop {
        let valid = l.lane <= p; // lanes past tile 0 inspect nothing
        var seen = Published(0u, T(0));
        if (valid) {
            seen = read_published(p - l.lane);
        }
        let first_inclusive = subgroupMin(select(none, l.lane, valid && seen.flag == FLAG_INCLUSIVE));
        let first_silent = subgroupMin(select(none, l.lane, valid && seen.flag == 0u));
        if (first_inclusive < first_silent) {
            acc = subgroupAdd(select(T(0), seen.value, l.lane <= first_inclusive)) + acc;
            if (l.lane == 0u) {
                wg_status = DONE;
            }
            break;
        }
        // Every inspected lane before the first silent one saw a REDUCTION (tile 0 is never
        // one, so p stays >= 0).
        let usable = min(first_silent, min(l.size, p + 1u));
        if (usable > 0u) {
            acc = subgroupAdd(select(T(0), seen.value, l.lane < usable)) + acc;
            p = p - usable;
            spins = 0u;
        } else {
            spins = spins + 1u;
            if (spins > params.max_spins && p >= params.window_first_tile) {
                break;
            }
        }
    }
    if (l.lane == 0u) {
        wg_lookback = p;
        wg_prefix = acc;
    }
}

fn poll(l: Lanes, lid: u32) {
    if (l.group == 0u) {
        poll_window(l);
    }
}
