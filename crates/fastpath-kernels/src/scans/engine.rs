//! The device-wide tile scan under both the scans and the compaction kernels.
//!
//! The input is cut into tiles of [`TILE`] elements; each workgroup scans one tile in registers
//! and subgroups, learns the sum of everything before its tile, and hands each element to the
//! kernel's item piece (`items_*.wgsl`), which writes prefix sums or scatters survivors. See
//! `tile_scan.wgsl` for the protocol. Two ways to get the tile prefixes:
//!
//! * **Decoupled fallback** (default): one pass, 2 dispatches (clear the look-back state, scan;
//!   1 for a single tile), 8 bytes moved per u32 element. With subgroups, one subgroup polls a
//!   window of predecessors per memory round trip (CUB's warp-wide look-back); without, one
//!   thread polls them one by one. A tile that waits too long on a predecessor reduces that
//!   predecessor's input itself, so nothing depends on forward progress between workgroups.
//! * **Reduce-then-scan**: tile sums, one-workgroup spine scan, then the scan proper; 3
//!   dispatches and 12 bytes per element, no inter-workgroup waiting of any kind. Kept as the
//!   fallback for drivers that mishandle the look-back atomics (`FASTPATH_SCAN_ALGORITHM=
//!   reduce-then-scan`) and tested on every backend.
//!
//! Inputs larger than one storage binding run window by window (each window a whole number of
//! tiles, so only the very last tile is partial). Tile indices and look-back state are global,
//! so a window's first tile simply looks back into the previous window, which an earlier
//! dispatch has finished. Compaction writes each survivor to its global rank, which may lie in
//! any earlier window of `y`: after the pass that writes the survivors landing in their own
//! window, "replay" passes (prefixes read from the finished state) write the rest, one per
//! (source window, earlier destination window) pair, skipping tiles that write nothing there.

use std::sync::OnceLock;

use fastpath_gpu::{Access, DType, Dispatch, Gpu, GpuError, GpuTensor, OwnedShaderSpec, Pipeline};

use crate::gpu_util::{fill_u32, fill_variant, shader_source};
use crate::kernel::WgslVariant;

/// vec4s each thread loads per tile: 4 gives 4096-element tiles (16 KiB of u32), the tile the
/// Decoupled Fallback paper measured at memcpy speed on Apple, NVIDIA and AMD GPUs.
pub(crate) const VEC4_PER_THREAD: u32 = 4;
/// Elements per tile (256 threads x VEC4_PER_THREAD x 4).
pub(crate) const TILE: usize = 256 * 4 * VEC4_PER_THREAD as usize;
/// Polls of a silent predecessor before a tile reduces it itself. Low: a fallback costs one
/// extra read of a 16 KiB tile, a long spin costs latency on every waiting tile.
pub(crate) const MAX_SPINS: u32 = 4;

const TILE_SCAN: &str = include_str!("tile_scan.wgsl");
const TILE_SUBGROUP: &str = include_str!("tile_subgroup.wgsl");
const TILE_SHARED: &str = include_str!("tile_shared.wgsl");
const WG_SCAN_SHARED: &str = include_str!("wg_scan_shared.wgsl");
const SPINE: &str = include_str!("spine.wgsl");

const SG_PARAMS: &str = ",\n    @builtin(subgroup_invocation_id) sg_lane: u32,\n    @builtin(subgroup_size) sg_size: u32,\n    @builtin(subgroup_id) sg_id: u32,\n    @builtin(num_subgroups) n_sg: u32";
const SG_CALL: &str = ", sg_lane, sg_size, sg_id, n_sg";
const NO_SG_CALL: &str = ", 0u, 1u, 0u, 1u";

// Modes of tile_scan.wgsl.
const MODE_LOOKBACK: u32 = 0;
const MODE_REDUCE: u32 = 1;
const MODE_FROM_STATE: u32 = 2;
const MODE_UNORDERED: u32 = 3;

/// What a tile program scans and what it writes: item pieces (WGSL defining `T`, `Raw`,
/// `load_raw`, `item`, `emit`, `finish_tile` and binding 3) plus their substitutions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Items {
    /// Names the program in pipeline keys and labels, e.g. "scan-u32".
    pub key: &'static str,
    pub pieces: &'static [&'static str],
    /// The scanned type `T`: "u32" or "f32".
    pub elem: &'static str,
    pub substitutions: &'static [(&'static str, &'static str)],
}

/// How tile prefixes are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algorithm {
    DecoupledFallback,
    ReduceThenScan,
}

impl Algorithm {
    /// `FASTPATH_SCAN_ALGORITHM=reduce-then-scan` (or `rts`) switches every scan and ordered
    /// compaction to reduce-then-scan, e.g. on a driver whose atomics misbehave.
    pub(crate) fn from_env() -> Algorithm {
        static CHOICE: OnceLock<Algorithm> = OnceLock::new();
        *CHOICE.get_or_init(|| match std::env::var("FASTPATH_SCAN_ALGORITHM").as_deref() {
            Ok("reduce-then-scan" | "rts") => Algorithm::ReduceThenScan,
            _ => Algorithm::DecoupledFallback,
        })
    }
}

/// Knobs of one device-wide scan; tests use them to force every path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tuning {
    pub algorithm: Algorithm,
    pub max_spins: u32,
    /// Hand tiles out last-first, so that look-backs find silent predecessors and must fall
    /// back (what a GPU without forward progress may do to us).
    pub reverse_tiles: bool,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning { algorithm: Algorithm::from_env(), max_spins: MAX_SPINS, reverse_tiles: false }
    }
}

/// Where a tile program writes.
pub(crate) enum Output<'a> {
    /// `out[i]` belongs to `x[i]` (scans).
    Aligned(&'a GpuTensor),
    /// Survivors packed from the start of `out`, which has `x`'s length (compaction).
    /// Unordered: blocks in any order (falls back to ordered for chunked inputs).
    Packed { out: &'a GpuTensor, unordered: bool },
}

/// One device-wide scan.
pub(crate) struct TileArgs<'a> {
    pub x: &'a GpuTensor,
    /// Second input read alongside x (the compaction mask); x is bound in its place if absent.
    pub aux: Option<&'a GpuTensor>,
    pub output: Output<'a>,
    /// One 32-bit element: receives the sum of all items (the survivor count).
    pub total: &'a GpuTensor,
    pub threshold: f32,
    pub op: u32,
    pub exclusive: bool,
}

#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct TileParams {
    len: u32,
    window_first_tile: u32,
    last_tile: u32,
    mode: u32,
    ticket_slot: u32,
    use_tickets: u32,
    tile_words: u32,
    max_spins: u32,
    reverse_tiles: u32,
    dest_start: u32,
    dest_len: u32,
    skip_outside_dest: u32,
    threshold_bits: u32,
    op: u32,
    exclusive: u32,
    _pad: u32,
}

fn tile_label(items: &Items, subgroups: bool) -> String {
    format!("scan-tile/{}/{}", items.key, if subgroups { "subgroup" } else { "shared" })
}

fn tile_source(items: &Items, subgroups: bool) -> String {
    let vec4s = VEC4_PER_THREAD.to_string();
    let mut subs: Vec<(&str, &str)> = vec![
        ("T", items.elem),
        ("VEC4_PER_THREAD", &vec4s),
        ("SG_PARAMS", if subgroups { SG_PARAMS } else { "" }),
        ("SG_CALL", if subgroups { SG_CALL } else { NO_SG_CALL }),
    ];
    subs.extend_from_slice(items.substitutions);
    let mut pieces = vec![TILE_SCAN];
    pieces.extend_from_slice(items.pieces);
    if subgroups {
        pieces.push(TILE_SUBGROUP);
    } else {
        pieces.extend_from_slice(&[TILE_SHARED, WG_SCAN_SHARED]);
    }
    shader_source(&pieces, &subs)
}

fn spine_label(elem: &str) -> String {
    format!("scan-spine/{elem}")
}

fn spine_source(elem: &str) -> String {
    shader_source(&[SPINE, WG_SCAN_SHARED], &[("T", elem)])
}

/// Every shader a tile program may build: both tile variants, the spine, the state fill.
pub(crate) fn variants(items: &Items) -> Vec<WgslVariant> {
    let mut out: Vec<WgslVariant> = [false, true]
        .into_iter()
        .map(|subgroups| WgslVariant {
            label: tile_label(items, subgroups),
            source: tile_source(items, subgroups),
            entry: "tile_scan".into(),
            uses_subgroups: subgroups,
        })
        .collect();
    out.push(WgslVariant {
        label: spine_label(items.elem),
        source: spine_source(items.elem),
        entry: "spine".into(),
        uses_subgroups: false,
    });
    out.push(fill_variant());
    out
}

fn tile_pipeline(gpu: &Gpu, items: &Items) -> Result<std::sync::Arc<Pipeline>, GpuError> {
    let subgroups = gpu.features().subgroups;
    let label = tile_label(items, subgroups);
    gpu.pipeline_for(&label, || OwnedShaderSpec {
        label: label.clone(),
        source: tile_source(items, subgroups),
        entry: "tile_scan".into(),
        storage: vec![
            Access::ReadOnly,
            Access::ReadOnly,
            Access::ReadWrite,
            Access::ReadWrite,
            Access::ReadWrite,
        ],
    })
}

fn spine_pipeline(gpu: &Gpu, elem: &str) -> Result<std::sync::Arc<Pipeline>, GpuError> {
    let label = spine_label(elem);
    gpu.pipeline_for(&label, || OwnedShaderSpec {
        label: label.clone(),
        source: spine_source(elem),
        entry: "spine".into(),
        storage: vec![Access::ReadWrite, Access::ReadWrite],
    })
}

/// Input windows: whole tiles, each within the largest storage binding.
fn tile_windows(gpu: &Gpu, n: usize) -> Result<Vec<(usize, usize)>, GpuError> {
    let per_binding = (gpu.max_binding_bytes() / 4) as usize;
    let per_window = (per_binding / TILE) * TILE;
    if per_window == 0 {
        return Err(GpuError::Validation {
            context: "planning a device-wide scan".into(),
            message: format!(
                "the largest storage binding ({} bytes) is smaller than one scan tile ({} bytes)",
                gpu.max_binding_bytes(),
                TILE * 4
            ),
        });
    }
    Ok((0..n).step_by(per_window).map(|s| (s, per_window.min(n - s))).collect())
}

/// Records the scan described by `args` into the open batch.
pub(crate) fn run(
    gpu: &Gpu,
    items: &Items,
    args: &TileArgs<'_>,
    tuning: &Tuning,
) -> Result<(), GpuError> {
    let n = args.x.len();
    assert!(n < u32::MAX as usize, "device-wide scans index elements with u32");
    if n == 0 {
        // Nothing to scan: the total (survivor count) is 0.
        return fill_u32(gpu, args.total, 0);
    }
    let windows = tile_windows(gpu, n)?;
    let tiles: Vec<u32> = windows.iter().map(|&(_, c)| c.div_ceil(TILE) as u32).collect();
    let total_tiles: u32 = tiles.iter().sum();
    let first_tiles: Vec<u32> = tiles
        .iter()
        .scan(0u32, |acc, &t| {
            let first = *acc;
            *acc += t;
            Some(first)
        })
        .collect();
    let window_count = windows.len() as u32;
    let pipeline = tile_pipeline(gpu, items)?;

    let base = TileParams {
        last_tile: total_tiles - 1,
        tile_words: window_count,
        max_spins: tuning.max_spins,
        reverse_tiles: tuning.reverse_tiles as u32,
        dest_len: u32::MAX,
        threshold_bits: args.threshold.to_bits(),
        op: args.op,
        exclusive: args.exclusive as u32,
        ..Default::default()
    };
    let dispatch = |w: usize, dest: Option<usize>, params: TileParams, state: &GpuTensor| {
        let (start, count) = windows[w];
        let x = args.x.binding_range(start, count);
        let aux = args.aux.map_or(x, |a| a.binding_range(start, count));
        let (out, params) = match (&args.output, dest) {
            (Output::Aligned(out), _) => (out.binding_range(start, count), params),
            (Output::Packed { out, .. }, Some(d)) => {
                let (dest_start, dest_len) = windows[d];
                let params = TileParams {
                    dest_start: dest_start as u32,
                    dest_len: dest_len as u32,
                    ..params
                };
                (out.binding_range(dest_start, dest_len), params)
            }
            (Output::Packed { out, .. }, None) => (out.binding_range(0, n), params),
        };
        let params = TileParams {
            len: count as u32,
            window_first_tile: first_tiles[w],
            ticket_slot: w as u32,
            ..params
        };
        gpu.dispatch(&Dispatch {
            pipeline: &pipeline,
            params: bytemuck::bytes_of(&params),
            bindings: &[x, aux, out, state.binding(), args.total.binding()],
            workgroups: gpu.grid(tiles[w]),
        })
    };
    let packed = matches!(args.output, Output::Packed { .. });
    // Packed outputs of a single window are bound whole; chunked ones window by window.
    let dest = |d: usize| if packed && windows.len() > 1 { Some(d) } else { None };

    // Unordered compaction of one window: blocks reserve their slots with an atomic on the total
    // (one tile is ordered anyway, and the ordered path needs no clearing dispatch).
    if let Output::Packed { unordered: true, .. } = args.output
        && windows.len() == 1
        && total_tiles > 1
    {
        fill_u32(gpu, args.total, 0)?;
        let unused_state = gpu.empty(DType::U32, vec![1])?;
        let params = TileParams { mode: MODE_UNORDERED, ..base };
        return dispatch(0, None, params, &unused_state);
    }

    // Per window: its ticket counter; per tile: two words of published value.
    let state = gpu.empty(DType::U32, vec![(window_count + 2 * total_tiles) as usize])?;
    match tuning.algorithm {
        Algorithm::DecoupledFallback => {
            // One tile needs no tickets and never reads the state: skip the clearing dispatch.
            let use_tickets = total_tiles > 1;
            if use_tickets {
                fill_u32(gpu, &state, 0)?;
            }
            let params =
                TileParams { mode: MODE_LOOKBACK, use_tickets: use_tickets as u32, ..base };
            for w in 0..windows.len() {
                dispatch(w, dest(w), params, &state)?;
            }
        }
        Algorithm::ReduceThenScan => {
            let params = TileParams { mode: MODE_REDUCE, ..base };
            for w in 0..windows.len() {
                dispatch(w, dest(w), params, &state)?;
            }
            let spine = spine_pipeline(gpu, items.elem)?;
            let spine_params: [u32; 4] = [total_tiles, window_count, 0, 0];
            gpu.dispatch(&Dispatch {
                pipeline: &spine,
                params: bytemuck::bytes_of(&spine_params),
                bindings: &[state.binding(), args.total.binding()],
                workgroups: [1, 1, 1],
            })?;
            let params =
                TileParams { mode: MODE_FROM_STATE, skip_outside_dest: packed as u32, ..base };
            for w in 0..windows.len() {
                dispatch(w, dest(w), params, &state)?;
            }
        }
    }
    // Chunked compaction: survivors of window w ranked into an earlier window d of y.
    if packed && windows.len() > 1 {
        let params = TileParams { mode: MODE_FROM_STATE, skip_outside_dest: 1, ..base };
        for w in 1..windows.len() {
            for d in 0..w {
                dispatch(w, Some(d), params, &state)?;
            }
        }
    }
    Ok(())
}
