// Workgroup-wide exclusive prefix sum of one u32 per invocation, without subgroup operations:
// Hillis-Steele over 256 slots with a double buffer (one barrier per round).
//
// `tid` is the invocation's position in the scan order (0..255). Returns (exclusive prefix,
// workgroup total). Every invocation of the workgroup must call it (it contains barriers).

var<workgroup> scan_slots: array<u32, 512>;

// Position of this invocation in every workgroup-wide ordering of the kernel.
fn thread_position(lid: u32, sg: vec4<u32>) -> u32 {
    return lid;
}

fn wg_exclusive_scan(v: u32, tid: u32) -> vec2<u32> {
    var src = 0u;
    scan_slots[tid] = v;
    workgroupBarrier();
    for (var offset = 1u; offset < 256u; offset = offset << 1u) {
        var s = scan_slots[src + tid];
        if (tid >= offset) {
            s = s + scan_slots[src + tid - offset];
        }
        scan_slots[(256u - src) + tid] = s;
        src = 256u - src;
        workgroupBarrier();
    }
    let inclusive = scan_slots[src + tid];
    let total = scan_slots[src + 255u];
    // The slots are reused by the next call.
    workgroupBarrier();
    return vec2<u32>(inclusive - v, total);
}
