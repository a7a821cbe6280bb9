//! `fastpath run-kernel` end to end: results on both backends, and bad input rejected with one
//! clear line, exit status 2 and no output file left behind.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fastpath_kernels::{HostArray, npy};

fn fastpath() -> Command {
    common::fastpath_command(&[])
}

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("fastpath-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
    fn path(&self, f: &str) -> PathBuf {
        self.0.join(f)
    }
    fn write(&self, f: &str, a: &HostArray) -> PathBuf {
        let p = self.path(f);
        npy::write(&p, a).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(args: &[&str]) -> Output {
    fastpath().args(args).output().unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Bad input: exit 2, exactly one stderr line starting with "error:" and containing `needle`.
fn assert_rejected(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one error line expected, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(lines[0].contains(needle), "{stderr:?} lacks {needle:?}");
}

#[test]
fn sums_on_cpu_and_gpu() {
    let d = Dir::new("sum");
    let x = d.write("x.npy", &HostArray::vec_f32((1..=1000).map(|v| v as f32).collect()));
    for backend in ["cpu", "gpu", "auto"] {
        let out_path = d.path(&format!("s-{backend}.npy"));
        let out = run(&[
            "run-kernel",
            "REDUCE_SUM",
            "--in",
            s(&x),
            "--out",
            s(&out_path),
            "--backend",
            backend,
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let sum = npy::read(&out_path).unwrap();
        assert_eq!(sum.shape(), &[] as &[usize], "scalar outputs are 0-d arrays");
        assert_eq!(sum.f32s(), &[500500.0]);
    }
}

#[test]
fn multiple_outputs_in_contract_order_and_json_summary() {
    let d = Dir::new("argmax");
    let x = d.write("x.npy", &HostArray::vec_f32(vec![3.0, 9.0, -1.0, 9.0]));
    let (v, i) = (d.path("v.npy"), d.path("i.npy"));
    let out = run(&[
        "run-kernel",
        "reduce_argmax",
        "--in",
        s(&x),
        "--out",
        s(&v),
        "--out",
        s(&i),
        "--backend",
        "gpu",
        "--json",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(npy::read(&v).unwrap().f32s(), &[9.0]);
    assert_eq!(npy::read(&i).unwrap().u32s(), &[1]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["kernel"], "REDUCE_ARGMAX");
    assert_eq!(summary["backend"], "gpu");
    assert_eq!(summary["outputs"][1]["name"], "index");
}

#[test]
fn parameters_and_defaults() {
    let d = Dir::new("params");
    let x = d.write("x.npy", &HostArray::vec_f32(vec![0.0, 0.5, 1.0, 2.0]));
    let h = d.path("h.npy");
    let out = run(&[
        "run-kernel",
        "REDUCE_HISTOGRAM",
        "--in",
        s(&x),
        "--param",
        "min_val=0",
        "--param",
        "max_val=1",
        "--out",
        s(&h),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let counts = npy::read(&h).unwrap();
    assert_eq!(counts.shape(), &[256]);
    assert_eq!((counts.u32s()[0], counts.u32s()[128], counts.u32s()[255]), (1, 1, 1));
    // ddof defaults to 0; ddof=1 is the sample variance.
    let v = d.path("v.npy");
    let x2 = d.write("x2.npy", &HostArray::vec_f32(vec![1.0, 2.0, 3.0, 4.0]));
    assert!(run(&["run-kernel", "REDUCE_VAR", "--in", s(&x2), "--out", s(&v)]).status.success());
    assert_eq!(npy::read(&v).unwrap().f32s(), &[1.25]);
    assert!(
        run(&["run-kernel", "REDUCE_VAR", "--in", s(&x2), "--param", "ddof=1", "--out", s(&v)])
            .status
            .success()
    );
    assert!((npy::read(&v).unwrap().f32s()[0] - 5.0 / 3.0).abs() < 1e-6);
}

#[test]
fn bad_input_is_one_line_exit_two_and_no_output() {
    let d = Dir::new("bad");
    let x = d.write("x.npy", &HostArray::vec_f32(vec![1.0, 2.0, 3.0]));
    let xu = d.write("xu.npy", &HostArray::vec_u32(vec![1, 2, 3]));
    let m2 = d.write("m2.npy", &HostArray::vec_u32(vec![1, 0]));
    let empty = d.write("empty.npy", &HostArray::vec_f32(vec![]));
    let garbage = d.path("garbage.npy");
    std::fs::write(&garbage, b"not numpy").unwrap();
    let out = d.path("out.npy");
    let o = s(&out);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["run-kernel", "NOPE", "--in", s(&x), "--out", o], "unknown kernel `NOPE`"),
        (
            vec!["run-kernel", "REDUCE_SUM", "--in", s(&xu), "--out", o],
            "expected f32 [n], got u32 [3]",
        ),
        (
            vec!["run-kernel", "MAP_REDUCE_MASKED_SUM", "--in", s(&x), "--in", s(&m2), "--out", o],
            "n = 2 here but 3",
        ),
        (
            vec![
                "run-kernel",
                "REDUCE_HISTOGRAM",
                "--in",
                s(&x),
                "--param",
                "min_val=0",
                "--out",
                o,
            ],
            "--param max_val=<f32>",
        ),
        (
            vec!["run-kernel", "REDUCE_SUM", "--in", "/nonexistent/x.npy", "--out", o],
            "cannot read /nonexistent/x.npy",
        ),
        (vec!["run-kernel", "REDUCE_SUM", "--in", s(&garbage), "--out", o], "not a .npy file"),
        (vec!["run-kernel", "REDUCE_SUM", "--out", o], "needs 1 --in file(s), got 0"),
        (
            vec!["run-kernel", "REDUCE_ARGMAX", "--in", s(&x), "--out", o],
            "writes 2 output(s) (value, index)",
        ),
        (
            vec!["run-kernel", "REDUCE_VAR", "--in", s(&x), "--param", "ddof", "--out", o],
            "must be name=value",
        ),
        (
            vec!["run-kernel", "REDUCE_VAR", "--in", s(&x), "--param", "bins=3", "--out", o],
            "has no parameter bins",
        ),
        (
            vec!["run-kernel", "REDUCE_SUM", "--in", s(&x), "--out", o, "--backend", "tpu"],
            "expected cpu, gpu or auto",
        ),
        (vec!["run-kernel", "REDUCE_MEAN", "--in", s(&empty), "--out", o], "at least one element"),
        (
            vec![
                "run-kernel",
                "REDUCE_HISTOGRAM",
                "--in",
                s(&x),
                "--param",
                "min_val=1",
                "--param",
                "max_val=1",
                "--out",
                o,
            ],
            "finite min_val < max_val",
        ),
    ];
    for (args, needle) in cases {
        let result = run(&args);
        assert_rejected(&result, needle);
        assert!(!out.exists(), "{args:?} left {o} behind");
    }
    // A failed write leaves no partial set: the second output path is in a missing directory.
    let v = d.path("v.npy");
    let bad_i = d.path("missing-dir/i.npy");
    let result =
        run(&["run-kernel", "REDUCE_ARGMAX", "--in", s(&x), "--out", s(&v), "--out", s(&bad_i)]);
    assert_eq!(result.status.code(), Some(1));
    assert!(!v.exists(), "first output must be removed when the second cannot be written");
}

#[test]
fn kernels_json_lists_the_catalog() {
    let out = run(&["kernels", "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["count"], 116, "109 catalog kernels + 7 extras");
    let sum = v["kernels"].as_array().unwrap().iter().find(|k| k["id"] == "REDUCE_SUM").unwrap();
    assert_eq!(sum["backends"]["cpu"], true);
    assert_eq!(sum["backends"]["gpu"], true);
    assert_eq!(sum["domain"], "reductions");
    assert_eq!(sum["dtypes"][0], "f32");
    let bad = run(&["kernels", "--domain", "nope"]);
    assert_rejected(&bad, "unknown domain");
}

#[test]
fn version_and_help_teach() {
    let v = run(&["--version"]);
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("fastpath "));
    let h = run(&["run-kernel", "--help"]);
    let text = String::from_utf8_lossy(&h.stdout);
    assert!(text.contains("--param") && text.contains("Examples:"), "{text}");
}
