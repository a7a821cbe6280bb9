//! The kernel catalog: every contract of `spec/kernels.toml` (109 kernels in 22 domains plus
//! the extras), parsed once from the copy embedded in this crate. The registry attaches
//! implementations to these contracts; `fastpath kernels` lists both.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::shape::ShapeExpr;

/// The catalog file, embedded so the binary needs nothing at run time.
pub const CATALOG_TOML: &str = include_str!("../catalog/kernels.toml");

#[derive(Debug, Deserialize)]
struct CatalogFile {
    conventions: BTreeMap<String, String>,
    domain: Vec<DomainSpec>,
    kernel: Vec<RawKernel>,
    extra: Vec<RawKernel>,
}

/// One of the 22 catalog domains.
#[derive(Debug, Clone, Deserialize)]
pub struct DomainSpec {
    pub id: String,
    pub title: String,
    pub kernels: usize,
}

#[derive(Debug, Deserialize)]
struct RawKernel {
    id: String,
    domain: Option<String>,
    function: String,
    bound: String,
    dtype: String,
    semantics: String,
    algorithm: Option<String>,
    spec_notes: Option<String>,
    #[serde(default)]
    inputs: Vec<RawOperand>,
    #[serde(default)]
    params: Vec<RawParam>,
    #[serde(default)]
    outputs: Vec<RawOperand>,
}

#[derive(Debug, Deserialize)]
struct RawOperand {
    name: String,
    dtype: String,
    shape: String,
    #[serde(default)]
    scalar_ok: bool,
    #[serde(default)]
    optional: bool,
    alt_shape: Option<String>,
    required_when: Option<String>,
    in_place_of: Option<String>,
    valid_prefix: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawParam {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    default: Option<toml::Value>,
    #[serde(default)]
    values: Vec<String>,
    #[serde(default)]
    optional: bool,
    default_expr: Option<String>,
    required_when: Option<String>,
}

/// An array operand (input or output) of a contract.
#[derive(Debug, Clone)]
pub struct OperandSpec {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<ShapeExpr>,
    /// The shape as the catalog writes it, e.g. "[n]".
    pub shape_text: String,
    /// A 0-d array may stand in for this operand (broadcast to every position).
    pub scalar_ok: bool,
    pub optional: bool,
    pub alt_shape: Option<Vec<ShapeExpr>>,
    pub required_when: Option<String>,
    pub in_place_of: Option<String>,
    /// Name of the 0-d output counting this output's meaningful leading elements.
    pub valid_prefix: Option<String>,
}

/// Parameter types of the catalog.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamType {
    F32,
    U32,
    U64,
    Bool,
    Enum(Vec<String>),
}

impl ParamType {
    pub fn describe(&self) -> String {
        match self {
            ParamType::F32 => "f32".into(),
            ParamType::U32 => "u32".into(),
            ParamType::U64 => "u64".into(),
            ParamType::Bool => "bool".into(),
            ParamType::Enum(v) => v.join("|"),
        }
    }
}

/// A non-array parameter of a contract.
#[derive(Debug, Clone)]
pub struct ParamSpec {
    pub name: String,
    pub ty: ParamType,
    /// Default as written in the catalog; `None` means required (unless `optional`).
    pub default: Option<String>,
    pub optional: bool,
    pub default_expr: Option<String>,
    pub required_when: Option<String>,
}

/// A kernel's contract.
#[derive(Debug, Clone)]
pub struct KernelSpec {
    pub id: String,
    /// Catalog domain; extras carry "extras".
    pub domain: String,
    pub function: String,
    pub bound: String,
    pub dtype: String,
    pub semantics: String,
    pub algorithm: Option<String>,
    pub spec_notes: Option<String>,
    pub inputs: Vec<OperandSpec>,
    pub params: Vec<ParamSpec>,
    pub outputs: Vec<OperandSpec>,
    pub is_extra: bool,
}

impl KernelSpec {
    pub fn param(&self, name: &str) -> Option<&ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }
}

/// The parsed catalog.
#[derive(Debug)]
pub struct Catalog {
    pub conventions: BTreeMap<String, String>,
    pub domains: Vec<DomainSpec>,
    /// Catalog kernels then extras, in file order.
    pub kernels: Vec<KernelSpec>,
}

impl Catalog {
    pub fn get(&self, id: &str) -> Option<&KernelSpec> {
        self.kernels.iter().find(|k| k.id.eq_ignore_ascii_case(id))
    }
}

/// The catalog, parsed on first use.
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| parse(CATALOG_TOML).expect("embedded kernels.toml is valid"))
}

fn parse_shape(text: &str, kernel: &str) -> Result<Vec<ShapeExpr>, String> {
    crate::shape::parse_shape(text).map_err(|e| format!("{kernel}: shape {text}: {e}"))
}

fn operand(raw: RawOperand, kernel: &str) -> Result<OperandSpec, String> {
    Ok(OperandSpec {
        shape: parse_shape(&raw.shape, kernel)?,
        alt_shape: raw.alt_shape.as_deref().map(|s| parse_shape(s, kernel)).transpose()?,
        shape_text: raw.shape,
        name: raw.name,
        dtype: raw.dtype,
        scalar_ok: raw.scalar_ok,
        optional: raw.optional,
        required_when: raw.required_when,
        in_place_of: raw.in_place_of,
        valid_prefix: raw.valid_prefix,
    })
}

fn param(raw: RawParam, kernel: &str) -> Result<ParamSpec, String> {
    let ty = match raw.ty.as_str() {
        "f32" => ParamType::F32,
        "u32" => ParamType::U32,
        "u64" => ParamType::U64,
        "bool" => ParamType::Bool,
        "enum" => ParamType::Enum(raw.values),
        other => return Err(format!("{kernel}: unknown parameter type {other}")),
    };
    let default = raw.default.map(|v| match v {
        toml::Value::String(s) => s,
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        other => other.to_string(),
    });
    Ok(ParamSpec {
        name: raw.name,
        ty,
        default,
        optional: raw.optional,
        default_expr: raw.default_expr,
        required_when: raw.required_when,
    })
}

fn parse(text: &str) -> Result<Catalog, String> {
    let file: CatalogFile = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut kernels = Vec::new();
    for (raw, is_extra) in
        file.kernel.into_iter().map(|k| (k, false)).chain(file.extra.into_iter().map(|k| (k, true)))
    {
        let id = raw.id.clone();
        kernels.push(KernelSpec {
            domain: raw.domain.unwrap_or_else(|| "extras".into()),
            function: raw.function,
            bound: raw.bound,
            dtype: raw.dtype,
            semantics: raw.semantics,
            algorithm: raw.algorithm,
            spec_notes: raw.spec_notes,
            inputs: raw.inputs.into_iter().map(|o| operand(o, &id)).collect::<Result<_, _>>()?,
            params: raw.params.into_iter().map(|p| param(p, &id)).collect::<Result<_, _>>()?,
            outputs: raw.outputs.into_iter().map(|o| operand(o, &id)).collect::<Result<_, _>>()?,
            is_extra,
            id,
        });
    }
    Ok(Catalog { conventions: file.conventions, domains: file.domain, kernels })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_has_every_kernel_and_domain() {
        let c = catalog();
        assert_eq!(c.domains.len(), 22);
        assert_eq!(c.kernels.iter().filter(|k| !k.is_extra).count(), 109);
        assert_eq!(c.kernels.iter().filter(|k| k.is_extra).count(), 7);
        for d in &c.domains {
            let n = c.kernels.iter().filter(|k| k.domain == d.id).count();
            assert_eq!(n, d.kernels, "domain {}", d.id);
        }
        let hist = c.get("REDUCE_HISTOGRAM").unwrap();
        assert_eq!(hist.params.len(), 2);
        assert!(hist.params.iter().all(|p| p.default.is_none()));
        assert_eq!(hist.outputs[0].shape_text, "[256]");
    }

    /// The embedded copy must not drift from the project specification it was taken from.
    #[test]
    fn embedded_catalog_matches_the_shared_spec() {
        let shared = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/spec/kernels.toml");
        match std::fs::read_to_string(shared) {
            Ok(spec) => {
                assert_eq!(spec, CATALOG_TOML, "catalog/kernels.toml differs from {shared}")
            }
            Err(_) => {
                // A clone without the planning folder beside it (a user's, or CI's clean
                // clone) has nothing to compare against; developer checkouts have it.
                eprintln!("note: {shared} is absent; the catalog drift check did not run");
            }
        }
    }
}
