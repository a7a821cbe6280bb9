//! Symbolic shapes of the catalog ("[n]", "[rows, d]", "[L, d/2]", "[rows+1]"): binding
//! symbols to the sizes of actual inputs, checking the rest, and computing output shapes.

use std::collections::BTreeMap;

/// One dimension: an integer, a symbol, or a small arithmetic expression of them.
#[derive(Debug, Clone, PartialEq)]
pub enum ShapeExpr {
    Lit(u64),
    Sym(String),
    Add(Box<ShapeExpr>, Box<ShapeExpr>),
    Sub(Box<ShapeExpr>, Box<ShapeExpr>),
    Mul(Box<ShapeExpr>, Box<ShapeExpr>),
    Div(Box<ShapeExpr>, Box<ShapeExpr>),
}

impl ShapeExpr {
    /// The symbol when the dimension is a bare symbol.
    pub fn as_symbol(&self) -> Option<&str> {
        match self {
            ShapeExpr::Sym(s) => Some(s),
            _ => None,
        }
    }

    pub fn eval(&self, env: &BTreeMap<String, u64>) -> Option<u64> {
        Some(match self {
            ShapeExpr::Lit(v) => *v,
            ShapeExpr::Sym(s) => *env.get(s)?,
            ShapeExpr::Add(a, b) => a.eval(env)?.checked_add(b.eval(env)?)?,
            ShapeExpr::Sub(a, b) => a.eval(env)?.checked_sub(b.eval(env)?)?,
            ShapeExpr::Mul(a, b) => a.eval(env)?.checked_mul(b.eval(env)?)?,
            ShapeExpr::Div(a, b) => {
                let d = b.eval(env)?;
                if d == 0 {
                    return None;
                }
                a.eval(env)? / d
            }
        })
    }
}

impl std::fmt::Display for ShapeExpr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShapeExpr::Lit(v) => write!(f, "{v}"),
            ShapeExpr::Sym(s) => f.write_str(s),
            ShapeExpr::Add(a, b) => write!(f, "{a}+{b}"),
            ShapeExpr::Sub(a, b) => write!(f, "{a}-{b}"),
            ShapeExpr::Mul(a, b) => write!(f, "{a}*{b}"),
            ShapeExpr::Div(a, b) => write!(f, "{a}/{b}"),
        }
    }
}

/// Parses "[a, b+1, c/2]" (or "[]" for a scalar).
pub fn parse_shape(text: &str) -> Result<Vec<ShapeExpr>, String> {
    let inner = text
        .trim()
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .ok_or_else(|| "expected [dims]".to_string())?;
    if inner.trim().is_empty() {
        return Ok(Vec::new());
    }
    inner.split(',').map(|d| parse_expr(d.trim())).collect()
}

fn parse_expr(text: &str) -> Result<ShapeExpr, String> {
    // Lowest precedence first, splitting at the last operator so evaluation is left to right.
    for ops in [['+', '-'], ['*', '/']] {
        if let Some(pos) = text.rfind(|c| ops.contains(&c)) {
            let (lhs, rhs) = (parse_expr(text[..pos].trim())?, parse_expr(text[pos + 1..].trim())?);
            let (l, r) = (Box::new(lhs), Box::new(rhs));
            return Ok(match text.as_bytes()[pos] {
                b'+' => ShapeExpr::Add(l, r),
                b'-' => ShapeExpr::Sub(l, r),
                b'*' => ShapeExpr::Mul(l, r),
                _ => ShapeExpr::Div(l, r),
            });
        }
    }
    if text.is_empty() {
        return Err("empty dimension".into());
    }
    if let Ok(v) = text.parse::<u64>() {
        return Ok(ShapeExpr::Lit(v));
    }
    if text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Ok(ShapeExpr::Sym(text.to_string()));
    }
    Err(format!("cannot read dimension {text:?}"))
}

pub fn format_shape(shape: &[ShapeExpr]) -> String {
    format!("[{}]", shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_evaluates_catalog_shapes() {
        let env: BTreeMap<String, u64> =
            [("n".into(), 10), ("d".into(), 8), ("rows".into(), 3)].into();
        let s = parse_shape("[rows+1, d/2, n-1, n*d]").unwrap();
        let v: Vec<u64> = s.iter().map(|e| e.eval(&env).unwrap()).collect();
        assert_eq!(v, vec![4, 4, 9, 80]);
        assert_eq!(parse_shape("[]").unwrap(), vec![]);
        assert_eq!(parse_shape("[256]").unwrap(), vec![ShapeExpr::Lit(256)]);
        assert!(parse_shape("n").is_err());
        assert_eq!(format_shape(&parse_shape("[rows, d/2]").unwrap()), "[rows, d/2]");
    }
}
