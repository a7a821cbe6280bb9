//! `fastpath health` end to end: the real probe of the machine running the tests, gate
//! decisions reproduced from snapshot files, bad input, and a short live watch.

mod common;

use std::path::PathBuf;
use std::process::Output;

use common::{fastpath, stderr, stdout};

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|err| panic!("stdout is not JSON ({err}): {}", stdout(output)))
}

fn snapshot(name: &str, contents: &str) -> PathBuf {
    PathBuf::from(common::temp_file("health", name, contents))
}

/// A 16 GB laptop on battery with warn pressure and a heavy thermal level, Chrome on top.
const WARM_LAPTOP: &str = r#"{
  "schema": 1,
  "platform": "macos",
  "mem_pressure": {"value": "warn", "source": "recorded"},
  "mem_available_pct": {"value": 40, "source": "recorded"},
  "machine_ram_gb": {"value": 16, "source": "recorded"},
  "cpu_speed_limit": {"value": {"percent": 78}, "source": "recorded"},
  "power_source": {"value": "battery", "source": "recorded"},
  "load_avg_1min": {"value": 4.0, "source": "recorded"},
  "num_cores": {"value": 10, "source": "recorded"},
  "top_processes": {"value": [{"pid": 412, "name": "Google Chrome", "rss_bytes": 3221225472}], "source": "recorded"}
}"#;

#[test]
fn real_probe_json_has_report_gate_and_inputs() {
    let output = fastpath(&["health", "--json"]);
    let code = output.status.code();
    assert!(matches!(code, Some(0 | 3)), "exit {code:?}, stderr: {}", stderr(&output));
    let value = json(&output);
    assert_eq!(value["report"]["schema"], 1);
    assert_eq!(value["report"]["platform"], std::env::consts::OS);
    assert!(["pass", "warn", "block"].contains(&value["gate"]["decision"].as_str().unwrap()));
    assert_eq!(value["inputs"]["data_size_gb"], 0.0);
    for field in ["mem_pressure", "cpu_speed_limit", "power_source", "load_avg_1min", "num_cores"] {
        let signal = &value["report"][field];
        assert!(
            signal.get("value").is_some() ^ signal.get("unknown").is_some(),
            "{field}: {signal}"
        );
    }
    if cfg!(target_os = "linux") {
        assert!(value["report"]["mem_pressure"]["value"].is_string(), "Linux always has /proc");
        assert!(value["report"]["nvidia"]["status"].is_string());
    }
    if code == Some(0) {
        assert!(
            stderr(&output).is_empty(),
            "--json keeps stderr quiet on success: {}",
            stderr(&output)
        );
    }
}

#[test]
fn real_probe_human_output_lists_signals_and_the_gate() {
    let output = fastpath(&["health"]);
    assert!(matches!(output.status.code(), Some(0 | 3)), "{}", stderr(&output));
    let text = stdout(&output);
    for label in [
        "memory pressure",
        "memory available",
        "CPU speed limit",
        "power source",
        "load (1 min)",
        "cores",
        "NVIDIA GPUs",
        "gate: ",
    ] {
        assert!(text.contains(label), "missing {label:?} in:\n{text}");
    }
}

#[test]
fn recorded_probe_round_trips_through_snapshot() {
    let recorded = fastpath(&["health", "--json"]);
    let path = snapshot("recorded.json", &stdout(&recorded));
    let replayed = fastpath(&["health", "--json", "--snapshot", path.to_str().unwrap()]);
    assert_eq!(json(&replayed)["report"], json(&recorded)["report"]);
    assert_eq!(json(&replayed)["gate"], json(&recorded)["gate"]);
}

#[test]
fn snapshot_gate_reports_every_warning_with_numbers() {
    let path = snapshot("warm.json", WARM_LAPTOP);
    let output = fastpath(&[
        "health",
        "--json",
        "--snapshot",
        path.to_str().unwrap(),
        "--data-size-gb",
        "3.3",
        "--hours",
        "0.8",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let value = json(&output);
    assert_eq!(value["gate"]["decision"], "warn");
    let rules: Vec<&str> = value["gate"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["rule"].as_str().unwrap())
        .collect();
    // 40 % of 16 GB × 0.5 = 3.2 GB < 3.3 GB; 78 % on battery; 0.8 h on battery.
    assert_eq!(
        rules,
        ["memory-pressure", "battery-throttle", "battery-long-run", "long-run-advice"]
    );
    assert_eq!(
        value["gate"]["messages"][0]["text"],
        "Memory pressure is elevated. This workload may cause swapping and degrade the entire system. Consider closing Google Chrome (3.0 GB) first."
    );
    assert_eq!(
        value["gate"]["messages"][1]["text"],
        "Running on battery with mild thermal throttle (78%). Plug in for sustained performance — battery mode caps power delivery."
    );
    assert_eq!(value["gate"]["guidance"].as_array().unwrap().len(), 5);
}

#[test]
fn battery_run_time_boundary_through_the_cli() {
    let path =
        snapshot("battery.json", &WARM_LAPTOP.replace(r#"{"percent": 78}"#, r#"{"percent": 100}"#));
    let rules_for = |hours: &str| {
        let output =
            fastpath(&["health", "--json", "--snapshot", path.to_str().unwrap(), "--hours", hours]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        json(&output)["gate"]["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["rule"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert!(rules_for("0.5").is_empty(), "exactly 0.5 h is not over 0.5 h");
    assert_eq!(
        rules_for("0.3"),
        Vec::<String>::new(),
        "seed example 6's 0.3 h: the rule, not the example"
    );
    assert_eq!(rules_for("0.6"), ["battery-long-run", "long-run-advice"]);
}

#[test]
fn critical_snapshot_blocks_with_exit_3_and_one_error_line() {
    let path = snapshot(
        "critical.json",
        &WARM_LAPTOP.replace(r#""value": "warn""#, r#""value": "critical""#),
    );
    let output = fastpath(&["health", "--snapshot", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(
        stderr(&output),
        "error: health gate blocked: System memory is critical — 3.0 GB used by Google Chrome. Close applications or reduce working set before proceeding.\n"
    );
    let text = stdout(&output);
    assert!(text.contains("gate: BLOCK"), "{text}");
    assert!(text.contains(&format!("snapshot {}", path.display())), "{text}");

    // --json still prints the verdict on stdout.
    let output = fastpath(&["health", "--json", "--snapshot", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(json(&output)["gate"]["decision"], "block");
}

#[test]
fn bad_snapshots_exit_2_with_one_line() {
    let missing = std::env::temp_dir().join("fastpath-no-such-health-snapshot.json");
    let garbage = snapshot("garbage.json", "{ this is not json");
    let typo = snapshot("typo.json", r#"{"schema": 1, "mem_presure": {"value": "warn"}}"#);
    for (path, expected) in [
        (&missing, "cannot read health snapshot"),
        (&garbage, "is not valid JSON"),
        (&typo, "unknown field `mem_presure`"),
    ] {
        let output = fastpath(&["health", "--snapshot", path.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        let err = stderr(&output);
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.starts_with("error: ") && err.contains(expected), "{err}");
        assert!(stdout(&output).is_empty());
    }
}

#[test]
fn bad_numbers_exit_2_with_one_line() {
    for (args, expected) in [
        (vec!["--hours=-1"], "--hours must be a number ≥ 0, got -1"),
        (vec!["--data-size-gb", "NaN"], "--data-size-gb must be a number ≥ 0, got NaN"),
        (vec!["--ram-gb", "0"], "--ram-gb must be a number > 0, got 0"),
        (vec!["--watch", "0"], "--watch must be at least 1 second"),
    ] {
        let mut full = vec!["health"];
        full.extend(args);
        let output = fastpath(&full);
        assert_eq!(output.status.code(), Some(2), "{full:?}: {}", stderr(&output));
        assert_eq!(stderr(&output), format!("error: {expected}\n"));
    }
    // clap rejects a snapshot that is asked to be watched.
    let output = fastpath(&["health", "--snapshot", "x.json", "--watch", "5"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("cannot be used with"), "{}", stderr(&output));
}

#[test]
fn watch_runs_the_monitor_for_count_checks() {
    let output = fastpath(&["health", "--json", "--watch", "1", "--count", "2"]);
    assert!(matches!(output.status.code(), Some(0 | 3)), "{}", stderr(&output));
    let lines: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    assert!(lines[0].get("gate").is_some(), "first line: the probe and gate");
    let samples: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["event"] == "sample").collect();
    assert_eq!(samples.len(), 2);
    assert_eq!(samples[0]["elapsed_s"].as_f64().map(f64::round), Some(1.0));
    assert_eq!(samples[1]["elapsed_s"].as_f64().map(f64::round), Some(2.0));
    if cfg!(target_os = "linux") {
        assert!(samples[0]["process_rss_bytes"]["value"].as_u64().unwrap() > 0);
    }

    let output = fastpath(&["health", "--watch", "1", "--count", "1"]);
    let text = stdout(&output);
    assert!(text.contains("watching: one check every 1 s, 1 check\n"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("[+1s] memory ")), "{text}");
}

#[test]
fn help_teaches_the_inputs() {
    let output = fastpath(&["health", "--help"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    for needle in [
        "--snapshot <FILE>",
        "--watch <SECONDS>",
        "--data-size-gb <GB>",
        "--hours <HOURS>",
        "available % × RAM × 0.5",
        "Exit status",
    ] {
        assert!(text.contains(needle), "--help lacks {needle:?}:\n{text}");
    }
}
