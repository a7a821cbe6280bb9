//! fastpath-route: decides where a compute workload should run, and says why.
//!
//! This crate is the seed's "compute routing state machine" as a library: a workload model
//! (the seed's input variables, or a list of operations with shapes and dtypes from which the
//! variables are derived), machine profiles, the state machine S0-S7 / T0-T9 with a trace of
//! every predicate and the values it saw, time and cost estimates from a dated price table,
//! the user-facing messages, and an execution plan for whoever runs the decision.
//!
//! It has no GPU dependency and depends on no other fastpath crate, so it builds in seconds
//! and stays pure: the health gate's verdict comes in as a [`GateOutcome`], kernel timings as a
//! [`RateSource`], and the GPU adapter as a [`GpuDescription`].
//!
//! ```
//! use fastpath_route::{GateOutcome, MachineProfile, OperationSpec, PriceTable, RooflineRates, Workload, decide, resolve};
//!
//! let workload = Workload { operations: vec![OperationSpec::new("sort", &[10_000_000])], ..Workload::default() };
//! let machine = MachineProfile::named("m5").unwrap();
//! let inputs = resolve(&workload, &machine, &RooflineRates).unwrap();
//! let decision = decide(&inputs, &PriceTable::seed(), &GateOutcome::pass("test")).unwrap();
//! assert_eq!(decision.terminal_name, "LOCAL_MLX");
//! assert_eq!(decision.path.iter().map(|n| n.id()).collect::<Vec<_>>(), ["S0", "S7", "T7"]);
//! ```
//!
//! Where the seed is ambiguous or inconsistent, the resolution is written in docs/routing.md
//! and referenced by id (R1, R2, …) from the predicates and decisions it affects.

pub mod codegen;
mod decision;
mod error;
pub mod estimates;
mod examples;
pub mod format;
mod gate;
mod inputs;
mod machine;
pub mod ops;
mod prices;
mod rates;
mod render;
mod state_machine;
mod workload;

pub use decision::{
    Backend, ChunkPlan, CloudPlan, Decision, ExecutionPlan, FrameworkCode, Message, MessageKind,
    OutputSummary, PriceRef, RatesUsed, Stage, decide,
};
pub use error::RouteError;
pub use estimates::Estimates;
pub use examples::{WorkedExample, worked_examples};
pub use gate::{GateDecision, GateOutcome};
pub use inputs::{GateQuery, Input, InputMap, InputValue, Provenance, ResolvedInputs, resolve};
pub use machine::{
    GpuDescription, MachineProfile, ProfileOrigin, RAM_BYTES_PER_GB, THIS_MACHINE,
    parse_cgroup_limit_bytes, parse_meminfo_total_bytes,
};
pub use ops::{Dtype, Operation, OperationSpec, ParamValue};
pub use prices::{DropletOffer, FleetOffer, Offer, PriceTable};
pub use rates::{OpTime, RateEstimate, RateSource, RooflineRates};
pub use render::{render, render_example};
pub use state_machine::{Computed, Node, PredicateEval, StateVisit, is_valid_walk};
pub use workload::{
    MlxCoverage, VARIABLES, VariableDef, VariableKind, Variables, Workload, parse_variable_text,
    workload_keys,
};

/// Resolves and decides in one call: the common case for library users.
pub fn route(
    workload: &Workload,
    machine: &MachineProfile,
    rates: &dyn RateSource,
    prices: &PriceTable,
    gate: &GateOutcome,
) -> Result<Decision, RouteError> {
    let inputs = resolve(workload, machine, rates)?;
    decide(&inputs, prices, gate)
}
