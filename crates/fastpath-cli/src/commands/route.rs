//! `fastpath route`: decide where a workload should run, and say why. Parsing and printing
//! only; the decision is `fastpath_route::decide`, the gate `fastpath_health::gate`.

use std::path::PathBuf;
use std::process::ExitCode;

use fastpath::KernelRates;
use fastpath_route::{
    GateOutcome, GpuDescription, MachineProfile, OperationSpec, PriceTable, ResolvedInputs,
    RouteError, THIS_MACHINE, VARIABLES, Variables, Workload, decide, ops, parse_variable_text,
    render, render_example, resolve, worked_examples,
};
use serde::Serialize;

use crate::{CliError, GlobalOpts};

// The subcommand's one-line about comes from main.rs; the long explanation is AFTER_HELP.
#[derive(clap::Args, Debug)]
#[command(
    after_long_help = AFTER_HELP,
    after_help = "See `fastpath route --help` for how it decides, the workload file format, examples and exit statuses."
)]
pub struct Args {
    /// What to route: the workload file, --op operations, the seed's variables, the machine,
    /// prices and health snapshot (shared with `fastpath run`).
    #[command(flatten)]
    pub target: WorkloadArgs,

    /// Print JSON only: {"terminal", "terminal_name", "path", "trace", "inputs",
    /// "estimates", "summary", "messages", "gate", "plan", ...}.
    #[arg(long)]
    pub json: bool,

    /// Print the seed's worked examples (1-11, and 4b) with fastpath's decisions, using the
    /// seed's prices unless --prices says otherwise.
    #[arg(long, conflicts_with_all = ["workload", "ops", "machine", "health_snapshot", "list_ops", "list_machines"])]
    pub examples: bool,

    /// List every operation name with its shape rule and MLX / PyTorch support.
    #[arg(long, conflicts_with_all = ["workload", "ops", "list_machines"])]
    pub list_ops: bool,

    /// List the machine profiles, including the one detected for this machine.
    #[arg(long, conflicts_with_all = ["workload", "ops"])]
    pub list_machines: bool,

    /// Print a built-in price table (`seed` or `current`) as TOML and exit.
    #[arg(long, value_name = "seed|current", conflicts_with_all = ["workload", "ops", "examples"])]
    pub print_prices: Option<String>,

    /// Boxed: sixteen optional strings would make `Args` the CLI's largest command by far.
    /// Last, because its help heading applies to every flag declared after it.
    #[command(flatten)]
    pub variables: Box<VariableFlags>,
}

/// The flags that describe a workload and where it is routed, shared by `fastpath route` and
/// `fastpath run` so both read workloads, machines, prices and health snapshots the same way.
/// The variable flags ([`VariableFlags`]) complete it; each command flattens them last.
#[derive(clap::Args, Debug)]
pub struct WorkloadArgs {
    /// Workload file, TOML or JSON: the seed's variables by name and/or [[operations]].
    #[arg(value_name = "WORKLOAD")]
    pub workload: Option<PathBuf>,

    /// An operation: NAME[:SHAPE][:DTYPE][:key=value,...], e.g. `sort:10000000`,
    /// `matmul:64x768x1000000:f16`, `top_k:64000000:k=100`. Repeat for a pipeline; adds to the
    /// file's operations. `--list-ops` shows the names.
    #[arg(long = "op", value_name = "SPEC")]
    pub ops: Vec<String>,

    /// Machine profile: m2-air, m2-air-8, m2-air-24, m3-max, m3-max-36, m3-max-64,
    /// m3-max-128, m5, m5-16, m5-32, or `this` (default: detected RAM, cores and GPU).
    #[arg(long, value_name = "PROFILE")]
    pub machine: Option<String>,

    /// Price table for cloud estimates: `current` (default; dated, with sources), `seed` (the
    /// seed's constants: $23.92/h Lambda, $0.17/h x 15 droplets, ...), or a TOML/JSON file in
    /// the same format (`--print-prices current` prints one to start from).
    #[arg(long, value_name = "seed|current|FILE")]
    pub prices: Option<String>,

    /// Gate on a recorded health probe (`fastpath health --json > FILE`) instead of probing
    /// this machine. Without it, this machine is probed when routing for `--machine this`;
    /// for a named profile the gate is not evaluated.
    #[arg(long, value_name = "FILE")]
    pub health_snapshot: Option<PathBuf>,
}

/// The seed's input variables as flags; they override the workload file.
#[derive(clap::Args, Debug, Default)]
#[command(next_help_heading = "Workload variables (the seed's names; override the file)")]
pub struct VariableFlags {
    /// Unified RAM of the machine, GB (overrides the machine profile).
    #[arg(long, value_name = "GB", allow_hyphen_values = true)]
    pub machine_ram_gb: Option<String>,
    /// Working set: inputs + outputs + intermediates, GB.
    #[arg(long, value_name = "GB", allow_hyphen_values = true)]
    pub data_size_gb: Option<String>,
    /// Number of discrete work items (elements, keys, seeds, rows).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub item_count: Option<String>,
    /// Floating-point operations per item.
    #[arg(long, value_name = "FLOPS", allow_hyphen_values = true)]
    pub flops_per_item: Option<String>,
    /// Items per second on this machine's GPU.
    #[arg(long, value_name = "ITEMS_PER_S", allow_hyphen_values = true)]
    pub local_rate: Option<String>,
    /// Estimated local run time in hours (instead of item_count / local_rate / 3600).
    #[arg(long, value_name = "HOURS", allow_hyphen_values = true)]
    pub local_time_hours: Option<String>,
    /// Needs cuDNN, cuBLAS, TensorRT, NCCL or other CUDA-only libraries.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub requires_cuda: Option<String>,
    /// Each item depends on the previous one (e.g. PBKDF2 iterations).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub is_sequential: Option<String>,
    /// Each item is independent (per-element map, per-row reduce).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub is_parallel: Option<String>,
    /// Items are independent of each other even if each is sequential inside (S1).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub parallel_across_items: Option<String>,
    /// All operations have MLX equivalents.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub mlx_expressible: Option<String>,
    /// How much of the workload MLX can run: all, most or none (T9).
    #[arg(long, value_name = "all|most|none")]
    pub mlx_coverage: Option<String>,
    /// Needs HuggingFace, torchvision, torchaudio or PyTorch-specific autograd.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub needs_pytorch_eco: Option<String>,
    /// Includes operations that are not in MLX (stencils, N-body, compaction, histograms).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub needs_custom_gpu: Option<String>,
    /// Python is acceptable (false for a compiled-binary deliverable).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub python_acceptable: Option<String>,
    /// Can be processed in streaming passes without random access (S3).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub chunkable: Option<String>,
}

const AFTER_HELP: &str = "\
How it decides: the seed's compute routing state machine. Every workload enters S0 ENTRY and
follows predicates top to bottom, first true branch taken, to one terminal: T0 CPU inline,
T1 fastpath's GPU kernels, T2 CPU with rayon, T3 Lambda 8x H100, T4 AWS multi-node, T5 one
large droplet, T6 a droplet fleet, T7 MLX, T8 PyTorch, T9 MLX + fastpath kernels. The report
shows the path, every predicate with the values it saw, each input (given, derived, default
or unknown), time and cost estimates from a dated price table, and the plan. The health gate
runs first. Where fastpath departs from the seed (R1-R22), docs/routing.md says why.

Examples:
  fastpath route                                   route the built-in demo workload
  fastpath route work.toml --machine m5            a workload file, on the seed's M5
  fastpath route --op sort:10000000                one operation from the command line
  fastpath route --op matmul:64x768x1000000 --op filter_threshold:64000000 --op top_k:64000000:k=100
  fastpath route --item-count 4294967296 --local-rate 3500 --is-sequential --is-parallel=false \\
                 --parallel-across-items --prices seed
  fastpath route --examples                        the seed's worked examples
  fastpath route work.toml --json | jq .path

Workload file (TOML; JSON with the same keys works too):
  name = \"vector search\"
  python_acceptable = true            # any of the seed's variables, by name
  [[operations]]
  op = \"matmul\"                       # fastpath route --list-ops
  shape = [64, 768, 1000000]          # or: elements = N
  dtype = \"f32\"                       # f16 bf16 f32 f64 i8 u8 i32 u32 i64
  [[operations]]
  op = \"top_k\"
  elements = 64000000
  k = 100                             # operation parameters beside op/shape

Variables not given are derived from the operations and the machine profile, or take the
defaults in docs/routing.md; the report marks each one given, derived, default or unknown.

Exit status: 0 decided, 2 bad input (unreadable or invalid workload, unknown operation,
missing values a predicate needs), 3 blocked by the health gate.";

pub fn run(args: &Args, global: &GlobalOpts) -> Result<ExitCode, CliError> {
    if let Some(name) = &args.print_prices {
        let text = PriceTable::builtin_text(name).ok_or_else(|| {
            CliError::bad_input(format!("--print-prices takes seed or current, got '{name}'"))
        })?;
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    if args.list_ops {
        return list_ops(args.json);
    }
    if args.list_machines {
        return list_machines(args.json, global);
    }
    if args.examples {
        return examples(args);
    }

    let routed = prepare(&args.target, &args.variables, global, GatePolicy::ForRouting)?;
    let decision = routed.decide()?;
    if args.json {
        print_json(&decision)?;
    } else {
        print!("{}", render(&decision));
    }
    Ok(ExitCode::SUCCESS)
}

/// Whose health gates a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatePolicy {
    /// `fastpath route`: this machine's probe gates routing for this machine only; a named
    /// profile is another machine, whose health this one cannot speak for.
    ForRouting,
    /// `fastpath run`: the work executes here, so this machine's health always gates it.
    ThisMachineRunsIt,
}

/// The health gate's verdict, and the report it read when there was one.
pub struct HealthGate {
    /// The verdict in route's terms (warnings, blocks, long-run advice).
    pub outcome: GateOutcome,
    /// The health crate's full verdict (info messages and cooling guidance included).
    pub verdict: Option<fastpath_health::GateVerdict>,
    /// The probe or snapshot the gate read (a baseline for the runtime monitor).
    pub report: Option<fastpath_health::HealthReport>,
}

/// A workload resolved on a machine and gated, ready to decide.
pub struct Prepared {
    pub inputs: ResolvedInputs,
    pub prices: PriceTable,
    pub health: HealthGate,
}

impl Prepared {
    /// The routing decision; a BLOCK verdict is exit 3 with the gate's message.
    pub fn decide(&self) -> Result<fastpath_route::Decision, CliError> {
        decide(&self.inputs, &self.prices, &self.health.outcome).map_err(|e| match e {
            RouteError::Blocked(message) => {
                CliError::blocked(format!("health gate BLOCK: {message}"))
            }
            other => input_error(other),
        })
    }
}

/// Reads the workload, machine and prices, resolves every variable and evaluates the health
/// gate: everything `route` and `run` do before deciding.
pub fn prepare(
    target: &WorkloadArgs,
    variables: &VariableFlags,
    global: &GlobalOpts,
    policy: GatePolicy,
) -> Result<Prepared, CliError> {
    let prices =
        PriceTable::from_arg(target.prices.as_deref().unwrap_or("current")).map_err(input_error)?;
    let workload = build_workload(target, variables)?;
    let machine = machine_profile(target.machine.as_deref(), global)?;
    // Operations whose kernels exist are estimated from this machine's calibration profile
    // when `fastpath calibrate` wrote one, else from their cost models; the rest (and named
    // profiles) fall back to the router's roofline. See fastpath::rates.
    let profile = match fastpath_bench::load_profile(None) {
        Ok(p) => p.map(|(profile, _)| profile),
        Err(e) => {
            eprintln!("warning: ignoring the calibration profile: {e}");
            None
        }
    };
    let calibration = profile.as_ref().map(fastpath::rates::ProfileCalibration);
    let rates = match &calibration {
        Some(c) => KernelRates::new().with_calibration(c),
        None => KernelRates::new(),
    };
    let inputs = resolve(&workload, &machine, &rates).map_err(input_error)?;
    let health = health_gate(target, &machine, &inputs, policy)?;
    Ok(Prepared { inputs, prices, health })
}

pub(crate) fn input_error(e: RouteError) -> CliError {
    CliError::bad_input(e)
}

pub(crate) fn print_json<T: Serialize>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::failure(format!("cannot write JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

/// The workload file (if any), overridden by variable flags, plus --op operations; the
/// built-in demo when nothing describes a workload.
fn build_workload(args: &WorkloadArgs, variables: &VariableFlags) -> Result<Workload, CliError> {
    let flags = variable_flags(variables)?;
    let ops: Vec<OperationSpec> = args
        .ops
        .iter()
        .map(|text| OperationSpec::parse_flag(text))
        .collect::<Result<_, _>>()
        .map_err(input_error)?;
    let mut workload = match &args.workload {
        Some(path) => Workload::from_path(path).map_err(input_error)?,
        None if ops.is_empty() && flags.is_empty() => return Ok(Workload::builtin_default()),
        None => Workload { name: Some("command-line workload".into()), ..Workload::default() },
    };
    workload.variables.override_with(&flags);
    workload.operations.extend(ops);
    Ok(workload)
}

fn variable_flags(flags: &VariableFlags) -> Result<Variables, CliError> {
    let given: [(&str, &Option<String>); 16] = [
        ("machine_ram_gb", &flags.machine_ram_gb),
        ("data_size_gb", &flags.data_size_gb),
        ("item_count", &flags.item_count),
        ("flops_per_item", &flags.flops_per_item),
        ("local_rate", &flags.local_rate),
        ("local_time_hours", &flags.local_time_hours),
        ("requires_cuda", &flags.requires_cuda),
        ("is_sequential", &flags.is_sequential),
        ("is_parallel", &flags.is_parallel),
        ("mlx_expressible", &flags.mlx_expressible),
        ("needs_pytorch_eco", &flags.needs_pytorch_eco),
        ("needs_custom_gpu", &flags.needs_custom_gpu),
        ("python_acceptable", &flags.python_acceptable),
        ("chunkable", &flags.chunkable),
        ("parallel_across_items", &flags.parallel_across_items),
        ("mlx_coverage", &flags.mlx_coverage),
    ];
    debug_assert_eq!(given.len(), VARIABLES.len());
    let mut vars = Variables::default();
    for (name, text) in given {
        if let Some(text) = text {
            let flag = format!("--{}", name.replace('_', "-"));
            let rename = |e: RouteError| match e {
                RouteError::Invalid { message, .. } => {
                    CliError::bad_input(format!("{flag}: {message}"))
                }
                other => input_error(other),
            };
            let value = parse_variable_text(name, text.trim()).map_err(rename)?;
            vars.set(name, &value, &flag).map_err(rename)?;
        }
    }
    Ok(vars)
}

/// `--machine NAME`, or the detected profile of this machine with its GPU adapter.
fn machine_profile(name: Option<&str>, global: &GlobalOpts) -> Result<MachineProfile, CliError> {
    match name {
        Some(n) if !THIS_MACHINE.contains(&n.trim().to_ascii_lowercase().as_str()) => {
            MachineProfile::named(n).map_err(input_error)
        }
        _ => Ok(MachineProfile::detect(this_gpu(global))),
    }
}

fn this_gpu(global: &GlobalOpts) -> Option<GpuDescription> {
    match fastpath_gpu::describe_adapter(global.adapter.as_deref()) {
        Ok(a) => Some(GpuDescription {
            software: a.device_type == "cpu",
            name: a.name,
            backend: Some(a.backend),
            unified_memory: a.unified_memory,
        }),
        Err(e) => {
            tracing::info!("no GPU adapter for the machine profile: {e}");
            None
        }
    }
}

/// The health gate: a recorded probe when given, a probe of this machine when routing for
/// it (or running here), and nothing for a named profile (this machine's health says nothing
/// about another).
fn health_gate(
    args: &WorkloadArgs,
    machine: &MachineProfile,
    inputs: &ResolvedInputs,
    policy: GatePolicy,
) -> Result<HealthGate, CliError> {
    let probe_here = machine.origin == fastpath_route::ProfileOrigin::Detected
        || policy == GatePolicy::ThisMachineRunsIt;
    let (report, source) = match &args.health_snapshot {
        Some(path) => (
            fastpath_health::load_snapshot(path).map_err(CliError::bad_input)?,
            format!("snapshot {}", path.display()),
        ),
        None if probe_here => (fastpath_health::probe(), "probe of this machine".to_string()),
        None => {
            return Ok(HealthGate {
                outcome: GateOutcome::not_evaluated(format!(
                    "--machine {} is not this machine; give --health-snapshot FILE to gate on a recorded probe",
                    machine.name
                )),
                verdict: None,
                report: None,
            });
        }
    };
    let query = inputs.gate_query();
    let verdict = fastpath_health::gate(
        &report,
        &fastpath_health::GateInputs {
            // An unknown working set cannot trip the memory rule; the gate says what it could not check.
            data_size_gb: query.data_size_gb.unwrap_or(0.0),
            machine_ram_gb: query.machine_ram_gb,
            local_time_hours: query.local_time_hours,
        },
    );
    Ok(HealthGate {
        outcome: gate_outcome(&verdict, source),
        verdict: Some(verdict),
        report: Some(report),
    })
}

/// Health's verdict in route's terms: warnings and blocks, plus the up-front advice for long
/// runs; "could not check" notes stay in `fastpath health`.
fn gate_outcome(verdict: &fastpath_health::GateVerdict, source: String) -> GateOutcome {
    use fastpath_health::{GateDecision as H, MessageLevel, gate::rule};
    let messages: Vec<String> = verdict
        .messages
        .iter()
        .filter(|m| m.level != MessageLevel::Info || m.rule == rule::LONG_RUN_ADVICE)
        .map(|m| m.text.clone())
        .collect();
    match verdict.decision {
        H::Pass => GateOutcome { decision: fastpath_route::GateDecision::Pass, messages, source },
        H::Warn => GateOutcome::warn(messages, source),
        H::Block => GateOutcome::block(messages, source),
    }
}

#[derive(Serialize)]
struct ExampleJson<'a> {
    id: &'a str,
    title: &'a str,
    seed_says: &'a str,
    seed_path: Vec<&'a str>,
    resolutions: Vec<&'static str>,
    decision: fastpath_route::Decision,
}

fn examples(args: &Args) -> Result<ExitCode, CliError> {
    let prices = PriceTable::from_arg(args.target.prices.as_deref().unwrap_or("seed"))
        .map_err(input_error)?;
    let mut out = Vec::new();
    let mut text = String::new();
    for ex in worked_examples() {
        let d =
            ex.decide(&prices).map_err(|e| CliError::failure(format!("example {}: {e}", ex.id)))?;
        if args.json {
            out.push(ExampleJson {
                id: ex.id,
                title: ex.title,
                seed_says: ex.seed_says,
                seed_path: ex.seed_path.iter().map(|n| n.id()).collect(),
                resolutions: ex.deviations.clone(),
                decision: d,
            });
        } else {
            text.push_str(&render_example(&ex, &d));
            text.push('\n');
        }
    }
    if args.json {
        print_json(&out)?;
    } else {
        println!(
            "The seed's worked examples, decided by fastpath (prices: {}; machine: the seed's M5 unless stated;\nresolutions R1-R22 in docs/routing.md).\n",
            prices.label()
        );
        print!("{text}");
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct OpJson {
    name: &'static str,
    aliases: &'static [&'static str],
    summary: &'static str,
    shape: &'static str,
    parameters: Vec<String>,
    mlx: bool,
    pytorch: bool,
    chunkable: bool,
}

fn list_ops(json: bool) -> Result<ExitCode, CliError> {
    let rows: Vec<OpJson> = ops::catalog()
        .iter()
        .map(|d| OpJson {
            name: d.name,
            aliases: d.aliases,
            summary: d.summary,
            shape: ops::shape_rule(d, &Default::default()),
            parameters: d
                .params
                .iter()
                .map(|p| match p.default {
                    ops::ParamDefault::Required => format!("{} (required)", p.name),
                    _ => p.name.to_string(),
                })
                .collect(),
            mlx: matches!(d.mlx, ops::Support::Has(_)),
            pytorch: matches!(d.pytorch, ops::Support::Has(_)),
            chunkable: d.chunkable,
        })
        .collect();
    if json {
        return print_json(&rows).map(|_| ExitCode::SUCCESS);
    }
    println!(
        "{} operations (spec/operation-routing.md names; aliases in parentheses)\n",
        rows.len()
    );
    println!("{:<22} {:<5} {:<7} shape / parameters", "name", "MLX", "PyTorch");
    for r in &rows {
        let aliases = if r.aliases.is_empty() {
            String::new()
        } else {
            format!(" ({})", r.aliases.join(", "))
        };
        let params = if r.parameters.is_empty() {
            String::new()
        } else {
            format!("; {}", r.parameters.join(", "))
        };
        println!(
            "{:<22} {:<5} {:<7} {}{params}\n{:<37}{}{aliases}",
            r.name,
            if r.mlx { "yes" } else { "no" },
            if r.pytorch { "yes" } else { "no" },
            r.shape,
            "",
            r.summary
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn list_machines(json: bool, global: &GlobalOpts) -> Result<ExitCode, CliError> {
    let mut profiles: Vec<MachineProfile> = MachineProfile::names()
        .into_iter()
        .map(|n| MachineProfile::named(n).expect("built-in profile"))
        .collect();
    profiles.push(MachineProfile::detect(this_gpu(global)));
    if json {
        return print_json(&profiles).map(|_| ExitCode::SUCCESS);
    }
    for p in &profiles {
        println!("{}", p.summary());
        for note in &p.notes {
            println!("    {note}");
        }
    }
    println!("\n`--machine this` (the default) uses the last, detected profile.");
    Ok(ExitCode::SUCCESS)
}
