//! Readers: the thin layer that reads files, runs commands and calls libraries, then hands the
//! text to the pure parsers in [`crate::parse`].
//!
//! Readers run concurrently, one thread per group of signals, under one deadline for the
//! whole probe: a reader still busy at the deadline (a hung `/sys` read, a slow driver) is
//! abandoned and its signals read as unknown, "timed out". That keeps a probe near the
//! slowest reader (a few ms for files, ~10 ms for a macOS command) and never over the limit.

pub(crate) mod linux;
pub(crate) mod macos;
pub(crate) mod nvidia;

use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::command::format_duration;
use crate::report::HealthReport;
use crate::signal::Signal;

/// The longest a probe may take; readers still running then are reported as timed out.
pub const PROBE_TIME_LIMIT: Duration = Duration::from_secs(2);

/// What to probe. The default probes everything under [`PROBE_TIME_LIMIT`].
#[derive(Clone, Debug)]
pub struct ProbeOptions {
    /// List the largest memory consumers (reads every `/proc/<pid>/stat` or runs `ps`).
    pub top_processes: bool,
    /// Query NVIDIA GPUs (NVML or nvidia-smi).
    pub nvidia: bool,
    /// Deadline for the whole probe.
    pub time_limit: Duration,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        Self { top_processes: true, nvidia: true, time_limit: PROBE_TIME_LIMIT }
    }
}

/// Probes this machine: every signal the platform offers, each known or unknown with its
/// reason. Never panics and returns within about two seconds.
pub fn probe() -> HealthReport {
    probe_with(&ProbeOptions::default())
}

/// [`probe`] with options (the runtime monitor skips the process list).
pub fn probe_with(options: &ProbeOptions) -> HealthReport {
    let started = Instant::now();
    let deadline = started + options.time_limit;
    let mut report = match std::env::consts::OS {
        "linux" => linux::probe(&linux::LinuxRoots::system(), options, deadline),
        "macos" => macos::probe(options, deadline),
        other => HealthReport::all_unknown(
            &format!("no health probe for {other} yet (Linux and macOS are supported)"),
            other,
        ),
    };
    report.probed_at_unix_s =
        SystemTime::now().duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs());
    report.probe_ms = Some((started.elapsed().as_secs_f64() * 1000.0 * 100.0).round() / 100.0);
    report
}

/// The resident memory of process `pid` in bytes (the monitor's "process RSS" rule).
pub fn process_rss_bytes(pid: u32) -> Signal<u64> {
    match std::env::consts::OS {
        "linux" => linux::process_rss_bytes(&linux::LinuxRoots::system(), pid),
        "macos" => macos::process_rss_bytes(pid, PROBE_TIME_LIMIT),
        other => Signal::unknown(format!("no process memory reader for {other}"), other),
    }
}

/// `num_cores`: CPUs this process may use. `available_parallelism` honours the affinity mask
/// and the cgroup CPU quota, which a container's `/proc/cpuinfo` does not.
pub(crate) fn available_cores() -> Signal<u32> {
    match std::thread::available_parallelism() {
        Ok(n) => Signal::known(
            u32::try_from(n.get()).unwrap_or(u32::MAX),
            "std::thread::available_parallelism (affinity and cgroup quota)",
        ),
        Err(err) => Signal::unknown(err.to_string(), "std::thread::available_parallelism"),
    }
}

/// A reader running on its own thread.
pub(crate) struct Pending<T> {
    receiver: Option<mpsc::Receiver<T>>,
    spawn_error: Option<String>,
}

/// Starts `read` on a new thread; [`Pending::wait`] collects it by a deadline.
pub(crate) fn spawn_reader<T: Send + 'static>(
    what: &str,
    read: impl FnOnce() -> T + Send + 'static,
) -> Pending<T> {
    let (sender, receiver) = mpsc::channel();
    let spawned =
        std::thread::Builder::new().name(format!("fastpath-health-{what}")).spawn(move || {
            // The receiver may be gone (deadline passed); nothing to do then.
            let _ = sender.send(read());
        });
    match spawned {
        Ok(_) => Pending { receiver: Some(receiver), spawn_error: None },
        Err(err) => Pending {
            receiver: None,
            spawn_error: Some(format!("could not start a probe thread: {err}")),
        },
    }
}

impl<T> Pending<T> {
    /// The reader's result, or why there is none (timed out at `deadline`, thread failed).
    pub(crate) fn wait(self, deadline: Instant, limit: Duration) -> Result<T, String> {
        if let Some(err) = self.spawn_error {
            return Err(err);
        }
        let receiver = self.receiver.expect("receiver present when spawned");
        let remaining = deadline.saturating_duration_since(Instant::now());
        receiver.recv_timeout(remaining).map_err(|err| match err {
            mpsc::RecvTimeoutError::Timeout => {
                format!("timed out: the probe's {} limit passed first", format_duration(limit))
            }
            mpsc::RecvTimeoutError::Disconnected => "the reader thread failed".to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_past_the_deadline_is_reported_not_awaited() {
        let slow = spawn_reader("test-slow", || {
            std::thread::sleep(Duration::from_secs(3));
            1
        });
        let fast = spawn_reader("test-fast", || 2);
        let started = Instant::now();
        let deadline = started + Duration::from_millis(100);
        assert_eq!(fast.wait(deadline, Duration::from_millis(100)), Ok(2));
        let err = slow.wait(deadline, Duration::from_millis(100)).unwrap_err();
        assert_eq!(err, "timed out: the probe's 100 ms limit passed first");
        assert!(started.elapsed() < Duration::from_secs(2), "waited {:?}", started.elapsed());
    }

    #[test]
    fn a_panicking_reader_is_a_reason() {
        let pending = spawn_reader("test-panic", || -> u32 { panic!("reader bug") });
        let err =
            pending.wait(Instant::now() + Duration::from_secs(5), PROBE_TIME_LIMIT).unwrap_err();
        assert_eq!(err, "the reader thread failed");
    }
}
