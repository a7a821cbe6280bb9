// Bitonic sort (SORT_BITONIC, SORT_BITONIC_KV, and the final ordering of top-k winners).
//
// The "flip" formulation: every merge level L starts with a step that pairs i with
// i ^ (L - 1) (the mirror image inside each L-long run), followed by half-cleaner steps that
// pair i with i + s for s = L/4 .. 1. Every run then comes out ascending, so no direction
// bits are needed and blocks sorted independently can be merged directly.
//
// * sort_block: a workgroup sorts BLOCK elements (or `sort_size` when the whole input is
//   smaller) entirely in workgroup memory; missing elements are padded with the largest key.
//   With `out_len`, a single block instead writes its first out_len elements to the `_hi`
//   bindings and leaves the input alone (top-k of a small input: one dispatch); with
//   `values_iota`, each element's value is its index.
// * global_step: one compare-exchange step over the whole array, for strides of BLOCK and
//   more; pairs may lie in two different binding windows (`two_windows`).
// * merge_block: the remaining steps of a level (strides BLOCK/2 .. 1) in workgroup memory.
//
// Keys are compared as u32 after the KEY_* transform of `key_in`; elements are stored back
// through `key_out`. With HAS_VALUES, equal keys are ordered by value, which makes the result
// fully determined (the contract leaves it unspecified) and lets top-k order ties by index.

const BLOCK: u32 = {{BLOCK}}u;
const HAS_VALUES: bool = {{HAS_VALUES}};
const BLOCK_WORDS: u32 = {{BLOCK_WORDS}}u; // BLOCK keys, then BLOCK values when HAS_VALUES
const PAD: u32 = 0xffffffffu;

struct Params {
    len: u32,         // elements present (sort_block pads the rest of its sort)
    sort_size: u32,   // sort_block: elements per sort, a power of two <= BLOCK
    level: u32,       // global_step: L, the length of the runs being merged
    stride: u32,      // global_step: s for a half-cleaner step
    flip: u32,        // global_step: 1 for the first step of a level
    two_windows: u32, // global_step: pair element i of keys_lo with one of keys_hi
    key_in: u32,
    key_out: u32,
    values_iota: u32, // sort_block: values are the element indices (values_lo unused)
    out_len: u32,     // sort_block: 0 = in place; else write this many to keys_hi/values_hi
    _p0: u32,
    _p1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> keys_lo: array<u32>;
@group(0) @binding(2) var<storage, read_write> values_lo: array<u32>;
@group(0) @binding(3) var<storage, read_write> keys_hi: array<u32>;
@group(0) @binding(4) var<storage, read_write> values_hi: array<u32>;

var<workgroup> block: array<u32, BLOCK_WORDS>;

// True when element (ka, va) belongs after (kb, vb).
fn belongs_after(ka: u32, va: u32, kb: u32, vb: u32) -> bool {
    if (HAS_VALUES) {
        return ka > kb || (ka == kb && va > vb);
    }
    return ka > kb;
}

fn exchange_local(i: u32, j: u32) {
    let ki = block[i];
    let kj = block[j];
    var vi = 0u;
    var vj = 0u;
    if (HAS_VALUES) {
        vi = block[BLOCK + i];
        vj = block[BLOCK + j];
    }
    if (belongs_after(ki, vi, kj, vj)) {
        block[i] = kj;
        block[j] = ki;
        if (HAS_VALUES) {
            block[BLOCK + i] = vj;
            block[BLOCK + j] = vi;
        }
    }
}

// Index of the lower element of pair p when pairs are `half` apart in runs of 2 * half.
fn lower_of_pair(p: u32, half: u32) -> u32 {
    return ((p & ~(half - 1u)) << 1u) | (p & (half - 1u));
}

// Sorts the first `size` elements of the block: every merge level from 2 to size.
fn local_network(size: u32, tid: u32) {
    for (var level = 2u; level <= size; level = level << 1u) {
        for (var p = tid; p < size / 2u; p = p + 256u) {
            let i = lower_of_pair(p, level >> 1u);
            exchange_local(i, i ^ (level - 1u));
        }
        workgroupBarrier();
        for (var s = level >> 2u; s > 0u; s = s >> 1u) {
            for (var p = tid; p < size / 2u; p = p + 256u) {
                let i = lower_of_pair(p, s);
                exchange_local(i, i + s);
            }
            workgroupBarrier();
        }
    }
}

fn load_block(base: u32, size: u32, tid: u32) {
    for (var i = tid; i < size; i = i + 256u) {
        let g = base + i;
        var key = PAD;
        var value = PAD;
        if (g < params.len) {
            key = to_key(keys_lo[g], params.key_in);
            if (HAS_VALUES) {
                if (params.values_iota == 1u) {
                    value = g;
                } else {
                    value = values_lo[g];
                }
            }
        }
        block[i] = key;
        if (HAS_VALUES) {
            block[BLOCK + i] = value;
        }
    }
    workgroupBarrier();
}

fn store_block(base: u32, size: u32, tid: u32) {
    for (var i = tid; i < size; i = i + 256u) {
        let g = base + i;
        if (g < params.len) {
            keys_lo[g] = from_key(block[i], params.key_out);
            if (HAS_VALUES) {
                values_lo[g] = block[BLOCK + i];
            }
        }
    }
}

@compute @workgroup_size(256)
fn sort_block(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>
) {
    let size = params.sort_size;
    let base = linear_workgroup(wid, nwg) * size;
    if (base >= params.len) {
        return;
    }
    load_block(base, size, lid);
    local_network(size, lid);
    if (params.out_len == 0u) {
        store_block(base, size, lid);
        return;
    }
    for (var i = lid; i < params.out_len; i = i + 256u) {
        keys_hi[i] = from_key(block[i], params.key_out);
        if (HAS_VALUES) {
            values_hi[i] = block[BLOCK + i];
        }
    }
}

@compute @workgroup_size(256)
fn merge_block(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>
) {
    let base = linear_workgroup(wid, nwg) * BLOCK;
    if (base >= params.len) {
        return;
    }
    load_block(base, BLOCK, lid);
    for (var s = BLOCK >> 1u; s > 0u; s = s >> 1u) {
        for (var p = lid; p < BLOCK / 2u; p = p + 256u) {
            let i = lower_of_pair(p, s);
            exchange_local(i, i + s);
        }
        workgroupBarrier();
    }
    store_block(base, BLOCK, lid);
}

@compute @workgroup_size(256)
fn global_step(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>
) {
    let p = linear_workgroup(wid, nwg) * 256u + lid;
    if (params.two_windows == 1u) {
        // Windows of `len` elements (a power of two); element p of the lower window pairs
        // with its mirror (flip) or the same offset (half-cleaner) in the upper one.
        if (p >= params.len) {
            return;
        }
        var j = p;
        if (params.flip == 1u) {
            j = params.len - 1u - p;
        }
        let ri = keys_lo[p];
        let rj = keys_hi[j];
        var vi = 0u;
        var vj = 0u;
        if (HAS_VALUES) {
            vi = values_lo[p];
            vj = values_hi[j];
        }
        if (belongs_after(to_key(ri, params.key_in), vi, to_key(rj, params.key_in), vj)) {
            keys_lo[p] = rj;
            keys_hi[j] = ri;
            if (HAS_VALUES) {
                values_lo[p] = vj;
                values_hi[j] = vi;
            }
        }
        return;
    }
    if (p >= params.len / 2u) {
        return;
    }
    var i = 0u;
    var j = 0u;
    if (params.flip == 1u) {
        i = lower_of_pair(p, params.level >> 1u);
        j = i ^ (params.level - 1u);
    } else {
        i = lower_of_pair(p, params.stride);
        j = i + params.stride;
    }
    let ri = keys_lo[i];
    let rj = keys_lo[j];
    var vi = 0u;
    var vj = 0u;
    if (HAS_VALUES) {
        vi = values_lo[i];
        vj = values_lo[j];
    }
    if (belongs_after(to_key(ri, params.key_in), vi, to_key(rj, params.key_in), vj)) {
        keys_lo[i] = rj;
        keys_lo[j] = ri;
        if (HAS_VALUES) {
            values_lo[i] = vj;
            values_lo[j] = vi;
        }
    }
}
