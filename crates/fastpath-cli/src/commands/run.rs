//! `fastpath run`: the main job. Health gate → route → execute → report. The gate and the
//! routing are `fastpath route`'s (shared argument handling in `route.rs`); execution is
//! `fastpath::execute`; this module prints, shows progress and starts the runtime monitor.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::mpsc::{RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fastpath::execute::{ExecEvent, InputFile, OpRun};
use fastpath::{BackendChoice, Context, Device, ExecuteOptions, ExecutionReport, execute};
use fastpath_health::{GateVerdict, MessageLevel, Monitor, MonitorConfig, MonitorEvent};
use fastpath_route::format::{duration_hours, significant};
use fastpath_route::{Decision, MessageKind, Operation};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use super::route::{GatePolicy, HealthGate, VariableFlags, WorkloadArgs, prepare, print_json};
use crate::{CliError, GlobalOpts};

// The one-line about comes from main.rs; the long explanation is AFTER_HELP.
#[derive(clap::Args, Debug)]
#[command(
    after_long_help = AFTER_HELP,
    after_help = "See `fastpath run --help` for what runs where, inputs, the report and exit statuses."
)]
pub struct Args {
    /// The workload and where it is routed: the same flags as `fastpath route`.
    #[command(flatten)]
    pub target: WorkloadArgs,

    /// Where local work runs: `auto` follows the route (T0/T2 on the CPU; T1 and the
    /// framework terminals T7-T9 on fastpath's GPU kernels), `cpu` or `gpu` force a device.
    #[arg(long, value_name = "cpu|gpu|auto", default_value = "auto")]
    pub backend: BackendChoice,

    /// Print one JSON object only: {"decision", "gate", "execution", "monitor", ...}.
    #[arg(long)]
    pub json: bool,

    /// Seed of the synthetic input data (the same seed gives the same numbers).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,

    /// Real data for an operation's main operand instead of synthetic data: OP=FILE.npy, OP
    /// being the operation's position (1-based), label or name. The file must hold as many
    /// elements as the operation describes, in the dtype its first kernel reads. Repeatable.
    #[arg(long = "input", value_name = "OP=FILE.npy")]
    pub inputs: Vec<String>,

    /// The seed's variables as flags; last, because their help heading applies to every flag
    /// declared after them.
    #[command(flatten)]
    pub variables: Box<VariableFlags>,
}

const AFTER_HELP: &str = "\
What runs where: the health gate runs first (on this machine's probe, or --health-snapshot) and
a BLOCK stops with its message. The route (`fastpath route` explains it in full) picks a
terminal:
  T0, T2      fastpath's CPU kernels (T0 inline, T2 rayon across items)
  T1          fastpath's GPU kernels; if the GPU cannot be opened or fails, the CPU, with a
              warning and a note in the report
  T7, T8, T9  the equivalent MLX / PyTorch code is printed (T9: the per-stage split), then
              fastpath's own GPU kernels run the operations here
  T3-T6       the cloud plan and its estimates are printed; nothing is launched
Each operation runs its catalog kernels in order on synthetic, seeded input of the described
size and dtype (or --input), chained output to input (`A -> B`: B reads A's output of the
same name, else of the same dtype and shape, else the operation's data), `repeat` times. On the
GPU, arrays stay on the device across a chain; only results are read back. Operations whose
kernels are not implemented yet are skipped with the reason.

The report shows the path and why, each operation's measured time next to the estimate, and a
short result. A progress bar appears on stderr for work longer than a second (not with --json
or when stderr is not a terminal). Work estimated over 60 s is watched by the runtime monitor;
over 30 minutes, the gate's AC/ventilation advice is shown before it starts.

Examples:
  fastpath run                                  the built-in demo workload
  fastpath run work.toml                        a workload file (see `fastpath route --help`)
  fastpath run --op histogram:10000000 --op sum:10000000
  fastpath run --op sum:1000000 --input 1=data.npy
  fastpath run --backend cpu --json | jq .execution.seconds

Exit status: 0 done (also for a cloud plan, which launches nothing), 1 an operation failed
while running, 2 bad input (workload, flags, input files), 3 blocked by the health gate.";

pub fn run(args: &Args, global: &GlobalOpts) -> Result<ExitCode, CliError> {
    let started = Instant::now();
    let prepared = prepare(&args.target, &args.variables, global, GatePolicy::ThisMachineRunsIt)?;
    let decision = prepared.decide()?;
    let input_files = read_input_files(&args.inputs, &decision.plan.operations)?;
    // Only the adapter's kind is needed (no device is opened here).
    let adapter = fastpath_gpu::describe_adapter(global.adapter.as_deref()).ok();
    let device = fastpath::local_device(&decision.plan, args.backend, adapter.as_ref());

    if !args.json {
        print!("{}", header(&decision, &prepared.health));
        let _ = std::io::stdout().flush();
    }

    let Some((device, device_reason)) = device else {
        // T3-T6: a plan to act on, nothing to launch.
        if args.json {
            print_json(&RunJson {
                decision: &decision,
                gate: gate_json(&prepared.health),
                execution: None,
                launched: false,
                monitor: None,
                wall_seconds: started.elapsed().as_secs_f64(),
            })?;
        } else {
            print!("{}", cloud_section(&decision));
        }
        return Ok(ExitCode::SUCCESS);
    };

    if !args.json {
        print!("{}", framework_section(&decision));
        let _ = std::io::stdout().flush();
    }

    let progress = Progress::start(!args.json);
    let estimate_seconds = decision.estimates.local.time_hours.map(|h| h * 3600.0);
    let monitor = start_monitor(estimate_seconds, &prepared.health, &progress.bar);
    let options = ExecuteOptions { device, device_reason, seed: args.seed, input_files };
    let ctx = Context::new(global.adapter.clone());
    let report = execute(&decision, &ctx, &options, &mut |event| progress.on_event(event));
    progress.finish();
    let monitor = monitor.map(MonitorRun::stop);

    if args.json {
        print_json(&RunJson {
            decision: &decision,
            gate: gate_json(&prepared.health),
            execution: Some(&report),
            launched: false,
            monitor: monitor.as_ref(),
            wall_seconds: started.elapsed().as_secs_f64(),
        })?;
    } else {
        print!("{}", execution_section(&report, monitor.as_ref(), started.elapsed()));
    }
    if !report.failed.is_empty() {
        let names: Vec<String> =
            report.failed.iter().map(|f| format!("{} ({})", f.describe, f.reason)).collect();
        return Err(CliError::failure(format!(
            "{} operation{} failed while running: {}",
            names.len(),
            if names.len() == 1 { "" } else { "s" },
            names.join("; ")
        )));
    }
    Ok(ExitCode::SUCCESS)
}

// ── input files ─────────────────────────────────────────────────────────────────────────────

/// `--input OP=FILE.npy` → input files by operation index, each checked against its operation.
fn read_input_files(
    given: &[String],
    ops: &[Operation],
) -> Result<std::collections::BTreeMap<usize, InputFile>, CliError> {
    let mut files = std::collections::BTreeMap::new();
    for text in given {
        let (which, path) = text.split_once('=').ok_or_else(|| {
            CliError::bad_input(format!("--input '{text}': expected OP=FILE.npy, e.g. 1=data.npy"))
        })?;
        let which = which.trim();
        let index = match which.parse::<usize>() {
            Ok(0) => {
                return Err(CliError::bad_input(format!(
                    "--input '{text}': operations are numbered from 1"
                )));
            }
            Ok(n) if n <= ops.len() => n - 1,
            Ok(n) => {
                return Err(CliError::bad_input(format!(
                    "--input '{text}': there is no operation {n} (the workload has {})",
                    ops.len()
                )));
            }
            Err(_) => {
                let matches: Vec<usize> = ops
                    .iter()
                    .enumerate()
                    .filter(|(_, o)| o.label.as_deref() == Some(which) || o.op == which)
                    .map(|(i, _)| i)
                    .collect();
                match matches.as_slice() {
                    [one] => *one,
                    [] => {
                        return Err(CliError::bad_input(format!(
                            "--input '{text}': no operation is named or labelled '{which}'"
                        )));
                    }
                    many => {
                        let positions: Vec<String> =
                            many.iter().map(|i| (i + 1).to_string()).collect();
                        return Err(CliError::bad_input(format!(
                            "--input '{text}': '{which}' matches operations {}; use the position",
                            positions.join(", ")
                        )));
                    }
                }
            }
        };
        let file = InputFile::read(Path::new(path.trim())).map_err(CliError::bad_input)?;
        file.check(&ops[index]).map_err(CliError::bad_input)?;
        if files.insert(index, file).is_some() {
            return Err(CliError::bad_input(format!(
                "--input: operation {} is given two input files",
                index + 1
            )));
        }
    }
    Ok(files)
}

// ── progress and the runtime monitor ───────────────────────────────────────────────────────

/// The progress bar on stderr. It stays hidden for the first second, so quick runs print
/// nothing but the report, and always when stderr is not a terminal or JSON was asked for.
struct Progress {
    bar: ProgressBar,
    stop: Option<Sender<()>>,
    reveal: Option<JoinHandle<()>>,
}

/// Work shorter than this shows no bar.
const SHOW_PROGRESS_AFTER: Duration = Duration::from_secs(1);

impl Progress {
    fn start(enabled: bool) -> Progress {
        let bar = ProgressBar::hidden();
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {wide_msg}",
        ) {
            bar.set_style(style);
        }
        if !enabled || !std::io::stderr().is_terminal() {
            return Progress { bar, stop: None, reveal: None };
        }
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let shown = bar.clone();
        let reveal = std::thread::spawn(move || {
            if stopped.recv_timeout(SHOW_PROGRESS_AFTER) == Err(RecvTimeoutError::Timeout) {
                shown.set_draw_target(ProgressDrawTarget::stderr());
                shown.enable_steady_tick(Duration::from_millis(100));
            }
        });
        Progress { bar, stop: Some(stop), reveal: Some(reveal) }
    }

    fn on_event(&self, event: ExecEvent<'_>) {
        match event {
            ExecEvent::Begin { units } => self.bar.set_length(units),
            ExecEvent::Operation { text, .. } => self.bar.set_message(text.to_string()),
            ExecEvent::Advance(n) => self.bar.inc(n),
            ExecEvent::Warning(text) => self.bar.suspend(|| eprintln!("warning: {text}")),
        }
    }

    fn finish(mut self) {
        drop(self.stop.take());
        if let Some(t) = self.reveal.take() {
            let _ = t.join();
        }
        self.bar.finish_and_clear();
    }
}

/// What the runtime monitor did, for the report.
#[derive(Debug, Serialize)]
struct MonitorReport {
    /// Seconds between checks.
    interval_s: f64,
    checks: u64,
    warnings: Vec<fastpath_health::MonitorWarning>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<String>,
}

struct MonitorRun {
    handle: fastpath_health::MonitorHandle,
    interval: Duration,
    warnings: Arc<Mutex<Vec<fastpath_health::MonitorWarning>>>,
}

impl MonitorRun {
    fn stop(self) -> MonitorReport {
        let summary = self.handle.stop();
        let warnings =
            std::mem::take(&mut *self.warnings.lock().unwrap_or_else(|e| e.into_inner()));
        MonitorReport {
            interval_s: self.interval.as_secs_f64(),
            checks: summary.checks,
            warnings,
            failure: summary.failure,
        }
    }
}

/// Watches work estimated over 60 s (the seed's rule, `MonitorConfig::for_estimate`); its
/// warnings print above the progress bar as they happen. It never touches the work.
fn start_monitor(
    estimate_seconds: Option<f64>,
    health: &HealthGate,
    bar: &ProgressBar,
) -> Option<MonitorRun> {
    let estimate = Duration::try_from_secs_f64(estimate_seconds?).ok()?;
    let mut config = MonitorConfig::for_estimate(estimate)?;
    // We print the warnings ourselves; logging them too would say everything twice.
    config.log_warnings = false;
    if let Some(report) = &health.report {
        config = config.with_baseline(report.clone());
    }
    let interval = config.interval;
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let (sink, printer) = (warnings.clone(), bar.clone());
    let handle = Monitor::spawn(config, move |event| {
        if let MonitorEvent::Warning(w) = event {
            printer.suspend(|| {
                eprintln!("monitor: {}", w.text);
                for line in &w.guidance {
                    eprintln!("  {line}");
                }
            });
            sink.lock().unwrap_or_else(|e| e.into_inner()).push((*w).clone());
        }
    });
    match handle {
        Ok(handle) => Some(MonitorRun { handle, interval, warnings }),
        Err(e) => {
            bar.suspend(|| eprintln!("warning: the runtime monitor could not start ({e})"));
            None
        }
    }
}

// ── JSON ────────────────────────────────────────────────────────────────────────────────────

#[derive(Serialize)]
struct GateJson<'a> {
    decision: String,
    source: &'a str,
    /// The health crate's messages, info included (what could not be checked, advice).
    messages: Vec<fastpath_health::GateMessage>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    guidance: Vec<String>,
}

fn gate_json(health: &HealthGate) -> GateJson<'_> {
    let (messages, guidance) = match &health.verdict {
        Some(GateVerdict { messages, guidance, .. }) => (messages.clone(), guidance.clone()),
        None => (Vec::new(), Vec::new()),
    };
    GateJson {
        decision: health.outcome.decision.name().to_ascii_lowercase(),
        source: &health.outcome.source,
        messages,
        guidance,
    }
}

#[derive(Serialize)]
struct RunJson<'a> {
    /// The routing decision, exactly as `fastpath route --json` prints it.
    decision: &'a Decision,
    gate: GateJson<'a>,
    /// Null for a cloud plan.
    execution: Option<&'a ExecutionReport>,
    /// Always false: `fastpath run` never starts cloud machines.
    launched: bool,
    /// Null when the work was estimated at 60 s or less.
    monitor: Option<&'a MonitorReport>,
    /// Gate, routing, execution and reporting, end to end.
    wall_seconds: f64,
}

// ── the human report ───────────────────────────────────────────────────────────────────────

fn seconds_text(s: f64) -> String {
    if s.is_finite() { duration_hours(s / 3600.0) } else { "—".to_string() }
}

/// Workload, machine, gate, decision and why: printed before anything runs.
fn header(d: &Decision, health: &HealthGate) -> String {
    let mut out = String::new();
    let ops = d.plan.operations.len();
    let what = if ops == 0 {
        "given as variables".to_string()
    } else {
        format!("{ops} operation{}", if ops == 1 { "" } else { "s" })
    };
    out.push_str(&format!("workload  {} ({what})\n", d.workload));
    out.push_str(&format!("machine   {}\n", d.machine.summary()));
    out.push_str(&format!(
        "gate      {} ({})\n",
        health.outcome.decision.name(),
        health.outcome.source
    ));
    if let Some(v) = &health.verdict {
        for m in &v.messages {
            let shown = m.level >= MessageLevel::Warn
                || m.rule == fastpath_health::gate::rule::LONG_RUN_ADVICE;
            if shown {
                let prefix = if m.level >= MessageLevel::Warn { "warning: " } else { "advice: " };
                out.push_str(&format!("          {prefix}{}\n", m.text));
            }
        }
        for line in &v.guidance {
            out.push_str(&format!("          - {line}\n"));
        }
    }
    out.push_str(&format!(
        "decision  {} {} — {}\n",
        d.terminal, d.terminal_name, d.terminal_meaning
    ));
    let path: Vec<&str> = d.path.iter().map(|n| n.id()).collect();
    out.push_str(&format!("path      {}\n", path.join(" → ")));
    for (i, visit) in d.trace.iter().enumerate() {
        let p = visit.taken();
        let values: Vec<String> =
            p.values.0.iter().map(|(k, v)| format!("{k}={}", v.show())).collect();
        let values =
            if values.is_empty() { String::new() } else { format!(" [{}]", values.join(", ")) };
        out.push_str(&format!(
            "{}{}.{} {}{values} → {}\n",
            if i == 0 { "why       " } else { "          " },
            visit.state.id(),
            p.index,
            p.text,
            p.target
        ));
    }
    for m in d.messages.iter().filter(|m| m.kind != MessageKind::Gate) {
        let prefix = match m.kind {
            MessageKind::Warning => "warning: ",
            MessageKind::Note => "note: ",
            _ => "",
        };
        out.push_str(&format!("          {prefix}{}\n", m.text));
    }
    out.push_str(
        "          (`fastpath route` with the same arguments shows every predicate and input)\n",
    );
    out
}

/// T3-T6: the cloud plan and estimates; nothing runs.
fn cloud_section(d: &Decision) -> String {
    let mut out = String::from("\n");
    if let Some(s) = &d.summary {
        out.push_str(&format!("local estimate  {}\n", s.local_estimate));
        out.push_str(&format!("cloud estimate  {}\n", s.cloud_estimate));
        out.push_str(&format!("cloud cost      {}\n", s.cloud_cost));
    }
    if let Some(c) = &d.plan.cloud {
        out.push_str(&format!(
            "cloud plan      {} x {} {} at ${}/h in total — {}\n",
            c.count,
            c.provider,
            c.instance,
            significant(c.usd_per_hour_total, 5),
            c.note
        ));
    }
    out.push_str(&format!("prices          {} ({})\n", d.prices.name, d.prices.as_of));
    out.push_str(
        "\nNothing was launched: `fastpath run` prints cloud plans and never starts machines.\n",
    );
    out
}

/// T7-T9: the framework code the plan would run, and T9's per-stage split.
fn framework_section(d: &Decision) -> String {
    let mut out = String::new();
    let plan = &d.plan;
    if !plan.stages.is_empty() {
        out.push_str("\nstages (the route's split)\n");
        for (i, stage) in plan.stages.iter().enumerate() {
            out.push_str(&format!("  stage {} — {}:\n", i + 1, stage.runner));
            if stage.details.is_empty() {
                out.push_str("    nothing\n");
            }
            for detail in &stage.details {
                out.push_str(&format!("    {detail}\n"));
            }
        }
    }
    if let Some(code) = &plan.framework_code {
        let name = if code.framework == "mlx" { "MLX" } else { "PyTorch" };
        out.push_str(&format!("\n{name} code (the route's plan; not run here)\n"));
        for line in code.code.lines() {
            out.push_str(&format!("  {line}\n"));
        }
        out.push_str(&format!(
            "\n{name} is not run by fastpath: its own kernels run the same operations below, for measured times and results.\n"
        ));
    }
    out
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut t: String = text.chars().take(width.saturating_sub(1)).collect();
    t.push('…');
    t
}

fn op_row(r: &OpRun, op_w: usize, kernel_w: usize) -> String {
    let ratio = if r.estimate_seconds > 0.0 && r.estimate_seconds.is_finite() {
        format!("{:>6}", format!("{}x", significant(r.seconds / r.estimate_seconds, 2)))
    } else {
        format!("{:>6}", "")
    };
    format!(
        "  {:>2}  {:<op_w$}  {:<kernel_w$}  {:>9}  {:>9} {ratio}  {}\n",
        r.index + 1,
        truncate(&r.describe, op_w),
        truncate(&r.kernel_route, kernel_w),
        seconds_text(r.seconds),
        seconds_text(r.estimate_seconds),
        r.result.text
    )
}

/// One row per operation that ran, then the totals and where estimates and input came from.
fn operations_table(report: &ExecutionReport) -> String {
    let mut out = String::new();
    let op_w = report
        .operations
        .iter()
        .map(|r| r.describe.chars().count())
        .max()
        .unwrap_or(9)
        .clamp(9, 40);
    let kernel_w = report
        .operations
        .iter()
        .map(|r| r.kernel_route.chars().count())
        .max()
        .unwrap_or(7)
        .clamp(7, 36);
    out.push_str(&format!(
        "\n  {:>2}  {:<op_w$}  {:<kernel_w$}  {:>9}  {:>9} {:>6}  result\n",
        "#", "operation", "kernels", "measured", "estimate", "ratio"
    ));
    let mut stage = None;
    for r in &report.operations {
        if r.stage.is_some() && r.stage != stage {
            out.push_str(&format!("  {}\n", r.stage.as_deref().unwrap_or_default()));
            stage = r.stage.clone();
        }
        out.push_str(&op_row(r, op_w, kernel_w));
        let mut notes = r.notes.clone();
        if r.device != report.device {
            notes.push(format!("ran on the {}", r.device.name().to_ascii_uppercase()));
        }
        if !r.input.starts_with("synthetic") {
            notes.push(format!("input: {}", r.input));
        }
        if !notes.is_empty() {
            out.push_str(&format!("      ({})\n", notes.join("; ")));
        }
    }
    let ran = report.operations.len();
    let total_ops = ran + report.skipped.len() + report.failed.len();
    out.push_str(&format!(
        "\n  total     measured {}, estimated {} ({ran} of {total_ops} operations ran)\n",
        seconds_text(report.seconds),
        seconds_text(report.estimate_seconds),
    ));
    let sources: std::collections::BTreeSet<&str> =
        report.operations.iter().map(|r| r.estimate_source.as_str()).collect();
    out.push_str(&format!(
        "  measured  kernel time for all repetitions{}\n",
        if report.device == Device::Gpu {
            " (first-use shader compilation included; uploads and readback not)"
        } else {
            ""
        }
    ));
    out.push_str(&format!("  estimates {}\n", sources.into_iter().collect::<Vec<_>>().join(", ")));
    if report.operations.iter().any(|r| r.input.starts_with("synthetic")) {
        out.push_str(&format!(
            "  input     synthetic, seed {}: f32 data uniform in [-4, 4) (positive, [0.25, 4), where a kernel needs it), masks 50% set\n",
            report.seed
        ));
    }
    out
}

/// The measured table, totals, skipped operations and the monitor's line.
fn execution_section(
    report: &ExecutionReport,
    monitor: Option<&MonitorReport>,
    wall: Duration,
) -> String {
    let mut out = String::from("\n");
    let device = match report.device {
        Device::Gpu => format!("GPU {}", report.device_name),
        Device::Cpu => report.device_name.clone(),
    };
    out.push_str(&format!("ran on    {device} — {}\n", report.requested_reason));
    if let Some(f) = &report.fallback {
        out.push_str(&format!("          fallback: {f}\n"));
    }
    if report.operations.is_empty() && report.skipped.is_empty() && report.failed.is_empty() {
        out.push_str(
            "\nnothing to run: the workload gives the seed's variables, not operations; describe what it computes ([[operations]] or --op) to run it\n",
        );
    } else if report.operations.is_empty() {
        out.push_str("\nnothing ran: every operation was skipped (see below)\n");
    } else {
        out.push_str(&operations_table(report));
    }
    if !report.skipped.is_empty() {
        out.push_str(
            "\nskipped (the run goes on without them; `fastpath kernels` lists what runs today)\n",
        );
        for s in &report.skipped {
            out.push_str(&format!("  {:>2}  {}: {}\n", s.index + 1, s.describe, s.reason));
        }
    }
    if !report.failed.is_empty() {
        out.push_str("\nfailed\n");
        for s in &report.failed {
            out.push_str(&format!("  {:>2}  {}: {}\n", s.index + 1, s.describe, s.reason));
        }
    }
    out.push('\n');
    match monitor {
        Some(m) => out.push_str(&format!(
            "monitor   checked every {} ({} check{}, {} warning{})\n",
            seconds_text(m.interval_s),
            m.checks,
            if m.checks == 1 { "" } else { "s" },
            m.warnings.len(),
            if m.warnings.len() == 1 { "" } else { "s" }
        )),
        None => out.push_str("monitor   not started (estimated at 60 s or less)\n"),
    }
    out.push_str(&format!(
        "wall time {} (gate, routing, input generation, execution)\n",
        seconds_text(wall.as_secs_f64())
    ));
    out
}
