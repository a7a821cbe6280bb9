// Compaction items for tile_scan.wgsl: the scanned values are keep flags (0 or 1); `emit`
// (compact_scatter_*.wgsl) sends each kept element to its rank among all kept elements.
// `{{KEEP}}` picks the flags: keep_predicate (x op threshold) or keep_mask (mask != 0).

alias T = u32;

struct Raw {
    bits: vec4<u32>, // x, as raw bits: copied exactly, NaN payloads included
    keep: vec4<u32>,
}

// y, bound from global element `params.dest_start` for `params.dest_len` elements.
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

const OP_GT: u32 = 0u;
const OP_GE: u32 = 1u;
const OP_LT: u32 = 2u;
const OP_LE: u32 = 3u;
const OP_EQ: u32 = 4u;

// Maps f32 bits to u32 keys in the same order (-0 and +0 to one key), so the comparisons below
// are exact IEEE comparisons of non-NaN values even where a shader compiler assumes finite math
// or flushes subnormals to zero.
fn ordered_key(b: vec4<u32>) -> vec4<u32> {
    let is_zero = (b & vec4<u32>(0x7fffffffu)) == vec4<u32>(0u);
    let c = select(b, vec4<u32>(0u), is_zero);
    let negative = (c & vec4<u32>(0x80000000u)) != vec4<u32>(0u);
    return select(c | vec4<u32>(0x80000000u), ~c, negative);
}

fn is_nan_bits(b: vec4<u32>) -> vec4<bool> {
    return (b & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u);
}

// x op threshold; any comparison with NaN is false except ne, which is true (MAP_COMPARE's rule).
fn keep_predicate(b: vec4<u32>, j: u32) -> vec4<u32> {
    let t = vec4<u32>(params.threshold_bits);
    let nan = is_nan_bits(b) | is_nan_bits(t);
    let kx = ordered_key(b);
    let kt = ordered_key(t);
    var hit: vec4<bool>;
    switch params.op {
        case OP_GT: { hit = kx > kt; }
        case OP_GE: { hit = kx >= kt; }
        case OP_LT: { hit = kx < kt; }
        case OP_LE: { hit = kx <= kt; }
        case OP_EQ: { hit = kx == kt; }
        default: { hit = (kx != kt) | nan; }
    }
    if (params.op <= OP_EQ) {
        hit = hit & !nan;
    }
    return vec4<u32>(hit);
}

fn keep_mask(b: vec4<u32>, j: u32) -> vec4<u32> {
    return vec4<u32>(aux[j] != vec4<u32>(0u));
}

fn load_raw(j: u32) -> Raw {
    let b = x[j];
    return Raw(b, {{KEEP}}(b, j));
}

fn item(r: Raw, j: u32) -> vec4<u32> {
    return select(vec4<u32>(0u), r.keep, lanes_in_range(j));
}
