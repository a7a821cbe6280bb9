//! One benchmark run: ceilings, every kernel × size × backend, the peers, and the analyses.
//! `fastpath bench` and `fastpath calibrate` both drive this.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use fastpath_gpu::{Gpu, GpuOptions, GpuTensor};
use fastpath_kernels::{ArgMeta, Cost, HostArray, Kernel, npy, validate};
use rayon::prelude::*;

use crate::ceilings::{self, ChainResult};
use crate::inputs::{CasePlan, params_json};
use crate::measure::{InPlaceRestore, Measured, TimingPolicy, rotation_count, time_cpu, time_gpu};
use crate::peers::{self, Plan, PlanCase, PlanPolicy};
use crate::profile::{
    Backend, GpuClass, GpuInfo, HostInfo, MachineProfile, Transfer, decide, rule_backend,
};
use crate::report::{
    BackendCeilings, Ceilings, DispatchReport, GpuStatus, Meta, PeerCell, PeerIssue, PeersReport,
    PolicyInfo, REPORT_SCHEMA, RegretDecision, RegretReport, Report, Row, Skipped, SummaryReport,
    below_target, crossovers, paired_walls, peer_ratios, targets,
};
use crate::sizes::format_size;
use crate::stats::{Decision, RegretTotals, regret, speed_ratio};

/// Small kernel calls in one batch for the issue-2 figure.
pub const CHAIN_CALLS: usize = 100;
/// Elements per call in that figure.
pub const CHAIN_N: usize = 1 << 10;
/// Size of the peer mapping check (a power of two: bitonic sorts need one).
pub const CHECK_N: usize = 1 << 10;

/// Progress reporting; the CLI draws a bar, tests use [`Silent`].
pub trait Progress {
    /// More steps are known (the total grows).
    fn add_work(&mut self, _steps: u64) {}
    /// A step starts (its label).
    fn begin(&mut self, _label: &str) {}
    /// A step ended.
    fn finish_step(&mut self) {}
    /// A warning for the user (printed above the bar).
    fn note(&mut self, _message: &str) {}
}

/// No progress output.
pub struct Silent;
impl Progress for Silent {}

/// What to measure.
pub struct BenchConfig {
    pub kernels: Vec<&'static dyn Kernel>,
    pub sizes: Vec<usize>,
    pub cpu: bool,
    pub gpu: bool,
    /// Fail when no GPU can be opened (`--backend gpu`), instead of measuring the CPU alone.
    pub gpu_required: bool,
    /// Adapter name fragment or index (`--adapter`).
    pub adapter: Option<String>,
    /// Peer libraries to compare against (`--compare`).
    pub peers: Vec<String>,
    pub policy: TimingPolicy,
    /// Split this many seconds of measurement over all cases (calibrate --quick).
    pub run_budget_seconds: Option<f64>,
    /// Score `auto`'s choices (`--regret`), with the profile `auto` reads, if any.
    pub regret: Option<Option<(MachineProfile, PathBuf)>>,
    /// Measure host↔device transfer rates (for the machine profile).
    pub measure_transfer: bool,
    /// Measure copy bandwidth, peak FLOP/s and dispatch costs first. Off for a second pass
    /// whose rows are merged into a run that has them (calibration's boundary re-measurement).
    pub measure_ceilings: bool,
    /// Only these (kernel id, size) cases of `kernels` × `sizes`; `None` measures them all.
    pub only_cases: Option<BTreeSet<(String, usize)>>,
    /// The GPU an earlier pass of the same measurement opened ([`Report::device`]); `None`
    /// opens one. Re-measurement passes reuse it, so they time the device the first pass
    /// timed, with its pipelines compiled, rather than a freshly created one.
    pub gpu_device: Option<Arc<Gpu>>,
    /// The command line, for the report.
    pub command: String,
}

/// A run that could not complete; `bad_input` separates usage errors from failures.
#[derive(Debug)]
pub struct BenchError {
    pub message: String,
    pub bad_input: bool,
}

impl BenchError {
    fn failure(message: impl Into<String>) -> Self {
        BenchError { message: message.into(), bad_input: false }
    }
}

impl std::fmt::Display for BenchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// This machine, for reports and profiles.
pub fn host_info() -> HostInfo {
    HostInfo {
        os: std::env::consts::OS.to_string(),
        arch: std::env::consts::ARCH.to_string(),
        cpu: cpu_model().unwrap_or_else(|| "unknown CPU".into()),
        logical_cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
}

fn cpu_model() -> Option<String> {
    if cfg!(target_os = "linux") {
        let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
        let line = info.lines().find(|l| l.starts_with("model name") || l.starts_with("Model"))?;
        return Some(line.split_once(':')?.1.trim().to_string());
    }
    if cfg!(target_os = "macos") {
        let out = std::process::Command::new("sysctl")
            .args(["-n", "machdep.cpu.brand_string"])
            .output()
            .ok()?;
        return Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
            .filter(|s| !s.is_empty());
    }
    None
}

/// The commit being measured: `$FASTPATH_COMMIT` (for machines that get a copy of the tree
/// without `.git`), else `git rev-parse --short HEAD`, marked `-dirty` with local changes.
pub fn commit() -> Option<String> {
    if let Ok(c) = std::env::var("FASTPATH_COMMIT")
        && !c.trim().is_empty()
    {
        return Some(c.trim().to_string());
    }
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let head = git(&["rev-parse", "--short", "HEAD"]).filter(|s| !s.is_empty())?;
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{head}-dirty") } else { head })
}

/// Opens the GPU for measurement.
pub fn open_gpu(adapter: Option<&str>) -> Result<Arc<Gpu>, String> {
    Gpu::new(GpuOptions { adapter: adapter.map(str::to_string), ..Default::default() })
        .map_err(|e| e.to_string())
}

pub fn gpu_info(gpu: &Gpu) -> GpuInfo {
    let a = gpu.adapter();
    GpuInfo {
        name: a.name.clone(),
        backend: a.backend.clone(),
        device_type: a.device_type.clone(),
        driver: a.driver.clone(),
        timestamps: gpu.features().timestamps,
    }
}

/// A directory removed when dropped (peer inputs and outputs).
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> Result<ScratchDir, String> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir =
            std::env::temp_dir().join(format!("fastpath-bench-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create scratch directory {}: {e}", dir.display()))?;
        Ok(ScratchDir(dir))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn make_row(
    kernel: &dyn Kernel,
    n: usize,
    backend: Backend,
    m: &Measured,
    cost: Cost,
    ceilings: Option<&BackendCeilings>,
) -> Row {
    let spec = kernel.spec();
    let median = m.primary.median;
    let gbps = cost.bytes / median / 1e9;
    let gflops = cost.flops / median / 1e9;
    let pct_copy = ceilings.map(|c| gbps / c.copy.gbps * 100.0).filter(|p| p.is_finite());
    let pct_peak_flops = ceilings
        .and_then(|c| c.peak_gflops)
        .map(|peak| gflops / peak * 100.0)
        .filter(|p| p.is_finite() && cost.flops > 0.0);
    let compute = spec.bound == "compute";
    Row {
        kernel: kernel.id().to_string(),
        domain: spec.domain.clone(),
        bound: spec.bound.clone(),
        n,
        backend,
        median_s: median,
        time_source: if m.from_timestamps { "gpu-timestamps" } else { "wall" }.to_string(),
        stats: m.primary,
        spread_pct: m.primary.spread_pct(),
        wall: m.wall,
        rotation: m.rotation,
        bytes: cost.bytes,
        flops: cost.flops,
        gbps,
        gflops,
        pct_copy,
        pct_peak_flops,
        ceiling: if compute { "flops" } else { "copy" }.to_string(),
        pct_of_ceiling: if compute { pct_peak_flops } else { pct_copy },
        peers: Vec::new(),
    }
}

/// Host and device copies of the inputs of one size, shared by the kernels measured there.
#[derive(Default)]
struct SizeCache {
    /// Input key → rotation copies on the host (the first is the original).
    host: HashMap<String, Vec<HostArray>>,
    /// Input key → rotation copies on the device.
    device: HashMap<String, Vec<GpuTensor>>,
    /// Input key → .npy file for the peers.
    files: HashMap<String, PathBuf>,
}

impl SizeCache {
    /// Makes sure `copies` host copies of input `i` exist (generating the first one).
    fn ensure_host(&mut self, plan: &CasePlan, i: usize, copies: usize) {
        let v = self.host.entry(plan.input_key(i)).or_default();
        if v.is_empty() {
            let (g, shape) = &plan.inputs[i];
            v.push(g.generate(shape));
        }
        if v.len() < copies {
            // In parallel: at 2^20 elements this is 63 copies of 4 MiB into fresh pages, once
            // per input and pass, and every core can fault in and fill its share.
            let original = &v[0];
            let more: Vec<HostArray> =
                (v.len()..copies).into_par_iter().map(|_| original.clone()).collect();
            v.extend(more);
        }
    }

    /// The host copies of input `i` ([`SizeCache::ensure_host`] first).
    fn host(&self, plan: &CasePlan, i: usize) -> &[HostArray] {
        &self.host[&plan.input_key(i)]
    }

    fn device_copies(
        &mut self,
        gpu: &Gpu,
        plan: &CasePlan,
        i: usize,
        copies: usize,
    ) -> Result<Vec<GpuTensor>, String> {
        self.ensure_host(plan, i, 1);
        let key = plan.input_key(i);
        let original = &self.host[&key][0];
        let v = self.device.entry(key).or_default();
        while v.len() < copies {
            v.push(
                gpu.upload_bytes(original.bytes(), original.dtype(), original.shape().to_vec())
                    .map_err(|e| e.to_string())?,
            );
        }
        Ok(v[..copies].to_vec())
    }

    fn npy_file(&mut self, dir: &Path, plan: &CasePlan, i: usize) -> Result<PathBuf, String> {
        let key = plan.input_key(i);
        if let Some(p) = self.files.get(&key) {
            return Ok(p.clone());
        }
        let path = dir.join(format!("{key}.npy"));
        self.ensure_host(plan, i, 1);
        npy::write(&path, &self.host(plan, i)[0])?;
        self.files.insert(key, path.clone());
        Ok(path)
    }
}

/// Warm-up of the first case of each size on each backend, which follows input generation
/// or the other backend's block: as long as the benchmark's per-case warm-up.
pub const BLOCK_WARMUP_SECONDS: f64 = TimingPolicy::BENCH.warmup_seconds;

/// The progress label of one case.
fn case_label(kernel: &dyn Kernel, n: usize, backend: Backend) -> String {
    format!("{} {} {backend}", kernel.id(), format_size(n))
}

/// Measures everything `config` asks for.
pub fn run(config: &BenchConfig, progress: &mut dyn Progress) -> Result<Report, BenchError> {
    let started = Instant::now();
    let (gpu, gpu_status) = if config.gpu {
        let opened = match &config.gpu_device {
            Some(g) => Ok(g.clone()),
            None => open_gpu(config.adapter.as_deref()),
        };
        match opened {
            Ok(g) => {
                let status = GpuStatus {
                    available: true,
                    adapter: Some(gpu_info(&g)),
                    subgroups: Some(g.features().subgroups),
                    reason: None,
                };
                (Some(g), status)
            }
            Err(e) if config.gpu_required => {
                return Err(BenchError::failure(format!("cannot open a GPU: {e}")));
            }
            Err(e) => {
                progress.note(&format!("GPU not measured: {e}"));
                (
                    None,
                    GpuStatus { available: false, adapter: None, subgroups: None, reason: Some(e) },
                )
            }
        }
    } else {
        let reason = Some("not requested (--backend cpu)".to_string());
        (None, GpuStatus { available: false, adapter: None, subgroups: None, reason })
    };
    let mut backends = Vec::new();
    if config.cpu {
        backends.push(Backend::Cpu);
    }
    if gpu.is_some() {
        backends.push(Backend::Gpu);
    }
    let wanted = |kernel: &dyn Kernel, n: usize| {
        config.only_cases.as_ref().is_none_or(|only| only.contains(&(kernel.id().to_string(), n)))
    };
    let cases = config
        .sizes
        .iter()
        .map(|&n| config.kernels.iter().filter(|k| wanted(**k, n)).count())
        .sum::<usize>()
        * backends.len();
    let policy = match config.run_budget_seconds {
        Some(total) => config.policy.with_budget(total / cases.max(1) as f64),
        None => config.policy,
    };
    let ceiling_steps = if !config.measure_ceilings {
        0
    } else {
        (if config.cpu { 3 } else { 0 }) + (if gpu.is_some() { 4 } else { 0 })
    };
    progress.add_work((ceiling_steps + cases) as u64);

    // Ceilings first, on an otherwise idle machine.
    let ceiling_policy = TimingPolicy {
        warmup_runs: 1,
        warmup_seconds: 0.0,
        min_reps: policy.min_reps.clamp(3, 7),
        max_reps: 7,
        budget_seconds: 0.5,
    };
    let chain_policy = TimingPolicy { max_reps: 15, ..ceiling_policy };
    let mut ceilings = Ceilings::default();
    let mut dispatch = DispatchReport::default();
    let chain_kernel = ceilings::chain_kernel();
    if config.cpu && config.measure_ceilings {
        progress.begin("CPU copy bandwidth");
        let copy = ceilings::cpu_copy(&ceiling_policy);
        progress.finish_step();
        progress.begin("CPU peak FLOP/s");
        let peak = ceilings::cpu_peak_gflops(&ceiling_policy);
        progress.finish_step();
        ceilings.cpu = Some(BackendCeilings { copy, peak_gflops: Some(peak) });
        progress.begin("CPU small calls");
        if let Some(k) = chain_kernel {
            dispatch.cpu_chain = note_err(
                progress,
                "CPU batched calls",
                ceilings::cpu_chain(k, CHAIN_N, CHAIN_CALLS, &chain_policy),
            );
        }
        progress.finish_step();
    }
    if let Some(gpu) = gpu.as_ref().filter(|_| config.measure_ceilings) {
        let fail =
            |e: fastpath_gpu::GpuError| BenchError::failure(format!("measuring the GPU: {e}"));
        progress.begin("GPU copy bandwidth");
        let copy = ceilings::gpu_copy(gpu, &ceiling_policy).map_err(fail)?;
        progress.finish_step();
        progress.begin("GPU peak FLOP/s");
        let peak = ceilings::gpu_peak_gflops(gpu, &ceiling_policy).map_err(fail)?;
        progress.finish_step();
        ceilings.gpu = Some(BackendCeilings { copy, peak_gflops: Some(peak) });
        progress.begin("GPU dispatch overhead");
        dispatch.gpu_submit_wait =
            Some(ceilings::gpu_submit_wait(gpu, &chain_policy).map_err(fail)?);
        if let Some(k) = chain_kernel {
            dispatch.gpu_chain = note_err(
                progress,
                "GPU batched calls",
                ceilings::gpu_chain(gpu, k, CHAIN_N, CHAIN_CALLS, &chain_policy),
            );
        }
        progress.finish_step();
        progress.begin("host-device transfers");
        if config.measure_transfer {
            let (up, down) = ceilings::gpu_transfer(gpu, &ceiling_policy).map_err(fail)?;
            dispatch.transfer =
                Some(Transfer { host_to_device_gbps: up, device_to_host_gbps: down });
        }
        progress.finish_step();
    }

    let scratch = if config.peers.is_empty() {
        None
    } else {
        Some(ScratchDir::new().map_err(BenchError::failure)?)
    };
    let mut rows: Vec<Row> = Vec::new();
    let mut skipped: Vec<Skipped> = Vec::new();
    let mut plan_cases: Vec<PlanCase> = Vec::new();
    for &n in &config.sizes {
        let mut cache = SizeCache::default();
        // First the inputs, checks and peer files of every case of this size...
        let mut planned: Vec<(&'static dyn Kernel, CasePlan, Cost, usize)> = Vec::new();
        for &kernel in &config.kernels {
            if !wanted(kernel, n) {
                continue;
            }
            let spec = kernel.spec();
            let skip_all =
                |reason: String, skipped: &mut Vec<Skipped>, progress: &mut dyn Progress| {
                    for &b in &backends {
                        progress.begin(&case_label(kernel, n, b));
                        progress.finish_step();
                    }
                    skipped.push(Skipped { kernel: kernel.id().into(), n, backend: None, reason });
                };
            let plan = match CasePlan::new(spec, n) {
                Ok(p) => p,
                Err(e) => {
                    skip_all(e, &mut skipped, progress);
                    continue;
                }
            };
            // Host copies for rotation are only needed when the CPU is measured; the GPU
            // uploads its own copies of the first.
            let rotation = rotation_count(plan.input_bytes());
            let host_copies = if config.cpu { rotation } else { 1 };
            for i in 0..plan.inputs.len() {
                cache.ensure_host(&plan, i, host_copies);
            }
            let metas: Vec<ArgMeta> =
                (0..plan.inputs.len()).map(|i| cache.host(&plan, i)[0].meta()).collect();
            if let Err(e) = validate(kernel, &metas, &plan.params) {
                skip_all(e.to_string(), &mut skipped, progress);
                continue;
            }
            let cost = kernel.cost(&metas, &plan.params);
            if let Some(dir) = &scratch {
                let files = (0..plan.inputs.len())
                    .map(|i| cache.npy_file(&dir.0, &plan, i).map(|p| p.display().to_string()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(BenchError::failure)?;
                plan_cases.push(PlanCase {
                    id: plan_cases.len(),
                    kernel: kernel.id().into(),
                    n,
                    inputs: files,
                    params: params_json(&plan.params),
                    rotate: rotation,
                    expected: None,
                    valid_prefix: None,
                });
            }
            planned.push((kernel, plan, cost, rotation));
        }
        // Then time them backend by backend: the CPU's cases back to back, then the GPU's.
        // Each backend stays busy through its block instead of idling while the other one is
        // timed, so a case starts on warm worker threads and clocks and a short warm-up per
        // case suffices; the first case of a block warms up for [`BLOCK_WARMUP_SECONDS`].
        let block_policy = |first: bool| TimingPolicy {
            warmup_seconds: if first {
                policy.warmup_seconds.max(BLOCK_WARMUP_SECONDS)
            } else {
                policy.warmup_seconds
            },
            ..policy
        };
        if config.cpu {
            for (i, (kernel, plan, cost, rotation)) in planned.iter().enumerate() {
                let kernel = *kernel;
                progress.begin(&case_label(kernel, n, Backend::Cpu));
                let sets: Vec<Vec<&HostArray>> = (0..*rotation)
                    .map(|r| (0..plan.inputs.len()).map(|i| &cache.host(plan, i)[r]).collect())
                    .collect();
                match time_cpu(kernel, &sets, &plan.params, &block_policy(i == 0)) {
                    Ok(m) => rows.push(make_row(
                        kernel,
                        n,
                        Backend::Cpu,
                        &m,
                        *cost,
                        ceilings.cpu.as_ref(),
                    )),
                    Err(e) => skipped.push(Skipped {
                        kernel: kernel.id().into(),
                        n,
                        backend: Some(Backend::Cpu),
                        reason: e.to_string(),
                    }),
                }
                progress.finish_step();
            }
        }
        if let Some(gpu) = &gpu {
            // Every input's device copies first, as the host copies were: a case's timing then
            // never starts right behind an upload of up to 256 MiB and the driver's work of
            // retiring its staging memory. A failed upload is left for its case to report.
            for (_, plan, _, rotation) in &planned {
                for i in 0..plan.inputs.len() {
                    let _ = cache.device_copies(gpu, plan, i, *rotation);
                }
            }
            let _ = gpu.synchronize();
            for (i, (kernel, plan, cost, rotation)) in planned.iter().enumerate() {
                let kernel = *kernel;
                progress.begin(&case_label(kernel, n, Backend::Gpu));
                let policy = block_policy(i == 0);
                match measure_gpu_case(gpu, kernel, plan, &mut cache, *rotation, &policy) {
                    Ok(m) => rows.push(make_row(
                        kernel,
                        n,
                        Backend::Gpu,
                        &m,
                        *cost,
                        ceilings.gpu.as_ref(),
                    )),
                    Err(reason) => skipped.push(Skipped {
                        kernel: kernel.id().into(),
                        n,
                        backend: Some(Backend::Gpu),
                        reason,
                    }),
                }
                progress.finish_step();
            }
        }
        drop(cache);
        if let Some(gpu) = &gpu {
            // Hand the size's buffers back before the next, larger size allocates, and free
            // them: no later case reuses them.
            let _ = gpu.synchronize();
            gpu.release_cached_buffers();
        }
    }

    // Rows in the order of the sizes and kernels asked for, each kernel's backends together.
    let order: HashMap<&str, usize> =
        config.kernels.iter().enumerate().map(|(i, k)| (k.id(), i)).collect();
    rows.sort_by_key(|r| (r.n, order.get(r.kernel.as_str()).copied(), r.backend));

    let peers_report = scratch
        .as_ref()
        .map(|dir| compare_with_peers(config, &policy, &dir.0, plan_cases, &mut rows, progress));

    let summary = SummaryReport {
        peer_ratios: peer_ratios(&rows),
        below_target: below_target(&rows, &dispatch),
        crossovers: crossovers(&rows),
    };
    let regret = config
        .regret
        .as_ref()
        .map(|profile| score_routing(&rows, profile.as_ref(), gpu_status.adapter.as_ref()));
    let budget = (policy.budget_seconds.is_finite()).then_some(policy.budget_seconds);
    Ok(Report {
        schema: REPORT_SCHEMA.to_string(),
        meta: Meta {
            fastpath_version: env!("CARGO_PKG_VERSION").to_string(),
            date: crate::profile::utc_now_rfc3339(),
            commit: commit(),
            command: config.command.clone(),
            host: host_info(),
            gpu: gpu_status,
            sizes: config.sizes.clone(),
            kernels: config.kernels.iter().map(|k| k.id().to_string()).collect(),
            backends,
            policy: PolicyInfo {
                warmup_runs: policy.warmup_runs,
                min_reps: policy.min_reps,
                max_reps: policy.max_reps,
                budget_seconds: budget,
            },
            seconds: started.elapsed().as_secs_f64(),
        },
        ceilings,
        dispatch,
        rows,
        skipped,
        peers: peers_report,
        summary,
        regret,
        remeasured: Vec::new(),
        device: gpu,
    })
}

fn note_err<T>(progress: &mut dyn Progress, what: &str, r: Result<T, String>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            progress.note(&format!("{what} not measured: {e}"));
            None
        }
    }
}

fn measure_gpu_case(
    gpu: &Gpu,
    kernel: &dyn Kernel,
    plan: &CasePlan,
    cache: &mut SizeCache,
    rotation: usize,
    policy: &TimingPolicy,
) -> Result<Measured, String> {
    let spec = kernel.spec();
    let mut copies: Vec<Vec<GpuTensor>> = (0..plan.inputs.len())
        .map(|i| cache.device_copies(gpu, plan, i, rotation))
        .collect::<Result<_, _>>()?;
    // Inputs the kernel overwrites get private working copies, restored from the shared ones
    // before every repetition (the shared copies feed the kernels that follow).
    let required: Vec<&str> = spec
        .inputs
        .iter()
        .filter(|i| !i.optional && i.required_when.is_none())
        .map(|i| i.name.as_str())
        .collect();
    let overwritten: Vec<usize> = spec
        .outputs
        .iter()
        .filter_map(|o| o.in_place_of.as_deref())
        .filter_map(|name| required.iter().position(|r| *r == name))
        .collect();
    let mut pristine: Vec<(usize, Vec<GpuTensor>)> = Vec::new();
    for &i in &overwritten {
        let mut originals = Vec::with_capacity(rotation);
        for t in copies[i].iter_mut() {
            let work = gpu.empty(t.dtype(), t.shape().to_vec()).map_err(|e| e.to_string())?;
            originals.push(std::mem::replace(t, work));
        }
        pristine.push((i, originals));
    }
    let sets: Vec<Vec<&GpuTensor>> =
        (0..rotation).map(|r| copies.iter().map(|c| &c[r]).collect()).collect();
    let restore = InPlaceRestore {
        pristine: pristine.iter().map(|(i, v)| (*i, v.iter().collect())).collect(),
    };
    time_gpu(kernel, gpu, &sets, &restore, &plan.params, policy).map_err(|e| e.to_string())
}

fn compare_with_peers(
    config: &BenchConfig,
    policy: &TimingPolicy,
    dir: &Path,
    mut cases: Vec<PlanCase>,
    rows: &mut [Row],
    progress: &mut dyn Progress,
) -> PeersReport {
    let mut report = PeersReport { requested: config.peers.clone(), ..Default::default() };
    // Check cases: fastpath's CPU result at a small size, which each peer must reproduce.
    match check_cases(&config.kernels, dir, cases.len()) {
        Ok(mut checks) => cases.append(&mut checks),
        Err(e) => progress.note(&format!("peer results not checked: {e}")),
    }
    let mut devices = Vec::new();
    if config.cpu {
        devices.push("cpu");
    }
    if rows.iter().any(|r| r.backend == Backend::Gpu) {
        devices.push("gpu");
    }
    let plan = Plan {
        schema: "fastpath-peers-plan/1",
        peers: config.peers.clone(),
        devices,
        policy: PlanPolicy {
            warmup_runs: policy.warmup_runs,
            warmup_seconds: policy.warmup_seconds,
            min_reps: policy.min_reps,
            max_reps: policy.max_reps,
            budget_seconds: policy.budget_seconds.is_finite().then_some(policy.budget_seconds),
        },
        cases,
    };
    let run = peers::run_each_library(&plan, dir, None, progress);
    report.python =
        (!run.python.is_empty()).then(|| format!("{} ({})", peers::python_command(), run.python));
    report.available = run.peers.clone();
    report.missing = run.missing.clone();
    report.calls = run.calls.clone();
    let mut agrees: BTreeMap<(String, String), Option<bool>> = BTreeMap::new();
    for r in &run.results {
        match r.status.as_str() {
            "unmapped" => {
                let library = run
                    .peers
                    .iter()
                    .find(|p| p.name == r.peer)
                    .map_or(r.peer.clone(), |p| p.library.clone());
                let libs = report.unmapped.entry(r.kernel.clone()).or_default();
                if !libs.contains(&library) {
                    libs.push(library);
                }
            }
            "check" => {
                agrees.insert((r.peer.clone(), r.kernel.clone()), r.ok);
                if r.ok == Some(false) {
                    report.disagreements.push(PeerIssue {
                        peer: r.peer.clone(),
                        kernel: r.kernel.clone(),
                        n: Some(r.n),
                        message: r.message.clone().unwrap_or_default(),
                    });
                }
            }
            "error" => report.errors.push(PeerIssue {
                peer: r.peer.clone(),
                kernel: r.kernel.clone(),
                n: Some(r.n),
                message: r.message.clone().unwrap_or_default(),
            }),
            _ => {}
        }
    }
    for r in run.results.iter().filter(|r| r.status == "timed") {
        let (Some(stats), Some(timer)) = (&r.stats, &r.timer) else { continue };
        let backend = if r.kind == "gpu" { Backend::Gpu } else { Backend::Cpu };
        for row in rows
            .iter_mut()
            .filter(|row| row.kernel == r.kernel && row.n == r.n && row.backend == backend)
        {
            // Device-timed peers (CUDA events) are compared with fastpath's device time;
            // peers timed by synchronizing on the host with fastpath's wall time.
            let ours = if timer == "cuda-events" { row.median_s } else { row.wall.median };
            row.peers.push(PeerCell {
                peer: r.peer.clone(),
                median_s: stats.median,
                ratio: speed_ratio(stats.median, ours),
                timer: timer.clone(),
                agrees: agrees.get(&(r.peer.clone(), r.kernel.clone())).copied().flatten(),
            });
        }
    }
    report
}

/// Check cases: each kernel's CPU outputs at [`CHECK_N`], written for the harness to compare.
fn check_cases(
    kernels: &[&'static dyn Kernel],
    dir: &Path,
    first_id: usize,
) -> Result<Vec<PlanCase>, String> {
    let check_dir = dir.join("check");
    std::fs::create_dir_all(&check_dir)
        .map_err(|e| format!("cannot create {}: {e}", check_dir.display()))?;
    let mut out = Vec::new();
    for &kernel in kernels {
        let spec = kernel.spec();
        let Ok(plan) = CasePlan::new(spec, CHECK_N) else { continue };
        let arrays: Vec<HostArray> = plan.inputs.iter().map(|(g, s)| g.generate(s)).collect();
        let refs: Vec<&HostArray> = arrays.iter().collect();
        let Ok(outputs) = fastpath_kernels::run_host(
            kernel,
            &fastpath_kernels::Backend::Cpu,
            &refs,
            &plan.params,
        ) else {
            continue;
        };
        let mut inputs = Vec::new();
        for (i, a) in arrays.iter().enumerate() {
            let p = check_dir.join(format!("{}-in{i}.npy", kernel.id()));
            npy::write(&p, a)?;
            inputs.push(p.display().to_string());
        }
        let mut expected = Vec::new();
        for (i, a) in outputs.iter().enumerate() {
            let p = check_dir.join(format!("{}-out{i}.npy", kernel.id()));
            npy::write(&p, a)?;
            expected.push(p.display().to_string());
        }
        let valid_prefix = spec
            .outputs
            .iter()
            .find_map(|o| o.valid_prefix.as_deref())
            .and_then(|name| spec.outputs.iter().position(|o| o.name == name));
        out.push(PlanCase {
            id: first_id + out.len(),
            kernel: kernel.id().into(),
            n: CHECK_N,
            inputs,
            params: params_json(&plan.params),
            rotate: 1,
            expected: Some(expected),
            valid_prefix,
        });
    }
    Ok(out)
}

/// Runs only the mapping check (no timing) for `peers`: each mapped peer op once on a small
/// input, compared with fastpath's CPU result. `script` replaces the embedded harness (tests
/// use it to prove a wrong mapping is caught).
pub fn check_peer_mapping(
    kernels: &[&'static dyn Kernel],
    peers: &[String],
    script: Option<PathBuf>,
) -> Result<peers::PeerRun, String> {
    let dir = ScratchDir::new()?;
    let cases = check_cases(kernels, &dir.0, 0)?;
    let plan = Plan {
        schema: "fastpath-peers-plan/1",
        peers: peers.to_vec(),
        devices: vec!["cpu", "gpu"],
        policy: PlanPolicy {
            warmup_runs: 0,
            warmup_seconds: 0.0,
            min_reps: 1,
            max_reps: 1,
            budget_seconds: None,
        },
        cases,
    };
    Ok(peers::run_each_library(&plan, &dir.0, script, &mut Silent))
}

/// Scores `auto` (the profile when it applies, else the rule) and the rule alone on the
/// measured wall times.
fn score_routing(
    rows: &[Row],
    profile: Option<&(MachineProfile, PathBuf)>,
    adapter: Option<&GpuInfo>,
) -> RegretReport {
    let class = adapter.map_or(GpuClass::None, |a| GpuClass::from_device_type(&a.device_type));
    let gpu_name = adapter.map(|a| a.name.as_str());
    let mut decisions = Vec::new();
    let (mut auto_scores, mut rule_scores) = (Vec::new(), Vec::new());
    let mut bases = std::collections::BTreeSet::new();
    for (kernel, points) in paired_walls(rows) {
        for (n, cpu_s, gpu_s) in points {
            let time = |b: Backend| if b == Backend::Cpu { cpu_s } else { gpu_s };
            let best = if gpu_s < cpu_s { Backend::Gpu } else { Backend::Cpu };
            let choice = decide(profile.map(|p| &p.0), &kernel, n as u64, class, gpu_name);
            let rule = rule_backend(class, n as u64);
            let basis = format!("{:?}", choice.basis).to_lowercase();
            bases.insert(basis.clone());
            let label = format!("{kernel} {}", format_size(n));
            auto_scores.push(Decision {
                label: label.clone(),
                chosen_seconds: time(choice.backend),
                best_seconds: time(best),
            });
            rule_scores.push(Decision {
                label,
                chosen_seconds: time(rule),
                best_seconds: time(best),
            });
            decisions.push(RegretDecision {
                kernel: kernel.clone(),
                n,
                cpu_s,
                gpu_s,
                best,
                auto: choice.backend,
                auto_basis: basis,
                auto_regret: regret(time(choice.backend), time(best)),
                rule,
                rule_regret: regret(time(rule), time(best)),
            });
        }
    }
    RegretReport {
        auto_basis: match bases.len() {
            0 => "rule".into(),
            1 => bases.into_iter().next().unwrap_or_default(),
            _ => "mixed".into(),
        },
        profile: profile.map(|p| p.1.display().to_string()),
        auto: RegretTotals::of(&auto_scores),
        rule: RegretTotals::of(&rule_scores),
        decisions,
        target_geomean: targets::REGRET_GEOMEAN,
        target_worst: targets::REGRET_WORST,
        remeasured_cases: 0,
        first_pass: None,
    }
}

/// Before routing regret is trusted, measures the contested cases (the two backends within
/// [`crate::calibrate::DECISIVE_RATIO`] of each other, whichever `auto` chose) twice more and
/// keeps the median of the three walls ([`crate::calibrate::merge_median`]), as calibration
/// does at its crossovers. On a shared host a burst of interference can slow one backend
/// several-fold for the fraction of a second one case takes (one H100 host timed a CPU map at
/// 2^20 eight times slower than calibration had, minutes apart), and a single median then
/// scores a sound choice as a bad one. Only walls change; the primary times and peer ratios
/// stay those of the first measurement, whose regret is kept in the report beside the final.
pub fn confirm_regret(
    config: &BenchConfig,
    report: &mut Report,
    progress: &mut dyn Progress,
) -> Result<(), BenchError> {
    let Some(first) = report.regret.as_ref().map(|r| r.auto.clone()) else { return Ok(()) };
    let todo = crate::calibrate::contested_cases(&report.rows);
    if todo.is_empty() {
        return Ok(());
    }
    let started = Instant::now();
    let passes = crate::calibrate::remeasure(config, report, &todo, None, progress)?;
    report.meta.seconds += started.elapsed().as_secs_f64();
    let merged = crate::calibrate::merge_median(
        &mut report.rows,
        &passes,
        crate::calibrate::MergeScope::Walls,
    );
    report.remeasured.extend(merged);
    report.summary.crossovers = crossovers(&report.rows);
    let profile = config.regret.as_ref().and_then(|p| p.as_ref());
    let mut scored = score_routing(&report.rows, profile, report.meta.gpu.adapter.as_ref());
    scored.remeasured_cases = todo.len();
    scored.first_pass = Some(first);
    report.regret = Some(scored);
    Ok(())
}

/// The batched-call figures, for callers that print them.
pub fn chain_line(chain: &ChainResult, backend: Backend) -> String {
    format!(
        "{} calls of {} at n = {} in one {}: {:.2} µs per call{}",
        chain.calls,
        chain.kernel,
        format_size(chain.n),
        if backend == Backend::Gpu { "batch" } else { "loop" },
        chain.per_call_s * 1e6,
        if chain.from_timestamps {
            format!(" (GPU timestamps; {:.2} µs wall)", chain.wall_per_call_s * 1e6)
        } else {
            String::new()
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastpath_gpu::GpuError;
    use fastpath_kernels::{Expected, KernelError, Params, WgslVariant};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Stands in for an in-place kernel (SORT_BITONIC's contract: output `x` in place of input
    /// `x`): its GPU implementation overwrites the input with zeros.
    struct Overwrites;
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    impl Kernel for Overwrites {
        fn id(&self) -> &'static str {
            "SORT_BITONIC"
        }
        fn cost(&self, args: &[ArgMeta], _: &Params) -> Cost {
            Cost::per_element(args[0].len(), 4.0, 4.0, 1.0)
        }
        fn cpu(&self, inputs: &[&HostArray], _: &Params) -> Result<Vec<HostArray>, KernelError> {
            Ok(vec![inputs[0].clone()])
        }
        fn gpu(
            &self,
            gpu: &Gpu,
            inputs: &[&GpuTensor],
            _: &Params,
        ) -> Result<Vec<GpuTensor>, KernelError> {
            CALLS.fetch_add(1, Ordering::SeqCst);
            let zeros = gpu.upload(
                &vec![0.0f32; inputs[0].len()],
                fastpath_gpu::DType::F32,
                inputs[0].shape().to_vec(),
            )?;
            gpu.copy(&zeros, inputs[0])?;
            Ok(vec![inputs[0].clone()])
        }
        fn reference(&self, _: &[&HostArray], _: &Params) -> Vec<Expected> {
            Vec::new()
        }
        fn tolerance(&self) -> &'static str {
            "exact"
        }
        fn wgsl_variants(&self) -> Vec<WgslVariant> {
            Vec::new()
        }
    }

    #[test]
    fn inputs_overwritten_in_place_are_restored_and_the_shared_copy_survives() {
        let gpu = match open_gpu(None) {
            Ok(g) => g,
            Err(e) => {
                assert!(std::env::var_os("CI").is_none(), "no GPU in CI: {e}");
                return;
            }
        };
        let plan = CasePlan::new(Overwrites.spec(), 4096).unwrap();
        let mut cache = SizeCache::default();
        let policy = TimingPolicy::QUICK.with_exact_reps(4);
        let before = CALLS.load(Ordering::SeqCst);
        let m = measure_gpu_case(&gpu, &Overwrites, &plan, &mut cache, 2, &policy).unwrap();
        assert!(CALLS.load(Ordering::SeqCst) - before >= 4);
        assert_eq!(m.rotation, 2);
        // The copies other kernels read were never handed to the overwriting kernel.
        let original: Vec<f32> = cache.host(&plan, 0)[0].f32s().to_vec();
        for t in &cache.device[&plan.input_key(0)] {
            let back: Vec<f32> = gpu.read(t).map_err(|e: GpuError| e.to_string()).unwrap();
            assert_eq!(back, original);
        }
    }

    /// Records the labels of the cases in the order they are timed.
    #[derive(Default)]
    struct Order(Vec<String>);
    impl Progress for Order {
        fn begin(&mut self, label: &str) {
            self.0.push(label.to_string());
        }
    }

    /// REDUCE_SUM and MAP_RELU at 2^10 and 2^12, no ceilings, `gpu` as asked.
    fn two_kernel_config(gpu: bool, reps: usize) -> BenchConfig {
        BenchConfig {
            kernels: ["REDUCE_SUM", "MAP_RELU"]
                .into_iter()
                .map(|id| fastpath_kernels::kernel(id).unwrap())
                .collect(),
            sizes: vec![1024, 4096],
            cpu: true,
            gpu,
            gpu_required: false,
            adapter: None,
            peers: Vec::new(),
            policy: TimingPolicy::QUICK.with_exact_reps(reps),
            run_budget_seconds: None,
            regret: None,
            measure_transfer: false,
            measure_ceilings: false,
            only_cases: None,
            gpu_device: None,
            command: "test".into(),
        }
    }

    /// Each size is timed backend by backend (every CPU case, then every GPU case), and a
    /// re-measurement pass given the first pass's GPU measures on that device.
    #[test]
    fn cases_are_timed_backend_by_backend_and_passes_share_the_gpu() {
        let mut config = two_kernel_config(true, 2);
        let mut order = Order::default();
        let report = run(&config, &mut order).unwrap();
        let gpu = report.device.clone();
        if gpu.is_none() {
            assert!(std::env::var_os("CI").is_none(), "no GPU in CI");
        }
        let mut want = Vec::new();
        for n in ["2^10", "2^12"] {
            for backend in if gpu.is_some() { &["cpu", "gpu"][..] } else { &["cpu"][..] } {
                for k in ["REDUCE_SUM", "MAP_RELU"] {
                    want.push(format!("{k} {n} {backend}"));
                }
            }
        }
        assert_eq!(order.0, want);
        // The rows come out kernel by kernel, each kernel's backends together.
        let rows: Vec<(&str, usize, Backend)> =
            report.rows.iter().map(|r| (r.kernel.as_str(), r.n, r.backend)).collect();
        let mut sorted = rows.clone();
        sorted.sort_by_key(|&(k, n, b)| (n, k != "REDUCE_SUM", b));
        assert_eq!(rows, sorted);
        if let Some(gpu) = gpu {
            config.gpu_device = Some(gpu.clone());
            config.only_cases = Some([("MAP_RELU".to_string(), 1024)].into_iter().collect());
            let again = run(&config, &mut Silent).unwrap();
            assert!(again.device.as_ref().is_some_and(|g| Arc::ptr_eq(g, &gpu)));
            assert_eq!(again.rows.len(), 2);
        }
    }

    /// Calibration's second pass: only the listed cases, no ceilings, no GPU needed.
    #[test]
    fn only_cases_measures_just_those_and_skips_the_ceilings() {
        let config = BenchConfig {
            only_cases: Some([("MAP_RELU".to_string(), 4096)].into_iter().collect()),
            ..two_kernel_config(false, 3)
        };
        let report = run(&config, &mut Silent).unwrap();
        let cases: Vec<(&str, usize, Backend)> =
            report.rows.iter().map(|r| (r.kernel.as_str(), r.n, r.backend)).collect();
        assert_eq!(cases, vec![("MAP_RELU", 4096, Backend::Cpu)]);
        assert!(report.ceilings.cpu.is_none() && report.dispatch.cpu_chain.is_none());
        assert!(report.skipped.is_empty());
    }
}
