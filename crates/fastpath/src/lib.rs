//! fastpath: pick the fastest execution path for a compute workload and run it there.
//!
//! This façade is what applications depend on. It re-exports the rooms of the workspace and
//! adds the glue that needs more than one of them: a [`Context`] that opens the GPU lazily and
//! picks a backend per call, the router's rate source backed by the kernels' cost models
//! ([`rates::KernelRates`]), and the executor of routing decisions ([`execute::execute`]).
//!
//! ```no_run
//! use fastpath::{BackendChoice, Context, HostArray};
//! let ctx = Context::new(None);
//! let x = HostArray::vec_f32(vec![1.0, 2.0, 3.0]);
//! let run = ctx.run_kernel("REDUCE_SUM", &[&x], &[], BackendChoice::Auto).unwrap();
//! assert_eq!(run.outputs[0].f32s(), &[6.0]);
//! ```

mod backend;
mod context;
pub mod execute;
pub mod rates;

pub use backend::{BackendChoice, BackendDecision, auto_backend};
pub use context::{Context, KernelRun};
pub use execute::{Device, ExecuteOptions, ExecutionReport, execute, local_device};
pub use fastpath_bench as bench;
pub use fastpath_gpu as gpu;
pub use fastpath_health as health;
pub use fastpath_kernels as kernels;
pub use fastpath_kernels::{HostArray, KernelError, ParamValue, Params};
pub use fastpath_route as route;
pub use rates::KernelRates;
