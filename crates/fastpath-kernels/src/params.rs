//! Kernel parameters: typed values checked against the contract, with the catalog's
//! defaults filled in.

use std::collections::BTreeMap;

use crate::catalog::{KernelSpec, ParamType};
use crate::error::KernelError;

/// One parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    F32(f32),
    U32(u32),
    U64(u64),
    Bool(bool),
    Enum(String),
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::F32(v) => write!(f, "{v}"),
            ParamValue::U32(v) => write!(f, "{v}"),
            ParamValue::U64(v) => write!(f, "{v}"),
            ParamValue::Bool(v) => write!(f, "{v}"),
            ParamValue::Enum(v) => f.write_str(v),
        }
    }
}

/// Validated parameters of one kernel call. Accessors panic on names the contract does not
/// have: they are only called by the kernel that owns the contract, after validation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params {
    values: BTreeMap<String, ParamValue>,
}

fn parse_value(ty: &ParamType, text: &str) -> Option<ParamValue> {
    let t = text.trim();
    Some(match ty {
        ParamType::F32 => ParamValue::F32(match t.to_ascii_lowercase().as_str() {
            "nan" => f32::NAN,
            "inf" | "+inf" | "infinity" => f32::INFINITY,
            "-inf" | "-infinity" => f32::NEG_INFINITY,
            _ => t.parse::<f32>().ok()?,
        }),
        ParamType::U32 => ParamValue::U32(t.parse().ok()?),
        ParamType::U64 => ParamValue::U64(t.parse().ok()?),
        ParamType::Bool => ParamValue::Bool(match t.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            _ => return None,
        }),
        ParamType::Enum(values) => ParamValue::Enum(values.iter().find(|v| *v == t)?.clone()),
    })
}

impl Params {
    /// Builds parameters from `name=value` strings (the CLI's `--param`), filling defaults.
    pub fn parse(spec: &KernelSpec, given: &[(String, String)]) -> Result<Params, KernelError> {
        let mut typed = Vec::with_capacity(given.len());
        for (name, text) in given {
            let p = spec.param(name).ok_or_else(|| unknown_param(spec, name))?;
            let value = parse_value(&p.ty, text).ok_or_else(|| {
                KernelError::invalid(format!(
                    "{}: parameter {name} must be {}, got {text:?}",
                    spec.id,
                    p.ty.describe()
                ))
            })?;
            typed.push((name.clone(), value));
        }
        Self::build(spec, typed)
    }

    /// Builds parameters from typed values (library callers), filling defaults.
    pub fn with(spec: &KernelSpec, given: &[(&str, ParamValue)]) -> Result<Params, KernelError> {
        Self::build(spec, given.iter().map(|(n, v)| (n.to_string(), v.clone())).collect())
    }

    fn build(spec: &KernelSpec, given: Vec<(String, ParamValue)>) -> Result<Params, KernelError> {
        let mut values = BTreeMap::new();
        for (name, value) in given {
            let p = spec.param(&name).ok_or_else(|| unknown_param(spec, &name))?;
            let type_ok = matches!(
                (&p.ty, &value),
                (ParamType::F32, ParamValue::F32(_))
                    | (ParamType::U32, ParamValue::U32(_))
                    | (ParamType::U64, ParamValue::U64(_))
                    | (ParamType::Bool, ParamValue::Bool(_))
            ) || matches!((&p.ty, &value), (ParamType::Enum(vs), ParamValue::Enum(v)) if vs.contains(v));
            if !type_ok {
                return Err(KernelError::invalid(format!(
                    "{}: parameter {name} must be {}, got {value}",
                    spec.id,
                    p.ty.describe()
                )));
            }
            if values.insert(name.clone(), value).is_some() {
                return Err(KernelError::invalid(format!(
                    "{}: parameter {name} given twice",
                    spec.id
                )));
            }
        }
        for p in &spec.params {
            if values.contains_key(&p.name) {
                continue;
            }
            match &p.default {
                Some(text) => {
                    let v = parse_value(&p.ty, text).expect("catalog defaults parse");
                    values.insert(p.name.clone(), v);
                }
                None if p.optional || p.default_expr.is_some() || p.required_when.is_some() => {}
                None => {
                    return Err(KernelError::invalid(format!(
                        "{} needs --param {}=<{}> (no default)",
                        spec.id,
                        p.name,
                        p.ty.describe()
                    )));
                }
            }
        }
        Ok(Params { values })
    }

    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.values.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &ParamValue)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn f32(&self, name: &str) -> f32 {
        match self.values.get(name) {
            Some(ParamValue::F32(v)) => *v,
            other => panic!("parameter {name} is not an f32: {other:?}"),
        }
    }

    pub fn u32(&self, name: &str) -> u32 {
        match self.values.get(name) {
            Some(ParamValue::U32(v)) => *v,
            other => panic!("parameter {name} is not a u32: {other:?}"),
        }
    }

    pub fn enum_value(&self, name: &str) -> &str {
        match self.values.get(name) {
            Some(ParamValue::Enum(v)) => v,
            other => panic!("parameter {name} is not an enum: {other:?}"),
        }
    }
}

fn unknown_param(spec: &KernelSpec, name: &str) -> KernelError {
    let known: Vec<&str> = spec.params.iter().map(|p| p.name.as_str()).collect();
    KernelError::invalid(if known.is_empty() {
        format!("{} takes no parameters (got {name})", spec.id)
    } else {
        format!("{} has no parameter {name}; its parameters are {}", spec.id, known.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::catalog;

    #[test]
    fn defaults_required_and_types() {
        let var = catalog().get("REDUCE_VAR").unwrap();
        assert_eq!(Params::parse(var, &[]).unwrap().u32("ddof"), 0);
        let one = Params::parse(var, &[("ddof".into(), "1".into())]).unwrap();
        assert_eq!(one.u32("ddof"), 1);
        let bad = Params::parse(var, &[("ddof".into(), "-1".into())]).unwrap_err().to_string();
        assert!(bad.contains("ddof must be u32"), "{bad}");
        let hist = catalog().get("REDUCE_HISTOGRAM").unwrap();
        let missing =
            Params::parse(hist, &[("min_val".into(), "0".into())]).unwrap_err().to_string();
        assert!(missing.contains("--param max_val=<f32>"), "{missing}");
        let cmp = catalog().get("MAP_COMPARE").unwrap();
        assert_eq!(Params::parse(cmp, &[]).unwrap().enum_value("op"), "gt");
        let e = Params::parse(cmp, &[("op".into(), "gte".into())]).unwrap_err().to_string();
        assert!(e.contains("gt|ge|lt|le|eq|ne"), "{e}");
        let e = Params::parse(cmp, &[("alpha".into(), "1".into())]).unwrap_err().to_string();
        assert!(e.contains("has no parameter alpha"), "{e}");
        let clamp = catalog().get("MAP_CLAMP").unwrap();
        let p = Params::parse(clamp, &[("lo".into(), "-inf".into()), ("hi".into(), "1e3".into())])
            .unwrap();
        assert_eq!(p.f32("lo"), f32::NEG_INFINITY);
    }
}
