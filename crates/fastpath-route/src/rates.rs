//! Where `local_rate` comes from.
//!
//! The seed says `local_rate` is "estimated items/sec on local Metal (use KERNEL_PERFORMANCE
//! from hints)". Here it is the workload's item count divided by the sum of its operations'
//! estimated seconds, and each operation's seconds come from a [`RateSource`]:
//!
//! * the façade crate implements it with the real kernel cost models and, once the benchmark
//!   issue lands, with calibration measured on this machine (route cannot depend on the kernel
//!   registry: it lives in a crate with a GPU dependency);
//! * route ships [`RooflineRates`], a roofline over its own op cost model
//!   ([`crate::ops::Cost`]) and the machine profile's bandwidth and peak flops.
//!
//! A source may decline an operation (return `None`); the router then falls back to the
//! roofline for that operation and the decision says which source each operation used.

use serde::Serialize;

use crate::machine::MachineProfile;
use crate::ops::Operation;

/// Seconds for one operation (all its repetitions) and where the number comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateEstimate {
    pub seconds: f64,
    /// `"calibration"`, `"kernel cost model"`, `"roofline"`, … shown to the user.
    pub source: String,
}

/// Estimates how long an operation takes on a machine.
pub trait RateSource {
    /// Seconds for `op` (including `op.repeat`) on `machine`, or None to let the router fall
    /// back to its roofline for this operation.
    fn op_seconds(&self, op: &Operation, machine: &MachineProfile) -> Option<RateEstimate>;
}

/// Launch cost per kernel dispatch on a GPU. DESIGN.md measured 5.7 µs per dispatch when many
/// share one pass (2.3 µs since, on the H100 host) and 60-70 µs for a lone submit-and-wait
/// (40 µs since on the H100 host, 33 µs with immediate parameters on an H200 host); 10 µs is
/// a batched chain's cost.
pub const GPU_DISPATCH_SECONDS: f64 = 10e-6;
/// Per-kernel overhead on the CPU (a rayon fork-join over chunks).
pub const CPU_DISPATCH_SECONDS: f64 = 2e-6;

/// The default rate source: time = max(bytes / bandwidth, flops / peak) + launches x dispatch
/// cost, with the peak scaled by operation-routing.md's precision factors.
#[derive(Debug, Clone, Copy, Default)]
pub struct RooflineRates;

impl RooflineRates {
    pub fn seconds(op: &Operation, machine: &MachineProfile) -> f64 {
        let bandwidth = machine.memory_bandwidth_gbps * 1e9;
        let peak = machine.peak_tflops * 1e12 * op.dtype.throughput_factor();
        let dispatch = if machine.compute_device == "GPU" {
            GPU_DISPATCH_SECONDS
        } else {
            CPU_DISPATCH_SECONDS
        };
        let memory_time = op.cost.moved_bytes / bandwidth;
        let compute_time = op.cost.flops / peak;
        memory_time.max(compute_time) + op.cost.launches * dispatch
    }

    pub fn label(machine: &MachineProfile) -> String {
        format!(
            "roofline: {} {} GB/s, {} TFLOPS",
            machine.compute_device,
            crate::format::significant(machine.memory_bandwidth_gbps, 4),
            crate::format::significant(machine.peak_tflops, 3)
        )
    }
}

impl RateSource for RooflineRates {
    fn op_seconds(&self, op: &Operation, machine: &MachineProfile) -> Option<RateEstimate> {
        Some(RateEstimate { seconds: Self::seconds(op, machine), source: Self::label(machine) })
    }
}

/// Per-operation estimate as recorded in the decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpTime {
    pub op: String,
    pub seconds: f64,
    pub source: String,
}

/// Asks `source` for every operation, falling back to the roofline where it declines or
/// answers with a number that is not a finite, non-negative time.
pub fn estimate_ops(
    ops: &[Operation],
    machine: &MachineProfile,
    source: &dyn RateSource,
) -> Vec<OpTime> {
    ops.iter()
        .map(|op| {
            let estimate = source
                .op_seconds(op, machine)
                .filter(|e| e.seconds.is_finite() && e.seconds >= 0.0)
                .unwrap_or_else(|| RateEstimate {
                    seconds: RooflineRates::seconds(op, machine),
                    source: RooflineRates::label(machine),
                });
            OpTime { op: op.op.clone(), seconds: estimate.seconds, source: estimate.source }
        })
        .collect()
}

/// One label for a set of per-operation sources: `calibration` or
/// `kernel cost model (3 ops), roofline (…) (1 op)`.
pub fn summarize_sources(times: &[OpTime]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for t in times {
        match counts.iter_mut().find(|(s, _)| *s == t.source) {
            Some((_, c)) => *c += 1,
            None => counts.push((t.source.clone(), 1)),
        }
    }
    if counts.len() == 1 {
        return counts.remove(0).0;
    }
    counts
        .into_iter()
        .map(|(s, c)| format!("{s} ({c} op{})", if c == 1 { "" } else { "s" }))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::OperationSpec;

    struct OnlySorts;
    impl RateSource for OnlySorts {
        fn op_seconds(&self, op: &Operation, _: &MachineProfile) -> Option<RateEstimate> {
            (op.op == "sort").then(|| RateEstimate { seconds: 0.5, source: "calibration".into() })
        }
    }

    #[test]
    fn roofline_is_bandwidth_bound_for_a_reduction() {
        let machine = MachineProfile::named("m5").unwrap();
        let op = Operation::from_spec(&OperationSpec::new("sum", &[153_000_000]), 0).unwrap();
        let t = RooflineRates::seconds(&op, &machine);
        // 612 MB at 153 GB/s is 4 ms, plus one launch.
        assert!((t - (4e-3 + GPU_DISPATCH_SECONDS)).abs() < 1e-6, "{t}");
    }

    #[test]
    fn roofline_is_compute_bound_for_a_big_matmul() {
        let machine = MachineProfile::named("m5").unwrap();
        let op = Operation::from_spec(&OperationSpec::new("matmul", &[4096, 4096]), 0).unwrap();
        let t = RooflineRates::seconds(&op, &machine);
        let compute = 2.0 * 4096f64.powi(3) / 4.2e12;
        assert!((t - compute - GPU_DISPATCH_SECONDS).abs() < 1e-9, "{t} vs {compute}");
    }

    #[test]
    fn declined_operations_fall_back_to_the_roofline_and_say_so() {
        let machine = MachineProfile::named("m5").unwrap();
        let ops = vec![
            Operation::from_spec(&OperationSpec::new("sort", &[1000]), 0).unwrap(),
            Operation::from_spec(&OperationSpec::new("sum", &[1000]), 1).unwrap(),
        ];
        let times = estimate_ops(&ops, &machine, &OnlySorts);
        assert_eq!(times[0].source, "calibration");
        assert_eq!(times[0].seconds, 0.5);
        assert!(times[1].source.starts_with("roofline"));
        let label = summarize_sources(&times);
        assert!(label.starts_with("calibration (1 op), roofline"), "{label}");
    }
}
