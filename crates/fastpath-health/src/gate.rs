//! The pre-flight gate: the seed's `HEALTH_CHECK` rules evaluated on a [`HealthReport`].
//!
//! Every rule is evaluated; all warnings that apply are reported, and any block makes the
//! decision `Block`. A rule whose inputs are unknown is not guessed: it produces an `info`
//! message saying what could not be checked and why. Unknown inputs combine like SQL's
//! three-valued logic, so "battery AND slow" is false on AC even when the speed is unknown.

use serde::{Deserialize, Serialize};

use crate::guidance::{LONG_RUN_HOURS, cooling_guidance, long_run_advice};
use crate::parse::nvidia::slowdown_reasons;
use crate::report::{HealthReport, MemPressure};
use crate::signal::Signal;

/// Rule ids, stable for scripts and tests.
pub mod rule {
    pub const MEMORY_CRITICAL: &str = "memory-critical";
    pub const MEMORY_PRESSURE: &str = "memory-pressure";
    pub const THERMAL_THROTTLE: &str = "thermal-throttle";
    pub const BATTERY_THROTTLE: &str = "battery-throttle";
    pub const BATTERY_LONG_RUN: &str = "battery-long-run";
    pub const CPU_OVERLOADED: &str = "cpu-overloaded";
    pub const GPU_THERMAL_THROTTLE: &str = "gpu-thermal-throttle";
    pub const LONG_RUN_ADVICE: &str = "long-run-advice";
}

/// Seed thresholds.
pub const SPEED_LIMIT_WARN: f64 = 70.0;
pub const SPEED_LIMIT_BATTERY_WARN: f64 = 90.0;
pub const BATTERY_HOURS_WARN: f64 = 0.5;
pub const CPU_SATURATION_WARN: f64 = 1.0;
pub const MEMORY_HEADROOM_FRACTION: f64 = 0.5;

/// What the gate needs besides the probe.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GateInputs {
    /// Seed `data_size_gb`: the workload's working set in GB.
    pub data_size_gb: f64,
    /// Seed `machine_ram_gb`; `None` takes the RAM the probe measured.
    pub machine_ram_gb: Option<f64>,
    /// Seed `local_time_hours`: the estimated local run time; `None` when not estimated.
    pub local_time_hours: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateDecision {
    Pass,
    Warn,
    Block,
}

impl GateDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::Block => "block",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageLevel {
    /// Not a problem: advice, or a rule that could not be checked.
    Info,
    Warn,
    Block,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateMessage {
    /// One of [`rule`].
    pub rule: String,
    pub level: MessageLevel,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateVerdict {
    pub decision: GateDecision,
    /// Blocks first, then warnings, then info, each in the seed's rule order.
    pub messages: Vec<GateMessage>,
    /// The seed's cooling and placement guidance when a thermal rule fired; empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guidance: Vec<String>,
}

impl GateVerdict {
    pub fn blocked(&self) -> bool {
        self.decision == GateDecision::Block
    }

    /// Messages at `level`.
    pub fn messages_at(&self, level: MessageLevel) -> impl Iterator<Item = &GateMessage> {
        self.messages.iter().filter(move |m| m.level == level)
    }
}

/// A rule's operand: known, or unknown with the reason.
type Operand<T> = Result<T, String>;

fn operand<T: Copy>(name: &str, signal: &Signal<T>) -> Operand<T> {
    signal.get().ok_or_else(|| {
        format!("{name} unknown: {}", signal.unknown_reason().unwrap_or("no reading"))
    })
}

/// Three-valued AND: false if either side is false, unknown if either is unknown, else true.
fn and(a: Operand<bool>, b: Operand<bool>) -> Operand<bool> {
    match (a, b) {
        (Ok(false), _) | (_, Ok(false)) => Ok(false),
        (Err(reason), _) | (_, Err(reason)) => Err(reason),
        (Ok(true), Ok(true)) => Ok(true),
    }
}

struct Collector {
    messages: Vec<GateMessage>,
    unchecked: Vec<(Vec<&'static str>, String)>,
}

impl Collector {
    fn push(&mut self, rule: &str, level: MessageLevel, text: String) {
        self.messages.push(GateMessage { rule: rule.to_string(), level, text });
    }

    /// Records a rule that fired (`Ok(true)` → `text()`), passed, or could not be checked.
    fn rule(
        &mut self,
        rule: &'static str,
        level: MessageLevel,
        fires: Operand<bool>,
        text: impl FnOnce() -> String,
    ) {
        match fires {
            Ok(true) => self.push(rule, level, text()),
            Ok(false) => {}
            Err(reason) => match self.unchecked.iter_mut().find(|(_, r)| *r == reason) {
                Some((rules, _)) => rules.push(rule),
                None => self.unchecked.push((vec![rule], reason)),
            },
        }
    }
}

/// The seed's messages name the largest memory consumer; when the process list is unknown
/// they say so instead of printing a placeholder.
fn critical_memory_text(report: &HealthReport) -> String {
    match report.top_process() {
        Some(top) => format!(
            "System memory is critical — {:.1} GB used by {}. Close applications or reduce working set before proceeding.",
            top.rss_gb(),
            top.name
        ),
        None => format!(
            "System memory is critical (largest memory consumer unknown: {}). Close applications or reduce working set before proceeding.",
            report.top_processes.unknown_reason().unwrap_or("no processes listed")
        ),
    }
}

fn elevated_memory_text(report: &HealthReport) -> String {
    let close = match report.top_process() {
        Some(top) => format!("{} ({:.1} GB)", top.name, top.rss_gb()),
        None => "other large applications".to_string(),
    };
    format!(
        "Memory pressure is elevated. This workload may cause swapping and degrade the entire system. Consider closing {close} first."
    )
}

/// Evaluates the seed's gate rules on `report`.
pub fn gate(report: &HealthReport, inputs: &GateInputs) -> GateVerdict {
    let mut out = Collector { messages: Vec::new(), unchecked: Vec::new() };
    let pressure = operand("memory pressure", &report.mem_pressure);
    let speed = operand("CPU speed limit", &report.cpu_speed_limit);
    let power = operand("power source", &report.power_source);
    let on_battery = power.clone().map(|p| p.is_battery_like());

    // mem_pressure = "critical" → BLOCK
    out.rule(
        rule::MEMORY_CRITICAL,
        MessageLevel::Block,
        pressure.clone().map(|p| p == MemPressure::Critical),
        || critical_memory_text(report),
    );

    // mem_pressure = "warn" AND data_size_gb > mem_available_pct/100 × machine_ram_gb × 0.5
    let ram = match inputs.machine_ram_gb {
        Some(ram) => Ok(ram),
        None => operand("machine RAM", &report.machine_ram_gb),
    };
    let available = operand("available memory", &report.mem_available_pct);
    let headroom =
        available.and_then(|pct| ram.map(|ram| pct / 100.0 * ram * MEMORY_HEADROOM_FRACTION));
    let too_big = headroom.map(|headroom| inputs.data_size_gb > headroom);
    out.rule(
        rule::MEMORY_PRESSURE,
        MessageLevel::Warn,
        and(pressure.map(|p| p == MemPressure::Warn), too_big),
        || elevated_memory_text(report),
    );

    // cpu_speed_limit < 70
    let speed_text = |limit: crate::report::SpeedLimit| {
        let basis = limit.basis().map(|b| format!(" ({b})")).unwrap_or_default();
        (limit.percent_text(), basis)
    };
    out.rule(rule::THERMAL_THROTTLE, MessageLevel::Warn, speed.clone().map(|s| s.is_below(SPEED_LIMIT_WARN)), || {
        let (pct, basis) = speed_text(*speed.as_ref().expect("fired on a known speed"));
        format!(
            "CPU is thermally throttled to {pct} speed{basis}. Performance will be significantly degraded. Move the laptop to a hard, ventilated surface — not a lap, bed, or couch. A fan pad or elevated stand will help. Wait 2-3 minutes for thermals to recover before launching heavy compute."
        )
    });

    // cpu_speed_limit < 90 AND power_source = "battery"
    out.rule(
        rule::BATTERY_THROTTLE,
        MessageLevel::Warn,
        and(speed.clone().map(|s| s.is_below(SPEED_LIMIT_BATTERY_WARN)), on_battery.clone()),
        || {
            let limit = *speed.as_ref().expect("fired on a known speed");
            // Already in parentheses: "(78%)" or "(about 70–89%, thermal level moderate)".
            let basis = limit.basis().map(|b| format!(", {b}")).unwrap_or_default();
            let pct = limit.percent_text();
            format!(
                "Running on {} with mild thermal throttle ({pct}{basis}). Plug in for sustained performance — battery mode caps power delivery.",
                power_phrase(&power)
            )
        },
    );

    // power_source = "battery" AND local_time_hours > 0.5
    let hours = inputs
        .local_time_hours
        .ok_or_else(|| "run time not estimated: pass the workload's local_time_hours".to_string());
    out.rule(
        rule::BATTERY_LONG_RUN,
        MessageLevel::Warn,
        and(on_battery, hours.clone().map(|h| h > BATTERY_HOURS_WARN)),
        || {
            let h = inputs.local_time_hours.unwrap_or_default();
            format!(
                "This workload will run {h:.1}h on {}. Plug in to avoid throttling and battery drain.",
                power_phrase(&power)
            )
        },
    );

    // cpu_saturation > 1.0
    let load = operand("load average", &report.load_avg_1min);
    let cores = operand("core count", &report.num_cores)
        .and_then(|c| if c == 0 { Err("core count is 0".to_string()) } else { Ok(c) });
    let saturated = load
        .clone()
        .and_then(|load| cores.clone().map(|cores| load / f64::from(cores) > CPU_SATURATION_WARN));
    out.rule(rule::CPU_OVERLOADED, MessageLevel::Warn, saturated, || {
        format!(
            "CPU is overloaded (load {:.1} across {} cores). Other processes are competing for resources. Runtime estimates may be 2-3x longer than normal.",
            load.clone().unwrap_or_default(),
            cores.clone().unwrap_or_default()
        )
    });

    // The same thermal rule for the NVIDIA GPUs a workload may run on (see docs/health.md).
    for gpu in report.nvidia.devices() {
        let Some(reasons) = &gpu.clock_event_reasons else { continue };
        let slowdowns = slowdown_reasons(reasons.bits);
        if slowdowns.is_empty() {
            continue;
        }
        let temp = gpu.temperature_c.map(|t| format!(" at {t:.0} °C")).unwrap_or_default();
        let clocks = match (gpu.sm_clock_mhz, gpu.sm_clock_max_mhz) {
            (Some(now), Some(max)) if max > 0 => format!(", SM clock {now}/{max} MHz"),
            _ => String::new(),
        };
        out.push(
            rule::GPU_THERMAL_THROTTLE,
            MessageLevel::Warn,
            format!(
                "GPU {} ({}) is slowed down: {}{temp}{clocks}. Performance will be degraded; improve cooling or wait for it to recover.",
                gpu.index,
                gpu.name,
                slowdowns.join(", ")
            ),
        );
    }

    // Seed: "For sustained compute (> 30 minutes), always recommend AC power and a
    // ventilated surface upfront".
    if let Some(h) = inputs.local_time_hours.filter(|&h| h > LONG_RUN_HOURS) {
        out.push(rule::LONG_RUN_ADVICE, MessageLevel::Info, long_run_advice(h));
    }
    for (rules, reason) in std::mem::take(&mut out.unchecked) {
        let text = format!("Not checked ({}): {reason}.", rules.join(", "));
        out.push(rules[0], MessageLevel::Info, text);
    }

    let thermal_fired = out.messages.iter().any(|m| {
        m.level == MessageLevel::Warn
            && [rule::THERMAL_THROTTLE, rule::BATTERY_THROTTLE, rule::GPU_THERMAL_THROTTLE]
                .contains(&m.rule.as_str())
    });
    // Stable sort: blocks, then warnings, then info, each keeping the seed's order.
    out.messages.sort_by_key(|m| std::cmp::Reverse(m.level));
    let decision = match out.messages.iter().map(|m| m.level).max() {
        Some(MessageLevel::Block) => GateDecision::Block,
        Some(MessageLevel::Warn) => GateDecision::Warn,
        _ => GateDecision::Pass,
    };
    let guidance = if thermal_fired {
        cooling_guidance().iter().map(|s| s.to_string()).collect()
    } else {
        Vec::new()
    };
    GateVerdict { decision, messages: out.messages, guidance }
}

fn power_phrase(power: &Operand<crate::report::PowerSource>) -> &'static str {
    match power {
        Ok(crate::report::PowerSource::Ups) => "UPS battery",
        _ => "battery",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{
        ClockEventReasons, GpuDevice, NvidiaGpus, PowerSource, ProcessMemory, SpeedLimit,
        ThermalLevel,
    };

    /// A healthy 16 GB laptop on AC; tests change one thing at a time.
    fn healthy() -> HealthReport {
        let mut report = HealthReport::all_unknown("unused", "test");
        report.mem_pressure = Signal::known(MemPressure::Normal, "test");
        report.mem_available_pct = Signal::known(60.0, "test");
        report.machine_ram_gb = Signal::known(16.0, "test");
        report.cpu_speed_limit = Signal::known(SpeedLimit::Percent(100.0), "test");
        report.power_source = Signal::known(PowerSource::Ac, "test");
        report.load_avg_1min = Signal::known(2.0, "test");
        report.num_cores = Signal::known(10, "test");
        report.top_processes = Signal::known(
            vec![
                ProcessMemory {
                    pid: Some(412),
                    name: "Google Chrome".into(),
                    rss_bytes: 5 * (1 << 30) / 2,
                },
                ProcessMemory { pid: Some(9), name: "Xcode".into(), rss_bytes: 1 << 30 },
            ],
            "test",
        );
        report.nvidia = NvidiaGpus::NotPresent { reason: "test".into() };
        report
    }

    fn inputs(data_size_gb: f64, hours: Option<f64>) -> GateInputs {
        GateInputs { data_size_gb, machine_ram_gb: None, local_time_hours: hours }
    }

    fn rules(verdict: &GateVerdict, level: MessageLevel) -> Vec<&str> {
        verdict.messages_at(level).map(|m| m.rule.as_str()).collect()
    }

    #[test]
    fn healthy_machine_passes_silently() {
        let verdict = gate(&healthy(), &inputs(1.0, Some(0.2)));
        assert_eq!(verdict.decision, GateDecision::Pass);
        assert!(verdict.messages.is_empty(), "{:?}", verdict.messages);
        assert!(verdict.guidance.is_empty());
    }

    #[test]
    fn critical_memory_blocks_naming_the_top_process() {
        let mut report = healthy();
        report.mem_pressure = Signal::known(MemPressure::Critical, "test");
        let verdict = gate(&report, &inputs(0.0, None));
        assert_eq!(verdict.decision, GateDecision::Block);
        assert!(verdict.blocked());
        assert_eq!(
            verdict.messages[0].text,
            "System memory is critical — 2.5 GB used by Google Chrome. Close applications or reduce working set before proceeding."
        );
    }

    #[test]
    fn warn_pressure_warns_only_when_the_data_exceeds_half_the_available_memory() {
        let mut report = healthy();
        report.mem_pressure = Signal::known(MemPressure::Warn, "test");
        // 60 % of 16 GB × 0.5 = 4.8 GB.
        let at_limit = gate(&report, &inputs(4.8, None));
        assert!(
            rules(&at_limit, MessageLevel::Warn).is_empty(),
            "exactly at the limit is not above it"
        );
        let above = gate(&report, &inputs(4.81, None));
        assert_eq!(rules(&above, MessageLevel::Warn), [rule::MEMORY_PRESSURE]);
        assert_eq!(
            above.messages[0].text,
            "Memory pressure is elevated. This workload may cause swapping and degrade the entire system. Consider closing Google Chrome (2.5 GB) first."
        );
        // Normal pressure never warns, whatever the size.
        assert!(rules(&gate(&healthy(), &inputs(100.0, None)), MessageLevel::Warn).is_empty());
    }

    #[test]
    fn caller_ram_overrides_the_probe() {
        let mut report = healthy();
        report.mem_pressure = Signal::known(MemPressure::Warn, "test");
        let bigger =
            GateInputs { data_size_gb: 6.0, machine_ram_gb: Some(24.0), local_time_hours: None };
        // 60 % of 24 GB × 0.5 = 7.2 GB ≥ 6: no warning (with the probe's 16 GB it would warn).
        assert!(rules(&gate(&report, &bigger), MessageLevel::Warn).is_empty());
        assert_eq!(
            rules(&gate(&report, &inputs(6.0, None)), MessageLevel::Warn),
            [rule::MEMORY_PRESSURE]
        );
    }

    #[test]
    fn throttle_boundaries_exactly_70_and_90() {
        let mut report = healthy();
        report.cpu_speed_limit = Signal::known(SpeedLimit::Percent(70.0), "test");
        assert!(
            rules(&gate(&report, &inputs(0.0, None)), MessageLevel::Warn).is_empty(),
            "70 is not < 70"
        );
        report.cpu_speed_limit = Signal::known(SpeedLimit::Percent(69.0), "test");
        let verdict = gate(&report, &inputs(0.0, None));
        assert_eq!(rules(&verdict, MessageLevel::Warn), [rule::THERMAL_THROTTLE]);
        assert!(
            verdict.messages[0]
                .text
                .starts_with("CPU is thermally throttled to 69% speed. Performance")
        );
        assert_eq!(verdict.guidance.len(), 5, "cooling guidance comes with thermal warnings");

        report.power_source = Signal::known(PowerSource::Battery, "test");
        report.cpu_speed_limit = Signal::known(SpeedLimit::Percent(90.0), "test");
        assert!(
            rules(&gate(&report, &inputs(0.0, None)), MessageLevel::Warn).is_empty(),
            "90 is not < 90"
        );
        report.cpu_speed_limit = Signal::known(SpeedLimit::Percent(78.0), "test");
        let verdict = gate(&report, &inputs(0.0, None));
        assert_eq!(rules(&verdict, MessageLevel::Warn), [rule::BATTERY_THROTTLE]);
        assert_eq!(
            verdict.messages[0].text,
            "Running on battery with mild thermal throttle (78%). Plug in for sustained performance — battery mode caps power delivery."
        );
    }

    #[test]
    fn apple_thermal_levels_map_to_the_seed_thresholds() {
        let mut report = healthy();
        report.power_source = Signal::known(PowerSource::Battery, "test");
        let warned = |level| {
            let mut report = report.clone();
            report.cpu_speed_limit = Signal::known(SpeedLimit::Level(level), "test");
            rules(&gate(&report, &inputs(0.0, None)), MessageLevel::Warn)
                .into_iter()
                .map(String::from)
                .collect::<Vec<_>>()
        };
        assert!(warned(ThermalLevel::Nominal).is_empty());
        assert_eq!(warned(ThermalLevel::Moderate), [rule::BATTERY_THROTTLE]);
        assert_eq!(warned(ThermalLevel::Heavy), [rule::THERMAL_THROTTLE, rule::BATTERY_THROTTLE]);
        assert_eq!(
            warned(ThermalLevel::Trapping),
            [rule::THERMAL_THROTTLE, rule::BATTERY_THROTTLE]
        );

        report.cpu_speed_limit = Signal::known(SpeedLimit::Level(ThermalLevel::Moderate), "test");
        let verdict = gate(&report, &inputs(0.0, None));
        assert_eq!(
            verdict.messages[0].text,
            "Running on battery with mild thermal throttle (about 70–89%, thermal level moderate). Plug in for sustained performance — battery mode caps power delivery."
        );
        report.cpu_speed_limit = Signal::known(SpeedLimit::Level(ThermalLevel::Heavy), "test");
        let verdict = gate(&report, &inputs(0.0, None));
        assert!(
            verdict.messages[0].text.starts_with(
                "CPU is thermally throttled to about 40–69% speed (thermal level heavy)."
            ),
            "{}",
            verdict.messages[0].text
        );
    }

    #[test]
    fn battery_run_time_boundary_exactly_half_an_hour() {
        let mut report = healthy();
        report.power_source = Signal::known(PowerSource::Battery, "test");
        assert!(
            rules(&gate(&report, &inputs(0.0, Some(0.5))), MessageLevel::Warn).is_empty(),
            "0.5 h is not > 0.5 h"
        );
        let verdict = gate(&report, &inputs(0.0, Some(0.51)));
        assert_eq!(rules(&verdict, MessageLevel::Warn), [rule::BATTERY_LONG_RUN]);
        assert_eq!(
            verdict.messages[0].text,
            "This workload will run 0.5h on battery. Plug in to avoid throttling and battery drain."
        );
        // On AC a long run is fine (advice only).
        let on_ac = gate(&healthy(), &inputs(0.0, Some(2.0)));
        assert_eq!(on_ac.decision, GateDecision::Pass);
        assert_eq!(rules(&on_ac, MessageLevel::Info), [rule::LONG_RUN_ADVICE]);
    }

    #[test]
    fn seed_example_6_follows_the_rule_not_the_example() {
        // Example 6: speed limit 78, battery, normal pressure, 0.3 h. The example says the
        // 0.3 h run warns; the rule says > 0.5 h, so only the throttle warning fires.
        let mut report = healthy();
        report.power_source = Signal::known(PowerSource::Battery, "test");
        report.cpu_speed_limit = Signal::known(SpeedLimit::Percent(78.0), "test");
        let verdict = gate(&report, &inputs(0.0, Some(0.3)));
        assert_eq!(verdict.decision, GateDecision::Warn);
        assert_eq!(rules(&verdict, MessageLevel::Warn), [rule::BATTERY_THROTTLE]);
        // After plugging in and cooling down (re-probe: 100) the gate passes.
        report.power_source = Signal::known(PowerSource::Ac, "test");
        report.cpu_speed_limit = Signal::known(SpeedLimit::Percent(100.0), "test");
        assert_eq!(gate(&report, &inputs(0.0, Some(0.3))).decision, GateDecision::Pass);
    }

    #[test]
    fn cpu_saturation_boundary_exactly_one() {
        let mut report = healthy();
        report.load_avg_1min = Signal::known(10.0, "test");
        assert!(
            rules(&gate(&report, &inputs(0.0, None)), MessageLevel::Warn).is_empty(),
            "10/10 is not > 1.0"
        );
        report.load_avg_1min = Signal::known(12.34, "test");
        let verdict = gate(&report, &inputs(0.0, None));
        assert_eq!(
            verdict.messages[0].text,
            "CPU is overloaded (load 12.3 across 10 cores). Other processes are competing for resources. Runtime estimates may be 2-3x longer than normal."
        );
    }

    #[test]
    fn every_applicable_warning_is_reported_and_a_block_comes_first() {
        let mut report = healthy();
        report.mem_pressure = Signal::known(MemPressure::Critical, "test");
        report.cpu_speed_limit = Signal::known(SpeedLimit::Percent(50.0), "test");
        report.power_source = Signal::known(PowerSource::Battery, "test");
        report.load_avg_1min = Signal::known(25.0, "test");
        let verdict = gate(&report, &inputs(0.0, Some(3.0)));
        assert_eq!(verdict.decision, GateDecision::Block);
        assert_eq!(rules(&verdict, MessageLevel::Block), [rule::MEMORY_CRITICAL]);
        assert_eq!(
            rules(&verdict, MessageLevel::Warn),
            [
                rule::THERMAL_THROTTLE,
                rule::BATTERY_THROTTLE,
                rule::BATTERY_LONG_RUN,
                rule::CPU_OVERLOADED
            ]
        );
        assert_eq!(rules(&verdict, MessageLevel::Info), [rule::LONG_RUN_ADVICE]);
        assert_eq!(verdict.messages[0].level, MessageLevel::Block);
    }

    #[test]
    fn unknown_inputs_are_reported_not_guessed() {
        let report = HealthReport::all_unknown("no probe for this OS", "test");
        let verdict = gate(&report, &inputs(1.0, None));
        assert_eq!(verdict.decision, GateDecision::Pass);
        let texts: Vec<&str> = verdict.messages.iter().map(|m| m.text.as_str()).collect();
        assert!(texts.contains(&"Not checked (memory-critical, memory-pressure): memory pressure unknown: no probe for this OS."), "{texts:#?}");
        assert!(texts.contains(&"Not checked (thermal-throttle, battery-throttle): CPU speed limit unknown: no probe for this OS."), "{texts:#?}");
        assert!(
            texts.contains(
                &"Not checked (battery-long-run): power source unknown: no probe for this OS."
            ),
            "{texts:#?}"
        );
        assert!(
            texts.contains(
                &"Not checked (cpu-overloaded): load average unknown: no probe for this OS."
            ),
            "{texts:#?}"
        );
    }

    #[test]
    fn a_false_operand_decides_despite_an_unknown_one() {
        // On AC, "slow AND battery" and "battery AND long" are false even with unknown speed
        // and no run-time estimate.
        let mut report = healthy();
        report.cpu_speed_limit = Signal::unknown("no thermal zones", "test");
        let verdict = gate(&report, &inputs(0.0, None));
        let unchecked: Vec<&str> = rules(&verdict, MessageLevel::Info);
        assert_eq!(unchecked, [rule::THERMAL_THROTTLE], "{:?}", verdict.messages);
        assert_eq!(
            verdict.messages[0].text,
            "Not checked (thermal-throttle): CPU speed limit unknown: no thermal zones."
        );
    }

    #[test]
    fn gpu_slowdown_warns_and_idle_or_power_cap_does_not() {
        let gpu = |bits| GpuDevice {
            index: 0,
            name: "NVIDIA H100 80GB HBM3".into(),
            temperature_c: Some(88.0),
            slowdown_temperature_c: Some(90.0),
            memory_used_mib: None,
            memory_total_mib: None,
            utilization_pct: None,
            sm_clock_mhz: Some(1410),
            sm_clock_max_mhz: Some(1980),
            power_draw_w: None,
            power_limit_w: None,
            clock_event_reasons: Some(ClockEventReasons { bits, active: vec![] }),
        };
        let mut report = healthy();
        report.nvidia =
            NvidiaGpus::Present { source: "test".into(), devices: vec![gpu(0x1 | 0x4)] };
        assert_eq!(gate(&report, &inputs(0.0, None)).decision, GateDecision::Pass);
        report.nvidia = NvidiaGpus::Present { source: "test".into(), devices: vec![gpu(0x20)] };
        let verdict = gate(&report, &inputs(0.0, None));
        assert_eq!(rules(&verdict, MessageLevel::Warn), [rule::GPU_THERMAL_THROTTLE]);
        assert_eq!(
            verdict.messages[0].text,
            "GPU 0 (NVIDIA H100 80GB HBM3) is slowed down: sw_thermal_slowdown at 88 °C, SM clock 1410/1980 MHz. Performance will be degraded; improve cooling or wait for it to recover."
        );
        assert!(!verdict.guidance.is_empty());
    }

    #[test]
    fn unknown_top_process_is_said_not_invented() {
        let mut report = healthy();
        report.mem_pressure = Signal::known(MemPressure::Critical, "test");
        report.top_processes = Signal::unknown("ps timed out", "ps");
        let verdict = gate(&report, &inputs(0.0, None));
        assert_eq!(
            verdict.messages[0].text,
            "System memory is critical (largest memory consumer unknown: ps timed out). Close applications or reduce working set before proceeding."
        );
        report.mem_pressure = Signal::known(MemPressure::Warn, "test");
        let verdict = gate(&report, &inputs(100.0, None));
        assert!(
            verdict.messages[0].text.ends_with("Consider closing other large applications first.")
        );
    }

    #[test]
    fn verdict_serializes_for_json_consumers() {
        let mut report = healthy();
        report.load_avg_1min = Signal::known(20.0, "test");
        let json = serde_json::to_value(gate(&report, &inputs(0.0, None))).unwrap();
        assert_eq!(json["decision"], "warn");
        assert_eq!(json["messages"][0]["rule"], "cpu-overloaded");
        assert_eq!(json["messages"][0]["level"], "warn");
        assert!(json.get("guidance").is_none(), "empty guidance is omitted");
    }
}
