//! The operation model: what a workload computes, described by operation names (from
//! `spec/operation-routing.md` plus the seed's `fft`, `sort`, `matmul`, `stencil`, `nbody`, …),
//! shapes and dtypes.
//!
//! From an [`OperationSpec`] (what the user wrote) we build an [`Operation`]: the canonical name,
//! the catalog kernels the operation maps to (operation-routing.md's tables, first matching row
//! wins), a cost ([`Cost`]: bytes moved, flops, working set, kernel launches) and whether MLX and
//! PyTorch have an equivalent. Everything the router derives from operations comes from here, so
//! the router never needs the kernel registry (which lives in a crate with a GPU dependency).

mod cost;
mod kernels;
mod table;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::RouteError;

pub use cost::Cost;
pub use table::{
    Family, FftKind, OpDef, ParamDef, ParamDefault, ParamKind, Support, catalog, shape_rule,
};

/// The family of an operation by canonical name or alias.
pub(crate) fn table_family(name: &str) -> Option<Family> {
    table::lookup(name).map(|d| d.family)
}

pub(crate) use table::edit_distance;

/// The table entry of an operation by canonical name or alias.
pub fn lookup(name: &str) -> Option<&'static OpDef> {
    table::lookup(name)
}

/// Element type of an operation's main operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    F16,
    Bf16,
    F32,
    F64,
    I8,
    U8,
    I32,
    U32,
    I64,
}

impl Dtype {
    pub const ALL: [Dtype; 9] = [
        Dtype::F16,
        Dtype::Bf16,
        Dtype::F32,
        Dtype::F64,
        Dtype::I8,
        Dtype::U8,
        Dtype::I32,
        Dtype::U32,
        Dtype::I64,
    ];

    pub fn bytes(self) -> u64 {
        match self {
            Dtype::I8 | Dtype::U8 => 1,
            Dtype::F16 | Dtype::Bf16 => 2,
            Dtype::F32 | Dtype::I32 | Dtype::U32 => 4,
            Dtype::F64 | Dtype::I64 => 8,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dtype::F16 => "f16",
            Dtype::Bf16 => "bf16",
            Dtype::F32 => "f32",
            Dtype::F64 => "f64",
            Dtype::I8 => "i8",
            Dtype::U8 => "u8",
            Dtype::I32 => "i32",
            Dtype::U32 => "u32",
            Dtype::I64 => "i64",
        }
    }

    /// Throughput multiplier relative to f32, from operation-routing.md's "Precision
    /// factors" (fp64 0.5, fp16 1.8, int8 2.5); types the table does not list count as f32.
    pub fn throughput_factor(self) -> f64 {
        match self {
            Dtype::F64 | Dtype::I64 => 0.5,
            Dtype::F16 | Dtype::Bf16 => 1.8,
            Dtype::I8 | Dtype::U8 => 2.5,
            Dtype::F32 | Dtype::I32 | Dtype::U32 => 1.0,
        }
    }

    /// Accepts the short names and the usual spellings (`float32`, `fp16`, `int8`, …).
    pub fn parse(text: &str) -> Option<Dtype> {
        let t = text.trim().to_ascii_lowercase();
        Some(match t.as_str() {
            "f16" | "fp16" | "float16" | "half" => Dtype::F16,
            "bf16" | "bfloat16" => Dtype::Bf16,
            "f32" | "fp32" | "float32" | "float" => Dtype::F32,
            "f64" | "fp64" | "float64" | "double" => Dtype::F64,
            "i8" | "int8" => Dtype::I8,
            "u8" | "uint8" => Dtype::U8,
            "i32" | "int32" => Dtype::I32,
            "u32" | "uint32" => Dtype::U32,
            "i64" | "int64" => Dtype::I64,
            _ => return None,
        })
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parameter value as written in a workload (`k = 100`, `real_input = false`, `clip_type = "norm"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    Bool(bool),
    Number(f64),
    Text(String),
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Number(x) => write!(f, "{}", crate::format::plain_number(*x)),
            ParamValue::Text(s) => f.write_str(s),
        }
    }
}

/// One operation as the user wrote it, before validation against the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationSpec {
    /// Operation name or alias (`sort`, `filter_threshold`, `swish`, …).
    pub op: String,
    /// Dimensions; for flat operations a single element count is enough.
    pub shape: Vec<u64>,
    pub dtype: Dtype,
    /// How many times the operation runs (time steps, iterations, epochs). Multiplies time and
    /// flops, not the working set.
    pub repeat: u64,
    /// Operation parameters (`k`, `density`, `real_input`, …), checked against the catalog.
    pub params: BTreeMap<String, ParamValue>,
    /// Optional name shown in plans (e.g. "scores").
    pub label: Option<String>,
}

impl OperationSpec {
    /// A spec with default dtype (f32), one repetition and no parameters.
    pub fn new(op: &str, shape: &[u64]) -> Self {
        OperationSpec {
            op: op.to_string(),
            shape: shape.to_vec(),
            dtype: Dtype::F32,
            repeat: 1,
            params: BTreeMap::new(),
            label: None,
        }
    }

    pub fn with_param(mut self, name: &str, value: ParamValue) -> Self {
        self.params.insert(name.to_string(), value);
        self
    }

    pub fn with_dtype(mut self, dtype: Dtype) -> Self {
        self.dtype = dtype;
        self
    }

    pub fn with_repeat(mut self, repeat: u64) -> Self {
        self.repeat = repeat;
        self
    }

    pub fn with_label(mut self, label: &str) -> Self {
        self.label = Some(label.to_string());
        self
    }

    /// Parses the `--op` flag syntax: `NAME[:SHAPE][:DTYPE][:key=value[,key=value…]]`, e.g.
    /// `sort:10000000`, `matmul:64x768x1000000:f16`, `top_k:64000000:k=100,repeat=3`.
    /// `repeat` and `label` are accepted among the key=value pairs.
    pub fn parse_flag(text: &str) -> Result<OperationSpec, RouteError> {
        let key = format!("--op '{text}'");
        let mut parts = text.split(':');
        let name = parts.next().unwrap_or("").trim();
        if name.is_empty() {
            return Err(RouteError::invalid(
                key,
                "expected NAME[:SHAPE][:DTYPE][:key=value,...], e.g. sort:10000000",
            ));
        }
        let mut spec = OperationSpec::new(name, &[]);
        for part in parts {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            if let Some(shape) = parse_shape_text(part) {
                spec.shape = shape;
            } else if let Some(dtype) = Dtype::parse(part) {
                spec.dtype = dtype;
            } else if part.contains('=') {
                for pair in part.split(',') {
                    let (k, v) = pair.split_once('=').ok_or_else(|| {
                        RouteError::invalid(&key, format!("'{pair}' is not key=value"))
                    })?;
                    let (k, v) = (k.trim(), v.trim());
                    match k {
                        "repeat" => {
                            spec.repeat = parse_count(v).filter(|r| *r >= 1).ok_or_else(|| {
                                RouteError::invalid(
                                    &key,
                                    format!("repeat must be a whole number >= 1, got '{v}'"),
                                )
                            })?
                        }
                        "label" => spec.label = Some(v.to_string()),
                        "elements" => {
                            spec.shape = vec![parse_count(v).ok_or_else(|| {
                                RouteError::invalid(
                                    &key,
                                    format!("elements must be a whole number, got '{v}'"),
                                )
                            })?]
                        }
                        _ => {
                            spec.params.insert(k.to_string(), parse_param_text(v));
                        }
                    }
                }
            } else {
                return Err(RouteError::invalid(
                    key,
                    format!(
                        "'{part}' is not a shape (like 1000000 or 64x768x4096), a dtype (f32, f16, bf16, f64, i8, u8, i32, u32, i64) or key=value"
                    ),
                ));
            }
        }
        Ok(spec)
    }
}

/// `1000000`, `1_000_000`, `64x768x1000000` → dimensions.
fn parse_shape_text(text: &str) -> Option<Vec<u64>> {
    let dims: Option<Vec<u64>> = text.split(['x', 'X']).map(parse_count).collect();
    dims.filter(|d| !d.is_empty())
}

fn parse_count(text: &str) -> Option<u64> {
    let cleaned: String = text.chars().filter(|c| *c != '_').collect();
    if cleaned.is_empty() || !cleaned.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    cleaned.parse().ok()
}

fn parse_param_text(text: &str) -> ParamValue {
    match text {
        "true" => ParamValue::Bool(true),
        "false" => ParamValue::Bool(false),
        _ => match text.replace('_', "").parse::<f64>() {
            Ok(x) => ParamValue::Number(x),
            Err(_) => ParamValue::Text(text.to_string()),
        },
    }
}

/// Whether a framework has an equivalent of an operation, and the code for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrameworkSupport {
    pub available: bool,
    /// Python expression (MLX: `mx.…`, PyTorch: `torch.…`) when available.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Why not, when not available.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A validated operation: everything the router, the cost model and an executor need.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Operation {
    /// Canonical operation name (aliases resolved).
    pub op: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub shape: Vec<u64>,
    pub dtype: Dtype,
    pub repeat: u64,
    /// Every parameter the operation accepts that has a value (given or default).
    pub params: BTreeMap<String, ParamValue>,
    /// Catalog kernel ids in launch order (`MAP_COMPARE`, `COMPACT_MASK`, …).
    pub kernels: Vec<String>,
    /// The routing row as text: `A + B` launched together, `A -> B` in sequence.
    pub kernel_route: String,
    /// Host-side steps outside the kernels (e.g. "sqrt on the host").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_step: Option<String>,
    pub cost: Cost,
    pub mlx: FrameworkSupport,
    pub pytorch: FrameworkSupport,
    /// Can be processed in streaming passes without random access over the whole data (S3).
    pub chunkable: bool,
}

impl Operation {
    /// Validates a spec against the catalog and computes kernels, cost and framework support.
    /// `index` is the position in the workload, used to name the key in errors.
    pub fn from_spec(spec: &OperationSpec, index: usize) -> Result<Operation, RouteError> {
        let key = format!("operations[{index}]");
        let def = table::lookup(&spec.op).ok_or_else(|| {
            let hint = table::suggest(&spec.op)
                .map(|s| format!(" (did you mean '{s}'?)"))
                .unwrap_or_default();
            RouteError::invalid(
                format!("{key}.op"),
                format!(
                    "unknown operation '{}'{hint}; `fastpath route --list-ops` lists the {} known names",
                    spec.op,
                    table::catalog().len()
                ),
            )
        })?;
        if spec.repeat == 0 {
            return Err(RouteError::invalid(format!("{key}.repeat"), "must be >= 1"));
        }
        if spec.repeat > MAX_REPEAT {
            return Err(RouteError::invalid(
                format!("{key}.repeat"),
                format!("must be <= {MAX_REPEAT}"),
            ));
        }
        let params = table::check_params(def, &spec.params, &key)?;
        let shape = table::check_shape(def, &spec.shape, &params, &key)?;
        let ctx = OpContext { def, shape: &shape, dtype: spec.dtype, params: &params };
        let route = kernels::route(&ctx);
        let cost = cost::cost(&ctx, route.launches()).repeated(spec.repeat);
        let (mlx, pytorch) = table::framework_support(&ctx);
        let chunkable = table::chunkable(&ctx);
        Ok(Operation {
            op: def.name.to_string(),
            label: spec.label.clone(),
            shape,
            dtype: spec.dtype,
            repeat: spec.repeat,
            params,
            kernels: route.ids(),
            kernel_route: route.text(),
            host_step: route.host_step.map(str::to_string),
            cost,
            mlx,
            pytorch,
            chunkable,
        })
    }

    /// Element count of the operation's main operand.
    pub fn elements(&self) -> u64 {
        self.shape.iter().product()
    }

    /// `sort [10000000] f32` — the way plans and traces name an operation.
    pub fn describe(&self) -> String {
        let dims: Vec<String> = self.shape.iter().map(|d| d.to_string()).collect();
        let mut text = format!("{} [{}] {}", self.op, dims.join(", "), self.dtype);
        let interesting: Vec<String> = self
            .params
            .iter()
            .filter(|(name, _)| table::param_is_shown(&self.op, name))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !interesting.is_empty() {
            text.push(' ');
            text.push_str(&interesting.join(" "));
        }
        if self.repeat > 1 {
            text.push_str(&format!(" x{}", self.repeat));
        }
        text
    }

    /// True when MLX has no equivalent (the seed's `needs_custom_gpu` for this operation).
    pub fn needs_custom_gpu(&self) -> bool {
        !self.mlx.available
    }
}

/// Upper bound on `repeat`, keeping every derived number finite.
pub const MAX_REPEAT: u64 = 1_000_000_000_000;
/// Upper bound on an operation's element count (and on each dimension).
pub const MAX_ELEMENTS: u64 = 1_000_000_000_000_000;

/// What the kernel router and the cost model see of one operation.
pub(crate) struct OpContext<'a> {
    pub def: &'static OpDef,
    pub shape: &'a [u64],
    pub dtype: Dtype,
    pub params: &'a BTreeMap<String, ParamValue>,
}

impl OpContext<'_> {
    pub fn n(&self) -> f64 {
        self.shape.iter().map(|&d| d as f64).product()
    }
    pub fn dim(&self, i: usize) -> f64 {
        self.shape.get(i).copied().unwrap_or(1) as f64
    }
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.params.get(name), Some(ParamValue::Bool(true)))
    }
    pub fn number(&self, name: &str) -> Option<f64> {
        match self.params.get(name) {
            Some(ParamValue::Number(x)) => Some(*x),
            _ => None,
        }
    }
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.params.get(name) {
            Some(ParamValue::Text(s)) => Some(s),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_syntax_reads_shape_dtype_and_params() {
        let spec = OperationSpec::parse_flag("top_k:64_000_000:f16:k=100,repeat=3").unwrap();
        assert_eq!(spec.op, "top_k");
        assert_eq!(spec.shape, vec![64_000_000]);
        assert_eq!(spec.dtype, Dtype::F16);
        assert_eq!(spec.repeat, 3);
        assert_eq!(spec.params.get("k"), Some(&ParamValue::Number(100.0)));

        let spec = OperationSpec::parse_flag("matmul:64x768x1000000").unwrap();
        assert_eq!(spec.shape, vec![64, 768, 1_000_000]);
    }

    #[test]
    fn flag_syntax_rejects_garbage_with_the_flag_named() {
        let err = OperationSpec::parse_flag("sort:abc").unwrap_err().to_string();
        assert!(err.starts_with("--op 'sort:abc'"), "{err}");
        assert!(err.contains("not a shape"), "{err}");
    }

    #[test]
    fn unknown_operation_suggests_a_close_name() {
        let err = Operation::from_spec(&OperationSpec::new("sotr", &[10]), 0).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("operations[0].op: unknown operation 'sotr'"), "{text}");
        assert!(text.contains("did you mean 'sort'"), "{text}");
    }

    #[test]
    fn aliases_resolve_to_canonical_names() {
        let op = Operation::from_spec(&OperationSpec::new("swish", &[1000]), 0).unwrap();
        assert_eq!(op.op, "silu");
        assert_eq!(op.kernels, vec!["MAP_SILU"]);
    }
}
