//! GPU selection without a full sort: radix select (select.wgsl) for MEDIAN_SELECT,
//! PERCENTILE_SELECT and TOPK_SELECT's threshold, then for top-k an ordered compaction of the
//! winners (topk_compact.wgsl) and a sort of just those k.
//!
//! Dispatches: 1 state reset + 4 × (histogram per window + 1 select step) = 9 for median
//! and percentile (the value is computed by the last step, on the device). Top-k adds the
//! compaction's count, scan and scatter (3) and the winners' sort: one workgroup bitonic sort
//! for k ≤ 4096 (2048 with 16 KiB of workgroup memory), the radix sort above that. An input of
//! at most 4096 elements skips all of it: one workgroup sorts it and keeps the first k.
//! Traffic: four reads of the input for the selection, two more for top-k's compaction.
//!
//! **Chunking.** Histograms run once per binding window; the compaction runs over windows of
//! whole 4096-element tiles and writes its winners window by window of the output.

use fastpath_gpu::{Access, DType, Dispatch, Gpu, GpuError, GpuTensor};

use super::bitonic::{bitonic_sort_small, bitonic_top_k_small, small_sort_capacity};
use super::radix::{KeyMap, Payload, RadixJob, radix_sort};
use super::shaders::{SELECT, Scan, Shader, TOPK_COMPACT, bytes, label, pipeline};
use crate::kernel::WgslVariant;

const STATE_WORDS: usize = 2056;
const MODE_THRESHOLD: u32 = 0;
const MODE_MEDIAN: u32 = 1;
const MODE_PERCENTILE: u32 = 2;
const COMPACT_TILE: usize = 4096;
/// Histogram workgroups per window: enough to fill a large GPU, few enough that merging the
/// privatised histograms (256 atomics each) stays cheap.
const MAX_HISTOGRAM_WORKGROUPS: usize = 1024;
/// Each histogram thread reads at least this many elements.
const MIN_ELEMENTS_PER_THREAD: usize = 16;

fn select_shader(entry: &'static str, scan: Scan) -> Shader {
    Shader::new(
        SELECT,
        "select",
        entry,
        "radix",
        &[],
        vec![Access::ReadOnly, Access::ReadWrite, Access::ReadWrite],
        scan,
    )
}

fn compact_shader(entry: &'static str, scan: Scan) -> Shader {
    Shader::new(
        TOPK_COMPACT,
        "topk",
        entry,
        "compact",
        &[],
        vec![
            Access::ReadOnly,
            Access::ReadOnly,
            Access::ReadWrite,
            Access::ReadWrite,
            Access::ReadWrite,
        ],
        scan,
    )
}

/// Shaders of the selection (median, percentile, top-k threshold).
pub(crate) fn select_variants() -> Vec<WgslVariant> {
    let mut out = Vec::new();
    for scan in [Scan::Shared, Scan::Subgroup] {
        for entry in ["select_init", "select_histogram", "select_step"] {
            out.push(select_shader(entry, scan).variant());
        }
    }
    out
}

/// Shaders of top-k's compaction.
pub(crate) fn compact_variants() -> Vec<WgslVariant> {
    let mut out = Vec::new();
    for scan in [Scan::Shared, Scan::Subgroup] {
        for entry in ["count_winners", "scan_counts", "scatter_winners"] {
            out.push(compact_shader(entry, scan).variant());
        }
    }
    out
}

#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct SelectParams {
    len: u32,
    level: u32,
    key_mode: u32,
    track_min: u32,
    rank: u32,
    mode: u32,
    fraction: f32,
    _p0: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct CompactParams {
    len: u32,
    tile_base: u32,
    window_start: u32,
    window_tiles: u32,
    tiles: u32,
    out_start: u32,
    out_len: u32,
    key_mode: u32,
}

/// Records the four select levels for `rank` over the keys of `x` (through `key_mode`);
/// returns the state buffer (select.wgsl's layout) and the scalar result slot.
fn radix_select(
    gpu: &Gpu,
    x: &GpuTensor,
    key_mode: KeyMap,
    rank: usize,
    mode: u32,
    fraction: f32,
) -> Result<(GpuTensor, GpuTensor), GpuError> {
    let scan = Scan::for_device(gpu);
    let state = gpu.empty(DType::U32, vec![STATE_WORDS])?;
    let result = gpu.empty(DType::F32, vec![])?;
    let dummy = gpu.empty(DType::U32, vec![4])?;
    let init = pipeline(gpu, &label("select", "select_init", "radix", scan), || {
        select_shader("select_init", scan)
    })?;
    let histogram = pipeline(gpu, &label("select", "select_histogram", "radix", scan), || {
        select_shader("select_histogram", scan)
    })?;
    let step = pipeline(gpu, &label("select", "select_step", "radix", scan), || {
        select_shader("select_step", scan)
    })?;
    let base = SelectParams {
        key_mode: key_mode as u32,
        track_min: (mode != MODE_THRESHOLD) as u32,
        rank: rank as u32,
        mode,
        fraction,
        ..Default::default()
    };
    gpu.dispatch(&Dispatch {
        pipeline: &init,
        params: bytes(&base),
        bindings: &[dummy.binding(), state.binding(), result.binding()],
        workgroups: [STATE_WORDS.div_ceil(256) as u32, 1, 1],
    })?;
    let n = x.len();
    for level in 0..4u32 {
        for (start, count) in gpu.windows(n, 4) {
            let per_group = 256 * MIN_ELEMENTS_PER_THREAD;
            let groups = count.div_ceil(per_group).clamp(1, MAX_HISTOGRAM_WORKGROUPS);
            let params = SelectParams { len: count as u32, level, ..base };
            gpu.dispatch(&Dispatch {
                pipeline: &histogram,
                params: bytes(&params),
                bindings: &[x.binding_range(start, count), state.binding(), result.binding()],
                workgroups: [groups as u32, 1, 1],
            })?;
        }
        let params = SelectParams { level, ..base };
        gpu.dispatch(&Dispatch {
            pipeline: &step,
            params: bytes(&params),
            bindings: &[dummy.binding(), state.binding(), result.binding()],
            workgroups: [1, 1, 1],
        })?;
    }
    Ok((state, result))
}

/// Records the order statistic of 0-based `rank` of f32 `x` (n ≥ 1) combined with the next one:
/// `fraction` = 0 returns it alone; for the median, 0.5 averages the two; for a percentile,
/// `fraction` interpolates. Any NaN makes the result NaN. Returns a 0-d f32 tensor.
pub(crate) fn order_statistic(
    gpu: &Gpu,
    x: &GpuTensor,
    rank: usize,
    fraction: f32,
    median: bool,
) -> Result<GpuTensor, GpuError> {
    let mode = if median { MODE_MEDIAN } else { MODE_PERCENTILE };
    let (_state, result) = radix_select(gpu, x, KeyMap::F32Sort, rank, mode, fraction)?;
    Ok(result)
}

/// Records TOPK_SELECT: the k largest of f32 `x` (1 ≤ k ≤ n), descending, ties by index.
pub(crate) fn top_k(
    gpu: &Gpu,
    x: &GpuTensor,
    k: usize,
) -> Result<(GpuTensor, GpuTensor), GpuError> {
    let n = x.len();
    assert!(k >= 1 && k <= n);
    if n <= small_sort_capacity(gpu) {
        // One workgroup sorts everything: one dispatch instead of fourteen.
        return bitonic_top_k_small(gpu, x, k);
    }
    let scan = Scan::for_device(gpu);
    let (state, _) = radix_select(gpu, x, KeyMap::F32DescRank, k - 1, MODE_THRESHOLD, 0.0)?;

    // Ordered compaction of the winners, as (rank key, index) pairs. The key output is
    // labelled f32: the final sort turns it into the values in place.
    let winner_keys = gpu.empty(DType::F32, vec![k])?;
    let winner_index = gpu.empty(DType::U32, vec![k])?;
    let binding_elems = (gpu.max_binding_bytes() / 4) as usize;
    let window = if n <= binding_elems { n } else { binding_elems / COMPACT_TILE * COMPACT_TILE };
    let windows: Vec<(usize, usize)> =
        (0..n).step_by(window).map(|s| (s, window.min(n - s))).collect();
    let tiles: usize = windows.iter().map(|&(_, c)| c.div_ceil(COMPACT_TILE)).sum();
    let tile_counts = gpu.empty(DType::U32, vec![2 * tiles])?;
    // Placeholders for bindings a step does not use (distinct, so none is bound writable twice).
    let dummy = gpu.empty(DType::U32, vec![4])?;
    let dummy_b = gpu.empty(DType::U32, vec![4])?;
    let dummy_c = gpu.empty(DType::U32, vec![4])?;
    let count = pipeline(gpu, &label("topk", "count_winners", "compact", scan), || {
        compact_shader("count_winners", scan)
    })?;
    let scan_counts = pipeline(gpu, &label("topk", "scan_counts", "compact", scan), || {
        compact_shader("scan_counts", scan)
    })?;
    let scatter = pipeline(gpu, &label("topk", "scatter_winners", "compact", scan), || {
        compact_shader("scatter_winners", scan)
    })?;
    let base = CompactParams {
        tiles: tiles as u32,
        key_mode: KeyMap::F32DescRank as u32,
        ..Default::default()
    };
    let mut tile_base = 0usize;
    for &(start, len) in &windows {
        let window_tiles = len.div_ceil(COMPACT_TILE);
        let params = CompactParams {
            len: len as u32,
            tile_base: tile_base as u32,
            window_start: start as u32,
            window_tiles: window_tiles as u32,
            ..base
        };
        gpu.dispatch(&Dispatch {
            pipeline: &count,
            params: bytes(&params),
            bindings: &[
                x.binding_range(start, len),
                state.binding(),
                tile_counts.binding(),
                dummy.binding(),
                dummy_b.binding(),
            ],
            workgroups: gpu.grid(window_tiles as u32),
        })?;
        tile_base += window_tiles;
    }
    gpu.dispatch(&Dispatch {
        pipeline: &scan_counts,
        params: bytes(&base),
        bindings: &[
            dummy.binding(),
            state.binding(),
            tile_counts.binding(),
            dummy_b.binding(),
            dummy_c.binding(),
        ],
        workgroups: [1, 1, 1],
    })?;
    let mut tile_base = 0usize;
    for &(start, len) in &windows {
        let window_tiles = len.div_ceil(COMPACT_TILE);
        for (out_start, out_len) in gpu.windows(k, 4) {
            let params = CompactParams {
                len: len as u32,
                tile_base: tile_base as u32,
                window_start: start as u32,
                window_tiles: window_tiles as u32,
                out_start: out_start as u32,
                out_len: out_len as u32,
                ..base
            };
            gpu.dispatch(&Dispatch {
                pipeline: &scatter,
                params: bytes(&params),
                bindings: &[
                    x.binding_range(start, len),
                    state.binding(),
                    tile_counts.binding(),
                    winner_keys.binding_range(out_start, out_len),
                    winner_index.binding_range(out_start, out_len),
                ],
                workgroups: gpu.grid(window_tiles as u32),
            })?;
        }
        tile_base += window_tiles;
    }

    // Order the winners by (rank key, index): distinct pairs, so the order is exact.
    if k <= small_sort_capacity(gpu) {
        bitonic_sort_small(
            gpu,
            &winner_keys,
            &winner_index,
            k,
            KeyMap::Identity,
            KeyMap::F32DescRank,
        )?;
        return Ok((winner_keys, winner_index));
    }
    // Winners are in index order, so the stable radix sort keeps ties by index.
    let sorted = radix_sort(
        gpu,
        &RadixJob {
            keys: &winner_keys,
            payload: Payload::Buffer(&winner_index),
            key_in: KeyMap::Identity,
            key_out: KeyMap::F32DescRank,
            out_len: k,
            out_dtype: DType::F32,
        },
    )?;
    Ok((sorted.keys, sorted.payload.expect("payload requested")))
}

/// Records top-k through a full sort (the routing table's choice when k/n ≥ 0.1): a stable
/// radix sort of the descending rank keys with their indices, keeping the first k.
pub(crate) fn top_k_by_sort(
    gpu: &Gpu,
    x: &GpuTensor,
    k: usize,
) -> Result<(GpuTensor, GpuTensor), GpuError> {
    let sorted = radix_sort(
        gpu,
        &RadixJob {
            keys: x,
            payload: Payload::GlobalIndex,
            key_in: KeyMap::F32DescRank,
            key_out: KeyMap::F32DescRank,
            out_len: k,
            out_dtype: DType::F32,
        },
    )?;
    Ok((sorted.keys, sorted.payload.expect("payload requested")))
}
