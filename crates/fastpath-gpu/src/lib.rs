//! The wgpu runtime under every fastpath GPU kernel.
//!
//! What it gives a kernel author, and why:
//!
//! * **One device, chosen well.** [`Gpu::new`] enumerates adapters and takes the discrete /
//!   high-performance one first; `FASTPATH_ADAPTER` or `--adapter` override it. The device is
//!   opened with the adapter's *real* limits and whichever optional features it has
//!   (subgroups, f16, f64, timestamp queries), because wgpu's defaults (128 MiB bindings,
//!   16 KiB workgroup memory) leave most of a modern GPU unused.
//! * **Data stays on the device.** A [`GpuTensor`] owns a pooled buffer; kernels read and write
//!   tensors and nothing comes back to the host until [`Gpu::read`] is called.
//! * **Batched submission.** Every dispatch is recorded into one open compute pass and the
//!   batch is submitted only when a result is read, a timing is taken, or the batch reaches
//!   [`GpuOptions::dispatches_per_submit`]. A standalone call (record, submit, wait) costs
//!   ~33 µs on an NVIDIA H200 host with parameters as immediate data (~40 µs through a
//!   uniform upload on the H100 host), 26-28 µs of it wgpu's and the driver's floor
//!   (`examples/call_overhead.rs` takes it apart); a dispatch inside a shared pass costs a
//!   few µs.
//! * **Pipelines cached by content.** The cache key is a hash of the WGSL source after
//!   preprocessing, the entry point, override constants and the binding signature — never a
//!   name (MLX#3832 ran stale kernels because it keyed by name).
//! * **A size-bucketed buffer pool** whose freed buffers become reusable only after the batch
//!   that last used them has been submitted (see [`pool`]).
//! * **Typed errors.** Validation and out-of-memory errors are caught with error scopes or the
//!   uncaptured-error hook and returned as [`GpuError`]; wgpu's default handler, which panics,
//!   is replaced before anything else happens. Device loss becomes an error too.
//! * **Chunking.** [`Gpu::windows`] splits work whose bytes exceed the largest storage binding
//!   into binding-sized windows so kernels process any size the device can hold.
//! * **GPU timing** with timestamp queries ([`Gpu::time`]).

mod adapter;
mod context;
mod error;
pub mod pool;
mod recorder;
mod shader;
mod tensor;

pub use adapter::{AdapterSummary, describe_adapter, list_adapters};
pub use context::{
    Access, Gpu, GpuFeatures, GpuOptions, MIN_IMMEDIATE_BYTES, OwnedShaderSpec, Pipeline,
    ShaderSpec, immediate_form,
};
pub use error::GpuError;
pub use recorder::{Binding, Dispatch, MAX_PARAMS_BYTES, Timing};
pub use shader::{compose, split_workgroups};
pub use tensor::{DType, GpuTensor};

/// Threads per workgroup used by fastpath's 1-D kernels (the spec's dispatch convention).
pub const WORKGROUP_SIZE: u32 = 256;
