// The map template of the elementwise domains: out[j] = {{OP}}(operands at j), one vec4 of
// elements at a time.
//
// Each thread handles VEC4_PER_THREAD vec4s spaced one workgroup (256 vec4s) apart, so every
// load and store instruction of a workgroup covers 4 KiB of contiguous memory. A thread issues
// all its loads before any arithmetic: GPUs issue in order, so a load placed after the
// previous element's store would wait for it, leaving one load in flight per thread instead
// of VEC4_PER_THREAD per operand. The last vec4 of the tensor may reach into the buffer's
// padding (bindings are rounded up to 16 bytes): those lanes compute garbage that lands in the
// padding of `out`, never in another element.
//
// Substituted by map_gpu.rs: BINDINGS (the operand and output declarations), HOIST (scalar
// operands read once per thread), FAST_BODY (a whole block of VEC4_PER_THREAD vec4s: every
// load spelled out into its own register, then every store — no arrays indexed by a loop
// counter, which a driver may leave in local memory), OP and TAIL_ARGS (the guarded path for
// the tensor's last, partial block), VEC4_PER_THREAD.

struct Params {
    len: u32,      // elements in this window
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    p0: f32,       // the kernel's scalar parameters (alpha, lo, hi), read by the op
    p1: f32,
    _pad3: f32,
    _pad4: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
{{BINDINGS}}

const VEC4_PER_THREAD: u32 = {{VEC4_PER_THREAD}}u;

@compute @workgroup_size(256)
fn map(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let vecs = (params.len + 3u) / 4u;
    let first = linear_workgroup(wid, nwg) * (256u * VEC4_PER_THREAD) + lid;
    {{HOIST}}
    if (first + (VEC4_PER_THREAD - 1u) * 256u < vecs) {
        {{FAST_BODY}}
    } else {
        for (var k = 0u; k < VEC4_PER_THREAD; k = k + 1u) {
            let j = first + k * 256u;
            if (j < vecs) {
                out[j] = {{OP}}({{TAIL_ARGS}});
            }
        }
    }
}
