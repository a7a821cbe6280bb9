//! Timing one kernel at one size on one backend: warm-up, then repetitions until a count or a
//! time budget is reached, rotating between several copies of the inputs when one copy would
//! sit in a cache.

use std::time::Instant;

use fastpath_gpu::{Gpu, GpuTensor};
use fastpath_kernels::{HostArray, Kernel, KernelError, Params};

use crate::stats::Summary;

/// Working set the input rotation aims for. Larger than the last-level caches of the machines
/// we target (H100 L2 50 MB, H200 60 MB, Apple M-series SLC up to 96 MB, desktop L3s), so a
/// repetition finds its inputs in memory, as a call on fresh data would.
pub const ROTATION_TARGET_BYTES: usize = 256 << 20;
/// At most this many copies: tiny inputs are latency-bound anyway, and every copy is a
/// separate allocation (and GPU buffer).
pub const MAX_ROTATION: usize = 64;

/// How many copies of the inputs to rotate through for inputs of `bytes` bytes.
pub fn rotation_count(bytes: usize) -> usize {
    if bytes == 0 { 1 } else { ROTATION_TARGET_BYTES.div_ceil(bytes).clamp(1, MAX_ROTATION) }
}

/// When to stop warming up and measuring.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimingPolicy {
    /// Warm-up runs (at least), then warm-up continues until `warmup_seconds` have passed.
    pub warmup_runs: usize,
    pub warmup_seconds: f64,
    pub min_reps: usize,
    pub max_reps: usize,
    /// Measurement stops after this much time once `min_reps` are done.
    pub budget_seconds: f64,
}

impl TimingPolicy {
    /// `fastpath bench` defaults: enough repetitions for a stable median without spending more
    /// than about a quarter second on a case.
    pub const BENCH: TimingPolicy = TimingPolicy {
        warmup_runs: 3,
        // Long enough for a GPU to leave its idle clocks after the host prepared inputs.
        warmup_seconds: 0.1,
        min_reps: 5,
        max_reps: 100,
        budget_seconds: 0.25,
    };
    /// `fastpath calibrate --quick`: a rough curve in under a minute.
    pub const QUICK: TimingPolicy = TimingPolicy {
        warmup_runs: 2,
        // Short: cases are timed backend by backend, so a case starts on a backend the previous
        // case kept busy, and the first of each block warms up for 100 ms
        // (`run::BLOCK_WARMUP_SECONDS`). Before that grouping, an H200 host's quick calibration
        // with 5 ms here timed 2^20 CPU reductions 1.4-1.6× slower than the benchmark did; a
        // 30 ms warm-up per case was tried on a 2-core host and did not help there.
        warmup_seconds: 0.005,
        min_reps: 3,
        max_reps: 15,
        budget_seconds: 0.03,
    };

    /// Exactly `reps` measured repetitions (`--reps N`), keeping the warm-up.
    pub fn with_exact_reps(self, reps: usize) -> TimingPolicy {
        let reps = reps.max(1);
        TimingPolicy { min_reps: reps, max_reps: reps, budget_seconds: f64::INFINITY, ..self }
    }

    /// Same policy with at most `seconds` of measurement per case (a run-wide budget split
    /// over its cases).
    pub fn with_budget(self, seconds: f64) -> TimingPolicy {
        TimingPolicy { budget_seconds: self.budget_seconds.min(seconds), ..self }
    }
}

/// Repetitions a case keeps once its measurement has run [`SLOW_CASE_BUDGETS`] budgets long.
pub const SLOW_CASE_REPS: usize = 3;
/// How many per-case budgets a case may spend before it is cut to [`SLOW_CASE_REPS`].
pub const SLOW_CASE_BUDGETS: f64 = 10.0;

/// Runs `step(rep)` for warm-up and measurement; `step` returns the sample to record (e.g.
/// GPU seconds) and the wall seconds it took. Returns the samples and wall samples.
pub fn repeat<E>(
    policy: &TimingPolicy,
    mut step: impl FnMut(usize) -> Result<(f64, f64), E>,
) -> Result<(Vec<f64>, Vec<f64>), E> {
    let start = Instant::now();
    let mut rep = 0;
    while rep < policy.warmup_runs || start.elapsed().as_secs_f64() < policy.warmup_seconds {
        step(rep)?;
        rep += 1;
        // A single very slow run is warm-up enough; do not spend the budget on it.
        if rep >= 1 && start.elapsed().as_secs_f64() > policy.budget_seconds.max(0.5) {
            break;
        }
    }
    let (mut samples, mut walls) = (Vec::new(), Vec::new());
    let measure_start = Instant::now();
    while samples.len() < policy.max_reps {
        let elapsed = measure_start.elapsed().as_secs_f64();
        if samples.len() >= policy.min_reps && elapsed >= policy.budget_seconds {
            break;
        }
        // Calls that each take many budgets (big sorts on a software rasterizer) stop at
        // three samples: enough for a median, and ten-second calls vary little.
        if samples.len() >= policy.min_reps.min(SLOW_CASE_REPS)
            && elapsed >= SLOW_CASE_BUDGETS * policy.budget_seconds
        {
            break;
        }
        let (sample, wall) = step(rep)?;
        samples.push(sample);
        walls.push(wall);
        rep += 1;
    }
    Ok((samples, walls))
}

/// Result of timing one case.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Primary time: GPU timestamps when available, wall time otherwise.
    pub primary: Summary,
    /// Wall time including dispatch (GPU) — equal to `primary` on the CPU.
    pub wall: Summary,
    /// Whether `primary` came from GPU timestamp queries.
    pub from_timestamps: bool,
    pub rotation: usize,
}

/// Times the CPU implementation. `sets` are the rotation copies of the inputs.
pub fn time_cpu(
    kernel: &dyn Kernel,
    sets: &[Vec<&HostArray>],
    params: &Params,
    policy: &TimingPolicy,
) -> Result<Measured, KernelError> {
    let (samples, _) = repeat(policy, |rep| {
        let inputs = &sets[rep % sets.len()];
        let t0 = Instant::now();
        let out = kernel.cpu(inputs, params)?;
        let t = t0.elapsed().as_secs_f64();
        // Freeing large outputs is not part of the kernel.
        drop(std::hint::black_box(out));
        Ok::<_, KernelError>((t, t))
    })?;
    let summary = Summary::of(&samples).expect("at least one repetition");
    Ok(Measured { primary: summary, wall: summary, from_timestamps: false, rotation: sets.len() })
}

/// Inputs a GPU kernel may overwrite (contract outputs declared `in_place_of`) are restored
/// from a pristine copy before every repetition, outside the timed region, so each run sorts
/// unsorted data.
pub struct InPlaceRestore<'a> {
    /// Per overwritten input: its index and a pristine copy for each rotation set.
    pub pristine: Vec<(usize, Vec<&'a GpuTensor>)>,
}

/// GPU work one timed sample should span: long enough that submit/wait gaps do not let the
/// GPU idle (and its clocks drop) between calls, as they would with one call per sample.
const GPU_SAMPLE_SECONDS: f64 = 0.002;
/// Most calls batched into one sample.
const MAX_CALLS_PER_SAMPLE: usize = 64;
/// Standalone calls timed for the `wall` column (record, submit, wait: what one call costs):
/// at least the first, at most the second, within [`STANDALONE_SECONDS`]. The wall is what
/// routing compares with the CPU, so it gets as many samples as a few milliseconds allow
/// (five, before, let one slow wake-up move a 40 µs median).
const STANDALONE_CALLS: (usize, usize) = (5, 64);
/// Time the standalone calls of one case may take once the minimum is met.
const STANDALONE_SECONDS: f64 = 0.01;

/// Times the GPU implementation with inputs resident on the device.
///
/// The primary time comes from timestamp queries around `k` back-to-back calls recorded in one
/// batch (rotating through the input copies), divided by `k`: the steady-state cost of a call,
/// measured the way CUDA peers are measured (events around launches that keep the GPU busy).
/// `k` is chosen so a sample spans about [`GPU_SAMPLE_SECONDS`]; in-place kernels, whose
/// inputs must be restored before every call, use `k = 1`. The wall time is measured
/// separately on standalone calls, each recorded, submitted and waited for.
pub fn time_gpu(
    kernel: &dyn Kernel,
    gpu: &Gpu,
    sets: &[Vec<&GpuTensor>],
    restore: &InPlaceRestore<'_>,
    params: &Params,
    policy: &TimingPolicy,
) -> Result<Measured, KernelError> {
    let timestamps = gpu.features().timestamps;
    // Records `calls` calls starting at rotation set `first`; returns (GPU or wall, wall).
    let run = |first: usize, calls: usize| -> Result<(f64, f64), KernelError> {
        let mut kernel_error = None;
        if !restore.pristine.is_empty() {
            let set = first % sets.len();
            for (index, pristine) in &restore.pristine {
                gpu.copy(pristine[set], sets[set][*index])?;
            }
        }
        let timing = gpu.time(|| {
            for c in 0..calls {
                match kernel.gpu(gpu, &sets[(first + c) % sets.len()], params) {
                    Ok(outputs) => drop(outputs),
                    Err(e) => {
                        kernel_error = Some(e);
                        break;
                    }
                }
            }
            Ok(())
        })?;
        if let Some(e) = kernel_error {
            return Err(e);
        }
        let primary = timing.gpu_seconds.filter(|_| timestamps).unwrap_or(timing.wall_seconds);
        Ok((primary, timing.wall_seconds))
    };
    let (first, _) = run(0, 1)?;
    let calls = if restore.pristine.is_empty() && first > 0.0 {
        ((GPU_SAMPLE_SECONDS / first).ceil() as usize).clamp(1, MAX_CALLS_PER_SAMPLE)
    } else {
        1
    };
    let (samples, sample_walls) = repeat(policy, |rep| {
        let (t, w) = run(rep * calls, calls)?;
        Ok::<_, KernelError>((t / calls as f64, w / calls as f64))
    })?;
    // A standalone call without timestamp queries: what one call costs its caller. Only used
    // when `calls > 1`, i.e. for kernels whose inputs need no restoring.
    let standalone = |rep: usize| -> Result<f64, KernelError> {
        let set = rep % sets.len();
        let mut kernel_error = None;
        let wall = gpu.time_wall(|| {
            match kernel.gpu(gpu, &sets[set], params) {
                Ok(outputs) => drop(outputs),
                Err(e) => kernel_error = Some(e),
            }
            Ok(())
        })?;
        kernel_error.map_or(Ok(wall), Err)
    };
    // With one call per sample (in-place kernels, and calls of 2 ms or more, where the stamps'
    // read-back is lost in the noise) the samples' walls already are standalone calls.
    let walls = if calls == 1 {
        sample_walls
    } else {
        let started = Instant::now();
        let mut walls = Vec::with_capacity(STANDALONE_CALLS.1);
        while walls.len() < STANDALONE_CALLS.1
            && (walls.len() < STANDALONE_CALLS.0
                || started.elapsed().as_secs_f64() < STANDALONE_SECONDS)
        {
            walls.push(standalone(walls.len())?);
        }
        walls
    };
    Ok(Measured {
        primary: Summary::of(&samples).expect("at least one repetition"),
        wall: Summary::of(&walls).expect("at least one repetition"),
        from_timestamps: timestamps,
        rotation: sets.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_covers_the_caches_within_limits() {
        assert_eq!(rotation_count(0), 1);
        assert_eq!(rotation_count(4096), MAX_ROTATION);
        assert_eq!(rotation_count(64 << 20), 4);
        assert_eq!(rotation_count(100 << 20), 3);
        assert_eq!(rotation_count(1 << 30), 1);
    }

    #[test]
    fn repeat_honours_counts_and_budgets() {
        let policy = TimingPolicy::BENCH.with_exact_reps(7);
        let mut calls = 0;
        let (s, w) = repeat::<()>(&policy, |_| {
            calls += 1;
            Ok((1.0, 2.0))
        })
        .unwrap();
        assert_eq!((s.len(), w.len()), (7, 7));
        assert!(calls >= 7 + policy.warmup_runs);
        // A zero budget still yields min_reps.
        let policy =
            TimingPolicy { budget_seconds: 0.0, warmup_seconds: 0.0, ..TimingPolicy::QUICK };
        let (s, _) = repeat::<()>(&policy, |_| Ok((1.0, 1.0))).unwrap();
        assert_eq!(s.len(), policy.min_reps);
        // A case whose calls each take many budgets stops at SLOW_CASE_REPS samples.
        let slow =
            TimingPolicy { budget_seconds: 0.001, warmup_seconds: 0.0, ..TimingPolicy::BENCH };
        let (s, _) = repeat::<()>(&slow, |_| {
            std::thread::sleep(std::time::Duration::from_millis(5));
            Ok((1.0, 1.0))
        })
        .unwrap();
        assert_eq!(s.len(), SLOW_CASE_REPS);
        // Errors stop the loop.
        assert_eq!(repeat(&policy, |_| Err::<(f64, f64), _>("boom")).unwrap_err(), "boom");
        // Rotation index advances every call.
        let mut seen = Vec::new();
        repeat::<()>(&TimingPolicy::QUICK.with_exact_reps(3), |rep| {
            seen.push(rep);
            Ok((0.0, 0.0))
        })
        .unwrap();
        assert!(seen.windows(2).all(|w| w[1] == w[0] + 1));
    }
}
