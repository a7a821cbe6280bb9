//! [`HealthReport`], the result of a probe, and the value types its signals carry.
//!
//! The report's top-level fields are the seed's pre-flight variables (`mem_pressure`,
//! `mem_available_pct`, `cpu_speed_limit`, `power_source`, `load_avg_1min`, `num_cores`, the
//! top memory consumers) plus `machine_ram_gb` and the NVIDIA GPUs; the gate and the monitor
//! read only those. The per-platform sections (`linux`, `macos`) keep the raw readings the
//! variables were derived from, for people and for the monitor's counter deltas.
//!
//! The JSON form of a report is also the `--snapshot` format: every field except `schema` may
//! be left out of a hand-written snapshot (it then reads as unknown, "not recorded in the
//! snapshot"), and misspelt fields are rejected rather than silently ignored.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::signal::{Signal, not_recorded};

/// Version of the report's JSON shape. Bump when a field changes meaning or is removed.
pub const REPORT_SCHEMA: u32 = 1;

/// Bytes in one "GB" as the seed uses it (`top_process_rss_gb = RSS KiB / 1048576`, Apple's
/// "16 GB" of unified memory): 2^30.
pub const BYTES_PER_GB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Everything one probe saw. See the module docs for the field layout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthReport {
    /// [`REPORT_SCHEMA`] of the writer.
    pub schema: u32,
    /// `std::env::consts::OS` of the probed machine ("linux", "macos", ...).
    #[serde(default)]
    pub platform: String,
    /// Seconds since the Unix epoch when the probe ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probed_at_unix_s: Option<u64>,
    /// Wall time the probe took, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_ms: Option<f64>,
    /// Seed `mem_pressure`: normal, warn or critical.
    #[serde(default = "not_recorded")]
    pub mem_pressure: Signal<MemPressure>,
    /// Seed `mem_available_pct`: memory the OS can still give a new process, % of
    /// `machine_ram_gb` (0–100).
    #[serde(default = "not_recorded")]
    pub mem_available_pct: Signal<f64>,
    /// Seed `machine_ram_gb`: RAM this workload can use, in GB (2^30 bytes); inside a
    /// memory-limited container, the container's limit.
    #[serde(default = "not_recorded")]
    pub machine_ram_gb: Signal<f64>,
    /// Seed `cpu_speed_limit`: a measured percentage or a thermal level standing in for one.
    #[serde(default = "not_recorded")]
    pub cpu_speed_limit: Signal<SpeedLimit>,
    /// Seed `power_source`.
    #[serde(default = "not_recorded")]
    pub power_source: Signal<PowerSource>,
    /// Seed `load_avg_1min`.
    #[serde(default = "not_recorded")]
    pub load_avg_1min: Signal<f64>,
    /// Seed `num_cores`: CPUs this process may run on (affinity and cgroup quota honoured).
    #[serde(default = "not_recorded")]
    pub num_cores: Signal<u32>,
    /// The largest memory consumers, largest first (at most [`TOP_PROCESS_COUNT`]).
    #[serde(default = "not_recorded")]
    pub top_processes: Signal<Vec<ProcessMemory>>,
    /// NVIDIA GPUs, or why there are none.
    #[serde(default)]
    pub nvidia: NvidiaGpus,
    /// Raw Linux readings the seed variables were derived from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linux: Option<LinuxDetails>,
    /// Raw macOS readings the seed variables were derived from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub macos: Option<MacosDetails>,
}

/// How many memory consumers a report lists (the seed's `head -5`).
pub const TOP_PROCESS_COUNT: usize = 5;

impl HealthReport {
    /// A report with every signal unknown for `reason`; probes fill in what they can.
    pub fn all_unknown(reason: &str, source: &str) -> Self {
        Self {
            schema: REPORT_SCHEMA,
            platform: std::env::consts::OS.to_string(),
            probed_at_unix_s: None,
            probe_ms: None,
            mem_pressure: Signal::unknown(reason, source),
            mem_available_pct: Signal::unknown(reason, source),
            machine_ram_gb: Signal::unknown(reason, source),
            cpu_speed_limit: Signal::unknown(reason, source),
            power_source: Signal::unknown(reason, source),
            load_avg_1min: Signal::unknown(reason, source),
            num_cores: Signal::unknown(reason, source),
            top_processes: Signal::unknown(reason, source),
            nvidia: NvidiaGpus::NotPresent { reason: reason.to_string() },
            linux: None,
            macos: None,
        }
    }

    /// The largest memory consumer (seed `top_process_name` / `top_process_rss_gb`).
    pub fn top_process(&self) -> Option<&ProcessMemory> {
        self.top_processes.value().and_then(|list| list.first())
    }

    /// Seed `cpu_saturation = load_avg_1min / num_cores`; `None` when either is unknown or
    /// the core count is 0.
    pub fn cpu_saturation(&self) -> Option<f64> {
        let load = self.load_avg_1min.get()?;
        let cores = self.num_cores.get().filter(|&c| c > 0)?;
        Some(load / f64::from(cores))
    }
}

/// Seed `mem_pressure`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemPressure {
    Normal,
    Warn,
    Critical,
}

impl MemPressure {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::Warn => "warn",
            Self::Critical => "critical",
        }
    }
}

/// A thermal level, the common scale for platforms that report levels rather than a
/// percentage: Apple's thermal pressure (0 nominal … 4 sleeping) and Linux trip points.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThermalLevel {
    /// Not known to be throttled. On Apple Silicon this is not proof of full speed.
    Nominal,
    /// Throttling has begun, mildly.
    Moderate,
    /// Throttling is significant.
    Heavy,
    /// The system is fighting to stay below its critical temperature.
    Trapping,
    /// The system is about to sleep or shut down to cool.
    Sleeping,
}

impl ThermalLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nominal => "nominal",
            Self::Moderate => "moderate",
            Self::Heavy => "heavy",
            Self::Trapping => "trapping",
            Self::Sleeping => "sleeping",
        }
    }

    /// The range of `cpu_speed_limit` percentages this level stands for, `[low, high)`
    /// (high inclusive for nominal). This mapping is what lets the seed's numeric rules
    /// (< 90, < 70, < 60, < 40) run on level-only platforms; see docs/health.md.
    pub fn speed_range_pct(self) -> (f64, f64) {
        match self {
            Self::Nominal => (90.0, 100.0),
            Self::Moderate => (70.0, 90.0),
            Self::Heavy => (40.0, 70.0),
            Self::Trapping | Self::Sleeping => (0.0, 40.0),
        }
    }
}

/// Seed `cpu_speed_limit`: a measured percentage where the platform gives one (Intel Mac
/// `CPU_Speed_Limit`), otherwise a thermal level standing for a range of percentages.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpeedLimit {
    /// Percent of full speed, 100 = not throttled.
    Percent(f64),
    /// A level; see [`ThermalLevel::speed_range_pct`].
    Level(ThermalLevel),
}

impl SpeedLimit {
    /// Whether the speed may be below `threshold` percent. A percentage compares directly; a
    /// level counts when the lowest speed it stands for is below the threshold, so Moderate
    /// (70–89 %) is below 90 but not below 70, and Heavy (40–69 %) is below 70 and 60 but not
    /// below 40.
    pub fn is_below(self, threshold: f64) -> bool {
        match self {
            Self::Percent(percent) => percent < threshold,
            Self::Level(level) => level.speed_range_pct().0 < threshold,
        }
    }

    /// The speed as the seed's messages print it: "78%", or "about 40–69%" for a level.
    pub fn percent_text(self) -> String {
        match self {
            Self::Percent(percent) => format!("{percent:.0}%"),
            Self::Level(ThermalLevel::Nominal) => "about 90–100%".to_string(),
            Self::Level(level) => {
                let (low, high) = level.speed_range_pct();
                format!("about {low:.0}–{:.0}%", high - 1.0)
            }
        }
    }

    /// What a level-based reading rests on ("thermal level heavy"); `None` for a percentage.
    pub fn basis(self) -> Option<String> {
        match self {
            Self::Percent(_) => None,
            Self::Level(level) => Some(format!("thermal level {}", level.as_str())),
        }
    }
}

/// Seed `power_source`. The gate's battery rules treat UPS power like battery power: in both
/// cases a long run drains a limited reserve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PowerSource {
    Ac,
    Battery,
    Ups,
}

impl PowerSource {
    pub fn is_battery_like(self) -> bool {
        matches!(self, Self::Battery | Self::Ups)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ac => "AC",
            Self::Battery => "battery",
            Self::Ups => "UPS",
        }
    }
}

/// One process and its resident memory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessMemory {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Short name: the executable's file name (macOS `comm` is a full path).
    pub name: String,
    pub rss_bytes: u64,
}

impl ProcessMemory {
    pub fn rss_gb(&self) -> f64 {
        self.rss_bytes as f64 / BYTES_PER_GB
    }
}

/// NVIDIA GPUs seen through NVML or nvidia-smi.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case", deny_unknown_fields)]
pub enum NvidiaGpus {
    /// No NVIDIA driver or GPU on this machine; not an error.
    NotPresent { reason: String },
    /// The driver answered; `devices` may still be empty if it lists none.
    Present { source: String, devices: Vec<GpuDevice> },
    /// A driver is there but could not be queried (timed out, NVML error).
    Unknown { reason: String, source: String },
}

impl Default for NvidiaGpus {
    fn default() -> Self {
        Self::NotPresent { reason: "not recorded in the snapshot".to_string() }
    }
}

impl NvidiaGpus {
    pub fn devices(&self) -> &[GpuDevice] {
        match self {
            Self::Present { devices, .. } => devices,
            _ => &[],
        }
    }
}

/// One NVIDIA GPU. Fields the GPU or driver does not support (`[N/A]`) are absent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuDevice {
    pub index: u32,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_c: Option<f64>,
    /// Temperature at which the GPU starts slowing down (NVML threshold).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slowdown_temperature_c: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_used_mib: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_total_mib: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utilization_pct: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sm_clock_mhz: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sm_clock_max_mhz: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_draw_w: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_limit_w: Option<f64>,
    /// NVML clock-event (formerly "throttle") reason bits, decoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_event_reasons: Option<ClockEventReasons>,
}

/// The clock-event reason bitmask and its names. Only `bits` is trusted when a snapshot is
/// read back; `active` is for people.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockEventReasons {
    pub bits: u64,
    #[serde(default)]
    pub active: Vec<String>,
}

/// `/proc/pressure/*` averages (percent of wall time stalled).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Psi {
    /// Some task stalled.
    pub some: PsiLine,
    /// All non-idle tasks stalled; absent in the CPU file of older kernels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full: Option<PsiLine>,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PsiLine {
    pub avg10: f64,
    pub avg60: f64,
    pub avg300: f64,
    /// Cumulative stall time in microseconds.
    pub total_us: u64,
}

/// `/proc/meminfo` figures the probe uses.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemInfo {
    pub total_bytes: u64,
    /// `MemAvailable`, or `MemFree + Buffers + Cached` on kernels before 3.14.
    pub available_bytes: u64,
    /// Whether `available_bytes` is the kernel's `MemAvailable` (true) or the fallback sum.
    pub available_is_kernel_estimate: bool,
}

/// The memory controller of the cgroup this process lives in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CgroupMemory {
    /// 1 or 2.
    pub version: u8,
    /// Directory the figures were read from.
    pub path: String,
    /// Effective limit (the smallest along the hierarchy); `None` = unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_bytes: Option<u64>,
    /// Page cache the kernel can drop before it has to reclaim harder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactive_file_bytes: Option<u64>,
    /// `memory.events` `oom_kill` (cgroup v2 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oom_kills: Option<u64>,
}

/// One `/sys/class/thermal/thermal_zone*`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThermalZone {
    /// Directory name, e.g. `thermal_zone0`.
    pub zone: String,
    /// The zone's `type`, e.g. `x86_pkg_temp`, `acpitz`.
    pub kind: String,
    pub temp_c: f64,
    /// Enabled trip points (disabled ones, at 0 °C or below, are left out).
    #[serde(default)]
    pub trips: Vec<TripPoint>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TripPoint {
    /// `passive`, `active`, `hot` or `critical`.
    pub kind: String,
    pub temp_c: f64,
}

/// One `/sys/class/power_supply/*`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerSupply {
    pub name: String,
    /// `type`: Mains, Battery, USB, USB_PD, UPS, ...
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online: Option<bool>,
    /// `status`: Charging, Discharging, Full, Not charging, Unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `scope`: `Device` marks a peripheral's battery (a mouse), not the system's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_pct: Option<u32>,
}

/// Raw Linux readings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinuxDetails {
    #[serde(default = "not_recorded")]
    pub psi_memory: Signal<Psi>,
    #[serde(default = "not_recorded")]
    pub psi_cpu: Signal<Psi>,
    #[serde(default = "not_recorded")]
    pub meminfo: Signal<MemInfo>,
    /// Unknown when the process is in no memory-limited cgroup or it cannot be read.
    #[serde(default = "not_recorded")]
    pub cgroup_memory: Signal<CgroupMemory>,
    #[serde(default = "not_recorded")]
    pub thermal_zones: Signal<Vec<ThermalZone>>,
    /// Sum of every Intel `thermal_throttle/*_throttle_count` across CPUs. Monotonic: only
    /// its increase between two probes means anything.
    #[serde(default = "not_recorded")]
    pub throttle_events_total: Signal<u64>,
    #[serde(default = "not_recorded")]
    pub power_supplies: Signal<Vec<PowerSupply>>,
    /// Online CPUs (`/sys/devices/system/cpu/online`), for comparison with `num_cores`.
    #[serde(default = "not_recorded")]
    pub cpus_online: Signal<u32>,
}

/// Raw macOS readings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MacosDetails {
    /// `kern.memorystatus_vm_pressure_level`: 1 normal, 2 warn, 4 critical.
    #[serde(default = "not_recorded")]
    pub vm_pressure_level: Signal<u32>,
    /// `com.apple.system.thermalpressurelevel` (Apple Silicon and recent Intel macOS).
    #[serde(default = "not_recorded")]
    pub thermal_pressure: Signal<ThermalLevel>,
    /// `CPU_Speed_Limit` from `pmset -g therm` (Intel Macs after a throttle event).
    #[serde(default = "not_recorded")]
    pub pmset_cpu_speed_limit: Signal<u32>,
}

/// A snapshot that could not be loaded. Displays as one line naming the file.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error("cannot read health snapshot {}: {source}", .path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("health snapshot {} is not valid JSON: {message}", .path.display())]
    Json { path: PathBuf, message: String },
    #[error(
        "health snapshot {} is not a health report: {message} (record one with `fastpath health --json > FILE`)",
        .path.display()
    )]
    Shape { path: PathBuf, message: String },
}

/// Reads a recorded probe: either a bare [`HealthReport`] or the whole object printed by
/// `fastpath health --json` (whose `report` field holds it).
pub fn load_snapshot(path: &Path) -> Result<HealthReport, HealthError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| HealthError::Read { path: path.to_path_buf(), source })?;
    parse_snapshot(&text).map_err(|err| match err {
        SnapshotError::Json(message) => HealthError::Json { path: path.to_path_buf(), message },
        SnapshotError::Shape(message) => HealthError::Shape { path: path.to_path_buf(), message },
    })
}

enum SnapshotError {
    Json(String),
    Shape(String),
}

fn parse_snapshot(text: &str) -> Result<HealthReport, SnapshotError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|err| SnapshotError::Json(err.to_string()))?;
    let serde_json::Value::Object(mut object) = value else {
        return Err(SnapshotError::Shape("expected a JSON object".to_string()));
    };
    // `fastpath health --json` wraps the report beside the gate verdict.
    if !object.contains_key("schema")
        && let Some(serde_json::Value::Object(inner)) = object.remove("report")
    {
        object = inner;
    }
    match object.get("schema") {
        None => {
            return Err(SnapshotError::Shape(format!(
                "missing field `schema` (expected {REPORT_SCHEMA})"
            )));
        }
        Some(found) if found.as_u64() != Some(u64::from(REPORT_SCHEMA)) => {
            return Err(SnapshotError::Shape(format!(
                "`schema` is {found}, this fastpath reads schema {REPORT_SCHEMA}"
            )));
        }
        Some(_) => {}
    }
    serde_json::from_value(serde_json::Value::Object(object))
        .map_err(|err| SnapshotError::Shape(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_ranges_decide_the_seed_thresholds() {
        use ThermalLevel::*;
        let below = |level, threshold| SpeedLimit::Level(level).is_below(threshold);
        assert!(!below(Nominal, 90.0));
        assert!(below(Moderate, 90.0) && !below(Moderate, 70.0));
        assert!(below(Heavy, 70.0) && below(Heavy, 60.0) && !below(Heavy, 40.0));
        assert!(below(Trapping, 40.0) && below(Sleeping, 40.0));
        assert!(SpeedLimit::Percent(69.9).is_below(70.0));
        assert!(!SpeedLimit::Percent(70.0).is_below(70.0));
    }

    #[test]
    fn speed_text_matches_the_seed_format() {
        assert_eq!(SpeedLimit::Percent(78.0).percent_text(), "78%");
        assert_eq!(SpeedLimit::Level(ThermalLevel::Heavy).percent_text(), "about 40–69%");
        assert_eq!(
            SpeedLimit::Level(ThermalLevel::Heavy).basis().as_deref(),
            Some("thermal level heavy")
        );
    }

    #[test]
    fn report_round_trips_and_minimal_snapshot_fills_unknowns() {
        let mut report = HealthReport::all_unknown("test", "test");
        report.mem_pressure = Signal::known(MemPressure::Warn, "test");
        report.cpu_speed_limit = Signal::known(SpeedLimit::Level(ThermalLevel::Heavy), "test");
        let text = serde_json::to_string(&report).unwrap();
        assert!(text.contains(r#""cpu_speed_limit":{"value":{"level":"heavy"}"#), "{text}");
        assert_eq!(parse_snapshot(&text).ok(), Some(report));

        let minimal = r#"{"schema":1,"mem_pressure":{"value":"critical"}}"#;
        let report = parse_snapshot(minimal).ok().unwrap();
        assert_eq!(report.mem_pressure.get(), Some(MemPressure::Critical));
        assert_eq!(report.power_source.unknown_reason(), Some("not recorded in the snapshot"));
    }

    #[test]
    fn snapshot_errors_say_what_is_wrong() {
        let message = |text: &str| match parse_snapshot(text) {
            Err(SnapshotError::Json(m) | SnapshotError::Shape(m)) => m,
            Ok(_) => panic!("accepted {text}"),
        };
        assert!(message("{").contains("EOF"));
        assert!(message("[1]").contains("expected a JSON object"));
        assert!(message(r#"{"mem_pressure":{"value":"warn"}}"#).contains("missing field `schema`"));
        assert!(message(r#"{"schema":9}"#).contains("`schema` is 9"));
        assert!(message(r#"{"schema":1,"mem_presure":{"value":"warn"}}"#).contains("mem_presure"));
        assert!(message(r#"{"schema":1,"mem_pressure":{"value":"high"}}"#).contains("high"));
    }

    #[test]
    fn snapshot_accepts_the_cli_wrapper_object() {
        let wrapped = r#"{"report":{"schema":1,"num_cores":{"value":8}},"gate":{}}"#;
        assert_eq!(parse_snapshot(wrapped).ok().unwrap().num_cores.get(), Some(8));
    }
}
