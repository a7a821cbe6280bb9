// Scan items: the input values themselves (u32, or f32 bits), written back as prefix sums.

alias T = {{T}};
alias Raw = vec4<u32>;

@group(0) @binding(3) var<storage, read_write> out: array<vec4<u32>>;

fn load_raw(j: u32) -> Raw {
    return x[j];
}

fn item(r: Raw, j: u32) -> vec4<T> {
    return select(vec4<T>(T(0)), bitcast<vec4<T>>(r), lanes_in_range(j));
}

// incl: in-thread inclusive scan of the vec4; tile_prefix + in_tile: sum of everything before
// it. The exclusive value of lane c is the inclusive value of lane c-1, never incl - x (inexact
// for f32, and inf - inf would turn a running +inf into NaN).
fn emit(j: u32, r: Raw, incl: vec4<T>, tile_prefix: T, in_tile: T) {
    let base = tile_prefix + in_tile;
    var v = incl;
    if (params.exclusive != 0u) {
        v = vec4<T>(T(0), incl.x, incl.y, incl.z);
    }
    let sums = bitcast<vec4<u32>>(vec4<T>(base) + v);
    if (j * 4u + 4u <= params.len) {
        out[j] = sums;
    } else {
        // The last, partial vec4: `out` may be longer than x (scan_into), leave the rest.
        let in_range = lanes_in_range(j);
        for (var c = 0u; c < 4u; c = c + 1u) {
            if (in_range[c]) {
                out[j][c] = sums[c];
            }
        }
    }
}

fn finish_tile(tile_prefix: T, tile_total: T, lid: u32) {}
