//! From a routed operation to kernel calls: which arrays each kernel reads and with which
//! parameters. Metadata only (dtypes and shapes), so the rate source can cost an operation
//! without allocating anything, and the executor finds contract problems before it runs.
//!
//! # The wiring rule
//!
//! An operation's kernels come from the router as a route like `A + B -> C`: kernels joined by
//! `+` run side by side on the same data, `->` starts the next step of a chain. Each kernel
//! input, in contract order, is filled by the first rule that applies:
//!
//! 1. **Chain link** (kernels after a `->` only): an output of the previous step with the same
//!    name, dtype and shape (`MAP_COMPARE`'s `mask` → `COMPACT_MASK`'s `mask`); failing that,
//!    the first unused previous output with the same dtype and shape (a sorted array flows
//!    on).
//! 2. **Scalar operand**: an input that accepts a 0-d array takes a numeric operation
//!    parameter that no kernel parameter of that name consumes (`filter_threshold`'s
//!    `threshold` becomes `MAP_COMPARE`'s `b`).
//! 3. **The operation's data**: an array the operation already reads, with the same dtype and
//!    shape, not yet bound to this kernel (`COMPACT_MASK`'s `x` is the array `MAP_COMPARE`
//!    compared; every kernel of `describe_stats` reads the same `x`).
//! 4. **New data**: otherwise the operation reads one more array (synthetic, seeded), sized
//!    from the operation's shape.
//!
//! The first input of the first kernel is the operation's main operand: its shape comes from
//! the operation (`[n]` takes the product of the operation's dimensions). Parameters come from
//! the operation's parameters by name, then the contract's defaults; a required parameter the
//! operation cannot give is derived from the data where that has an obvious meaning (the
//! histogram's `min_val`/`max_val` are the range of the data) and is otherwise reported.

use std::collections::BTreeMap;

use fastpath_kernels::catalog::{OperandSpec, ParamType};
use fastpath_kernels::{ArgMeta, DType, Kernel, ParamValue, Params, registry};
use fastpath_route::{Dtype, Operation, ParamValue as OpParam};

/// How synthetic values of an input are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Domain {
    /// f32 uniform in `[lo, hi)`.
    Uniform { lo: f32, hi: f32 },
    /// u32, about `density` of the entries non-zero.
    Mask { density: f64 },
    /// u32 over the full range (sort keys).
    Keys,
    /// f32 uniform in `[lo, hi)` as u32 sort keys through the order-preserving transform
    /// SORT_RADIX's contract gives for f32 data ([`f32_sort_key`]).
    F32Keys { lo: f32, hi: f32 },
    /// u32 `0, 1, 2, …` (payloads and indices carried along by a sort).
    Iota,
    /// u32 in `0..256`: counts and other integers summed by scans without overflowing.
    SmallCounts,
    /// A dtype without a generator yet.
    Unsupported,
}

/// The range synthetic f32 data is drawn from: wide enough that activations see both signs
/// and saturate, small enough that `exp` stays finite.
pub(crate) const DATA_RANGE: (f32, f32) = (-4.0, 4.0);
/// For inputs that must be positive (logarithms, divisors).
const POSITIVE_RANGE: (f32, f32) = (0.25, 4.0);

impl Domain {
    /// The values a kernel input is drawn from. A small table: most inputs are data in
    /// [`DATA_RANGE`]; integers are recognised by their contract names.
    fn for_input(kernel: &str, input: &OperandSpec, dtype: DType) -> Domain {
        let positive = matches!((kernel, input.name.as_str()), ("MAP_LOG", _) | ("MAP_DIV", "b"));
        match dtype {
            DType::F32 if positive => {
                Domain::Uniform { lo: POSITIVE_RANGE.0, hi: POSITIVE_RANGE.1 }
            }
            DType::F32 => Domain::Uniform { lo: DATA_RANGE.0, hi: DATA_RANGE.1 },
            DType::U32 => match input.name.as_str() {
                n if n.contains("mask") => Domain::Mask { density: 0.5 },
                "keys" => Domain::Keys,
                "payload" | "values" | "indices" | "index" => Domain::Iota,
                _ => Domain::SmallCounts,
            },
            _ => Domain::Unsupported,
        }
    }

    /// The f32 range when the domain is one.
    pub(crate) fn range(self) -> Option<(f32, f32)> {
        match self {
            Domain::Uniform { lo, hi } | Domain::F32Keys { lo, hi } => Some((lo, hi)),
            _ => None,
        }
    }
}

/// The order-preserving map from f32 to u32 that SORT_RADIX's contract prescribes for f32
/// data: non-negative values get the sign bit flipped, negative ones all bits inverted, so
/// unsigned order is float order (NaN last).
pub(crate) fn f32_sort_key(x: f32) -> u32 {
    let bits = x.to_bits();
    if bits & 0x8000_0000 != 0 { !bits } else { bits | 0x8000_0000 }
}

/// The inverse of [`f32_sort_key`].
pub(crate) fn f32_from_sort_key(key: u32) -> f32 {
    f32::from_bits(if key & 0x8000_0000 != 0 { key & 0x7fff_ffff } else { !key })
}

/// An array the operation starts from.
#[derive(Debug, Clone)]
pub(crate) struct InputPlan {
    pub meta: ArgMeta,
    pub domain: Domain,
    /// The contract name of the first kernel input it feeds (for messages).
    pub name: String,
}

/// Where a kernel argument comes from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ArgSource {
    /// The operation's `i`-th input array.
    Input(usize),
    /// Output `index` of step `step`.
    Output { step: usize, index: usize },
    /// A 0-d f32 array holding an operation parameter.
    Scalar(f32),
}

/// An output a step is expected to produce.
#[derive(Debug, Clone)]
pub(crate) struct OutputPlan {
    pub name: String,
    /// None when the contract's shape cannot be evaluated before the kernel runs.
    pub meta: Option<ArgMeta>,
    /// Index of the 0-d output counting this output's meaningful leading elements.
    pub valid_prefix: Option<usize>,
}

/// One kernel call.
pub(crate) struct StepPlan {
    pub kernel: &'static dyn Kernel,
    pub params: Params,
    pub args: Vec<ArgSource>,
    pub arg_metas: Vec<ArgMeta>,
    pub outputs: Vec<OutputPlan>,
    /// Steps joined by `+` share a group; `->` starts the next group.
    pub group: usize,
}

/// Everything needed to run (or cost) one operation with fastpath's kernels.
pub(crate) struct OpPlan {
    pub inputs: Vec<InputPlan>,
    pub steps: Vec<StepPlan>,
    /// The operation's float data enters a u32 key sort through [`f32_sort_key`]; its `keys`
    /// outputs are mapped back for the result.
    pub f32_keys: bool,
    /// Things the report should say (a dtype the kernels do not take, a parameter derived).
    pub notes: Vec<String>,
}

impl OpPlan {
    /// Steps whose outputs are the operation's results: the last group of the chain.
    pub fn result_steps(&self) -> impl Iterator<Item = (usize, &StepPlan)> {
        let last = self.steps.last().map_or(0, |s| s.group);
        self.steps.iter().enumerate().filter(move |(_, s)| s.group == last)
    }

    /// The operation inputs some kernel overwrites (outputs declared `in_place_of` an input,
    /// as the GPU bitonic sorts do).
    pub fn inputs_written_in_place(&self) -> Vec<usize> {
        let mut written = Vec::new();
        for step in &self.steps {
            let spec = step.kernel.spec();
            for out in spec.outputs.iter().filter_map(|o| o.in_place_of.as_ref()) {
                let position = spec.inputs.iter().position(|i| &i.name == out);
                if let Some(ArgSource::Input(k)) = position.and_then(|p| step.args.get(p)) {
                    written.push(*k);
                }
            }
        }
        written
    }

    /// Bytes of every input and every output of one run, for the memory check.
    pub fn array_bytes(&self) -> u64 {
        let meta_bytes = |m: &ArgMeta| (m.len() * m.dtype.size_bytes()) as u64;
        let inputs: u64 = self.inputs.iter().map(|i| meta_bytes(&i.meta)).sum();
        let outputs: u64 = self
            .steps
            .iter()
            .flat_map(|s| s.outputs.iter())
            .filter_map(|o| o.meta.as_ref().map(meta_bytes))
            .sum();
        inputs + outputs
    }
}

/// Why an operation cannot run on fastpath's kernels.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PlanError {
    /// Kernels the registry does not have yet (the router may still name them).
    NotImplemented(Vec<String>),
    /// Anything else: a shape the kernels cannot take, a parameter that is missing.
    Unsupported(String),
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlanError::NotImplemented(ids) => write!(f, "{} not implemented yet", ids.join(", ")),
            PlanError::Unsupported(text) => f.write_str(text),
        }
    }
}

/// For each kernel after the first: true when a `->` separates it from the previous one in the
/// route text (`A -> B`), false when they run side by side (`A + B`).
fn chain_breaks(route: &str, kernels: &[String]) -> Vec<bool> {
    let mut breaks = vec![false; kernels.len()];
    let mut cursor = 0;
    let mut previous_end: Option<usize> = None;
    for (i, id) in kernels.iter().enumerate() {
        let Some(found) = route[cursor..].find(id.as_str()) else {
            // Not written in the route: treat as the next step of a chain.
            breaks[i] = i > 0;
            continue;
        };
        let start = cursor + found;
        if let Some(end) = previous_end {
            breaks[i] = route[end..start].contains("->");
        }
        cursor = start + id.len();
        previous_end = Some(cursor);
    }
    breaks
}

/// A route parameter as the kernel's typed parameter, or why it does not fit.
fn convert_param(
    kernel: &str,
    name: &str,
    value: &OpParam,
    ty: &ParamType,
) -> Result<ParamValue, String> {
    let bad =
        || format!("{kernel}: the operation's {name} = {value} does not fit its {}", ty.describe());
    Ok(match (ty, value) {
        (ParamType::F32, OpParam::Number(x)) => ParamValue::F32(*x as f32),
        (ParamType::U32, OpParam::Number(x))
            if x.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(x) =>
        {
            ParamValue::U32(*x as u32)
        }
        (ParamType::U64, OpParam::Number(x)) if x.fract() == 0.0 && *x >= 0.0 && *x < 1.8e19 => {
            ParamValue::U64(*x as u64)
        }
        (ParamType::Bool, OpParam::Bool(b)) => ParamValue::Bool(*b),
        (ParamType::Enum(values), OpParam::Text(t)) if values.contains(t) => {
            ParamValue::Enum(t.clone())
        }
        _ => return Err(bad()),
    })
}

/// Required parameters without a default that mean "the range of the data".
fn data_derived(name: &str, range: (f32, f32)) -> Option<f32> {
    match name {
        "min_val" => Some(range.0),
        "max_val" => Some(range.1),
        _ => None,
    }
}

/// The kernel's parameters for this operation, and the operation parameters it consumed.
fn kernel_params(
    op: &Operation,
    kernel: &dyn Kernel,
    data_range: (f32, f32),
    notes: &mut Vec<String>,
) -> Result<Params, PlanError> {
    let spec = kernel.spec();
    let mut given = Vec::new();
    let mut derived = Vec::new();
    for p in &spec.params {
        if let Some(value) = op.params.get(&p.name) {
            let typed =
                convert_param(&spec.id, &p.name, value, &p.ty).map_err(PlanError::Unsupported)?;
            given.push((p.name.as_str(), typed));
            continue;
        }
        let has_fallback = p.default.is_some()
            || p.optional
            || p.default_expr.is_some()
            || p.required_when.is_some();
        if has_fallback {
            continue;
        }
        match data_derived(&p.name, data_range) {
            Some(v) if p.ty == ParamType::F32 => {
                derived.push(format!("{} = {v}", p.name));
                given.push((p.name.as_str(), ParamValue::F32(v)));
            }
            _ => {
                return Err(PlanError::Unsupported(format!(
                    "{} needs parameter {} ({}), which the operation does not give; add {} = <value> to the operation",
                    spec.id,
                    p.name,
                    p.ty.describe(),
                    p.name
                )));
            }
        }
    }
    if !derived.is_empty() {
        notes.push(format!("{} {}: the range of the data", spec.id, derived.join(", ")));
    }
    Params::with(spec, &given).map_err(|e| PlanError::Unsupported(e.to_string()))
}

/// The shape of the operation's main operand as the first kernel input sees it: the same
/// dimensions when the ranks agree, flattened for a 1-D input, the alternative shape of the
/// contract when that matches.
fn main_operand_shape(
    op: &Operation,
    kernel: &str,
    input: &OperandSpec,
    env: &mut BTreeMap<String, u64>,
) -> Result<Vec<usize>, PlanError> {
    let dims: Vec<u64> = op.shape.clone();
    let candidates = std::iter::once(&input.shape).chain(input.alt_shape.as_ref());
    for shape in candidates {
        if shape.len() == dims.len() {
            let mut trial = env.clone();
            if bind(shape, &dims, &mut trial) {
                *env = trial;
                return Ok(dims.iter().map(|&d| d as usize).collect());
            }
        }
    }
    if input.shape.len() == 1 {
        let n: u64 = dims.iter().product();
        if bind(&input.shape, &[n], env) {
            return Ok(vec![n as usize]);
        }
    }
    Err(PlanError::Unsupported(format!(
        "{kernel} reads {} {}; the operation's shape [{}] does not map onto it",
        input.name,
        input.shape_text,
        dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
    )))
}

/// Binds the bare symbols of `shape` to `dims`; false on a conflict with an earlier binding.
fn bind(
    shape: &[fastpath_kernels::shape::ShapeExpr],
    dims: &[u64],
    env: &mut BTreeMap<String, u64>,
) -> bool {
    for (expr, &d) in shape.iter().zip(dims) {
        match expr.as_symbol() {
            Some(sym) => match env.get(sym) {
                Some(&bound) if bound != d => return false,
                Some(_) => {}
                None => {
                    env.insert(sym.to_string(), d);
                }
            },
            None => {
                if expr.eval(env).is_some_and(|v| v != d) {
                    return false;
                }
            }
        }
    }
    true
}

/// Evaluates a contract shape with bound symbols and integer parameters.
fn eval_shape(
    shape: &[fastpath_kernels::shape::ShapeExpr],
    env: &BTreeMap<String, u64>,
    params: &Params,
) -> Option<Vec<usize>> {
    let mut full = env.clone();
    for (name, value) in params.iter() {
        match value {
            ParamValue::U32(v) => {
                full.insert(name.to_string(), *v as u64);
            }
            ParamValue::U64(v) => {
                full.insert(name.to_string(), *v);
            }
            _ => {}
        }
    }
    shape.iter().map(|d| d.eval(&full).map(|v| v as usize)).collect()
}

/// Plans an operation. `data_range` replaces the synthetic data's range where a parameter is
/// derived from the data (an input file's min and max).
pub(crate) fn plan_operation(
    op: &Operation,
    data_range: Option<(f32, f32)>,
) -> Result<OpPlan, PlanError> {
    let missing: Vec<String> =
        op.kernels.iter().filter(|id| registry().get(id).is_none()).cloned().collect();
    if !missing.is_empty() {
        return Err(PlanError::NotImplemented(missing));
    }
    if op.kernels.is_empty() {
        return Err(PlanError::Unsupported(format!("{} has no kernels", op.op)));
    }
    let kernels: Vec<&'static dyn Kernel> =
        op.kernels.iter().map(|id| registry().get(id).expect("checked above")).collect();
    let breaks = chain_breaks(&op.kernel_route, &op.kernels);

    let mut notes = Vec::new();
    let first = kernels[0];
    let main_input = first.spec().inputs.first().ok_or_else(|| {
        PlanError::Unsupported(format!("{} reads no arrays: nothing to run it on", first.id()))
    })?;
    let main_dtype = DType::from_name(&main_input.dtype).unwrap_or(DType::F32);
    let range = data_range
        .or_else(|| Domain::for_input(first.id(), main_input, main_dtype).range())
        .unwrap_or(DATA_RANGE);
    let op_dtype = op.dtype.name();
    // A float operation on a u32 key sort: the contract's key transform, not other data.
    let f32_keys = main_dtype == DType::U32
        && main_input.name == "keys"
        && matches!(op.dtype, Dtype::F32 | Dtype::F16 | Dtype::Bf16 | Dtype::F64);
    if f32_keys {
        notes.push(format!(
            "{} sorts u32 keys: the data goes through the contract's order-preserving f32 key transform, and back",
            first.id()
        ));
    } else if main_dtype.name() != op_dtype {
        notes.push(format!(
            "{} reads {}: ran on {} data in place of the operation's {op_dtype}",
            first.id(),
            main_dtype.name(),
            main_dtype.name()
        ));
    }

    // Numeric operation parameters no kernel parameter takes: candidates for scalar operands.
    let kernel_param_names: Vec<&str> =
        kernels.iter().flat_map(|k| k.spec().params.iter().map(|p| p.name.as_str())).collect();
    let mut loose_numbers: Vec<(String, f64)> = op
        .params
        .iter()
        .filter(|(name, _)| !kernel_param_names.contains(&name.as_str()))
        .filter_map(|(name, v)| match v {
            OpParam::Number(x) => Some((name.clone(), *x)),
            _ => None,
        })
        .collect();

    let mut op_env: BTreeMap<String, u64> = BTreeMap::new();
    let mut inputs: Vec<InputPlan> = Vec::new();
    let mut steps: Vec<StepPlan> = Vec::new();
    let mut group = 0;
    for (j, kernel) in kernels.iter().enumerate() {
        if j > 0 && breaks[j] {
            group += 1;
        }
        let spec = kernel.spec();
        let params = kernel_params(op, *kernel, range, &mut notes)?;
        let previous: Vec<(usize, usize, &OutputPlan)> = if group == 0 {
            Vec::new()
        } else {
            steps
                .iter()
                .enumerate()
                .filter(|(_, s)| s.group == group - 1)
                .flat_map(|(si, s)| s.outputs.iter().enumerate().map(move |(oi, o)| (si, oi, o)))
                .collect()
        };
        let mut kernel_env: BTreeMap<String, u64> = BTreeMap::new();
        let mut args = Vec::new();
        let mut metas = Vec::new();
        for (i, operand) in spec.inputs.iter().enumerate() {
            // Optional inputs (a sort's payload) are left out: the contract is complete
            // without them, and required-when inputs follow parameters we never set.
            if operand.optional || operand.required_when.is_some() {
                break;
            }
            let dtype = DType::from_name(&operand.dtype).ok_or_else(|| {
                PlanError::Unsupported(format!(
                    "{} input {}: unknown dtype {}",
                    spec.id, operand.name, operand.dtype
                ))
            })?;
            if j == 0 && i == 0 {
                let shape = main_operand_shape(op, &spec.id, operand, &mut op_env)?;
                bind(
                    &operand.shape,
                    &shape.iter().map(|&d| d as u64).collect::<Vec<_>>(),
                    &mut kernel_env,
                );
                let meta = ArgMeta { dtype, shape };
                let domain = if f32_keys {
                    Domain::F32Keys { lo: DATA_RANGE.0, hi: DATA_RANGE.1 }
                } else {
                    Domain::for_input(&spec.id, operand, dtype)
                };
                inputs.push(InputPlan { meta: meta.clone(), domain, name: operand.name.clone() });
                args.push(ArgSource::Input(0));
                metas.push(meta);
                continue;
            }
            // The shape this input should have, if the symbols bound so far say.
            let mut env = op_env.clone();
            env.extend(kernel_env.clone());
            let expected = eval_shape(&operand.shape, &env, &params)
                .or_else(|| operand.alt_shape.as_ref().and_then(|s| eval_shape(s, &env, &params)));
            let fits = |m: &ArgMeta| {
                m.dtype == dtype
                    && match &expected {
                        Some(shape) => &m.shape == shape,
                        None => m.shape.len() == operand.shape.len(),
                    }
            };
            // 1. Chain link.
            let linked = previous
                .iter()
                .filter(|(si, oi, _)| !args.contains(&ArgSource::Output { step: *si, index: *oi }))
                .filter(|(_, _, o)| o.meta.as_ref().is_some_and(fits))
                .min_by_key(|(_, _, o)| o.name != operand.name)
                .map(|(si, oi, o)| (*si, *oi, o.meta.clone().expect("filtered on meta")));
            let (source, meta) = if let Some((step, index, meta)) = linked {
                (ArgSource::Output { step, index }, meta)
            } else if operand.scalar_ok && dtype == DType::F32 && !loose_numbers.is_empty() {
                // 2. Scalar operand from a loose numeric parameter.
                let (name, value) = loose_numbers.remove(0);
                notes.push(format!("{} {} = {name} = {value}", spec.id, operand.name));
                (ArgSource::Scalar(value as f32), ArgMeta { dtype, shape: Vec::new() })
            } else if let Some(k) = (0..inputs.len())
                .find(|&k| fits(&inputs[k].meta) && !args.contains(&ArgSource::Input(k)))
            {
                // 3. The operation's data.
                (ArgSource::Input(k), inputs[k].meta.clone())
            } else {
                // 4. New data.
                let shape = expected.ok_or_else(|| {
                    PlanError::Unsupported(format!(
                        "{} input {} {}: its size does not follow from the operation's shape",
                        spec.id, operand.name, operand.shape_text
                    ))
                })?;
                let meta = ArgMeta { dtype, shape };
                inputs.push(InputPlan {
                    meta: meta.clone(),
                    domain: Domain::for_input(&spec.id, operand, dtype),
                    name: operand.name.clone(),
                });
                (ArgSource::Input(inputs.len() - 1), meta)
            };
            bind(
                &operand.shape,
                &meta.shape.iter().map(|&d| d as u64).collect::<Vec<_>>(),
                &mut kernel_env,
            );
            args.push(source);
            metas.push(meta);
        }
        let shapes = fastpath_kernels::kernel::contract_output_shapes(*kernel, &metas, &params)
            .map_err(|e| PlanError::Unsupported(e.to_string()))?;
        let present: Vec<(&OperandSpec, Option<Vec<usize>>)> = spec
            .outputs
            .iter()
            .zip(shapes)
            // Optional outputs belong to optional inputs, which are never given.
            .filter(|(o, _)| !o.optional)
            .collect();
        let outputs = present
            .iter()
            .map(|(o, shape)| OutputPlan {
                name: o.name.clone(),
                meta: shape.clone().and_then(|shape| {
                    DType::from_name(&o.dtype).map(|dtype| ArgMeta { dtype, shape })
                }),
                valid_prefix: o
                    .valid_prefix
                    .as_ref()
                    .and_then(|name| present.iter().position(|(p, _)| &p.name == name)),
            })
            .collect();
        steps.push(StepPlan { kernel: *kernel, params, args, arg_metas: metas, outputs, group });
    }
    Ok(OpPlan { inputs, steps, f32_keys, notes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastpath_route::OperationSpec;

    fn op(spec: OperationSpec) -> Operation {
        Operation::from_spec(&spec, 0).unwrap()
    }

    #[test]
    fn chain_breaks_follow_the_route_text() {
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            chain_breaks("MAP_COMPARE -> COMPACT_MASK", &ids(&["MAP_COMPARE", "COMPACT_MASK"])),
            [false, true]
        );
        assert_eq!(chain_breaks("A + B -> C", &ids(&["A", "B", "C"])), [false, false, true]);
        assert_eq!(
            chain_breaks("zero-pad to the next power of 2 -> FFT_RADIX2", &ids(&["FFT_RADIX2"])),
            [false]
        );
        assert_eq!(
            chain_breaks(
                "INTEGRATE_VERLET -> NBODY_FORCES_ALLPAIRS -> INTEGRATE_VERLET",
                &ids(&["INTEGRATE_VERLET", "NBODY_FORCES_ALLPAIRS", "INTEGRATE_VERLET"])
            ),
            [false, true, true]
        );
    }

    #[test]
    fn a_reduction_reads_the_main_operand_flattened() {
        let plan = plan_operation(&op(OperationSpec::new("sum", &[4, 250])), None).unwrap();
        assert_eq!(plan.inputs.len(), 1);
        assert_eq!(plan.inputs[0].meta.shape, vec![1000]);
        assert_eq!(plan.steps[0].args, vec![ArgSource::Input(0)]);
        assert_eq!(plan.steps[0].outputs[0].meta.as_ref().unwrap().shape, Vec::<usize>::new());
    }

    #[test]
    fn histogram_range_comes_from_the_data() {
        let plan = plan_operation(&op(OperationSpec::new("histogram", &[1000])), None).unwrap();
        let p = &plan.steps[0].params;
        assert_eq!((p.f32("min_val"), p.f32("max_val")), DATA_RANGE);
        let from_file =
            plan_operation(&op(OperationSpec::new("histogram", &[1000])), Some((0.0, 9.0)))
                .unwrap();
        assert_eq!(from_file.steps[0].params.f32("max_val"), 9.0);
        assert!(plan.notes.iter().any(|n| n.contains("range of the data")), "{:?}", plan.notes);
    }

    #[test]
    fn fused_masked_sum_gets_a_mask() {
        let plan = plan_operation(&op(OperationSpec::new("masked_sum", &[1000])), None).unwrap();
        assert_eq!(plan.inputs.len(), 2);
        assert_eq!(plan.inputs[1].meta.dtype, DType::U32);
        assert_eq!(plan.inputs[1].domain, Domain::Mask { density: 0.5 });
        assert_eq!(plan.steps[0].args, vec![ArgSource::Input(0), ArgSource::Input(1)]);
    }

    #[test]
    fn kernels_side_by_side_share_the_data() {
        let plan =
            plan_operation(&op(OperationSpec::new("describe_stats", &[4096])), None).unwrap();
        assert_eq!(plan.inputs.len(), 1, "every statistic reads the same x");
        assert_eq!(plan.steps.len(), 7);
        assert!(plan.steps.iter().all(|s| s.group == 0 && s.args == vec![ArgSource::Input(0)]));
        assert_eq!(plan.result_steps().count(), 7);
    }

    #[test]
    fn threshold_count_passes_its_parameter() {
        let spec = OperationSpec::new("threshold_count", &[1000])
            .with_param("threshold", OpParam::Number(1.5));
        let plan = plan_operation(&op(spec), None).unwrap();
        assert_eq!(plan.steps[0].params.f32("threshold"), 1.5);
    }

    #[test]
    fn the_f32_key_transform_preserves_order() {
        let values = [f32::NEG_INFINITY, -3.5, -0.0, 0.0, 1e-30, 2.0, f32::INFINITY, f32::NAN];
        let keys: Vec<u32> = values.iter().map(|&x| f32_sort_key(x)).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
        for x in values {
            assert_eq!(f32_from_sort_key(f32_sort_key(x)).to_bits(), x.to_bits());
        }
    }

    #[test]
    fn unimplemented_kernels_are_named() {
        // MATMUL is a catalog extra that no domain implements in this tree.
        let err = plan_operation(&op(OperationSpec::new("matmul", &[8, 8, 8])), None)
            .err()
            .expect("matmul has no kernel yet");
        assert_eq!(err, PlanError::NotImplemented(vec!["MATMUL".into()]));
        assert_eq!(err.to_string(), "MATMUL not implemented yet");
    }

    #[test]
    fn chains_pass_outputs_on_when_their_kernels_exist() {
        // MAP_COMPARE -> COMPACT_MASK: the mask flows on, x is the compared data, and the
        // threshold becomes the comparison's scalar operand.
        let spec = OperationSpec::new("filter_threshold", &[1000])
            .with_param("threshold", OpParam::Number(0.5));
        match plan_operation(&op(spec), None) {
            Err(PlanError::NotImplemented(_)) => {} // the compaction domain has not landed yet
            Err(other) => panic!("{other}"),
            Ok(plan) => {
                assert_eq!(plan.inputs.len(), 1);
                assert_eq!(plan.steps[0].args, vec![ArgSource::Input(0), ArgSource::Scalar(0.5)]);
                assert_eq!(
                    plan.steps[1].args,
                    vec![ArgSource::Input(0), ArgSource::Output { step: 0, index: 0 }]
                );
                assert_eq!(plan.steps[1].outputs[0].valid_prefix, Some(1));
            }
        }
    }
}
