//! The ceilings kernels are reported against, measured in the same run: copy bandwidth (GPU:
//! a vec4 copy kernel timed with timestamps; CPU: a parallel copy), peak FLOP/s (chains of
//! fused multiply-adds), the fixed costs of a call (submit-and-wait, a call inside a batch of
//! many) and host↔device transfer rates.

use std::time::Instant;

use fastpath_gpu::{Access, DType, Dispatch, Gpu, GpuError, GpuTensor, ShaderSpec, compose};
use fastpath_kernels::{HostArray, Kernel, KernelError, Params};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::inputs::CasePlan;
use crate::measure::{TimingPolicy, repeat};
use crate::stats::Summary;

const COPY_WGSL: &str = include_str!("shaders/copy_vec4.wgsl");
const PEAK_WGSL: &str = include_str!("shaders/peak_fma.wgsl");

/// Bytes per buffer of the copy probes: 256 MiB, well beyond every last-level cache.
const COPY_BYTES: u64 = 256 << 20;
/// Elements per CPU copy buffer (128 MiB each).
const CPU_COPY_ELEMENTS: usize = 1 << 25;

/// A measured copy rate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CopyCeiling {
    /// Bytes read plus bytes written per second, in GB/s.
    pub gbps: f64,
    /// Bytes per copy (read plus written).
    pub bytes: u64,
    pub seconds: Summary,
    /// How it was measured, for the report.
    pub method: String,
}

/// Copy bandwidth of the CPU: a rayon-parallel `copy_from_slice` of 128 MiB.
pub fn cpu_copy(policy: &TimingPolicy) -> CopyCeiling {
    let src = vec![1.5f32; CPU_COPY_ELEMENTS];
    let mut dst = vec![0.0f32; CPU_COPY_ELEMENTS];
    let (samples, _) = repeat::<()>(policy, |_| {
        let t0 = Instant::now();
        dst.par_chunks_mut(1 << 16).zip(src.par_chunks(1 << 16)).for_each(|(d, s)| {
            d.copy_from_slice(s);
        });
        std::hint::black_box(&mut dst);
        let t = t0.elapsed().as_secs_f64();
        Ok((t, t))
    })
    .expect("infallible");
    let seconds = Summary::of(&samples).expect("repetitions");
    let bytes = (CPU_COPY_ELEMENTS * 4 * 2) as u64;
    CopyCeiling {
        gbps: bytes as f64 / seconds.median / 1e9,
        bytes,
        seconds,
        method: format!(
            "parallel copy of 128 MiB on {} threads, read + written bytes",
            rayon::current_num_threads()
        ),
    }
}

/// 64 independent multiply-add chains: plain `a * m + k` (two flops) rather than
/// `f32::mul_add`, which is a library call on targets built without FMA, so this is the peak
/// of the instructions our CPU kernels are compiled to.
fn fma_chains(iters: u64, seed: f32) -> f32 {
    let m = std::hint::black_box(0.999_999_9f32);
    let k = std::hint::black_box(1e-7f32);
    let mut acc = [0.0f32; 64];
    for (i, a) in acc.iter_mut().enumerate() {
        *a = seed + i as f32 * 1e-3;
    }
    for _ in 0..iters {
        for a in acc.iter_mut() {
            *a = *a * m + k;
        }
    }
    acc.iter().sum()
}

/// Peak FLOP/s of the CPU over all rayon threads, in GFLOP/s.
pub fn cpu_peak_gflops(policy: &TimingPolicy) -> f64 {
    let threads = rayon::current_num_threads();
    let run = |iters: u64| {
        let t0 = Instant::now();
        let s: f32 = (0..threads).into_par_iter().map(|t| fma_chains(iters, t as f32)).sum();
        std::hint::black_box(s);
        t0.elapsed().as_secs_f64()
    };
    // Grow the work until one run takes about 10 ms, so timer resolution and thread start-up
    // stay out of the figure.
    let mut iters = 1u64 << 12;
    while run(iters) < 0.01 && iters < 1 << 30 {
        iters *= 2;
    }
    let (samples, _) = repeat::<()>(policy, |_| {
        let t = run(iters);
        Ok((t, t))
    })
    .expect("infallible");
    let median = Summary::of(&samples).expect("repetitions").median;
    (threads as f64 * iters as f64 * 64.0 * 2.0) / median / 1e9
}

fn time_gpu_once<F>(gpu: &Gpu, record: F) -> Result<(f64, f64), GpuError>
where
    F: FnOnce() -> Result<(), GpuError>,
{
    let t = gpu.time(record)?;
    let primary = t.gpu_seconds.filter(|_| gpu.features().timestamps).unwrap_or(t.wall_seconds);
    Ok((primary, t.wall_seconds))
}

fn copy_dispatch(
    gpu: &Gpu,
    per_thread: u32,
    src: &GpuTensor,
    dst: &GpuTensor,
    len4: u32,
) -> Result<(), GpuError> {
    let source = compose(&[COPY_WGSL], &[("PER_THREAD", &per_thread.to_string())]);
    let label = format!("bench copy_vec4 x{per_thread}");
    let pipeline = gpu.pipeline(&ShaderSpec {
        label: &label,
        source: &source,
        entry: "copy_vec4",
        storage: &[Access::ReadOnly, Access::ReadWrite],
        constants: &[],
    })?;
    let params: [u32; 4] = [len4, 0, 0, 0];
    gpu.dispatch(&Dispatch {
        pipeline: &pipeline,
        params: bytemuck::bytes_of(&params),
        bindings: &[src.binding(), dst.binding()],
        workgroups: gpu.grid(len4.div_ceil(256 * per_thread).max(1)),
    })
}

/// Copy bandwidth of the GPU: a vec4 copy kernel over 256 MiB (or the largest binding),
/// timed with timestamp queries; the better of one and four vec4s per thread.
pub fn gpu_copy(gpu: &Gpu, policy: &TimingPolicy) -> Result<CopyCeiling, GpuError> {
    let bytes = COPY_BYTES.min(gpu.max_binding_bytes()) / 16 * 16;
    let n = (bytes / 4) as usize;
    let src = gpu.upload(&vec![1.5f32; n], DType::F32, vec![n])?;
    let dst = gpu.empty(DType::F32, vec![n])?;
    let len4 = (bytes / 16) as u32;
    let mut best: Option<(Summary, u32)> = None;
    for per_thread in [1u32, 4] {
        let (samples, _) = repeat(policy, |_| {
            time_gpu_once(gpu, || copy_dispatch(gpu, per_thread, &src, &dst, len4))
        })?;
        let s = Summary::of(&samples).expect("repetitions");
        if best.as_ref().is_none_or(|(b, _)| s.median < b.median) {
            best = Some((s, per_thread));
        }
    }
    let (seconds, per_thread) = best.expect("two variants");
    let moved = bytes * 2;
    Ok(CopyCeiling {
        gbps: moved as f64 / seconds.median / 1e9,
        bytes: moved,
        seconds,
        method: format!(
            "vec4 copy kernel over {} MiB, {per_thread} vec4/thread, {}",
            bytes >> 20,
            if gpu.features().timestamps { "GPU timestamps" } else { "wall time (no timestamps)" }
        ),
    })
}

/// Peak FLOP/s of the GPU in GFLOP/s (fused multiply-add chains, 2 flops each).
pub fn gpu_peak_gflops(gpu: &Gpu, policy: &TimingPolicy) -> Result<f64, GpuError> {
    const WORKGROUPS: u32 = 4096;
    let threads = WORKGROUPS as usize * 256;
    let out = gpu.empty(DType::F32, vec![threads * 4])?;
    let pipeline = gpu.pipeline(&ShaderSpec {
        label: "bench peak_fma",
        source: PEAK_WGSL,
        entry: "peak_fma",
        storage: &[Access::ReadWrite],
        constants: &[],
    })?;
    let run = |iters: u32| {
        time_gpu_once(gpu, || {
            let params: [u32; 4] = [iters, 0, 0, 0];
            gpu.dispatch(&Dispatch {
                pipeline: &pipeline,
                params: bytemuck::bytes_of(&params),
                bindings: &[out.binding()],
                workgroups: gpu.grid(WORKGROUPS),
            })
        })
    };
    let mut iters = 4u32;
    while run(iters)?.0 < 0.005 && iters < 1 << 16 {
        iters *= 2;
    }
    let (samples, _) = repeat(policy, |_| run(iters))?;
    let median = Summary::of(&samples).expect("repetitions").median;
    Ok(threads as f64 * iters as f64 * 64.0 / median / 1e9)
}

/// Wall time of one tiny dispatch recorded, submitted and waited for: the fixed cost of a
/// standalone GPU call.
pub fn gpu_submit_wait(gpu: &Gpu, policy: &TimingPolicy) -> Result<Summary, GpuError> {
    let src = gpu.upload(&[1.0f32; 256], DType::F32, vec![256])?;
    let dst = gpu.empty(DType::F32, vec![256])?;
    let (samples, _) = repeat(policy, |_| {
        let t0 = Instant::now();
        copy_dispatch(gpu, 1, &src, &dst, 64)?;
        gpu.synchronize()?;
        let t = t0.elapsed().as_secs_f64();
        Ok::<_, GpuError>((t, t))
    })?;
    Ok(Summary::of(&samples).expect("repetitions"))
}

/// Host→device and device→host copy rates, in GB/s, over 64 MiB.
pub fn gpu_transfer(gpu: &Gpu, policy: &TimingPolicy) -> Result<(f64, f64), GpuError> {
    let n = 16usize << 20;
    let host = vec![0.5f32; n];
    let probe = gpu.upload(&[0u32; 4], DType::U32, vec![4])?;
    let policy = TimingPolicy { min_reps: 3, max_reps: 9, ..*policy };
    let (up, _) = repeat(&policy, |_| {
        let t0 = Instant::now();
        let t = gpu.upload(&host, DType::F32, vec![n])?;
        // A read submits the queue, which carries the staged upload before it.
        gpu.read_bytes(&probe)?;
        let s = t0.elapsed().as_secs_f64();
        drop(t);
        Ok::<_, GpuError>((s, s))
    })?;
    let device = gpu.upload(&host, DType::F32, vec![n])?;
    let (down, _) = repeat(&policy, |_| {
        let t0 = Instant::now();
        std::hint::black_box(gpu.read_bytes(&device)?);
        let s = t0.elapsed().as_secs_f64();
        Ok::<_, GpuError>((s, s))
    })?;
    let bytes = (n * 4) as f64;
    let rate = |v: &[f64]| bytes / Summary::of(v).expect("repetitions").median / 1e9;
    Ok((rate(&up), rate(&down)))
}

/// The issue-2 figure: time per kernel call when many small calls share one batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChainResult {
    pub kernel: String,
    pub n: usize,
    pub calls: usize,
    /// Each call consumes the previous call's output (true for maps), or all calls read the
    /// same input (reductions).
    pub chained: bool,
    /// Per call: GPU timestamps when available, else wall.
    pub per_call_s: f64,
    pub wall_per_call_s: f64,
    pub from_timestamps: bool,
}

/// Kernels preferred for the batched-call figure, most representative first.
const CHAIN_CANDIDATES: [&str; 5] = ["MAP_RELU", "MAP_ABS", "MAP_EXP", "MAP_ADD", "REDUCE_SUM"];

/// The kernel used for the batched-call figure.
pub fn chain_kernel() -> Option<&'static dyn Kernel> {
    let reg = fastpath_kernels::registry();
    CHAIN_CANDIDATES.iter().find_map(|id| reg.get(id)).or_else(|| reg.iter().next())
}

fn chain_inputs(kernel: &dyn Kernel, n: usize) -> Result<(Vec<HostArray>, Params, bool), String> {
    let plan = CasePlan::new(kernel.spec(), n)?;
    let arrays: Vec<HostArray> = plan.inputs.iter().map(|(g, s)| g.generate(s)).collect();
    let spec = kernel.spec();
    // A call can feed the next when its first output looks like its first input.
    let chained = spec
        .outputs
        .first()
        .zip(spec.inputs.first())
        .is_some_and(|(o, i)| o.dtype == i.dtype && o.shape_text == i.shape_text);
    Ok((arrays, plan.params, chained))
}

/// `calls` GPU calls of a small kernel recorded into one batch.
pub fn gpu_chain(
    gpu: &Gpu,
    kernel: &dyn Kernel,
    n: usize,
    calls: usize,
    policy: &TimingPolicy,
) -> Result<ChainResult, String> {
    let (arrays, params, chained) = chain_inputs(kernel, n)?;
    let tensors = arrays
        .iter()
        .map(|a| gpu.upload_bytes(a.bytes(), a.dtype(), a.shape().to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let (samples, walls) = repeat(policy, |_| {
        let mut failure: Option<KernelError> = None;
        let timing = gpu.time(|| {
            let mut current: Vec<GpuTensor> = tensors.clone();
            for _ in 0..calls {
                let refs: Vec<&GpuTensor> = current.iter().collect();
                match kernel.gpu(gpu, &refs, &params) {
                    Ok(mut out) if chained => current[0] = out.swap_remove(0),
                    Ok(_) => {}
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            Ok(())
        });
        let timing = timing.map_err(|e| e.to_string())?;
        if let Some(e) = failure {
            return Err(e.to_string());
        }
        let primary =
            timing.gpu_seconds.filter(|_| gpu.features().timestamps).unwrap_or(timing.wall_seconds);
        Ok((primary, timing.wall_seconds))
    })?;
    let med = |v: &[f64]| Summary::of(v).expect("repetitions").median / calls as f64;
    Ok(ChainResult {
        kernel: kernel.id().to_string(),
        n,
        calls,
        chained,
        per_call_s: med(&samples),
        wall_per_call_s: med(&walls),
        from_timestamps: gpu.features().timestamps,
    })
}

/// `calls` CPU calls of a small kernel back to back: the CPU's fixed cost per call.
pub fn cpu_chain(
    kernel: &dyn Kernel,
    n: usize,
    calls: usize,
    policy: &TimingPolicy,
) -> Result<ChainResult, String> {
    let (arrays, params, chained) = chain_inputs(kernel, n)?;
    let (samples, _) = repeat(policy, |_| {
        let mut current: Vec<HostArray> = arrays.clone();
        let t0 = Instant::now();
        for _ in 0..calls {
            let refs: Vec<&HostArray> = current.iter().collect();
            let mut out = kernel.cpu(&refs, &params).map_err(|e| e.to_string())?;
            if chained {
                current[0] = out.swap_remove(0);
            }
        }
        let t = t0.elapsed().as_secs_f64();
        Ok::<_, String>((t, t))
    })?;
    let per_call = Summary::of(&samples).expect("repetitions").median / calls as f64;
    Ok(ChainResult {
        kernel: kernel.id().to_string(),
        n,
        calls,
        chained,
        per_call_s: per_call,
        wall_per_call_s: per_call,
        from_timestamps: false,
    })
}
