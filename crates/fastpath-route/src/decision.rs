//! `decide()`: gate verdict → state machine → estimates → messages → execution plan.

use serde::Serialize;

use crate::codegen;
use crate::error::RouteError;
use crate::estimates::{Estimates, NODE_GPU_MEMORY_GB, estimate};
use crate::format::{count, dollars, duration_hours, gigabytes, hours, per_hour, significant};
use crate::gate::{GateDecision, GateOutcome};
use crate::inputs::{InputMap, ResolvedInputs};
use crate::machine::MachineProfile;
use crate::ops::Operation;
use crate::prices::PriceTable;
use crate::rates::OpTime;
use crate::state_machine::{Node, StateVisit, walk};

/// What a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// The seed's "Tell user" text for the terminal, filled with numbers.
    TellUser,
    /// Something the user should act on (a long run, a missing cloud shortcut, an unstable step).
    Warning,
    /// Supporting detail (instance details, assumptions, the path's side notes).
    Note,
    /// A warning of the health gate, carried into the decision.
    Gate,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    pub kind: MessageKind,
    pub text: String,
}

fn tell(text: String) -> Message {
    Message { kind: MessageKind::TellUser, text }
}
fn warning(text: String) -> Message {
    Message { kind: MessageKind::Warning, text }
}
fn note(text: String) -> Message {
    Message { kind: MessageKind::Note, text }
}

/// The seed's output format for every terminal other than T0 and T1: local estimate, cloud
/// estimate, cloud cost (rounded to the nearest dollar).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutputSummary {
    pub local_estimate: String,
    pub cloud_estimate: String,
    pub cloud_cost: String,
}

/// Where the work runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// T0: fastpath's CPU kernels inline, no GPU dispatch.
    CpuInline,
    /// T1: fastpath's GPU kernels.
    Gpu,
    /// T2: fastpath's CPU kernels with rayon across items.
    CpuRayon,
    /// T7.
    Mlx,
    /// T8.
    Pytorch,
    /// T9: MLX for the first stage, fastpath's GPU kernels for the rest.
    MlxThenGpu,
    /// T3-T6: a cloud plan; nothing is launched.
    Cloud,
}

/// Streaming plan for data larger than the memory ceiling (S3 → T1).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChunkPlan {
    pub chunks: u64,
    pub chunk_gb: f64,
    /// 70% of machine RAM.
    pub ceiling_gb: f64,
    pub how: String,
}

/// One stage of a split workload (T9).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stage {
    /// "MLX" or "fastpath GPU kernels".
    pub runner: String,
    /// Operation names in order.
    pub operations: Vec<String>,
    /// For each operation: its MLX call (MLX stage) or its catalog kernels (custom stage).
    pub details: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrameworkCode {
    /// "mlx" or "pytorch".
    pub framework: String,
    pub code: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CloudPlan {
    pub provider: String,
    pub instance: String,
    pub count: u32,
    pub usd_per_hour_total: f64,
    pub note: String,
}

/// What an executor needs to carry the decision out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecutionPlan {
    pub backend: Backend,
    /// The backend in words.
    pub runs_on: String,
    /// The workload's operations with shapes, dtypes, parameters and catalog kernels.
    pub operations: Vec<Operation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunking: Option<ChunkPlan>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<Stage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub framework_code: Option<FrameworkCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud: Option<CloudPlan>,
}

/// The name and date of the price table used.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriceRef {
    pub name: String,
    pub as_of: String,
    pub description: String,
}

/// Rate sources used for the local estimate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RatesUsed {
    pub source: String,
    pub operations: Vec<OpTime>,
}

/// The routing decision: where the workload runs and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub workload: String,
    pub terminal: Node,
    pub terminal_name: &'static str,
    pub terminal_meaning: &'static str,
    /// S0 … terminal.
    pub path: Vec<Node>,
    /// Every state visited, with every predicate evaluated and the values it saw.
    pub trace: Vec<StateVisit>,
    /// Every variable with its value and whether it was given, derived or defaulted.
    pub inputs: InputMap,
    pub estimates: Estimates,
    /// Local estimate, cloud estimate, cloud cost (T2-T9; null for T0 and T1).
    pub summary: Option<OutputSummary>,
    pub messages: Vec<Message>,
    pub gate: GateOutcome,
    pub machine: MachineProfile,
    pub prices: PriceRef,
    pub rates: RatesUsed,
    pub plan: ExecutionPlan,
    /// docs/routing.md resolutions that shaped this decision.
    pub resolutions: Vec<String>,
}

/// Routes resolved inputs: checks the gate, walks the state machine from S0, and fills in
/// estimates, messages and the execution plan. A BLOCK verdict stops here with the gate's
/// message; warnings are carried into the decision.
pub fn decide(
    inputs: &ResolvedInputs,
    prices: &PriceTable,
    gate: &GateOutcome,
) -> Result<Decision, RouteError> {
    if gate.decision == GateDecision::Block {
        let text = if gate.messages.is_empty() {
            "the health gate said BLOCK".to_string()
        } else {
            gate.messages.join(" ")
        };
        return Err(RouteError::Blocked(text));
    }
    let (path, trace) = walk(&inputs.inputs, prices)?;
    let terminal = *path.last().expect("a walk ends at a terminal");
    let estimates = estimate(inputs, prices);

    let mut messages: Vec<Message> = gate
        .messages
        .iter()
        .map(|m| Message { kind: MessageKind::Gate, text: m.clone() })
        .collect();
    messages.extend(inputs.notes.iter().map(|n| warning(n.clone())));
    messages.extend(terminal_messages(terminal, &trace, inputs, &estimates, prices));

    let mut resolutions: Vec<String> = trace
        .iter()
        .flat_map(|v| v.predicates.iter())
        .filter_map(|p| p.resolution.as_ref())
        .flat_map(|r| r.split(", ").map(str::to_string))
        .collect();
    resolutions.sort();
    resolutions.dedup();

    Ok(Decision {
        workload: inputs.workload.clone(),
        terminal,
        terminal_name: terminal.name(),
        terminal_meaning: terminal.meaning(),
        summary: summary(terminal, inputs, &estimates),
        plan: plan(terminal, &trace, inputs, &estimates),
        path,
        trace,
        inputs: inputs.inputs.clone(),
        estimates,
        messages,
        gate: gate.clone(),
        machine: inputs.machine.clone(),
        prices: PriceRef {
            name: prices.name.clone(),
            as_of: prices.as_of.clone(),
            description: prices.description.clone(),
        },
        rates: RatesUsed {
            source: inputs.rate_source.clone(),
            operations: inputs.op_times.clone(),
        },
        resolutions,
    })
}

/// Which predicate (1-based) was taken in `state`, if the path went through it.
fn taken(trace: &[StateVisit], state: Node) -> Option<usize> {
    trace.iter().find(|v| v.state == state).map(|v| v.taken().index)
}

/// Cloud times are compute only; the seed notes ~60 s boot plus setup for droplets.
const STARTUP: &str = ", plus start-up and data transfer";

const UNKNOWN_LOCAL: &str =
    "unknown (give local_time_hours, or item_count and local_rate, or operations)";

fn local_text(est: &Estimates) -> String {
    est.local.time_hours.map(hours).unwrap_or_else(|| UNKNOWN_LOCAL.to_string())
}

fn ram_texts(m: &InputMap) -> (String, String) {
    let ram = m.number("machine_ram_gb").unwrap_or(0.0);
    (significant(ram, 3), significant(ram * 0.70, 3))
}

fn stage_names(ops: &[Operation]) -> String {
    ops.iter().map(|o| o.op.as_str()).collect::<Vec<_>>().join(", ")
}

fn terminal_messages(
    t: Node,
    trace: &[StateVisit],
    inputs: &ResolvedInputs,
    est: &Estimates,
    prices: &PriceTable,
) -> Vec<Message> {
    let m = &inputs.inputs;
    let mut out = Vec::new();
    let fleet = &prices.do_fleet;
    match t {
        Node::T0 => {}
        Node::T1 => {
            let runtime = est
                .local
                .time_hours
                .map(duration_hours)
                .unwrap_or_else(|| UNKNOWN_LOCAL.to_string());
            out.push(tell(format!(
                "Estimated runtime: {runtime} on {} ({}).",
                inputs.machine.called(),
                est.local.source
            )));
            if taken(trace, Node::S3) == Some(1) {
                let (ram, ceiling) = ram_texts(m);
                let chunks = chunk_plan(m)
                    .map(|c| format!("{} passes of at most {}", c.chunks, gigabytes(c.chunk_gb)))
                    .unwrap_or_default();
                out.push(note(format!(
                    "Chunked processing plan: the data ({}) exceeds the 70% ceiling of {ram} GB RAM ({ceiling} GB), so it streams through in {chunks}.",
                    gigabytes(m.number("data_size_gb").unwrap_or(0.0))
                )));
            }
            if taken(trace, Node::S4) == Some(2)
                && let Some(f) = &est.do_fleet
            {
                out.push(note(format!(
                    "Cloud is an option: a fleet of {} droplets would take ~{} and cost ~{}; local is recommended (the seed offloads only under $5 and 2 h).",
                    f.droplets,
                    hours(f.time_hours),
                    dollars(f.cost_usd)
                )));
            }
            if taken(trace, Node::S7) == Some(4) {
                out.push(note("Not expressible in a framework after all: falls through to fastpath's GPU kernels.".into()));
            }
        }
        Node::T2 => {
            out.push(tell(format!(
                "This workload is inherently sequential per-item. Running on CPU with rayon for outer parallelism. Estimated time: {}.",
                local_text(est)
            )));
            match taken(trace, Node::S1) {
                Some(4) => out.push(warning(format!(
                    "This will take {}; no cloud shortcut exists (the items are not independent, so nothing can split them).",
                    local_text(est)
                ))),
                Some(3) => out.push(note(format!(
                    "The items are independent, but there are only {} of them (a fleet is considered above 10,000,000).",
                    m.number("item_count").map(count).unwrap_or_else(|| "?".into())
                ))),
                _ => {}
            }
        }
        Node::T3 => {
            let g = &est.lambda_8x_h100;
            let price = per_hour(g.usd_per_hour);
            match (est.local.time_hours, g.time_hours, g.cost_usd) {
                (Some(local), Some(gpu), Some(cost)) => out.push(tell(format!(
                    "Local estimate: {}. Lambda 8x H100: ~{}, ~{}. Develop/test locally first, deploy same code to cloud.",
                    hours(local),
                    hours(gpu),
                    dollars(cost)
                ))),
                _ => out.push(tell(format!(
                    "Local estimate: {UNKNOWN_LOCAL}. Lambda 8x H100: ~{price}; no time or cost without a local estimate. Develop/test locally first, deploy same code to cloud."
                ))),
            }
            out.push(note(format!(
                "Lambda 8x H100 SXM5 at {price} (price table {}). SSH user ubuntu; CUDA pre-installed, compile with -arch=sm_90; split across GPUs with CUDA_VISIBLE_DEVICES=$gpu.",
                prices.label()
            )));
            out.push(warning(format!(
                "ALWAYS TERMINATE WHEN DONE ({}/day if forgotten).",
                dollars(24.0 * g.usd_per_hour)
            )));
            if taken(trace, Node::S5) == Some(3)
                && let Some(f) = &est.do_fleet
            {
                out.push(note(format!(
                    "GPU likely cheaper than a massive CPU fleet: {} droplets would take ~{} and cost ~{} (at least $100).",
                    f.droplets,
                    hours(f.time_hours),
                    dollars(f.cost_usd)
                )));
            }
        }
        Node::T4 => {
            out.push(tell(format!(
                "Data exceeds single-instance GPU memory ({} GB). This needs a multi-node setup on AWS (p5 instances with EFA networking) or model parallelism.",
                NODE_GPU_MEMORY_GB
            )));
            let p5 = &est.aws_p5;
            let each = prices.aws_p5_48xlarge.usd_per_hour;
            let time = p5
                .time_hours
                .map(|t| format!("~{}, ~{}", hours(t), dollars(p5.cost_usd.unwrap_or(0.0))))
                .unwrap_or_else(|| "time unknown without a local estimate".into());
            out.push(note(format!(
                "{} x p5.48xlarge (8x H100 each) at {} each = {}: {time}. Multi-node requires NCCL + EFA; consider whether the task can be reformulated to fit one node.",
                p5.nodes,
                per_hour(each),
                per_hour(p5.usd_per_hour)
            )));
        }
        Node::T5 => {
            let (ram, ceiling) = ram_texts(m);
            let data = m.number("data_size_gb").unwrap_or(0.0);
            if let Some(d) = &est.do_single {
                out.push(tell(format!(
                    "Data ({}) exceeds local RAM ({ceiling} of {ram} GB usable: the 70% ceiling). A single DO droplet with sufficient RAM ({}, {} GB, ~{}) can handle this.",
                    gigabytes(data),
                    d.droplet,
                    significant(d.ram_gb, 4),
                    per_hour(d.usd_per_hour)
                )));
                if !d.fits {
                    out.push(warning(format!(
                        "No droplet in the price table has {}: the largest is {} ({} GB). Make the workload chunkable (streaming passes) or split it.",
                        gigabytes(data),
                        d.droplet,
                        significant(d.ram_gb, 4)
                    )));
                }
            }
            if taken(trace, Node::S3) == Some(5) {
                out.push(note("Neither chunkable nor parallel: one machine with enough memory is the only option (docs/routing.md R5).".into()));
            }
            out.push(note("Upload a tarball, then cargo build --release on the droplet.".into()));
        }
        Node::T6 => {
            if let Some(f) = &est.do_fleet {
                out.push(tell(format!(
                    "Local estimate: {}. Fleet of {} droplets: ~{}, ~{}. Each droplet processes an independent chunk.",
                    local_text(est),
                    f.droplets,
                    hours(f.time_hours),
                    dollars(f.cost_usd)
                )));
            }
            out.push(note(format!(
                "{} x {} at {} each ({}); assumes each droplet processes items at this machine's rate, as the seed does. Tag all droplets for batch teardown and verify the data is extracted before destroying them.",
                fleet.droplets,
                fleet.droplet,
                per_hour(fleet.usd_per_hour),
                prices.label()
            )));
            if taken(trace, Node::S6) == Some(2) {
                out.push(note("Complex workload, consider breaking into stages.".into()));
            }
        }
        Node::T7 => {
            out.push(note("MLX runs the whole workload: build the graph lazily and mx.eval() once (code in the plan).".into()));
        }
        Node::T8 => {
            out.push(tell(
                "Using PyTorch+MPS for ecosystem compatibility. ~2.2x slower than MLX for raw compute, but gives access to HuggingFace/torchvision/torchaudio."
                    .into(),
            ));
            out.push(note(
                "On MPS, unsupported ops raise an error unless PYTORCH_ENABLE_MPS_FALLBACK=1 sends them to the CPU; synchronize before timing. If the model has an MLX port (mlx-community), prefer T7."
                    .into(),
            ));
        }
        Node::T9 => {
            let ops = &inputs.operations;
            if ops.is_empty() {
                out.push(tell("Splitting workload: MLX handles the standard operations, fastpath's GPU kernels handle the rest (list the operations to see the split).".into()));
            } else {
                let (mlx, custom) = ops.split_at(inputs.mlx_stage_len);
                out.push(tell(format!(
                    "Splitting workload: MLX handles {}, custom GPU kernels handle {}.",
                    stage_names(mlx),
                    stage_names(custom)
                )));
            }
        }
        Node::S0 | Node::S1 | Node::S2 | Node::S3 | Node::S4 | Node::S5 | Node::S6 | Node::S7 => {}
    }
    out
}

fn summary(t: Node, inputs: &ResolvedInputs, est: &Estimates) -> Option<OutputSummary> {
    if matches!(t, Node::T0 | Node::T1) {
        return None;
    }
    let local_estimate = match est.local.time_hours {
        Some(h) if est.local.source.starts_with("given") => {
            format!("{} ({})", hours(h), est.local.source)
        }
        Some(h) => format!("{} on {} ({})", hours(h), inputs.machine.called(), est.local.source),
        None => UNKNOWN_LOCAL.to_string(),
    };
    let gpu = |g: &crate::estimates::GpuNodeEstimate, what: &str| match (g.time_hours, g.cost_usd) {
        (Some(time), Some(cost)) => (format!("~{} on {what}{STARTUP}", hours(time)), dollars(cost)),
        _ => (
            format!("{what}: time unknown without a local estimate"),
            format!("{} (total unknown)", per_hour(g.usd_per_hour)),
        ),
    };
    let (cloud_estimate, cloud_cost) = match t {
        Node::T2 => match &est.do_fleet {
            Some(f) if f.items_independent => (
                format!("~{} on {} x {}{STARTUP}", hours(f.time_hours), f.droplets, f.droplet),
                dollars(f.cost_usd),
            ),
            _ => (
                "none: the items are not independent, so no cloud shortcut exists".to_string(),
                "$0".to_string(),
            ),
        },
        Node::T4 => gpu(&est.aws_p5, &format!("{} x AWS p5.48xlarge", est.aws_p5.nodes)),
        Node::T5 => match &est.do_single {
            Some(d) => match (d.time_hours, d.cost_usd) {
                (Some(time), Some(cost)) => (
                    format!("~{} on DigitalOcean {}{STARTUP}", hours(time), d.droplet),
                    dollars(cost),
                ),
                _ => (
                    format!("DigitalOcean {}: time unknown without a local estimate", d.droplet),
                    format!("{} (total unknown)", per_hour(d.usd_per_hour)),
                ),
            },
            None => ("unknown without data_size_gb".to_string(), "unknown".to_string()),
        },
        Node::T6 => match &est.do_fleet {
            Some(f) => (
                format!("~{} on {} x {}{STARTUP}", hours(f.time_hours), f.droplets, f.droplet),
                dollars(f.cost_usd),
            ),
            None => {
                ("fleet time unknown without a local estimate".to_string(), "unknown".to_string())
            }
        },
        _ => gpu(&est.lambda_8x_h100, "Lambda 8x H100"),
    };
    Some(OutputSummary { local_estimate, cloud_estimate, cloud_cost })
}

/// Chunks small enough to double-buffer inside the 70% ceiling: half of it per chunk.
fn chunk_plan(m: &InputMap) -> Option<ChunkPlan> {
    let data = m.number("data_size_gb")?;
    let ram = m.number("machine_ram_gb")?;
    let ceiling = ram * 0.70;
    let budget = ceiling / 2.0;
    let chunks = (data / budget).ceil().max(1.0) as u64;
    Some(ChunkPlan {
        chunks,
        chunk_gb: data / chunks as f64,
        ceiling_gb: ceiling,
        how: "streaming passes (tiles for a matmul); each chunk at most half the ceiling so the next one can load while this one computes".into(),
    })
}

fn plan(t: Node, trace: &[StateVisit], inputs: &ResolvedInputs, est: &Estimates) -> ExecutionPlan {
    let ops = inputs.operations.clone();
    let title = inputs.workload.as_str();
    let base = |backend: Backend, runs_on: &str| ExecutionPlan {
        backend,
        runs_on: runs_on.to_string(),
        operations: ops.clone(),
        chunking: None,
        stages: Vec::new(),
        framework_code: None,
        cloud: None,
    };
    match t {
        Node::T0 => base(Backend::CpuInline, "fastpath's CPU kernels, inline (no GPU dispatch)"),
        Node::T1 => ExecutionPlan {
            chunking: if taken(trace, Node::S3) == Some(1) {
                chunk_plan(&inputs.inputs)
            } else {
                None
            },
            ..base(Backend::Gpu, "fastpath's GPU kernels (wgpu)")
        },
        Node::T2 => base(Backend::CpuRayon, "fastpath's CPU kernels, rayon across items"),
        Node::T7 => ExecutionPlan {
            framework_code: (!ops.is_empty()).then(|| FrameworkCode {
                framework: "mlx".into(),
                code: codegen::mlx_script(title, &ops),
            }),
            ..base(Backend::Mlx, "MLX")
        },
        Node::T8 => ExecutionPlan {
            framework_code: (!ops.is_empty()).then(|| FrameworkCode {
                framework: "pytorch".into(),
                code: codegen::pytorch_script(title, &ops),
            }),
            ..base(Backend::Pytorch, "PyTorch (MPS on Apple silicon, CUDA or CPU elsewhere)")
        },
        Node::T9 => {
            let (mlx, custom) = ops.split_at(inputs.mlx_stage_len);
            let stages = if ops.is_empty() {
                Vec::new()
            } else {
                vec![
                    Stage {
                        runner: "MLX".into(),
                        operations: mlx.iter().map(|o| o.op.clone()).collect(),
                        details: mlx
                            .iter()
                            .map(|o| {
                                format!(
                                    "{}: {}",
                                    o.describe(),
                                    o.mlx.code.clone().unwrap_or_default()
                                )
                            })
                            .collect(),
                    },
                    Stage {
                        runner: "fastpath GPU kernels".into(),
                        operations: custom.iter().map(|o| o.op.clone()).collect(),
                        details: custom
                            .iter()
                            .map(|o| format!("{}: {}", o.describe(), o.kernel_route))
                            .collect(),
                    },
                ]
            };
            ExecutionPlan {
                framework_code: (!ops.is_empty()).then(|| FrameworkCode {
                    framework: "mlx".into(),
                    code: codegen::hybrid_mlx_stage(title, &ops, inputs.mlx_stage_len),
                }),
                stages,
                ..base(Backend::MlxThenGpu, "MLX for the first stage, then fastpath's GPU kernels")
            }
        }
        Node::T3 | Node::T4 | Node::T5 | Node::T6 => {
            let cloud = match t {
                Node::T3 => CloudPlan {
                    provider: "Lambda".into(),
                    instance: "gpu_8x_h100_sxm5".into(),
                    count: 1,
                    usd_per_hour_total: est.lambda_8x_h100.usd_per_hour,
                    note: "autodown when idle: Lambda cannot stop instances".into(),
                },
                Node::T4 => CloudPlan {
                    provider: "AWS".into(),
                    instance: "p5.48xlarge".into(),
                    count: est.aws_p5.nodes,
                    usd_per_hour_total: est.aws_p5.usd_per_hour,
                    note: "multi-node: NCCL over EFA".into(),
                },
                Node::T5 => {
                    let d = est.do_single.as_ref();
                    CloudPlan {
                        provider: "DigitalOcean".into(),
                        instance: d.map(|d| d.droplet.clone()).unwrap_or_default(),
                        count: 1,
                        usd_per_hour_total: d.map(|d| d.usd_per_hour).unwrap_or(0.0),
                        note: "one large-memory droplet".into(),
                    }
                }
                _ => {
                    let f = est.do_fleet.as_ref();
                    CloudPlan {
                        provider: "DigitalOcean".into(),
                        instance: f.map(|f| f.droplet.clone()).unwrap_or_default(),
                        count: f.map(|f| f.droplets).unwrap_or(0),
                        usd_per_hour_total: f
                            .map(|f| f.usd_per_hour_each * f.droplets as f64)
                            .unwrap_or(0.0),
                        note: "one independent chunk per droplet".into(),
                    }
                }
            };
            ExecutionPlan {
                cloud: Some(cloud),
                ..base(Backend::Cloud, "a cloud plan (nothing is launched)")
            }
        }
        Node::S0 | Node::S1 | Node::S2 | Node::S3 | Node::S4 | Node::S5 | Node::S6 | Node::S7 => {
            unreachable!("a path ends at a terminal")
        }
    }
}
