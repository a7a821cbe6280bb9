//! `fastpath bench` and `fastpath calibrate` end to end: a short run on two kernels at two
//! small sizes on the CPU and the GPU (lavapipe in CI) whose JSON is validated, the Markdown
//! and chart outputs, calibration into a profile that `--regret` then reads, and bad input.
//! Timings are never asserted, only their consistency.

mod common;

use std::path::PathBuf;
use std::process::Output;

use common::stderr;
use serde_json::Value;

const KERNELS: &str = "REDUCE_SUM,MAP_REDUCE_SQUARE_SUM";

fn fastpath(args: &[&str]) -> Output {
    common::fastpath_command(args)
        // Never read or write the developer's real profile.
        .env("XDG_CACHE_HOME", scratch("cache"))
        .env_remove("FASTPATH_PEERS_SCRIPT")
        .output()
        .expect("fastpath runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = common::temp_dir("bench").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Lines fastpath wrote (the Vulkan loader may add its own noise on some machines).
fn error_lines(o: &Output) -> Vec<String> {
    stderr(o)
        .lines()
        .filter(|l| l.starts_with("error: ") && !l.contains("XDG_RUNTIME_DIR"))
        .map(str::to_string)
        .collect()
}

fn gpu_expected(report: &Value) -> bool {
    let available = report["meta"]["gpu"]["available"].as_bool().unwrap();
    if !available {
        // GPU tests must fail, not skip, in CI (lavapipe is installed there).
        assert!(
            std::env::var_os("CI").is_none(),
            "no GPU adapter in CI: {}",
            report["meta"]["gpu"]["reason"]
        );
        eprintln!("no GPU here: checking CPU rows only");
    }
    available
}

fn check_summary(s: &Value) {
    let (min, med, max) =
        (s["min"].as_f64().unwrap(), s["median"].as_f64().unwrap(), s["max"].as_f64().unwrap());
    assert!(min > 0.0 && min <= med && med <= max, "{s}");
    assert!(s["reps"].as_u64().unwrap() >= 1);
}

#[test]
fn smoke_run_on_cpu_and_gpu_writes_valid_json() {
    let out =
        fastpath(&["bench", "--kernels", KERNELS, "--sizes", "2^10,2^12", "--reps", "3", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // --json alone: stdout is the JSON document and nothing else.
    let report: Value = serde_json::from_slice(&out.stdout).expect("stdout is only JSON");
    assert_eq!(report["schema"], "fastpath-bench/1");
    let meta = &report["meta"];
    assert!(meta["command"].as_str().unwrap().starts_with("fastpath bench --kernels"));
    assert!(meta["date"].as_str().unwrap().ends_with('Z'));
    assert_eq!(meta["sizes"], serde_json::json!([1024, 4096]));
    let gpu = gpu_expected(&report);
    let backends: &[&str] = if gpu { &["cpu", "gpu"] } else { &["cpu"] };

    let cpu_copy = report["ceilings"]["cpu"]["copy"]["gbps"].as_f64().unwrap();
    assert!(cpu_copy > 0.0);
    if gpu {
        assert!(report["ceilings"]["gpu"]["copy"]["gbps"].as_f64().unwrap() > 0.0);
        assert!(report["ceilings"]["gpu"]["peak_gflops"].as_f64().unwrap() > 0.0);
        let chain = &report["dispatch"]["gpu_chain"];
        assert_eq!(chain["calls"], 100);
        assert!(chain["per_call_s"].as_f64().unwrap() > 0.0);
        check_summary(&report["dispatch"]["gpu_submit_wait"]);
    }

    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2 * 2 * backends.len(), "{:#}", report["skipped"]);
    for kernel in KERNELS.split(',') {
        for n in [1024u64, 4096] {
            for backend in backends {
                let row = rows
                    .iter()
                    .find(|r| r["kernel"] == kernel && r["n"] == n && r["backend"] == *backend)
                    .unwrap_or_else(|| panic!("no row for {kernel} {n} {backend}"));
                assert_eq!(row["stats"]["reps"], 3);
                check_summary(&row["stats"]);
                check_summary(&row["wall"]);
                let median = row["median_s"].as_f64().unwrap();
                let bytes = row["bytes"].as_f64().unwrap();
                assert_eq!(bytes, n as f64 * 4.0, "{kernel}: one f32 read per element");
                let gbps = row["gbps"].as_f64().unwrap();
                assert!((gbps - bytes / median / 1e9).abs() <= 1e-9 * gbps.max(1.0), "{row}");
                assert!(row["pct_of_ceiling"].as_f64().unwrap() > 0.0);
                assert_eq!(row["ceiling"], "copy");
                let source = row["time_source"].as_str().unwrap();
                if *backend == "gpu" {
                    assert!(source == "gpu-timestamps" || source == "wall", "{source}");
                    if source == "gpu-timestamps" {
                        // Device time excludes the dispatch overhead that wall time includes.
                        assert!(median <= row["wall"]["median"].as_f64().unwrap());
                    }
                } else {
                    assert_eq!(source, "wall");
                }
            }
        }
    }
    assert!(report["peers"].is_null());
    assert!(report["regret"].is_null());
    assert_eq!(report["summary"]["crossovers"].as_array().unwrap().len(), if gpu { 2 } else { 0 });
}

#[test]
fn markdown_and_charts_are_written() {
    let dir = scratch("outputs");
    let (md, svg, png, json) =
        (dir.join("r.md"), dir.join("r.svg"), dir.join("r.png"), dir.join("r.json"));
    let out = fastpath(&[
        "bench",
        "--backend",
        "cpu",
        "--kernels",
        KERNELS,
        "--sizes",
        "2^10..2^12:x2",
        "--reps",
        "2",
        "--markdown",
        md.to_str().unwrap(),
        "--plot",
        svg.to_str().unwrap(),
        "--plot",
        png.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // With --json FILE the human table still goes to stdout.
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("REDUCE_SUM") && text.contains("2^11"), "{text}");
    let markdown = std::fs::read_to_string(&md).unwrap();
    for needle in [
        "**Device**",
        "**Date**",
        "**Commit**",
        "**Command**",
        "### reductions",
        "| REDUCE_SUM | 2^11 | cpu |",
    ] {
        assert!(markdown.contains(needle), "{needle} missing from:\n{markdown}");
    }
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert!(
        chart.contains("<svg") && chart.contains("reductions") && chart.contains("fastpath cpu")
    );
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG\r\n\x1a\n"));
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["rows"].as_array().unwrap().len(), 2 * 3);
}

#[test]
fn calibration_writes_a_profile_that_regret_reads() {
    let dir = scratch("calibrate");
    let profile = dir.join("profile.json");
    let out = fastpath(&[
        "calibrate",
        "--kernels",
        "REDUCE_SUM",
        "--sizes",
        "2^10,2^14",
        "--out",
        profile.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("machine profile written to"));
    let (loaded, _) = fastpath_bench::load_profile(Some(&profile)).unwrap().unwrap();
    let curves = &loaded.kernels["REDUCE_SUM"];
    assert_eq!(curves.cpu.iter().map(|p| p.n).collect::<Vec<_>>(), vec![1024, 16384]);
    assert!(loaded.cpu_copy_gbps.unwrap() > 0.0);
    let gpu = loaded.gpu.is_some();
    if gpu {
        assert_eq!(curves.gpu.len(), 2);
        assert!(loaded.dispatch.gpu_submit_wait_s.unwrap() > 0.0);
        assert!(loaded.transfer.as_ref().unwrap().host_to_device_gbps > 0.0);
    }
    assert!(
        fastpath_bench::estimate_seconds(&loaded, "REDUCE_SUM", 4096, fastpath_bench::Backend::Cpu)
            .is_some()
    );

    let out = fastpath(&[
        "bench",
        "--kernels",
        "REDUCE_SUM",
        "--sizes",
        "2^10,2^14",
        "--reps",
        "2",
        "--regret",
        "--profile",
        profile.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let regret = &report["regret"];
    assert_eq!(regret["profile"], profile.to_str().unwrap());
    if gpu_expected(&report) {
        assert_eq!(regret["decisions"].as_array().unwrap().len(), 2);
        assert_eq!(regret["auto_basis"], "profile");
        let g = regret["auto"]["geomean"].as_f64().unwrap();
        assert!(g >= 0.0 && g <= regret["auto"]["worst"].as_f64().unwrap());
    }
}

fn assert_bad_input(args: &[&str], expected: &str) {
    let out = fastpath(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    let lines = error_lines(&out);
    assert_eq!(lines.len(), 1, "{args:?}: expected one error line, got {:?}", stderr(&out));
    assert!(lines[0].contains(expected), "{args:?}: {}", lines[0]);
    assert!(out.stdout.is_empty(), "{args:?}: printed to stdout");
}

#[test]
fn bad_input_is_one_line_and_leaves_no_file() {
    let dir = scratch("bad");
    assert_bad_input(&["bench", "--kernels", "REDUCE_SUMM"], "unknown kernel \"REDUCE_SUMM\"");
    assert_bad_input(&["bench", "--domain", "nope"], "unknown domain \"nope\"");
    assert_bad_input(&["bench", "--sizes", "2^10..ten"], "--sizes");
    assert_bad_input(&["bench", "--compare", "numpy,jax"], "unknown peer \"jax\"");
    let missing_dir = dir.join("no-such-dir").join("out.json");
    assert_bad_input(&["bench", "--json", missing_dir.to_str().unwrap()], "cannot write there");
    assert!(!missing_dir.exists());
    let jpg = dir.join("chart.jpg");
    assert_bad_input(&["bench", "--plot", jpg.to_str().unwrap()], ".svg or .png");
    assert!(!jpg.exists());
    let profile = dir.join("no-such-dir").join("profile.json");
    assert_bad_input(&["calibrate", "--out", profile.to_str().unwrap()], "cannot write there");
    assert_bad_input(
        &["bench", "--regret", "--profile", profile.to_str().unwrap()],
        "cannot read profile",
    );
    // No stray temporary or probe files in the directory we wrote into.
    let leftovers: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(leftovers.iter().all(|p| p.is_dir()), "{leftovers:?}");
}

#[test]
fn peers_without_python_are_listed_as_missing() {
    let out = common::fastpath_command(&[])
        .args([
            "bench",
            "--backend",
            "cpu",
            "--kernels",
            "REDUCE_SUM",
            "--sizes",
            "2^10",
            "--reps",
            "1",
        ])
        .args(["--compare", "numpy,mlx", "--json"])
        .env("FASTPATH_PYTHON", "/nonexistent/python3")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let missing = report["peers"]["missing"].as_array().unwrap();
    let names: Vec<&str> = missing.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["numpy", "mlx"]);
    assert!(missing[0]["reason"].as_str().unwrap().contains("FASTPATH_PYTHON"), "{missing:?}");
    // The rows are still measured, with no peer columns.
    assert_eq!(report["rows"].as_array().unwrap().len(), 1);
    assert!(stderr(&out).contains("warning: cannot run /nonexistent/python3"));
}
