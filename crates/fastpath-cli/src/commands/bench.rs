//! `fastpath bench` — measure kernels on this machine, optionally beside numpy, PyTorch, MLX
//! and CuPy, and write JSON, Markdown and charts. The measuring lives in `fastpath-bench`;
//! this module parses, checks outputs up front, draws the progress bar and prints.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use fastpath_bench::measure::TimingPolicy;
use fastpath_bench::profile::write_atomically;
use fastpath_bench::run::{BenchConfig, Progress};
use fastpath_bench::{load_profile, peers, plot, render, sizes};
use fastpath_kernels::{Kernel, KernelError, catalog, registry};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::{CliError, GlobalOpts};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendArg {
    Cpu,
    Gpu,
    All,
}

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
fastpath bench --kernels REDUCE_SUM,MAP_EXP --sizes 2^16..2^24\n  \
fastpath bench --domain reductions --compare numpy,torch --markdown bench.md --plot bench.svg\n  \
fastpath bench --backend gpu --sizes 2^26 --json > h100.json\n  \
fastpath bench --regret            # how well `--backend auto` chooses\n\n\
Each row: median and spread (interquartile range / median) of repetitions after warm-up; on \
the GPU the median is GPU time from timestamp queries with the data on the device, `wall` \
adds recording, submitting and waiting. GB/s and GFLOP/s come from each kernel's cost model; \
`of ceiling` compares them with the copy bandwidth (or peak FLOP/s for compute-bound kernels) \
measured at the start of the same run. Peer columns are peer time / fastpath time.")]
pub struct Args {
    /// Kernels to measure: comma-separated catalog ids (default: every implemented kernel).
    #[arg(long, value_delimiter = ',', value_name = "ID,...", conflicts_with_all = ["domain", "all"])]
    pub kernels: Vec<String>,
    /// Only the implemented kernels of these domains (comma-separated, e.g. reductions).
    #[arg(long, value_delimiter = ',', value_name = "DOMAIN,...", conflicts_with = "all")]
    pub domain: Vec<String>,
    /// Every implemented kernel (the default).
    #[arg(long)]
    pub all: bool,
    /// Sizes in elements: a range `2^10..2^24` (×4 apart; `:x2` for another factor), a list
    /// `1000,2^20`, or both.
    #[arg(long, value_name = "SIZES", default_value = "2^10..2^24")]
    pub sizes: String,
    /// Backends to measure.
    #[arg(long, value_enum, default_value = "all")]
    pub backend: BackendArg,
    /// Time these peers on the same inputs: numpy, torch, mlx, cupy or all. Runs
    /// `$FASTPATH_PYTHON` (default python3); missing libraries are listed as missing.
    #[arg(long, value_name = "PEER,...")]
    pub compare: Option<String>,
    /// Exactly N measured repetitions per case (default: 5 to 100, about 0.25 s per case).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub reps: Option<u32>,
    /// Write the report as JSON to FILE; `--json` alone prints only JSON on stdout.
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    pub json: Option<PathBuf>,
    /// Charts of throughput against size, one panel per domain (FILE.svg or FILE.png;
    /// repeat the flag for both).
    #[arg(long, value_name = "FILE")]
    pub plot: Vec<PathBuf>,
    /// Markdown report with device, date, commit and command (for BENCHMARKS.md).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Score `--backend auto`: its choice against the best backend measured, per kernel and
    /// size (geometric-mean and worst regret).
    #[arg(long)]
    pub regret: bool,
    /// Machine profile `auto` reads for --regret (default: the calibrated one, if any).
    #[arg(long, value_name = "FILE", requires = "regret")]
    pub profile: Option<PathBuf>,
}

/// The command line as typed, for reports.
pub(crate) fn command_line() -> String {
    let args: Vec<String> = std::env::args()
        .enumerate()
        .map(|(i, a)| if i == 0 { "fastpath".to_string() } else { a })
        .map(|a| if a.contains(' ') || a.is_empty() { format!("'{a}'") } else { a })
        .collect();
    args.join(" ")
}

/// Kernels from `--kernels` / `--domain` (default: every implemented one).
pub(crate) fn select_kernels(
    ids: &[String],
    domains: &[String],
) -> Result<Vec<&'static dyn Kernel>, CliError> {
    if !ids.is_empty() {
        let mut out: Vec<&'static dyn Kernel> = Vec::new();
        for id in ids.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            let k = fastpath_kernels::kernel(id).map_err(|e| match e {
                KernelError::UnknownKernel(_) => CliError::bad_input(format!(
                    "unknown kernel {id:?}; `fastpath kernels` lists the catalog"
                )),
                other => CliError::bad_input(other),
            })?;
            if !out.iter().any(|o| o.id() == k.id()) {
                out.push(k);
            }
        }
        if out.is_empty() {
            return Err(CliError::bad_input("--kernels names no kernel"));
        }
        return Ok(out);
    }
    if !domains.is_empty() {
        let known: Vec<&str> = catalog().domains.iter().map(|d| d.id.as_str()).collect();
        let mut out: Vec<&'static dyn Kernel> = Vec::new();
        for d in domains.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            if !known.contains(&d) && d != "extras" {
                return Err(CliError::bad_input(format!(
                    "unknown domain {d:?}; domains are {}",
                    known.join(", ")
                )));
            }
            let before = out.len();
            out.extend(registry().iter().filter(|k| k.spec().domain == d));
            if out.len() == before {
                return Err(CliError::bad_input(format!(
                    "domain {d} has no implemented kernels yet; `fastpath kernels --domain {d}` shows its catalog"
                )));
            }
        }
        return Ok(out);
    }
    Ok(registry().iter().collect())
}

/// Fails early, before minutes of measuring, when an output cannot be written: the directory
/// must exist and accept a file.
pub(crate) fn check_writable(path: &Path, flag: &str) -> Result<(), CliError> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if path.is_dir() {
        return Err(CliError::bad_input(format!(
            "{flag} {}: is a directory, expected a file",
            path.display()
        )));
    }
    let probe = dir.join(format!(".fastpath-write-probe-{}", std::process::id()));
    match std::fs::write(&probe, b"") {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => {
            Err(CliError::bad_input(format!("{flag} {}: cannot write there ({e})", path.display())))
        }
    }
}

/// The terminal progress bar (stderr; hidden when stderr is not a terminal).
pub(crate) struct Bar {
    bar: ProgressBar,
    visible: bool,
}

impl Bar {
    pub(crate) fn new() -> Bar {
        let visible = std::io::stderr().is_terminal();
        let bar = ProgressBar::with_draw_target(
            Some(0),
            if visible { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() },
        );
        bar.set_style(
            ProgressStyle::with_template("{elapsed:>4} [{bar:28}] {pos}/{len} {wide_msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        Bar { bar, visible }
    }

    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for Bar {
    fn add_work(&mut self, steps: u64) {
        self.bar.inc_length(steps);
    }
    fn begin(&mut self, label: &str) {
        self.bar.set_message(label.to_string());
    }
    fn finish_step(&mut self) {
        self.bar.inc(1);
    }
    fn note(&mut self, message: &str) {
        if self.visible {
            self.bar.suspend(|| eprintln!("warning: {message}"));
        } else {
            eprintln!("warning: {message}");
        }
    }
}

pub fn run(args: &Args, global: &GlobalOpts) -> Result<ExitCode, CliError> {
    let kernels = select_kernels(&args.kernels, &args.domain)?;
    let sizes = sizes::parse_sizes(&args.sizes)
        .map_err(|e| CliError::bad_input(format!("--sizes: {e}")))?;
    let peers = match &args.compare {
        Some(text) => peers::parse_peer_list(text).map_err(CliError::bad_input)?,
        None => Vec::new(),
    };
    let json_to_stdout = args.json.as_deref() == Some(Path::new("-"));
    if let Some(p) = args.json.as_deref().filter(|_| !json_to_stdout) {
        check_writable(p, "--json")?;
    }
    if let Some(p) = &args.markdown {
        check_writable(p, "--markdown")?;
    }
    for p in &args.plot {
        plot::PlotFormat::from_path(p).map_err(CliError::bad_input)?;
        check_writable(p, "--plot")?;
    }
    let regret = if args.regret {
        let loaded = load_profile(args.profile.as_deref()).map_err(CliError::bad_input)?;
        Some(loaded)
    } else {
        None
    };
    let policy = match args.reps {
        Some(n) => TimingPolicy::BENCH.with_exact_reps(n as usize),
        None => TimingPolicy::BENCH,
    };
    let config = BenchConfig {
        kernels,
        sizes,
        cpu: args.backend != BackendArg::Gpu,
        gpu: args.backend != BackendArg::Cpu,
        gpu_required: args.backend == BackendArg::Gpu,
        adapter: global.adapter.clone(),
        peers,
        policy,
        run_budget_seconds: None,
        regret,
        measure_transfer: false,
        measure_ceilings: true,
        only_cases: None,
        gpu_device: None,
        command: command_line(),
    };
    let mut bar = Bar::new();
    let result = fastpath_bench::run::run(&config, &mut bar).and_then(|mut report| {
        fastpath_bench::run::confirm_regret(&config, &mut report, &mut bar)?;
        Ok(report)
    });
    bar.finish();
    let report = result
        .map_err(|e| if e.bad_input { CliError::bad_input(e) } else { CliError::failure(e) })?;

    let json = serde_json::to_string_pretty(&report).expect("reports serialize");
    if let Some(path) = &args.json {
        if json_to_stdout {
            println!("{json}");
        } else {
            write_atomically(path, json.as_bytes()).map_err(CliError::failure)?;
        }
    }
    if let Some(path) = &args.markdown {
        write_atomically(path, render::markdown(&report).as_bytes()).map_err(CliError::failure)?;
    }
    for path in &args.plot {
        plot::write(&report, path).map_err(CliError::failure)?;
    }
    if !json_to_stdout {
        print!("{}", render::text(&report));
    }
    Ok(ExitCode::SUCCESS)
}
