//! Running the Python peer harness (`bench/peers/fastpath_peers.py`, embedded in the binary so
//! an installed `fastpath` needs no checkout): writing its plan, following its progress and
//! reading its results.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::report::{MissingPeer, PeerInfo};
use crate::run::Progress;
use crate::stats::Summary;

/// The harness, as shipped in the repository.
pub const PEERS_SCRIPT: &str = include_str!("../../../bench/peers/fastpath_peers.py");
/// Libraries `--compare` accepts.
pub const KNOWN_PEERS: [&str; 4] = ["numpy", "torch", "mlx", "cupy"];
/// Interpreter override (default `python3`).
pub const PYTHON_ENV: &str = "FASTPATH_PYTHON";
/// Use this harness file instead of the embedded copy (for editing it without rebuilding).
pub const SCRIPT_ENV: &str = "FASTPATH_PEERS_SCRIPT";

/// Parses `--compare numpy,torch,...` (`all` for every known library).
pub fn parse_peer_list(text: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for item in text.split(',').map(|s| s.trim().to_ascii_lowercase()) {
        match item.as_str() {
            "all" => KNOWN_PEERS.iter().for_each(|p| out.push(p.to_string())),
            "pytorch" => out.push("torch".into()),
            p if KNOWN_PEERS.contains(&p) => out.push(item.clone()),
            "" => return Err(format!("empty entry in --compare {text:?}")),
            other => {
                return Err(format!(
                    "unknown peer {other:?} in --compare; expected some of {} (or all)",
                    KNOWN_PEERS.join(", ")
                ));
            }
        }
    }
    out.dedup();
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|p| seen.insert(p.clone()));
    Ok(out)
}

/// The Python interpreter to run: `$FASTPATH_PYTHON`, else `python3`.
pub fn python_command() -> String {
    std::env::var(PYTHON_ENV)
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "python3".into())
}

/// Timing policy as the harness reads it.
#[derive(Debug, Clone, Serialize)]
pub struct PlanPolicy {
    pub warmup_runs: usize,
    pub warmup_seconds: f64,
    pub min_reps: usize,
    pub max_reps: usize,
    /// `None`: exactly `max_reps` repetitions.
    pub budget_seconds: Option<f64>,
}

/// One case for the harness: time it, or (with `expected`) check the peer's result.
#[derive(Debug, Clone, Serialize)]
pub struct PlanCase {
    pub id: usize,
    pub kernel: String,
    pub n: usize,
    /// `.npy` files of the inputs, in contract order.
    pub inputs: Vec<String>,
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Copies of the inputs to rotate between repetitions.
    pub rotate: usize,
    /// fastpath's outputs (`.npy`), for a check case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<Vec<String>>,
    /// Index of the output that counts the valid prefix of the others (compaction).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_prefix: Option<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub schema: &'static str,
    pub peers: Vec<String>,
    /// Peer devices worth timing: "cpu" and/or "gpu", those of the fastpath backends
    /// measured (a GPU-only run skips torch-cpu and mlx-cpu, which take seconds per call on
    /// large sorts).
    pub devices: Vec<&'static str>,
    pub policy: PlanPolicy,
    pub cases: Vec<PlanCase>,
}

/// What the harness wrote back.
#[derive(Debug, Clone, Deserialize)]
pub struct PeerRun {
    pub python: String,
    pub peers: Vec<PeerInfo>,
    pub missing: Vec<MissingPeer>,
    #[serde(default)]
    pub calls: BTreeMap<String, BTreeMap<String, String>>,
    pub results: Vec<CaseResult>,
}

/// One peer on one case.
#[derive(Debug, Clone, Deserialize)]
pub struct CaseResult {
    pub case: usize,
    pub kernel: String,
    pub n: usize,
    pub peer: String,
    /// "cpu" or "gpu".
    pub kind: String,
    /// "timed", "check", "unmapped" or "error".
    pub status: String,
    pub timer: Option<String>,
    pub stats: Option<Summary>,
    pub wall: Option<Summary>,
    /// Check cases: whether the result matched; `None` when the check does not apply.
    pub ok: Option<bool>,
    pub message: Option<String>,
}

/// Runs the harness once per library of the plan, each in its own Python process, and merges
/// the results. Separate processes keep the libraries' thread pools (PyTorch's OpenMP, MLX's
/// workers, numpy's BLAS threads) from competing inside one process on a small machine, and
/// one library's crash or import side effects from touching the others. A library whose
/// process fails is reported missing with the reason. `script` replaces the embedded harness
/// (`None`: `$FASTPATH_PEERS_SCRIPT`, else the embedded copy).
pub fn run_each_library(
    plan: &Plan,
    dir: &Path,
    script: Option<PathBuf>,
    progress: &mut dyn Progress,
) -> PeerRun {
    let script = script.or_else(|| std::env::var_os(SCRIPT_ENV).map(PathBuf::from));
    let mut merged = PeerRun {
        python: String::new(),
        peers: Vec::new(),
        missing: Vec::new(),
        calls: BTreeMap::new(),
        results: Vec::new(),
    };
    let mut noted: Vec<String> = Vec::new();
    for library in &plan.peers {
        let single = Plan { peers: vec![library.clone()], ..plan.clone() };
        match run_harness(&single, dir, script.clone(), library, progress) {
            Ok(run) => {
                if merged.python.is_empty() {
                    merged.python = run.python;
                }
                merged.peers.extend(run.peers);
                merged.missing.extend(run.missing);
                for (kernel, calls) in run.calls {
                    merged.calls.entry(kernel).or_default().extend(calls);
                }
                merged.results.extend(run.results);
            }
            Err(e) => {
                if !noted.contains(&e) {
                    progress.note(&e);
                    noted.push(e.clone());
                }
                merged.missing.push(MissingPeer { name: library.clone(), reason: e });
            }
        }
    }
    merged
}

/// Writes the plan into `dir` (files tagged `tag`), runs the harness and reads its results.
/// Progress lines (`PROGRESS done total label`) move the progress bar. Errors are one line (a
/// missing interpreter, the harness's last error line).
pub fn run_harness(
    plan: &Plan,
    dir: &Path,
    script: Option<PathBuf>,
    tag: &str,
    progress: &mut dyn Progress,
) -> Result<PeerRun, String> {
    let script = match script {
        Some(path) => path,
        None => {
            let path = dir.join("fastpath_peers.py");
            std::fs::write(&path, PEERS_SCRIPT)
                .map_err(|e| format!("cannot write the peer harness to {}: {e}", path.display()))?;
            path
        }
    };
    let plan_path = dir.join(format!("plan-{tag}.json"));
    let out_path = dir.join(format!("peers-{tag}.json"));
    std::fs::write(&plan_path, serde_json::to_vec(plan).expect("plans serialize"))
        .map_err(|e| format!("cannot write {}: {e}", plan_path.display()))?;
    let python = python_command();
    let mut child = Command::new(&python)
        .arg(&script)
        .arg("run")
        .arg("--plan")
        .arg(&plan_path)
        .arg("--out")
        .arg(&out_path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!("cannot run {python} ({e}); set {PYTHON_ENV} to a Python 3 interpreter")
        })?;
    // stderr is drained on its own thread so a chatty library cannot fill the pipe and stall
    // the harness while we read stdout.
    let mut stderr = child.stderr.take().expect("piped");
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let stdout = child.stdout.take().expect("piped");
    let mut announced = 0u64;
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        let mut parts = line.splitn(4, ' ');
        if parts.next() != Some("PROGRESS") {
            continue;
        }
        let done: u64 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let total: u64 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        if total > announced {
            progress.add_work(total - announced);
            announced = total;
        }
        if done > 1 {
            progress.finish_step();
        }
        progress.begin(&format!("peers: {}", parts.next().unwrap_or("")));
    }
    let status = child.wait().map_err(|e| format!("waiting for {python}: {e}"))?;
    if announced > 0 {
        progress.finish_step();
    }
    let stderr_text = stderr_reader.join().unwrap_or_default();
    if !status.success() {
        let last = stderr_text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output");
        return Err(format!("the peer harness failed ({python}): {}", last.trim()));
    }
    let text = std::fs::read_to_string(&out_path)
        .map_err(|e| format!("the peer harness wrote no results ({e})"))?;
    serde_json::from_str(&text).map_err(|e| format!("cannot read the peer harness's results: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_lists() {
        assert_eq!(parse_peer_list("numpy, torch").unwrap(), vec!["numpy", "torch"]);
        assert_eq!(parse_peer_list("all").unwrap(), KNOWN_PEERS.to_vec());
        assert_eq!(parse_peer_list("PyTorch,numpy,torch").unwrap(), vec!["torch", "numpy"]);
        let e = parse_peer_list("numpy,jax").unwrap_err();
        assert!(e.contains("unknown peer \"jax\"") && e.contains("numpy, torch, mlx, cupy"), "{e}");
        assert!(parse_peer_list("numpy,").is_err());
    }
}
