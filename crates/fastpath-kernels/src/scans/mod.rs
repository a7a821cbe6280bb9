//! Catalog domain `scans`: SCAN_EXCLUSIVE and SCAN_INCLUSIVE, prefix sums of u32 arithmetic
//! modulo 2^32 (bit-exact on every backend), plus f32 prefix sums as a crate-internal variant
//! (the catalog contracts are u32 only).
//!
//! GPU: the device-wide tile scan of [`engine`] — single pass with decoupled look-back and
//! decoupled fallback (no reliance on forward progress between workgroups), or
//! reduce-then-scan; windows for inputs beyond one storage binding. CPU: the same idea on
//! rayon threads — 32 Ki-element chunks claimed in order, each summed from memory, then
//! scanned from cache once the running total before it is known (published by the
//! predecessor, or summed by this thread if the predecessor's thread is descheduled): one
//! memory read and one write per element, like a sequential loop, spread over all cores.
//!
//! Other kernels (compaction, radix sort) use the crate-internal API: [`exclusive_scan_u32`],
//! [`inclusive_scan_u32`], [`scan`] (u32 or f32, with the total), [`scan_into`], and the CPU
//! functions [`scan_u32_cpu`] / [`scan_f32_cpu`]. The GPU functions record into the open batch
//! and read nothing back. `engine` itself is reusable by any kernel that needs a device-wide
//! scan fused with its own load and store (see `compaction`).
//!
//! f32 sums accumulate in f32 on the GPU (in-thread, subgroup and workgroup trees, then the
//! chain of tile prefixes) and in f64 on the CPU; both stay within 1e-5 of the sum of |x| up to
//! each position on inputs whose partial sums stay finite. NaN and infinities propagate as in
//! a sequential sum (+inf then -inf gives NaN from there on). GPU f32 results may differ in
//! the last bits from run to run: a look-back that falls back sums the silent tile in another
//! order than its owner does. u32 results are exact whatever path a tile takes.

pub(crate) mod engine;
#[cfg(test)]
pub(crate) mod tests;

use fastpath_gpu::{DType, Gpu, GpuError, GpuTensor};

use crate::array::{ArgMeta, HostArray};
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
    Items { key: "scan-u32", pieces: &[ITEMS_SCAN], elem: "u32", substitutions: &[] };
const SCAN_F32: Items =
    Items { key: "scan-f32", pieces: &[ITEMS_SCAN], elem: "f32", substitutions: &[] };

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

/// u32 prefix sums modulo 2^32 (see [`chained_scan`]).
pub(crate) fn scan_u32_cpu(x: &[u32], kind: ScanKind) -> Vec<u32> {
    let mut out = vec![0u32; x.len()];
    chained_scan(
        x,
        &mut out,
        |c| c.iter().fold(0u32, |a, &v| a.wrapping_add(v)),
        u32::wrapping_add,
        |c, o, carry| {
            scan_run_u32(c, o, carry, kind);
        },
    );
    out
}

/// Elements per chunk of the chained CPU scan: small enough that a chunk summed from memory is
/// still in L2 when it is scanned.
const SCAN_CHUNK: usize = 32 * 1024;

/// A parallel scan that reads the input from memory once, the CPU twin of the GPU's decoupled
/// look-back. Chunks are claimed in order; a thread sums its chunk (which pulls it into cache),
/// learns the running total before it, publishes its own running total at once, and scans the
/// chunk from cache. The running total before chunk c is the predecessor's published total;
/// if that stays silent for a short spin (its thread descheduled on a busy machine), the
/// thread sums the predecessor's input itself and looks one further back — it never waits
/// without bound, for any number of threads. `sum` reduces a chunk, `add` combines running
/// totals (`add(earlier, later)`), `run` scans a chunk into its output from a carry.
fn chained_scan<T, S>(
    x: &[T],
    out: &mut [T],
    sum: impl Fn(&[T]) -> S + Sync,
    add: impl Fn(S, S) -> S + Sync,
    run: impl Fn(&[T], &mut [T], S) + Sync,
) where
    T: Sync + Send,
    S: Copy + Default + Send + Sync,
{
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Mutex, OnceLock};

    let chunks = x.len().div_ceil(SCAN_CHUNK);
    let threads = rayon::current_num_threads().min(chunks);
    if threads <= 1 {
        run(x, out, S::default());
        return;
    }
    let input = |c: usize| &x[c * SCAN_CHUNK..x.len().min((c + 1) * SCAN_CHUNK)];
    let outputs: Vec<Mutex<Option<&mut [T]>>> =
        out.chunks_mut(SCAN_CHUNK).map(|o| Mutex::new(Some(o))).collect();
    let running: Vec<OnceLock<S>> = (0..chunks).map(|_| OnceLock::new()).collect();
    let next = AtomicUsize::new(0);
    let total_before = |c: usize| {
        let mut later = S::default(); // sum of chunks p+1 .. c-1
        let mut p = c;
        while p > 0 {
            p -= 1;
            if let Some(before) = poll(&running[p]) {
                return add(before, later);
            }
            later = add(sum(input(p)), later);
        }
        later
    };
    let worker = || {
        loop {
            let c = next.fetch_add(1, Ordering::Relaxed);
            if c >= chunks {
                return;
            }
            let mine = sum(input(c));
            let before = total_before(c);
            // Known before the chunk is scanned: publish it now, successors are waiting.
            let _ = running[c].set(add(before, mine));
            let output = outputs[c].lock().unwrap().take().expect("each chunk is claimed once");
            run(input(c), output, before);
        }
    };
    rayon::scope(|s| {
        for _ in 0..threads {
            s.spawn(|_| worker());
        }
    });
}

/// Polls a predecessor's running total for a few microseconds (about what summing one chunk
/// takes); `None` if it stays silent.
fn poll<S: Copy>(cell: &std::sync::OnceLock<S>) -> Option<S> {
    for _ in 0..1024 {
        if let Some(&v) = cell.get() {
            return Some(v);
        }
        std::hint::spin_loop();
    }
    cell.get().copied()
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

/// Like [`scan_run_f32`], but a float add's latency (not memory) bounds one running sum: split
/// the run into four quarters, find where each starts with a vectorised sum, and advance the
/// four running sums together.
fn scan_run_f32_interleaved(x: &[f32], out: &mut [f32], carry: f64, kind: ScanKind) {
    let q = x.len() / 4;
    if q < 256 {
        return scan_run_f32(x, out, carry, kind);
    }
    let part_sum = |p: usize| crate::cpu::lane_sum(&x[p * q..(p + 1) * q], |v| v as f64);
    let mut acc = [carry, 0.0, 0.0, 0.0];
    for p in 1..4 {
        acc[p] = acc[p - 1] + part_sum(p - 1);
    }
    let (x0, rest) = x.split_at(q);
    let (x1, rest) = rest.split_at(q);
    let (x2, rest) = rest.split_at(q);
    let (x3, tail) = rest.split_at(q);
    let (o0, rest) = out.split_at_mut(q);
    let (o1, rest) = rest.split_at_mut(q);
    let (o2, rest) = rest.split_at_mut(q);
    let (o3, out_tail) = rest.split_at_mut(q);
    let exclusive = kind == ScanKind::Exclusive;
    for i in 0..q {
        let before = acc;
        acc[0] += x0[i] as f64;
        acc[1] += x1[i] as f64;
        acc[2] += x2[i] as f64;
        acc[3] += x3[i] as f64;
        let shown = if exclusive { before } else { acc };
        o0[i] = shown[0] as f32;
        o1[i] = shown[1] as f32;
        o2[i] = shown[2] as f32;
        o3[i] = shown[3] as f32;
    }
    scan_run_f32(tail, out_tail, acc[3], kind);
}

/// f32 prefix sums accumulated in f64 (each output is the f64 running sum rounded once).
#[allow(dead_code, reason = "crate-internal f32 variant; no catalog contract takes f32 scans")]
pub(crate) fn scan_f32_cpu(x: &[f32], kind: ScanKind) -> Vec<f32> {
    let mut out = vec![0f32; x.len()];
    chained_scan(
        x,
        &mut out,
        |c| crate::cpu::lane_sum(c, |v| v as f64),
        |a, b| a + b,
        |c, o, carry| scan_run_f32_interleaved(c, o, carry, kind),
    );
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
