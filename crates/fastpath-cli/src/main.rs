//! The `fastpath` binary: parsing and printing only. Every decision and every computation
//! lives in the library crates; a command module turns arguments into library calls and
//! results into text or JSON.

mod commands;
mod error;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use error::CliError;

/// glibc serves every block of 32 MB or more (its mmap threshold cannot be raised past that) as
/// a fresh mapping and unmaps it on free, so each CPU kernel call on 2^23+ elements faulted in
/// and zeroed its whole output again: a 2^24-element map took 25 ms, 7 ms with mimalloc, which
/// keeps freed blocks for the next call. mimalloc starts every large block at the same aligned
/// offset, so arrays streamed together competed for the same cache sets; the colouring wrapper
/// staggers them (`fastpath_kernels::alloc`). The library leaves the choice of allocator to the
/// program that links it; this is the CLI's.
#[global_allocator]
static ALLOCATOR: fastpath_kernels::ColoredAlloc<mimalloc::MiMalloc> =
    fastpath_kernels::ColoredAlloc::new(mimalloc::MiMalloc);

/// Pick the fastest execution path for a compute workload and run it there.
///
/// fastpath runs its own GPU kernels (WGSL through wgpu: Vulkan, Metal, DX12), its own CPU
/// kernels (rayon), hands standard ML work to MLX or PyTorch when that is fastest, and plans
/// cloud runs when a workload outgrows the machine. A health gate checks memory pressure,
/// thermals, power and load before anything starts.
#[derive(Parser)]
#[command(name = "fastpath", version, propagate_version = true, max_term_width = 100)]
#[command(after_help = "Start with `fastpath run` (a built-in demo workload), then \
`fastpath kernels` to see the catalog and `fastpath health` to see what the gate sees.\n\
Exit status: 0 success, 1 failure while running, 2 bad usage or bad input, 3 blocked by the health gate.")]
struct Cli {
    #[command(flatten)]
    global: GlobalOpts,
    #[command(subcommand)]
    command: Command,
}

/// Options every command understands.
#[derive(clap::Args, Debug, Clone)]
pub struct GlobalOpts {
    /// GPU adapter to use: a case-insensitive part of its name (e.g. "H100", "llvmpipe") or
    /// its index in `fastpath devices`. Overrides FASTPATH_ADAPTER.
    #[arg(long, global = true, value_name = "NAME|INDEX")]
    pub adapter: Option<String>,
    /// More log output on stderr (-v info, -vv debug). RUST_LOG overrides it.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Subcommands whose variant has no doc comment take their help from the `Args` struct's
/// doc comment (first paragraph: summary; the rest: long help).
#[derive(Subcommand)]
enum Command {
    /// Run a workload end to end: health gate, routing decision, execution, report.
    Run(commands::run::Args),
    /// Decide where a workload should run and explain why (no execution).
    Route(commands::route::Args),
    /// Probe memory pressure, thermals, power and load, and evaluate the health gate.
    Health(commands::health::Args),
    Kernels(commands::kernels::Args),
    Devices(commands::devices::Args),
    RunKernel(commands::run_kernel::Args),
    /// Measure kernels on this machine, optionally beside numpy/PyTorch/MLX/CuPy.
    Bench(commands::bench::Args),
    /// Measure every kernel on every backend and write the machine profile routing uses.
    Calibrate(commands::calibrate::Args),
}

fn main() -> ExitCode {
    quiet_wsi_warning();
    let cli = Cli::parse();
    init_logging(cli.global.verbose);
    let result = match &cli.command {
        Command::Run(args) => commands::run::run(args, &cli.global),
        Command::Route(args) => commands::route::run(args, &cli.global),
        Command::Health(args) => commands::health::run(args, &cli.global),
        Command::Kernels(args) => commands::kernels::run(args, &cli.global),
        Command::Devices(args) => commands::devices::run(args, &cli.global),
        Command::RunKernel(args) => commands::run_kernel::run(args, &cli.global),
        Command::Bench(args) => commands::bench::run(args, &cli.global),
        Command::Calibrate(args) => commands::calibrate::run(args, &cli.global),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", err.message());
            ExitCode::from(err.exit_code())
        }
    }
}

/// Mesa's Vulkan drivers print "XDG_RUNTIME_DIR is invalid or not set" to stderr when the
/// variable is missing (containers, CI, ssh sessions), which would break our promise of one
/// clear error line. Compute never needs a display, so point it at a private directory.
fn quiet_wsi_warning() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join("fastpath-xdg-runtime");
        if dir.is_dir() || std::fs::create_dir(&dir).is_ok() {
            let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
            // SAFETY: called first thing in main, before any other thread exists.
            unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
        }
    }
}

fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}
