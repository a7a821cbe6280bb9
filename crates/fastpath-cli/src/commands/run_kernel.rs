//! `fastpath run-kernel`: one catalog kernel on `.npy` files, following the catalog's CLI
//! convention: one `--in` per contract input in order, `--param name=value` per parameter,
//! one `--out` per output in order, 0-d arrays for scalars.

use std::path::PathBuf;
use std::process::ExitCode;

use fastpath::{BackendChoice, Context};
use fastpath_kernels::catalog::KernelSpec;
use fastpath_kernels::{HostArray, KernelError, Params, kernel, npy};
use serde::Serialize;

use crate::{CliError, GlobalOpts};

/// Run one kernel on .npy files
///
/// Inputs, parameters and outputs follow the kernel's contract (`fastpath kernels --json`
/// lists them): one --in per input in order, --param name=value for parameters (defaults
/// apply when omitted), one --out per output in order. Scalar results are written as 0-d
/// arrays. Outputs with a count (compaction) are written truncated to the valid prefix.
/// Output files appear only when the kernel succeeded, each written atomically.
///
/// Examples:
///   fastpath run-kernel REDUCE_SUM --in x.npy --out s.npy
///   fastpath run-kernel REDUCE_HISTOGRAM --in x.npy --param min_val=0 --param max_val=1 --out h.npy
///   fastpath run-kernel MAP_ADD --in a.npy --in b.npy --out c.npy --backend gpu
///   fastpath run-kernel REDUCE_ARGMAX --in x.npy --out value.npy --out index.npy
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Kernel id from the catalog, e.g. REDUCE_SUM (case-insensitive).
    #[arg(value_name = "ID")]
    id: String,
    /// Input .npy file; repeat once per contract input, in order.
    #[arg(long = "in", value_name = "FILE.npy")]
    inputs: Vec<PathBuf>,
    /// Parameter as name=value (f32, u32, bool or enum value); repeatable.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// Output .npy file; repeat once per contract output, in order.
    #[arg(long = "out", value_name = "FILE.npy")]
    outputs: Vec<PathBuf>,
    /// Where to run: cpu, gpu, or auto (GPU only for large inputs on a hardware GPU where it
    /// pays; a calibration profile refines the rule).
    #[arg(long, default_value = "auto", value_name = "cpu|gpu|auto")]
    backend: String,
    /// Print a JSON summary (kernel, backend, reason, seconds, outputs) on stdout.
    #[arg(long)]
    json: bool,
    /// Print nothing on success.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Serialize)]
struct Summary<'a> {
    kernel: &'a str,
    backend: &'a str,
    device: Option<&'a str>,
    reason: &'a str,
    seconds: f64,
    outputs: Vec<OutputInfo>,
}

#[derive(Serialize)]
struct OutputInfo {
    name: String,
    path: String,
    dtype: String,
    shape: Vec<usize>,
}

/// "--in x.npy (f32 [n]) --param min_val=<f32> ... --out counts.npy (u32 [256])"
fn usage(spec: &KernelSpec) -> String {
    let mut parts: Vec<String> = Vec::new();
    for i in &spec.inputs {
        let opt = if i.optional || i.required_when.is_some() { " optional" } else { "" };
        parts.push(format!("--in {}.npy ({} {}{opt})", i.name, i.dtype, i.shape_text));
    }
    for p in &spec.params {
        parts.push(match &p.default {
            Some(d) => format!("[--param {}={d}]", p.name),
            None => format!("--param {}=<{}>", p.name, p.ty.describe()),
        });
    }
    for o in &spec.outputs {
        parts.push(format!("--out {}.npy ({} {})", o.name, o.dtype, o.shape_text));
    }
    format!("usage: fastpath run-kernel {} {}", spec.id, parts.join(" "))
}

fn kernel_error(err: KernelError) -> CliError {
    if err.is_bad_input() { CliError::bad_input(err) } else { CliError::failure(err) }
}

pub fn run(args: &Args, global: &GlobalOpts) -> Result<ExitCode, CliError> {
    let k = kernel(&args.id).map_err(kernel_error)?;
    let spec = k.spec();
    let choice: BackendChoice = args.backend.parse().map_err(CliError::bad_input)?;

    let required_in =
        spec.inputs.iter().filter(|i| !i.optional && i.required_when.is_none()).count();
    if args.inputs.len() < required_in || args.inputs.len() > spec.inputs.len() {
        return Err(CliError::bad_input(format!(
            "{} needs {} --in file(s), got {}; {}",
            spec.id,
            if required_in == spec.inputs.len() {
                required_in.to_string()
            } else {
                format!("{required_in} to {}", spec.inputs.len())
            },
            args.inputs.len(),
            usage(spec)
        )));
    }
    let required_out =
        spec.outputs.iter().filter(|o| !o.optional && o.required_when.is_none()).count();
    if args.outputs.len() < required_out || args.outputs.len() > spec.outputs.len() {
        return Err(CliError::bad_input(format!(
            "{} writes {} output(s) ({}), got {} --out; {}",
            spec.id,
            required_out,
            spec.outputs.iter().map(|o| o.name.as_str()).collect::<Vec<_>>().join(", "),
            args.outputs.len(),
            usage(spec)
        )));
    }
    for (i, a) in args.outputs.iter().enumerate() {
        if args.outputs[..i].contains(a) {
            return Err(CliError::bad_input(format!("--out {} is given twice", a.display())));
        }
    }

    let mut given = Vec::with_capacity(args.params.len());
    for p in &args.params {
        let (name, value) = p.split_once('=').ok_or_else(|| {
            CliError::bad_input(format!("--param {p:?} must be name=value; {}", usage(spec)))
        })?;
        given.push((name.trim().to_string(), value.to_string()));
    }
    let params = Params::parse(spec, &given).map_err(kernel_error)?;

    let mut inputs = Vec::with_capacity(args.inputs.len());
    for path in &args.inputs {
        inputs.push(npy::read(path).map_err(CliError::bad_input)?);
    }
    let refs: Vec<&HostArray> = inputs.iter().collect();

    let ctx = Context::new(global.adapter.clone());
    let run =
        ctx.run_kernel_with(spec.id.as_str(), &refs, &params, choice).map_err(kernel_error)?;
    if run.outputs.len() != args.outputs.len() {
        return Err(CliError::bad_input(format!(
            "{} produced {} output(s) for these inputs but {} --out were given; {}",
            spec.id,
            run.outputs.len(),
            args.outputs.len(),
            usage(spec)
        )));
    }

    // Outputs with a valid prefix are cut to their count.
    let mut outputs = run.outputs.clone();
    for (i, o) in spec.outputs.iter().enumerate().take(outputs.len()) {
        if let Some(counter) = &o.valid_prefix
            && let Some(ci) = spec.outputs.iter().position(|c| &c.name == counter)
            && let Some(count) = outputs.get(ci).and_then(|c| c.as_u32()).and_then(|c| c.first())
        {
            outputs[i] = outputs[i].clone().truncated(*count as usize);
        }
    }

    let mut written: Vec<&PathBuf> = Vec::new();
    for (array, path) in outputs.iter().zip(&args.outputs) {
        if let Err(e) = npy::write(path, array) {
            // Leave no partial set of outputs behind.
            for p in written {
                let _ = std::fs::remove_file(p);
            }
            return Err(CliError::failure(e));
        }
        written.push(path);
    }

    let infos: Vec<OutputInfo> = outputs
        .iter()
        .zip(&args.outputs)
        .zip(&spec.outputs)
        .map(|((a, p), o)| OutputInfo {
            name: o.name.clone(),
            path: p.display().to_string(),
            dtype: a.dtype().to_string(),
            shape: a.shape().to_vec(),
        })
        .collect();
    if args.json {
        let s = Summary {
            kernel: &spec.id,
            backend: run.backend,
            device: run.device.as_deref(),
            reason: &run.reason,
            seconds: run.seconds,
            outputs: infos,
        };
        println!("{}", serde_json::to_string_pretty(&s).map_err(CliError::failure)?);
    } else if !args.quiet {
        let device = run.device.as_deref().map(|d| format!(" ({d})")).unwrap_or_default();
        println!(
            "{} ran on {}{device} in {:.3} ms ({})",
            spec.id,
            run.backend,
            run.seconds * 1e3,
            run.reason
        );
        for i in infos {
            println!("  {} -> {} ({} {:?})", i.name, i.path, i.dtype, i.shape);
        }
    }
    Ok(ExitCode::SUCCESS)
}
