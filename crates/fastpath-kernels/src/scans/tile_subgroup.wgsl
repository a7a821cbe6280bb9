// Cross-lane steps of tile_scan.wgsl with subgroup operations. Written for any subgroup size
// (4 to 128 on today's hardware): nothing assumes a size, and a workgroup has 256 / size
// subgroups, combined in chunks of one subgroup's width. Assumes full subgroups, which every
// driver gives when the workgroup size (256) is a multiple of the subgroup size.

var<workgroup> wg_group_totals: array<T, 256>;

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

var<workgroup> wg_sums: array<T, 256>;

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
