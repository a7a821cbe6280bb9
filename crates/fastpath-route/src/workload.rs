//! The workload model and its file format (TOML or JSON).
//!
//! A workload gives the seed's input variables directly, by the seed's names, or describes what
//! it computes as a list of operations, or both — explicit values override what the operations
//! imply. Reading is strict: an unknown key, a wrong type or an impossible value (a negative
//! size, a zero rate) is one error line naming the key.
//!
//! ```toml
//! name = "vector search with a custom filter"
//! python_acceptable = true          # any of the seed's variables, by name
//!
//! [[operations]]
//! op = "matmul"                     # names from spec/operation-routing.md
//! shape = [64, 768, 1000000]        # or `elements = N` for flat operations
//! dtype = "f32"                     # default f32
//!
//! [[operations]]
//! op = "top_k"
//! elements = 64000000
//! k = 100                           # operation parameters sit beside op/shape
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::RouteError;
use crate::ops::{Dtype, OperationSpec, ParamValue};

/// How much of the workload MLX can run (T9's "MOSTLY MLX-expressible").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MlxCoverage {
    /// Every operation has an MLX equivalent.
    All,
    /// The MLX stage (the leading run of MLX-expressible operations) carries at least half of
    /// the estimated time, and some operation needs custom GPU kernels.
    Most,
    /// Less than that.
    None,
}

impl MlxCoverage {
    pub fn name(self) -> &'static str {
        match self {
            MlxCoverage::All => "all",
            MlxCoverage::Most => "most",
            MlxCoverage::None => "none",
        }
    }
    pub fn parse(text: &str) -> Option<MlxCoverage> {
        match text {
            "all" => Some(MlxCoverage::All),
            "most" => Some(MlxCoverage::Most),
            "none" => Some(MlxCoverage::None),
            _ => None,
        }
    }
}

impl fmt::Display for MlxCoverage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The seed's input variables plus `chunkable`, `parallel_across_items` and `mlx_coverage`.
/// `None` means "not given": the router derives it from the operations and the machine, or
/// uses the documented default.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Variables {
    pub machine_ram_gb: Option<f64>,
    pub data_size_gb: Option<f64>,
    pub item_count: Option<f64>,
    pub flops_per_item: Option<f64>,
    pub local_rate: Option<f64>,
    pub local_time_hours: Option<f64>,
    pub requires_cuda: Option<bool>,
    pub is_sequential: Option<bool>,
    pub is_parallel: Option<bool>,
    pub mlx_expressible: Option<bool>,
    pub needs_pytorch_eco: Option<bool>,
    pub needs_custom_gpu: Option<bool>,
    pub python_acceptable: Option<bool>,
    pub chunkable: Option<bool>,
    pub parallel_across_items: Option<bool>,
    pub mlx_coverage: Option<MlxCoverage>,
}

/// The kind and allowed range of one variable.
#[derive(Debug, Clone, Copy)]
pub enum VariableKind {
    /// A number in `[min, max]`; `positive` excludes 0; `whole` demands an integer.
    Number {
        min: f64,
        max: f64,
        positive: bool,
        whole: bool,
    },
    Bool,
    Coverage,
}

/// One input variable: its name, kind and meaning (the seed's words where it has them).
#[derive(Debug, Clone, Copy)]
pub struct VariableDef {
    pub name: &'static str,
    pub kind: VariableKind,
    pub meaning: &'static str,
}

const fn number(
    name: &'static str,
    min: f64,
    max: f64,
    positive: bool,
    whole: bool,
    meaning: &'static str,
) -> VariableDef {
    VariableDef { name, kind: VariableKind::Number { min, max, positive, whole }, meaning }
}
const fn boolean(name: &'static str, meaning: &'static str) -> VariableDef {
    VariableDef { name, kind: VariableKind::Bool, meaning }
}

/// Every variable, in the seed's order, then the three this project adds.
pub const VARIABLES: &[VariableDef] = &[
    number("machine_ram_gb", 1e-3, 1e6, true, false, "unified RAM of the machine, GB"),
    number(
        "data_size_gb",
        0.0,
        1e9,
        false,
        false,
        "total working set: inputs + outputs + intermediates, GB",
    ),
    number(
        "item_count",
        0.0,
        1e18,
        false,
        true,
        "number of discrete work items (elements, keys, seeds, rows)",
    ),
    number("flops_per_item", 0.0, 1e15, false, false, "floating-point operations per item"),
    number("local_rate", 1e-9, 1e18, true, false, "items per second on the local GPU"),
    number("local_time_hours", 0.0, 1e9, false, false, "item_count / local_rate / 3600"),
    boolean("requires_cuda", "needs cuDNN, cuBLAS, TensorRT, NCCL or other CUDA-only libraries"),
    boolean(
        "is_sequential",
        "each item depends on the output of the previous (e.g. PBKDF2 iterations)",
    ),
    boolean(
        "is_parallel",
        "each item is independent (per-element map, per-seed scan, per-row reduce)",
    ),
    boolean("mlx_expressible", "ALL operations have MLX equivalents"),
    boolean(
        "needs_pytorch_eco",
        "requires HuggingFace, torchvision, torchaudio or PyTorch-specific autograd",
    ),
    boolean(
        "needs_custom_gpu",
        "includes operations NOT in MLX (stencils, N-body, compaction, histograms, custom comparators)",
    ),
    boolean("python_acceptable", "Python is acceptable (not a compiled-binary deliverable)"),
    boolean("chunkable", "can be processed in streaming passes without random access (S3)"),
    boolean(
        "parallel_across_items",
        "items are independent of each other even if each is sequential inside (S1's \"parallel at a higher level\")",
    ),
    VariableDef {
        name: "mlx_coverage",
        kind: VariableKind::Coverage,
        meaning: "all | most | none: how much MLX can run (S7's T9 branch)",
    },
];

impl Variables {
    /// The value of a variable by name, as JSON (null when not given).
    pub fn get(&self, name: &str) -> Value {
        let n = |x: Option<f64>| x.map(Value::from).unwrap_or(Value::Null);
        let b = |x: Option<bool>| x.map(Value::from).unwrap_or(Value::Null);
        match name {
            "machine_ram_gb" => n(self.machine_ram_gb),
            "data_size_gb" => n(self.data_size_gb),
            "item_count" => n(self.item_count),
            "flops_per_item" => n(self.flops_per_item),
            "local_rate" => n(self.local_rate),
            "local_time_hours" => n(self.local_time_hours),
            "requires_cuda" => b(self.requires_cuda),
            "is_sequential" => b(self.is_sequential),
            "is_parallel" => b(self.is_parallel),
            "mlx_expressible" => b(self.mlx_expressible),
            "needs_pytorch_eco" => b(self.needs_pytorch_eco),
            "needs_custom_gpu" => b(self.needs_custom_gpu),
            "python_acceptable" => b(self.python_acceptable),
            "chunkable" => b(self.chunkable),
            "parallel_across_items" => b(self.parallel_across_items),
            "mlx_coverage" => {
                self.mlx_coverage.map(|c| Value::from(c.name())).unwrap_or(Value::Null)
            }
            _ => Value::Null,
        }
    }

    /// Sets a variable from a JSON value, checking its type and range. `key` names it in errors.
    pub fn set(&mut self, name: &str, value: &Value, key: &str) -> Result<(), RouteError> {
        let def = VARIABLES
            .iter()
            .find(|d| d.name == name)
            .ok_or_else(|| unknown_key(key, name, &top_level_keys()))?;
        match def.kind {
            VariableKind::Number { min, max, positive, whole } => {
                let x = value.as_f64().filter(|_| !value.is_boolean()).ok_or_else(|| {
                    RouteError::invalid(
                        key,
                        format!("expected a number, got {}", describe_json(value)),
                    )
                })?;
                // `positive` values must exceed 0; `min` is the smallest value that keeps every
                // derived number finite (a rate of 1e-300 items/s would make times infinite).
                let shown = |x: f64| crate::format::plain_number(x);
                if !x.is_finite() || (positive && x <= 0.0) || (!positive && x < min) {
                    let lower =
                        if positive { "> 0".to_string() } else { format!(">= {}", shown(min)) };
                    return Err(RouteError::invalid(
                        key,
                        format!("must be a number {lower}, got {}", shown(x)),
                    ));
                }
                if x < min {
                    return Err(RouteError::invalid(
                        key,
                        format!("must be at least {}, got {}", shown(min), shown(x)),
                    ));
                }
                if x > max {
                    return Err(RouteError::invalid(
                        key,
                        format!(
                            "must be at most {}, got {}",
                            crate::format::plain_number(max),
                            crate::format::plain_number(x)
                        ),
                    ));
                }
                if whole && x.fract() != 0.0 {
                    return Err(RouteError::invalid(
                        key,
                        format!("must be a whole number, got {}", crate::format::plain_number(x)),
                    ));
                }
                let slot = match name {
                    "machine_ram_gb" => &mut self.machine_ram_gb,
                    "data_size_gb" => &mut self.data_size_gb,
                    "item_count" => &mut self.item_count,
                    "flops_per_item" => &mut self.flops_per_item,
                    "local_rate" => &mut self.local_rate,
                    _ => &mut self.local_time_hours,
                };
                *slot = Some(x);
            }
            VariableKind::Bool => {
                let b = value.as_bool().ok_or_else(|| {
                    RouteError::invalid(
                        key,
                        format!("expected true or false, got {}", describe_json(value)),
                    )
                })?;
                let slot = match name {
                    "requires_cuda" => &mut self.requires_cuda,
                    "is_sequential" => &mut self.is_sequential,
                    "is_parallel" => &mut self.is_parallel,
                    "mlx_expressible" => &mut self.mlx_expressible,
                    "needs_pytorch_eco" => &mut self.needs_pytorch_eco,
                    "needs_custom_gpu" => &mut self.needs_custom_gpu,
                    "python_acceptable" => &mut self.python_acceptable,
                    "chunkable" => &mut self.chunkable,
                    _ => &mut self.parallel_across_items,
                };
                *slot = Some(b);
            }
            VariableKind::Coverage => {
                let c = value.as_str().and_then(MlxCoverage::parse).ok_or_else(|| {
                    RouteError::invalid(
                        key,
                        format!(
                            "expected \"all\", \"most\" or \"none\", got {}",
                            describe_json(value)
                        ),
                    )
                })?;
                self.mlx_coverage = Some(c);
            }
        }
        Ok(())
    }

    /// Values set in `other` replace ours (CLI flags over the file).
    pub fn override_with(&mut self, other: &Variables) {
        for def in VARIABLES {
            let value = other.get(def.name);
            if !value.is_null() {
                self.set(def.name, &value, def.name).expect("a value read from Variables is valid");
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        VARIABLES.iter().all(|d| self.get(d.name).is_null())
    }
}

/// A workload: a name, the variables it gives, and the operations it describes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Workload {
    pub name: Option<String>,
    pub description: Option<String>,
    pub variables: Variables,
    pub operations: Vec<OperationSpec>,
}

const OTHER_TOP_LEVEL: &[&str] = &["name", "description", "operations"];
const OPERATION_KEYS: &[&str] = &["op", "shape", "elements", "dtype", "repeat", "label"];

fn top_level_keys() -> Vec<&'static str> {
    OTHER_TOP_LEVEL.iter().copied().chain(VARIABLES.iter().map(|d| d.name)).collect()
}

impl Workload {
    /// Reads a workload file: JSON when the name ends in `.json` or the text starts with `{`,
    /// TOML otherwise. Errors start with the file name.
    pub fn from_path(path: &Path) -> Result<Workload, RouteError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| RouteError::Io {
            path: shown.clone(),
            message: format!("cannot read workload file ({e})"),
        })?;
        let json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"))
            || text.trim_start().starts_with('{');
        let result = if json { Self::from_json_str(&text) } else { Self::from_toml_str(&text) };
        result.map_err(|e| match e {
            RouteError::Invalid { key, message } => {
                RouteError::Invalid { key: format!("{shown}: {key}"), message }
            }
            RouteError::Syntax(m) => RouteError::Syntax(format!("{shown}: {m}")),
            other => other,
        })
    }

    pub fn from_toml_str(text: &str) -> Result<Workload, RouteError> {
        let value: Value = toml::from_str(text)
            .map_err(|e| RouteError::Syntax(format!("TOML: {}", toml_error_line(text, &e))))?;
        Self::from_value(&value)
    }

    pub fn from_json_str(text: &str) -> Result<Workload, RouteError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| RouteError::Syntax(format!("JSON: {e}")))?;
        Self::from_value(&value)
    }

    /// Builds a workload from a parsed document, checking every key.
    pub fn from_value(value: &Value) -> Result<Workload, RouteError> {
        let table = value.as_object().ok_or_else(|| {
            RouteError::Syntax(format!(
                "a workload is a table of keys, got {}",
                describe_json(value)
            ))
        })?;
        let mut workload = Workload::default();
        for (key, value) in table {
            match key.as_str() {
                "name" => workload.name = Some(expect_string(value, key)?),
                "description" => workload.description = Some(expect_string(value, key)?),
                "operations" => {
                    let list = value.as_array().ok_or_else(|| {
                        RouteError::invalid(
                            key,
                            format!(
                                "expected a list of operations ([[operations]] in TOML), got {}",
                                describe_json(value)
                            ),
                        )
                    })?;
                    for (i, entry) in list.iter().enumerate() {
                        let spec = parse_operation(entry, i)?;
                        // Check names, shapes and parameters now, so errors name the file.
                        crate::ops::Operation::from_spec(&spec, i)?;
                        workload.operations.push(spec);
                    }
                }
                name => workload.variables.set(name, value, name)?,
            }
        }
        if workload.operations.is_empty() && workload.variables.is_empty() {
            return Err(RouteError::Syntax(
                "the workload is empty: give [[operations]] or some of the seed's variables (data_size_gb, item_count, local_rate, ...)".into(),
            ));
        }
        Ok(workload)
    }

    /// The workload `fastpath run` executes when given none: reductions, elementwise maps,
    /// activations, binary maps and fused map-reduce (the kernels that exist first) over
    /// 2^22 f32 each — a second or two even on a 2-core CPU. Python is marked unacceptable
    /// because the point of the demo is fastpath's own kernels, which routes it to T1.
    pub fn builtin_default() -> Workload {
        const N: u64 = 1 << 22;
        let names = [
            "sum",
            "mean",
            "min",
            "max",
            "variance",
            "standard_deviation",
            "vector_norm",
            "argmax",
            "argmin",
            "histogram",
            "exp",
            "log",
            "sigmoid",
            "tanh",
            "softplus",
            "clamp",
            "abs",
            "relu",
            "leaky_relu",
            "elu",
            "gelu",
            "silu",
            "mish",
            "add",
            "mul",
            "div",
            "fma",
            "compare",
            "sum_of_squares",
            "abs_sum",
            "masked_sum",
            "threshold_count",
        ];
        Workload {
            name: Some("built-in demo".into()),
            description: Some(format!(
                "{} kernels (reductions, maps, activations, binary maps, fused map-reduce) over {} f32 each",
                names.len(),
                crate::format::count(N as f64)
            )),
            variables: Variables { python_acceptable: Some(false), ..Variables::default() },
            operations: names.iter().map(|op| OperationSpec::new(op, &[N])).collect(),
        }
    }
}

fn parse_operation(entry: &Value, index: usize) -> Result<OperationSpec, RouteError> {
    let key = format!("operations[{index}]");
    let table = entry.as_object().ok_or_else(|| {
        RouteError::invalid(
            &key,
            format!("expected a table with op = \"...\", got {}", describe_json(entry)),
        )
    })?;
    let op = match table.get("op") {
        Some(v) => expect_string(v, &format!("{key}.op"))?,
        None => return Err(RouteError::invalid(&key, "missing op = \"<operation name>\"")),
    };
    let mut spec = OperationSpec::new(&op, &[]);
    match (table.get("shape"), table.get("elements")) {
        (Some(_), Some(_)) => {
            return Err(RouteError::invalid(&key, "give shape or elements, not both"));
        }
        (Some(shape), None) => {
            let dims = shape.as_array().ok_or_else(|| {
                RouteError::invalid(
                    format!("{key}.shape"),
                    format!(
                        "expected a list of dimensions like [1024, 768], got {}",
                        describe_json(shape)
                    ),
                )
            })?;
            if dims.is_empty() {
                return Err(RouteError::invalid(
                    format!("{key}.shape"),
                    "must have at least one dimension",
                ));
            }
            spec.shape = dims
                .iter()
                .enumerate()
                .map(|(d, v)| expect_count(v, &format!("{key}.shape[{d}]")))
                .collect::<Result<_, _>>()?;
        }
        (None, Some(elements)) => {
            spec.shape = vec![expect_count(elements, &format!("{key}.elements"))?]
        }
        (None, None) => {
            return Err(RouteError::invalid(
                &key,
                format!("{op} needs shape = [...] or elements = N"),
            ));
        }
    }
    for (name, value) in table {
        let pkey = format!("{key}.{name}");
        match name.as_str() {
            "op" | "shape" | "elements" => {}
            "dtype" => {
                let text = expect_string(value, &pkey)?;
                spec.dtype = Dtype::parse(&text).ok_or_else(|| {
                    RouteError::invalid(
                        &pkey,
                        format!(
                            "unknown dtype '{text}'; expected one of {}",
                            Dtype::ALL.map(|d| d.name()).join(", ")
                        ),
                    )
                })?;
            }
            "repeat" => spec.repeat = expect_count(value, &pkey)?,
            "label" => spec.label = Some(expect_string(value, &pkey)?),
            param => {
                let parsed = match value {
                    Value::Bool(b) => ParamValue::Bool(*b),
                    Value::Number(n) => ParamValue::Number(n.as_f64().unwrap_or(f64::NAN)),
                    Value::String(s) => ParamValue::Text(s.clone()),
                    other => {
                        return Err(RouteError::invalid(
                            pkey,
                            format!(
                                "unknown key or bad parameter value {} (keys: {}, plus the operation's parameters)",
                                describe_json(other),
                                OPERATION_KEYS.join(", ")
                            ),
                        ));
                    }
                };
                spec.params.insert(param.to_string(), parsed);
            }
        }
    }
    Ok(spec)
}

fn expect_string(value: &Value, key: &str) -> Result<String, RouteError> {
    value.as_str().map(str::to_string).ok_or_else(|| {
        RouteError::invalid(key, format!("expected a string, got {}", describe_json(value)))
    })
}

/// A whole number >= 1 (dimensions, element counts, repeats).
fn expect_count(value: &Value, key: &str) -> Result<u64, RouteError> {
    let x = value.as_f64().filter(|_| !value.is_boolean());
    match x {
        Some(x)
            if x.is_finite()
                && x >= 1.0
                && x.fract() == 0.0
                && x <= crate::ops::MAX_ELEMENTS as f64 =>
        {
            Ok(x as u64)
        }
        _ => Err(RouteError::invalid(
            key,
            format!("must be a whole number >= 1, got {}", describe_json(value)),
        )),
    }
}

fn describe_json(value: &Value) -> String {
    match value {
        Value::Null => "nothing".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("\"{s}\""),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a table".into(),
    }
}

fn unknown_key(key: &str, name: &str, known: &[&str]) -> RouteError {
    let close = known
        .iter()
        .filter(|k| k.contains(name) || name.contains(*k) || strsim(k, name) <= 2)
        .min_by_key(|k| strsim(k, name));
    let hint = close.map(|k| format!("did you mean '{k}'? ")).unwrap_or_default();
    RouteError::invalid(key, format!("unknown key; {hint}known keys: {}", known.join(", ")))
}

/// Edit distance, for "did you mean" hints.
fn strsim(a: &str, b: &str) -> usize {
    crate::ops::edit_distance(a, b)
}

/// `line 3, column 5: invalid number` — the TOML error without its multi-line snippet.
pub(crate) fn toml_error_line(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim().replace('\n', "; ");
    match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

/// Parses `key=value` text of a CLI flag for one variable (`--set`-style helpers use it).
pub fn parse_variable_text(name: &str, text: &str) -> Result<Value, RouteError> {
    let def = VARIABLES
        .iter()
        .find(|d| d.name == name)
        .ok_or_else(|| unknown_key(name, name, &top_level_keys()))?;
    Ok(match def.kind {
        VariableKind::Bool => match text {
            "true" | "yes" | "1" => Value::Bool(true),
            "false" | "no" | "0" => Value::Bool(false),
            _ => {
                return Err(RouteError::invalid(
                    name,
                    format!("expected true or false, got \"{text}\""),
                ));
            }
        },
        VariableKind::Coverage => Value::String(text.to_string()),
        VariableKind::Number { .. } => {
            let cleaned = text.replace('_', "");
            let x: f64 = cleaned.parse().map_err(|_| {
                RouteError::invalid(name, format!("expected a number, got \"{text}\""))
            })?;
            serde_json::Number::from_f64(x).map(Value::Number).ok_or_else(|| {
                RouteError::invalid(name, format!("must be a finite number, got \"{text}\""))
            })?
        }
    })
}

/// Every key a workload file may use at the top level, for documentation.
pub fn workload_keys() -> BTreeMap<&'static str, &'static str> {
    let mut keys: BTreeMap<&'static str, &'static str> =
        VARIABLES.iter().map(|d| (d.name, d.meaning)).collect();
    keys.insert("name", "a name shown in reports");
    keys.insert("description", "free text");
    keys.insert(
        "operations",
        "list of operations: op, shape | elements, dtype, repeat, label, parameters",
    );
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Workload::from_toml_str(text).unwrap_err().to_string()
    }

    #[test]
    fn reads_variables_and_operations() {
        let w = Workload::from_toml_str(
            r#"
            name = "search"
            python_acceptable = true
            data_size_gb = 14
            [[operations]]
            op = "top_k"
            elements = 64000000
            k = 100
            dtype = "f16"
            "#,
        )
        .unwrap();
        assert_eq!(w.name.as_deref(), Some("search"));
        assert_eq!(w.variables.python_acceptable, Some(true));
        assert_eq!(w.variables.data_size_gb, Some(14.0));
        assert_eq!(w.operations[0].shape, vec![64_000_000]);
        assert_eq!(w.operations[0].dtype, Dtype::F16);
        assert_eq!(w.operations[0].params["k"], ParamValue::Number(100.0));
    }

    #[test]
    fn json_is_equivalent_to_toml() {
        let toml = Workload::from_toml_str(
            "item_count = 5\nlocal_rate = 2.5\n[[operations]]\nop = \"sort\"\nshape = [10]",
        )
        .unwrap();
        let json = Workload::from_json_str(r#"{"item_count": 5, "local_rate": 2.5, "operations": [{"op": "sort", "shape": [10]}]}"#).unwrap();
        assert_eq!(toml, json);
    }

    #[test]
    fn unknown_keys_name_the_key_and_suggest() {
        assert!(
            err("data_size = 3")
                .starts_with("data_size: unknown key; did you mean 'data_size_gb'?"),
            "{}",
            err("data_size = 3")
        );
        let e = err("[[operations]]\nop = \"sort\"\nshape = [10]\nfoo = [1]");
        assert!(
            e.starts_with("operations[0].foo: unknown key or bad parameter value a list"),
            "{e}"
        );
    }

    #[test]
    fn wrong_types_and_impossible_values_are_rejected_by_key() {
        assert_eq!(
            err("requires_cuda = \"yes\""),
            "requires_cuda: expected true or false, got \"yes\""
        );
        assert_eq!(err("data_size_gb = -1"), "data_size_gb: must be a number >= 0, got -1");
        assert_eq!(err("local_rate = 0"), "local_rate: must be a number > 0, got 0");
        assert_eq!(err("machine_ram_gb = 0"), "machine_ram_gb: must be a number > 0, got 0");
        assert_eq!(err("local_rate = 1e-300"), "local_rate: must be at least 1e-9, got 1e-300");
        assert_eq!(err("item_count = 2.5"), "item_count: must be a whole number, got 2.5");
        assert_eq!(
            err("mlx_coverage = \"half\""),
            "mlx_coverage: expected \"all\", \"most\" or \"none\", got \"half\""
        );
        assert_eq!(
            err("[[operations]]\nop = \"sort\"\nshape = [10, -2]"),
            "operations[0].shape[1]: must be a whole number >= 1, got -2"
        );
        assert_eq!(
            err("[[operations]]\nop = \"sort\"\nshape = [10]\ndtype = \"f8\"")
                .split(';')
                .next()
                .unwrap(),
            "operations[0].dtype: unknown dtype 'f8'"
        );
        assert_eq!(
            err("[[operations]]\nop = \"sort\""),
            "operations[0]: sort needs shape = [...] or elements = N"
        );
        assert_eq!(
            err("[[operations]]\nshape = [3]"),
            "operations[0]: missing op = \"<operation name>\""
        );
    }

    #[test]
    fn syntax_errors_are_one_line_with_a_position() {
        let e = err("data_size_gb = = 3");
        assert!(e.starts_with("TOML: line 1, column"), "{e}");
        assert!(!e.contains('\n'));
        let e = Workload::from_json_str("{\"data_size_gb\": }").unwrap_err().to_string();
        assert!(e.starts_with("JSON: expected value at line 1"), "{e}");
    }

    #[test]
    fn empty_workloads_are_rejected() {
        assert!(err("name = \"nothing\"").starts_with("the workload is empty"));
    }

    #[test]
    fn builtin_default_uses_only_the_first_kernels() {
        let w = Workload::builtin_default();
        assert_eq!(w.operations.len(), 32);
        assert!(w.operations.iter().all(|o| o.shape == vec![1 << 22]));
    }
}
