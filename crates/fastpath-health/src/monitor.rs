//! The runtime monitor: a background thread that re-probes the machine while a long workload
//! runs and reports what got worse. It only observes; it never stops or slows the work.
//!
//! The seed's schedule: workloads estimated over 60 s are watched, every 30 s when the
//! estimate is under 10 minutes and every 2 minutes otherwise ([`MonitorConfig::for_estimate`]).
//! Its thresholds: CPU speed below 60 % and below 40 %, memory pressure rising to warn or
//! critical, and the work's process above 70 % of RAM. Warnings are edge-triggered: each fires
//! when a condition appears or worsens, not again every interval while it lasts.
//!
//! Time and probing are injected ([`MonitorClock`], [`Sampler`]) so tests drive the monitor
//! with a [`ManualClock`] and scripted samples instead of sleeping for minutes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::guidance::cooling_guidance;
use crate::parse::nvidia::slowdown_reasons;
use crate::probe::{ProbeOptions, probe_with, process_rss_bytes};
use crate::report::{BYTES_PER_GB, HealthReport, MemPressure, SpeedLimit};
use crate::signal::Signal;

/// Workloads estimated at or under this run unwatched.
pub const MONITOR_MIN_ESTIMATE: Duration = Duration::from_secs(60);
/// Estimates under this are checked every [`SHORT_RUN_INTERVAL`], longer ones every
/// [`LONG_RUN_INTERVAL`].
pub const LONG_RUN_ESTIMATE: Duration = Duration::from_secs(10 * 60);
pub const SHORT_RUN_INTERVAL: Duration = Duration::from_secs(30);
pub const LONG_RUN_INTERVAL: Duration = Duration::from_secs(2 * 60);
/// Seed runtime thresholds.
pub const RUNTIME_THROTTLE_WARN: f64 = 60.0;
pub const RUNTIME_THROTTLE_SEVERE: f64 = 40.0;
pub const PROCESS_MEMORY_WARN_FRACTION: f64 = 0.7;
/// The shortest interval the monitor accepts, so a zero interval cannot spin a core.
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// Rule ids of runtime warnings.
pub mod rule {
    pub const THERMAL_THROTTLE: &str = "runtime-thermal-throttle";
    pub const THERMAL_THROTTLE_HEAVY: &str = "runtime-thermal-throttle-heavy";
    pub const MEMORY_WARN: &str = "runtime-memory-warn";
    pub const MEMORY_CRITICAL: &str = "runtime-memory-critical";
    pub const PROCESS_MEMORY: &str = "runtime-process-memory";
    pub const CPU_THROTTLE_EVENTS: &str = "runtime-cpu-throttle-events";
    pub const GPU_SLOWDOWN: &str = "runtime-gpu-slowdown";
}

/// The check interval for a workload estimated at `estimate`.
pub fn monitor_interval(estimate: Duration) -> Duration {
    if estimate < LONG_RUN_ESTIMATE { SHORT_RUN_INTERVAL } else { LONG_RUN_INTERVAL }
}

#[derive(Clone, Debug)]
pub struct MonitorConfig {
    /// Time between checks.
    pub interval: Duration,
    /// Seed `machine_ram_gb` for the process-memory rule; `None` takes it from each probe.
    pub machine_ram_gb: Option<f64>,
    /// The process whose memory is watched; `None` is this process.
    pub watched_pid: Option<u32>,
    /// The pre-flight probe: conditions already present then (and reported by the gate) do
    /// not warn again at the first check.
    pub baseline: Option<HealthReport>,
    /// Also log each warning with `tracing` (default). A caller that prints the warnings
    /// itself, like `fastpath health --watch`, turns this off to avoid saying everything twice.
    pub log_warnings: bool,
}

impl MonitorConfig {
    /// The seed's schedule: `None` for workloads estimated at 60 s or less (no monitor), else
    /// 30 s checks under 10 minutes and 2 minute checks from 10 minutes on.
    pub fn for_estimate(estimate: Duration) -> Option<Self> {
        (estimate > MONITOR_MIN_ESTIMATE).then(|| Self::every(monitor_interval(estimate)))
    }

    /// Checks every `interval` (at least [`MIN_INTERVAL`]).
    pub fn every(interval: Duration) -> Self {
        Self {
            interval: interval.max(MIN_INTERVAL),
            machine_ram_gb: None,
            watched_pid: None,
            baseline: None,
            log_warnings: true,
        }
    }

    pub fn with_baseline(mut self, baseline: HealthReport) -> Self {
        self.baseline = Some(baseline);
        self
    }
}

/// One check's readings.
#[derive(Clone, Debug, PartialEq)]
pub struct MonitorSample {
    pub report: HealthReport,
    /// Resident memory of the watched process.
    pub process_rss_bytes: Signal<u64>,
}

/// Produces a sample per check. Closures `FnMut() -> MonitorSample` are samplers, which is
/// how tests script a sequence of machine states.
pub trait Sampler: Send + 'static {
    fn sample(&mut self) -> MonitorSample;
}

impl<F: FnMut() -> MonitorSample + Send + 'static> Sampler for F {
    fn sample(&mut self) -> MonitorSample {
        self()
    }
}

/// Probes this machine (without the process list, which no runtime rule uses) and reads
/// the watched process's memory.
pub struct SystemSampler {
    pid: u32,
}

impl SystemSampler {
    pub fn new(watched_pid: Option<u32>) -> Self {
        Self { pid: watched_pid.unwrap_or_else(std::process::id) }
    }
}

impl Sampler for SystemSampler {
    fn sample(&mut self) -> MonitorSample {
        let options = ProbeOptions { top_processes: false, ..ProbeOptions::default() };
        MonitorSample {
            report: probe_with(&options),
            process_rss_bytes: process_rss_bytes(self.pid),
        }
    }
}

/// A warning raised during a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MonitorWarning {
    /// One of [`rule`].
    pub rule: String,
    pub text: String,
    /// Seconds since the monitor started.
    pub elapsed_s: f64,
    /// Cooling and placement guidance for thermal warnings; empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guidance: Vec<String>,
}

/// What the monitor's callback receives. Each check delivers its warnings first, then its
/// `Sample`, so a `Sample` marks a completed check.
#[derive(Debug)]
pub enum MonitorEvent<'a> {
    /// A condition appeared or worsened; also logged at `warn` level unless
    /// [`MonitorConfig::log_warnings`] is off.
    Warning(&'a MonitorWarning),
    /// A check completed (for live displays such as `fastpath health --watch`).
    Sample { elapsed: Duration, sample: &'a MonitorSample },
}

/// The runtime rules and what they remember between checks. Pure: usable from any loop.
#[derive(Clone, Debug)]
pub struct MonitorState {
    machine_ram_gb: Option<f64>,
    thermal_severity: u8,
    pressure: MemPressure,
    process_over_limit: bool,
    throttle_events: Option<u64>,
    gpu_slowdowns: BTreeMap<u32, Vec<&'static str>>,
}

impl MonitorState {
    pub fn new(config: &MonitorConfig) -> Self {
        let mut state = Self {
            machine_ram_gb: config.machine_ram_gb,
            thermal_severity: 0,
            pressure: MemPressure::Normal,
            process_over_limit: false,
            throttle_events: None,
            gpu_slowdowns: BTreeMap::new(),
        };
        if let Some(baseline) = &config.baseline {
            state.thermal_severity = baseline.cpu_speed_limit.get().map_or(0, thermal_severity);
            state.pressure = baseline.mem_pressure.get().unwrap_or(MemPressure::Normal);
            state.throttle_events = throttle_events(baseline);
            state.gpu_slowdowns = gpu_slowdowns(baseline);
        }
        state
    }

    /// Applies the runtime rules to one sample; returns the warnings to raise.
    pub fn check(&mut self, sample: &MonitorSample, elapsed: Duration) -> Vec<MonitorWarning> {
        let mut warnings = Vec::new();
        let elapsed_s = elapsed.as_secs_f64();
        let mut warn = |rule: &str, text: String, thermal: bool| {
            let guidance = if thermal {
                cooling_guidance().iter().map(|s| s.to_string()).collect()
            } else {
                Vec::new()
            };
            warnings.push(MonitorWarning { rule: rule.to_string(), text, elapsed_s, guidance });
        };
        let report = &sample.report;

        if let Some(limit) = report.cpu_speed_limit.get() {
            let severity = thermal_severity(limit);
            if severity > self.thermal_severity {
                let basis = limit.basis().map(|b| format!(" ({b})")).unwrap_or_default();
                let n = limit.percent_text();
                if severity == 2 {
                    warn(
                        rule::THERMAL_THROTTLE_HEAVY,
                        format!(
                            "Heavy thermal throttle ({n}{basis}). Move laptop to a cool, hard surface immediately — not your lap."
                        ),
                        true,
                    );
                } else {
                    warn(
                        rule::THERMAL_THROTTLE,
                        format!(
                            "Thermal throttle at {n}{basis}. Compute is slowed. Ensure ventilation."
                        ),
                        true,
                    );
                }
            }
            self.thermal_severity = severity;
        }

        if let Some(pressure) = report.mem_pressure.get() {
            if pressure > self.pressure {
                match pressure {
                    MemPressure::Warn => warn(rule::MEMORY_WARN, "Memory pressure rising. System may become sluggish.".into(), false),
                    MemPressure::Critical => warn(
                        rule::MEMORY_CRITICAL,
                        "Memory critical — system will be unresponsive. Consider terminating workload.".into(),
                        false,
                    ),
                    MemPressure::Normal => {}
                }
            }
            self.pressure = pressure;
        }

        let ram_gb = self.machine_ram_gb.or_else(|| report.machine_ram_gb.get());
        if let (Some(rss), Some(ram_gb)) = (sample.process_rss_bytes.get(), ram_gb) {
            let rss_gb = rss as f64 / BYTES_PER_GB;
            let over = rss_gb > PROCESS_MEMORY_WARN_FRACTION * ram_gb;
            if over && !self.process_over_limit {
                warn(
                    rule::PROCESS_MEMORY,
                    format!(
                        "Process using {rss_gb:.1} GB of {} GB. Approaching memory ceiling.",
                        format_gb(ram_gb)
                    ),
                    false,
                );
            }
            self.process_over_limit = over;
        }

        if let Some(events) = throttle_events(report) {
            if let Some(previous) = self.throttle_events
                && events > previous
            {
                warn(
                    rule::CPU_THROTTLE_EVENTS,
                    format!(
                        "CPU hit its thermal limit {} times since the last check (Intel thermal_throttle counters). Compute is slowed. Ensure ventilation.",
                        events - previous
                    ),
                    true,
                );
            }
            self.throttle_events = Some(events);
        }

        let slowdowns = gpu_slowdowns(report);
        for gpu in report.nvidia.devices() {
            let now = slowdowns.get(&gpu.index).cloned().unwrap_or_default();
            let before = self.gpu_slowdowns.get(&gpu.index).cloned().unwrap_or_default();
            if now.iter().any(|reason| !before.contains(reason)) {
                let temp = gpu.temperature_c.map(|t| format!(" at {t:.0} °C")).unwrap_or_default();
                warn(
                    rule::GPU_SLOWDOWN,
                    format!(
                        "GPU {} ({}) is slowed down: {}{temp}. Compute is slowed. Ensure cooling.",
                        gpu.index,
                        gpu.name,
                        now.join(", ")
                    ),
                    true,
                );
            }
        }
        // GPUs that vanished from a report keep no state (a driver reset starts afresh).
        self.gpu_slowdowns = slowdowns;
        warnings
    }
}

/// 0 fine, 1 below the seed's 60 %, 2 below 40 %. Thermal levels count by their range
/// (heavy = 40–69 % reaches below 60; trapping and sleeping reach below 40).
fn thermal_severity(limit: SpeedLimit) -> u8 {
    if limit.is_below(RUNTIME_THROTTLE_SEVERE) {
        2
    } else if limit.is_below(RUNTIME_THROTTLE_WARN) {
        1
    } else {
        0
    }
}

fn throttle_events(report: &HealthReport) -> Option<u64> {
    report.linux.as_ref().and_then(|linux| linux.throttle_events_total.get())
}

fn gpu_slowdowns(report: &HealthReport) -> BTreeMap<u32, Vec<&'static str>> {
    report
        .nvidia
        .devices()
        .iter()
        .filter_map(|gpu| {
            Some((gpu.index, slowdown_reasons(gpu.clock_event_reasons.as_ref()?.bits)))
        })
        .collect()
}

/// "16" for whole numbers (the seed prints `{machine_ram_gb} GB`), else one decimal.
fn format_gb(gb: f64) -> String {
    if (gb - gb.round()).abs() < 0.05 { format!("{gb:.0}") } else { format!("{gb:.1}") }
}

/// Where the monitor's time comes from, and how it waits.
pub trait MonitorClock: Send + Sync + 'static {
    /// Time since the clock's start.
    fn now(&self) -> Duration;
    /// Blocks until `now() >= deadline` or `stop` is set and [`wake`](Self::wake) called.
    /// May return early; the caller re-checks.
    fn wait_until(&self, deadline: Duration, stop: &AtomicBool);
    /// Wakes waiters so they see `stop`.
    fn wake(&self);
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A callback that panicked mid-check must not make the monitor unstoppable.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Wall-clock time.
pub struct SystemClock {
    start: Instant,
    lock: Mutex<()>,
    wakeup: Condvar,
}

impl SystemClock {
    pub fn new() -> Self {
        Self { start: Instant::now(), lock: Mutex::new(()), wakeup: Condvar::new() }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl MonitorClock for SystemClock {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn wait_until(&self, deadline: Duration, stop: &AtomicBool) {
        let mut guard = lock(&self.lock);
        // `stop` is checked under the lock `wake` takes, so a stop cannot slip in between
        // the check and the wait.
        while !stop.load(Ordering::Acquire) {
            let now = self.now();
            if now >= deadline {
                return;
            }
            guard = self
                .wakeup
                .wait_timeout(guard, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn wake(&self) {
        let _guard = lock(&self.lock);
        self.wakeup.notify_all();
    }
}

/// A clock that moves only when told to, for tests: [`advance`](Self::advance) it, then
/// [`wait_for_parked`](Self::wait_for_parked) until the monitor has finished the check that
/// became due and is waiting for the next one.
pub struct ManualClock {
    state: Mutex<ManualState>,
    changed: Condvar,
}

struct ManualState {
    now: Duration,
    /// Deadlines of threads blocked in `wait_until`.
    parked: Vec<Duration>,
}

impl ManualClock {
    pub fn new() -> Self {
        Self {
            state: Mutex::new(ManualState { now: Duration::ZERO, parked: Vec::new() }),
            changed: Condvar::new(),
        }
    }

    pub fn advance(&self, by: Duration) {
        lock(&self.state).now += by;
        self.changed.notify_all();
    }

    /// Blocks (for at most `real_timeout` of real time) until a thread waits on this clock for
    /// a deadline still in the future; false on timeout.
    pub fn wait_for_parked(&self, real_timeout: Duration) -> bool {
        let guard = lock(&self.state);
        let (_guard, result) = self
            .changed
            .wait_timeout_while(guard, real_timeout, |state| {
                !state.parked.iter().any(|&d| d > state.now)
            })
            .unwrap_or_else(PoisonError::into_inner);
        !result.timed_out()
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl MonitorClock for ManualClock {
    fn now(&self) -> Duration {
        lock(&self.state).now
    }

    fn wait_until(&self, deadline: Duration, stop: &AtomicBool) {
        let mut state = lock(&self.state);
        state.parked.push(deadline);
        self.changed.notify_all();
        while !stop.load(Ordering::Acquire) && state.now < deadline {
            state = self.changed.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        if let Some(position) = state.parked.iter().position(|&d| d == deadline) {
            state.parked.swap_remove(position);
        }
    }

    fn wake(&self) {
        let _state = lock(&self.state);
        self.changed.notify_all();
    }
}

/// Counts for the caller once the monitor stops.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MonitorSummary {
    pub checks: u64,
    pub warnings: u64,
    /// Set when the monitor thread died (a panicking callback); the work is unaffected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// Starts monitors.
pub struct Monitor;

impl Monitor {
    /// Watches this machine on the wall clock; `on_event` runs on the monitor thread.
    pub fn spawn(
        config: MonitorConfig,
        on_event: impl FnMut(&MonitorEvent<'_>) + Send + 'static,
    ) -> std::io::Result<MonitorHandle> {
        let sampler = SystemSampler::new(config.watched_pid);
        Self::spawn_with(config, sampler, Arc::new(SystemClock::new()), on_event)
    }

    /// Watches with the given sampler and clock (tests: scripted samples, [`ManualClock`]).
    pub fn spawn_with(
        config: MonitorConfig,
        mut sampler: impl Sampler,
        clock: Arc<dyn MonitorClock>,
        mut on_event: impl FnMut(&MonitorEvent<'_>) + Send + 'static,
    ) -> std::io::Result<MonitorHandle> {
        let stop = Arc::new(AtomicBool::new(false));
        let checks = Arc::new(AtomicU64::new(0));
        let warnings = Arc::new(AtomicU64::new(0));
        let interval = config.interval.max(MIN_INTERVAL);
        let log_warnings = config.log_warnings;
        let thread = {
            let (stop, clock, checks, warnings) =
                (stop.clone(), clock.clone(), checks.clone(), warnings.clone());
            std::thread::Builder::new().name("fastpath-health-monitor".into()).spawn(move || {
                let mut state = MonitorState::new(&config);
                let start = clock.now();
                let mut next = start + interval;
                loop {
                    clock.wait_until(next, &stop);
                    if stop.load(Ordering::Acquire) {
                        break;
                    }
                    if clock.now() < next {
                        continue;
                    }
                    let sample = sampler.sample();
                    if stop.load(Ordering::Acquire) {
                        break; // The work ended while we probed: nobody wants this sample.
                    }
                    let now = clock.now();
                    let elapsed = now.saturating_sub(start);
                    let raised = state.check(&sample, elapsed);
                    checks.fetch_add(1, Ordering::Relaxed);
                    for warning in &raised {
                        if log_warnings {
                            tracing::warn!(target: "fastpath_health::monitor", rule = %warning.rule, "{}", warning.text);
                        }
                        warnings.fetch_add(1, Ordering::Relaxed);
                        on_event(&MonitorEvent::Warning(warning));
                    }
                    on_event(&MonitorEvent::Sample { elapsed, sample: &sample });
                    // Skip ticks missed during a slow probe or while the machine slept.
                    next += interval;
                    while next <= now {
                        next += interval;
                    }
                }
            })?
        };
        Ok(MonitorHandle { stop, clock, checks, warnings, thread: Some(thread) })
    }
}

/// A running monitor. Dropping it stops the monitor too (waiting for a check in progress,
/// at most one probe's time limit).
pub struct MonitorHandle {
    stop: Arc<AtomicBool>,
    clock: Arc<dyn MonitorClock>,
    checks: Arc<AtomicU64>,
    warnings: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl MonitorHandle {
    /// Stops the monitor and waits for its thread.
    pub fn stop(mut self) -> MonitorSummary {
        self.shutdown()
    }

    /// Checks completed so far.
    pub fn checks(&self) -> u64 {
        self.checks.load(Ordering::Relaxed)
    }

    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    fn shutdown(&mut self) -> MonitorSummary {
        self.stop.store(true, Ordering::Release);
        self.clock.wake();
        let failure = match self.thread.take().map(JoinHandle::join) {
            Some(Err(panic)) => Some(
                panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "the monitor thread panicked".to_string()),
            ),
            _ => None,
        };
        MonitorSummary {
            checks: self.checks(),
            warnings: self.warnings.load(Ordering::Relaxed),
            failure,
        }
    }
}

impl Drop for MonitorHandle {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.shutdown();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{ClockEventReasons, GpuDevice, LinuxDetails, NvidiaGpus, ThermalLevel};
    use std::collections::VecDeque;

    const REAL_TIMEOUT: Duration = Duration::from_secs(10);

    fn sample(speed: Option<SpeedLimit>, pressure: MemPressure, rss_gib: f64) -> MonitorSample {
        let mut report = HealthReport::all_unknown("unused", "test");
        report.mem_pressure = Signal::known(pressure, "test");
        report.machine_ram_gb = Signal::known(16.0, "test");
        report.cpu_speed_limit = match speed {
            Some(limit) => Signal::known(limit, "test"),
            None => Signal::unknown("no sensor", "test"),
        };
        MonitorSample {
            report,
            process_rss_bytes: Signal::known((rss_gib * BYTES_PER_GB) as u64, "test"),
        }
    }

    fn pct(value: f64) -> Option<SpeedLimit> {
        Some(SpeedLimit::Percent(value))
    }

    fn rules_of(warnings: &[MonitorWarning]) -> Vec<&str> {
        warnings.iter().map(|w| w.rule.as_str()).collect()
    }

    #[test]
    fn schedule_follows_the_seed() {
        assert!(
            MonitorConfig::for_estimate(Duration::from_secs(60)).is_none(),
            "exactly 60 s: no monitor"
        );
        assert_eq!(
            MonitorConfig::for_estimate(Duration::from_secs(61)).unwrap().interval,
            SHORT_RUN_INTERVAL
        );
        assert_eq!(
            MonitorConfig::for_estimate(Duration::from_secs(599)).unwrap().interval,
            SHORT_RUN_INTERVAL
        );
        assert_eq!(
            MonitorConfig::for_estimate(Duration::from_secs(600)).unwrap().interval,
            LONG_RUN_INTERVAL
        );
        assert_eq!(MonitorConfig::every(Duration::ZERO).interval, MIN_INTERVAL);
    }

    #[test]
    fn throttle_warnings_fire_on_crossing_60_and_40_once_each() {
        let mut state = MonitorState::new(&MonitorConfig::every(SHORT_RUN_INTERVAL));
        let t = Duration::from_secs(30);
        assert!(state.check(&sample(pct(80.0), MemPressure::Normal, 1.0), t).is_empty());
        assert!(
            state.check(&sample(pct(60.0), MemPressure::Normal, 1.0), t).is_empty(),
            "60 is not below 60"
        );
        let warnings = state.check(&sample(pct(59.0), MemPressure::Normal, 1.0), t);
        assert_eq!(
            warnings[0].text,
            "Thermal throttle at 59%. Compute is slowed. Ensure ventilation."
        );
        assert_eq!(warnings[0].guidance.len(), 5);
        assert!(
            state.check(&sample(pct(45.0), MemPressure::Normal, 1.0), t).is_empty(),
            "still in the same band"
        );
        let warnings = state.check(&sample(pct(35.0), MemPressure::Normal, 1.0), t);
        assert_eq!(
            warnings[0].text,
            "Heavy thermal throttle (35%). Move laptop to a cool, hard surface immediately — not your lap."
        );
        assert!(
            state.check(&sample(None, MemPressure::Normal, 1.0), t).is_empty(),
            "unknown keeps the state"
        );
        assert!(state.check(&sample(pct(30.0), MemPressure::Normal, 1.0), t).is_empty());
        // Recovery re-arms the rule.
        assert!(state.check(&sample(pct(100.0), MemPressure::Normal, 1.0), t).is_empty());
        assert_eq!(
            rules_of(&state.check(&sample(pct(50.0), MemPressure::Normal, 1.0), t)),
            [rule::THERMAL_THROTTLE]
        );
    }

    #[test]
    fn apple_levels_map_to_runtime_thresholds() {
        let mut state = MonitorState::new(&MonitorConfig::every(SHORT_RUN_INTERVAL));
        let t = Duration::from_secs(30);
        let level = |l| Some(SpeedLimit::Level(l));
        assert!(
            state
                .check(&sample(level(ThermalLevel::Moderate), MemPressure::Normal, 1.0), t)
                .is_empty()
        );
        let warnings =
            state.check(&sample(level(ThermalLevel::Heavy), MemPressure::Normal, 1.0), t);
        assert_eq!(
            warnings[0].text,
            "Thermal throttle at about 40–69% (thermal level heavy). Compute is slowed. Ensure ventilation."
        );
        let warnings =
            state.check(&sample(level(ThermalLevel::Trapping), MemPressure::Normal, 1.0), t);
        assert_eq!(rules_of(&warnings), [rule::THERMAL_THROTTLE_HEAVY]);
    }

    #[test]
    fn memory_pressure_warns_when_rising_only() {
        let mut state = MonitorState::new(&MonitorConfig::every(SHORT_RUN_INTERVAL));
        let t = Duration::from_secs(30);
        let warnings = state.check(&sample(pct(100.0), MemPressure::Warn, 1.0), t);
        assert_eq!(warnings[0].text, "Memory pressure rising. System may become sluggish.");
        assert!(state.check(&sample(pct(100.0), MemPressure::Warn, 1.0), t).is_empty());
        let warnings = state.check(&sample(pct(100.0), MemPressure::Critical, 1.0), t);
        assert_eq!(
            warnings[0].text,
            "Memory critical — system will be unresponsive. Consider terminating workload."
        );
        assert!(
            state.check(&sample(pct(100.0), MemPressure::Warn, 1.0), t).is_empty(),
            "falling is not rising"
        );
        // Straight from normal to critical: one critical warning.
        let mut state = MonitorState::new(&MonitorConfig::every(SHORT_RUN_INTERVAL));
        assert_eq!(
            rules_of(&state.check(&sample(pct(100.0), MemPressure::Critical, 1.0), t)),
            [rule::MEMORY_CRITICAL]
        );
    }

    #[test]
    fn baseline_conditions_do_not_warn_again() {
        let baseline = sample(pct(50.0), MemPressure::Warn, 1.0).report;
        let mut state =
            MonitorState::new(&MonitorConfig::every(SHORT_RUN_INTERVAL).with_baseline(baseline));
        assert!(
            state
                .check(&sample(pct(50.0), MemPressure::Warn, 1.0), Duration::from_secs(30))
                .is_empty()
        );
    }

    #[test]
    fn process_memory_above_70_percent_of_ram() {
        let mut state = MonitorState::new(&MonitorConfig::every(SHORT_RUN_INTERVAL));
        let t = Duration::from_secs(30);
        // 70 % of 16 GB = 11.2 GB.
        assert!(
            state.check(&sample(pct(100.0), MemPressure::Normal, 11.2), t).is_empty(),
            "exactly 70 % is not above"
        );
        let warnings = state.check(&sample(pct(100.0), MemPressure::Normal, 12.0), t);
        assert_eq!(warnings[0].text, "Process using 12.0 GB of 16 GB. Approaching memory ceiling.");
        assert!(state.check(&sample(pct(100.0), MemPressure::Normal, 13.0), t).is_empty());
        assert!(state.check(&sample(pct(100.0), MemPressure::Normal, 2.0), t).is_empty());
        assert_eq!(
            rules_of(&state.check(&sample(pct(100.0), MemPressure::Normal, 12.0), t)),
            [rule::PROCESS_MEMORY]
        );

        let mut config = MonitorConfig::every(SHORT_RUN_INTERVAL);
        config.machine_ram_gb = Some(24.0);
        let mut state = MonitorState::new(&config);
        assert!(
            state.check(&sample(pct(100.0), MemPressure::Normal, 12.0), t).is_empty(),
            "24 GB configured"
        );
    }

    fn with_linux_throttle(mut sample: MonitorSample, events: u64) -> MonitorSample {
        sample.report.linux = Some(LinuxDetails {
            psi_memory: Signal::unknown("", ""),
            psi_cpu: Signal::unknown("", ""),
            meminfo: Signal::unknown("", ""),
            cgroup_memory: Signal::unknown("", ""),
            thermal_zones: Signal::unknown("", ""),
            throttle_events_total: Signal::known(events, "test"),
            power_supplies: Signal::unknown("", ""),
            cpus_online: Signal::unknown("", ""),
        });
        sample
    }

    #[test]
    fn intel_throttle_counters_warn_on_increase_only() {
        let mut state = MonitorState::new(&MonitorConfig::every(SHORT_RUN_INTERVAL));
        let t = Duration::from_secs(30);
        let base = || sample(pct(100.0), MemPressure::Normal, 1.0);
        assert!(
            state.check(&with_linux_throttle(base(), 500), t).is_empty(),
            "first reading is the reference"
        );
        assert!(state.check(&with_linux_throttle(base(), 500), t).is_empty());
        let warnings = state.check(&with_linux_throttle(base(), 503), t);
        assert!(
            warnings[0].text.starts_with("CPU hit its thermal limit 3 times since the last check")
        );
    }

    #[test]
    fn gpu_slowdown_appearing_warns() {
        let mut state = MonitorState::new(&MonitorConfig::every(SHORT_RUN_INTERVAL));
        let t = Duration::from_secs(30);
        let with_gpu = |bits| {
            let mut s = sample(pct(100.0), MemPressure::Normal, 1.0);
            s.report.nvidia = NvidiaGpus::Present {
                source: "test".into(),
                devices: vec![GpuDevice {
                    index: 0,
                    name: "NVIDIA H100 80GB HBM3".into(),
                    temperature_c: Some(91.0),
                    slowdown_temperature_c: None,
                    memory_used_mib: None,
                    memory_total_mib: None,
                    utilization_pct: Some(100),
                    sm_clock_mhz: None,
                    sm_clock_max_mhz: None,
                    power_draw_w: None,
                    power_limit_w: None,
                    clock_event_reasons: Some(ClockEventReasons { bits, active: vec![] }),
                }],
            };
            s
        };
        assert!(state.check(&with_gpu(0x4), t).is_empty(), "power cap under load is normal");
        let warnings = state.check(&with_gpu(0x4 | 0x40), t);
        assert_eq!(
            warnings[0].text,
            "GPU 0 (NVIDIA H100 80GB HBM3) is slowed down: hw_thermal_slowdown at 91 °C. Compute is slowed. Ensure cooling."
        );
        assert!(state.check(&with_gpu(0x40), t).is_empty());
    }

    /// Scripted samples; the last repeats once the script runs out.
    fn script(samples: Vec<MonitorSample>) -> impl Sampler {
        let mut queue: VecDeque<MonitorSample> = samples.into();
        move || {
            if queue.len() > 1 {
                queue.pop_front().unwrap()
            } else {
                queue.front().cloned().unwrap()
            }
        }
    }

    type Events = Arc<Mutex<Vec<(f64, Option<String>)>>>;

    fn recorder() -> (Events, impl FnMut(&MonitorEvent<'_>) + Send + 'static) {
        let events: Events = Arc::default();
        let sink = events.clone();
        let callback = move |event: &MonitorEvent<'_>| {
            let entry = match event {
                MonitorEvent::Sample { elapsed, .. } => (elapsed.as_secs_f64(), None),
                MonitorEvent::Warning(w) => (w.elapsed_s, Some(w.text.clone())),
            };
            lock(&sink).push(entry);
        };
        (events, callback)
    }

    #[test]
    fn thread_checks_on_the_fake_clock_and_stops_cleanly() {
        let clock = Arc::new(ManualClock::new());
        let (events, callback) = recorder();
        let samples = script(vec![
            sample(pct(100.0), MemPressure::Normal, 1.0),
            sample(pct(55.0), MemPressure::Normal, 1.0),
            sample(pct(55.0), MemPressure::Critical, 1.0),
        ]);
        let config = MonitorConfig::for_estimate(Duration::from_secs(5 * 60)).unwrap();
        let handle = Monitor::spawn_with(config, samples, clock.clone(), callback).unwrap();
        assert!(clock.wait_for_parked(REAL_TIMEOUT));
        assert_eq!(handle.checks(), 0, "the first check comes after one interval, not at once");

        clock.advance(Duration::from_secs(29));
        assert!(clock.wait_for_parked(REAL_TIMEOUT));
        assert_eq!(handle.checks(), 0, "29 s is not yet 30 s");

        clock.advance(Duration::from_secs(1));
        assert!(clock.wait_for_parked(REAL_TIMEOUT));
        assert_eq!(handle.checks(), 1);

        clock.advance(SHORT_RUN_INTERVAL);
        assert!(clock.wait_for_parked(REAL_TIMEOUT));
        clock.advance(SHORT_RUN_INTERVAL);
        assert!(clock.wait_for_parked(REAL_TIMEOUT));

        let summary = handle.stop();
        assert_eq!(summary, MonitorSummary { checks: 3, warnings: 2, failure: None });
        let events = lock(&events).clone();
        assert_eq!(
            events,
            vec![
                (30.0, None),
                (60.0, Some("Thermal throttle at 55%. Compute is slowed. Ensure ventilation.".to_string())),
                (60.0, None),
                (90.0, Some("Memory critical — system will be unresponsive. Consider terminating workload.".to_string())),
                (90.0, None),
            ]
        );
    }

    #[test]
    fn long_runs_check_every_two_minutes_and_skip_missed_ticks() {
        let clock = Arc::new(ManualClock::new());
        let (events, callback) = recorder();
        let config = MonitorConfig::for_estimate(Duration::from_secs(3600)).unwrap();
        let handle = Monitor::spawn_with(
            config,
            script(vec![sample(pct(100.0), MemPressure::Normal, 1.0)]),
            clock.clone(),
            callback,
        )
        .unwrap();
        assert!(clock.wait_for_parked(REAL_TIMEOUT));
        clock.advance(Duration::from_secs(60));
        assert!(clock.wait_for_parked(REAL_TIMEOUT));
        assert_eq!(handle.checks(), 0);
        clock.advance(Duration::from_secs(60));
        assert!(clock.wait_for_parked(REAL_TIMEOUT));
        assert_eq!(handle.checks(), 1);
        // The machine sleeps for 10 minutes: one catch-up check, not five.
        clock.advance(Duration::from_secs(600));
        assert!(clock.wait_for_parked(REAL_TIMEOUT));
        assert_eq!(handle.checks(), 2);
        drop(handle);
        let times: Vec<f64> = lock(&events).iter().map(|(t, _)| *t).collect();
        assert_eq!(times, [120.0, 720.0]);
    }

    #[test]
    fn dropping_the_handle_stops_the_thread_without_waiting_for_the_interval() {
        let clock = Arc::new(SystemClock::new());
        let (_events, callback) = recorder();
        let handle = Monitor::spawn_with(
            MonitorConfig::every(Duration::from_secs(3600)),
            script(vec![sample(pct(100.0), MemPressure::Normal, 1.0)]),
            clock,
            callback,
        )
        .unwrap();
        assert!(handle.is_running());
        let started = Instant::now();
        drop(handle);
        assert!(started.elapsed() < Duration::from_secs(5), "stop took {:?}", started.elapsed());
    }

    #[test]
    fn a_panicking_callback_ends_the_monitor_not_the_caller() {
        let clock = Arc::new(ManualClock::new());
        let handle = Monitor::spawn_with(
            MonitorConfig::every(SHORT_RUN_INTERVAL),
            script(vec![sample(pct(100.0), MemPressure::Normal, 1.0)]),
            clock.clone(),
            |_: &MonitorEvent<'_>| panic!("callback bug"),
        )
        .unwrap();
        assert!(clock.wait_for_parked(REAL_TIMEOUT));
        clock.advance(SHORT_RUN_INTERVAL);
        let started = Instant::now();
        while handle.is_running() && started.elapsed() < REAL_TIMEOUT {
            std::thread::sleep(Duration::from_millis(5));
        }
        let summary = handle.stop();
        assert_eq!(summary.failure.as_deref(), Some("callback bug"));
    }

    #[test]
    fn real_sampler_reads_this_machine() {
        let sample = SystemSampler::new(None).sample();
        if cfg!(target_os = "linux") {
            assert!(sample.report.mem_pressure.is_known(), "{:?}", sample.report.mem_pressure);
            assert!(sample.process_rss_bytes.get().unwrap() > 0);
            assert!(sample.report.top_processes.unknown_reason() == Some("not requested"));
        }
    }
}
