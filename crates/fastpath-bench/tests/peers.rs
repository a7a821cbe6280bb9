//! The peer mapping, checked: every mapped numpy operation runs once on a small input and its
//! result must match fastpath's CPU result. Needs Python with numpy (`$FASTPATH_PYTHON` or
//! python3); without it the test skips locally and fails in CI (CI installs numpy).

#![cfg(feature = "harness")]

use std::process::Command;

use fastpath_bench::peers::python_command;
use fastpath_bench::run::check_peer_mapping;
use fastpath_kernels::{Kernel, registry};

/// True when Python with numpy is available; panics in CI when it is not.
fn numpy_available() -> bool {
    let python = python_command();
    let ok = Command::new(&python)
        .args(["-c", "import numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must be able to check the peer mapping: `{python} -c 'import numpy'` failed \
             (pip install numpy, or set FASTPATH_PYTHON)"
        );
        eprintln!("skipping: {python} has no numpy");
    }
    ok
}

#[test]
fn every_numpy_mapping_matches_fastpath() {
    if !numpy_available() {
        return;
    }
    let kernels: Vec<&'static dyn Kernel> = registry().iter().collect();
    let run = check_peer_mapping(&kernels, &["numpy".to_string()], None).unwrap();
    assert!(run.missing.is_empty(), "{:?}", run.missing);
    let mut checked = Vec::new();
    let mut failures = Vec::new();
    for r in &run.results {
        match (r.status.as_str(), r.ok) {
            ("check", Some(true)) => checked.push(r.kernel.clone()),
            ("unmapped", _) => eprintln!("{}: no numpy equivalent", r.kernel),
            _ => failures.push(format!(
                "{} ({}): {}",
                r.kernel,
                r.status,
                r.message.as_deref().unwrap_or("")
            )),
        }
    }
    assert!(failures.is_empty(), "numpy disagrees with fastpath: {failures:#?}");
    // Every kernel of the registry was either checked or declared to have no equivalent.
    for k in &kernels {
        assert!(run.results.iter().any(|r| r.kernel == k.id()), "{} has no check result", k.id());
    }
    assert!(checked.iter().any(|k| k == "REDUCE_VAR"), "{checked:?}");
}

#[test]
fn a_wrong_mapping_is_caught() {
    if !numpy_available() {
        return;
    }
    // The harness with REDUCE_SUM mapped to the mean: the check must reject it.
    let script = fastpath_bench::peers::PEERS_SCRIPT.replace(
        r#""numpy": ("np.sum(x)", lambda xp, a, p: xp.sum(a[0])),"#,
        r#""numpy": ("np.sum(x)", lambda xp, a, p: xp.mean(a[0])),"#,
    );
    assert_ne!(script, fastpath_bench::peers::PEERS_SCRIPT, "the REDUCE_SUM entry moved");
    let path = std::env::temp_dir().join(format!("fastpath-wrong-peers-{}.py", std::process::id()));
    std::fs::write(&path, script).unwrap();
    let sum = registry().get("REDUCE_SUM").unwrap();
    let run = check_peer_mapping(&[sum], &["numpy".to_string()], Some(path.clone()));
    std::fs::remove_file(&path).unwrap();
    let run = run.unwrap();
    let r = run.results.iter().find(|r| r.status == "check").expect("a check result");
    assert_eq!(r.ok, Some(false), "{r:?}");
    assert!(r.message.as_deref().unwrap_or("").contains("values differ"), "{r:?}");
}

#[test]
fn missing_libraries_are_reported_not_skipped() {
    if !numpy_available() {
        return;
    }
    let sum = registry().get("REDUCE_SUM").unwrap();
    let run = check_peer_mapping(&[sum], &["numpy".into(), "nosuchlib".into()], None).unwrap();
    assert!(run.missing.iter().any(|m| m.name == "nosuchlib"), "{:?}", run.missing);
}
