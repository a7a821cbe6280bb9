//! The fastpath kernel catalog.
//!
//! Every kernel follows one pattern ([`Kernel`]): a contract taken from the catalog
//! (`catalog/kernels.toml`, a copy of the project spec), a cost model, a CPU implementation
//! (rayon), a GPU implementation (WGSL in the domain's folder, dispatched through
//! `fastpath-gpu`), and a float64 reference that the tests compare both against.
//!
//! Layout: one module per catalog domain (`reductions/`, `elementwise_unary/`, ...) holding
//! its kernels, its `.wgsl` files and its tests. [`registry()`] lists what is implemented;
//! [`catalog()`] has every contract, implemented or not.

pub mod alloc;
pub mod array;
pub mod catalog;
pub mod cpu;
mod error;
pub mod expected;
mod gpu_util;
pub mod kernel;
pub mod npy;
pub mod params;
mod registry;
pub mod shape;
mod simd;
pub mod testdata;
#[cfg(test)]
pub(crate) mod testing;

mod activations;
mod compaction;
mod elementwise_binary;
mod elementwise_unary;
mod fused_map_reduce;
mod reductions;
mod scans;
pub mod statistics_sorting;

pub use alloc::ColoredAlloc;
pub use array::{ArgMeta, DType, HostArray, HostData};
pub use catalog::{Catalog, KernelSpec, catalog};
pub use error::KernelError;
pub use expected::Expected;
pub use kernel::{Backend, Cost, Kernel, WgslVariant, run_device, run_host, validate};
pub use params::{ParamValue, Params};
pub use registry::{Registry, kernel, registry};

/// Every implemented kernel, domain by domain.
pub(crate) fn all_kernels() -> Vec<&'static dyn Kernel> {
    let mut all = Vec::new();
    all.extend(reductions::kernels());
    all.extend(elementwise_unary::kernels());
    all.extend(activations::kernels());
    all.extend(elementwise_binary::kernels());
    all.extend(fused_map_reduce::kernels());
    all.extend(scans::kernels());
    all.extend(compaction::kernels());
    all.extend(statistics_sorting::kernels());
    all
}

/// Every WGSL shader variant any kernel builds, with its kernel id (for translation tests).
pub fn all_wgsl_variants() -> Vec<(&'static str, WgslVariant)> {
    let mut out = Vec::new();
    for k in registry().iter() {
        for v in k.wgsl_variants() {
            out.push((k.id(), v));
        }
    }
    out
}
