//! Catalog domain `compaction` (COMPACT_IF, COMPACT_MASK) and the extra FUSED_SCAN_COMPACT:
//! the kept elements of x written densely to y[0..count) in their original order, with the
//! count as a 0-d u32. y has capacity n; what lies beyond count is unspecified ("left
//! untouched": the GPU does not write it).
//!
//! GPU: one pass of the device-wide tile scan ([`crate::scans::engine`]) over keep flags —
//! predicate or mask evaluated on load, flags scanned in the tile, the tile's output offset
//! found by decoupled look-back (or reduce-then-scan), survivors packed in workgroup memory and
//! written out with coalesced stores (CUB's two-phase scatter; devices with less than 18.4 KiB
//! of workgroup memory scatter straight from registers instead). The count is written by the
//! last tile, so no host round trip happens at all: the caller reads
//! `count` and then `y[0..count)`. COMPACT_IF is therefore already the fused kernel; the
//! FUSED_SCAN_COMPACT entry adds the unordered mode, where each tile reserves its output block
//! with one atomic add (blocks in any order, elements inside a block in order) — for chunked
//! inputs it runs ordered, which is one of the allowed answers.
//!
//! CPU: count kept elements per 64 Ki chunk (parallel), prefix the counts, then every chunk
//! copies its survivors into its own slice of y (parallel), branch-free through a small
//! stack buffer. Untouched pages of y past the survivors are never faulted in.
//!
//! Predicates: x op threshold with op in gt, ge, lt, le, eq, ne; every comparison with NaN is
//! false except ne (MAP_COMPARE's rule); -0 == +0; subnormals compare exactly (the GPU compares
//! order-preserving integer keys, immune to flush-to-zero and finite-math assumptions).
//! Masks: any non-zero u32 keeps. Survivors are copied bit for bit.

#[cfg(test)]
mod tests;

use fastpath_gpu::{DType, Gpu, GpuTensor};
use rayon::prelude::*;

use crate::array::{ArgMeta, HostArray};
use crate::cpu::chunk_len;
use crate::error::KernelError;
use crate::expected::Expected;
use crate::kernel::{Cost, Kernel, WgslVariant, leading_len};
use crate::params::Params;
use crate::scans::check_u32_indexable;
use crate::scans::engine::{self, Items, Output, TileArgs, Tuning};

pub(crate) fn kernels() -> Vec<&'static dyn Kernel> {
    vec![&CompactIf, &CompactMask, &FusedScanCompact]
}

const ITEMS_COMPACT: &str = include_str!("items_compact.wgsl");
const SCATTER_DIRECT: &str = include_str!("compact_scatter_direct.wgsl");
const SCATTER_STAGED: &str = include_str!("compact_scatter_staged.wgsl");

const PREDICATE: &[(&str, &str)] = &[("KEEP", "keep_predicate")];
const MASK: &[(&str, &str)] = &[("KEEP", "keep_mask")];
const PREDICATE_DIRECT: Items = Items {
    key: "compact-predicate-direct",
    pieces: &[ITEMS_COMPACT, SCATTER_DIRECT],
    elem: "u32",
    substitutions: PREDICATE,
};
const PREDICATE_STAGED: Items = Items {
    key: "compact-predicate-staged",
    pieces: &[ITEMS_COMPACT, SCATTER_STAGED],
    elem: "u32",
    substitutions: PREDICATE,
};
const MASK_DIRECT: Items = Items {
    key: "compact-mask-direct",
    pieces: &[ITEMS_COMPACT, SCATTER_DIRECT],
    elem: "u32",
    substitutions: MASK,
};
const MASK_STAGED: Items = Items {
    key: "compact-mask-staged",
    pieces: &[ITEMS_COMPACT, SCATTER_STAGED],
    elem: "u32",
    substitutions: MASK,
};

/// How survivors reach y.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scatter {
    /// Staged where the device has the workgroup memory for it, direct elsewhere.
    Auto,
    /// Each survivor stored straight to its slot.
    Direct,
    /// Survivors packed in workgroup memory, then copied out with coalesced stores.
    Staged,
}

/// Workgroup memory of the staged variant: the packed tile plus the tile scan's own scratch
/// (at most 2 KiB, in the subgroup-free variant).
const STAGED_WORKGROUP_BYTES: u32 = (engine::TILE * 4) as u32 + 2048 + 64;

impl Scatter {
    fn resolve(self, gpu: &Gpu) -> Scatter {
        match self {
            Scatter::Auto
                if gpu.limits().max_compute_workgroup_storage_size >= STAGED_WORKGROUP_BYTES =>
            {
                Scatter::Staged
            }
            Scatter::Auto => Scatter::Direct,
            other => other,
        }
    }
}

fn variants_of(pair: [&Items; 2]) -> Vec<WgslVariant> {
    let mut v = engine::variants(pair[0]);
    v.extend(engine::variants(pair[1]).into_iter().filter(|v| v.label.starts_with("scan-tile")));
    v
}

// ---------------------------------------------------------------- predicates

/// The comparison of COMPACT_IF / FUSED_SCAN_COMPACT (codes match items_compact.wgsl).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CompareOp {
    Gt = 0,
    Ge = 1,
    Lt = 2,
    Le = 3,
    Eq = 4,
    Ne = 5,
}

impl CompareOp {
    pub(crate) fn from_params(params: &Params) -> CompareOp {
        match params.enum_value("op") {
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            other => unreachable!("the contract's op values are validated, got {other}"),
        }
    }
}

/// Keep flags (0/1) of a block: one loop per operator so each one vectorises.
fn predicate_flags(op: CompareOp, t: f32, x: &[f32], flags: &mut [u8]) {
    macro_rules! fill {
        ($cmp:tt) => {
            for (f, &v) in flags.iter_mut().zip(x) {
                *f = (v $cmp t) as u8;
            }
        };
    }
    match op {
        CompareOp::Gt => fill!(>),
        CompareOp::Ge => fill!(>=),
        CompareOp::Lt => fill!(<),
        CompareOp::Le => fill!(<=),
        CompareOp::Eq => fill!(==),
        CompareOp::Ne => fill!(!=),
    }
}

fn mask_flags(mask: &[u32], flags: &mut [u8]) {
    for (f, &m) in flags.iter_mut().zip(mask) {
        *f = (m != 0) as u8;
    }
}

// ---------------------------------------------------------------- CPU

/// Elements per block of keep flags: small enough for the stack and L1.
const BLOCK: usize = 1024;

/// Order-preserving compaction. `flags(start, out)` writes the keep flags of
/// `x[start..start + out.len()]`. Returns y (length n, zero past the survivors) and the count.
fn compact_cpu<F>(x: &[f32], flags: F) -> (Vec<f32>, usize)
where
    F: Fn(usize, &mut [u8]) + Sync,
{
    let n = x.len();
    let chunk = chunk_len(n);
    let chunks: Vec<(usize, usize)> =
        (0..n).step_by(chunk).map(|s| (s, chunk.min(n - s))).collect();
    let count_chunk = |&(start, len): &(usize, usize)| {
        let mut f = [0u8; BLOCK];
        let mut kept = 0usize;
        for b in (start..start + len).step_by(BLOCK) {
            let f = &mut f[..BLOCK.min(start + len - b)];
            flags(b, f);
            kept += f.iter().map(|&k| k as usize).sum::<usize>();
        }
        kept
    };
    let counts: Vec<usize> = if chunks.len() > 1 {
        chunks.par_iter().map(count_chunk).collect()
    } else {
        chunks.iter().map(count_chunk).collect()
    };
    let count: usize = counts.iter().sum();
    let mut y = vec![0f32; n];
    // Each chunk's survivors go to its own disjoint slice of y.
    let mut slices = Vec::with_capacity(chunks.len());
    let mut rest = &mut y[..count];
    for &c in &counts {
        let (mine, tail) = rest.split_at_mut(c);
        slices.push(mine);
        rest = tail;
    }
    let write_chunk = |(&(start, len), dst): (&(usize, usize), &mut &mut [f32])| {
        let mut f = [0u8; BLOCK];
        let mut staged = [0f32; BLOCK];
        let mut written = 0;
        for b in (start..start + len).step_by(BLOCK) {
            let m = BLOCK.min(start + len - b);
            flags(b, &mut f[..m]);
            // Branch-free: always store, advance only past kept elements.
            let mut k = 0;
            for (i, &v) in x[b..b + m].iter().enumerate() {
                staged[k] = v;
                k += f[i] as usize;
            }
            dst[written..written + k].copy_from_slice(&staged[..k]);
            written += k;
        }
    };
    if chunks.len() > 1 {
        chunks.par_iter().zip(slices.par_iter_mut()).for_each(write_chunk);
    } else {
        chunks.iter().zip(slices.iter_mut()).for_each(write_chunk);
    }
    (y, count)
}

fn outputs(y: Vec<f32>, count: usize) -> Vec<HostArray> {
    vec![HostArray::vec_f32(y), HostArray::scalar_u32(count as u32)]
}

fn compact_if_cpu(x: &[f32], op: CompareOp, t: f32) -> Vec<HostArray> {
    let (y, count) = compact_cpu(x, |s, f| {
        let len = f.len();
        predicate_flags(op, t, &x[s..s + len], f)
    });
    outputs(y, count)
}

// ---------------------------------------------------------------- GPU

/// What to compact on the GPU: x alone (predicate) or x with a mask.
pub(crate) struct CompactArgs<'a> {
    pub x: &'a GpuTensor,
    pub mask: Option<&'a GpuTensor>,
    pub threshold: f32,
    pub op: CompareOp,
    pub unordered: bool,
    pub scatter: Scatter,
}

/// Records a compaction into the open batch: returns y (capacity n) and the 0-d count.
pub(crate) fn compact_gpu(
    gpu: &Gpu,
    a: &CompactArgs<'_>,
    tuning: &Tuning,
) -> Result<Vec<GpuTensor>, KernelError> {
    let (x, mask) = (a.x, a.mask);
    let items = match (mask.is_some(), a.scatter.resolve(gpu)) {
        (false, Scatter::Direct) => &PREDICATE_DIRECT,
        (false, _) => &PREDICATE_STAGED,
        (true, Scatter::Direct) => &MASK_DIRECT,
        (true, _) => &MASK_STAGED,
    };
    let y = gpu.empty(DType::F32, vec![x.len()])?;
    let count = gpu.empty(DType::U32, vec![])?;
    let args = TileArgs {
        x,
        aux: mask,
        output: Output::Packed { out: &y, unordered: a.unordered },
        total: &count,
        threshold: a.threshold,
        op: a.op as u32,
        exclusive: false,
    };
    engine::run(gpu, items, &args, tuning)?;
    Ok(vec![y, count])
}

// ---------------------------------------------------------------- references (f64)

fn reference_outputs(x: &[f32], keep: impl Fn(usize) -> bool) -> Vec<Expected> {
    let kept: Vec<f64> = (0..x.len()).filter(|&i| keep(i)).map(|i| x[i] as f64).collect();
    let count = kept.len() as u64;
    vec![Expected::elementwise(kept, 0.0, 0.0), Expected::ints([count])]
}

fn reference_predicate(x: &[f32], params: &Params) -> Vec<Expected> {
    let op = CompareOp::from_params(params);
    let t = params.f32("threshold") as f64;
    reference_outputs(x, |i| {
        let v = x[i] as f64;
        match op {
            CompareOp::Gt => v > t,
            CompareOp::Ge => v >= t,
            CompareOp::Lt => v < t,
            CompareOp::Le => v <= t,
            CompareOp::Eq => v == t,
            CompareOp::Ne => v != t,
        }
    })
}

fn compaction_cost(args: &[ArgMeta], inputs: usize) -> Cost {
    // The written bytes depend on the data: the floor counts the reads and the count only.
    let mut c = Cost::per_element(leading_len(args), 4.0 * inputs as f64, 0.0, 1.0);
    c.bytes += 4.0;
    c
}

const EXACT: &str = "exact: survivors bit for bit in input order, exact count";

/// The GPU call of COMPACT_IF and FUSED_SCAN_COMPACT: the predicate `x op threshold` from the
/// params, blocks in order unless `unordered`.
fn predicate_gpu(
    gpu: &Gpu,
    x: &GpuTensor,
    params: &Params,
    unordered: bool,
) -> Result<Vec<GpuTensor>, KernelError> {
    let a = CompactArgs {
        x,
        mask: None,
        threshold: params.f32("threshold"),
        op: CompareOp::from_params(params),
        unordered,
        scatter: Scatter::Auto,
    };
    compact_gpu(gpu, &a, &Tuning::default())
}

// ---------------------------------------------------------------- kernels

/// COMPACT_IF: the x[i] with (x[i] op threshold), in order, and their count.
pub struct CompactIf;

impl Kernel for CompactIf {
    fn id(&self) -> &'static str {
        "COMPACT_IF"
    }

    fn check(&self, args: &[ArgMeta], _params: &Params) -> Result<(), KernelError> {
        check_u32_indexable(self.id(), args)
    }

    fn cost(&self, args: &[ArgMeta], _params: &Params) -> Cost {
        compaction_cost(args, 1)
    }

    fn cpu(&self, inputs: &[&HostArray], params: &Params) -> Result<Vec<HostArray>, KernelError> {
        let op = CompareOp::from_params(params);
        Ok(compact_if_cpu(inputs[0].f32s(), op, params.f32("threshold")))
    }

    fn gpu(
        &self,
        gpu: &Gpu,
        inputs: &[&GpuTensor],
        params: &Params,
    ) -> Result<Vec<GpuTensor>, KernelError> {
        predicate_gpu(gpu, inputs[0], params, false)
    }

    fn reference(&self, inputs: &[&HostArray], params: &Params) -> Vec<Expected> {
        reference_predicate(inputs[0].f32s(), params)
    }

    fn tolerance(&self) -> &'static str {
        EXACT
    }

    fn wgsl_variants(&self) -> Vec<WgslVariant> {
        variants_of([&PREDICATE_STAGED, &PREDICATE_DIRECT])
    }
}

/// COMPACT_MASK: the x[i] with mask[i] != 0, in order, and their count.
pub struct CompactMask;

impl Kernel for CompactMask {
    fn id(&self) -> &'static str {
        "COMPACT_MASK"
    }

    fn check(&self, args: &[ArgMeta], _params: &Params) -> Result<(), KernelError> {
        check_u32_indexable(self.id(), args)
    }

    fn cost(&self, args: &[ArgMeta], _params: &Params) -> Cost {
        compaction_cost(args, 2)
    }

    fn cpu(&self, inputs: &[&HostArray], _params: &Params) -> Result<Vec<HostArray>, KernelError> {
        let (x, mask) = (inputs[0].f32s(), inputs[1].u32s());
        let (y, count) = compact_cpu(x, |s, f| {
            let len = f.len();
            mask_flags(&mask[s..s + len], f)
        });
        Ok(outputs(y, count))
    }

    fn gpu(
        &self,
        gpu: &Gpu,
        inputs: &[&GpuTensor],
        _params: &Params,
    ) -> Result<Vec<GpuTensor>, KernelError> {
        let a = CompactArgs {
            x: inputs[0],
            mask: Some(inputs[1]),
            threshold: 0.0,
            op: CompareOp::Gt,
            unordered: false,
            scatter: Scatter::Auto,
        };
        compact_gpu(gpu, &a, &Tuning::default())
    }

    fn reference(&self, inputs: &[&HostArray], _params: &Params) -> Vec<Expected> {
        let mask = inputs[1].u32s();
        reference_outputs(inputs[0].f32s(), |i| mask[i] != 0)
    }

    fn tolerance(&self) -> &'static str {
        EXACT
    }

    fn wgsl_variants(&self) -> Vec<WgslVariant> {
        variants_of([&MASK_STAGED, &MASK_DIRECT])
    }
}

/// FUSED_SCAN_COMPACT: COMPACT_IF in one kernel; `mode=unordered` lets output blocks land in
/// any order (same multiset and count).
pub struct FusedScanCompact;

impl Kernel for FusedScanCompact {
    fn id(&self) -> &'static str {
        "FUSED_SCAN_COMPACT"
    }

    fn check(&self, args: &[ArgMeta], _params: &Params) -> Result<(), KernelError> {
        check_u32_indexable(self.id(), args)
    }

    fn cost(&self, args: &[ArgMeta], _params: &Params) -> Cost {
        compaction_cost(args, 1)
    }

    fn cpu(&self, inputs: &[&HostArray], params: &Params) -> Result<Vec<HostArray>, KernelError> {
        // Ordered output is a valid answer in both modes.
        let op = CompareOp::from_params(params);
        Ok(compact_if_cpu(inputs[0].f32s(), op, params.f32("threshold")))
    }

    fn gpu(
        &self,
        gpu: &Gpu,
        inputs: &[&GpuTensor],
        params: &Params,
    ) -> Result<Vec<GpuTensor>, KernelError> {
        predicate_gpu(gpu, inputs[0], params, params.enum_value("mode") == "unordered")
    }

    /// The ordered answer; unordered results must be compared as a multiset.
    fn reference(&self, inputs: &[&HostArray], params: &Params) -> Vec<Expected> {
        reference_predicate(inputs[0].f32s(), params)
    }

    fn tolerance(&self) -> &'static str {
        "ordered: exact and equal to COMPACT_IF; unordered: the same survivors bit for bit and \
         the exact count, output blocks in any order"
    }

    fn wgsl_variants(&self) -> Vec<WgslVariant> {
        variants_of([&PREDICATE_STAGED, &PREDICATE_DIRECT])
    }
}
