// Direct scatter: every kept element is stored straight to its slot in y. Survivors of a
// subgroup land close together, so the stores are partly coalesced; no workgroup memory.

// incl: in-thread inclusive count of kept elements; tile_prefix + in_tile: kept elements before
// this vec4. Slots outside the bound part of y are written by another pass (chunked inputs).
fn emit(j: u32, r: Raw, incl: vec4<u32>, tile_prefix: u32, in_tile: u32) {
    let keep = item(r, j);
    let first_slot = tile_prefix + in_tile - params.dest_start;
    for (var c = 0u; c < 4u; c = c + 1u) {
        if (keep[c] != 0u) {
            let slot = first_slot + incl[c] - 1u;
            if (slot < params.dest_len) {
                out[slot] = r.bits[c];
            }
        }
    }
}

fn finish_tile(tile_prefix: u32, tile_total: u32, lid: u32) {}
