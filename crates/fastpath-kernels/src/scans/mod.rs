//! Catalog domain `scans`: SCAN_EXCLUSIVE and SCAN_INCLUSIVE, prefix sums of u32 arithmetic
//! modulo 2^32 (bit-exact on every backend), plus f32 prefix sums as a crate-internal variant
//! (the catalog contracts are u32 only).
//!
//! GPU: the device-wide tile scan of [`engine`] — single pass with decoupled look-back and
//! decoupled fallback (no reliance on forward progress between workgroups), or
//! reduce-then-scan; windows for inputs beyond one storage binding. CPU: rayon over 64 Ki
//! chunks, reduce-then-scan (chunk sums, a short sequential scan of them, chunk scans).
//!
//! Other kernels (compaction, radix sort) use the crate-internal API: [`exclusive_scan_u32`],
//! [`inclusive_scan_u32`], [`scan`] (u32 or f32, with the total), [`scan_into`], and the CPU
//! functions [`scan_u32_cpu`] / [`scan_f32_cpu`]. Each records into the open batch and reads
//! nothing back.
//!
//! f32 sums accumulate in f32 on the GPU (in-thread, subgroup and workgroup trees, then the
//! chain of tile prefixes) and in f64 on the CPU; both stay within 1e-5 of the sum of |x| up to
//! each position on inputs whose partial sums stay finite. NaN and infinities propagate as in
//! a sequential sum (+inf then -inf gives NaN from there on).

pub(crate) mod engine;
#[cfg(test)]
pub(crate) mod tests;

use fastpath_gpu::{DType, Gpu, GpuError, GpuTensor};
use rayon::prelude::*;

use crate::array::{ArgMeta, HostArray};
use crate::cpu::CHUNK;
use crate::error::KernelError;
use crate::expected::Expected;
use crate::kernel::{Cost, Kernel, WgslVariant, leading_len};
use crate::params::Params;
use engine::{Items, Output, TileArgs, Tuning};

pub(crate) fn kernels() -> Vec<&'static dyn Kernel> {
    vec![&SCAN_EXCLUSIVE, &SCAN_INCLUSIVE]
}

const ITEMS_SCAN: &str = include_str!("items_scan.wgsl");
const SCAN_U32: Items =
    Items { key: "scan-u32", source: ITEMS_SCAN, elem: "u32", substitutions: &[] };
const SCAN_F32: Items =
    Items { key: "scan-f32", source: ITEMS_SCAN, elem: "f32", substitutions: &[] };

/// Which prefix sum: `out[i]` sums `x[..i]` (exclusive) or `x[..=i]` (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScanKind {
    Exclusive,
    Inclusive,
}

// ---------------------------------------------------------------- crate-internal GPU API

/// A device-wide scan's result: the prefix sums and the sum of all elements (0-d, same dtype).
pub(crate) struct ScanOutput {
    pub out: GpuTensor,
    #[allow(dead_code, reason = "for callers that need the grand total, e.g. bucket sizes")]
    pub total: GpuTensor,
}

fn items_for(dtype: DType) -> Items {
    match dtype {
        DType::U32 => SCAN_U32,
        DType::F32 => SCAN_F32,
        other => panic!("device-wide scans take u32 or f32 tensors, got {other}"),
    }
}

/// Records the scan of `x` (u32 or f32, any shape, scanned in element order) into `out` (same
/// dtype, at least as many elements, not `x` itself) and returns the 0-d total.
pub(crate) fn scan_into(
    gpu: &Gpu,
    x: &GpuTensor,
    out: &GpuTensor,
    kind: ScanKind,
    tuning: &Tuning,
) -> Result<GpuTensor, GpuError> {
    assert_eq!(x.dtype(), out.dtype(), "scan output must have the input's dtype");
    assert!(out.len() >= x.len(), "scan output smaller than the input");
    assert!(!x.same_buffer(out), "device-wide scans cannot run in place");
    let total = gpu.empty(x.dtype(), vec![])?;
    let args = TileArgs {
        x,
        aux: None,
        output: Output::Aligned(out),
        total: &total,
        threshold: 0.0,
        op: 0,
        exclusive: kind == ScanKind::Exclusive,
    };
    engine::run(gpu, &items_for(x.dtype()), &args, tuning)?;
    Ok(total)
}

/// Records the scan of `x` (u32 or f32) into a new tensor of its shape.
pub(crate) fn scan(
    gpu: &Gpu,
    x: &GpuTensor,
    kind: ScanKind,
    tuning: &Tuning,
) -> Result<ScanOutput, GpuError> {
    let out = gpu.empty(x.dtype(), x.shape().to_vec())?;
    let total = scan_into(gpu, x, &out, kind, tuning)?;
    Ok(ScanOutput { out, total })
}

/// `out[0] = 0`, `out[i] = x[0] + ... + x[i-1]` modulo 2^32, recorded into the open batch.
pub(crate) fn exclusive_scan_u32(gpu: &Gpu, x: &GpuTensor) -> Result<GpuTensor, GpuError> {
    assert_eq!(x.dtype(), DType::U32, "exclusive_scan_u32 takes a u32 tensor");
    Ok(scan(gpu, x, ScanKind::Exclusive, &Tuning::default())?.out)
}

/// `out[i] = x[0] + ... + x[i]` modulo 2^32, recorded into the open batch.
pub(crate) fn inclusive_scan_u32(gpu: &Gpu, x: &GpuTensor) -> Result<GpuTensor, GpuError> {
    assert_eq!(x.dtype(), DType::U32, "inclusive_scan_u32 takes a u32 tensor");
    Ok(scan(gpu, x, ScanKind::Inclusive, &Tuning::default())?.out)
}

/// f32 prefix sums (f32 accumulation; see the module docs for accuracy).
#[allow(dead_code, reason = "crate-internal f32 variant; no catalog contract takes f32 scans")]
pub(crate) fn scan_f32(gpu: &Gpu, x: &GpuTensor, kind: ScanKind) -> Result<GpuTensor, GpuError> {
    assert_eq!(x.dtype(), DType::F32, "scan_f32 takes an f32 tensor");
    Ok(scan(gpu, x, kind, &Tuning::default())?.out)
}

// ---------------------------------------------------------------- CPU

/// Scans `x` into `out` sequentially, starting from `carry`; returns the running sum after.
fn scan_run_u32(x: &[u32], out: &mut [u32], mut carry: u32, kind: ScanKind) -> u32 {
    match kind {
        ScanKind::Inclusive => {
            for (o, &v) in out.iter_mut().zip(x) {
                carry = carry.wrapping_add(v);
                *o = carry;
            }
        }
        ScanKind::Exclusive => {
            for (o, &v) in out.iter_mut().zip(x) {
                *o = carry;
                carry = carry.wrapping_add(v);
            }
        }
    }
    carry
}

/// u32 prefix sums modulo 2^32: chunk sums in parallel, their short exclusive scan, then every
/// chunk scanned from its offset in parallel.
pub(crate) fn scan_u32_cpu(x: &[u32], kind: ScanKind) -> Vec<u32> {
    let mut out = vec![0u32; x.len()];
    if x.len() <= CHUNK {
        scan_run_u32(x, &mut out, 0, kind);
        return out;
    }
    let sums: Vec<u32> =
        x.par_chunks(CHUNK).map(|c| c.iter().fold(0u32, |a, &v| a.wrapping_add(v))).collect();
    let offsets: Vec<u32> = sums
        .iter()
        .scan(0u32, |acc, &s| {
            let before = *acc;
            *acc = acc.wrapping_add(s);
            Some(before)
        })
        .collect();
    out.par_chunks_mut(CHUNK).zip(x.par_chunks(CHUNK)).zip(offsets).for_each(|((o, c), off)| {
        scan_run_u32(c, o, off, kind);
    });
    out
}

fn scan_run_f32(x: &[f32], out: &mut [f32], mut carry: f64, kind: ScanKind) {
    match kind {
        ScanKind::Inclusive => {
            for (o, &v) in out.iter_mut().zip(x) {
                carry += v as f64;
                *o = carry as f32;
            }
        }
        ScanKind::Exclusive => {
            for (o, &v) in out.iter_mut().zip(x) {
                *o = carry as f32;
                carry += v as f64;
            }
        }
    }
}

/// f32 prefix sums accumulated in f64 (each output is the f64 running sum rounded once).
#[allow(dead_code, reason = "crate-internal f32 variant; no catalog contract takes f32 scans")]
pub(crate) fn scan_f32_cpu(x: &[f32], kind: ScanKind) -> Vec<f32> {
    let mut out = vec![0f32; x.len()];
    if x.len() <= CHUNK {
        scan_run_f32(x, &mut out, 0.0, kind);
        return out;
    }
    let sums: Vec<f64> =
        x.par_chunks(CHUNK).map(|c| crate::cpu::lane_sum(c, |v| v as f64)).collect();
    let offsets: Vec<f64> = sums
        .iter()
        .scan(0f64, |acc, &s| {
            let before = *acc;
            *acc += s;
            Some(before)
        })
        .collect();
    out.par_chunks_mut(CHUNK).zip(x.par_chunks(CHUNK)).zip(offsets).for_each(|((o, c), off)| {
        scan_run_f32(c, o, off, kind);
    });
    out
}

// ---------------------------------------------------------------- references (tests)

/// Exact u32 prefix sums modulo 2^32, computed in u64.
pub(crate) fn reference_u32(x: &[u32], kind: ScanKind) -> Vec<u64> {
    let mut acc = 0u64;
    x.iter()
        .map(|&v| {
            let before = acc;
            acc = (acc + v as u64) & 0xffff_ffff;
            if kind == ScanKind::Exclusive { before } else { acc }
        })
        .collect()
}

/// f64 prefix sums with the tolerance 1e-5 * sum |x| over the same prefix (plus the smallest
/// normal f32, as subnormal partial sums may flush to zero on a GPU).
#[cfg(test)]
pub(crate) fn reference_f32(x: &[f32], kind: ScanKind) -> Expected {
    let (mut acc, mut abs) = (0f64, 0f64);
    let mut values = Vec::with_capacity(x.len());
    let mut tol = Vec::with_capacity(x.len());
    for &v in x {
        if kind == ScanKind::Exclusive {
            values.push(acc);
            tol.push(1e-5 * abs + f32::MIN_POSITIVE as f64);
        }
        acc += v as f64;
        abs += (v as f64).abs();
        if kind == ScanKind::Inclusive {
            values.push(acc);
            tol.push(1e-5 * abs + f32::MIN_POSITIVE as f64);
        }
    }
    Expected::Floats { values, tol }
}

// ---------------------------------------------------------------- kernels

/// SCAN_EXCLUSIVE and SCAN_INCLUSIVE: one kernel type, two contracts.
pub struct PrefixScan {
    id: &'static str,
    kind: ScanKind,
}

/// SCAN_EXCLUSIVE: `out[0] = 0`, `out[i] = x[0] + ... + x[i-1]` modulo 2^32.
pub static SCAN_EXCLUSIVE: PrefixScan =
    PrefixScan { id: "SCAN_EXCLUSIVE", kind: ScanKind::Exclusive };
/// SCAN_INCLUSIVE: `out[i] = x[0] + ... + x[i]` modulo 2^32.
pub static SCAN_INCLUSIVE: PrefixScan =
    PrefixScan { id: "SCAN_INCLUSIVE", kind: ScanKind::Inclusive };

/// Shared by scans and compaction: GPU kernels index elements (and count survivors) in u32.
pub(crate) fn check_u32_indexable(id: &str, args: &[ArgMeta]) -> Result<(), KernelError> {
    let n = leading_len(args);
    if n >= u32::MAX as usize {
        return Err(KernelError::invalid(format!(
            "{id} takes at most {} elements (u32 indices), got {n}",
            u32::MAX - 1
        )));
    }
    Ok(())
}

impl Kernel for PrefixScan {
    fn id(&self) -> &'static str {
        self.id
    }

    fn check(&self, args: &[ArgMeta], _params: &Params) -> Result<(), KernelError> {
        check_u32_indexable(self.id, args)
    }

    fn cost(&self, args: &[ArgMeta], _params: &Params) -> Cost {
        Cost::per_element(leading_len(args), 4.0, 4.0, 1.0)
    }

    fn cpu(&self, inputs: &[&HostArray], _params: &Params) -> Result<Vec<HostArray>, KernelError> {
        let x = inputs[0];
        Ok(vec![HostArray::u32(x.shape().to_vec(), scan_u32_cpu(x.u32s(), self.kind))])
    }

    fn gpu(
        &self,
        gpu: &Gpu,
        inputs: &[&GpuTensor],
        _params: &Params,
    ) -> Result<Vec<GpuTensor>, KernelError> {
        let out = match self.kind {
            ScanKind::Exclusive => exclusive_scan_u32(gpu, inputs[0])?,
            ScanKind::Inclusive => inclusive_scan_u32(gpu, inputs[0])?,
        };
        Ok(vec![out])
    }

    fn reference(&self, inputs: &[&HostArray], _params: &Params) -> Vec<Expected> {
        vec![Expected::ints(reference_u32(inputs[0].u32s(), self.kind))]
    }

    fn tolerance(&self) -> &'static str {
        "exact (u32 arithmetic modulo 2^32)"
    }

    fn wgsl_variants(&self) -> Vec<WgslVariant> {
        let mut v = engine::variants(&SCAN_U32);
        if self.kind == ScanKind::Inclusive {
            // The crate-internal f32 scan has no contract of its own; its shaders are listed
            // here so the Metal translation test covers them.
            v.extend(engine::variants(&SCAN_F32).into_iter().filter(|v| v.label.contains("f32")));
        }
        v
    }
}
