//! GPU bitonic sort, in place: blocks of BLOCK elements are sorted in workgroup memory
//! (`sort_block`), then every merge level above BLOCK runs its large strides as global
//! compare-exchange steps (`global_step`, one dispatch each) and finishes the strides below
//! BLOCK in workgroup memory (`merge_block`).
//!
//! BLOCK is 8192 keys (4096 key-value pairs) with ≥ 32 KiB of workgroup memory, half that
//! with 16 KiB; so every n ≤ 8192 is a single dispatch and the routing table's largest
//! bitonic size, 32768, takes six. Dispatches for n = 2^m > BLOCK:
//! 1 + Σ_{L=2·BLOCK..n} (log2(L/BLOCK) global steps + 1 merge).
//!
//! **Chunking.** Past the binding limit the array is split into power-of-two windows
//! (multiples of BLOCK): block kernels run per window, and a global step whose pairs cross
//! windows binds the two windows it pairs (`two_windows`), one dispatch per window pair.

use fastpath_gpu::{Access, DType, Dispatch, Gpu, GpuError, GpuTensor};

use super::radix::KeyMap;
use super::shaders::{BITONIC, Scan, Shader, bytes, label, pipeline, wide_workgroup_memory};
use crate::kernel::WgslVariant;

/// Elements one workgroup sorts in workgroup memory.
pub(crate) fn block_size(wide: bool, values: bool) -> usize {
    match (wide, values) {
        (true, false) => 8192,
        (true, true) | (false, false) => 4096,
        (false, true) => 2048,
    }
}

fn tag(block: usize, values: bool) -> String {
    format!("b{block}-{}", if values { "kv" } else { "keys" })
}

fn shader(block: usize, values: bool, entry: &'static str) -> Shader {
    let words = block * if values { 2 } else { 1 };
    Shader::new(
        BITONIC,
        "bitonic",
        entry,
        &tag(block, values),
        &[
            ("BLOCK", block.to_string()),
            ("HAS_VALUES", values.to_string()),
            ("BLOCK_WORDS", words.to_string()),
        ],
        vec![Access::ReadWrite; 4],
        Scan::None,
    )
}

/// Every shader the bitonic sort may build.
pub(crate) fn variants(values: bool) -> Vec<WgslVariant> {
    let mut out = Vec::new();
    for wide in [true, false] {
        let block = block_size(wide, values);
        for entry in ["sort_block", "merge_block", "global_step"] {
            out.push(shader(block, values, entry).variant());
        }
    }
    out
}

#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    len: u32,
    sort_size: u32,
    level: u32,
    stride: u32,
    flip: u32,
    two_windows: u32,
    key_in: u32,
    key_out: u32,
    values_iota: u32,
    out_len: u32,
    _p0: u32,
    _p1: u32,
}

struct Bitonic<'a> {
    gpu: &'a Gpu,
    keys: &'a GpuTensor,
    values: Option<&'a GpuTensor>,
    /// Placeholders for unused bindings (three, so no buffer is bound writable twice).
    dummies: [GpuTensor; 3],
    block: usize,
    tag: String,
}

impl Bitonic<'_> {
    fn pipe(
        &self,
        entry: &'static str,
    ) -> Result<std::sync::Arc<fastpath_gpu::Pipeline>, GpuError> {
        let values = self.values.is_some();
        let block = self.block;
        pipeline(self.gpu, &label("bitonic", entry, &self.tag, Scan::None), || {
            shader(block, values, entry)
        })
    }

    fn values_range(&self, start: usize, count: usize, dummy: usize) -> fastpath_gpu::Binding<'_> {
        match self.values {
            Some(v) => v.binding_range(start, count),
            None => self.dummies[dummy].binding(),
        }
    }

    /// Records one kernel over `[start, start + count)` (block kernels and in-window steps).
    fn dispatch(
        &self,
        entry: &'static str,
        (start, count): (usize, usize),
        params: Params,
        workgroups: usize,
    ) -> Result<(), GpuError> {
        let pipe = self.pipe(entry)?;
        self.gpu.dispatch(&Dispatch {
            pipeline: &pipe,
            params: bytes(&params),
            bindings: &[
                self.keys.binding_range(start, count),
                self.values_range(start, count, 0),
                self.dummies[1].binding(),
                self.dummies[2].binding(),
            ],
            workgroups: self.gpu.grid(workgroups as u32),
        })
    }

    fn dispatch_two(
        &self,
        lo: (usize, usize),
        hi: (usize, usize),
        params: Params,
    ) -> Result<(), GpuError> {
        let pipe = self.pipe("global_step")?;
        self.gpu.dispatch(&Dispatch {
            pipeline: &pipe,
            params: bytes(&params),
            bindings: &[
                self.keys.binding_range(lo.0, lo.1),
                self.values_range(lo.0, lo.1, 0),
                self.keys.binding_range(hi.0, hi.1),
                self.values_range(hi.0, hi.1, 1),
            ],
            workgroups: self.gpu.grid(lo.1.div_ceil(256) as u32),
        })
    }
}

/// Records an in-place ascending sort of `keys` (length 0 or a power of two), moving
/// `values` alike. Keys are read through `key_map` (both ways); with values, equal keys end
/// up ordered by value.
pub(crate) fn bitonic_sort(
    gpu: &Gpu,
    keys: &GpuTensor,
    values: Option<&GpuTensor>,
    key_map: KeyMap,
) -> Result<(), GpuError> {
    bitonic_sort_sized(gpu, keys, values, key_map, wide_workgroup_memory(gpu))
}

/// [`bitonic_sort`] with the block size chosen explicitly (tests run the 16 KiB blocks too).
pub(crate) fn bitonic_sort_sized(
    gpu: &Gpu,
    keys: &GpuTensor,
    values: Option<&GpuTensor>,
    key_map: KeyMap,
    wide: bool,
) -> Result<(), GpuError> {
    let n = keys.len();
    if n <= 1 {
        return Ok(());
    }
    assert!(n.is_power_of_two(), "bitonic sort needs a power-of-two length");
    let block = block_size(wide, values.is_some());
    let b = Bitonic {
        gpu,
        keys,
        values,
        dummies: dummies(gpu)?,
        block,
        tag: tag(block, values.is_some()),
    };
    let km = key_map as u32;
    let base = Params { key_in: km, key_out: km, ..Default::default() };
    if n <= block {
        let params = Params { len: n as u32, sort_size: n as u32, ..base };
        return b.dispatch("sort_block", (0, n), params, 1);
    }
    // Power-of-two windows, each within one binding and a multiple of BLOCK.
    let binding_elems = (gpu.max_binding_bytes() / 4) as usize;
    let window = if n <= binding_elems { n } else { 1 << binding_elems.ilog2() };
    assert!(window >= block, "the storage binding limit is smaller than one bitonic block");
    let windows: Vec<(usize, usize)> = (0..n).step_by(window).map(|s| (s, window)).collect();
    let blocks_per_window = window / block;
    for &w in &windows {
        let params = Params { len: window as u32, sort_size: block as u32, ..base };
        b.dispatch("sort_block", w, params, blocks_per_window)?;
    }
    let mut level = 2 * block;
    while level <= n {
        // Flip step (stride level/2 in the mirror pairing), then half-cleaners down to BLOCK.
        let mut steps = vec![(true, level / 2)];
        let mut s = level / 4;
        while s >= block {
            steps.push((false, s));
            s /= 2;
        }
        for (flip, stride) in steps {
            let params =
                Params { level: level as u32, stride: stride as u32, flip: flip as u32, ..base };
            if stride < window {
                // Pairs stay inside a window.
                for &w in &windows {
                    let p = Params { len: window as u32, ..params };
                    b.dispatch("global_step", w, p, (window / 2).div_ceil(256))?;
                }
            } else {
                // Window w pairs with the window holding its partners (the mirror window for a
                // flip, the one `stride` further for a half-cleaner).
                let span = if flip { level / window } else { 2 * stride / window };
                for (i, &lo) in windows.iter().enumerate() {
                    let in_lower_half = (i % span) < span / 2;
                    if !in_lower_half {
                        continue;
                    }
                    let partner =
                        if flip { i - i % span + (span - 1 - i % span) } else { i + span / 2 };
                    let p = Params { len: window as u32, two_windows: 1, ..params };
                    b.dispatch_two(lo, windows[partner], p)?;
                }
            }
        }
        for &w in &windows {
            let params = Params { len: window as u32, ..base };
            b.dispatch("merge_block", w, params, blocks_per_window)?;
        }
        level *= 2;
    }
    Ok(())
}

/// Sorts the first `len` ≤ BLOCK (key-value) pairs in one workgroup, padding to the next power
/// of two; keys are read with `key_in` and written with `key_out` (top-k's winners: rank
/// keys in, f32 values out).
pub(crate) fn bitonic_sort_small(
    gpu: &Gpu,
    keys: &GpuTensor,
    values: &GpuTensor,
    len: usize,
    key_in: KeyMap,
    key_out: KeyMap,
) -> Result<(), GpuError> {
    let wide = wide_workgroup_memory(gpu);
    let block = block_size(wide, true);
    assert!(len <= block);
    if len == 0 {
        return Ok(());
    }
    let b = Bitonic {
        gpu,
        keys,
        values: Some(values),
        dummies: dummies(gpu)?,
        block,
        tag: tag(block, true),
    };
    let params = Params {
        len: len as u32,
        sort_size: len.next_power_of_two() as u32,
        key_in: key_in as u32,
        key_out: key_out as u32,
        ..Default::default()
    };
    b.dispatch("sort_block", (0, len), params, 1)
}

/// Largest `len` [`bitonic_sort_small`] takes on this device.
pub(crate) fn small_sort_capacity(gpu: &Gpu) -> usize {
    block_size(wide_workgroup_memory(gpu), true)
}

fn dummies(gpu: &Gpu) -> Result<[GpuTensor; 3], GpuError> {
    Ok([
        gpu.empty(DType::U32, vec![4])?,
        gpu.empty(DType::U32, vec![4])?,
        gpu.empty(DType::U32, vec![4])?,
    ])
}

/// Top-k of an input of at most one block (`n` ≤ [`small_sort_capacity`]) in one dispatch:
/// the (rank key, index) pairs sorted in workgroup memory, the first k written out as values
/// and indices. The input is not modified.
pub(crate) fn bitonic_top_k_small(
    gpu: &Gpu,
    x: &GpuTensor,
    k: usize,
) -> Result<(GpuTensor, GpuTensor), GpuError> {
    let n = x.len();
    let block = small_sort_capacity(gpu);
    assert!(k >= 1 && k <= n && n <= block);
    let values = gpu.empty(DType::F32, vec![k])?;
    let indices = gpu.empty(DType::U32, vec![k])?;
    let dummy = gpu.empty(DType::U32, vec![4])?;
    let pipe =
        pipeline(gpu, &label("bitonic", "sort_block", &tag(block, true), Scan::None), || {
            shader(block, true, "sort_block")
        })?;
    let params = Params {
        len: n as u32,
        sort_size: n.next_power_of_two() as u32,
        key_in: KeyMap::F32DescRank as u32,
        key_out: KeyMap::F32DescRank as u32,
        values_iota: 1,
        out_len: k as u32,
        ..Default::default()
    };
    gpu.dispatch(&Dispatch {
        pipeline: &pipe,
        params: bytes(&params),
        bindings: &[x.binding(), dummy.binding(), values.binding(), indices.binding()],
        workgroups: [1, 1, 1],
    })?;
    Ok((values, indices))
}
