// Reduce-then-scan, pass 2: one workgroup turns every tile's published REDUCTION into its
// INCLUSIVE prefix (same two-word format as tile_scan.wgsl) and writes the grand total.
// Each thread takes TILES_PER_THREAD consecutive tiles per round; rounds carry their sum.

alias T = {{T}};
const WG: u32 = 256u;
const TILES_PER_THREAD: u32 = 4u;
const FLAG_INCLUSIVE: u32 = 2u;

struct Params {
    tiles: u32,
    tile_words: u32,
    _p0: u32,
    _p1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> state: array<atomic<u32>>;
@group(0) @binding(2) var<storage, read_write> total: array<atomic<u32>>;

fn read_reduction(g: u32) -> T {
    let w = params.tile_words + 2u * g;
    let lo = atomicLoad(&state[w]);
    let hi = atomicLoad(&state[w + 1u]);
    return bitcast<T>((lo & 0xffffu) | (hi << 16u));
}

fn publish_inclusive(g: u32, value: T) {
    let bits = bitcast<u32>(value);
    let w = params.tile_words + 2u * g;
    atomicStore(&state[w], (FLAG_INCLUSIVE << 16u) | (bits & 0xffffu));
    atomicStore(&state[w + 1u], (FLAG_INCLUSIVE << 16u) | (bits >> 16u));
}

@compute @workgroup_size(256)
fn spine(@builtin(local_invocation_index) lid: u32) {
    var carry = T(0);
    for (var start = 0u; start < params.tiles; start = start + WG * TILES_PER_THREAD) {
        let first = start + lid * TILES_PER_THREAD;
        var running: array<T, TILES_PER_THREAD>;
        var s = T(0);
        for (var i = 0u; i < TILES_PER_THREAD; i = i + 1u) {
            if (first + i < params.tiles) {
                s = s + read_reduction(first + i);
            }
            running[i] = s;
        }
        let scan = workgroup_scan_shared(s, lid);
        let base = carry + scan.x;
        for (var i = 0u; i < TILES_PER_THREAD; i = i + 1u) {
            if (first + i < params.tiles) {
                publish_inclusive(first + i, base + running[i]);
            }
        }
        carry = carry + scan.y;
    }
    if (lid == 0u) {
        atomicStore(&total[0], bitcast<u32>(carry));
    }
}
