//! The benchmark report: what `--json` prints (schema [`REPORT_SCHEMA`]), plus the analyses
//! over it (peer ratios, targets, CPU/GPU crossovers, routing regret).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use fastpath_gpu::Gpu;
use serde::{Deserialize, Serialize};

use crate::ceilings::{ChainResult, CopyCeiling};
use crate::profile::{Backend, GpuInfo, HostInfo, Transfer};
use crate::stats::{RegretTotals, Summary, geomean};

pub const REPORT_SCHEMA: &str = "fastpath-bench/1";

/// Issue-2 targets the report checks.
pub mod targets {
    /// Memory-bound kernels at the largest size, % of the measured copy bandwidth.
    pub const CPU_PCT_OF_COPY: f64 = 80.0;
    pub const GPU_PCT_OF_COPY: f64 = 85.0;
    /// Peer time / fastpath time at the largest size: not slower than numpy on the CPU, within
    /// 1.1× of PyTorch CUDA on the GPU.
    pub const MIN_RATIO_NUMPY: f64 = 1.0;
    pub const MIN_RATIO_TORCH_CUDA: f64 = 1.0 / 1.1;
    /// Per kernel call when 100 small calls share one GPU batch.
    pub const GPU_CHAIN_PER_CALL_S: f64 = 10e-6;
    /// Bandwidth and peer targets are only judged from this size on (smaller sizes are
    /// latency-bound; issue 2 states them at 2^24 on the CPU and 2^26 on the H100).
    pub const MIN_N_FOR_TARGETS: usize = 1 << 20;
    /// Routing regret.
    pub const REGRET_GEOMEAN: f64 = 0.05;
    pub const REGRET_WORST: f64 = 0.25;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub meta: Meta,
    pub ceilings: Ceilings,
    pub dispatch: DispatchReport,
    pub rows: Vec<Row>,
    pub skipped: Vec<Skipped>,
    pub peers: Option<PeersReport>,
    pub summary: SummaryReport,
    pub regret: Option<RegretReport>,
    /// Cases measured more than once (calibration's crossovers, the benchmark's contested
    /// cases before regret is scored): every measurement's wall, to show how far they agreed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remeasured: Vec<Remeasured>,
    /// The GPU the run measured on, kept open for re-measurement passes
    /// ([`crate::run::BenchConfig::gpu_device`]); not part of the JSON.
    #[serde(skip)]
    pub device: Option<Arc<Gpu>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    pub fastpath_version: String,
    /// UTC, RFC 3339.
    pub date: String,
    /// `git rev-parse --short HEAD` (with `-dirty` for local changes) where available.
    pub commit: Option<String>,
    pub command: String,
    pub host: HostInfo,
    pub gpu: GpuStatus,
    pub sizes: Vec<usize>,
    pub kernels: Vec<String>,
    pub backends: Vec<Backend>,
    pub policy: PolicyInfo,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyInfo {
    pub warmup_runs: usize,
    pub min_reps: usize,
    pub max_reps: usize,
    /// `None` when an exact repetition count was asked for.
    pub budget_seconds: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GpuStatus {
    pub available: bool,
    pub adapter: Option<GpuInfo>,
    pub subgroups: Option<bool>,
    /// Why the GPU is not measured.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Ceilings {
    pub cpu: Option<BackendCeilings>,
    pub gpu: Option<BackendCeilings>,
}

impl Ceilings {
    pub fn of(&self, backend: Backend) -> Option<&BackendCeilings> {
        match backend {
            Backend::Cpu => self.cpu.as_ref(),
            Backend::Gpu => self.gpu.as_ref(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackendCeilings {
    pub copy: CopyCeiling,
    pub peak_gflops: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DispatchReport {
    /// One tiny dispatch recorded, submitted and waited for.
    pub gpu_submit_wait: Option<Summary>,
    /// 100 small kernel calls in one GPU batch (the issue-2 figure).
    pub gpu_chain: Option<ChainResult>,
    /// The same calls on the CPU, back to back.
    pub cpu_chain: Option<ChainResult>,
    pub transfer: Option<Transfer>,
}

/// One kernel × size × backend.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    pub kernel: String,
    pub domain: String,
    /// "memory", "compute" or "fused" (the catalog's classification).
    pub bound: String,
    pub n: usize,
    pub backend: Backend,
    /// Median seconds per call: GPU timestamps on the GPU when available, wall time otherwise.
    pub median_s: f64,
    /// "gpu-timestamps" or "wall".
    pub time_source: String,
    pub stats: Summary,
    /// Interquartile range / median, percent.
    pub spread_pct: f64,
    /// Wall time per call including dispatch (the GPU's submit and wait); the CPU's equals
    /// `stats`.
    pub wall: Summary,
    /// Copies of the inputs rotated between repetitions.
    pub rotation: usize,
    /// From the kernel's cost model.
    pub bytes: f64,
    pub flops: f64,
    pub gbps: f64,
    pub gflops: f64,
    pub pct_copy: Option<f64>,
    pub pct_peak_flops: Option<f64>,
    /// "copy" (memory-bound and fused kernels) or "flops" (compute-bound ones).
    pub ceiling: String,
    pub pct_of_ceiling: Option<f64>,
    /// Peers of the same kind (CPU peers on CPU rows, GPU peers on GPU rows).
    pub peers: Vec<PeerCell>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeerCell {
    /// e.g. "numpy", "torch-cuda", "mlx-cpu".
    pub peer: String,
    pub median_s: f64,
    /// Peer time / fastpath time (> 1: fastpath is faster).
    pub ratio: Option<f64>,
    /// "cuda-events", "perf_counter", ...
    pub timer: String,
    /// Whether the peer's result matched fastpath's in the mapping check; `None` if unchecked.
    pub agrees: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Skipped {
    pub kernel: String,
    pub n: usize,
    pub backend: Option<Backend>,
    pub reason: String,
}

/// One case measured more than once, and the wall kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Remeasured {
    pub kernel: String,
    pub n: usize,
    pub backend: Backend,
    /// Median wall of each measurement, the first measurement first.
    pub walls_s: Vec<f64>,
    /// Index in `walls_s` of the measurement kept (the median of them).
    pub kept: usize,
}

impl Remeasured {
    /// Whether a re-measurement replaced the first measurement.
    pub fn changed(&self) -> bool {
        self.kept != 0
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PeersReport {
    /// The interpreter used, with its version.
    pub python: Option<String>,
    pub requested: Vec<String>,
    pub available: Vec<PeerInfo>,
    pub missing: Vec<MissingPeer>,
    /// Kernel → libraries with no equivalent operation.
    pub unmapped: BTreeMap<String, Vec<String>>,
    /// Kernel → library → the call timed.
    pub calls: BTreeMap<String, BTreeMap<String, String>>,
    /// Peer results that differed from fastpath's in the mapping check.
    pub disagreements: Vec<PeerIssue>,
    /// Peer calls that failed.
    pub errors: Vec<PeerIssue>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeerInfo {
    pub name: String,
    pub library: String,
    /// "cpu" or "gpu".
    pub kind: String,
    pub version: String,
    pub device: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MissingPeer {
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeerIssue {
    pub peer: String,
    pub kernel: String,
    pub n: Option<usize>,
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SummaryReport {
    pub peer_ratios: Vec<PeerRatio>,
    pub below_target: Vec<Miss>,
    pub crossovers: Vec<Crossover>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeerRatio {
    pub peer: String,
    pub backend: Backend,
    /// Rows compared (the peer agreed with fastpath and both times are valid).
    pub rows: usize,
    /// Geometric mean of peer time / fastpath time over every compared row.
    pub geomean: f64,
    /// Same, over the rows at each kernel's largest compared size.
    pub geomean_at_largest: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Miss {
    pub kernel: String,
    pub backend: Backend,
    pub n: usize,
    pub what: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Crossover {
    pub kernel: String,
    /// Smallest measured size from which the GPU's wall time beat the CPU's at every larger
    /// measured size.
    pub crossover_n: Option<usize>,
    pub note: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegretReport {
    /// "profile" when a calibrated profile drove `auto`, else "rule".
    pub auto_basis: String,
    pub profile: Option<String>,
    pub auto: RegretTotals,
    /// The fallback rule's regret on the same measurements, to judge the rule itself.
    pub rule: RegretTotals,
    pub decisions: Vec<RegretDecision>,
    pub target_geomean: f64,
    pub target_worst: f64,
    /// Cases whose two backends were within [`crate::calibrate::DECISIVE_RATIO`] of each other
    /// and were measured [`crate::calibrate::REMEASUREMENTS`] more times before scoring (the
    /// median of each backend's walls kept).
    #[serde(default)]
    pub remeasured_cases: usize,
    /// `auto`'s regret on the first measurement alone, before the re-measurements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_pass: Option<RegretTotals>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegretDecision {
    pub kernel: String,
    pub n: usize,
    pub cpu_s: f64,
    pub gpu_s: f64,
    pub best: Backend,
    pub auto: Backend,
    pub auto_basis: String,
    pub auto_regret: f64,
    pub rule: Backend,
    pub rule_regret: f64,
}

/// Wall time of the row for `kernel` at `n` on `backend` (the routing currency).
pub fn wall_of(rows: &[Row], kernel: &str, n: usize, backend: Backend) -> Option<f64> {
    rows.iter()
        .find(|r| r.kernel == kernel && r.n == n && r.backend == backend)
        .map(|r| r.wall.median)
}

/// Kernel → sizes measured on both backends, with (cpu wall, gpu wall).
pub fn paired_walls(rows: &[Row]) -> BTreeMap<String, Vec<(usize, f64, f64)>> {
    let mut out: BTreeMap<String, Vec<(usize, f64, f64)>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.backend == Backend::Cpu) {
        if let Some(g) = wall_of(rows, &r.kernel, r.n, Backend::Gpu) {
            out.entry(r.kernel.clone()).or_default().push((r.n, r.wall.median, g));
        }
    }
    for v in out.values_mut() {
        v.sort_by_key(|p| p.0);
    }
    out
}

/// Smallest size from which the GPU wins at every larger measured size (see [`Crossover`]).
pub fn crossover_of(points: &[(usize, f64, f64)]) -> Option<usize> {
    let mut crossover = None;
    for &(n, cpu, gpu) in points.iter().rev() {
        if gpu < cpu {
            crossover = Some(n);
        } else {
            break;
        }
    }
    crossover
}

pub fn crossovers(rows: &[Row]) -> Vec<Crossover> {
    paired_walls(rows)
        .into_iter()
        .map(|(kernel, points)| {
            let c = crossover_of(&points);
            let note = match c {
                None => "CPU faster at the largest size measured".to_string(),
                Some(n) if n == points[0].0 => "GPU faster at every size measured".to_string(),
                Some(n) => format!("GPU faster from {}", crate::sizes::format_size(n)),
            };
            Crossover { kernel, crossover_n: c, note }
        })
        .collect()
}

/// Geometric-mean ratio per peer and backend, over rows where the peer agreed with fastpath.
pub fn peer_ratios(rows: &[Row]) -> Vec<PeerRatio> {
    let mut by_peer: BTreeMap<(String, Backend), Vec<(&Row, f64)>> = BTreeMap::new();
    for r in rows {
        for p in &r.peers {
            if let (Some(ratio), false) = (p.ratio, p.agrees == Some(false)) {
                by_peer.entry((p.peer.clone(), r.backend)).or_default().push((r, ratio));
            }
        }
    }
    by_peer
        .into_iter()
        .map(|((peer, backend), items)| {
            let mut largest: BTreeMap<&str, (usize, f64)> = BTreeMap::new();
            for (r, ratio) in &items {
                let e = largest.entry(r.kernel.as_str()).or_insert((r.n, *ratio));
                if r.n > e.0 {
                    *e = (r.n, *ratio);
                }
            }
            PeerRatio {
                peer,
                backend,
                rows: items.len(),
                geomean: geomean(items.iter().map(|i| i.1)).unwrap_or(f64::NAN),
                geomean_at_largest: geomean(largest.values().map(|v| v.1)),
            }
        })
        .collect()
}

/// Rows at each kernel's largest measured size that miss an issue-2 target, plus the batched
/// call figure.
pub fn below_target(rows: &[Row], dispatch: &DispatchReport) -> Vec<Miss> {
    let mut largest: BTreeMap<(&str, Backend), &Row> = BTreeMap::new();
    for r in rows {
        let e = largest.entry((r.kernel.as_str(), r.backend)).or_insert(r);
        if r.n > e.n {
            *e = r;
        }
    }
    let mut misses = Vec::new();
    for r in largest.values() {
        let memory_bound = r.bound != "compute";
        if memory_bound && r.n >= targets::MIN_N_FOR_TARGETS {
            let target = match r.backend {
                Backend::Cpu => targets::CPU_PCT_OF_COPY,
                Backend::Gpu => targets::GPU_PCT_OF_COPY,
            };
            if let Some(pct) = r.pct_copy.filter(|p| *p < target) {
                misses.push(Miss {
                    kernel: r.kernel.clone(),
                    backend: r.backend,
                    n: r.n,
                    what: format!("{pct:.0}% of copy bandwidth (target ≥ {target:.0}%)"),
                });
            }
        }
        for p in r.peers.iter().filter(|_| r.n >= targets::MIN_N_FOR_TARGETS) {
            let min = match p.peer.as_str() {
                "numpy" => targets::MIN_RATIO_NUMPY,
                "torch-cuda" => targets::MIN_RATIO_TORCH_CUDA,
                _ => continue,
            };
            if let Some(ratio) = p.ratio.filter(|x| *x < min && p.agrees != Some(false)) {
                misses.push(Miss {
                    kernel: r.kernel.clone(),
                    backend: r.backend,
                    n: r.n,
                    what: format!("{:.2}× {}'s speed (target ≥ {:.2}×)", ratio, p.peer, min),
                });
            }
        }
    }
    if let Some(chain) = &dispatch.gpu_chain
        && chain.per_call_s > targets::GPU_CHAIN_PER_CALL_S
    {
        misses.push(Miss {
            kernel: chain.kernel.clone(),
            backend: Backend::Gpu,
            n: chain.n,
            what: format!(
                "{:.1} µs per call with {} calls in one batch (target ≤ {:.0} µs)",
                chain.per_call_s * 1e6,
                chain.calls,
                targets::GPU_CHAIN_PER_CALL_S * 1e6
            ),
        });
    }
    misses
}

/// Names of every peer that appears in some row, in a stable order (CPU peers first).
pub fn peer_columns(rows: &[Row]) -> Vec<String> {
    let set: BTreeSet<(bool, String)> = rows
        .iter()
        .flat_map(|r| r.peers.iter().map(move |p| (r.backend == Backend::Gpu, p.peer.clone())))
        .collect();
    let mut out: Vec<String> = Vec::new();
    for (_, p) in set {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A synthetic row with one wall time (also its median); other test modules use it too.
    pub(crate) fn row(
        kernel: &str,
        n: usize,
        backend: Backend,
        wall: f64,
        peers: Vec<PeerCell>,
    ) -> Row {
        let s = Summary { reps: 5, min: wall, p25: wall, median: wall, p75: wall, max: wall };
        Row {
            kernel: kernel.into(),
            domain: "reductions".into(),
            bound: "memory".into(),
            n,
            backend,
            median_s: wall,
            time_source: "wall".into(),
            stats: s,
            spread_pct: 0.0,
            wall: s,
            rotation: 1,
            bytes: n as f64 * 4.0,
            flops: n as f64,
            gbps: n as f64 * 4.0 / wall / 1e9,
            gflops: 0.0,
            pct_copy: Some(50.0),
            pct_peak_flops: None,
            ceiling: "copy".into(),
            pct_of_ceiling: Some(50.0),
            peers,
        }
    }

    fn peer(name: &str, ratio: f64, agrees: Option<bool>) -> PeerCell {
        PeerCell { peer: name.into(), median_s: 1.0, ratio: Some(ratio), timer: "t".into(), agrees }
    }

    #[test]
    fn crossover_needs_the_gpu_to_keep_winning() {
        assert_eq!(crossover_of(&[(1, 1.0, 2.0), (2, 2.0, 1.0), (4, 4.0, 1.0)]), Some(2));
        // A GPU win at a small size followed by a loss is no crossover there.
        assert_eq!(crossover_of(&[(1, 2.0, 1.0), (2, 1.0, 2.0), (4, 4.0, 1.0)]), Some(4));
        assert_eq!(crossover_of(&[(1, 1.0, 2.0), (2, 1.0, 2.0)]), None);
        assert_eq!(crossover_of(&[]), None);
        let rows = vec![
            row("A", 1024, Backend::Cpu, 1e-6, vec![]),
            row("A", 1024, Backend::Gpu, 1e-4, vec![]),
            row("A", 1 << 20, Backend::Cpu, 1e-3, vec![]),
            row("A", 1 << 20, Backend::Gpu, 2e-4, vec![]),
        ];
        let c = crossovers(&rows);
        assert_eq!(c[0].crossover_n, Some(1 << 20));
        assert_eq!(c[0].note, "GPU faster from 2^20");
    }

    #[test]
    fn peer_ratios_skip_disagreeing_peers_and_track_the_largest_size() {
        let rows = vec![
            row("A", 1024, Backend::Cpu, 1.0, vec![peer("numpy", 4.0, Some(true))]),
            row("A", 4096, Backend::Cpu, 1.0, vec![peer("numpy", 1.0, Some(true))]),
            row("B", 1024, Backend::Cpu, 1.0, vec![peer("numpy", 0.25, None)]),
            row("C", 1024, Backend::Cpu, 1.0, vec![peer("numpy", 100.0, Some(false))]),
        ];
        let r = peer_ratios(&rows);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].rows, 3);
        assert!((r[0].geomean - 1.0).abs() < 1e-12); // (4 · 1 · 0.25)^(1/3)
        assert!((r[0].geomean_at_largest.unwrap() - 0.5).abs() < 1e-12); // (1 · 0.25)^(1/2)
    }

    #[test]
    fn targets_are_judged_at_the_largest_size() {
        let mut big = row("A", 1 << 24, Backend::Gpu, 1.0, vec![peer("torch-cuda", 0.5, None)]);
        big.pct_copy = Some(60.0);
        let mut small = row("A", 1024, Backend::Gpu, 1.0, vec![]);
        small.pct_copy = Some(1.0);
        let mut ok = row("B", 1 << 24, Backend::Cpu, 1.0, vec![peer("numpy", 1.2, None)]);
        ok.pct_copy = Some(90.0);
        let mut compute = row("C", 1 << 24, Backend::Cpu, 1.0, vec![]);
        compute.bound = "compute".into();
        compute.pct_copy = Some(1.0);
        let misses = below_target(&[big, small, ok, compute], &DispatchReport::default());
        assert_eq!(misses.len(), 2, "{misses:?}");
        assert!(misses.iter().all(|m| m.kernel == "A" && m.n == 1 << 24));
        assert!(misses[0].what.contains("60% of copy bandwidth"));
        assert!(misses[1].what.contains("torch-cuda"));
    }
}
