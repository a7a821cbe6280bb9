// Workgroup reduction through workgroup memory (portable: no subgroup feature needed).
fn workgroup_reduce(s: State, lid: u32, sg_lane: u32, sg_size: u32, sg_id: u32, n_sg: u32) -> State {
    scratch[lid] = s;
    workgroupBarrier();
    for (var off = 128u; off > 0u; off = off >> 1u) {
        if (lid < off) {
            scratch[lid] = combine(scratch[lid], scratch[lid + off]);
        }
        workgroupBarrier();
    }
    let r = scratch[0];
    workgroupBarrier();
    return r;
}
