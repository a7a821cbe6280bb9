//! `fastpath calibrate`: a benchmark run over every kernel, backend and a ladder of sizes,
//! turned into the [`MachineProfile`] that routing reads.

use std::collections::BTreeMap;

use fastpath_kernels::Kernel;

use crate::measure::TimingPolicy;
use crate::profile::{
    Backend, DispatchOverhead, KernelCurves, MachineProfile, PROFILE_SCHEMA, Point, Transfer,
};
use crate::report::{Report, crossover_of, paired_walls};
use crate::run::{BenchConfig, host_info};

/// `--quick`: seven sizes, ×4 apart, up to 2^22 elements.
pub fn quick_sizes() -> Vec<usize> {
    (0..7).map(|i| 1usize << (10 + 2 * i)).collect()
}

/// Full calibration: every power of two from 2^10 to 2^26.
pub fn full_sizes() -> Vec<usize> {
    (10..=26).map(|e| 1usize << e).collect()
}

/// Seconds of measurement a quick calibration spreads over its cases (the ceilings and input
/// generation come on top), so it stays under a minute with the whole catalog.
pub const QUICK_MEASURE_SECONDS: f64 = 25.0;

/// The benchmark run behind a calibration.
pub fn config(
    quick: bool,
    kernels: Vec<&'static dyn Kernel>,
    sizes: Option<Vec<usize>>,
    adapter: Option<String>,
    command: String,
) -> BenchConfig {
    BenchConfig {
        kernels,
        sizes: sizes.unwrap_or_else(|| if quick { quick_sizes() } else { full_sizes() }),
        cpu: true,
        gpu: true,
        gpu_required: false,
        adapter,
        peers: Vec::new(),
        policy: if quick { TimingPolicy::QUICK } else { TimingPolicy::BENCH },
        run_budget_seconds: quick.then_some(QUICK_MEASURE_SECONDS),
        regret: None,
        measure_transfer: true,
        command,
    }
}

/// The machine profile of a run: per-kernel curves (wall time per call on each backend and the
/// GPU's device time), crossovers, ceilings and fixed costs.
pub fn profile_from(report: &Report, quick: bool) -> MachineProfile {
    let mut kernels: BTreeMap<String, KernelCurves> = BTreeMap::new();
    for r in &report.rows {
        let curves = kernels.entry(r.kernel.clone()).or_default();
        let wall = Point {
            n: r.n as u64,
            seconds: r.wall.median,
            gbps: Some(r.bytes / r.wall.median / 1e9),
        };
        match r.backend {
            Backend::Cpu => curves.cpu.push(wall),
            Backend::Gpu => {
                curves.gpu.push(wall);
                if r.time_source == "gpu-timestamps" {
                    curves.gpu_device.push(Point {
                        n: r.n as u64,
                        seconds: r.median_s,
                        gbps: Some(r.gbps),
                    });
                }
            }
        }
    }
    for (kernel, points) in paired_walls(&report.rows) {
        if let Some(c) = kernels.get_mut(&kernel) {
            c.crossover_n = crossover_of(&points).map(|n| n as u64);
        }
    }
    for c in kernels.values_mut() {
        for v in [&mut c.cpu, &mut c.gpu, &mut c.gpu_device] {
            v.sort_by_key(|p| p.n);
        }
    }
    let d = &report.dispatch;
    MachineProfile {
        schema: PROFILE_SCHEMA.into(),
        created: report.meta.date.clone(),
        fastpath_version: report.meta.fastpath_version.clone(),
        quick,
        host: host_info(),
        gpu: report.meta.gpu.adapter.clone(),
        cpu_copy_gbps: report.ceilings.cpu.as_ref().map(|c| c.copy.gbps),
        gpu_copy_gbps: report.ceilings.gpu.as_ref().map(|c| c.copy.gbps),
        cpu_peak_gflops: report.ceilings.cpu.as_ref().and_then(|c| c.peak_gflops),
        gpu_peak_gflops: report.ceilings.gpu.as_ref().and_then(|c| c.peak_gflops),
        dispatch: DispatchOverhead {
            gpu_submit_wait_s: d.gpu_submit_wait.map(|s| s.median),
            gpu_chained_per_kernel_s: d.gpu_chain.as_ref().map(|c| c.per_call_s),
            cpu_call_s: d.cpu_chain.as_ref().map(|c| c.per_call_s),
        },
        transfer: d.transfer.as_ref().map(|t| Transfer {
            host_to_device_gbps: t.host_to_device_gbps,
            device_to_host_gbps: t.device_to_host_gbps,
        }),
        kernels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_ladders() {
        assert_eq!(quick_sizes().first(), Some(&1024));
        assert_eq!(quick_sizes().last(), Some(&(1 << 22)));
        assert_eq!(full_sizes().len(), 17);
    }
}
