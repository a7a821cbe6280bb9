//! macOS readers. Each signal comes from one short command run directly (no shell) or one
//! syscall; the commands run concurrently, so the probe takes about as long as the slowest.
//!
//! Turning the command outputs into a report ([`assemble`]) is pure, so the whole macOS path
//! except process spawning is tested on Linux with recorded outputs.
//!
//! Deviations from the seed's commands (see docs/health.md):
//! - `memory_pressure | head -1` prints the RAM size, not the level: the level comes from
//!   `kern.memorystatus_vm_pressure_level` (1/2/4), read by name because `sysctl -a` hides it.
//! - `CPU_Speed_Limit` exists only on Intel Macs after a throttle event; Apple Silicon gets the
//!   thermal pressure level from `notifyutil -g com.apple.system.thermalpressurelevel`.
//! - `vm.loadavg` is read with `getloadavg(3)` (sysctl prints it in the user's locale).
//! - `vm_stat` is not run: no gate or monitor rule uses the page breakdown.

use std::time::{Duration, Instant};

use crate::command::{CommandOutput, command_line, run_command};
use crate::parse::macos as parse;
use crate::parse::parse_u64;
use crate::probe::{ProbeOptions, available_cores, spawn_reader};
use crate::report::{
    BYTES_PER_GB, HealthReport, MacosDetails, NvidiaGpus, ProcessMemory, SpeedLimit,
    TOP_PROCESS_COUNT,
};
use crate::signal::Signal;

const SYSCTL: (&str, &[&str]) =
    ("sysctl", &["kern.memorystatus_vm_pressure_level", "kern.memorystatus_level", "hw.memsize"]);
const MEMORY_PRESSURE_QUIET: (&str, &[&str]) = ("memory_pressure", &["-Q"]);
const PMSET_THERM: (&str, &[&str]) = ("pmset", &["-g", "therm"]);
const THERMAL_PRESSURE: (&str, &[&str]) =
    ("notifyutil", &["-g", "com.apple.system.thermalpressurelevel"]);
const PMSET_PS: (&str, &[&str]) = ("pmset", &["-g", "ps"]);
const PS_RSS: (&str, &[&str]) = ("ps", &["-A", "-o", "pid=,rss=,comm="]);
const SYSCTL_LOADAVG: (&str, &[&str]) = ("sysctl", &["-n", "vm.loadavg"]);

/// What a command printed, reduced to what the parsers and reasons need.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Captured {
    pub stdout: String,
    pub stderr_line: Option<String>,
}

impl Captured {
    #[cfg(test)]
    pub fn stdout(text: &str) -> Result<Self, String> {
        Ok(Self { stdout: text.to_string(), stderr_line: None })
    }
}

/// A command that printed nothing and failed is a reason; anything else goes to the parser.
fn capture(result: Result<CommandOutput, String>, display: &str) -> Result<Captured, String> {
    let output = result?;
    if output.stdout.trim().is_empty() && !output.status.success() {
        return Err(match output.stderr_line() {
            Some(line) => format!("`{display}` failed: {line}"),
            None => format!("`{display}` failed with {}", output.status),
        });
    }
    Ok(Captured {
        stdout: output.stdout.clone(),
        stderr_line: output.stderr_line().map(str::to_string),
    })
}

fn run((program, args): (&str, &[&str]), deadline: Instant) -> Result<Captured, String> {
    let timeout = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
    capture(run_command(program, args, timeout), &command_line(program, args))
}

/// Every command output the report is built from.
pub(crate) struct MacOutputs {
    pub sysctl: Result<Captured, String>,
    /// Only run when `kern.memorystatus_level` is missing.
    pub memory_pressure_quiet: Option<Result<Captured, String>>,
    pub pmset_therm: Result<Captured, String>,
    pub thermal_pressure: Result<Captured, String>,
    pub pmset_ps: Result<Captured, String>,
    pub ps: Option<Result<Captured, String>>,
    pub load_avg_1min: Signal<f64>,
}

pub(crate) fn probe(options: &ProbeOptions, deadline: Instant) -> HealthReport {
    let sysctl = spawn_reader("sysctl", move || run(SYSCTL, deadline));
    let therm = spawn_reader("pmset-therm", move || run(PMSET_THERM, deadline));
    let thermal = spawn_reader("thermal-pressure", move || run(THERMAL_PRESSURE, deadline));
    let power = spawn_reader("pmset-ps", move || run(PMSET_PS, deadline));
    let ps = options.top_processes.then(|| spawn_reader("ps", move || run(PS_RSS, deadline)));
    let load_avg_1min = read_load_average(deadline);
    let limit = options.time_limit;

    let sysctl = sysctl.wait(deadline, limit).and_then(|r| r);
    let has_level = sysctl.as_ref().is_ok_and(|c| {
        parse::parse_sysctl_lines(&c.stdout).contains_key("kern.memorystatus_level")
    });
    let memory_pressure_quiet = (!has_level).then(|| run(MEMORY_PRESSURE_QUIET, deadline));
    let outputs = MacOutputs {
        sysctl,
        memory_pressure_quiet,
        pmset_therm: therm.wait(deadline, limit).and_then(|r| r),
        thermal_pressure: thermal.wait(deadline, limit).and_then(|r| r),
        pmset_ps: power.wait(deadline, limit).and_then(|r| r),
        ps: ps.map(|pending| pending.wait(deadline, limit).and_then(|r| r)),
        load_avg_1min,
    };
    assemble(outputs)
}

/// `getloadavg(3)`: the kernel's numbers, free of locale formatting.
#[cfg(any(target_os = "macos", all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn getloadavg() -> Option<[f64; 3]> {
    let mut loads = [0.0f64; 3];
    // SAFETY: the buffer holds the 3 doubles requested; getloadavg writes at most nelem.
    let filled = unsafe { libc::getloadavg(loads.as_mut_ptr(), 3) };
    (filled == 3).then_some(loads)
}

#[cfg(not(any(target_os = "macos", all(target_os = "linux", target_env = "gnu"))))]
pub(crate) fn getloadavg() -> Option<[f64; 3]> {
    None
}

fn read_load_average(deadline: Instant) -> Signal<f64> {
    if let Some(loads) = getloadavg() {
        return Signal::known(loads[0], "getloadavg(3)");
    }
    let source = command_line(SYSCTL_LOADAVG.0, SYSCTL_LOADAVG.1);
    let loads = run(SYSCTL_LOADAVG, deadline).and_then(|c| parse::parse_sysctl_loadavg(&c.stdout));
    Signal::from_result(loads.map(|l| l[0]), source)
}

/// Builds the report from command outputs. Pure: no I/O besides the core count.
pub(crate) fn assemble(outputs: MacOutputs) -> HealthReport {
    let mut report = HealthReport::all_unknown("not probed", "macos");
    report.platform = "macos".to_string();

    let sysctl_source = |name: &str| format!("sysctl {name}");
    let value = |name: &str| -> Result<String, String> {
        let captured = outputs.sysctl.as_ref().map_err(Clone::clone)?;
        let values = parse::parse_sysctl_lines(&captured.stdout);
        values.get(name).cloned().ok_or_else(|| match &captured.stderr_line {
            Some(line) if line.contains(name) => line.clone(),
            _ => format!("sysctl printed no {name}"),
        })
    };

    let level = value("kern.memorystatus_vm_pressure_level")
        .and_then(|v| parse::parse_vm_pressure_level(&v));
    let level_source = sysctl_source("kern.memorystatus_vm_pressure_level");
    report.mem_pressure =
        Signal::from_result(level.clone().map(|(_, pressure)| pressure), &level_source);
    let vm_pressure_level = Signal::from_result(level.map(|(raw, _)| raw), &level_source);

    report.mem_available_pct = match value("kern.memorystatus_level")
        .and_then(|v| parse::parse_percentage(&v))
    {
        Ok(pct) => Signal::known(pct, sysctl_source("kern.memorystatus_level")),
        Err(sysctl_reason) => {
            let source = command_line(MEMORY_PRESSURE_QUIET.0, MEMORY_PRESSURE_QUIET.1);
            match &outputs.memory_pressure_quiet {
                Some(Ok(captured)) => match parse::parse_memory_pressure_free_pct(&captured.stdout)
                {
                    Ok(pct) => Signal::known(
                        pct,
                        format!("{source} (kern.memorystatus_level: {sysctl_reason})"),
                    ),
                    Err(reason) => Signal::unknown(format!("{sysctl_reason}; {reason}"), source),
                },
                Some(Err(reason)) => Signal::unknown(format!("{sysctl_reason}; {reason}"), source),
                None => Signal::unknown(sysctl_reason, sysctl_source("kern.memorystatus_level")),
            }
        }
    };

    report.machine_ram_gb = Signal::from_result(
        value("hw.memsize")
            .and_then(|v| parse::parse_memsize(&v))
            .map(|bytes| bytes as f64 / BYTES_PER_GB),
        sysctl_source("hw.memsize"),
    );

    let therm_source = command_line(PMSET_THERM.0, PMSET_THERM.1);
    let pmset_limit = outputs
        .pmset_therm
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|c| parse::parse_pmset_therm(&c.stdout));
    let pmset_cpu_speed_limit = match &pmset_limit {
        Ok(Some(limit)) => Signal::known(*limit, &therm_source),
        Ok(None) => Signal::unknown(
            "no CPU_Speed_Limit (Apple Silicon, or no throttle event recorded)",
            &therm_source,
        ),
        Err(reason) => Signal::unknown(reason.clone(), &therm_source),
    };
    let thermal_source = command_line(THERMAL_PRESSURE.0, THERMAL_PRESSURE.1);
    let thermal_pressure = Signal::from_result(
        outputs
            .thermal_pressure
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|c| parse::parse_thermal_pressure(&c.stdout)),
        &thermal_source,
    );
    report.cpu_speed_limit = speed_limit(&pmset_cpu_speed_limit, &thermal_pressure);

    report.power_source = Signal::from_result(
        outputs
            .pmset_ps
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|c| parse::parse_pmset_ps(&c.stdout)),
        command_line(PMSET_PS.0, PMSET_PS.1),
    );
    report.load_avg_1min = outputs.load_avg_1min;
    report.num_cores = available_cores();

    let ps_source = command_line(PS_RSS.0, PS_RSS.1);
    report.top_processes = match outputs.ps {
        Some(result) => Signal::from_result(
            result.and_then(|c| parse::parse_ps_rss(&c.stdout)).map(largest),
            ps_source,
        ),
        None => Signal::unknown("not requested", ps_source),
    };
    report.nvidia =
        NvidiaGpus::NotPresent { reason: "NVIDIA GPUs are not supported on macOS".to_string() };
    report.macos =
        Some(MacosDetails { vm_pressure_level, thermal_pressure, pmset_cpu_speed_limit });
    report
}

/// The seed's `cpu_speed_limit`: `CPU_Speed_Limit` where the Mac prints one, else the thermal
/// pressure level. When both exist the more severe wins: either can lag the other.
fn speed_limit(
    pmset: &Signal<u32>,
    thermal: &Signal<crate::report::ThermalLevel>,
) -> Signal<SpeedLimit> {
    let from_pmset = pmset.get().map(|limit| SpeedLimit::Percent(f64::from(limit)));
    let from_thermal = thermal.get().map(SpeedLimit::Level);
    let lowest = |limit: SpeedLimit| match limit {
        SpeedLimit::Percent(pct) => pct,
        SpeedLimit::Level(level) => level.speed_range_pct().0,
    };
    match (from_pmset, from_thermal) {
        (Some(percent), Some(level)) if lowest(level) < lowest(percent) => Signal::known(
            level,
            format!(
                "{} (more severe than {} = {:.0})",
                thermal.source(),
                pmset.source(),
                lowest(percent)
            ),
        ),
        (Some(percent), _) => Signal::known(percent, format!("{} CPU_Speed_Limit", pmset.source())),
        (None, Some(level)) => {
            Signal::known(level, format!("{} (thermal pressure level)", thermal.source()))
        }
        (None, None) => Signal::unknown(
            format!(
                "{}; {}",
                pmset.unknown_reason().unwrap_or_default(),
                thermal.unknown_reason().unwrap_or_default()
            ),
            format!("{}, {}", pmset.source(), thermal.source()),
        ),
    }
}

fn largest(mut processes: Vec<ProcessMemory>) -> Vec<ProcessMemory> {
    processes.sort_by(|a, b| b.rss_bytes.cmp(&a.rss_bytes).then(a.pid.cmp(&b.pid)));
    processes.truncate(TOP_PROCESS_COUNT);
    processes
}

/// `ps -o rss= -p PID` → bytes. RSS leaves out compressed memory (Activity Monitor's
/// "Memory" is `phys_footprint`); documented in docs/health.md.
pub(crate) fn process_rss_bytes(pid: u32, timeout: Duration) -> Signal<u64> {
    let pid_text = pid.to_string();
    let args = ["-o", "rss=", "-p", pid_text.as_str()];
    let display = command_line("ps", &args);
    let result = capture(run_command("ps", &args, timeout), &display)
        .and_then(|c| parse_u64(&c.stdout))
        .map(|kib| kib * 1024);
    Signal::from_result(result, display)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{MemPressure, PowerSource, ThermalLevel};

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/macos/", $name))
        };
    }

    fn apple_silicon_on_battery() -> MacOutputs {
        MacOutputs {
            sysctl: Captured::stdout(fixture!("sysctl_memory_warn.txt")),
            memory_pressure_quiet: None,
            pmset_therm: Captured::stdout(fixture!("pmset_therm_apple_silicon.txt")),
            thermal_pressure: Captured::stdout(fixture!("notifyutil_thermal_heavy.txt")),
            pmset_ps: Captured::stdout(fixture!("pmset_ps_battery.txt")),
            ps: Some(Captured::stdout(fixture!("ps_rss_comm.txt"))),
            load_avg_1min: Signal::known(2.34, "getloadavg(3)"),
        }
    }

    #[test]
    fn apple_silicon_report_from_recorded_outputs() {
        let report = assemble(apple_silicon_on_battery());
        assert_eq!(report.platform, "macos");
        assert_eq!(report.mem_pressure.get(), Some(MemPressure::Warn));
        assert_eq!(report.mem_available_pct.get(), Some(40.0));
        assert_eq!(report.machine_ram_gb.get(), Some(16.0));
        assert_eq!(report.cpu_speed_limit.get(), Some(SpeedLimit::Level(ThermalLevel::Heavy)));
        assert!(report.cpu_speed_limit.source().starts_with("notifyutil"));
        assert_eq!(report.power_source.get(), Some(PowerSource::Battery));
        let top = report.top_processes.value().unwrap();
        assert_eq!(top.len(), TOP_PROCESS_COUNT);
        assert_eq!(top[0].name, "python3.12");
        assert_eq!(top[1].name, "MSTeams");
        let details = report.macos.unwrap();
        assert_eq!(details.vm_pressure_level.get(), Some(2));
        assert!(details.pmset_cpu_speed_limit.unknown_reason().unwrap().contains("Apple Silicon"));
    }

    #[test]
    fn intel_mac_uses_cpu_speed_limit() {
        let outputs = MacOutputs {
            pmset_therm: Captured::stdout(fixture!("pmset_therm_intel_throttled.txt")),
            thermal_pressure: Captured::stdout(fixture!("notifyutil_thermal_nominal.txt")),
            ..apple_silicon_on_battery()
        };
        let report = assemble(outputs);
        assert_eq!(report.cpu_speed_limit.get(), Some(SpeedLimit::Percent(35.0)));
        assert_eq!(report.cpu_speed_limit.source(), "pmset -g therm CPU_Speed_Limit");
    }

    #[test]
    fn the_more_severe_of_two_thermal_readings_wins() {
        let outputs = MacOutputs {
            pmset_therm: Captured::stdout("x CPU_Speed_Limit = 100"),
            thermal_pressure: Captured::stdout("com.apple.system.thermalpressurelevel 3"),
            ..apple_silicon_on_battery()
        };
        let report = assemble(outputs);
        assert_eq!(report.cpu_speed_limit.get(), Some(SpeedLimit::Level(ThermalLevel::Trapping)));
    }

    #[test]
    fn missing_memorystatus_level_falls_back_to_memory_pressure_quiet() {
        let outputs = MacOutputs {
            sysctl: Ok(Captured {
                stdout: fixture!("sysctl_memory_no_level.txt").to_string(),
                stderr_line: Some("sysctl: unknown oid 'kern.memorystatus_level'".to_string()),
            }),
            memory_pressure_quiet: Some(Captured::stdout(fixture!("memory_pressure_Q.txt"))),
            ..apple_silicon_on_battery()
        };
        let report = assemble(outputs);
        assert_eq!(report.mem_available_pct.get(), Some(40.0));
        assert!(report.mem_available_pct.source().contains("unknown oid"));
        assert_eq!(report.mem_pressure.get(), Some(MemPressure::Normal));
        assert_eq!(report.machine_ram_gb.get(), Some(32.0));
    }

    #[test]
    fn failed_and_timed_out_commands_become_reasons() {
        let outputs = MacOutputs {
            sysctl: Err("`sysctl …` did not finish within 2 s".to_string()),
            memory_pressure_quiet: Some(Err(
                "`memory_pressure` is not installed or not on PATH".to_string()
            )),
            pmset_therm: Err("`pmset` is not installed or not on PATH".to_string()),
            thermal_pressure: Captured::stdout("garbage"),
            pmset_ps: Captured::stdout(""),
            ps: Some(Captured::stdout("ps: illegal option")),
            load_avg_1min: Signal::unknown("x", "y"),
        };
        let report = assemble(outputs);
        assert!(report.mem_pressure.unknown_reason().unwrap().contains("did not finish"));
        assert!(report.mem_available_pct.unknown_reason().unwrap().contains("not installed"));
        assert!(report.machine_ram_gb.unknown_reason().is_some());
        let speed = report.cpu_speed_limit.unknown_reason().unwrap();
        assert!(speed.contains("pmset") && speed.contains("garbage"), "{speed}");
        assert!(report.power_source.unknown_reason().is_some());
        assert!(report.top_processes.unknown_reason().is_some());
    }

    #[test]
    fn getloadavg_agrees_with_proc_loadavg_where_both_exist() {
        if let Some(loads) = getloadavg() {
            assert!(loads.iter().all(|l| l.is_finite() && *l >= 0.0), "{loads:?}");
            if let Ok(text) = std::fs::read_to_string("/proc/loadavg") {
                let proc_loads = crate::parse::linux::parse_loadavg(&text).unwrap();
                // Both read the same kernel counters; allow for an update between the reads.
                assert!((loads[2] - proc_loads[2]).abs() < 1.0, "{loads:?} vs {proc_loads:?}");
            }
        }
    }
}
