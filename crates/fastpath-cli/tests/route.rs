//! `fastpath route` end to end: the worked examples, JSON contract, flags equivalent to files,
//! one-line errors with exit 2, the health gate (exit 3 on BLOCK), and snapshots of the human
//! report for several terminals.
//!
//! Snapshots live in crates/fastpath-route/tests/snapshots/; regenerate after an intended
//! change with `UPDATE_SNAPSHOTS=1 cargo test -p fastpath-cli --test route` and review the diff.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{stderr, stdout};
use serde_json::Value;

fn route_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fastpath-route/tests")
}

fn fixture(name: &str) -> String {
    route_dir().join("fixtures").join(name).display().to_string()
}

fn fastpath(args: &[&str]) -> Output {
    common::fastpath(&[&["route"], args].concat())
}

fn ok(args: &[&str]) -> String {
    let o = fastpath(args);
    assert!(o.status.success(), "fastpath route {args:?} failed: {}", stderr(&o));
    stdout(&o)
}

/// For commands that probe this machine: its real health gate may block (exit 3) on a
/// machine under critical memory pressure. That is correct behaviour, not a failure; the
/// caller then has nothing to check.
fn ok_unless_blocked(args: &[&str]) -> Option<String> {
    let o = fastpath(args);
    if o.status.code() == Some(3) {
        assert!(stderr(&o).starts_with("error: health gate BLOCK: "), "{}", stderr(&o));
        return None;
    }
    assert!(o.status.success(), "fastpath route {args:?} failed: {}", stderr(&o));
    Some(stdout(&o))
}

fn json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let text = ok(&all);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("stdout is not only JSON ({e}):\n{text}"))
}

/// Runs a failing command; returns the single error line.
fn fails(args: &[&str], code: i32) -> String {
    common::single_error_line(&format!("fastpath route {args:?}"), &fastpath(args), code)
}

fn check_snapshot(name: &str, actual: &str) {
    let path = route_dir().join("snapshots").join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("{}: {e}; run with UPDATE_SNAPSHOTS=1 to create it", path.display())
    });
    if expected != actual {
        let line = expected.lines().zip(actual.lines()).position(|(a, b)| a != b).unwrap_or(0);
        panic!(
            "{} differs at line {}:\n  expected: {:?}\n  actual:   {:?}\n(UPDATE_SNAPSHOTS=1 regenerates it)",
            path.display(),
            line + 1,
            expected.lines().nth(line),
            actual.lines().nth(line)
        );
    }
}

fn temp_file(name: &str, text: &str) -> String {
    common::temp_file("route", name, text)
}

// ── worked examples ────────────────────────────────────────────────────────────────────────

#[test]
fn examples_print_every_worked_example_as_the_library_renders_it() {
    let text = ok(&["--examples"]);
    assert!(
        text.starts_with("The seed's worked examples, decided by fastpath (prices: seed (undated)")
    );
    let body = text.split_once("\n\n").map(|(_, b)| b).unwrap();
    let expected = std::fs::read_to_string(route_dir().join("snapshots/examples.txt")).unwrap();
    assert_eq!(body, expected, "--examples prints fastpath_route::render_example for each example");
    assert_eq!(text.matches("\nExample ").count(), 12);
    assert!(text.contains("fastpath:  S0 → S7 → T9 MLX_METAL_HYBRID (same path as the seed)"));
    assert!(text.contains(
        "stage 1 (MLX):                   matmul [64, 768, 1000000] f32: mx.matmul(a, b)"
    ));
    assert!(text.contains("Local estimate: 340.9h. Fleet of 15 droplets: ~22.7h, ~$58."));
}

#[test]
fn examples_json_carries_each_decision() {
    let v = json(&["--examples"]);
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 12);
    let ex9 = list.iter().find(|e| e["id"] == "9").unwrap();
    assert_eq!(ex9["decision"]["terminal"], "T9");
    assert_eq!(ex9["decision"]["plan"]["stages"][0]["operations"][0], "matmul");
    assert_eq!(
        ex9["decision"]["plan"]["stages"][1]["operations"],
        serde_json::json!(["filter_threshold", "top_k"])
    );
    assert_eq!(ex9["seed_path"], serde_json::json!(["S0", "S7", "T9"]));
    for e in list {
        assert_eq!(e["seed_path"], e["decision"]["path"], "example {}", e["id"]);
    }
}

// ── human report snapshots, one per terminal kind ────────────────────────────────────────

#[test]
fn report_snapshots_for_several_terminals() {
    for (file, snapshot) in [
        ("vector_search.toml", "cli_t9_vector_search.txt"),
        ("pbkdf2.toml", "cli_t6_pbkdf2.txt"),
        ("matmul_50k.toml", "cli_t1_matmul_chunked.txt"),
        ("tiny_sigmoid.toml", "cli_t0_tiny_sigmoid.txt"),
        ("train7b.json", "cli_t3_train7b.txt"),
    ] {
        let text = ok(&[&fixture(file), "--machine", "m5", "--prices", "seed"]);
        check_snapshot(snapshot, &text);
    }
}

// ── JSON contract ────────────────────────────────────────────────────────────────────────

#[test]
fn json_has_the_contract_fields() {
    let v = json(&[&fixture("vector_search.toml"), "--machine", "m5", "--prices", "seed"]);
    assert_eq!(v["terminal"], "T9");
    assert_eq!(v["terminal_name"], "MLX_METAL_HYBRID");
    assert_eq!(v["path"], serde_json::json!(["S0", "S7", "T9"]));
    let s0 = &v["trace"][0];
    assert_eq!(s0["state"], "S0");
    assert_eq!(s0["predicates"][0]["text"], "data_size_gb < 0.001 AND item_count < 1000");
    assert_eq!(s0["predicates"][0]["result"], false);
    assert!(s0["predicates"][0]["values"]["data_size_gb"].as_f64().unwrap() > 3.0);
    assert_eq!(v["inputs"]["data_size_gb"]["source"], "derived");
    assert_eq!(v["inputs"]["python_acceptable"]["source"], "default");
    assert!(v["estimates"]["local"]["time_hours"].as_f64().unwrap() > 0.0);
    assert_eq!(v["estimates"]["lambda_8x_h100"]["usd_per_hour"], 23.92);
    assert!(
        v["messages"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Splitting workload: MLX handles matmul")
    );
    assert_eq!(v["gate"]["decision"], "not_evaluated");
    assert_eq!(v["prices"]["name"], "seed");
    assert_eq!(v["prices"]["as_of"], "undated");
    assert_eq!(v["plan"]["operations"][2]["kernels"], serde_json::json!(["TOPK_SELECT"]));
    assert!(v["plan"]["framework_code"]["code"].as_str().unwrap().contains("mx.matmul(a, b)"));
}

#[test]
fn default_price_table_is_current_and_named_with_its_date() {
    let text = ok(&[&fixture("train7b.json"), "--machine", "m5"]);
    assert!(text.contains("prices    current (2026-11-09)"), "{text}");
    assert!(text.contains("$31.92/h"));
    assert!(text.contains("$766/day if forgotten"));
}

#[test]
fn custom_price_table_file() {
    let mine = std::fs::read_to_string(route_dir().join("../prices/seed.toml"))
        .unwrap()
        .replace("name = \"seed\"", "name = \"mine\"")
        .replace("as_of = \"undated\"", "as_of = \"2027-01-01\"")
        .replace("usd_per_hour = 23.92", "usd_per_hour = 40.0");
    let path = temp_file("prices.toml", &mine);
    let text = ok(&[&fixture("train7b.json"), "--machine", "m5", "--prices", &path]);
    assert!(text.contains("prices    mine (2027-01-01)"), "{text}");
    assert!(text.contains("Lambda 8x H100: ~$40.00/h"), "{text}");
    let bad = temp_file("bad_prices.toml", &mine.replace("droplets = 15", "droplets = 0"));
    let err = fails(&[&fixture("train7b.json"), "--machine", "m5", "--prices", &bad], 2);
    assert!(err.ends_with("do_fleet.droplets: must be a whole number from 1 to 10000"), "{err}");
}

// ── flags are equivalent to the file ─────────────────────────────────────────────────────

#[test]
fn op_flags_give_the_same_decision_as_the_file() {
    let from_file = json(&[&fixture("vector_search.toml"), "--machine", "m5", "--prices", "seed"]);
    let from_flags = json(&[
        "--op",
        "matmul:64x768x1000000",
        "--op",
        "filter_threshold:64000000:threshold=0.5",
        "--op",
        "top_k:64000000:k=100",
        "--machine",
        "m5",
        "--prices",
        "seed",
    ]);
    for key in ["terminal", "path", "trace", "inputs", "estimates", "messages"] {
        assert_eq!(from_file[key], from_flags[key], "{key}");
    }
}

#[test]
fn variable_flags_route_example_2_and_override_the_file() {
    let v = json(&[
        "--item-count",
        "4_294_967_296",
        "--local-rate",
        "3500",
        "--is-sequential",
        "--is-parallel=false",
        "--parallel-across-items",
        "--machine",
        "m5",
        "--prices",
        "seed",
    ]);
    assert_eq!(v["path"], serde_json::json!(["S0", "S1", "S5", "T6"]));
    assert_eq!(v["summary"]["cloud_cost"], "$58");
    assert_eq!(v["inputs"]["item_count"]["source"], "given");

    // A flag overrides the file: Python acceptable turns the battery FFT into an MLX job (R7).
    let v = json(&[&fixture("battery_fft.toml"), "--python-acceptable", "--machine", "m5"]);
    assert_eq!(v["terminal"], "T7");
}

// ── bad input: one line, exit 2 ──────────────────────────────────────────────────────────

#[test]
fn bad_workload_files_fail_with_one_line_naming_the_key() {
    for (file, expected) in [
        ("bad_unknown_key.toml", "data_size: unknown key; did you mean 'data_size_gb'?"),
        ("bad_negative_size.toml", "data_size_gb: must be a number >= 0, got -4"),
        ("bad_zero_rate.json", "local_rate: must be a number > 0, got 0"),
        ("bad_type.toml", "requires_cuda: expected true or false, got \"yes\""),
        ("bad_syntax.toml", "TOML: line 3"),
        (
            "bad_unknown_op.toml",
            "operations[0].op: unknown operation 'sotr' (did you mean 'sort'?)",
        ),
        ("bad_shape.toml", "operations[0].shape[1]: must be a whole number >= 1, got 0"),
        ("bad_param.toml", "operations[0].k: top_k needs this parameter"),
    ] {
        let path = fixture(file);
        let err = fails(&[&path, "--machine", "m5"], 2);
        assert!(err.starts_with(&format!("{path}: {expected}")), "{file}: {err}");
    }
    let err = fails(&["no/such/workload.toml"], 2);
    assert!(err.starts_with("no/such/workload.toml: cannot read workload file"), "{err}");
}

#[test]
fn bad_flags_fail_with_one_line_naming_the_flag() {
    let cases: [(&[&str], &str); 8] = [
        (&["--data-size-gb", "-1"], "--data-size-gb: must be a number >= 0, got -1"),
        (&["--local-rate", "0", "--item-count", "5"], "--local-rate: must be a number > 0, got 0"),
        (&["--item-count", "lots"], "--item-count: expected a number, got \"lots\""),
        (&["--requires-cuda=maybe"], "--requires-cuda: expected true or false, got \"maybe\""),
        (
            &["--mlx-coverage", "half"],
            "--mlx-coverage: expected \"all\", \"most\" or \"none\", got \"half\"",
        ),
        (&["--op", "sort:abc"], "--op 'sort:abc': 'abc' is not a shape"),
        (&["--op", "sort:10", "--machine", "m9"], "unknown machine profile 'm9'"),
        (
            &["--op", "sort:10", "--prices", "no-such-prices.toml"],
            "no-such-prices.toml: cannot read price table",
        ),
    ];
    for (args, expected) in cases {
        let err = fails(args, 2);
        assert!(err.starts_with(expected), "{args:?}: {err}");
    }
}

#[test]
fn missing_values_a_predicate_needs_are_an_input_error() {
    let err = fails(&["--data-size-gb", "2", "--machine", "m5"], 2);
    assert_eq!(
        err,
        "cannot decide at S0 ENTRY (local_time_hours <= 4.0): local_time_hours is unknown; give local_time_hours, or item_count and local_rate, or operations"
    );
    let err = fails(
        &[
            "--item-count",
            "3600",
            "--local-rate",
            "1",
            "--local-time-hours",
            "2",
            "--machine",
            "m5",
        ],
        2,
    );
    assert!(
        err.starts_with("local_time_hours = 2 contradicts item_count / local_rate / 3600"),
        "{err}"
    );
}

// ── health gate ──────────────────────────────────────────────────────────────────────────

const BATTERY_78: &str = r#"{
  "schema": 1,
  "mem_pressure": {"value": "normal", "source": "recorded"},
  "mem_available_pct": {"value": 60, "source": "recorded"},
  "cpu_speed_limit": {"value": {"percent": 78}, "source": "recorded"},
  "power_source": {"value": "battery", "source": "recorded"},
  "load_avg_1min": {"value": 2.0, "source": "recorded"},
  "num_cores": {"value": 10, "source": "recorded"}
}"#;

#[test]
fn gate_block_stops_routing_with_exit_3() {
    let snapshot = temp_file(
        "critical.json",
        r#"{"schema": 1, "mem_pressure": {"value": "critical", "source": "recorded"},
            "top_processes": {"value": [{"name": "Google Chrome", "rss_bytes": 6657199308}], "source": "recorded"}}"#,
    );
    let err = fails(
        &[
            &fixture("vector_search.toml"),
            "--machine",
            "m5",
            "--health-snapshot",
            &snapshot,
            "--json",
        ],
        3,
    );
    assert_eq!(
        err,
        "health gate BLOCK: System memory is critical — 6.2 GB used by Google Chrome. Close applications or reduce working set before proceeding."
    );
}

#[test]
fn gate_warnings_are_carried_and_the_battery_rule_needs_more_than_half_an_hour() {
    let snapshot = temp_file("battery78.json", BATTERY_78);
    // Example 6: 0.3 h on battery with a 78% speed limit: one warning, not the seed's two (R8).
    let v =
        json(&[&fixture("battery_fft.toml"), "--machine", "m5", "--health-snapshot", &snapshot]);
    assert_eq!(v["gate"]["decision"], "warn");
    let messages: Vec<&str> =
        v["gate"]["messages"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].contains("mild thermal throttle (78%)"), "{messages:?}");
    assert_eq!(v["terminal"], "T1");
    assert_eq!(v["messages"][0]["kind"], "gate");

    // 0.6 h crosses the 0.5 h rule.
    let v = json(&[
        &fixture("battery_fft.toml"),
        "--local-time-hours",
        "0.6",
        "--machine",
        "m5",
        "--health-snapshot",
        &snapshot,
    ]);
    let all = v["gate"]["messages"].to_string();
    assert!(all.contains("0.6h on battery"), "{all}");
    assert!(v["gate"]["source"].as_str().unwrap().starts_with("snapshot "));

    let err = fails(&["--op", "sort:10", "--health-snapshot", "no-such-probe.json"], 2);
    assert!(err.starts_with("cannot read health snapshot no-such-probe.json"), "{err}");
}

#[test]
fn named_profiles_do_not_gate_on_this_machines_health_but_this_machine_does() {
    let v = json(&["--op", "sum:1000000", "--machine", "m3-max-128"]);
    assert_eq!(v["gate"]["decision"], "not_evaluated");
    assert_eq!(v["machine"]["name"], "m3-max-128");
    if let Some(text) = ok_unless_blocked(&["--op", "sum:1000000", "--json"]) {
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["machine"]["name"], "this-machine");
        assert_eq!(v["gate"]["source"], "probe of this machine");
    }
}

// ── defaults, help and listings ──────────────────────────────────────────────────────────

#[test]
fn no_workload_routes_the_built_in_demo() {
    let v = json(&["--machine", "m5"]);
    assert_eq!(v["workload"], "built-in demo");
    assert_eq!(v["plan"]["operations"].as_array().unwrap().len(), 32);
    assert_eq!(v["path"], serde_json::json!(["S0", "T1"]), "the demo runs fastpath's own kernels");
    if let Some(text) = ok_unless_blocked(&[]) {
        assert!(text.starts_with("workload  built-in demo (32 operations)"), "{text}");
    }
}

#[test]
fn help_teaches_the_workload_format_and_the_flags() {
    let text = ok(&["--help"]);
    for needle in [
        "Workload file (TOML",
        "[[operations]]",
        "--prices <seed|current|FILE>",
        "--health-snapshot <FILE>",
        "--machine <PROFILE>",
        "--op <SPEC>",
        "--item-count <N>",
        "--examples",
        "Exit status: 0 decided, 2 bad input",
    ] {
        assert!(text.contains(needle), "--help lacks {needle:?}");
    }
}

#[test]
fn listings_show_operations_machines_and_prices() {
    let ops = ok(&["--list-ops"]);
    assert!(ops.contains("filter_threshold") && ops.contains("threshold_filter"));
    let ops = json(&["--list-ops"]);
    let sort = ops.as_array().unwrap().iter().find(|o| o["name"] == "sort").unwrap();
    assert_eq!(sort["mlx"], true);
    let machines = ok(&["--list-machines"]);
    assert!(machines.contains("m3-max-128") && machines.contains("this-machine"));
    let seed = ok(&["--print-prices", "seed"]);
    assert!(seed.contains("usd_per_hour = 23.92"));
}
