//! `fastpath calibrate`: a benchmark run over every kernel, backend and a ladder of sizes,
//! turned into the [`MachineProfile`] that routing reads.

use std::collections::{BTreeMap, BTreeSet};

use fastpath_kernels::Kernel;

use crate::measure::TimingPolicy;
use crate::profile::{
    Backend, DispatchOverhead, KernelCurves, MachineProfile, PROFILE_SCHEMA, Point, Transfer,
};
use crate::report::{Remeasured, Report, Row, crossover_of, paired_walls};
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
        gpu_device: None,
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
            if contested(cpu, gpu) {
                cases.insert((kernel.clone(), n));
            }
        }
    }
    cases
}

/// A backend this many times faster than the other at a size is not measured again.
pub const DECISIVE_RATIO: f64 = 10.0;

/// Neither backend is [`DECISIVE_RATIO`] times faster than the other.
fn contested(cpu: f64, gpu: f64) -> bool {
    cpu.max(gpu) < DECISIVE_RATIO * cpu.min(gpu)
}

/// Every case whose two backends are within [`DECISIVE_RATIO`] of each other: where a burst
/// of interference on one of them could change which one looks faster.
pub fn contested_cases(rows: &[Row]) -> BTreeSet<(String, usize)> {
    paired_walls(rows)
        .into_iter()
        .flat_map(|(kernel, points)| {
            points
                .into_iter()
                .filter(|&(_, cpu, gpu)| contested(cpu, gpu))
                .map(move |(n, _, _)| (kernel.clone(), n))
        })
        .collect()
}

/// Further measurements of a case measured again: with the first, a median of three.
pub const REMEASUREMENTS: usize = 2;

/// What [`merge_median`] takes from the chosen measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeScope {
    /// Wall, primary time and the throughputs derived from it (calibration).
    Everything,
    /// The wall alone, what routing and regret compare; the primary time, throughput and peer
    /// ratios stay those of the first measurement (the benchmark's tables).
    Walls,
}

/// For every case measured again, keeps the measurement whose wall is the median of the first
/// one and its re-measurements (the middle of three with [`REMEASUREMENTS`]; the faster of two
/// when one is missing). A burst of interference that slows one measurement several-fold, as
/// seen on a shared 16-thread host, is outvoted by the other two; and unlike keeping the
/// fastest, the median does not favour whichever backend's times scatter more, so a near-tie
/// is decided by typical times, as the user will meet them. Returns every case measured
/// again, with its walls.
pub fn merge_median(rows: &mut [Row], passes: &[Vec<Row>], scope: MergeScope) -> Vec<Remeasured> {
    let mut merged = Vec::new();
    for row in rows.iter_mut() {
        let same = |r: &&Row| r.kernel == row.kernel && r.n == row.n && r.backend == row.backend;
        let again: Vec<&Row> = passes.iter().filter_map(|p| p.iter().find(same)).collect();
        if again.is_empty() {
            continue;
        }
        let first = row.clone();
        let candidates: Vec<&Row> = std::iter::once(&first).chain(again).collect();
        let walls_s: Vec<f64> = candidates.iter().map(|r| r.wall.median).collect();
        let mut order: Vec<usize> = (0..candidates.len()).collect();
        order.sort_by(|&a, &b| walls_s[a].total_cmp(&walls_s[b]));
        let kept = order[(order.len() - 1) / 2];
        let chosen = candidates[kept];
        merged.push(Remeasured {
            kernel: row.kernel.clone(),
            n: row.n,
            backend: row.backend,
            walls_s,
            kept,
        });
        if kept == 0 {
            continue;
        }
        row.wall = chosen.wall;
        if scope == MergeScope::Everything && chosen.time_source == row.time_source {
            let speedup = row.median_s / chosen.median_s;
            row.median_s = chosen.median_s;
            row.stats = chosen.stats;
            row.spread_pct = chosen.spread_pct;
            row.gbps *= speedup;
            row.gflops *= speedup;
            for pct in [&mut row.pct_copy, &mut row.pct_peak_flops, &mut row.pct_of_ceiling] {
                *pct = pct.map(|p| p * speedup);
            }
        }
    }
    merged
}

/// What [`refine_boundaries`] did, for the summary line.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Refinement {
    /// Cases measured again ([`REMEASUREMENTS`] more times each).
    pub cases: usize,
    /// Of those, the ones where a re-measurement was the median kept.
    pub changed: usize,
    /// Kernels whose crossover moved: (kernel, before, after).
    pub moved: Vec<(String, Option<usize>, Option<usize>)>,
}

fn crossover_map(rows: &[Row]) -> BTreeMap<String, Option<usize>> {
    paired_walls(rows).into_iter().map(|(k, points)| (k, crossover_of(&points))).collect()
}

/// Measures `cases` of `report` [`REMEASUREMENTS`] more times with the kernels, sizes and
/// policy of `config` (no peers, ceilings or transfers; `budget` seconds per pass when set).
/// Returns the rows of each pass.
pub fn remeasure(
    config: &BenchConfig,
    report: &Report,
    cases: &BTreeSet<(String, usize)>,
    budget: Option<f64>,
    progress: &mut dyn Progress,
) -> Result<Vec<Vec<Row>>, BenchError> {
    let again = BenchConfig {
        kernels: config.kernels.clone(),
        sizes: config.sizes.clone(),
        cpu: config.cpu,
        gpu: config.gpu && report.meta.gpu.available,
        gpu_required: false,
        adapter: config.adapter.clone(),
        peers: Vec::new(),
        policy: config.policy,
        run_budget_seconds: budget,
        regret: None,
        measure_transfer: false,
        measure_ceilings: false,
        only_cases: Some(cases.clone()),
        gpu_device: report.device.clone(),
        command: config.command.clone(),
    };
    (0..REMEASUREMENTS).map(|_| Ok(crate::run::run(&again, progress)?.rows)).collect()
}

/// Measures the [`boundary_cases`] of `report` again ([`remeasure`]) and keeps the median of
/// the three measurements ([`merge_median`]), for up to [`BOUNDARY_ROUNDS`] rounds.
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
        let budget = config.run_budget_seconds.map(|s| s / 8.0);
        let passes = remeasure(config, report, &todo, budget, progress)?;
        refinement.cases += passes.first().map_or(0, Vec::len);
        let merged = merge_median(&mut report.rows, &passes, MergeScope::Everything);
        refinement.changed += merged.iter().filter(|m| m.changed()).count();
        report.remeasured.extend(merged);
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

    /// CPU and GPU rows of `kernel` at each (size, cpu wall, gpu wall).
    fn pairs(kernel: &str, points: &[(usize, f64, f64)]) -> Vec<Row> {
        points.iter().flat_map(|&(n, c, g)| pair(kernel, n, c, g)).collect()
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
        let mut close =
            pairs("E", &[(1 << 10, 1.0, 1.5), (1 << 20, 2.0, 1.0), (1 << 22, 4.0, 1.0)]);
        close.extend(pair("F", 1 << 22, 1.0, 2.0));
        let cases: Vec<(String, usize)> = boundary_cases(&close).into_iter().collect();
        assert_eq!(cases, vec![want("E", 1 << 10), want("E", 1 << 20), want("F", 1 << 22)]);
        // A kernel measured on one backend has no crossover to refine.
        assert!(boundary_cases(&[row("D", 1024, Backend::Cpu, 1.0, vec![])]).is_empty());
    }

    #[test]
    fn merging_keeps_the_median_of_three_and_moves_the_crossover() {
        // The first pass caught the CPU at 2^20 seven times slower than it is: the GPU seemed
        // to win from 2^20.
        let mut rows =
            pairs("R", &[(1 << 18, 1e-4, 3e-4), (1 << 20, 7e-4, 2.5e-4), (1 << 22, 9e-4, 3e-4)]);
        assert_eq!(crossover_of(&paired_walls(&rows)["R"]), Some(1 << 20));
        let gbps_before = rows[2].gbps;
        let passes = vec![
            vec![
                row("R", 1 << 20, Backend::Cpu, 1.2e-4, vec![]),
                // The GPU: 2.5e-4 first, then 4e-4 and 2e-4; the median is the first.
                row("R", 1 << 20, Backend::Gpu, 4e-4, vec![]),
                // A case the first pass did not have is ignored.
                row("R", 1 << 24, Backend::Cpu, 1e-9, vec![]),
            ],
            vec![
                row("R", 1 << 20, Backend::Cpu, 1e-4, vec![]),
                row("R", 1 << 20, Backend::Gpu, 2e-4, vec![]),
            ],
        ];
        let merged = merge_median(&mut rows, &passes, MergeScope::Everything);
        // Both backends at 2^20 were measured again; only the CPU's kept wall changed.
        assert_eq!(merged.len(), 2);
        assert_eq!(merged.iter().filter(|m| m.changed()).count(), 1);
        assert_eq!(merged[0].walls_s, vec![7e-4, 1.2e-4, 1e-4]);
        assert_eq!(merged[0].kept, 1, "the first re-measurement, 1.2e-4");
        let cpu_2_20 = &rows[2];
        assert_eq!((cpu_2_20.n, cpu_2_20.backend), (1 << 20, Backend::Cpu));
        // CPU: 7e-4, 1.2e-4, 1e-4 → the median 1.2e-4, not the fastest.
        assert_eq!(cpu_2_20.wall.median, 1.2e-4);
        assert_eq!(cpu_2_20.median_s, 1.2e-4);
        let speedup = 7e-4 / 1.2e-4;
        assert!((cpu_2_20.gbps / gbps_before - speedup).abs() < 1e-9);
        assert!((cpu_2_20.pct_copy.unwrap() - 50.0 * speedup).abs() < 1e-9);
        assert_eq!(rows[3].wall.median, 2.5e-4);
        assert_eq!(rows.len(), 6);
        assert_eq!(crossover_of(&paired_walls(&rows)["R"]), Some(1 << 22));
    }

    #[test]
    fn one_burst_among_three_measurements_is_outvoted_either_way() {
        // A measurement slowed 8× by interference, first or later, never becomes the median.
        for burst in 0..3 {
            let walls: Vec<f64> = (0..3).map(|i| if i == burst { 8e-4 } else { 1e-4 }).collect();
            let mut rows = vec![row("B", 1 << 20, Backend::Cpu, walls[0], vec![])];
            let passes: Vec<Vec<Row>> = walls[1..]
                .iter()
                .map(|&w| vec![row("B", 1 << 20, Backend::Cpu, w, vec![])])
                .collect();
            merge_median(&mut rows, &passes, MergeScope::Everything);
            assert_eq!(rows[0].wall.median, 1e-4, "burst in measurement {burst}");
        }
    }

    #[test]
    fn contested_cases_are_re_measured_for_their_walls_only() {
        // 2^14: the CPU 20× faster (decisive); 2^20: within 2× (contested); 2^26: the GPU 30×.
        let mut rows = pairs(
            "C",
            &[(1 << 14, 3e-6, 6e-5), (1 << 20, 4.4e-4, 7.5e-5), (1 << 26, 7.6e-3, 2.5e-4)],
        );
        let cases: Vec<(String, usize)> = contested_cases(&rows).into_iter().collect();
        assert_eq!(cases, vec![("C".to_string(), 1 << 20)]);
        let primary_before = rows[2].median_s;
        let passes = vec![
            vec![
                row("C", 1 << 20, Backend::Cpu, 5.6e-5, vec![]),
                row("C", 1 << 20, Backend::Gpu, 9e-5, vec![]),
            ],
            vec![
                row("C", 1 << 20, Backend::Cpu, 6e-5, vec![]),
                row("C", 1 << 20, Backend::Gpu, 8e-5, vec![]),
            ],
        ];
        let merged = merge_median(&mut rows, &passes, MergeScope::Walls);
        assert_eq!(merged.iter().filter(|m| m.changed()).count(), 2);
        assert_eq!((rows[2].n, rows[2].backend), (1 << 20, Backend::Cpu));
        assert_eq!(rows[2].wall.median, 6e-5);
        assert_eq!(rows[2].median_s, primary_before, "the table's time is the first one");
        assert_eq!(rows[3].wall.median, 8e-5);
    }

    #[test]
    fn size_ladders() {
        assert_eq!(quick_sizes().first(), Some(&1024));
        assert_eq!(quick_sizes().last(), Some(&(1 << 22)));
        assert_eq!(full_sizes().len(), 17);
    }
}
