//! Benchmark inputs derived from a kernel's contract: shapes from the size being measured,
//! values from seeded generators (so fastpath and the peers get the same numbers), and
//! parameters from the catalog's defaults plus a small table for the required ones.

use std::collections::BTreeMap;

use fastpath_kernels::catalog::{KernelSpec, OperandSpec, ParamType};
use fastpath_kernels::shape::ShapeExpr;
use fastpath_kernels::{DType, HostArray, HostData, ParamValue, Params, testdata};

/// Seed of every benchmark input; an operand's generator adds its own offset.
const BASE_SEED: u64 = 0xFA57_BE4C;

/// How the values of one input are drawn. Inputs with the same generator and size are the
/// same array, shared by every kernel that takes one (and written once for the peers).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Generator {
    /// f32 uniform in `[lo, hi)`, bounds in thousandths.
    Uniform { lo_milli: i32, hi_milli: i32, seed: u64 },
    /// u32 mask, about half the entries non-zero.
    Mask { seed: u64 },
    /// u32 uniform over the whole range.
    Bits { seed: u64 },
    /// Another dtype: uniform small integers or values in [-1, 1), converted.
    Other { dtype: &'static str, seed: u64 },
}

impl Generator {
    /// File-name friendly key, unique per generator and size.
    pub fn key(&self, n: usize) -> String {
        match self {
            Generator::Uniform { lo_milli, hi_milli, seed } => {
                format!("f32-u{lo_milli}_{hi_milli}-s{seed}-n{n}")
            }
            Generator::Mask { seed } => format!("u32-mask-s{seed}-n{n}"),
            Generator::Bits { seed } => format!("u32-bits-s{seed}-n{n}"),
            Generator::Other { dtype, seed } => format!("{dtype}-s{seed}-n{n}"),
        }
    }

    pub fn generate(&self, shape: &[usize]) -> HostArray {
        let n: usize = shape.iter().product();
        let shape = shape.to_vec();
        match *self {
            Generator::Uniform { lo_milli, hi_milli, seed } => HostArray::f32(
                shape,
                testdata::uniform(n, lo_milli as f32 / 1000.0, hi_milli as f32 / 1000.0, seed),
            ),
            Generator::Mask { seed } => HostArray::u32(shape, testdata::mask(n, 0.5, seed)),
            Generator::Bits { seed } => HostArray::u32(shape, testdata::uniform_u32(n, seed)),
            Generator::Other { dtype, seed } => {
                let f = testdata::uniform(n, -1.0, 1.0, seed);
                let data = match dtype {
                    "f64" => HostData::F64(f.iter().map(|&v| v as f64).collect()),
                    "i32" => HostData::I32(f.iter().map(|&v| (v * 1000.0) as i32).collect()),
                    "u8" => HostData::U8(f.iter().map(|&v| ((v + 1.0) * 127.0) as u8).collect()),
                    "i8" => HostData::I8(f.iter().map(|&v| (v * 127.0) as i8).collect()),
                    "f16" => HostData::F16(f.iter().map(|&v| f32_to_f16_bits(v)).collect()),
                    other => unreachable!("generator for unsupported dtype {other}"),
                };
                HostArray::new(shape, data)
            }
        }
    }
}

/// Round-to-nearest f32 → IEEE half bits for the values the generators produce (|v| ≤ 1,
/// normal or zero), enough for benchmark inputs.
fn f32_to_f16_bits(v: f32) -> u16 {
    let bits = v.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32 - 127 + 15;
    if exp <= 0 {
        return sign; // flush tiny values to zero
    }
    let mantissa = bits & 0x7f_ffff;
    let rounded = (((exp as u32) << 10) | (mantissa >> 13)) + ((mantissa >> 12) & 1);
    sign | rounded.min(0x7bff) as u16
}

/// Value ranges that differ from the default uniform [-1, 1): inputs a kernel's domain or
/// meaning needs (a log of positive numbers, a divisor away from zero).
fn special_range(kernel: &str, operand: &str) -> Option<(i32, i32)> {
    match (kernel, operand) {
        ("MAP_LOG", _) => Some((10, 10_000)),
        ("MAP_DIV", "b") => Some((500, 2000)),
        _ => None,
    }
}

/// The generator for input `index` of a kernel.
pub fn generator_for(
    spec: &KernelSpec,
    operand: &OperandSpec,
    index: usize,
) -> Result<Generator, String> {
    let seed = BASE_SEED + index as u64;
    Ok(match operand.dtype.as_str() {
        "f32" => {
            let (lo_milli, hi_milli) =
                special_range(&spec.id, &operand.name).unwrap_or((-1000, 1000));
            Generator::Uniform { lo_milli, hi_milli, seed }
        }
        "u32" if operand.name.contains("mask") => Generator::Mask { seed },
        "u32" => Generator::Bits { seed },
        "f64" => Generator::Other { dtype: "f64", seed },
        "i32" => Generator::Other { dtype: "i32", seed },
        "u8" => Generator::Other { dtype: "u8", seed },
        "i8" => Generator::Other { dtype: "i8", seed },
        "f16" => Generator::Other { dtype: "f16", seed },
        other => {
            return Err(format!("{}: no benchmark input generator for dtype {other}", spec.id));
        }
    })
}

/// Required parameters (no default in the catalog) get these values: ones that make the
/// kernel do representative work (half the elements pass a threshold, a histogram range
/// that covers the data, the top 100 of n). Looked up by kernel and name first, then by
/// name alone for kernels that arrive later.
fn required_param(spec: &KernelSpec, name: &str, ty: &ParamType, n: usize) -> ParamValue {
    let f = ParamValue::F32;
    match (spec.id.as_str(), name) {
        ("REDUCE_HISTOGRAM", "min_val") | (_, "min_val") => f(-1.0),
        ("REDUCE_HISTOGRAM", "max_val") | (_, "max_val") => f(1.0),
        ("MAP_CLAMP", "lo") | (_, "lo") => f(-0.5),
        ("MAP_CLAMP", "hi") | (_, "hi") => f(0.5),
        (_, "threshold") => f(0.0),
        ("PERCENTILE_SELECT", "p") | (_, "p") => f(90.0),
        (_, "k") => match ty {
            ParamType::U64 => ParamValue::U64(n.min(100) as u64),
            _ => ParamValue::U32(n.min(100) as u32),
        },
        _ => match ty {
            ParamType::F32 => f(0.5),
            ParamType::U32 => ParamValue::U32(1),
            ParamType::U64 => ParamValue::U64(1),
            ParamType::Bool => ParamValue::Bool(false),
            ParamType::Enum(values) => ParamValue::Enum(values[0].clone()),
        },
    }
}

/// Parameters for a benchmark call on `n` elements: defaults, plus [`required_param`] values.
pub fn bench_params(spec: &KernelSpec, n: usize) -> Result<Params, String> {
    let given: Vec<(&str, ParamValue)> = spec
        .params
        .iter()
        .filter(|p| {
            p.default.is_none()
                && !p.optional
                && p.default_expr.is_none()
                && p.required_when.is_none()
        })
        .map(|p| (p.name.as_str(), required_param(spec, &p.name, &p.ty, n)))
        .collect();
    Params::with(spec, &given).map_err(|e| e.to_string())
}

/// The shape of every required input for a call of size `n` (elements of the first input):
/// symbols of the first input are bound from `n` (a last dimension gets up to 1024 elements,
/// the leading ones the rest, the usual rows × features layout), later inputs are evaluated
/// from the bound symbols and integer parameters.
pub fn input_shapes(
    spec: &KernelSpec,
    n: usize,
    params: &Params,
) -> Result<Vec<Vec<usize>>, String> {
    let mut env: BTreeMap<String, u64> = BTreeMap::new();
    for (name, value) in params.iter() {
        match value {
            ParamValue::U32(v) => {
                env.insert(name.to_string(), u64::from(*v));
            }
            ParamValue::U64(v) => {
                env.insert(name.to_string(), *v);
            }
            _ => {}
        }
    }
    let required: Vec<&OperandSpec> =
        spec.inputs.iter().filter(|i| !i.optional && i.required_when.is_none()).collect();
    let Some(first) = required.first() else {
        return Err(format!("{} has no array input to size", spec.id));
    };
    let symbols: Vec<&str> = first.shape.iter().filter_map(ShapeExpr::as_symbol).collect();
    if symbols.len() != first.shape.len() {
        return Err(format!(
            "{}: cannot size input {} {} from one n (fixed or derived dimensions)",
            spec.id, first.name, first.shape_text
        ));
    }
    match symbols.as_slice() {
        [] => {}
        [one] => {
            env.insert(one.to_string(), n as u64);
        }
        [lead @ .., last] => {
            let inner = n.min(1024) as u64;
            let mut outer = (n as u64 / inner).max(1);
            env.insert(last.to_string(), inner);
            for (i, s) in lead.iter().enumerate() {
                let v = if i == 0 { outer } else { 1 };
                env.entry(s.to_string()).or_insert(v);
                outer = 1;
            }
        }
    }
    required
        .iter()
        .map(|op| {
            op.shape
                .iter()
                .map(|d| d.eval(&env).map(|v| v as usize))
                .collect::<Option<Vec<usize>>>()
                .ok_or_else(|| {
                    format!(
                        "{}: cannot derive the shape of input {} {} from n = {n}",
                        spec.id, op.name, op.shape_text
                    )
                })
        })
        .collect()
}

/// Everything needed to run one kernel at one size, without the arrays themselves.
#[derive(Debug, Clone)]
pub struct CasePlan {
    pub params: Params,
    /// Per required input: its generator and shape.
    pub inputs: Vec<(Generator, Vec<usize>)>,
}

impl CasePlan {
    pub fn new(spec: &KernelSpec, n: usize) -> Result<CasePlan, String> {
        let params = bench_params(spec, n)?;
        let shapes = input_shapes(spec, n, &params)?;
        let required = spec.inputs.iter().filter(|i| !i.optional && i.required_when.is_none());
        let inputs = required
            .zip(shapes)
            .enumerate()
            .map(|(i, (op, shape))| Ok((generator_for(spec, op, i)?, shape)))
            .collect::<Result<Vec<_>, String>>()?;
        Ok(CasePlan { params, inputs })
    }

    /// Bytes of one set of inputs.
    pub fn input_bytes(&self) -> usize {
        self.inputs
            .iter()
            .map(|(g, shape)| {
                let elem = match g {
                    Generator::Other { dtype, .. } => {
                        DType::from_name(dtype).map_or(4, DType::size_bytes)
                    }
                    _ => 4,
                };
                shape.iter().product::<usize>() * elem
            })
            .sum()
    }

    /// Identity of input `i` (generator and shape), for sharing arrays between kernels.
    pub fn input_key(&self, i: usize) -> String {
        let (g, shape) = &self.inputs[i];
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        format!("{}-{}", g.key(shape.iter().product()), dims.join("x"))
    }
}

/// Parameters as JSON values (for the peer plan).
pub fn params_json(params: &Params) -> serde_json::Map<String, serde_json::Value> {
    params
        .iter()
        .map(|(k, v)| {
            let value = match v {
                ParamValue::F32(x) => serde_json::json!(*x as f64),
                ParamValue::U32(x) => serde_json::json!(x),
                ParamValue::U64(x) => serde_json::json!(x),
                ParamValue::Bool(x) => serde_json::json!(x),
                ParamValue::Enum(x) => serde_json::json!(x),
            };
            (k.to_string(), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastpath_kernels::{ArgMeta, registry, validate};

    /// The harness must be able to feed every registered kernel (as new domains land) from
    /// its contract alone.
    #[test]
    fn every_registered_kernel_gets_valid_inputs() {
        for kernel in registry().iter() {
            let spec = kernel.spec();
            for n in [1024usize, 1 << 16] {
                let plan = CasePlan::new(spec, n).unwrap_or_else(|e| panic!("{e}"));
                let arrays: Vec<HostArray> =
                    plan.inputs.iter().map(|(g, shape)| g.generate(shape)).collect();
                let metas: Vec<ArgMeta> = arrays.iter().map(HostArray::meta).collect();
                validate(kernel, &metas, &plan.params)
                    .unwrap_or_else(|e| panic!("{} at n = {n}: {e}", spec.id));
                assert_eq!(arrays[0].len(), n, "{}", spec.id);
            }
        }
    }

    #[test]
    fn required_parameters_come_from_the_table() {
        let cat = fastpath_kernels::catalog();
        let hist = bench_params(cat.get("REDUCE_HISTOGRAM").unwrap(), 10).unwrap();
        assert_eq!((hist.f32("min_val"), hist.f32("max_val")), (-1.0, 1.0));
        let clamp = bench_params(cat.get("MAP_CLAMP").unwrap(), 10).unwrap();
        assert!(clamp.f32("lo") < clamp.f32("hi"));
        let topk = bench_params(cat.get("TOPK_SELECT").unwrap(), 10).unwrap();
        assert_eq!(topk.u32("k"), 10);
        let topk = bench_params(cat.get("TOPK_SELECT").unwrap(), 1 << 20).unwrap();
        assert_eq!(topk.u32("k"), 100);
        assert_eq!(bench_params(cat.get("PERCENTILE_SELECT").unwrap(), 10).unwrap().f32("p"), 90.0);
        // Defaults stay defaults.
        assert_eq!(bench_params(cat.get("REDUCE_VAR").unwrap(), 10).unwrap().u32("ddof"), 0);
    }

    #[test]
    fn shared_inputs_share_keys_and_values_are_seeded() {
        let cat = fastpath_kernels::catalog();
        let a = CasePlan::new(cat.get("REDUCE_SUM").unwrap(), 4096).unwrap();
        let b = CasePlan::new(cat.get("REDUCE_MAX").unwrap(), 4096).unwrap();
        assert_eq!(a.input_key(0), b.input_key(0));
        assert_eq!(a.input_bytes(), 4096 * 4);
        let log = CasePlan::new(cat.get("MAP_LOG").unwrap(), 4096).unwrap();
        assert_ne!(a.input_key(0), log.input_key(0));
        let x = log.inputs[0].0.generate(&[4096]);
        assert!(x.f32s().iter().all(|&v| v > 0.0), "log inputs must be positive");
        assert_eq!(x, log.inputs[0].0.generate(&[4096]));
        let masked = CasePlan::new(cat.get("MAP_REDUCE_MASKED_SUM").unwrap(), 64).unwrap();
        assert!(matches!(masked.inputs[1].0, Generator::Mask { .. }));
    }

    #[test]
    fn two_dimensional_contracts_get_rows_of_up_to_1024() {
        let cat = fastpath_kernels::catalog();
        if let Some(softmax) = cat.kernels.iter().find(|k| {
            k.inputs.first().is_some_and(|i| {
                i.shape.len() == 2 && i.shape.iter().all(|d| d.as_symbol().is_some())
            })
        }) {
            let params = bench_params(softmax, 1 << 20);
            if let Ok(params) = params
                && let Ok(shapes) = input_shapes(softmax, 1 << 20, &params)
            {
                assert_eq!(shapes[0], vec![1024, 1024], "{}", softmax.id);
            }
        }
        assert_eq!(f32_to_f16_bits(1.0), 0x3c00);
        assert_eq!(f32_to_f16_bits(-0.5), 0xb800);
    }
}
