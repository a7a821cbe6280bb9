// Workgroup-wide exclusive prefix sum of one u32 per invocation with subgroup operations:
// a subgroup scan, the subgroup totals scanned by one invocation (at most 64 of them, since
// subgroups have at least 4 invocations), and the two added. Correct for any subgroup size.
//
// The scan order is (subgroup id, lane), not local_invocation_index: APIs do not promise the
// two agree, so every kernel built with this piece orders its threads by `thread_position`.
// It assumes full subgroups (a 256-invocation workgroup splits evenly for every power-of-two
// subgroup size). Every invocation of the workgroup must call it (it contains barriers).

var<workgroup> scan_slots: array<u32, 68>;
var<private> sg_info: vec4<u32>; // lane, size, id, count

fn thread_position(lid: u32, sg: vec4<u32>) -> u32 {
    sg_info = sg;
    return sg.z * sg.y + sg.x;
}

fn wg_exclusive_scan(v: u32, tid: u32) -> vec2<u32> {
    let inclusive = subgroupInclusiveAdd(v);
    if (sg_info.x == sg_info.y - 1u) {
        scan_slots[sg_info.z] = inclusive;
    }
    workgroupBarrier();
    if (tid == 0u) {
        var run = 0u;
        for (var s = 0u; s < sg_info.w; s = s + 1u) {
            let t = scan_slots[s];
            scan_slots[s] = run;
            run = run + t;
        }
        scan_slots[64] = run;
    }
    workgroupBarrier();
    let out = vec2<u32>(scan_slots[sg_info.z] + inclusive - v, scan_slots[64]);
    // The slots are reused by the next call.
    workgroupBarrier();
    return out;
}
