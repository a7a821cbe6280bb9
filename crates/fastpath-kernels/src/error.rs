use fastpath_gpu::GpuError;
use thiserror::Error;

/// Why a kernel did not run.
#[derive(Debug, Error)]
pub enum KernelError {
    /// The inputs or parameters break the contract; the message says what was expected.
    #[error("{0}")]
    InvalidInput(String),
    /// No kernel has this id.
    #[error("unknown kernel `{0}`; `fastpath kernels` lists the catalog")]
    UnknownKernel(String),
    /// The kernel exists in the catalog but not (yet) on this backend.
    #[error("{kernel} is in the catalog but not implemented yet ({detail})")]
    NotImplemented { kernel: String, detail: String },
    #[error(transparent)]
    Gpu(#[from] GpuError),
}

impl KernelError {
    pub fn invalid(message: impl Into<String>) -> Self {
        KernelError::InvalidInput(message.into())
    }

    /// True for errors caused by the caller's input rather than by the machine.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            KernelError::InvalidInput(_)
                | KernelError::UnknownKernel(_)
                | KernelError::NotImplemented { .. }
        )
    }
}
