use thiserror::Error;

/// Everything that can go wrong on the GPU, in words a user can act on.
#[derive(Debug, Clone, Error)]
pub enum GpuError {
    /// No adapter at all (no driver, or a machine without a GPU and without lavapipe).
    #[error(
        "no GPU adapter found ({0}); install a Vulkan driver (on Debian/Ubuntu without a GPU: \
         `apt-get install mesa-vulkan-drivers` for the lavapipe software driver) or use --backend cpu"
    )]
    NoAdapter(String),
    /// `--adapter` / `FASTPATH_ADAPTER` named an adapter that does not exist.
    #[error("no GPU adapter matches \"{wanted}\"; available: {available}")]
    AdapterNotFound { wanted: String, available: String },
    /// The adapter refused to open a device.
    #[error("could not open the GPU device on {adapter}: {message}")]
    DeviceRequest { adapter: String, message: String },
    /// wgpu rejected something we asked for: a bug in fastpath or an input beyond a limit.
    #[error("GPU validation error while {context}: {message}")]
    Validation { context: String, message: String },
    /// The device ran out of memory.
    #[error("GPU out of memory while {context}")]
    OutOfMemory { context: String },
    /// The device was lost (driver reset, GPU removed, timeout detection).
    #[error("GPU device lost: {0}")]
    DeviceLost(String),
    /// Any other failure reported by the driver or wgpu.
    #[error("GPU error while {context}: {message}")]
    Internal { context: String, message: String },
    /// A single tensor is larger than the largest buffer the device can create.
    #[error("{what} needs {needed} bytes but this GPU's largest buffer is {limit} bytes")]
    TooLarge { what: String, needed: u64, limit: u64 },
    /// A WGSL shader failed to compile (a fastpath bug; the message names the shader).
    #[error("shader `{label}` failed to compile: {message}")]
    Shader { label: String, message: String },
    /// A wait on the GPU returned an error or timed out.
    #[error("waiting for the GPU failed: {0}")]
    Wait(String),
    /// Timing was requested on a device without timestamp queries.
    #[error("this GPU does not support timestamp queries")]
    NoTimestamps,
}

impl GpuError {
    pub(crate) fn from_wgpu(context: &str, err: wgpu::Error) -> Self {
        match err {
            wgpu::Error::OutOfMemory { .. } => GpuError::OutOfMemory { context: context.into() },
            wgpu::Error::Validation { description, .. } => {
                GpuError::Validation { context: context.into(), message: one_line(&description) }
            }
            wgpu::Error::Internal { description, .. } => {
                GpuError::Internal { context: context.into(), message: one_line(&description) }
            }
        }
    }
}

pub(crate) fn one_line(text: &str) -> String {
    text.split('\n').map(str::trim).filter(|s| !s.is_empty()).collect::<Vec<_>>().join("; ")
}
