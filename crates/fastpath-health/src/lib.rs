//! fastpath-health: is this machine in a state to run heavy compute right now, and does it
//! stay that way while the work runs?
//!
//! Three parts, each usable alone:
//!
//! - **Probe** — [`probe()`] reads memory pressure, available memory, RAM, thermal state, power
//!   source, load, cores, the largest memory consumers and NVIDIA GPUs into a
//!   [`HealthReport`]. Every reading is a [`Signal`]: a value with its source, or "unknown"
//!   with the reason, so "healthy" and "could not look" never blur. The probe never panics,
//!   runs its readers concurrently and gives up on any reader after [`PROBE_TIME_LIMIT`].
//!   Readers are thin (a file read, a command run directly with a timeout, one library
//!   call); the parsing is in pure functions tested on recorded outputs, macOS included.
//! - **Gate** — [`gate()`] applies the seed's pre-flight rules to a report and returns a
//!   [`GateVerdict`]: pass, warn (with every warning that applies) or block. Reports
//!   serialize to JSON and [`load_snapshot`] reads them back, so a gate decision can be
//!   reproduced from a recorded probe (`fastpath health --snapshot FILE`).
//! - **Monitor** — [`Monitor::spawn`] watches a long run on a background thread (every 30 s,
//!   or 2 min for runs of 10 min and more) and reports throttling, rising memory pressure and
//!   a process nearing the RAM ceiling to a callback and the log. It never touches the work,
//!   and stops when its [`MonitorHandle`] is stopped or dropped.
//!
//! Why not the seed's commands verbatim: on Apple Silicon `memory_pressure | head -1` prints
//! the RAM size, not the level, and `CPU_Speed_Limit` does not exist. The probe reads what
//! the seed meant (`kern.memorystatus_vm_pressure_level`, the thermal pressure level) and
//! maps platform signals onto the seed's variables; `docs/health.md` lists each mapping,
//! threshold and deviation.
//!
//! ```no_run
//! use fastpath_health::{GateInputs, gate, probe};
//!
//! let report = probe();
//! let verdict = gate(&report, &GateInputs { data_size_gb: 4.0, machine_ram_gb: None, local_time_hours: Some(0.2) });
//! for message in &verdict.messages {
//!     println!("{:?} {}: {}", message.level, message.rule, message.text);
//! }
//! if verdict.blocked() {
//!     std::process::exit(3);
//! }
//! ```

mod command;
pub mod gate;
mod guidance;
pub mod monitor;
mod parse;
mod probe;
mod report;
mod signal;

pub use gate::{GateDecision, GateInputs, GateMessage, GateVerdict, MessageLevel, gate};
pub use guidance::{LONG_RUN_HOURS, cooling_guidance, long_run_advice};
pub use monitor::{
    ManualClock, Monitor, MonitorClock, MonitorConfig, MonitorEvent, MonitorHandle, MonitorSample,
    MonitorState, MonitorSummary, MonitorWarning, Sampler, SystemClock, SystemSampler,
};
pub use probe::{PROBE_TIME_LIMIT, ProbeOptions, probe, probe_with, process_rss_bytes};
pub use report::{
    BYTES_PER_GB, CgroupMemory, ClockEventReasons, GpuDevice, HealthError, HealthReport,
    LinuxDetails, MacosDetails, MemInfo, MemPressure, NvidiaGpus, PowerSource, PowerSupply,
    ProcessMemory, Psi, PsiLine, REPORT_SCHEMA, SpeedLimit, TOP_PROCESS_COUNT, ThermalLevel,
    ThermalZone, TripPoint, load_snapshot,
};
pub use signal::Signal;
