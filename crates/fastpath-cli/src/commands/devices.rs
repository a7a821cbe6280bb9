//! `fastpath devices`: what this machine offers to run on.

use std::process::ExitCode;

use serde::Serialize;

use crate::{CliError, GlobalOpts};

/// List the CPU and every GPU adapter, with the one fastpath would use marked.
///
/// `--adapter NAME|INDEX` (or FASTPATH_ADAPTER) picks another adapter by a part of its name
/// or its index in this list.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Devices {
    cpu_threads: usize,
    adapters: Vec<Adapter>,
    selected: Option<usize>,
    selection_error: Option<String>,
}

#[derive(Serialize)]
struct Adapter {
    index: usize,
    name: String,
    backend: String,
    device_type: String,
    driver: String,
    unified_memory: bool,
    max_buffer_bytes: u64,
    max_storage_binding_bytes: u64,
}

pub fn run(args: &Args, global: &GlobalOpts) -> Result<ExitCode, CliError> {
    let adapters: Vec<Adapter> = fastpath_gpu::list_adapters()
        .into_iter()
        .map(|a| Adapter {
            index: a.index,
            name: a.name,
            backend: a.backend,
            device_type: a.device_type,
            driver: a.driver,
            unified_memory: a.unified_memory,
            max_buffer_bytes: a.max_buffer_bytes,
            max_storage_binding_bytes: a.max_storage_binding_bytes,
        })
        .collect();
    let (selected, selection_error) =
        match fastpath_gpu::describe_adapter(global.adapter.as_deref()) {
            Ok(a) => (Some(a.index), None),
            Err(e) => (None, Some(e.to_string())),
        };
    let d = Devices {
        cpu_threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        adapters,
        selected,
        selection_error,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&d).map_err(CliError::failure)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("CPU: {} threads (rayon)", d.cpu_threads);
    if d.adapters.is_empty() {
        println!("GPU: none found");
    }
    for a in &d.adapters {
        let mark = if Some(a.index) == d.selected { "*" } else { " " };
        println!(
            "{mark}[{}] {} ({}, {}{}), max buffer {} MiB, max binding {} MiB, driver {}",
            a.index,
            a.name,
            a.backend,
            a.device_type,
            if a.unified_memory { ", unified memory" } else { "" },
            a.max_buffer_bytes >> 20,
            a.max_storage_binding_bytes >> 20,
            a.driver
        );
    }
    if let Some(e) = &d.selection_error {
        println!("no adapter selected: {e}");
    } else {
        println!(
            "* = used by default; choose another with --adapter NAME|INDEX or FASTPATH_ADAPTER"
        );
    }
    Ok(ExitCode::SUCCESS)
}
