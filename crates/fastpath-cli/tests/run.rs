//! `fastpath run` end to end: the built-in workload, the JSON report, each kind of terminal
//! (T0 on the CPU, T1 with its GPU → CPU fallback, T7/T9 with framework code, cloud plans that
//! launch nothing), the health gate (exit 3), the runtime monitor, input files, and one-line
//! errors with exit 2.
//!
//! Health snapshots are written inline (like tests/route.rs) so the gate's verdict does not
//! depend on how busy the test machine is; one test probes the real machine.

mod common;

use std::path::Path;
use std::process::Output;

use common::{stderr, stdout};
use serde_json::Value;

fn route_fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fastpath-route/tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

fn temp_file(name: &str, text: &str) -> String {
    common::temp_file("run", name, text)
}

/// A machine on AC power, cool, idle, with memory to spare: the gate passes.
const HEALTHY: &str = r#"{"schema": 1,
  "mem_pressure": {"value": "normal", "source": "recorded"},
  "mem_available_pct": {"value": 70, "source": "recorded"},
  "cpu_speed_limit": {"value": {"percent": 100}, "source": "recorded"},
  "power_source": {"value": "ac", "source": "recorded"},
  "load_avg_1min": {"value": 0.5, "source": "recorded"},
  "num_cores": {"value": 8, "source": "recorded"}}"#;

fn healthy() -> String {
    temp_file("healthy.json", HEALTHY)
}

fn fastpath(args: &[&str]) -> Output {
    common::fastpath(&[&["run"], args].concat())
}

fn ok(args: &[&str]) -> Output {
    let o = fastpath(args);
    assert!(o.status.success(), "fastpath run {args:?} failed: {}", stderr(&o));
    o
}

/// Runs with a healthy snapshot and `--json`; returns the one JSON object.
fn json(args: &[&str]) -> Value {
    let snapshot = healthy();
    let mut all = args.to_vec();
    all.extend(["--health-snapshot", &snapshot, "--json"]);
    let text = stdout(&ok(&all));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}):\n{text}"))
}

/// Runs a failing command; returns the single error line.
fn fails(args: &[&str], code: i32) -> String {
    common::single_error_line(&format!("fastpath run {args:?}"), &fastpath(args), code)
}

fn result_value(op: &Value, name: &str) -> f64 {
    op["result"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {op}"))["value"]
        .as_f64()
        .unwrap()
}

// ── the built-in workload ──────────────────────────────────────────────────────────────────

#[test]
fn with_no_argument_the_builtin_workload_runs_and_reports() {
    // The real probe of this machine gates it: a machine under critical memory pressure
    // blocks (exit 3), which is correct behaviour with nothing further to check.
    let o = fastpath(&[]);
    if o.status.code() == Some(3) {
        assert!(stderr(&o).starts_with("error: health gate BLOCK: "), "{}", stderr(&o));
        return;
    }
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for needle in [
        "workload  built-in demo (32 operations)",
        "gate      ",
        "decision  T1 ",
        "path      S0 → T1",
        "why       S0.6 local_time_hours <= 4.0",
        "ran on    ",
        "REDUCE_SUM",
        "sum = ",
        "histogram peak bin ",
        "  total     measured ",
        "  estimates kernel cost model",
        "wall time ",
    ] {
        assert!(text.contains(needle), "report lacks {needle:?}:\n{text}");
    }
}

#[test]
fn json_has_the_decision_the_execution_and_the_gate() {
    let v = json(&[]);
    assert_eq!(v["decision"]["terminal"], "T1");
    assert_eq!(v["decision"]["path"], serde_json::json!(["S0", "T1"]));
    assert_eq!(v["gate"]["decision"], "pass");
    assert!(v["gate"]["source"].as_str().unwrap().starts_with("snapshot "));
    assert_eq!(v["launched"], false);
    assert!(v["monitor"].is_null(), "a demo of seconds is not monitored");
    assert!(v["wall_seconds"].as_f64().unwrap() > 0.0);

    let e = &v["execution"];
    // T1 asks for the GPU; on a machine whose only GPU is a software rasterizer (CI's
    // lavapipe) fastpath's CPU kernels are the faster path and the reason says so.
    match e["requested"].as_str().unwrap() {
        "gpu" => {}
        "cpu" => assert!(
            e["requested_reason"].as_str().unwrap().contains("software rasterizer"),
            "{}",
            e["requested_reason"]
        ),
        other => panic!("requested {other}"),
    }
    let ran = e["operations"].as_array().unwrap();
    let skipped = e["skipped"].as_array().unwrap();
    assert_eq!(ran.len() + skipped.len(), 32, "every operation ran or was skipped");
    assert!(e["failed"].as_array().unwrap().is_empty());
    assert!(ran.len() >= 14, "at least the reductions and fused map-reduce run");
    for op in ran {
        assert!(!op["kernels"].as_array().unwrap().is_empty());
        assert!(op["device"] == "gpu" || op["device"] == "cpu");
        assert!(op["seconds"].as_f64().unwrap() >= 0.0);
        assert!(op["estimate_seconds"].as_f64().unwrap() > 0.0);
        assert!(!op["estimate_source"].as_str().unwrap().is_empty());
        assert!(!op["result"]["text"].as_str().unwrap().is_empty(), "{op}");
    }
    for s in skipped {
        assert!(s["reason"].as_str().unwrap().contains("not implemented yet"), "{s}");
    }
    // sum and mean read the same seeded array.
    let by_op = |name: &str| ran.iter().find(|o| o["op"] == name).unwrap();
    let sum = result_value(by_op("sum"), "sum");
    let mean = result_value(by_op("mean"), "mean");
    assert!((sum / (1 << 22) as f64 - mean).abs() < 1e-4, "{sum} vs {mean}");
    assert_eq!(result_value(by_op("histogram"), "histogram.total"), (1 << 22) as f64);
    // The rate source estimated the implemented kernels from their cost models.
    assert_eq!(by_op("sum")["estimate_source"], "kernel cost model");
    // Same seed, same numbers; another seed, other numbers.
    let again = json(&[]);
    let other = json(&["--seed", "7"]);
    let sum_of = |v: &Value| {
        let ops = v["execution"]["operations"].as_array().unwrap().clone();
        result_value(ops.iter().find(|o| o["op"] == "sum").unwrap(), "sum")
    };
    assert_eq!(sum_of(&again), sum);
    assert_ne!(sum_of(&other), sum);
}

// ── terminals ──────────────────────────────────────────────────────────────────────────────

#[test]
fn a_t0_workload_runs_inline_on_the_cpu() {
    let v = json(&["--op", "sum:200", "--op", "threshold_count:200:threshold=1"]);
    assert_eq!(v["decision"]["terminal"], "T0");
    let e = &v["execution"];
    assert_eq!(e["requested"], "cpu");
    assert_eq!(e["device"], "cpu");
    assert!(e["fallback"].is_null());
    let ops = e["operations"].as_array().unwrap();
    assert_eq!(ops.len(), 2);
    assert!(ops.iter().all(|o| o["device"] == "cpu"));
    let count = result_value(&ops[1], "threshold_count");
    assert!((0.0..=200.0).contains(&count) && count.fract() == 0.0, "{count}");
}

#[test]
fn a_cloud_terminal_prints_the_plan_and_launches_nothing() {
    let snapshot = healthy();
    let train = route_fixture("train7b.json");
    let args = ["--machine", "m5", "--prices", "seed", "--health-snapshot", &snapshot];
    let mut human = vec![train.as_str()];
    human.extend(args);
    let text = stdout(&ok(&human));
    assert!(text.contains("decision  T3 LAMBDA_H100"), "{text}");
    assert!(text.contains("cloud plan      1 x Lambda gpu_8x_h100_sxm5"), "{text}");
    assert!(text.contains("Nothing was launched"), "{text}");
    assert!(!text.contains("ran on"), "{text}");

    let mut with_json = human.clone();
    with_json.push("--json");
    let v: Value = serde_json::from_str(&stdout(&ok(&with_json))).unwrap();
    assert_eq!(v["decision"]["terminal"], "T3");
    assert!(v["execution"].is_null());
    assert_eq!(v["launched"], false);
    assert_eq!(v["decision"]["plan"]["cloud"]["provider"], "Lambda");
}

#[test]
fn a_t1_workload_falls_back_to_the_cpu_when_the_gpu_cannot_be_opened() {
    let snapshot = healthy();
    let args = [
        "--adapter",
        "no-such-gpu",
        "--op",
        "sum:2000000",
        "--python-acceptable=false",
        "--health-snapshot",
        &snapshot,
    ];
    let o = ok(&args);
    let text = stdout(&o);
    assert!(text.contains("decision  T1 "), "{text}");
    assert!(text.contains("fallback: GPU unavailable"), "{text}");
    assert!(text.contains("sum = "), "{text}");
    let err = stderr(&o);
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning: ")).collect();
    assert_eq!(warnings.len(), 1, "one warning line: {err}");
    assert!(
        warnings[0].contains("no-such-gpu") && warnings[0].ends_with("running on the CPU instead"),
        "{err}"
    );

    let mut with_json = args.to_vec();
    with_json.push("--json");
    let v: Value = serde_json::from_str(&stdout(&ok(&with_json))).unwrap();
    let e = &v["execution"];
    assert_eq!((e["requested"].as_str(), e["device"].as_str()), (Some("gpu"), Some("cpu")));
    assert!(e["fallback"].as_str().unwrap().contains("no-such-gpu"));
    assert_eq!(e["warnings"].as_array().unwrap().len(), 1);
    assert_eq!(e["operations"][0]["device"], "cpu");
}

#[test]
fn backend_flag_overrides_the_route() {
    let v = json(&["--op", "sum:2000000", "--python-acceptable=false", "--backend", "cpu"]);
    assert_eq!(v["decision"]["terminal"], "T1");
    assert_eq!(v["execution"]["requested"], "cpu");
    assert_eq!(v["execution"]["requested_reason"], "--backend cpu");
    assert_eq!(v["execution"]["operations"][0]["device"], "cpu");
}

#[test]
fn framework_terminals_print_the_code_and_run_on_fastpaths_kernels() {
    // T7: every operation has an MLX equivalent and Python is fine.
    let snapshot = healthy();
    let text = stdout(&ok(&["--op", "sum:100000", "--health-snapshot", &snapshot]));
    assert!(text.contains("decision  T7 "), "{text}");
    assert!(text.contains("MLX code (the route's plan; not run here)"), "{text}");
    assert!(text.contains("mx.sum("), "{text}");
    assert!(text.contains("its own kernels run the same operations below"), "{text}");
    assert!(text.contains("sum = "), "{text}");

    // T9: the per-stage split is shown, and operations are labelled by stage.
    let t9 = [
        "--op",
        "matmul:8x8x8",
        "--op",
        "histogram:1000",
        "--mlx-coverage",
        "most",
        "--health-snapshot",
        &snapshot,
    ];
    let text = stdout(&ok(&t9));
    assert!(text.contains("decision  T9 "), "{text}");
    assert!(text.contains("stages (the route's split)"), "{text}");
    assert!(text.contains("stage 1 — MLX:"), "{text}");
    assert!(text.contains("stage 2 — fastpath GPU kernels:"), "{text}");
    assert!(text.contains("stage 2 (fastpath GPU kernels)"), "{text}");
    let mut with_json = t9.to_vec();
    with_json.push("--json");
    let v: Value = serde_json::from_str(&stdout(&ok(&with_json))).unwrap();
    let hist = v["execution"]["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["op"] == "histogram")
        .cloned()
        .unwrap();
    assert_eq!(hist["stage"], "stage 2 (fastpath GPU kernels)");
}

// ── health: gate, advice, monitor ──────────────────────────────────────────────────────────

#[test]
fn critical_memory_pressure_blocks_with_exit_3() {
    let snapshot = temp_file(
        "critical.json",
        r#"{"schema": 1, "mem_pressure": {"value": "critical", "source": "recorded"},
            "top_processes": {"value": [{"name": "Google Chrome", "rss_bytes": 6657199308}], "source": "recorded"}}"#,
    );
    for extra in [None, Some("--json")] {
        let mut args = vec!["--health-snapshot", snapshot.as_str()];
        args.extend(extra);
        let err = fails(&args, 3);
        assert_eq!(
            err,
            "health gate BLOCK: System memory is critical — 6.2 GB used by Google Chrome. Close applications or reduce working set before proceeding."
        );
    }
}

#[test]
fn long_work_gets_the_ventilation_advice_upfront_and_the_runtime_monitor() {
    // An hour of estimated work (given) on 200 elements: T0 runs in microseconds, but the
    // advice and the monitor follow the estimate.
    let snapshot = healthy();
    let args = ["--op", "sum:200", "--local-time-hours", "1", "--health-snapshot", &snapshot];
    let text = stdout(&ok(&args));
    let advice = text.find(
        "advice: This workload is estimated at 1.0h of sustained compute: plug into AC power",
    );
    let ran = text.find("ran on ");
    assert!(advice.is_some() && advice < ran, "advice comes before the run:\n{text}");
    assert!(text.contains("monitor   checked every 2 min (0 checks, 0 warnings)"), "{text}");

    let v = json(&["--op", "sum:200", "--local-time-hours", "1"]);
    assert_eq!(v["monitor"]["interval_s"], 120.0);
    assert!(v["monitor"]["warnings"].as_array().unwrap().is_empty());
    let rules: Vec<&str> = v["gate"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"long-run-advice"), "{rules:?}");
}

// ── inputs and errors ──────────────────────────────────────────────────────────────────────

#[test]
fn an_input_file_replaces_the_synthetic_data() {
    let path = common::temp_dir("run").join("four.npy");
    let array = fastpath_kernels::HostArray::vec_f32(vec![1.0, 2.0, 3.0, 4.5]);
    fastpath_kernels::npy::write(&path, &array).unwrap();
    let input = format!("1={}", path.display());
    let v = json(&["--op", "sum:4", "--op", "max:4", "--input", &input]);
    let ops = v["execution"]["operations"].as_array().unwrap();
    assert_eq!(result_value(&ops[0], "sum"), 10.5);
    assert!(ops[0]["input"].as_str().unwrap().ends_with("four.npy"));
    assert!(ops[1]["input"].as_str().unwrap().starts_with("synthetic (seed 0)"));

    // By name, too; and the file must match the operation.
    let by_name = format!("max={}", path.display());
    let v = json(&["--op", "sum:4", "--op", "max:4", "--input", &by_name]);
    assert_eq!(result_value(&v["execution"]["operations"][1], "max"), 4.5);
    let err = fails(&["--op", "sum:5", "--input", &input], 2);
    assert!(err.contains("holds f32 [4]; sum [5] f32 reads f32 with 5 elements"), "{err}");
    let err = fails(&["--op", "sum:4", "--input", "3=x.npy"], 2);
    assert_eq!(err, "--input '3=x.npy': there is no operation 3 (the workload has 1)");
    let err = fails(&["--op", "sum:4", "--input", "1=no-such-file.npy"], 2);
    assert!(err.starts_with("input file no-such-file.npy: "), "{err}");
}

#[test]
fn bad_workloads_are_one_line_with_exit_2() {
    let err = fails(&[&route_fixture("bad_unknown_key.toml")], 2);
    assert!(err.contains("bad_unknown_key.toml"), "{err}");
    let err = fails(&[&route_fixture("bad_syntax.toml")], 2);
    assert!(err.contains("TOML"), "{err}");
    let err = fails(&["no-such-workload.toml"], 2);
    assert!(err.starts_with("no-such-workload.toml: cannot read workload file"), "{err}");
    let err = fails(&["--op", "sotr:100"], 2);
    assert!(err.contains("did you mean 'sort'"), "{err}");
    // Usage errors are clap's (exit 2 with its own hint line).
    let o = fastpath(&["--backend", "tpu"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown backend \"tpu\"; expected cpu, gpu or auto"),
        "{}",
        stderr(&o)
    );
}
