//! `fastpath calibrate` — measure every kernel on every backend across sizes and write the
//! machine profile that `--backend auto` and the router read.

use std::path::PathBuf;
use std::process::ExitCode;

use fastpath_bench::profile::{default_profile_path, format_seconds, write_atomically};
use fastpath_bench::{calibrate, sizes};

use super::bench::{Bar, check_writable, command_line, select_kernels};
use crate::{CliError, GlobalOpts};

#[derive(clap::Args, Debug)]
#[command(after_help = "The profile holds, per kernel, the wall time of one call on the CPU and \
on the GPU (data already on the device) at each size, the size from which the GPU wins, the \
measured copy bandwidth and peak FLOP/s, the fixed cost of a GPU call and the host-device \
transfer rates. The cases at each kernel's CPU/GPU crossover are measured twice more and the \
median of the three kept, so one interrupted measurement cannot move the crossover. Routing \
interpolates between the measured sizes; without a profile it falls back to a fixed rule (GPU \
from 2^20 elements on a hardware GPU).")]
pub struct Args {
    /// Seven sizes (2^10..2^22, ×4 apart) and few repetitions: under a minute with a hardware
    /// GPU (27-28 s on a 16-thread H100 host at c4c577c), a few minutes with a software one
    /// such as lavapipe, whose sorts take seconds per call (3.4 min on 2 cores at 44b4bbc).
    /// The full calibration measures every power of two from 2^10 to 2^26.
    #[arg(long)]
    pub quick: bool,
    /// Where to write the profile (default: profile.json in the user cache directory,
    /// e.g. ~/.cache/fastpath on Linux, ~/Library/Caches/fastpath on macOS).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Only these kernels (comma-separated ids; default: every implemented kernel).
    #[arg(long, value_delimiter = ',', value_name = "ID,...")]
    pub kernels: Vec<String>,
    /// Sizes instead of the default ladder (same syntax as `fastpath bench --sizes`).
    #[arg(long, value_name = "SIZES")]
    pub sizes: Option<String>,
    /// Print the profile as JSON on stdout instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// Also write the measurements behind the profile to FILE: the report `fastpath bench
    /// --json` writes, with the walls of every case measured again at a crossover.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

pub fn run(args: &Args, global: &GlobalOpts) -> Result<ExitCode, CliError> {
    let kernels = select_kernels(&args.kernels, &[])?;
    let sizes = match &args.sizes {
        Some(text) => Some(
            sizes::parse_sizes(text).map_err(|e| CliError::bad_input(format!("--sizes: {e}")))?,
        ),
        None => None,
    };
    let out = match &args.out {
        Some(p) => p.clone(),
        None => default_profile_path().ok_or_else(|| {
            CliError::failure("no user cache directory (HOME is not set); pass --out FILE")
        })?,
    };
    if args.out.is_some() {
        check_writable(&out, "--out")?;
    }
    if let Some(p) = &args.report {
        check_writable(p, "--report")?;
    }
    let config =
        calibrate::config(args.quick, kernels, sizes, global.adapter.clone(), command_line());
    let mut bar = Bar::new();
    let result = fastpath_bench::run::run(&config, &mut bar).and_then(|mut report| {
        let refinement = calibrate::refine_boundaries(&config, &mut report, &mut bar)?;
        Ok((report, refinement))
    });
    bar.finish();
    let (report, refinement) = result
        .map_err(|e| if e.bad_input { CliError::bad_input(e) } else { CliError::failure(e) })?;
    let profile = calibrate::profile_from(&report, args.quick);
    profile.write(&out).map_err(CliError::failure)?;
    if let Some(path) = &args.report {
        let json = serde_json::to_string_pretty(&report).expect("reports serialize");
        write_atomically(path, json.as_bytes()).map_err(CliError::failure)?;
    }

    if args.json {
        println!("{}", serde_json::to_string_pretty(&profile).expect("profiles serialize"));
        return Ok(ExitCode::SUCCESS);
    }
    println!("machine profile written to {}", out.display());
    if let Some(path) = &args.report {
        println!("measurements written to {}", path.display());
    }
    println!(
        "CPU: {} · GPU: {}",
        profile.host.cpu,
        profile
            .gpu
            .as_ref()
            .map_or("none measured".to_string(), |g| format!("{} ({})", g.name, g.device_type))
    );
    let gbps = |v: Option<f64>| v.map_or("-".to_string(), |g| format!("{g:.1} GB/s"));
    println!(
        "copy bandwidth: cpu {}, gpu {}",
        gbps(profile.cpu_copy_gbps),
        gbps(profile.gpu_copy_gbps)
    );
    let d = &profile.dispatch;
    let secs = |v: Option<f64>| v.map_or("-".to_string(), format_seconds);
    println!(
        "fixed costs: gpu submit+wait {}, gpu call inside a batch {}, cpu call {}",
        secs(d.gpu_submit_wait_s),
        secs(d.gpu_chained_per_kernel_s),
        secs(d.cpu_call_s)
    );
    if refinement.cases > 0 {
        let moved = if refinement.moved.is_empty() {
            "no crossover moved".to_string()
        } else {
            let show = |c: Option<usize>| c.map_or("never".to_string(), sizes::format_size);
            let list: Vec<String> = refinement
                .moved
                .iter()
                .map(|(k, b, a)| format!("{k} {} → {}", show(*b), show(*a)))
                .collect();
            format!("crossovers moved: {}", list.join(", "))
        };
        println!(
            "crossovers re-measured: {} cases at the CPU/GPU boundaries measured twice more, the median of three kept ({} changed); {moved}",
            refinement.cases, refinement.changed
        );
    }
    if let Some(t) = &profile.transfer {
        println!(
            "transfers: host→device {:.1} GB/s, device→host {:.1} GB/s",
            t.host_to_device_gbps, t.device_to_host_gbps
        );
    }
    println!("\n{:<28} {:>12}  {:>12} {:>12}  (largest size)", "kernel", "GPU from", "cpu", "gpu");
    for (id, c) in &profile.kernels {
        let largest = |v: &[fastpath_bench::profile::Point]| v.last().map(|p| (p.n, p.seconds));
        let (cpu, gpu) = (largest(&c.cpu), largest(&c.gpu));
        println!(
            "{:<28} {:>12}  {:>12} {:>12}  {}",
            id,
            c.crossover_n.map_or("never".to_string(), |n| sizes::format_size(n as usize)),
            cpu.map_or("-".into(), |p| format_seconds(p.1)),
            gpu.map_or("-".into(), |p| format_seconds(p.1)),
            cpu.or(gpu).map_or(String::new(), |p| sizes::format_size(p.0 as usize))
        );
    }
    for s in &report.skipped {
        eprintln!("skipped {} at {}: {}", s.kernel, sizes::format_size(s.n), s.reason);
    }
    Ok(ExitCode::SUCCESS)
}
