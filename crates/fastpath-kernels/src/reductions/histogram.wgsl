// REDUCE_HISTOGRAM: 256 bins over [lo, hi], privatised per workgroup in workgroup memory,
// then merged into the global counts with one atomic add per non-empty bin.
//
// Bin boundaries come from the host as `edges`: edges[k] is the smallest f32 whose exact
// bin (trunc((x - lo) * 256 / (hi - lo)), computed without rounding) is at least k. An
// estimate from f32 arithmetic is corrected against them, so counts are bit-exact on every
// GPU whatever its division precision.

struct Params {
    len: u32,
    _p0: u32,
    _p1: u32,
    _p2: u32,
    lo: f32,
    hi: f32,
    scale: f32, // 256 / (hi - lo) rounded to f32: only used for the estimate
    _p3: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> edges: array<f32>;
@group(0) @binding(3) var<storage, read_write> counts: array<atomic<u32>>;

var<workgroup> local_counts: array<atomic<u32>, 256>;
var<workgroup> local_edges: array<f32, 256>;

fn bin_of(v: f32) -> u32 {
    let t = (v - params.lo) * params.scale;
    var b = u32(clamp(floor(t), 0.0, 255.0));
    // Usually right or off by one; fall back to a binary search when the estimate is far
    // (e.g. when v - lo overflowed).
    if (b < 255u && v >= local_edges[b + 1u]) {
        b = b + 1u;
    } else if (b > 0u && v < local_edges[b]) {
        b = b - 1u;
    }
    let ok_low = v >= local_edges[b];
    let ok_high = b == 255u || v < local_edges[b + 1u];
    if (ok_low && ok_high) {
        return b;
    }
    var lo_b = 0u;
    var hi_b = 255u;
    while (lo_b < hi_b) {
        let mid = (lo_b + hi_b + 1u) / 2u;
        if (v >= local_edges[mid]) {
            lo_b = mid;
        } else {
            hi_b = mid - 1u;
        }
    }
    return lo_b;
}

@compute @workgroup_size(256)
fn histogram(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>
) {
    atomicStore(&local_counts[lid], 0u);
    local_edges[lid] = edges[lid];
    workgroupBarrier();
    let vecs = (params.len + 3u) / 4u;
    let stride = nwg.x * 256u;
    for (var j = wid.x * 256u + lid; j < vecs; j = j + stride) {
        let v = x[j];
        for (var k = 0u; k < 4u; k = k + 1u) {
            let e = v[k];
            // NaN fails both comparisons; out-of-range values are not counted.
            if (j * 4u + k < params.len && e >= params.lo && e <= params.hi && !fp_is_nan(e)) {
                atomicAdd(&local_counts[bin_of(e)], 1u);
            }
        }
    }
    workgroupBarrier();
    let c = atomicLoad(&local_counts[lid]);
    if (c != 0u) {
        atomicAdd(&counts[lid], c);
    }
}
