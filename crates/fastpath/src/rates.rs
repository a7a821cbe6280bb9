//! The router's rate source backed by fastpath's kernels: how long an operation takes here,
//! from the registry's kernel cost models (and, once connected, a calibration profile).
//!
//! The router (`fastpath-route`) cannot see the kernel registry (it lives behind a GPU
//! dependency), so it asks a [`RateSource`] for each operation's seconds. [`KernelRates`]
//! answers with the cost models of the operation's own kernels — the bytes and flops of the
//! exact calls `fastpath run` makes, wired as [`mod@crate::execute`] wires them — on the machine
//! profile's bandwidth and peak:
//!
//! ```text
//! seconds = repeat x Σ over the operation's kernels of
//!           calibration(kernel, n, device)                        when measured, else
//!           max(bytes / bandwidth, flops / (peak x dtype factor)) + one launch
//! ```
//!
//! An operation with a kernel the registry does not implement yet is declined (`None`): the
//! router falls back to its roofline for that operation and the decision names the source
//! of every operation.
//!
//! **Named profiles.** By default only the detected machine is estimated from the kernels.
//! The seed's named machines (`--machine m5`, …) keep the router's roofline, so their reports
//! reproduce the seed's documented numbers (and the router's snapshot tests) instead of
//! shifting every time a kernel lands. [`KernelRates::for_named_profiles`] opts in.
//!
//! **Calibration hook.** [`KernelRates::with_calibration`] takes anything implementing
//! [`Calibration`] — a closure `Fn(kernel_id, n, device) -> Option<seconds>` is enough — and
//! prefers its measured seconds per kernel call, for the detected machine only (a profile
//! measured here says nothing about an M5). [`ProfileCalibration`] adapts a profile written
//! by `fastpath calibrate` (`fastpath_bench::load_profile`); connecting it is:
//!
//! ```no_run
//! # use fastpath::rates::{KernelRates, ProfileCalibration};
//! let loaded = fastpath::bench::load_profile(None).ok().flatten(); // (profile, path)
//! let calibration = loaded.as_ref().map(|(profile, _)| ProfileCalibration(profile));
//! let rates = match &calibration {
//!     Some(c) => KernelRates::new().with_calibration(c),
//!     None => KernelRates::new(),
//! };
//! ```

use fastpath_kernels::Cost;
use fastpath_route::{Dtype, MachineProfile, Operation, ProfileOrigin, RateEstimate, RateSource};

use crate::execute::plan_operation;

/// Source label of an estimate from the kernels' cost models.
pub const KERNEL_COST_MODEL: &str = "kernel cost model";
/// Source label of an estimate measured by `fastpath calibrate`.
pub const CALIBRATION: &str = "calibration";
/// Source label when some of an operation's kernels were measured and others modelled.
pub const CALIBRATION_AND_MODEL: &str = "calibration + kernel cost model";

/// Launch cost of one kernel on a GPU inside a batched chain (the router's
/// `GPU_DISPATCH_SECONDS`: DESIGN.md measured 5.7 µs per dispatch sharing a pass).
pub const GPU_LAUNCH_SECONDS: f64 = 10e-6;
/// Launch cost of one CPU kernel (a rayon fork-join over chunks).
pub const CPU_LAUNCH_SECONDS: f64 = 2e-6;

/// Where a calibrated kernel call runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalibratedDevice {
    Cpu,
    Gpu,
}

/// Measured seconds for one call of a kernel on `n` elements (the length of its first input),
/// or `None` when nothing was measured for it.
pub trait Calibration {
    fn kernel_seconds(&self, kernel_id: &str, n: u64, device: CalibratedDevice) -> Option<f64>;
}

impl<F: Fn(&str, u64, CalibratedDevice) -> Option<f64>> Calibration for F {
    fn kernel_seconds(&self, kernel_id: &str, n: u64, device: CalibratedDevice) -> Option<f64> {
        self(kernel_id, n, device)
    }
}

/// A `fastpath calibrate` profile as a [`Calibration`]: one call's seconds interpolated between
/// the sizes it measured (`fastpath_bench::estimate_seconds`), for data already on the device
/// that runs it — as `fastpath run` keeps it.
#[derive(Debug, Clone, Copy)]
pub struct ProfileCalibration<'p>(pub &'p fastpath_bench::MachineProfile);

impl Calibration for ProfileCalibration<'_> {
    fn kernel_seconds(&self, kernel_id: &str, n: u64, device: CalibratedDevice) -> Option<f64> {
        let backend = match device {
            CalibratedDevice::Cpu => fastpath_bench::Backend::Cpu,
            CalibratedDevice::Gpu => fastpath_bench::Backend::Gpu,
        };
        fastpath_bench::estimate_seconds(self.0, kernel_id, n, backend)
    }
}

/// [`RateSource`] from the kernel registry's cost models, optionally calibrated.
#[derive(Default, Clone, Copy)]
pub struct KernelRates<'a> {
    calibration: Option<&'a dyn Calibration>,
    named_profiles: bool,
}

impl std::fmt::Debug for KernelRates<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelRates")
            .field("calibrated", &self.calibration.is_some())
            .field("named_profiles", &self.named_profiles)
            .finish()
    }
}

impl<'a> KernelRates<'a> {
    /// Cost models only, for the detected machine.
    pub fn new() -> Self {
        Self::default()
    }

    /// Prefer measured seconds from `calibration` on the detected machine.
    pub fn with_calibration(mut self, calibration: &'a dyn Calibration) -> Self {
        self.calibration = Some(calibration);
        self
    }

    /// Also estimate named machine profiles from the cost models (their bandwidth and peak).
    pub fn for_named_profiles(mut self, yes: bool) -> Self {
        self.named_profiles = yes;
        self
    }

    /// The estimate for `op` on `machine`, or why there is none.
    pub fn estimate(
        &self,
        op: &Operation,
        machine: &MachineProfile,
    ) -> Result<RateEstimate, String> {
        if machine.origin == ProfileOrigin::Named && !self.named_profiles {
            return Err(format!(
                "{} is a named profile: the router's roofline estimates it",
                machine.name
            ));
        }
        let plan = plan_operation(op, None).map_err(|e| e.to_string())?;
        let device = if machine.compute_device.eq_ignore_ascii_case("GPU") {
            CalibratedDevice::Gpu
        } else {
            CalibratedDevice::Cpu
        };
        let calibration = self.calibration.filter(|_| machine.origin == ProfileOrigin::Detected);
        let (mut measured, mut modelled) = (0usize, 0usize);
        let mut seconds = 0.0;
        for step in &plan.steps {
            let n = step.arg_metas.first().map_or(0, |m| m.len()) as u64;
            let timed = calibration
                .and_then(|c| c.kernel_seconds(step.kernel.id(), n, device))
                .filter(|s| s.is_finite() && *s >= 0.0);
            seconds += match timed {
                Some(s) => {
                    measured += 1;
                    s
                }
                None => {
                    modelled += 1;
                    let dtype = step
                        .arg_metas
                        .first()
                        .and_then(|m| Dtype::parse(m.dtype.name()))
                        .unwrap_or(Dtype::F32);
                    roofline_seconds(
                        step.kernel.cost(&step.arg_metas, &step.params),
                        dtype,
                        machine,
                    )
                }
            };
        }
        let source = match (measured, modelled) {
            (0, _) => KERNEL_COST_MODEL,
            (_, 0) => CALIBRATION,
            _ => CALIBRATION_AND_MODEL,
        };
        Ok(RateEstimate { seconds: seconds * op.repeat.max(1) as f64, source: source.into() })
    }
}

/// One kernel call on the machine profile's device: the slower of moving its bytes and doing
/// its flops, plus one launch.
pub fn roofline_seconds(cost: Cost, dtype: Dtype, machine: &MachineProfile) -> f64 {
    let bandwidth = machine.memory_bandwidth_gbps * 1e9;
    let peak = machine.peak_tflops * 1e12 * dtype.throughput_factor();
    let launch = if machine.compute_device.eq_ignore_ascii_case("GPU") {
        GPU_LAUNCH_SECONDS
    } else {
        CPU_LAUNCH_SECONDS
    };
    (cost.bytes / bandwidth).max(cost.flops / peak) + launch
}

impl RateSource for KernelRates<'_> {
    fn op_seconds(&self, op: &Operation, machine: &MachineProfile) -> Option<RateEstimate> {
        self.estimate(op, machine).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastpath_route::{GpuDescription, OperationSpec, RooflineRates, Workload, resolve};

    fn op(name: &str, n: u64) -> Operation {
        Operation::from_spec(&OperationSpec::new(name, &[n]), 0).unwrap()
    }

    /// A detected machine with a known GPU, so the numbers below are fixed.
    fn detected() -> MachineProfile {
        MachineProfile::from_parts(
            Some(16.0),
            "test".into(),
            8,
            Some(GpuDescription {
                name: "NVIDIA H100 80GB HBM3".into(),
                backend: Some("vulkan".into()),
                unified_memory: false,
                software: false,
            }),
        )
    }

    #[test]
    fn implemented_kernels_are_estimated_from_their_cost_model() {
        let machine = detected();
        let sum = op("sum", 1 << 24);
        let e = KernelRates::new().op_seconds(&sum, &machine).expect("REDUCE_SUM is implemented");
        assert_eq!(e.source, KERNEL_COST_MODEL);
        // 64 MiB read once at 3350 GB/s, plus one launch.
        let expected = (1u64 << 26) as f64 / 3350e9 + GPU_LAUNCH_SECONDS;
        assert!((e.seconds - expected).abs() < 1e-9, "{} vs {expected}", e.seconds);

        let repeated =
            Operation::from_spec(&OperationSpec::new("sum", &[1 << 24]).with_repeat(10), 0)
                .unwrap();
        let e10 = KernelRates::new().op_seconds(&repeated, &machine).unwrap();
        assert!((e10.seconds - 10.0 * e.seconds).abs() < 1e-12);
    }

    #[test]
    fn operations_without_kernels_are_declined() {
        let matmul = Operation::from_spec(&OperationSpec::new("matmul", &[64, 64, 64]), 0).unwrap();
        let rates = KernelRates::new();
        assert_eq!(rates.op_seconds(&matmul, &detected()), None);
        let why = rates.estimate(&matmul, &detected()).unwrap_err();
        assert!(why.contains("MATMUL not implemented yet"), "{why}");
    }

    #[test]
    fn named_profiles_keep_the_roofline_unless_asked() {
        let m5 = MachineProfile::named("m5").unwrap();
        let sum = op("sum", 1000);
        assert_eq!(KernelRates::new().op_seconds(&sum, &m5), None);
        let e = KernelRates::new().for_named_profiles(true).op_seconds(&sum, &m5).unwrap();
        assert_eq!(e.source, KERNEL_COST_MODEL);
    }

    #[test]
    fn calibration_is_preferred_on_the_detected_machine() {
        let measured = |id: &str, n: u64, device: CalibratedDevice| {
            (id == "REDUCE_SUM" && device == CalibratedDevice::Gpu).then_some(n as f64 * 1e-9)
        };
        let rates = KernelRates::new().with_calibration(&measured);
        let e = rates.op_seconds(&op("sum", 1_000_000), &detected()).unwrap();
        assert_eq!(e.source, CALIBRATION);
        assert!((e.seconds - 1e-3).abs() < 1e-12);
        // Not measured: the model answers.
        let e = rates.op_seconds(&op("mean", 1_000_000), &detected()).unwrap();
        assert_eq!(e.source, KERNEL_COST_MODEL);
        // A named profile never uses this machine's calibration.
        let m5 = MachineProfile::named("m5").unwrap();
        let e = rates.for_named_profiles(true).op_seconds(&op("sum", 1_000_000), &m5).unwrap();
        assert_eq!(e.source, KERNEL_COST_MODEL);
    }

    #[test]
    fn a_calibration_profile_connects_through_the_adapter() {
        use fastpath_bench::profile::{KernelCurves, PROFILE_SCHEMA, Point};
        let point = |n: u64, seconds: f64| Point { n, seconds, gbps: None };
        let profile = fastpath_bench::MachineProfile {
            schema: PROFILE_SCHEMA.into(),
            created: String::new(),
            fastpath_version: String::new(),
            quick: true,
            host: Default::default(),
            gpu: None,
            cpu_copy_gbps: None,
            gpu_copy_gbps: None,
            cpu_peak_gflops: None,
            gpu_peak_gflops: None,
            dispatch: Default::default(),
            transfer: None,
            kernels: [(
                "REDUCE_SUM".to_string(),
                KernelCurves {
                    cpu: vec![point(1 << 10, 1e-5), point(1 << 20, 1e-3)],
                    ..Default::default()
                },
            )]
            .into(),
        };
        // This machine without a GPU: the CPU curve applies.
        let cpu_only = MachineProfile::from_parts(Some(16.0), "test".into(), 8, None);
        let calibration = ProfileCalibration(&profile);
        let rates = KernelRates::new().with_calibration(&calibration);
        let e = rates.op_seconds(&op("sum", 1 << 20), &cpu_only).unwrap();
        assert_eq!((e.seconds, e.source.as_str()), (1e-3, CALIBRATION));
        // Past the largest measured size, time grows with n.
        let e = rates.op_seconds(&op("sum", 1 << 21), &cpu_only).unwrap();
        assert!((e.seconds - 2e-3).abs() < 1e-12, "{}", e.seconds);
        // Not in the profile: the cost model answers.
        let e = rates.op_seconds(&op("mean", 1 << 20), &cpu_only).unwrap();
        assert_eq!(e.source, KERNEL_COST_MODEL);
    }

    #[test]
    fn the_router_reports_the_source_per_operation() {
        let workload = Workload {
            operations: vec![
                OperationSpec::new("sum", &[1 << 20]),
                OperationSpec::new("matmul", &[64, 64, 64]),
            ],
            ..Workload::default()
        };
        let r = resolve(&workload, &detected(), &KernelRates::new()).unwrap();
        assert_eq!(r.op_times[0].source, KERNEL_COST_MODEL);
        assert!(r.op_times[1].source.starts_with("roofline"), "{}", r.op_times[1].source);
        let roofline = resolve(&workload, &detected(), &RooflineRates).unwrap();
        assert_eq!(roofline.op_times[1].seconds, r.op_times[1].seconds);
    }
}
