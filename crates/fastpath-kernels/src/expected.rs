//! What a kernel's float64 reference says each output must be, and the check that compares
//! an actual output with it.
//!
//! Floats: a NaN reference demands NaN; a reference that is ±Inf *after rounding to the
//! output type* (true infinities and f32 overflow alike) demands exactly that infinity;
//! anything else must be finite and within the element's absolute tolerance. Integers must
//! match exactly (scans, counts, histograms, masks, indices are bit-exact by contract).

use crate::array::{HostArray, HostData};

#[derive(Debug, Clone)]
pub enum Expected {
    /// Float output: exact values in f64 and the allowed absolute error of each element.
    Floats { values: Vec<f64>, tol: Vec<f64> },
    /// Integer output, compared exactly.
    Ints(Vec<u64>),
}

impl Expected {
    /// Elementwise tolerance `rtol·|v| + atol` for each value.
    pub fn elementwise(values: Vec<f64>, rtol: f64, atol: f64) -> Self {
        let tol = values.iter().map(|v| rtol * v.abs() + atol).collect();
        Expected::Floats { values, tol }
    }

    /// One float with an absolute tolerance.
    pub fn scalar(value: f64, tol: f64) -> Self {
        Expected::Floats { values: vec![value], tol: vec![tol] }
    }

    pub fn ints(values: impl IntoIterator<Item = u64>) -> Self {
        Expected::Ints(values.into_iter().collect())
    }

    pub fn len(&self) -> usize {
        match self {
            Expected::Floats { values, .. } => values.len(),
            Expected::Ints(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn float_values(a: &HostArray) -> Option<Vec<f64>> {
    match a.data() {
        HostData::F32(v) => Some(v.iter().map(|&x| x as f64).collect()),
        HostData::F64(v) => Some(v.clone()),
        _ => None,
    }
}

fn int_values(a: &HostArray) -> Option<Vec<u64>> {
    match a.data() {
        HostData::U32(v) => Some(v.iter().map(|&x| x as u64).collect()),
        HostData::I32(v) => Some(v.iter().map(|&x| x as i64 as u64).collect()),
        HostData::U8(v) => Some(v.iter().map(|&x| x as u64).collect()),
        _ => None,
    }
}

/// Compares one output with its expectation; the error names the first bad element.
pub fn compare(name: &str, got: &HostArray, want: &Expected) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!("{name}: {} elements, expected {}", got.len(), want.len()));
    }
    match want {
        Expected::Ints(w) => {
            let g = int_values(got)
                .ok_or_else(|| format!("{name}: expected an integer array, got {}", got.dtype()))?;
            if let Some(i) = (0..w.len()).find(|&i| g[i] != w[i]) {
                let wrong = (0..w.len()).filter(|&i| g[i] != w[i]).count();
                return Err(format!(
                    "{name}[{i}] = {}, expected {} ({wrong} elements differ)",
                    g[i], w[i]
                ));
            }
        }
        Expected::Floats { values, tol } => {
            let is_f32 = got.dtype() == crate::array::DType::F32;
            let g = float_values(got)
                .ok_or_else(|| format!("{name}: expected a float array, got {}", got.dtype()))?;
            let mut bad = Vec::new();
            for i in 0..values.len() {
                let (gv, rv) = (g[i], values[i]);
                let rounded = if is_f32 { rv as f32 as f64 } else { rv };
                let ok = if rv.is_nan() {
                    gv.is_nan()
                } else if rounded.is_infinite() {
                    gv == rounded
                } else {
                    gv.is_finite() && (gv - rv).abs() <= tol[i]
                };
                if !ok {
                    bad.push(i);
                }
            }
            if let Some(&i) = bad.first() {
                return Err(format!(
                    "{name}[{i}] = {:e}, expected {:e} ± {:e} ({} of {} elements out of tolerance)",
                    g[i],
                    values[i],
                    tol[i],
                    bad.len(),
                    values.len()
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_comparison_rules() {
        let got = HostArray::vec_f32(vec![1.0, f32::NAN, f32::INFINITY, f32::INFINITY]);
        // f64 value beyond f32 range rounds to +inf: the kernel's inf is right.
        let want =
            Expected::elementwise(vec![1.0 + 1e-7, f64::NAN, f64::INFINITY, 1e39], 1e-5, 0.0);
        compare("out", &got, &want).unwrap();
        let wrong = HostArray::vec_f32(vec![1.1, f32::NAN, f32::INFINITY, 3.0e38]);
        let err = compare("out", &wrong, &want).unwrap_err();
        assert!(err.starts_with("out[0]") && err.contains("2 of 4"), "{err}");
        let nan_for_number = HostArray::vec_f32(vec![f32::NAN]);
        assert!(
            compare("x", &nan_for_number, &Expected::elementwise(vec![0.0], 1.0, 1.0)).is_err()
        );
    }

    #[test]
    fn integer_comparison_is_exact() {
        let got = HostArray::vec_u32(vec![1, 2, 3]);
        compare("c", &got, &Expected::ints([1, 2, 3])).unwrap();
        assert!(compare("c", &got, &Expected::ints([1, 2, 4])).unwrap_err().contains("c[2] = 3"));
        assert!(compare("c", &got, &Expected::ints([1, 2])).is_err());
    }
}
