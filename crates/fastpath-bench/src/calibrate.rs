//! `fastpath calibrate`: a benchmark run over every kernel, backend and a ladder of sizes,
//! turned into the [`MachineProfile`] that routing reads.

use std::collections::{BTreeMap, BTreeSet};

use fastpath_kernels::Kernel;

use crate::measure::TimingPolicy;
use crate::profile::{
    Backend, DispatchOverhead, KernelCurves, MachineProfile, PROFILE_SCHEMA, Point, Transfer,
};
use crate::report::{Report, Row, crossover_of, paired_walls};
use crate::run::{BenchConfig, BenchError, Progress, host_info};

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
        measure_ceilings: true,
        only_cases: None,
        command,
    }
}

/// Rounds of re-measurement at the crossovers after the first pass (a crossover that moves in
/// one round gets its new neighbours measured in the next).
pub const BOUNDARY_ROUNDS: usize = 2;

/// The cases that decide each kernel's crossover: the measured size from which the GPU wins
/// and the measured size just below it, or the largest size when the CPU won there. One
/// transient slowdown of one backend at one of them (another process, a clock change) moves
/// the crossover a whole step: on a shared 16-thread host one quick calibration timed a CPU
/// reduction at 2^20 seven times slower than the benchmark did minutes later, and routing sent
/// that size to the GPU at 2.4 times the cost.
///
/// A case one backend wins by [`DECISIVE_RATIO`] or more is left alone: no interference seen
/// so far came near that, and those are the slowest cases (big sorts on a software GPU).
pub fn boundary_cases(rows: &[Row]) -> BTreeSet<(String, usize)> {
    let mut cases = BTreeSet::new();
    for (kernel, points) in paired_walls(rows) {
        let Some(&last) = points.last() else { continue };
        let boundary = match crossover_of(&points) {
            Some(c) => {
                let i = points.iter().position(|p| p.0 == c).expect("crossover is a point");
                points[i.saturating_sub(1)..=i].to_vec()
            }
            None => vec![last],
        };
        for (n, cpu, gpu) in boundary {
            if cpu.max(gpu) < DECISIVE_RATIO * cpu.min(gpu) {
                cases.insert((kernel.clone(), n));
            }
        }
    }
    cases
}

/// A backend this many times faster than the other at a size is not measured again.
pub const DECISIVE_RATIO: f64 = 10.0;

/// Every case whose two backends are within [`DECISIVE_RATIO`] of each other: where a burst
/// of interference on one of them could change which one looks faster.
pub fn contested_cases(rows: &[Row]) -> BTreeSet<(String, usize)> {
    paired_walls(rows)
        .into_iter()
        .flat_map(|(kernel, points)| {
            points
                .into_iter()
                .filter(|&(_, cpu, gpu)| cpu.max(gpu) < DECISIVE_RATIO * cpu.min(gpu))
                .map(move |(n, _, _)| (kernel.clone(), n))
        })
        .collect()
}

/// Like [`merge_faster`] for the wall times alone (what routing and regret compare), leaving
/// each row's primary time, throughput and peer ratios as first measured. Returns how many
/// walls got faster.
pub fn merge_faster_walls(rows: &mut [Row], again: Vec<Row>) -> usize {
    let mut improved = 0;
    for new in again {
        if let Some(old) = rows
            .iter_mut()
            .find(|r| r.kernel == new.kernel && r.n == new.n && r.backend == new.backend)
            && new.wall.median < old.wall.median
        {
            old.wall = new.wall;
            improved += 1;
        }
    }
    improved
}

/// Keeps, for every case measured again, the faster of the two medians (wall and device time
/// separately). Interference only ever slows a run down, so the faster median is the better
/// estimate of the machine at rest. Returns how many cases got faster.
pub fn merge_faster(rows: &mut [Row], again: Vec<Row>) -> usize {
    let mut improved = 0;
    for new in again {
        let Some(old) = rows
            .iter_mut()
            .find(|r| r.kernel == new.kernel && r.n == new.n && r.backend == new.backend)
        else {
            continue;
        };
        let mut faster = false;
        if new.wall.median < old.wall.median {
            old.wall = new.wall;
            faster = true;
        }
        if new.median_s < old.median_s && new.time_source == old.time_source {
            let speedup = old.median_s / new.median_s;
            old.median_s = new.median_s;
            old.stats = new.stats;
            old.spread_pct = new.spread_pct;
            old.gbps *= speedup;
            old.gflops *= speedup;
            for pct in [&mut old.pct_copy, &mut old.pct_peak_flops, &mut old.pct_of_ceiling] {
                *pct = pct.map(|p| p * speedup);
            }
            faster = true;
        }
        improved += usize::from(faster);
    }
    improved
}

/// What [`refine_boundaries`] did, for the summary line.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Refinement {
    /// Cases measured a second time.
    pub cases: usize,
    /// Of those, the ones whose second measurement was faster.
    pub improved: usize,
    /// Kernels whose crossover moved: (kernel, before, after).
    pub moved: Vec<(String, Option<usize>, Option<usize>)>,
}

fn crossover_map(rows: &[Row]) -> BTreeMap<String, Option<usize>> {
    paired_walls(rows).into_iter().map(|(k, points)| (k, crossover_of(&points))).collect()
}

/// Measures the [`boundary_cases`] of `report` again with the same kernels and policy (no
/// ceilings, no transfers) and merges them with [`merge_faster`], for up to
/// [`BOUNDARY_ROUNDS`] rounds.
pub fn refine_boundaries(
    config: &BenchConfig,
    report: &mut Report,
    progress: &mut dyn Progress,
) -> Result<Refinement, BenchError> {
    let before = crossover_map(&report.rows);
    let mut done: BTreeSet<(String, usize)> = BTreeSet::new();
    let mut refinement = Refinement::default();
    for _ in 0..BOUNDARY_ROUNDS {
        let todo: BTreeSet<(String, usize)> =
            boundary_cases(&report.rows).difference(&done).cloned().collect();
        if todo.is_empty() {
            break;
        }
        let again = BenchConfig {
            kernels: config.kernels.clone(),
            sizes: config.sizes.clone(),
            cpu: config.cpu,
            gpu: config.gpu && report.meta.gpu.available,
            gpu_required: false,
            adapter: config.adapter.clone(),
            peers: Vec::new(),
            policy: config.policy,
            run_budget_seconds: config.run_budget_seconds.map(|s| s / 4.0),
            regret: None,
            measure_transfer: false,
            measure_ceilings: false,
            only_cases: Some(todo.clone()),
            command: config.command.clone(),
        };
        let rows = crate::run::run(&again, progress)?.rows;
        refinement.cases += rows.len();
        refinement.improved += merge_faster(&mut report.rows, rows);
        done.extend(todo);
    }
    let after = crossover_map(&report.rows);
    refinement.moved = after
        .into_iter()
        .filter_map(|(k, a)| {
            let b = before.get(&k).copied().flatten();
            (a != b).then_some((k, b, a))
        })
        .collect();
    Ok(refinement)
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

    use crate::profile::Backend;
    use crate::report::tests::row;

    fn pair(kernel: &str, n: usize, cpu: f64, gpu: f64) -> [Row; 2] {
        [row(kernel, n, Backend::Cpu, cpu, vec![]), row(kernel, n, Backend::Gpu, gpu, vec![])]
    }

    #[test]
    fn boundaries_are_the_crossover_and_the_size_below_it() {
        let mut rows = Vec::new();
        // A: GPU from 2^20 on. B: the CPU wins everywhere. C: the GPU wins everywhere.
        for (n, a_cpu, b_gpu) in
            [(1 << 10, 1e-6, 1e-3), (1 << 20, 1e-3, 1e-2), (1 << 22, 4e-3, 1e-1)]
        {
            rows.extend(pair("A", n, a_cpu, 5e-4));
            rows.extend(pair("B", n, 1e-6, b_gpu));
            rows.extend(pair("C", n, 1.0, 1e-6));
        }
        let cases: Vec<(String, usize)> = boundary_cases(&rows).into_iter().collect();
        let want = |k: &str, n: usize| (k.to_string(), n);
        // B and C are decided by far more than DECISIVE_RATIO everywhere; A's case below the
        // crossover too (1 µs against 500 µs).
        assert_eq!(cases, vec![want("A", 1 << 20)]);
        let close: Vec<Row> = [(1 << 10, 1.0, 1.5), (1 << 20, 2.0, 1.0), (1 << 22, 4.0, 1.0)]
            .into_iter()
            .flat_map(|(n, c, g)| pair("E", n, c, g))
            .chain(pair("F", 1 << 22, 1.0, 2.0))
            .collect();
        let cases: Vec<(String, usize)> = boundary_cases(&close).into_iter().collect();
        assert_eq!(cases, vec![want("E", 1 << 10), want("E", 1 << 20), want("F", 1 << 22)]);
        // A kernel measured on one backend has no crossover to refine.
        assert!(boundary_cases(&[row("D", 1024, Backend::Cpu, 1.0, vec![])]).is_empty());
    }

    #[test]
    fn merging_keeps_the_faster_median_and_moves_the_crossover() {
        // The first pass caught the CPU at 2^20 seven times slower than it is: the GPU seemed
        // to win from 2^20.
        let mut rows: Vec<Row> =
            [(1 << 18, 1e-4, 3e-4), (1 << 20, 7e-4, 2.5e-4), (1 << 22, 9e-4, 3e-4)]
                .into_iter()
                .flat_map(|(n, c, g)| pair("R", n, c, g))
                .collect();
        assert_eq!(crossover_of(&paired_walls(&rows)["R"]), Some(1 << 20));
        let gbps_before = rows[2].gbps;
        let again = vec![
            row("R", 1 << 20, Backend::Cpu, 1e-4, vec![]),
            // Slower the second time: the first measurement stays.
            row("R", 1 << 20, Backend::Gpu, 4e-4, vec![]),
            // A case the first pass did not have is ignored.
            row("R", 1 << 24, Backend::Cpu, 1e-9, vec![]),
        ];
        assert_eq!(merge_faster(&mut rows, again), 1);
        let cpu_2_20 = &rows[2];
        assert_eq!((cpu_2_20.n, cpu_2_20.backend), (1 << 20, Backend::Cpu));
        assert_eq!(cpu_2_20.wall.median, 1e-4);
        assert!((cpu_2_20.gbps / gbps_before - 7.0).abs() < 1e-9);
        assert!((cpu_2_20.pct_copy.unwrap() - 350.0).abs() < 1e-9);
        assert_eq!(rows[3].wall.median, 2.5e-4);
        assert_eq!(rows.len(), 6);
        assert_eq!(crossover_of(&paired_walls(&rows)["R"]), Some(1 << 22));
    }

    #[test]
    fn contested_cases_are_re_measured_for_their_walls_only() {
        // 2^14: the CPU 20× faster (decisive); 2^20: within 2× (contested); 2^26: the GPU 30×.
        let mut rows: Vec<Row> =
            [(1 << 14, 3e-6, 6e-5), (1 << 20, 4.4e-4, 7.5e-5), (1 << 26, 7.6e-3, 2.5e-4)]
                .into_iter()
                .flat_map(|(n, c, g)| pair("C", n, c, g))
                .collect();
        let cases: Vec<(String, usize)> = contested_cases(&rows).into_iter().collect();
        assert_eq!(cases, vec![("C".to_string(), 1 << 20)]);
        let primary_before = rows[2].median_s;
        let again = vec![
            row("C", 1 << 20, Backend::Cpu, 5.6e-5, vec![]),
            row("C", 1 << 20, Backend::Gpu, 9e-5, vec![]),
        ];
        assert_eq!(merge_faster_walls(&mut rows, again), 1);
        assert_eq!((rows[2].n, rows[2].backend), (1 << 20, Backend::Cpu));
        assert_eq!(rows[2].wall.median, 5.6e-5);
        assert_eq!(rows[2].median_s, primary_before, "the table's time is the first one");
        assert_eq!(rows[3].wall.median, 7.5e-5, "a slower second wall is not kept");
    }

    #[test]
    fn size_ladders() {
        assert_eq!(quick_sizes().first(), Some(&1024));
        assert_eq!(quick_sizes().last(), Some(&(1 << 22)));
        assert_eq!(full_sizes().len(), 17);
    }
}
