//! Executing a routing decision locally with fastpath's own kernels: the "execute" step of
//! `fastpath run` (gate → route → **execute** → report).
//!
//! For every operation of the decision's plan, [`execute`] runs the operation's catalog
//! kernels in order on synthetic, seeded input of the described size (or an input file),
//! honouring `repeat`, and returns the measured time next to the router's estimate and a short
//! summary of the result. Operations whose kernels are not implemented yet are skipped with
//! the reason; they never fail the run.
//!
//! * **Wiring** — how a chain like `MAP_COMPARE -> COMPACT_MASK` passes arrays along is one
//!   small rule, documented at the top of `execute/plan.rs`: an input takes the previous
//!   step's output of the same name, else of the same dtype and shape; a scalar operand takes
//!   a numeric operation parameter no kernel parameter uses; otherwise the operation's data
//!   (or one more synthetic array).
//! * **Device** — [`local_device`] maps the terminal to a device (T0/T2 CPU; T1 and the
//!   framework terminals T7–T9 GPU) unless the caller forces one. When the GPU cannot be
//!   opened, or fails during the run, the rest runs on the CPU and the report says why.
//! * **GPU residency** — on the GPU an input is uploaded once (and shared by the operations
//!   that read the same synthetic array), every kernel of a chain and every repetition reads
//!   and writes device tensors, and only the final results are read back.
//! * **Timing** — `seconds` is the kernels' wall time for all repetitions: on the CPU the
//!   calls themselves; on the GPU from recording the first dispatch until the device finished
//!   the last one (first-use shader compilation included, as a user would wait for it).
//!   Uploading the input and reading results back are reported separately; generating
//!   synthetic input is not counted.

mod data;
mod plan;
mod summary;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use fastpath_gpu::{Gpu, GpuError, GpuTensor};
use fastpath_kernels::{Backend as KernelBackend, HostArray, KernelError, run_device, run_host};
use fastpath_route::{Backend, Decision, ExecutionPlan, Operation, ParamValue as OpParam};
use serde::Serialize;

use crate::backend::BackendChoice;
use crate::context::Context;
pub use summary::{ResultSummary, ResultValue};

pub(crate) use plan::{PlanError, plan_operation};

/// Where operations run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    Cpu,
    Gpu,
}

impl Device {
    pub fn name(self) -> &'static str {
        match self {
            Device::Cpu => "cpu",
            Device::Gpu => "gpu",
        }
    }
}

/// The device a decision's plan runs on locally, and why; `None` for a cloud plan (nothing
/// runs). `choice` is the caller's override (`--backend`); `Auto` follows the terminal.
pub fn local_device(
    plan: &ExecutionPlan,
    choice: BackendChoice,
    adapter: Option<&fastpath_gpu::AdapterSummary>,
) -> Option<(Device, String)> {
    let routed = match plan.backend {
        Backend::Cloud => return None,
        Backend::CpuInline => (
            Device::Cpu,
            "the route chose the CPU, inline (too small for a GPU launch)".to_string(),
        ),
        Backend::CpuRayon => {
            (Device::Cpu, "the route chose the CPU with rayon across items".to_string())
        }
        Backend::Gpu => (Device::Gpu, "the route chose fastpath's GPU kernels".to_string()),
        Backend::Mlx | Backend::Pytorch | Backend::MlxThenGpu => (
            Device::Gpu,
            "the route chose a framework; fastpath's own GPU kernels run its operations here"
                .to_string(),
        ),
    };
    Some(match choice {
        // A software rasterizer (lavapipe, WARP) runs GPU kernels on the CPU cores, slower
        // than fastpath's CPU kernels on the same cores: the fastest local path is the CPU.
        BackendChoice::Auto
            if routed.0 == Device::Gpu && adapter.is_some_and(|a| a.device_type == "cpu") =>
        {
            (
                Device::Cpu,
                format!(
                    "{}, but the only GPU is a software rasterizer ({}): fastpath's CPU kernels are faster on these cores (--backend gpu runs it anyway)",
                    routed.1,
                    adapter.map(|a| a.name.as_str()).unwrap_or_default()
                ),
            )
        }
        BackendChoice::Auto => routed,
        BackendChoice::Cpu => (Device::Cpu, "--backend cpu".to_string()),
        BackendChoice::Gpu => (Device::Gpu, "--backend gpu".to_string()),
    })
}

/// An input file for an operation's main operand.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// As the user wrote it, for the report.
    pub path: String,
    pub array: HostArray,
}

impl InputFile {
    /// Reads a `.npy` file.
    pub fn read(path: &Path) -> Result<InputFile, String> {
        let array = fastpath_kernels::npy::read(path)
            .map_err(|e| format!("input file {}: {e}", path.display()))?;
        Ok(InputFile { path: path.display().to_string(), array })
    }

    /// Checks that the file can stand in for `op`'s main operand: the dtype its first kernel
    /// reads and the number of elements the operation describes (the route was decided for
    /// that size). Operations whose kernels do not exist yet accept nothing to check against.
    pub fn check(&self, op: &Operation) -> Result<(), String> {
        let plan = match plan_operation(op, None) {
            Ok(plan) => plan,
            Err(PlanError::NotImplemented(_)) => return Ok(()),
            Err(other) => return Err(format!("{}: {other}", op.op)),
        };
        let want = &plan.inputs[0].meta;
        // Float data for a key sort is transformed to keys when the run starts.
        let dtype = if plan.f32_keys { fastpath_gpu::DType::F32 } else { want.dtype };
        if self.array.dtype() != dtype || self.array.len() != want.len() {
            return Err(format!(
                "input file {} holds {} [{}]; {} reads {} with {} elements",
                self.path,
                self.array.dtype(),
                self.array.shape().iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "),
                op.describe(),
                dtype,
                want.len()
            ));
        }
        Ok(())
    }
}

/// What to run and how.
#[derive(Debug, Clone)]
pub struct ExecuteOptions {
    pub device: Device,
    /// Why that device (shown in reports).
    pub device_reason: String,
    /// Seed of the synthetic inputs.
    pub seed: u64,
    /// Input files by operation index (0-based), replacing the main operand's synthetic data.
    pub input_files: BTreeMap<usize, InputFile>,
}

/// Progress and warnings while executing.
#[derive(Debug)]
pub enum ExecEvent<'a> {
    /// Planning is done: `units` progress units will follow (one per repetition of each
    /// runnable operation).
    Begin { units: u64 },
    /// Operation `index` starts.
    Operation { index: usize, text: &'a str },
    /// `units` more progress units are done.
    Advance(u64),
    /// Something the user should see now (a GPU fallback); also kept in the report.
    Warning(&'a str),
}

/// One operation that ran.
#[derive(Debug, Clone, Serialize)]
pub struct OpRun {
    /// Position in the workload (0-based).
    pub index: usize,
    pub op: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// `sum [4194304] f32` as plans write it.
    pub describe: String,
    pub kernels: Vec<String>,
    pub kernel_route: String,
    /// For a split workload (T9): the stage the plan puts this operation in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    pub device: Device,
    pub repeat: u64,
    /// Kernel time for all repetitions.
    pub seconds: f64,
    /// The router's estimate for all repetitions and where it came from.
    pub estimate_seconds: f64,
    pub estimate_source: String,
    /// Host → GPU copies of the inputs (GPU only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_seconds: Option<f64>,
    /// Reading the results back (GPU only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readback_seconds: Option<f64>,
    /// Where the input came from: `synthetic (seed 0): x uniform in [-4, 4)` or the file.
    pub input: String,
    pub result: ResultSummary,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// An operation that did not run (skipped) or broke while running (failed).
#[derive(Debug, Clone, Serialize)]
pub struct OpNotRun {
    pub index: usize,
    pub op: String,
    pub describe: String,
    pub kernels: Vec<String>,
    pub reason: String,
}

/// Everything [`execute`] did.
#[derive(Debug, Clone, Serialize)]
pub struct ExecutionReport {
    /// The device asked for and why.
    pub requested: Device,
    pub requested_reason: String,
    /// The device the operations ran on (the last one, after any fallback).
    pub device: Device,
    /// `llvmpipe (LLVM 15.0.6, 256 bits) (vulkan)` or `CPU (8 threads)`.
    pub device_name: String,
    /// Why the GPU was not used (or stopped being used), if it was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    pub operations: Vec<OpRun>,
    pub skipped: Vec<OpNotRun>,
    pub failed: Vec<OpNotRun>,
    /// Sum of the operations' kernel times.
    pub seconds: f64,
    /// Sum of the estimates of the operations that ran.
    pub estimate_seconds: f64,
    pub seed: u64,
    pub warnings: Vec<String>,
}

fn cpu_name() -> String {
    format!("CPU ({} threads)", rayon::current_num_threads())
}

/// Half of this machine's RAM: the most an operation's synthetic arrays may take, since
/// `fastpath run` does not stream (chunk) synthetic data.
fn memory_budget_bytes() -> Option<u64> {
    fastpath_route::MachineProfile::detect(None)
        .ram_gb
        .map(|gb| (gb * fastpath_route::RAM_BYTES_PER_GB * 0.5) as u64)
}

fn not_run(index: usize, op: &Operation, reason: String) -> OpNotRun {
    OpNotRun {
        index,
        op: op.op.clone(),
        describe: op.describe(),
        kernels: op.kernels.clone(),
        reason,
    }
}

/// Plans every operation before anything runs, so the progress total counts only what can
/// run and the GPU is opened only when something will use it. Operations that cannot run
/// (kernels missing, too large for this machine) come back as skipped.
fn plan_all(
    operations: &[Operation],
    options: &ExecuteOptions,
) -> (Vec<Option<plan::OpPlan>>, Vec<OpNotRun>) {
    let budget = memory_budget_bytes();
    let mut skipped = Vec::new();
    let mut plans = Vec::with_capacity(operations.len());
    for (index, op) in operations.iter().enumerate() {
        let range = options.input_files.get(&index).and_then(|f| data::finite_range(&f.array));
        match plan_operation(op, range) {
            Ok(p) => match budget.filter(|b| p.array_bytes() > *b) {
                Some(budget) => {
                    skipped.push(not_run(
                        index,
                        op,
                        format!(
                            "its arrays need {:.1} GB, over half of this machine's RAM ({:.1} GB); `fastpath run` does not stream synthetic data in chunks yet",
                            p.array_bytes() as f64 / 1e9,
                            budget as f64 / 1e9
                        ),
                    ));
                    plans.push(None);
                }
                None => plans.push(Some(p)),
            },
            Err(e) => {
                skipped.push(not_run(index, op, e.to_string()));
                plans.push(None);
            }
        }
    }
    (plans, skipped)
}

/// The arrays operation `index` starts from: its input file for the main operand when given,
/// synthetic data otherwise. Also says where they came from.
fn op_inputs(
    index: usize,
    op_plan: &plan::OpPlan,
    options: &ExecuteOptions,
    cache: &mut data::InputCache,
) -> Result<(Vec<Arc<HostArray>>, String), String> {
    let file = options.input_files.get(&index);
    let mut arrays = Vec::with_capacity(op_plan.inputs.len());
    let mut described = Vec::new();
    for (slot, input) in op_plan.inputs.iter().enumerate() {
        if let (0, Some(file)) = (slot, file) {
            let array = match (op_plan.f32_keys, file.array.as_f32()) {
                (true, Some(values)) => HostArray::u32(
                    input.meta.shape.clone(),
                    values.iter().map(|&x| plan::f32_sort_key(x)).collect(),
                ),
                _ => file.array.clone().reshaped(input.meta.shape.clone()),
            };
            arrays.push(Arc::new(array));
            described.push(format!("{} from {}", input.name, file.path));
        } else {
            arrays.push(cache.get(slot, &input.meta, input.domain, options.seed)?);
            described.push(format!("{} {}", input.name, data::describe_domain(input.domain)));
        }
    }
    let text = if file.is_some() && arrays.len() == 1 {
        described.join(", ")
    } else {
        format!("synthetic (seed {}): {}", options.seed, described.join(", "))
    };
    Ok((arrays, text))
}

/// Where operations run, and what happened to the GPU along the way.
struct Devices {
    gpu: Option<Arc<Gpu>>,
    resident: ResidentInputs,
    fallback: Option<String>,
    warnings: Vec<String>,
}

impl Devices {
    fn open(
        ctx: &Context,
        wanted: Device,
        needed: bool,
        on_event: &mut dyn FnMut(ExecEvent<'_>),
    ) -> Devices {
        let mut devices = Devices {
            gpu: None,
            resident: ResidentInputs::default(),
            fallback: None,
            warnings: Vec::new(),
        };
        // Opened only when something will run on it: opening a device takes a while.
        if wanted == Device::Gpu && needed {
            match ctx.gpu() {
                Ok(g) => devices.gpu = Some(g),
                Err(e) => {
                    let text = format!("GPU unavailable ({e}); running on the CPU instead");
                    devices.warn(on_event, text.clone());
                    devices.fallback = Some(text);
                }
            }
        }
        devices
    }

    fn warn(&mut self, on_event: &mut dyn FnMut(ExecEvent<'_>), text: String) {
        on_event(ExecEvent::Warning(&text));
        self.warnings.push(text);
    }

    /// Runs one operation on the GPU when there is one, else (or when the GPU fails) on the
    /// CPU. A device that fails is dropped for the rest of the run; an operation too large
    /// for it moves to the CPU alone.
    fn run(
        &mut self,
        describe: &str,
        op_plan: &plan::OpPlan,
        arrays: &[Arc<HostArray>],
        repeat: u64,
        on_event: &mut dyn FnMut(ExecEvent<'_>),
    ) -> Result<Measured, KernelError> {
        if let Some(gpu) = self.gpu.clone() {
            match run_gpu(&gpu, &mut self.resident, op_plan, arrays, repeat, on_event) {
                Err(KernelError::Gpu(e)) => {
                    let per_op =
                        matches!(e, GpuError::TooLarge { .. } | GpuError::OutOfMemory { .. });
                    let text = if per_op {
                        format!("{describe}: {e}; this operation runs on the CPU instead")
                    } else {
                        format!("GPU failed during {describe} ({e}); the rest runs on the CPU")
                    };
                    self.warn(on_event, text.clone());
                    if !per_op {
                        self.gpu = None;
                        self.resident = ResidentInputs::default();
                        self.fallback = Some(text);
                    }
                }
                other => return other,
            }
        }
        run_cpu(op_plan, arrays, repeat, on_event)
    }
}

/// Runs the decision's operations on `options.device` (with CPU fallback) and reports.
pub fn execute(
    decision: &Decision,
    ctx: &Context,
    options: &ExecuteOptions,
    on_event: &mut dyn FnMut(ExecEvent<'_>),
) -> ExecutionReport {
    let plan = &decision.plan;
    let operations = &plan.operations;
    let (plans, mut skipped) = plan_all(operations, options);
    let units: u64 =
        operations.iter().zip(&plans).filter(|(_, p)| p.is_some()).map(|(o, _)| o.repeat).sum();
    on_event(ExecEvent::Begin { units });
    let mut devices = Devices::open(ctx, options.device, units > 0, on_event);
    let mlx_stage_len = (plan.backend == Backend::MlxThenGpu)
        .then(|| plan.stages.first().map(|s| s.operations.len()))
        .flatten();

    let mut cache = data::InputCache::default();
    let mut runs = Vec::new();
    let mut failed = Vec::new();
    for (index, (op, op_plan)) in operations.iter().zip(&plans).enumerate() {
        let Some(op_plan) = op_plan else { continue };
        let describe = op.describe();
        on_event(ExecEvent::Operation { index, text: &describe });
        let (arrays, input) = match op_inputs(index, op_plan, options, &mut cache) {
            Ok(inputs) => inputs,
            Err(e) => {
                skipped.push(not_run(index, op, e));
                continue;
            }
        };
        let repeat = op.repeat.max(1);
        let measured = match devices.run(&describe, op_plan, &arrays, repeat, on_event) {
            Ok(m) => m,
            Err(e) => {
                failed.push(not_run(index, op, e.to_string()));
                continue;
            }
        };
        let host = op.host_step.as_deref();
        let k = match op.params.get("k") {
            Some(OpParam::Number(k)) => Some(*k),
            _ => None,
        };
        let result = summary::summarize(op_plan, &measured.results, host, k);
        let estimate = decision.rates.operations.get(index);
        let mut notes = op_plan.notes.clone();
        notes.extend(host.map(|h| format!("host step: {h}")));
        runs.push(OpRun {
            index,
            op: op.op.clone(),
            label: op.label.clone(),
            describe,
            kernels: op.kernels.clone(),
            kernel_route: op.kernel_route.clone(),
            stage: mlx_stage_len.map(|len| {
                if index < len {
                    "stage 1 (MLX in the plan)".to_string()
                } else {
                    "stage 2 (fastpath GPU kernels)".to_string()
                }
            }),
            device: measured.device,
            repeat,
            seconds: measured.seconds,
            estimate_seconds: estimate.map_or(f64::NAN, |e| e.seconds),
            estimate_source: estimate.map_or_else(String::new, |e| e.source.clone()),
            upload_seconds: measured.upload_seconds,
            readback_seconds: measured.readback_seconds,
            input,
            result,
            notes,
        });
    }
    skipped.sort_by_key(|s| s.index);

    let device = match (&devices.gpu, &devices.fallback, units) {
        (Some(_), ..) => Device::Gpu,
        // Nothing ran: the device asked for is the one to report.
        (None, None, 0) => options.device,
        (None, ..) => Device::Cpu,
    };
    let device_name = match &devices.gpu {
        Some(g) => format!("{} ({})", g.adapter().name, g.adapter().backend),
        None if device == Device::Gpu => "(not opened: nothing to run)".to_string(),
        None => cpu_name(),
    };
    ExecutionReport {
        requested: options.device,
        requested_reason: options.device_reason.clone(),
        device,
        device_name,
        fallback: devices.fallback,
        // Folded from +0.0: an empty f64 sum is -0.0, which prints as "-0".
        seconds: runs.iter().map(|r| r.seconds).fold(0.0, |a, b| a + b),
        estimate_seconds: runs
            .iter()
            .map(|r| r.estimate_seconds)
            .filter(|s| s.is_finite())
            .fold(0.0, |a, b| a + b),
        operations: runs,
        skipped,
        failed,
        seed: options.seed,
        warnings: devices.warnings,
    }
}

/// The measured run of one operation.
struct Measured {
    device: Device,
    seconds: f64,
    upload_seconds: Option<f64>,
    readback_seconds: Option<f64>,
    /// Outputs of the result steps: (step index, outputs).
    results: Vec<(usize, Vec<HostArray>)>,
}

/// Progress is reported at most about a hundred times per operation: a tiny operation
/// repeated a million times should not spend its time drawing a bar (or, on the GPU, waiting
/// for the device after every repetition).
fn report_every(repeat: u64) -> u64 {
    (repeat / 100).max(1)
}

fn missing_output(kernel: &str, index: usize) -> KernelError {
    KernelError::invalid(format!(
        "{kernel} returned fewer outputs than its contract lists ({index})"
    ))
}

fn run_cpu(
    plan: &plan::OpPlan,
    inputs: &[Arc<HostArray>],
    repeat: u64,
    on_event: &mut dyn FnMut(ExecEvent<'_>),
) -> Result<Measured, KernelError> {
    let scalars: Vec<Vec<Option<HostArray>>> = plan
        .steps
        .iter()
        .map(|s| {
            s.args
                .iter()
                .map(|a| match a {
                    plan::ArgSource::Scalar(v) => Some(HostArray::scalar_f32(*v)),
                    _ => None,
                })
                .collect()
        })
        .collect();
    let every = report_every(repeat);
    let start = Instant::now();
    let mut last: Vec<Vec<HostArray>> = Vec::new();
    for r in 0..repeat {
        let mut outs: Vec<Vec<HostArray>> = Vec::with_capacity(plan.steps.len());
        for (si, step) in plan.steps.iter().enumerate() {
            let mut args: Vec<&HostArray> = Vec::with_capacity(step.args.len());
            for (ai, a) in step.args.iter().enumerate() {
                args.push(match a {
                    plan::ArgSource::Input(i) => &inputs[*i],
                    plan::ArgSource::Output { step, index } => outs[*step]
                        .get(*index)
                        .ok_or_else(|| missing_output(plan.steps[*step].kernel.id(), *index))?,
                    plan::ArgSource::Scalar(_) => scalars[si][ai].as_ref().expect("built above"),
                });
            }
            let o = run_host(step.kernel, &KernelBackend::Cpu, &args, &step.params)?;
            outs.push(o);
        }
        last = outs;
        if (r + 1) % every == 0 || r + 1 == repeat {
            on_event(ExecEvent::Advance(if (r + 1) % every == 0 {
                every
            } else {
                (r + 1) % every
            }));
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let result_steps: Vec<usize> = plan.result_steps().map(|(i, _)| i).collect();
    let results = last.into_iter().enumerate().filter(|(i, _)| result_steps.contains(i)).collect();
    Ok(Measured {
        device: Device::Cpu,
        seconds,
        upload_seconds: None,
        readback_seconds: None,
        results,
    })
}

/// Device copies of synthetic inputs, kept while their host arrays are cached: the operations
/// of a workload mostly read the same arrays (the built-in one's 32 operations read one `x`),
/// and uploading it once keeps the data on the device across operations as well as within
/// a chain. Each entry holds its host array, so the address used as the key stays unique.
#[derive(Default)]
struct ResidentInputs {
    tensors: Vec<(Arc<HostArray>, GpuTensor)>,
    bytes: usize,
}

/// Device copies kept at most (beyond it, inputs are uploaded per operation).
const RESIDENT_BYTES: usize = 512 << 20;

impl ResidentInputs {
    fn get(&mut self, gpu: &Gpu, array: &Arc<HostArray>) -> Result<GpuTensor, GpuError> {
        if let Some((_, t)) = self.tensors.iter().find(|(a, _)| Arc::ptr_eq(a, array)) {
            return Ok(t.clone());
        }
        let t = gpu.upload_bytes(array.bytes(), array.dtype(), array.shape().to_vec())?;
        let size = array.bytes().len();
        if self.bytes + size <= RESIDENT_BYTES {
            self.bytes += size;
            self.tensors.push((array.clone(), t.clone()));
        }
        Ok(t)
    }
}

fn run_gpu(
    gpu: &Gpu,
    resident: &mut ResidentInputs,
    plan: &plan::OpPlan,
    inputs: &[Arc<HostArray>],
    repeat: u64,
    on_event: &mut dyn FnMut(ExecEvent<'_>),
) -> Result<Measured, KernelError> {
    let upload_start = Instant::now();
    let written = plan.inputs_written_in_place();
    let mut tensors: Vec<GpuTensor> = Vec::with_capacity(inputs.len());
    for (i, a) in inputs.iter().enumerate() {
        tensors.push(if written.contains(&i) {
            // Sorted in place: a private copy, so no other operation sees the result.
            gpu.upload_bytes(a.bytes(), a.dtype(), a.shape().to_vec())?
        } else {
            resident.get(gpu, a)?
        });
    }
    let mut scalars: Vec<Vec<Option<GpuTensor>>> = Vec::with_capacity(plan.steps.len());
    for s in &plan.steps {
        let mut row = Vec::with_capacity(s.args.len());
        for a in &s.args {
            row.push(match a {
                plan::ArgSource::Scalar(v) => {
                    Some(gpu.upload_bytes(&v.to_le_bytes(), fastpath_gpu::DType::F32, vec![])?)
                }
                _ => None,
            });
        }
        scalars.push(row);
    }
    gpu.synchronize()?;
    let upload_seconds = upload_start.elapsed().as_secs_f64();

    let every = report_every(repeat);
    let start = Instant::now();
    let mut last: Vec<Vec<GpuTensor>> = Vec::new();
    for r in 0..repeat {
        let mut outs: Vec<Vec<GpuTensor>> = Vec::with_capacity(plan.steps.len());
        for (si, step) in plan.steps.iter().enumerate() {
            let mut args: Vec<&GpuTensor> = Vec::with_capacity(step.args.len());
            for (ai, a) in step.args.iter().enumerate() {
                args.push(match a {
                    plan::ArgSource::Input(i) => &tensors[*i],
                    plan::ArgSource::Output { step, index } => outs[*step]
                        .get(*index)
                        .ok_or_else(|| missing_output(plan.steps[*step].kernel.id(), *index))?,
                    plan::ArgSource::Scalar(_) => scalars[si][ai].as_ref().expect("built above"),
                });
            }
            let o = run_device(step.kernel, gpu, &args, &step.params)?;
            outs.push(o);
        }
        last = outs;
        if (r + 1) % every == 0 || r + 1 == repeat {
            // Wait for the device so progress reflects finished work, not recorded work.
            gpu.synchronize()?;
            on_event(ExecEvent::Advance(if (r + 1) % every == 0 {
                every
            } else {
                (r + 1) % every
            }));
        }
    }
    let seconds = start.elapsed().as_secs_f64();

    let readback_start = Instant::now();
    let result_steps: Vec<usize> = plan.result_steps().map(|(i, _)| i).collect();
    let wanted: Vec<(usize, &GpuTensor)> = last
        .iter()
        .enumerate()
        .filter(|(i, _)| result_steps.contains(i))
        .flat_map(|(i, outs)| outs.iter().map(move |t| (i, t)))
        .collect();
    let refs: Vec<&GpuTensor> = wanted.iter().map(|(_, t)| *t).collect();
    let bytes = gpu.read_many(&refs)?;
    let mut results: Vec<(usize, Vec<HostArray>)> = Vec::new();
    for ((step, t), b) in wanted.iter().zip(bytes) {
        let array = HostArray::from_bytes(t.dtype(), t.shape().to_vec(), &b);
        match results.last_mut() {
            Some((s, arrays)) if s == step => arrays.push(array),
            _ => results.push((*step, vec![array])),
        }
    }
    Ok(Measured {
        device: Device::Gpu,
        seconds,
        upload_seconds: Some(upload_seconds),
        readback_seconds: Some(readback_start.elapsed().as_secs_f64()),
        results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastpath_route::{
        GateOutcome, MachineProfile, OperationSpec, PriceTable, RooflineRates, Workload, route,
    };

    fn decision(ops: Vec<OperationSpec>) -> Decision {
        let workload = Workload { operations: ops, ..Workload::default() };
        let machine = MachineProfile::named("m5").unwrap();
        route(&workload, &machine, &RooflineRates, &PriceTable::seed(), &GateOutcome::pass("test"))
            .unwrap()
    }

    fn options(device: Device) -> ExecuteOptions {
        ExecuteOptions {
            device,
            device_reason: "test".into(),
            seed: 1,
            input_files: BTreeMap::new(),
        }
    }

    fn value(run: &OpRun, name: &str) -> f64 {
        run.result
            .values
            .iter()
            .find(|v| v.name == name)
            .unwrap_or_else(|| panic!("{name} in {:?}", run.result))
            .value
    }

    #[test]
    fn operations_run_on_the_cpu_and_unimplemented_ones_are_skipped() {
        let d = decision(vec![
            OperationSpec::new("sum", &[100_000]),
            OperationSpec::new("mean", &[100_000]).with_repeat(3),
            OperationSpec::new("matmul", &[16, 16, 16]),
            OperationSpec::new("histogram", &[100_000]),
        ]);
        let mut events = Vec::new();
        let report = execute(&d, &Context::new(None), &options(Device::Cpu), &mut |e| {
            events.push(format!("{e:?}"))
        });
        assert_eq!(report.device, Device::Cpu);
        assert_eq!(report.operations.len(), 3, "{report:?}");
        assert_eq!(report.skipped.len(), 1);
        assert_eq!(report.skipped[0].op, "matmul");
        assert!(report.skipped[0].reason.contains("MATMUL not implemented yet"));
        assert!(report.failed.is_empty());
        // sum and mean read the same synthetic array.
        let (sum, mean) =
            (value(&report.operations[0], "sum"), value(&report.operations[1], "mean"));
        assert!((sum / 100_000.0 - mean).abs() < 1e-4, "{sum} {mean}");
        assert_eq!(report.operations[1].repeat, 3);
        assert_eq!(value(&report.operations[2], "histogram.total"), 100_000.0);
        assert!(report.operations.iter().all(|r| r.seconds >= 0.0 && r.estimate_seconds > 0.0));
        assert_eq!(events[0], "Begin { units: 5 }");
    }

    #[test]
    fn a_gpu_that_cannot_be_opened_falls_back_to_the_cpu() {
        let d = decision(vec![OperationSpec::new("sum", &[1000])]);
        let mut warnings = Vec::new();
        let ctx = Context::new(Some("no-such-gpu".into()));
        let report = execute(&d, &ctx, &options(Device::Gpu), &mut |e| {
            if let ExecEvent::Warning(w) = e {
                warnings.push(w.to_string());
            }
        });
        assert_eq!(report.requested, Device::Gpu);
        assert_eq!(report.device, Device::Cpu);
        assert_eq!(report.operations[0].device, Device::Cpu);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("no-such-gpu"), "{warnings:?}");
        assert!(report.fallback.as_deref().unwrap().ends_with("running on the CPU instead"));
    }

    #[test]
    fn the_gpu_and_the_cpu_agree() {
        let d = decision(vec![
            OperationSpec::new("sum", &[300_000]),
            OperationSpec::new("masked_sum", &[300_000]),
            OperationSpec::new("histogram", &[300_000]),
        ]);
        let cpu = execute(&d, &Context::new(None), &options(Device::Cpu), &mut |_| {});
        let gpu = execute(&d, &Context::new(None), &options(Device::Gpu), &mut |_| {});
        if gpu.device == Device::Cpu {
            // No adapter on this machine: the fallback is tested above.
            assert!(gpu.fallback.is_some());
            return;
        }
        for (c, g) in cpu.operations.iter().zip(&gpu.operations) {
            assert_eq!(g.device, Device::Gpu);
            assert!(g.upload_seconds.is_some() && g.readback_seconds.is_some());
            for (a, b) in c.result.values.iter().zip(&g.result.values) {
                assert_eq!(a.name, b.name);
                let tolerance = 1e-3 * a.value.abs().max(1.0);
                assert!(
                    (a.value - b.value).abs() <= tolerance,
                    "{}: {} vs {}",
                    a.name,
                    a.value,
                    b.value
                );
            }
        }
    }

    #[test]
    fn local_device_follows_the_terminal_unless_forced() {
        let tiny = decision(vec![OperationSpec::new("sum", &[100])]);
        assert_eq!(tiny.terminal_name, "CPU_INLINE");
        assert_eq!(local_device(&tiny.plan, BackendChoice::Auto, None).unwrap().0, Device::Cpu);
        assert_eq!(local_device(&tiny.plan, BackendChoice::Gpu, None).unwrap().0, Device::Gpu);
    }

    fn adapter(device_type: &str) -> fastpath_gpu::AdapterSummary {
        fastpath_gpu::AdapterSummary {
            index: 0,
            name: format!("{device_type} adapter"),
            backend: "vulkan".into(),
            device_type: device_type.into(),
            driver: String::new(),
            unified_memory: device_type != "discrete",
            max_buffer_bytes: 1 << 30,
            max_storage_binding_bytes: 1 << 27,
        }
    }

    #[test]
    fn software_rasterizers_send_gpu_terminals_to_the_cpu() {
        let big = decision(vec![OperationSpec::new("histogram", &[1 << 22])]);
        assert_eq!(big.terminal_name, "LOCAL_METAL");
        let on =
            |a: Option<&fastpath_gpu::AdapterSummary>, c| local_device(&big.plan, c, a).unwrap();
        let (d, why) = on(Some(&adapter("cpu")), BackendChoice::Auto);
        assert_eq!(d, Device::Cpu);
        assert!(why.contains("software rasterizer"), "{why}");
        assert_eq!(on(Some(&adapter("discrete")), BackendChoice::Auto).0, Device::Gpu);
        assert_eq!(on(Some(&adapter("cpu")), BackendChoice::Gpu).0, Device::Gpu);
        // No adapter at all: the executor's own fallback reports it.
        assert_eq!(on(None, BackendChoice::Auto).0, Device::Gpu);
    }

    #[test]
    fn input_files_must_match_the_operation() {
        let op = Operation::from_spec(&OperationSpec::new("sum", &[4]), 0).unwrap();
        let good = InputFile { path: "x.npy".into(), array: HostArray::vec_f32(vec![1.0; 4]) };
        assert_eq!(good.check(&op), Ok(()));
        let wrong = InputFile { path: "x.npy".into(), array: HostArray::vec_f32(vec![1.0; 5]) };
        let err = wrong.check(&op).unwrap_err();
        assert!(
            err.contains("x.npy holds f32 [5]; sum [4] f32 reads f32 with 4 elements"),
            "{err}"
        );
        let d = decision(vec![OperationSpec::new("sum", &[4])]);
        let mut opts = options(Device::Cpu);
        opts.input_files.insert(0, good);
        let report = execute(&d, &Context::new(None), &opts, &mut |_| {});
        assert_eq!(value(&report.operations[0], "sum"), 4.0);
        assert_eq!(report.operations[0].input, "x from x.npy");
    }
}
