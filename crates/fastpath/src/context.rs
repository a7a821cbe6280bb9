use std::sync::{Arc, OnceLock};
use std::time::Instant;

use fastpath_gpu::{Gpu, GpuError, GpuOptions};
use fastpath_kernels::{
    ArgMeta, Backend, HostArray, KernelError, ParamValue, Params, kernel, run_host,
};

use crate::backend::{BackendChoice, BackendDecision, auto_backend, calibrated_backend};

/// Process-wide entry point: remembers the adapter preference and opens the GPU on first use.
pub struct Context {
    adapter: Option<String>,
    gpu: OnceLock<Result<Arc<Gpu>, GpuError>>,
    profile: OnceLock<Option<fastpath_bench::MachineProfile>>,
}

/// The result of [`Context::run_kernel`].
#[derive(Debug)]
pub struct KernelRun {
    pub outputs: Vec<HostArray>,
    /// "cpu" or "gpu".
    pub backend: &'static str,
    /// Why that backend ran the kernel.
    pub reason: String,
    /// Wall time of the kernel call including uploads and readback.
    pub seconds: f64,
    /// GPU adapter name when the GPU ran it.
    pub device: Option<String>,
}

impl Context {
    /// `adapter`: a name fragment or index (the `--adapter` flag); `None` defers to
    /// `FASTPATH_ADAPTER` and then the best adapter.
    pub fn new(adapter: Option<String>) -> Self {
        Self { adapter, gpu: OnceLock::new(), profile: OnceLock::new() }
    }

    /// The calibration profile `fastpath calibrate` wrote for this machine, if any. A profile
    /// that cannot be read is ignored with a warning: it only refines choices.
    pub fn profile(&self) -> Option<&fastpath_bench::MachineProfile> {
        self.profile
            .get_or_init(|| match fastpath_bench::load_profile(None) {
                Ok(p) => p.map(|(profile, _)| profile),
                Err(e) => {
                    tracing::warn!("ignoring the calibration profile: {e}");
                    None
                }
            })
            .as_ref()
    }

    /// The GPU, opened on first call.
    pub fn gpu(&self) -> Result<Arc<Gpu>, GpuError> {
        self.gpu
            .get_or_init(|| {
                Gpu::new(GpuOptions { adapter: self.adapter.clone(), ..Default::default() })
            })
            .clone()
    }

    /// Decides where a call runs. `Auto` never fails: without a GPU it picks the CPU.
    pub fn decide(
        &self,
        id: &str,
        args: &[ArgMeta],
        choice: BackendChoice,
    ) -> Result<BackendDecision, KernelError> {
        let k = kernel(id)?;
        Ok(match choice {
            BackendChoice::Cpu => {
                BackendDecision { use_gpu: false, reason: "--backend cpu".into() }
            }
            BackendChoice::Gpu => BackendDecision { use_gpu: true, reason: "--backend gpu".into() },
            BackendChoice::Auto => {
                let summary = self.gpu().ok().map(|g| g.adapter().clone());
                let calibrated = match (self.profile(), summary.as_ref()) {
                    (Some(p), Some(a)) => calibrated_backend(p, k, args, a),
                    _ => None,
                };
                calibrated.unwrap_or_else(|| auto_backend(k, args, summary.as_ref()))
            }
        })
    }

    /// Runs one kernel on host arrays; parameters are typed values (defaults filled in).
    pub fn run_kernel(
        &self,
        id: &str,
        inputs: &[&HostArray],
        params: &[(&str, ParamValue)],
        choice: BackendChoice,
    ) -> Result<KernelRun, KernelError> {
        let k = kernel(id)?;
        let params = Params::with(k.spec(), params)?;
        self.run_kernel_with(id, inputs, &params, choice)
    }

    /// Runs one kernel with already-built parameters.
    pub fn run_kernel_with(
        &self,
        id: &str,
        inputs: &[&HostArray],
        params: &Params,
        choice: BackendChoice,
    ) -> Result<KernelRun, KernelError> {
        let k = kernel(id)?;
        let metas: Vec<ArgMeta> = inputs.iter().map(|a| a.meta()).collect();
        // Contract errors first, so bad input is reported the same way on every backend.
        fastpath_kernels::validate(k, &metas, params)?;
        let decision = self.decide(id, &metas, choice)?;
        let (backend, device) = if decision.use_gpu {
            let gpu = self.gpu()?;
            let name = gpu.adapter().name.clone();
            (Backend::Gpu(gpu), Some(name))
        } else {
            (Backend::Cpu, None)
        };
        let start = Instant::now();
        let outputs = run_host(k, &backend, inputs, params)?;
        Ok(KernelRun {
            outputs,
            backend: backend.name(),
            reason: decision.reason,
            seconds: start.elapsed().as_secs_f64(),
            device,
        })
    }
}
