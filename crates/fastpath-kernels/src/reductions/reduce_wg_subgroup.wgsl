// Workgroup reduction with subgroup shuffles: a butterfly inside each subgroup (any power-of-
// two size), then one state per subgroup combined through workgroup memory.
fn workgroup_reduce(s: State, lid: u32, sg_lane: u32, sg_size: u32, sg_id: u32, n_sg: u32) -> State {
    var r = s;
    for (var m = sg_size >> 1u; m > 0u; m = m >> 1u) {
        r = combine(r, shuffle_{{FAM}}(r, m));
    }
    if (sg_lane == 0u) {
        scratch[sg_id] = r;
    }
    workgroupBarrier();
    if (lid == 0u) {
        var t = scratch[0];
        for (var i = 1u; i < n_sg; i = i + 1u) {
            t = combine(t, scratch[i]);
        }
        scratch[0] = t;
    }
    workgroupBarrier();
    let out = scratch[0];
    workgroupBarrier();
    return out;
}
