//! Choosing CPU or GPU for one kernel call on host data.

use fastpath_gpu::AdapterSummary;
use fastpath_kernels::{ArgMeta, Kernel};

/// What the caller asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendChoice {
    Cpu,
    Gpu,
    Auto,
}

impl std::str::FromStr for BackendChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" => Ok(BackendChoice::Cpu),
            "gpu" => Ok(BackendChoice::Gpu),
            "auto" => Ok(BackendChoice::Auto),
            other => Err(format!("unknown backend {other:?}; expected cpu, gpu or auto")),
        }
    }
}

/// The backend picked and why, in words for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendDecision {
    pub use_gpu: bool,
    pub reason: String,
}

/// Elements from which a GPU call on host data pays for its fixed costs (upload, dispatch,
/// submit-and-wait ≈ 0.1 ms) — used only when no calibration profile exists.
pub const AUTO_GPU_MIN_ELEMENTS: usize = 1 << 20;

/// The rule `--backend auto` follows before `fastpath calibrate` has measured this machine:
///
/// 1. no GPU adapter, or only a software rasterizer (lavapipe, WARP) → CPU;
/// 2. fewer than 2^20 elements → CPU (fixed GPU costs dominate);
/// 3. on a discrete GPU, a memory-bound kernel on host data → CPU: the data crosses PCIe
///    (≈ 25 GB/s) twice, slower than the CPU streaming it once;
/// 4. otherwise → GPU.
pub fn auto_backend(
    kernel: &dyn Kernel,
    args: &[ArgMeta],
    adapter: Option<&AdapterSummary>,
) -> BackendDecision {
    let n = args.iter().map(ArgMeta::len).max().unwrap_or(0);
    let cpu = |reason: String| BackendDecision { use_gpu: false, reason };
    let Some(adapter) = adapter else {
        return cpu("no GPU adapter".into());
    };
    if adapter.device_type == "cpu" {
        return cpu(format!("{} is a software rasterizer", adapter.name));
    }
    if n < AUTO_GPU_MIN_ELEMENTS {
        return cpu(format!("{n} elements < 2^20: GPU fixed costs would dominate"));
    }
    if !adapter.unified_memory && kernel.spec().bound == "memory" {
        return cpu(format!(
            "memory-bound kernel on host data and a discrete GPU: the PCIe copies cost more than {n} elements of CPU streaming"
        ));
    }
    BackendDecision { use_gpu: true, reason: format!("{n} elements on {}", adapter.name) }
}
