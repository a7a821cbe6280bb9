//! Resolving a workload into the state machine's inputs: every variable gets a value (or is
//! explicitly unknown) and a provenance — given by the workload, derived from its operations
//! and the machine profile, or a documented default.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::ser::SerializeMap;

use crate::error::RouteError;
use crate::format::{count, plain_number, significant};
use crate::machine::MachineProfile;
use crate::ops::{Operation, ParamValue};
use crate::rates::{OpTime, RateSource, estimate_ops, summarize_sources};
use crate::workload::{MlxCoverage, VARIABLES, Workload};

/// Where a value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provenance {
    /// The workload (file, flags or library call) states it.
    Given,
    /// Computed from the operations, the machine profile or other variables.
    Derived,
    /// Not given and not derivable: the documented default (docs/routing.md, "Defaults").
    Default,
    /// Not given and not derivable, with no default; a predicate that needs it is an error.
    Unknown,
}

/// A value the state machine can read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InputValue {
    Number(f64),
    Bool(bool),
    Coverage(MlxCoverage),
    Unknown,
}

impl Serialize for InputValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            InputValue::Number(x) => s.serialize_f64(*x),
            InputValue::Bool(b) => s.serialize_bool(*b),
            InputValue::Coverage(c) => s.serialize_str(c.name()),
            InputValue::Unknown => s.serialize_none(),
        }
    }
}

impl InputValue {
    pub fn as_number(self) -> Option<f64> {
        match self {
            InputValue::Number(x) => Some(x),
            _ => None,
        }
    }
    pub fn as_bool(self) -> Option<bool> {
        match self {
            InputValue::Bool(b) => Some(b),
            _ => None,
        }
    }
    /// The value as the trace prints it.
    pub fn show(self) -> String {
        match self {
            InputValue::Number(x) if x.abs() >= 1e4 && x.abs() < 1e18 => count(x.round()),
            InputValue::Number(x) => significant(x, 4),
            InputValue::Bool(b) => b.to_string(),
            InputValue::Coverage(c) => c.name().to_string(),
            InputValue::Unknown => "unknown".to_string(),
        }
    }
}

/// One resolved variable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Input {
    pub value: InputValue,
    pub source: Provenance,
    /// How it was derived, or what the default means.
    pub how: String,
}

/// Every variable by name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InputMap(BTreeMap<&'static str, Input>);

impl InputMap {
    pub fn get(&self, name: &str) -> Option<&Input> {
        self.0.get(name)
    }
    pub fn value(&self, name: &str) -> InputValue {
        self.0.get(name).map(|i| i.value).unwrap_or(InputValue::Unknown)
    }
    pub fn number(&self, name: &str) -> Option<f64> {
        self.value(name).as_number()
    }
    pub fn flag(&self, name: &str) -> Option<bool> {
        self.value(name).as_bool()
    }
    /// In the seed's order, then the three added variables.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Input)> {
        VARIABLES.iter().filter_map(|d| self.0.get(d.name).map(|i| (d.name, i)))
    }
    fn put(
        &mut self,
        name: &'static str,
        value: InputValue,
        source: Provenance,
        how: impl Into<String>,
    ) {
        self.0.insert(name, Input { value, source, how: how.into() });
    }
}

impl Serialize for InputMap {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, input) in self.iter() {
            map.serialize_entry(name, input)?;
        }
        map.end()
    }
}

/// What the health gate needs from the workload (health's `GateInputs`): the gate runs before
/// S0 but its memory and battery rules read the workload's size and estimated time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GateQuery {
    pub data_size_gb: Option<f64>,
    pub machine_ram_gb: Option<f64>,
    pub local_time_hours: Option<f64>,
}

/// A workload resolved against a machine and a rate source: the state machine's inputs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResolvedInputs {
    pub workload: String,
    pub machine: MachineProfile,
    pub inputs: InputMap,
    pub operations: Vec<Operation>,
    /// Estimated seconds per operation and where each number comes from.
    pub op_times: Vec<OpTime>,
    /// Where `local_rate` / `local_time_hours` come from: `given`, or the rate sources used.
    pub rate_source: String,
    /// Number of leading operations MLX runs when the workload is split (T9): the MLX stage.
    pub mlx_stage_len: usize,
    /// Warnings about individual operations (CFL stability, sparse density).
    pub notes: Vec<String>,
}

impl ResolvedInputs {
    pub fn gate_query(&self) -> GateQuery {
        GateQuery {
            data_size_gb: self.inputs.number("data_size_gb"),
            machine_ram_gb: self.inputs.number("machine_ram_gb"),
            local_time_hours: self.inputs.number("local_time_hours"),
        }
    }

    /// Bytes moved and flops of the whole workload, for scaling estimates to other hardware.
    /// From the operations when there are any, else from data_size_gb and
    /// item_count x flops_per_item.
    pub fn work_totals(&self) -> (f64, f64) {
        if !self.operations.is_empty() {
            let bytes = self.operations.iter().map(|o| o.cost.moved_bytes).sum();
            let flops = self.operations.iter().map(|o| o.cost.flops).sum();
            return (bytes, flops);
        }
        let bytes = self.inputs.number("data_size_gb").unwrap_or(0.0) * 1e9;
        let flops = match (self.inputs.number("item_count"), self.inputs.number("flops_per_item")) {
            (Some(n), Some(f)) => n * f,
            _ => 0.0,
        };
        (bytes, flops)
    }
}

/// Resolves a workload: validates its operations, estimates their time on `machine` with
/// `rates` (roofline fallback per operation) and fills in every variable.
pub fn resolve(
    workload: &Workload,
    machine: &MachineProfile,
    rates: &dyn RateSource,
) -> Result<ResolvedInputs, RouteError> {
    let operations: Vec<Operation> = workload
        .operations
        .iter()
        .enumerate()
        .map(|(i, spec)| Operation::from_spec(spec, i))
        .collect::<Result<_, _>>()?;
    let op_times = estimate_ops(&operations, machine, rates);
    let given = &workload.variables;
    let has_ops = !operations.is_empty();
    let mut m = InputMap::default();
    use InputValue::*;
    use Provenance::*;

    // machine_ram_gb
    match (given.machine_ram_gb, machine.ram_gb) {
        (Some(x), _) => m.put("machine_ram_gb", Number(x), Given, "given"),
        (None, Some(x)) => {
            m.put("machine_ram_gb", Number(x), Derived, format!("machine profile {}", machine.name))
        }
        (None, None) => m.put(
            "machine_ram_gb",
            InputValue::Unknown,
            Provenance::Unknown,
            format!("machine profile {} does not know its RAM", machine.name),
        ),
    }

    // data_size_gb: peak working set over the operations, which run in order.
    if let Some(x) = given.data_size_gb {
        m.put("data_size_gb", Number(x), Given, "given");
    } else if let Some(peak) = operations
        .iter()
        .max_by(|a, b| a.cost.working_set_bytes.total_cmp(&b.cost.working_set_bytes))
    {
        m.put(
            "data_size_gb",
            Number(peak.cost.working_set_bytes / 1e9),
            Derived,
            format!(
                "peak working set: {} (inputs + outputs + scratch; operations run in order)",
                peak.describe()
            ),
        );
    } else {
        m.put(
            "data_size_gb",
            InputValue::Unknown,
            Provenance::Unknown,
            "not given and no operations",
        );
    }

    // item_count: the largest operation's items.
    if let Some(x) = given.item_count {
        m.put("item_count", Number(x), Given, "given");
    } else if let Some(big) = operations.iter().max_by(|a, b| a.cost.items.total_cmp(&b.cost.items))
    {
        m.put(
            "item_count",
            Number(big.cost.items),
            Derived,
            format!("largest operation: {}", big.describe()),
        );
    } else {
        m.put(
            "item_count",
            InputValue::Unknown,
            Provenance::Unknown,
            "not given and no operations",
        );
    }
    let items = m.number("item_count");

    // flops_per_item
    let total_flops: f64 = operations.iter().map(|o| o.cost.flops).sum();
    match (given.flops_per_item, items) {
        (Some(x), _) => m.put("flops_per_item", Number(x), Given, "given"),
        (None, Some(n)) if has_ops && n > 0.0 => m.put(
            "flops_per_item",
            Number(total_flops / n),
            Derived,
            format!("total flops {} / item_count", significant(total_flops, 3)),
        ),
        _ => m.put(
            "flops_per_item",
            InputValue::Unknown,
            Provenance::Unknown,
            "not given and no operations",
        ),
    }

    // local_time_hours and local_rate: explicit values win; the operations' estimate otherwise.
    let op_seconds: f64 = op_times.iter().map(|t| t.seconds).sum();
    let op_source = summarize_sources(&op_times);
    let mut rate_source = "given local_time_hours".to_string();
    match (given.local_time_hours, given.local_rate, items) {
        (Some(t), Some(rate), Some(n)) => {
            let implied = n / rate / 3600.0;
            if (t - implied).abs() > 0.01 * t.max(implied) {
                return Err(RouteError::Inconsistent(format!(
                    "local_time_hours = {} contradicts item_count / local_rate / 3600 = {} / {} / 3600 = {}; give one of local_time_hours and local_rate",
                    plain_number(t),
                    plain_number(n),
                    plain_number(rate),
                    significant(implied, 4)
                )));
            }
            m.put("local_time_hours", Number(t), Given, "given");
        }
        (Some(t), _, _) => m.put("local_time_hours", Number(t), Given, "given"),
        (None, Some(rate), Some(n)) => {
            rate_source = "given item_count and local_rate".to_string();
            m.put(
                "local_time_hours",
                Number(n / rate / 3600.0),
                Derived,
                "item_count / local_rate / 3600",
            )
        }
        (None, _, _) if has_ops => {
            rate_source = op_source.clone();
            m.put(
                "local_time_hours",
                Number(op_seconds / 3600.0),
                Derived,
                format!("sum of {} operation estimates: {op_source}", operations.len()),
            );
        }
        _ => m.put(
            "local_time_hours",
            InputValue::Unknown,
            Provenance::Unknown,
            "give local_time_hours, or item_count and local_rate, or operations",
        ),
    }
    match (given.local_rate, items, m.number("local_time_hours")) {
        (Some(r), _, _) => m.put("local_rate", Number(r), Given, "given"),
        (None, Some(n), Some(t)) if t > 0.0 => m.put(
            "local_rate",
            Number(n / (t * 3600.0)),
            Derived,
            "item_count / (local_time_hours x 3600)",
        ),
        _ => m.put(
            "local_rate",
            InputValue::Unknown,
            Provenance::Unknown,
            "needs item_count and a local time",
        ),
    }

    // Booleans about the shape of the work.
    let flag_or = |m: &mut InputMap,
                   name: &'static str,
                   given: Option<bool>,
                   derived: Option<(bool, String)>,
                   default: (bool, &str)| {
        match (given, derived) {
            (Some(b), _) => m.put(name, Bool(b), Given, "given"),
            (None, Some((b, how))) => m.put(name, Bool(b), Derived, how),
            (None, None) => m.put(name, Bool(default.0), Default, default.1),
        }
    };
    let from_ops = |b: bool, how: &str| has_ops.then(|| (b, how.to_string()));
    flag_or(
        &mut m,
        "requires_cuda",
        given.requires_cuda,
        from_ops(false, "no operation needs CUDA-only libraries (fastpath's kernels are portable)"),
        (false, "no CUDA-only library named"),
    );
    flag_or(
        &mut m,
        "is_sequential",
        given.is_sequential,
        from_ops(false, "every operation is data-parallel"),
        (false, "not stated sequential"),
    );
    let sequential = m.flag("is_sequential").unwrap_or(false);
    flag_or(
        &mut m,
        "is_parallel",
        given.is_parallel,
        from_ops(true, "every operation is data-parallel"),
        (!sequential, "NOT is_sequential"),
    );
    let parallel = m.flag("is_parallel").unwrap_or(false);
    if parallel && given.parallel_across_items == Some(false) {
        return Err(RouteError::Inconsistent(
            "parallel_across_items = false contradicts is_parallel = true (independent items are also independent across machines)".into(),
        ));
    }
    flag_or(
        &mut m,
        "parallel_across_items",
        given.parallel_across_items,
        Some((parallel, "same as is_parallel".to_string())),
        (parallel, ""),
    );
    flag_or(
        &mut m,
        "needs_pytorch_eco",
        given.needs_pytorch_eco,
        from_ops(false, "no operation needs the PyTorch ecosystem"),
        (false, "no PyTorch ecosystem named"),
    );
    flag_or(
        &mut m,
        "python_acceptable",
        given.python_acceptable,
        None,
        (
            true,
            "Python is acceptable unless the deliverable is a compiled binary (seed, Example 4)",
        ),
    );
    let not_chunkable: Vec<&str> =
        operations.iter().filter(|o| !o.chunkable).map(|o| o.op.as_str()).collect();
    let chunk_how = if not_chunkable.is_empty() {
        "every operation streams in passes".to_string()
    } else {
        format!("needs random access over all the data: {}", not_chunkable.join(", "))
    };
    flag_or(
        &mut m,
        "chunkable",
        given.chunkable,
        from_ops(not_chunkable.is_empty(), &chunk_how),
        (false, "not stated chunkable"),
    );

    // MLX coverage. The MLX stage is the leading run of MLX-expressible operations: the seed's
    // hybrid moves data one way (MLX → buffer → custom kernels), so once a custom operation
    // runs, everything after it stays on fastpath's kernels (docs/routing.md R1).
    let lacking: Vec<&str> =
        operations.iter().filter(|o| !o.mlx.available).map(|o| o.op.as_str()).collect();
    let mlx_stage_len = operations.iter().take_while(|o| o.mlx.available).count();
    let derived_coverage = has_ops.then(|| {
        if lacking.is_empty() {
            (MlxCoverage::All, "every operation has an MLX equivalent".to_string())
        } else {
            let stage: f64 = op_times[..mlx_stage_len].iter().map(|t| t.seconds).sum();
            let share = if op_seconds > 0.0 { stage / op_seconds } else { 0.0 };
            let stage_ops: Vec<&str> =
                operations[..mlx_stage_len].iter().map(|o| o.op.as_str()).collect();
            let coverage = if mlx_stage_len > 0 && share >= 0.5 {
                MlxCoverage::Most
            } else {
                MlxCoverage::None
            };
            let how = if mlx_stage_len == 0 {
                format!(
                    "the first operation ({}) has no MLX equivalent, so there is no MLX stage",
                    operations[0].op
                )
            } else {
                format!(
                    "MLX stage ({}) carries {:.0}% of the estimated time (most = at least 50%)",
                    stage_ops.join(", "),
                    share * 100.0
                )
            };
            (coverage, how)
        }
    });
    match (given.mlx_expressible, given.mlx_coverage) {
        (Some(true), Some(c)) if c != MlxCoverage::All => {
            return Err(RouteError::Inconsistent(format!(
                "mlx_expressible = true means every operation is in MLX, which contradicts mlx_coverage = \"{c}\""
            )));
        }
        (Some(false), Some(MlxCoverage::All)) => {
            return Err(RouteError::Inconsistent(
                "mlx_coverage = \"all\" contradicts mlx_expressible = false".into(),
            ));
        }
        _ => {}
    }
    match (given.mlx_expressible, &derived_coverage, given.mlx_coverage) {
        (Some(b), _, _) => m.put("mlx_expressible", Bool(b), Given, "given"),
        (None, Some((c, _)), _) => {
            let how = if lacking.is_empty() {
                "every operation has an MLX equivalent".to_string()
            } else {
                format!("not in MLX: {}", lacking.join(", "))
            };
            m.put("mlx_expressible", Bool(*c == MlxCoverage::All), Derived, how)
        }
        (None, None, Some(c)) => {
            m.put("mlx_expressible", Bool(c == MlxCoverage::All), Derived, "from mlx_coverage")
        }
        (None, None, None) => m.put(
            "mlx_expressible",
            Bool(false),
            Default,
            "no operations listed to check against MLX",
        ),
    }
    match (given.needs_custom_gpu, has_ops) {
        (Some(b), _) => m.put("needs_custom_gpu", Bool(b), Given, "given"),
        (None, true) => {
            let how = if lacking.is_empty() {
                "every operation has an MLX equivalent".to_string()
            } else {
                format!("not in MLX: {}", lacking.join(", "))
            };
            m.put("needs_custom_gpu", Bool(!lacking.is_empty()), Derived, how)
        }
        (None, false) => {
            m.put("needs_custom_gpu", Bool(false), Default, "no custom GPU operation named")
        }
    }
    match (given.mlx_coverage, derived_coverage) {
        (Some(c), _) => m.put("mlx_coverage", Coverage(c), Given, "given"),
        (None, Some((c, how))) => m.put("mlx_coverage", Coverage(c), Derived, how),
        (None, None) => {
            let all = m.flag("mlx_expressible").unwrap_or(false);
            let c = if all { MlxCoverage::All } else { MlxCoverage::None };
            m.put(
                "mlx_coverage",
                Coverage(c),
                Derived,
                "from mlx_expressible (all when true, none when false)",
            )
        }
    }

    Ok(ResolvedInputs {
        workload: workload.name.clone().unwrap_or_else(|| "workload".to_string()),
        machine: machine.clone(),
        inputs: m,
        notes: operation_notes(&operations),
        operations,
        op_times,
        rate_source,
        mlx_stage_len,
    })
}

/// Checks operation-routing.md attaches to single operations: explicit PDE steps must satisfy
/// their stability conditions, and very sparse work belongs on the CPU.
fn operation_notes(operations: &[Operation]) -> Vec<String> {
    let mut notes = Vec::new();
    let num = |op: &Operation, name: &str| match op.params.get(name) {
        Some(ParamValue::Number(x)) => Some(*x),
        _ => None,
    };
    for (i, op) in operations.iter().enumerate() {
        match op.op.as_str() {
            "heat_equation" => {
                if let (Some(alpha), Some(dt), Some(dx)) =
                    (num(op, "alpha"), num(op, "dt"), num(op, "dx"))
                {
                    let limit = dx * dx / (4.0 * alpha);
                    if dt >= limit {
                        notes.push(format!(
                            "operations[{i}] heat_equation is unstable: dt = {} >= dx^2/(4*alpha) = {}",
                            plain_number(dt),
                            significant(limit, 4)
                        ));
                    }
                }
            }
            "wave_equation" => {
                if let (Some(c), Some(dt), Some(dx)) = (num(op, "c"), num(op, "dt"), num(op, "dx"))
                {
                    let courant = c * dt / dx;
                    if courant >= 1.0 {
                        notes.push(format!(
                            "operations[{i}] wave_equation is unstable: c*dt/dx = {} >= 1",
                            significant(courant, 4)
                        ));
                    }
                }
            }
            "spmv" | "triangular_solve" => {
                if let Some(density) = num(op, "density")
                    && density < 0.01
                {
                    notes.push(format!(
                        "operations[{i}] {} at {}% density: sparse work below 1% belongs on the CPU (operation-routing.md host gate)",
                        op.op,
                        significant(density * 100.0, 3)
                    ));
                }
            }
            _ => {}
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::OperationSpec;
    use crate::rates::RooflineRates;
    use crate::workload::Variables;

    fn m5() -> MachineProfile {
        MachineProfile::named("m5").unwrap()
    }

    #[test]
    fn operations_derive_every_variable() {
        let w = Workload {
            operations: vec![OperationSpec::new("matmul", &[50_000, 50_000])],
            ..Workload::default()
        };
        let r = resolve(&w, &m5(), &RooflineRates).unwrap();
        let size = r.inputs.get("data_size_gb").unwrap();
        assert_eq!(size.source, Provenance::Derived);
        assert_eq!(size.value, InputValue::Number(30.0));
        assert_eq!(r.inputs.number("item_count"), Some(2.5e9));
        assert_eq!(r.inputs.flag("mlx_expressible"), Some(true));
        assert_eq!(r.inputs.flag("chunkable"), Some(true));
        assert_eq!(r.inputs.get("python_acceptable").unwrap().source, Provenance::Default);
        assert!(r.rate_source.starts_with("roofline"));
        let t = r.inputs.number("local_time_hours").unwrap();
        let rate = r.inputs.number("local_rate").unwrap();
        assert!((t * 3600.0 * rate - 2.5e9).abs() < 1.0);
    }

    #[test]
    fn given_values_override_derived_ones() {
        let w = Workload {
            variables: Variables {
                data_size_gb: Some(14.0),
                local_time_hours: Some(0.3),
                ..Variables::default()
            },
            operations: vec![OperationSpec::new("fft", &[1 << 20])],
            ..Workload::default()
        };
        let r = resolve(&w, &m5(), &RooflineRates).unwrap();
        assert_eq!(r.inputs.get("data_size_gb").unwrap().source, Provenance::Given);
        assert_eq!(r.inputs.number("local_time_hours"), Some(0.3));
        assert_eq!(r.rate_source, "given local_time_hours");
        // local_rate follows the given time, not the roofline.
        let rate = r.inputs.number("local_rate").unwrap();
        assert!((rate - (1 << 20) as f64 / 1080.0).abs() < 1e-6);
    }

    #[test]
    fn contradictory_time_and_rate_are_rejected() {
        let w = Workload {
            variables: Variables {
                item_count: Some(3600.0),
                local_rate: Some(1.0),
                local_time_hours: Some(2.0),
                ..Variables::default()
            },
            ..Workload::default()
        };
        let err = resolve(&w, &m5(), &RooflineRates).unwrap_err().to_string();
        assert!(
            err.starts_with("local_time_hours = 2 contradicts item_count / local_rate / 3600"),
            "{err}"
        );
    }

    #[test]
    fn variables_only_workloads_leave_what_they_do_not_say_unknown() {
        let w = Workload {
            variables: Variables {
                requires_cuda: Some(true),
                data_size_gb: Some(28.0),
                ..Variables::default()
            },
            ..Workload::default()
        };
        let r = resolve(&w, &m5(), &RooflineRates).unwrap();
        assert_eq!(r.inputs.value("item_count"), InputValue::Unknown);
        assert_eq!(r.inputs.value("local_time_hours"), InputValue::Unknown);
        assert_eq!(r.inputs.flag("is_parallel"), Some(true));
        assert_eq!(r.inputs.get("is_parallel").unwrap().source, Provenance::Default);
    }

    #[test]
    fn mlx_stage_is_the_leading_run_and_most_means_half_the_time() {
        let w = Workload {
            operations: vec![
                OperationSpec::new("matmul", &[64, 768, 1_000_000]),
                OperationSpec::new("filter_threshold", &[64_000_000]),
                OperationSpec::new("top_k", &[64_000_000])
                    .with_param("k", ParamValue::Number(100.0)),
            ],
            ..Workload::default()
        };
        let r = resolve(&w, &m5(), &RooflineRates).unwrap();
        assert_eq!(r.mlx_stage_len, 1);
        assert_eq!(r.inputs.value("mlx_coverage"), InputValue::Coverage(MlxCoverage::Most));
        assert_eq!(r.inputs.flag("needs_custom_gpu"), Some(true));
        assert_eq!(r.inputs.flag("mlx_expressible"), Some(false));
    }

    #[test]
    fn coverage_and_expressible_must_agree() {
        let w = Workload {
            variables: Variables {
                mlx_expressible: Some(true),
                mlx_coverage: Some(MlxCoverage::Most),
                ..Variables::default()
            },
            ..Workload::default()
        };
        assert!(
            resolve(&w, &m5(), &RooflineRates)
                .unwrap_err()
                .to_string()
                .contains("contradicts mlx_coverage")
        );
    }

    #[test]
    fn unstable_heat_step_is_reported() {
        let w = Workload {
            operations: vec![
                OperationSpec::new("heat_equation", &[100, 100])
                    .with_param("alpha", ParamValue::Number(1.0))
                    .with_param("dt", ParamValue::Number(0.5))
                    .with_param("dx", ParamValue::Number(1.0)),
            ],
            ..Workload::default()
        };
        let r = resolve(&w, &m5(), &RooflineRates).unwrap();
        assert!(
            r.notes[0].contains("unstable: dt = 0.5 >= dx^2/(4*alpha) = 0.25"),
            "{:?}",
            r.notes
        );
    }
}
