//! The runtime monitor's warnings reach the log (`tracing`) as well as the callback. Its own
//! test binary, because it installs a global log subscriber.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fastpath_health::{
    HealthReport, ManualClock, MemPressure, Monitor, MonitorConfig, MonitorEvent, MonitorSample,
    Signal,
};

#[derive(Clone, Default)]
struct SharedLog(Arc<Mutex<Vec<u8>>>);

impl Write for SharedLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn critical_sample() -> MonitorSample {
    let mut report = HealthReport::all_unknown("unused", "test");
    report.mem_pressure = Signal::known(MemPressure::Critical, "test");
    MonitorSample { report, process_rss_bytes: Signal::unknown("unused", "test") }
}

fn run_one_check(config: MonitorConfig) -> usize {
    let clock = Arc::new(ManualClock::new());
    let warnings = Arc::new(Mutex::new(0usize));
    let counter = warnings.clone();
    let handle = Monitor::spawn_with(
        config,
        critical_sample,
        clock.clone(),
        move |event: &MonitorEvent<'_>| {
            if let MonitorEvent::Warning(_) = event {
                *counter.lock().unwrap() += 1;
            }
        },
    )
    .unwrap();
    assert!(clock.wait_for_parked(Duration::from_secs(10)));
    clock.advance(Duration::from_secs(30));
    assert!(clock.wait_for_parked(Duration::from_secs(10)));
    handle.stop();
    *warnings.lock().unwrap()
}

#[test]
fn warnings_go_to_the_log_unless_the_caller_prints_them() {
    let log = SharedLog::default();
    let writer = log.clone();
    tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).init();

    assert_eq!(run_one_check(MonitorConfig::every(Duration::from_secs(30))), 1);
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("WARN"), "{text}");
    assert!(text.contains("fastpath_health::monitor"), "{text}");
    assert!(text.contains("rule=runtime-memory-critical"), "{text}");
    assert!(
        text.contains(
            "Memory critical — system will be unresponsive. Consider terminating workload."
        ),
        "{text}"
    );

    log.0.lock().unwrap().clear();
    let mut quiet = MonitorConfig::every(Duration::from_secs(30));
    quiet.log_warnings = false;
    assert_eq!(run_one_check(quiet), 1, "the callback still gets it");
    assert!(log.0.lock().unwrap().is_empty());
}
