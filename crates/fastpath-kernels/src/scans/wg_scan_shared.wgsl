// Workgroup-wide scan and sum of one value per thread through workgroup memory (no subgroup
// operations), for the subgroup-free tile variant and the reduce-then-scan spine.
// Needs `alias T` and `const WG = 256u` from the including shader.

var<workgroup> wg_scan: array<T, 512>;

// (exclusive prefix of this thread's value, sum of all values), in thread order.
// Hillis-Steele over two halves of wg_scan (read one half, write the other): 8 barriers.
fn workgroup_scan_shared(v: T, lid: u32) -> vec2<T> {
    wg_scan[lid] = v;
    workgroupBarrier();
    var src = 0u;
    for (var offset = 1u; offset < WG; offset = offset << 1u) {
        let dst = WG - src;
        var s = wg_scan[src + lid];
        if (lid >= offset) {
            s = wg_scan[src + lid - offset] + s;
        }
        wg_scan[dst + lid] = s;
        src = dst;
        workgroupBarrier();
    }
    var exclusive = T(0);
    if (lid > 0u) {
        exclusive = wg_scan[src + lid - 1u];
    }
    let sum = wg_scan[src + WG - 1u];
    // The next call overwrites wg_scan: everyone must have read it first.
    workgroupBarrier();
    return vec2<T>(exclusive, sum);
}

fn workgroup_sum_shared(v: T, lid: u32) -> T {
    wg_scan[lid] = v;
    workgroupBarrier();
    for (var offset = WG / 2u; offset > 0u; offset = offset >> 1u) {
        if (lid < offset) {
            wg_scan[lid] = wg_scan[lid] + wg_scan[lid + offset];
        }
        workgroupBarrier();
    }
    let sum = wg_scan[0];
    workgroupBarrier();
    return sum;
}
