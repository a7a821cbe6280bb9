//! `fastpath health`: probe this machine (or read a recorded probe), evaluate the health
//! gate, and optionally keep watching with the runtime monitor.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use fastpath_health::{
    GateInputs, GateVerdict, HealthReport, MessageLevel, Monitor, MonitorConfig, MonitorEvent,
    MonitorSample, MonitorWarning, NvidiaGpus, Signal, gate, load_snapshot, probe,
};
use serde::Serialize;

use crate::{CliError, GlobalOpts};

/// Probe memory pressure, thermals, power and load, and evaluate the health gate.
///
/// The gate applies the pre-flight rules every workload passes before it starts: it blocks on
/// critical memory pressure and warns on elevated pressure for a large working set, thermal
/// throttling (below 70 % speed, or below 90 % on battery), long runs on battery and an
/// overloaded CPU. Signals the platform cannot read are shown as unknown with the reason, and
/// the rules that need them are listed as not checked.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
fastpath health                                   probe this machine and show the gate\n  \
fastpath health --data-size-gb 12 --hours 1.5     judge a 12 GB, 1.5 h workload\n  \
fastpath health --json > probe.json               record a probe\n  \
fastpath health --snapshot probe.json             re-evaluate a recorded probe\n  \
fastpath health --watch 30                        keep watching, one check every 30 s\n\n\
Exit status: 0 pass or warn, 2 bad input (unreadable snapshot, bad numbers), 3 the gate blocks.")]
pub struct Args {
    /// Print JSON only, on stdout: {"inputs", "report", "gate"}. The "report" object is the
    /// snapshot format. With --watch, one JSON object per line: the first probe, then one
    /// {"event": "sample"|"warning", ...} per check and warning.
    #[arg(long)]
    pub json: bool,

    /// Evaluate a recorded probe instead of this machine: a file written by
    /// `fastpath health --json` (or just its "report" object). Makes gate decisions
    /// reproducible on any machine.
    #[arg(long, value_name = "FILE", conflicts_with = "watch")]
    pub snapshot: Option<PathBuf>,

    /// After the first probe, keep watching: re-probe every SECONDS (the runtime monitor
    /// checks every 30 s for runs under 10 minutes, every 120 s for longer ones) and report
    /// throttling below 60 % and 40 %, memory pressure rising to warn or critical, and the
    /// watched process above 70 % of RAM. Runs until interrupted (Ctrl-C) or --count checks.
    #[arg(long, value_name = "SECONDS")]
    pub watch: Option<u64>,

    /// With --watch: stop after N checks.
    #[arg(long, value_name = "N", requires = "watch")]
    pub count: Option<u64>,

    /// With --watch: the process whose memory is checked against the 70 % of RAM limit
    /// (for example a running training job). Default: fastpath itself.
    #[arg(long, value_name = "PID", requires = "watch")]
    pub pid: Option<u32>,

    /// The workload's working set in GB (data_size_gb). When memory pressure is already at
    /// "warn", the gate warns if this exceeds half of the available memory
    /// (available % × RAM × 0.5). Default 0: no workload, so that rule never fires.
    #[arg(long, value_name = "GB", default_value_t = 0.0)]
    pub data_size_gb: f64,

    /// The workload's estimated run time on this machine, in hours (local_time_hours). On
    /// battery, runs longer than 0.5 h warn; any run longer than 0.5 h gets the AC and
    /// ventilation advice up front. Default: no estimate, so the battery run-time rule is
    /// listed as not checked.
    #[arg(long, value_name = "HOURS")]
    pub hours: Option<f64>,

    /// RAM in GB to judge the working set against (machine_ram_gb). Default: what the probe
    /// measured, which inside a memory-limited container is the container's limit.
    #[arg(long, value_name = "GB")]
    pub ram_gb: Option<f64>,
}

#[derive(Serialize)]
struct Output<'a> {
    inputs: &'a GateInputs,
    report: &'a HealthReport,
    gate: &'a GateVerdict,
}

pub fn run(args: &Args, _global: &GlobalOpts) -> Result<ExitCode, CliError> {
    let inputs = gate_inputs(args)?;
    let (report, origin) = match &args.snapshot {
        Some(path) => (
            load_snapshot(path).map_err(CliError::bad_input)?,
            format!("snapshot {}", path.display()),
        ),
        None => (probe(), "this machine".to_string()),
    };
    let verdict = gate(&report, &inputs);

    let mut stdout = std::io::stdout().lock();
    let written = if args.json {
        let output = Output { inputs: &inputs, report: &report, gate: &verdict };
        let text = if args.watch.is_some() {
            serde_json::to_string(&output)
        } else {
            serde_json::to_string_pretty(&output)
        };
        writeln!(
            stdout,
            "{}",
            text.map_err(|err| CliError::failure(format!("cannot encode JSON: {err}")))?
        )
    } else {
        write!(stdout, "{}", render_report(&report, &origin))
            .and_then(|_| write!(stdout, "{}", render_verdict(&verdict)))
    };
    written
        .and_then(|_| stdout.flush())
        .map_err(|err| CliError::failure(format!("cannot write output: {err}")))?;
    drop(stdout);

    if let Some(seconds) = args.watch {
        watch(args, seconds, report)?;
    }
    match verdict.messages_at(MessageLevel::Block).next() {
        Some(block) => Err(CliError::blocked(format!("health gate blocked: {}", block.text))),
        None => Ok(ExitCode::SUCCESS),
    }
}

fn gate_inputs(args: &Args) -> Result<GateInputs, CliError> {
    let check = |name: &str, value: f64, allow_zero: bool| {
        let ok = value.is_finite() && (value > 0.0 || (allow_zero && value == 0.0));
        if ok {
            Ok(value)
        } else {
            let expected = if allow_zero { "a number ≥ 0" } else { "a number > 0" };
            Err(CliError::bad_input(format!("--{name} must be {expected}, got {value}")))
        }
    };
    if args.watch == Some(0) {
        return Err(CliError::bad_input("--watch must be at least 1 second"));
    }
    if args.count == Some(0) {
        return Err(CliError::bad_input("--count must be at least 1"));
    }
    Ok(GateInputs {
        data_size_gb: check("data-size-gb", args.data_size_gb, true)?,
        machine_ram_gb: args.ram_gb.map(|gb| check("ram-gb", gb, false)).transpose()?,
        local_time_hours: args.hours.map(|h| check("hours", h, true)).transpose()?,
    })
}

/// Runs the monitor on this thread's behalf: its callback forwards events here, so printing
/// and the --count limit happen in one place.
fn watch(args: &Args, seconds: u64, baseline: HealthReport) -> Result<(), CliError> {
    enum Event {
        Warning(MonitorWarning),
        Sample(Duration, Box<MonitorSample>),
    }
    let mut config = MonitorConfig::every(Duration::from_secs(seconds)).with_baseline(baseline);
    config.watched_pid = args.pid;
    config.machine_ram_gb = args.ram_gb;
    config.log_warnings = false; // printed below instead
    let (sender, receiver) = mpsc::channel();
    let handle = Monitor::spawn(config, move |event: &MonitorEvent<'_>| {
        let event = match event {
            MonitorEvent::Sample { elapsed, sample } => {
                Event::Sample(*elapsed, Box::new((*sample).clone()))
            }
            MonitorEvent::Warning(warning) => Event::Warning((*warning).clone()),
        };
        let _ = sender.send(event);
    })
    .map_err(|err| CliError::failure(format!("cannot start the health monitor: {err}")))?;

    if !args.json {
        let until = match args.count {
            Some(1) => ", 1 check".to_string(),
            Some(n) => format!(", {n} checks"),
            None => " (Ctrl-C to stop)".to_string(),
        };
        writeln!(std::io::stdout(), "\nwatching: one check every {seconds} s{until}")
            .map_err(|err| CliError::failure(format!("cannot write output: {err}")))?;
    }
    let mut samples = 0u64;
    let mut pending_warnings: Vec<MonitorWarning> = Vec::new();
    for event in receiver.iter() {
        // A check's warnings arrive before its sample; print the sample line first.
        let (elapsed, sample) = match event {
            Event::Warning(warning) => {
                pending_warnings.push(warning);
                continue;
            }
            Event::Sample(elapsed, sample) => (elapsed, sample),
        };
        samples += 1;
        let mut lines = vec![if args.json {
            serde_json::json!({
                "event": "sample",
                "elapsed_s": elapsed.as_secs_f64(),
                "report": sample.report,
                "process_rss_bytes": sample.process_rss_bytes,
            })
            .to_string()
        } else {
            render_sample(elapsed, &sample)
        }];
        for warning in pending_warnings.drain(..) {
            lines.push(if args.json {
                let mut value = serde_json::to_value(&warning).unwrap_or_default();
                value["event"] = "warning".into();
                value.to_string()
            } else {
                let mut text = format!(
                    "[+{:.0}s] WARNING {}: {}",
                    warning.elapsed_s, warning.rule, warning.text
                );
                for advice in &warning.guidance {
                    text.push_str(&format!("\n    - {advice}"));
                }
                text
            });
        }
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{}", lines.join("\n"))
            .and_then(|_| stdout.flush())
            .map_err(|err| CliError::failure(format!("cannot write output: {err}")))?;
        if args.count.is_some_and(|n| samples >= n) {
            break;
        }
    }
    let summary = handle.stop();
    if let Some(failure) = summary.failure {
        return Err(CliError::failure(format!("the health monitor stopped: {failure}")));
    }
    Ok(())
}

fn render_sample(elapsed: Duration, sample: &MonitorSample) -> String {
    let report = &sample.report;
    let speed = match report.cpu_speed_limit.get() {
        Some(limit) => limit.percent_text(),
        None => "unknown".to_string(),
    };
    format!(
        "[+{:.0}s] memory {} (available {}), CPU speed {speed}, power {}, load {}, watched process {}",
        elapsed.as_secs_f64(),
        report.mem_pressure.get().map_or("unknown", |p| p.as_str()),
        report.mem_available_pct.get().map_or("unknown".to_string(), |p| format!("{p:.1} %")),
        report.power_source.get().map_or("unknown", |p| p.as_str()),
        report.load_avg_1min.get().map_or("unknown".to_string(), |l| format!("{l:.2}")),
        sample.process_rss_bytes.get().map_or("unknown".to_string(), format_bytes),
    )
}

fn format_bytes(bytes: u64) -> String {
    const GB: f64 = 1024.0 * 1024.0 * 1024.0;
    let bytes = bytes as f64;
    if bytes >= GB {
        format!("{:.1} GB", bytes / GB)
    } else {
        format!("{:.0} MB", bytes / (1024.0 * 1024.0))
    }
}

/// One row: label, value (or "unknown"), and where it came from (or why it is unknown).
fn row<T>(out: &mut String, label: &str, signal: &Signal<T>, show: impl Fn(&T) -> String) {
    let (value, detail) = match signal.reading() {
        Ok(value) => (show(value), signal.source().to_string()),
        Err(reason) => ("unknown".to_string(), format!("{reason} [{}]", signal.source())),
    };
    let line = format!("  {label:<18} {value:<14} {detail}");
    out.push_str(line.trim_end());
    out.push('\n');
}

fn render_report(report: &HealthReport, origin: &str) -> String {
    let mut out = format!(
        "fastpath health: {origin} ({}",
        if report.platform.is_empty() { "unknown platform" } else { &report.platform }
    );
    if let Some(ms) = report.probe_ms {
        out.push_str(&format!(", probed in {ms:.1} ms"));
    }
    out.push_str(")\n\n");
    row(&mut out, "memory pressure", &report.mem_pressure, |p| p.as_str().to_string());
    row(&mut out, "memory available", &report.mem_available_pct, |p| format!("{p:.1} %"));
    row(&mut out, "RAM", &report.machine_ram_gb, |gb| format!("{gb:.1} GB"));
    row(&mut out, "CPU speed limit", &report.cpu_speed_limit, |limit| match limit.basis() {
        Some(basis) => {
            format!("{} ({})", limit.percent_text(), basis.trim_start_matches("thermal level "))
        }
        None => limit.percent_text(),
    });
    row(&mut out, "power source", &report.power_source, |p| p.as_str().to_string());
    row(&mut out, "load (1 min)", &report.load_avg_1min, |l| format!("{l:.2}"));
    row(&mut out, "cores", &report.num_cores, |c| c.to_string());
    if let Some(saturation) = report.cpu_saturation() {
        out.push_str(&format!(
            "  {:<18} {:<14} load / cores\n",
            "CPU saturation",
            format!("{saturation:.2}")
        ));
    }
    match report.top_processes.reading() {
        Ok(processes) => {
            let list: Vec<String> = processes
                .iter()
                .map(|p| format!("{} {}", p.name, format_bytes(p.rss_bytes)))
                .collect();
            out.push_str(&format!(
                "  {:<18} {}\n",
                "top memory",
                if list.is_empty() { "none listed".to_string() } else { list.join(", ") }
            ));
        }
        Err(reason) => {
            out.push_str(&format!("  {:<18} {:<14} {reason}\n", "top memory", "unknown"))
        }
    }
    match &report.nvidia {
        NvidiaGpus::NotPresent { reason } => {
            out.push_str(&format!("  {:<18} {:<14} {reason}\n", "NVIDIA GPUs", "not present"))
        }
        NvidiaGpus::Unknown { reason, source } => out
            .push_str(&format!("  {:<18} {:<14} {reason} [{source}]\n", "NVIDIA GPUs", "unknown")),
        NvidiaGpus::Present { source, devices } => {
            out.push_str(&format!("  {:<18} {:<14} {source}\n", "NVIDIA GPUs", devices.len()));
            for gpu in devices {
                let mut parts = vec![gpu.name.clone()];
                if let Some(t) = gpu.temperature_c {
                    parts.push(format!("{t:.0} °C"));
                }
                if let (Some(used), Some(total)) = (gpu.memory_used_mib, gpu.memory_total_mib) {
                    parts.push(format!("{used}/{total} MiB"));
                }
                if let Some(u) = gpu.utilization_pct {
                    parts.push(format!("{u} % busy"));
                }
                if let (Some(now), Some(max)) = (gpu.sm_clock_mhz, gpu.sm_clock_max_mhz) {
                    parts.push(format!("SM {now}/{max} MHz"));
                }
                if let (Some(draw), Some(limit)) = (gpu.power_draw_w, gpu.power_limit_w) {
                    parts.push(format!("{draw:.0}/{limit:.0} W"));
                }
                if let Some(reasons) = &gpu.clock_event_reasons {
                    let active = if reasons.active.is_empty() {
                        "none".to_string()
                    } else {
                        reasons.active.join(" ")
                    };
                    parts.push(format!("clock events: {active}"));
                }
                out.push_str(&format!(
                    "  {:<18} {}\n",
                    format!("  GPU {}", gpu.index),
                    parts.join(", ")
                ));
            }
        }
    }
    out
}

fn render_verdict(verdict: &GateVerdict) -> String {
    let warnings = verdict.messages_at(MessageLevel::Warn).count();
    let mut out = format!("\ngate: {}", verdict.decision.as_str().to_uppercase());
    if warnings > 0 {
        out.push_str(&format!(" ({warnings} warning{})", if warnings == 1 { "" } else { "s" }));
    }
    out.push('\n');
    for message in &verdict.messages {
        let level = match message.level {
            MessageLevel::Block => "BLOCK",
            MessageLevel::Warn => "WARN",
            MessageLevel::Info => "info",
        };
        out.push_str(&format!("  {level:<5} {}: {}\n", message.rule, message.text));
    }
    if !verdict.guidance.is_empty() {
        out.push_str("\ncooling and placement:\n");
        for (i, advice) in verdict.guidance.iter().enumerate() {
            out.push_str(&format!("  {}. {advice}\n", i + 1));
        }
    }
    out
}
