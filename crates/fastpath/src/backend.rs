//! Choosing CPU or GPU for one kernel call on host data.

use fastpath_bench::{MachineProfile, choose_backend_for_host_data, estimate_host_call_seconds};
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
/// submit-and-wait ≈ 0.1 ms) — used only when no calibration profile exists. The benchmark
/// harness scores the same rule (`fastpath bench --regret`).
pub const AUTO_GPU_MIN_ELEMENTS: usize = fastpath_bench::profile::RULE_GPU_MIN_ELEMENTS as usize;

/// Uses a calibration profile for a call on host data when it was measured on this adapter
/// and knows the kernel: the measured kernel times plus the measured upload and readback.
pub fn calibrated_backend(
    profile: &MachineProfile,
    kernel: &dyn Kernel,
    args: &[ArgMeta],
    adapter: &AdapterSummary,
) -> Option<BackendDecision> {
    if profile.gpu.as_ref().map(|g| g.name.as_str()) != Some(adapter.name.as_str()) {
        return None;
    }
    let n = args.iter().map(ArgMeta::len).max().unwrap_or(0) as u64;
    let bytes_in: u64 = args.iter().map(|a| (a.len() * a.dtype.size_bytes()) as u64).sum();
    // Outputs are at most the size of the largest input for every catalog kernel routed
    // here; reductions write a few bytes. The read-back estimate errs on the safe side.
    let bytes_out = args.first().map_or(0, |a| (a.len() * a.dtype.size_bytes()) as u64);
    let id = kernel.id();
    let backend = choose_backend_for_host_data(profile, id, n, bytes_in, bytes_out)?;
    let show = |b| {
        estimate_host_call_seconds(profile, id, n, b, bytes_in, bytes_out)
            .map_or("not measured".to_string(), |s| format!("{:.3} ms", s * 1e3))
    };
    Some(BackendDecision {
        use_gpu: backend == fastpath_bench::Backend::Gpu,
        reason: format!(
            "calibrated profile: cpu ≈ {}, gpu ≈ {} with transfers, for n = {n}",
            show(fastpath_bench::Backend::Cpu),
            show(fastpath_bench::Backend::Gpu)
        ),
    })
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use fastpath_bench::profile::{
        DispatchOverhead, GpuInfo, HostInfo, KernelCurves, PROFILE_SCHEMA, Point, Transfer,
    };
    use fastpath_kernels::{DType, kernel};

    fn adapter(name: &str, device_type: &str) -> AdapterSummary {
        AdapterSummary {
            index: 0,
            name: name.into(),
            backend: "vulkan".into(),
            device_type: device_type.into(),
            driver: String::new(),
            unified_memory: false,
            max_buffer_bytes: 1 << 34,
            max_storage_binding_bytes: 1 << 32,
        }
    }

    fn vector(n: usize) -> Vec<ArgMeta> {
        vec![ArgMeta { dtype: DType::F32, shape: vec![n] }]
    }

    /// CPU 1 ns per element; GPU 50 µs plus 0.01 ns per element; transfers at 20 GB/s.
    fn profile() -> MachineProfile {
        let pts = |f: &dyn Fn(f64) -> f64| {
            [1u64 << 10, 1 << 16, 1 << 22, 1 << 26]
                .iter()
                .map(|&n| Point { n, seconds: f(n as f64), gbps: None })
                .collect::<Vec<_>>()
        };
        let mut kernels = std::collections::BTreeMap::new();
        kernels.insert(
            "MAP_EXP".to_string(),
            KernelCurves {
                cpu: pts(&|n| n * 1e-9),
                gpu: pts(&|n| 50e-6 + n * 1e-11),
                gpu_device: vec![],
                crossover_n: Some(1 << 16),
            },
        );
        MachineProfile {
            schema: PROFILE_SCHEMA.into(),
            created: "2026-11-25T00:00:00Z".into(),
            fastpath_version: "test".into(),
            quick: true,
            host: HostInfo::default(),
            gpu: Some(GpuInfo { name: "Big GPU".into(), ..Default::default() }),
            cpu_copy_gbps: Some(10.0),
            gpu_copy_gbps: Some(3000.0),
            cpu_peak_gflops: None,
            gpu_peak_gflops: None,
            dispatch: DispatchOverhead::default(),
            transfer: Some(Transfer { host_to_device_gbps: 20.0, device_to_host_gbps: 20.0 }),
            kernels,
        }
    }

    #[test]
    fn the_rule_without_a_profile() {
        let k = kernel("REDUCE_SUM").unwrap();
        assert!(!auto_backend(k, &vector(1 << 22), None).use_gpu);
        let soft = adapter("llvmpipe", "cpu");
        assert!(!auto_backend(k, &vector(1 << 22), Some(&soft)).use_gpu);
        let big = adapter("Big GPU", "discrete");
        assert!(!auto_backend(k, &vector(1 << 10), Some(&big)).use_gpu, "small stays on the CPU");
        let why = auto_backend(k, &vector(1 << 22), Some(&big));
        assert!(!why.use_gpu && why.reason.contains("PCIe"), "{}", why.reason);
        let compute = kernel("MAP_EXP").unwrap();
        assert_eq!(compute.spec().bound, "compute");
        assert!(auto_backend(compute, &vector(1 << 22), Some(&big)).use_gpu);
    }

    #[test]
    fn a_profile_measured_on_this_gpu_decides_with_transfers() {
        let p = profile();
        let k = kernel("MAP_EXP").unwrap();
        let big = adapter("Big GPU", "discrete");
        // 2^26: CPU 67 ms; GPU 0.7 ms + 2 × 268 MB at 20 GB/s ≈ 27 ms → GPU.
        let d = calibrated_backend(&p, k, &vector(1 << 26), &big).unwrap();
        assert!(d.use_gpu && d.reason.starts_with("calibrated profile"), "{}", d.reason);
        // 2^16: CPU 66 µs; GPU 50 µs + 26 µs of transfers → CPU.
        assert!(!calibrated_backend(&p, k, &vector(1 << 16), &big).unwrap().use_gpu);
        // Another adapter, or a kernel the profile never measured: no opinion.
        assert!(
            calibrated_backend(&p, k, &vector(1 << 26), &adapter("Other", "discrete")).is_none()
        );
        assert!(
            calibrated_backend(&p, kernel("MAP_LOG").unwrap(), &vector(1 << 26), &big).is_none()
        );
    }
}
