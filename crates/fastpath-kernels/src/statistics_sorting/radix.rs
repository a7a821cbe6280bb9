//! GPU LSD radix sort: four passes of 8-bit digits, each a reduce-then-scan
//! (GPUSorting's "DeviceRadixSort" structure), so nothing relies on forward progress between
//! workgroups:
//!
//! 1. `upsweep`: per tile, the 256-bin histogram of the pass's digit (one row per tile);
//! 2. `scan_chunk` + `scan_chunks`: tile rows into offsets, chunk by chunk of 64 tiles, then
//!    over chunks (the second is skipped for up to 64 tiles), plus the digit totals;
//! 3. `downsweep`: per tile, a stable in-workgroup ranking (two 4-bit counting sorts), then a
//!    coalesced scatter to digit base + chunk offset + tile offset + local rank.
//!
//! Every histogram and offset access moves whole 1 KiB rows. Twelve dispatches for up to 64
//! tiles (245 760 keys), sixteen above; an input of at most one tile (3840 keys, or 2304 with
//! a payload) is sorted by a single `sort_tile` dispatch. Key transforms are fused
//! into the first load and the last store (f32 sorts cost nothing extra), a payload can be
//! the keys' own indices generated on the fly (top-k's argsort), and the last pass can keep
//! only the first `out_len` keys (top-k through a full sort).
//!
//! **Chunking.** Inputs larger than one storage binding are processed in tile-aligned
//! windows for the histogram and ranking steps. A scatter can land anywhere in the output,
//! so in that case the ranking step writes each key's destination instead, and a plain
//! scatter kernel then moves keys once per (input window, output window) pair — slower, but
//! only reached beyond the binding limit (128 MiB to 4 GiB on real devices).

use fastpath_gpu::{Access, DType, Dispatch, Gpu, GpuError, GpuTensor};

use super::shaders::{
    RADIX_DOWNSWEEP, RADIX_SCAN, RADIX_SCATTER, RADIX_UPSWEEP, Scan, Shader, bytes, label,
    pipeline, wide_workgroup_memory,
};
use crate::kernel::WgslVariant;

/// How keys are read from the input and written to the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyMap {
    /// u32 keys as they are.
    Identity = 0,
    /// f32 bits ↔ ascending sort key (`keys::f32_sort_key`).
    F32Sort = 1,
    /// f32 bits ↔ descending rank key (`keys::f32_desc_rank_key`).
    F32DescRank = 2,
}

/// What travels with the keys.
#[derive(Clone, Copy)]
pub(crate) enum Payload<'a> {
    None,
    /// A u32 tensor as long as the keys.
    Buffer(&'a GpuTensor),
    /// Each key's index in the input (argsort), generated while loading.
    GlobalIndex,
}

impl Payload<'_> {
    fn mode(&self) -> u32 {
        match self {
            Payload::None => 0,
            Payload::Buffer(_) => 1,
            Payload::GlobalIndex => 2,
        }
    }
}

const PAYLOAD_BUFFER: u32 = 1;
const PAYLOAD_LOCAL_INDEX: u32 = 3;

/// Tile shape: keys per thread (256 threads) and whether values travel through workgroup
/// memory. Chosen from the device's workgroup memory: ≥ 32 KiB (Apple, NVIDIA, AMD, Intel,
/// lavapipe) or the 16 KiB WebGPU minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RadixTiles {
    pub keys_per_thread: u32,
    pub values: bool,
}

impl RadixTiles {
    /// Tiles sized for ≥ 32 KiB (`wide`) or 16 KiB of workgroup memory: key (and value)
    /// arrays plus 8.25 KiB of packed counters, 1 KiB of digit offsets and 2 KiB of scan slots.
    /// Odd counts keep the blocked reads free of bank conflicts (GPUSorting uses 15 too).
    pub(crate) fn sized(wide: bool, values: bool) -> RadixTiles {
        let keys_per_thread = match (wide, values) {
            (true, false) => 15,
            (true, true) => 9,
            (false, false) => 3,
            (false, true) => 2,
        };
        RadixTiles { keys_per_thread, values }
    }

    fn all() -> [RadixTiles; 4] {
        [
            Self::sized(true, false),
            Self::sized(true, true),
            Self::sized(false, false),
            Self::sized(false, true),
        ]
    }

    pub(crate) fn tile(self) -> usize {
        256 * self.keys_per_thread as usize
    }

    fn tag(self) -> String {
        format!("kpt{}-{}", self.keys_per_thread, if self.values { "kv" } else { "keys" })
    }

    fn constants(self) -> Vec<(&'static str, String)> {
        let words = self.tile() * if self.values { 2 } else { 1 };
        vec![
            ("KEYS_PER_THREAD", self.keys_per_thread.to_string()),
            ("HAS_VALUES", self.values.to_string()),
            ("TILE_WORDS", words.to_string()),
        ]
    }
}

fn upsweep_shader(t: RadixTiles) -> Shader {
    Shader::new(
        RADIX_UPSWEEP,
        "radix",
        "upsweep",
        &format!("kpt{}", t.keys_per_thread),
        &[("KEYS_PER_THREAD", t.keys_per_thread.to_string())],
        vec![Access::ReadOnly, Access::ReadWrite],
        Scan::None,
    )
}

fn scan_shader(entry: &'static str) -> Shader {
    Shader::new(RADIX_SCAN, "radix", entry, "rows", &[], vec![Access::ReadWrite], Scan::None)
}

/// Tiles per chunk of the two-level tile scan (radix_scan.wgsl's CHUNK_TILES).
const CHUNK_TILES: usize = 64;

fn downsweep_shader(t: RadixTiles, scan: Scan, entry: &'static str) -> Shader {
    Shader::new(
        RADIX_DOWNSWEEP,
        "radix",
        entry,
        &t.tag(),
        &t.constants(),
        vec![
            Access::ReadOnly,
            Access::ReadOnly,
            Access::ReadOnly,
            Access::ReadWrite,
            Access::ReadWrite,
        ],
        scan,
    )
}

fn scatter_shader() -> Shader {
    Shader::new(
        RADIX_SCATTER,
        "radix",
        "scatter",
        "windowed",
        &[],
        vec![
            Access::ReadOnly,
            Access::ReadOnly,
            Access::ReadOnly,
            Access::ReadWrite,
            Access::ReadWrite,
        ],
        Scan::None,
    )
}

/// Every shader the radix sort may build.
pub(crate) fn variants() -> Vec<WgslVariant> {
    let mut out = Vec::new();
    for t in RadixTiles::all() {
        out.push(upsweep_shader(t).variant());
        for scan in [Scan::Shared, Scan::Subgroup] {
            out.push(downsweep_shader(t, scan, "downsweep").variant());
            out.push(downsweep_shader(t, scan, "sort_tile").variant());
        }
    }
    out.push(scan_shader("scan_chunk").variant());
    out.push(scan_shader("scan_chunks").variant());
    out.push(scatter_shader().variant());
    out
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct UpsweepParams {
    len: u32,
    shift: u32,
    tiles: u32,
    tile_base: u32,
    window_tiles: u32,
    key_in: u32,
    _p0: u32,
    _p1: u32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct DownsweepParams {
    len: u32,
    shift: u32,
    tiles: u32,
    tile_base: u32,
    window_tiles: u32,
    window_start: u32,
    key_in: u32,
    key_out: u32,
    payload_mode: u32,
    write_destinations: u32,
    out_len: u32,
    chunks: u32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ScatterParams {
    len: u32,
    out_start: u32,
    out_len: u32,
    key_in: u32,
    key_out: u32,
    payload_mode: u32,
    window_start: u32,
    _p0: u32,
}

/// One sort to record.
pub(crate) struct RadixJob<'a> {
    /// u32 keys, or f32 bits with a transform in `key_in`.
    pub keys: &'a GpuTensor,
    pub payload: Payload<'a>,
    pub key_in: KeyMap,
    pub key_out: KeyMap,
    /// Keep only the first `out_len` sorted elements (≤ the input length).
    pub out_len: usize,
    /// Element type the key output is labelled with.
    pub out_dtype: DType,
}

/// Sorted outputs (`payload` is present when the job had one).
pub(crate) struct Sorted {
    pub keys: GpuTensor,
    pub payload: Option<GpuTensor>,
}

/// Records a stable sort; nothing is read back. The input is left unchanged.
pub(crate) fn radix_sort(gpu: &Gpu, job: &RadixJob<'_>) -> Result<Sorted, GpuError> {
    radix_sort_sized(gpu, job, wide_workgroup_memory(gpu))
}

/// [`radix_sort`] with the tile size chosen explicitly (tests run the 16 KiB tiles too).
pub(crate) fn radix_sort_sized(
    gpu: &Gpu,
    job: &RadixJob<'_>,
    wide: bool,
) -> Result<Sorted, GpuError> {
    let n = job.keys.len();
    assert!(job.out_len <= n, "out_len beyond the input");
    let has_payload = !matches!(job.payload, Payload::None);
    let out_keys = gpu.empty(job.out_dtype, vec![job.out_len])?;
    let out_payload =
        if has_payload { Some(gpu.empty(DType::U32, vec![job.out_len])?) } else { None };
    if job.out_len == 0 {
        return Ok(Sorted { keys: out_keys, payload: out_payload });
    }
    let binding_elems = (gpu.max_binding_bytes() / 4) as usize;
    let windowed = n > binding_elems;
    // The windowed ranking step carries each key's local index as its value.
    let tiles = RadixTiles::sized(wide, has_payload || windowed);
    let tile = tiles.tile();
    let scan = Scan::for_device(gpu);
    // Unused bindings get placeholders: one read-only, one writable (a buffer may not be
    // bound both ways in one dispatch).
    let dummy = gpu.empty(DType::U32, vec![4])?;
    let dummy_rw = gpu.empty(DType::U32, vec![4])?;
    let payload_in = match job.payload {
        Payload::Buffer(p) => p,
        _ => &dummy,
    };

    if !windowed && n <= tile {
        let pipe = pipeline(gpu, &label("radix", "sort_tile", &tiles.tag(), scan), || {
            downsweep_shader(tiles, scan, "sort_tile")
        })?;
        let params = DownsweepParams {
            len: n as u32,
            shift: 0,
            tiles: 1,
            tile_base: 0,
            window_tiles: 1,
            window_start: 0,
            key_in: job.key_in as u32,
            key_out: job.key_out as u32,
            payload_mode: job.payload.mode(),
            write_destinations: 0,
            out_len: job.out_len as u32,
            chunks: 1,
        };
        gpu.dispatch(&Dispatch {
            pipeline: &pipe,
            params: bytes(&params),
            bindings: &[
                job.keys.binding(),
                payload_in.binding(),
                dummy.binding(),
                out_keys.binding(),
                out_payload.as_ref().unwrap_or(&dummy_rw).binding(),
            ],
            workgroups: [1, 1, 1],
        })?;
        return Ok(Sorted { keys: out_keys, payload: out_payload });
    }

    // Tile-aligned input windows, each within one binding.
    let window = if windowed { (binding_elems / tile) * tile } else { n };
    assert!(window > 0, "the storage binding limit is smaller than one radix tile");
    let windows: Vec<(usize, usize)> =
        (0..n).step_by(window).map(|s| (s, window.min(n - s))).collect();
    let tiles_total: usize = windows.iter().map(|&(_, c)| c.div_ceil(tile)).sum();
    let chunks = tiles_total.div_ceil(CHUNK_TILES);
    let hist_words = 256 * (tiles_total + chunks + 1);
    if hist_words as u64 * 4 > gpu.max_binding_bytes() {
        return Err(GpuError::Validation {
            context: "radix sort".into(),
            message: format!(
                "{n} keys need {hist_words} tile counters, more than one storage binding holds"
            ),
        });
    }
    let tile_hist = gpu.empty(DType::U32, vec![hist_words])?;
    let buf_a = gpu.empty(DType::U32, vec![n])?;
    let buf_b = gpu.empty(DType::U32, vec![n])?;
    let (pay_a, pay_b) = if has_payload {
        (Some(gpu.empty(DType::U32, vec![n])?), Some(gpu.empty(DType::U32, vec![n])?))
    } else {
        (None, None)
    };
    let destinations = if windowed { Some(gpu.empty(DType::U32, vec![n])?) } else { None };

    let upsweep = pipeline(
        gpu,
        &label("radix", "upsweep", &format!("kpt{}", tiles.keys_per_thread), Scan::None),
        || upsweep_shader(tiles),
    )?;
    let scan_chunk = pipeline(gpu, &label("radix", "scan_chunk", "rows", Scan::None), || {
        scan_shader("scan_chunk")
    })?;
    let scan_chunks = pipeline(gpu, &label("radix", "scan_chunks", "rows", Scan::None), || {
        scan_shader("scan_chunks")
    })?;
    let downsweep = pipeline(gpu, &label("radix", "downsweep", &tiles.tag(), scan), || {
        downsweep_shader(tiles, scan, "downsweep")
    })?;
    let scatter = if windowed {
        Some(pipeline(gpu, &label("radix", "scatter", "windowed", Scan::None), scatter_shader)?)
    } else {
        None
    };

    for pass in 0..4u32 {
        let (src, src_pay) = match pass {
            0 => (job.keys, payload_in),
            1 | 3 => (&buf_a, pay_a.as_ref().unwrap_or(&dummy)),
            _ => (&buf_b, pay_b.as_ref().unwrap_or(&dummy)),
        };
        let last = pass == 3;
        let (dst, dst_pay) = match pass {
            0 | 2 => (&buf_a, pay_a.as_ref().unwrap_or(&dummy_rw)),
            1 => (&buf_b, pay_b.as_ref().unwrap_or(&dummy_rw)),
            _ => (&out_keys, out_payload.as_ref().unwrap_or(&dummy_rw)),
        };
        let dst_len = if last { job.out_len } else { n };
        let key_in = if pass == 0 { job.key_in } else { KeyMap::Identity } as u32;
        let key_out = if last { job.key_out } else { KeyMap::Identity } as u32;
        let payload_mode = match (pass, has_payload) {
            (0, _) => job.payload.mode(),
            (_, true) => PAYLOAD_BUFFER,
            (_, false) => 0,
        };
        let shift = pass * 8;

        let mut tile_base = 0usize;
        for &(start, count) in &windows {
            let window_tiles = count.div_ceil(tile);
            let params = UpsweepParams {
                len: count as u32,
                shift,
                tiles: tiles_total as u32,
                tile_base: tile_base as u32,
                window_tiles: window_tiles as u32,
                key_in,
                _p0: 0,
                _p1: 0,
            };
            gpu.dispatch(&Dispatch {
                pipeline: &upsweep,
                params: bytes(&params),
                bindings: &[src.binding_range(start, count), tile_hist.binding()],
                workgroups: gpu.grid(window_tiles as u32),
            })?;
            tile_base += window_tiles;
        }
        let scan_params: [u32; 4] = [tiles_total as u32, chunks as u32, 0, 0];
        gpu.dispatch(&Dispatch {
            pipeline: &scan_chunk,
            params: bytes(&scan_params),
            bindings: &[tile_hist.binding()],
            workgroups: gpu.grid(chunks as u32),
        })?;
        if chunks > 1 {
            gpu.dispatch(&Dispatch {
                pipeline: &scan_chunks,
                params: bytes(&scan_params),
                bindings: &[tile_hist.binding()],
                workgroups: [1, 1, 1],
            })?;
        }
        let mut tile_base = 0usize;
        for &(start, count) in &windows {
            let window_tiles = count.div_ceil(tile);
            let params = DownsweepParams {
                len: count as u32,
                shift,
                tiles: tiles_total as u32,
                tile_base: tile_base as u32,
                window_tiles: window_tiles as u32,
                window_start: start as u32,
                key_in,
                key_out,
                payload_mode: if windowed { PAYLOAD_LOCAL_INDEX } else { payload_mode },
                write_destinations: windowed as u32,
                out_len: dst_len as u32,
                chunks: chunks as u32,
            };
            let (out_k, out_p) = match &destinations {
                Some(d) => (d.binding_range(start, count), dummy_rw.binding()),
                None => (dst.binding(), dst_pay.binding()),
            };
            let pay_binding =
                if windowed { dummy.binding() } else { src_pay.binding_range(start, count) };
            gpu.dispatch(&Dispatch {
                pipeline: &downsweep,
                params: bytes(&params),
                bindings: &[
                    src.binding_range(start, count),
                    pay_binding,
                    tile_hist.binding(),
                    out_k,
                    out_p,
                ],
                workgroups: gpu.grid(window_tiles as u32),
            })?;
            tile_base += window_tiles;
        }
        if let (Some(scatter), Some(dests)) = (&scatter, &destinations) {
            for &(start, count) in &windows {
                for (out_start, out_count) in gpu.windows(dst_len, 4) {
                    let params = ScatterParams {
                        len: count as u32,
                        out_start: out_start as u32,
                        out_len: out_count as u32,
                        key_in,
                        key_out,
                        payload_mode,
                        window_start: start as u32,
                        _p0: 0,
                    };
                    let pay_in = if payload_mode == PAYLOAD_BUFFER {
                        src_pay.binding_range(start, count)
                    } else {
                        dummy.binding()
                    };
                    let pay_out = if has_payload {
                        dst_pay.binding_range(out_start, out_count)
                    } else {
                        dummy_rw.binding()
                    };
                    gpu.dispatch(&Dispatch {
                        pipeline: scatter,
                        params: bytes(&params),
                        bindings: &[
                            src.binding_range(start, count),
                            pay_in,
                            dests.binding_range(start, count),
                            dst.binding_range(out_start, out_count),
                            pay_out,
                        ],
                        workgroups: gpu.grid(count.div_ceil(256) as u32),
                    })?;
                }
            }
        }
    }
    Ok(Sorted { keys: out_keys, payload: out_payload })
}
