//! Benchmarks, peers side by side, and the calibrated machine profile routing reads.
//!
//! Two layers:
//!
//! * [`profile`] (always built, serde only): the machine profile `fastpath calibrate` writes,
//!   and the questions routing asks of it — [`profile::estimate_seconds`],
//!   [`profile::choose_backend`], and [`profile::decide`] with the documented fallback rule.
//!   Crates that only read profiles depend on this crate with `default-features = false`.
//! * the harness (feature `harness`, on by default): measuring every kernel of the registry
//!   from its contract on the CPU and the GPU ([`run`]), the ceilings they are judged against
//!   ([`ceilings`]), the Python peers ([`peers`]), and the reports, charts and profile built
//!   from a run ([`report`], [`render`], [`plot`], [`calibrate`]).
//!
//! Method (DESIGN.md, METHOD.md): warm up, take medians of many repetitions, rotate inputs
//! larger than the caches, time the GPU with timestamp queries on data resident on the device
//! and report the wall time including dispatch separately, and judge every kernel against
//! ceilings measured in the same run.

pub mod profile;
pub mod sizes;
pub mod stats;

#[cfg(feature = "harness")]
pub mod calibrate;
#[cfg(feature = "harness")]
pub mod ceilings;
#[cfg(feature = "harness")]
pub mod inputs;
#[cfg(feature = "harness")]
pub mod measure;
#[cfg(feature = "harness")]
pub mod peers;
#[cfg(feature = "harness")]
pub mod plot;
#[cfg(feature = "harness")]
pub mod render;
#[cfg(feature = "harness")]
pub mod report;
#[cfg(feature = "harness")]
pub mod run;

pub use profile::{
    Backend, Basis, Choice, GpuClass, MachineProfile, choose_backend, choose_backend_for_host_data,
    decide, default_profile_path, estimate_host_call_seconds, estimate_seconds, load_profile,
    rule_backend,
};
