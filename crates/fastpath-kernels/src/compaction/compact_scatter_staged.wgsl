// Staged scatter (CUB's two-phase scatter): kept elements are first packed into workgroup
// memory at their rank within the tile, then the workgroup copies the packed run to y with
// consecutive threads on consecutive slots - fully coalesced stores whatever the pattern of
// survivors. Needs TILE * 4 bytes of workgroup memory (the host checks the device limit).

var<workgroup> wg_packed: array<u32, TILE>;

fn emit(j: u32, r: Raw, incl: vec4<u32>, tile_prefix: u32, in_tile: u32) {
    let keep = item(r, j);
    for (var c = 0u; c < 4u; c = c + 1u) {
        if (keep[c] != 0u) {
            wg_packed[in_tile + incl[c] - 1u] = r.bits[c];
        }
    }
}

fn finish_tile(tile_prefix: u32, tile_total: u32, lid: u32) {
    workgroupBarrier();
    let first_slot = tile_prefix - params.dest_start;
    for (var i = lid; i < tile_total; i = i + WG) {
        let slot = first_slot + i;
        if (slot < params.dest_len) {
            out[slot] = wg_packed[i];
        }
    }
}
