// Cross-lane steps of tile_scan.wgsl without subgroup operations: every thread is a group of
// one, so a thread owns VEC4_PER_THREAD consecutive vec4s and the groups are combined by a
// workgroup-memory scan. Portable to any device; composed with wg_scan_shared.wgsl.

fn lanes_of(lid: u32, sg_lane: u32, sg_size: u32, sg_id: u32, n_sg: u32) -> Lanes {
    return Lanes(0u, 1u, lid, WG);
}

// (exclusive prefix across the lanes of this group, group sum): a group of one.
fn lane_exclusive(v: T, l: Lanes) -> vec2<T> {
    return vec2<T>(T(0), v);
}

// (exclusive prefix of this group's total across the workgroup, tile total).
fn groups_exclusive(group_total: T, l: Lanes, lid: u32) -> vec2<T> {
    return workgroup_scan_shared(group_total, lid);
}

fn workgroup_sum(v: T, l: Lanes, lid: u32) -> T {
    return workgroup_sum_shared(v, lid);
}

// One thread polls the predecessors.
fn poll(l: Lanes, lid: u32) {
    if (lid == 0u) {
        poll_one_by_one();
    }
}
