//! Short result summaries: what an operation computed, in one line, and as numbers for JSON.

use fastpath_kernels::{HostArray, HostData, Params};
use fastpath_route::format::{count, significant};
use rayon::prelude::*;
use serde::Serialize;

use super::plan::{OpPlan, StepPlan, f32_from_sort_key};

/// One number of a result: `sum`, `histogram.peak_bin`, `compact_mask.kept`, …
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultValue {
    pub name: String,
    /// NaN and infinities serialize as null.
    pub value: f64,
}

/// What an operation computed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ResultSummary {
    /// One line: `sum = 1234.5`, `histogram peak bin 131 [0.094, 0.125) with 16,634`, …
    pub text: String,
    pub values: Vec<ResultValue>,
}

impl ResultSummary {
    fn push(&mut self, name: impl Into<String>, value: f64) {
        self.values.push(ResultValue { name: name.into(), value });
    }
}

/// `REDUCE_STDDEV` → `stddev`, `MAP_REDUCE_SQUARE_SUM` → `square_sum`, `TOPK_SELECT` → `topk`.
pub(crate) fn short_name(kernel_id: &str) -> String {
    let id = ["MAP_REDUCE_", "REDUCE_", "MAP_"]
        .iter()
        .find_map(|p| kernel_id.strip_prefix(p))
        .unwrap_or(kernel_id);
    let id = id.strip_suffix("_SELECT").unwrap_or(id);
    id.to_ascii_lowercase()
}

/// Large values with thousands separators (`22,366,816`), others with five significant digits.
fn number(x: f64) -> String {
    if x.is_finite() && (1e4..1e15).contains(&x.abs()) {
        count(x.round())
    } else {
        significant(x, 5)
    }
}

/// The one element of a 0-d (or single-element) array as f64.
fn scalar(a: &HostArray) -> Option<f64> {
    if a.len() != 1 {
        return None;
    }
    Some(match a.data() {
        HostData::F32(v) => v[0] as f64,
        HostData::F64(v) => v[0],
        HostData::U32(v) => v[0] as f64,
        HostData::I32(v) => v[0] as f64,
        HostData::U8(v) => v[0] as f64,
        HostData::I8(v) => v[0] as f64,
        HostData::F16(_) => return None,
    })
}

/// Elements as f64, for the few small arrays summaries list or index.
fn element(a: &HostArray, i: usize) -> Option<f64> {
    Some(match a.data() {
        HostData::F32(v) => *v.get(i)? as f64,
        HostData::F64(v) => *v.get(i)?,
        HostData::U32(v) => *v.get(i)? as f64,
        HostData::I32(v) => *v.get(i)? as f64,
        HostData::U8(v) => *v.get(i)? as f64,
        HostData::I8(v) => *v.get(i)? as f64,
        HostData::F16(_) => return None,
    })
}

#[derive(Clone, Copy)]
struct Stats {
    n: usize,
    finite: usize,
    sum: f64,
    min: f64,
    max: f64,
    nonzero: usize,
}

impl Stats {
    const EMPTY: Stats =
        Stats { n: 0, finite: 0, sum: 0.0, min: f64::INFINITY, max: f64::NEG_INFINITY, nonzero: 0 };
    fn merge(self, o: Stats) -> Stats {
        Stats {
            n: self.n + o.n,
            finite: self.finite + o.finite,
            sum: self.sum + o.sum,
            min: self.min.min(o.min),
            max: self.max.max(o.max),
            nonzero: self.nonzero + o.nonzero,
        }
    }
}

/// Statistics of one chunk as a plain loop with casts and comparisons only: debug builds (the
/// tests) compile this crate without optimisation, where an iterator adaptor or a method call
/// per element costs ten times the arithmetic.
macro_rules! chunk_stats {
    ($chunk:expr) => {{
        let (mut finite, mut nonzero, mut sum) = (0usize, 0usize, 0.0f64);
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        for &x in $chunk {
            let x = x as f64;
            if x != 0.0 {
                nonzero += 1;
            }
            // x - x is 0 for finite values, NaN for infinities and NaN.
            if x - x == 0.0 {
                finite += 1;
                sum += x;
                if x < min {
                    min = x;
                }
                if x > max {
                    max = x;
                }
            }
        }
        Stats { n: $chunk.len(), finite, sum, min, max, nonzero }
    }};
}

/// Elements per parallel chunk of the statistics.
const STATS_CHUNK: usize = 1 << 16;

/// Statistics of the first `len` elements (in parallel: outputs can be large).
fn stats(a: &HostArray, len: usize) -> Option<Stats> {
    let reduce = |parts: Vec<Stats>| parts.into_iter().fold(Stats::EMPTY, Stats::merge);
    Some(match a.data() {
        HostData::F32(v) => {
            reduce(v[..len.min(v.len())].par_chunks(STATS_CHUNK).map(|c| chunk_stats!(c)).collect())
        }
        HostData::U32(v) => {
            reduce(v[..len.min(v.len())].par_chunks(STATS_CHUNK).map(|c| chunk_stats!(c)).collect())
        }
        HostData::I32(v) => {
            reduce(v[..len.min(v.len())].par_chunks(STATS_CHUNK).map(|c| chunk_stats!(c)).collect())
        }
        HostData::F64(v) => {
            reduce(v[..len.min(v.len())].par_chunks(STATS_CHUNK).map(|c| chunk_stats!(c)).collect())
        }
        _ => return None,
    })
}

fn is_ascending(a: &HostArray) -> Option<bool> {
    Some(match a.data() {
        // Sorted floats put NaN last; total_cmp orders -0.0 before +0.0 as the sorts do.
        HostData::F32(v) => {
            v.par_windows(2).all(|w| w[1].is_nan() || w[0].total_cmp(&w[1]).is_le())
        }
        HostData::U32(v) => v.par_windows(2).all(|w| w[0] <= w[1]),
        _ => return None,
    })
}

/// Summarises one array output of `step`.
fn summarize_output(
    out: &mut ResultSummary,
    parts: &mut Vec<String>,
    step: &StepPlan,
    index: usize,
    outputs: &[HostArray],
) {
    let id = step.kernel.id();
    let short = short_name(id);
    let plan = &step.outputs[index];
    let array = &outputs[index];
    let name =
        if step.outputs.len() == 1 { short.clone() } else { format!("{short}.{}", plan.name) };

    // A count that another output refers to is reported with that output.
    if step.outputs.iter().any(|o| o.valid_prefix == Some(index)) {
        return;
    }
    // A (value, index) pair of scalars, as argmax and argmin give: `argmax = 4 at 1,044,843`.
    let names: Vec<&str> = step.outputs.iter().map(|o| o.name.as_str()).collect();
    if names == ["value", "index"] {
        if let (0, Some(v), Some(i)) = (index, scalar(array), outputs.get(1).and_then(scalar)) {
            out.push(format!("{short}.value"), v);
            out.push(format!("{short}.index"), i);
            parts.push(format!("{short} = {} at index {}", number(v), number(i)));
        }
        return;
    }
    // Selected values with their positions (top-k): the values in order, where the first is.
    if names == ["values", "indices"] {
        if index == 0 {
            let n = array.len();
            let shown: Vec<f64> = (0..n.min(3)).filter_map(|i| element(array, i)).collect();
            let last = n.checked_sub(1).and_then(|i| element(array, i));
            let first_index = outputs.get(1).and_then(|a| element(a, 0));
            for (i, v) in shown.iter().enumerate() {
                out.push(format!("{short}.values[{i}]"), *v);
            }
            let mut text = format!(
                "{short}: {} values: {}",
                count(n as f64),
                shown.iter().map(|v| number(*v)).collect::<Vec<_>>().join(", ")
            );
            if let Some(last) = last.filter(|_| n > 3) {
                out.push(format!("{short}.values[{}]", n - 1), last);
                text.push_str(&format!(", … {}", number(last)));
            }
            if let Some(at) = first_index {
                out.push(format!("{short}.indices[0]"), at);
                text.push_str(&format!(" (the first at index {})", number(at)));
            }
            parts.push(text);
        }
        return;
    }
    if id == "REDUCE_HISTOGRAM" {
        histogram(out, parts, &step.params, array);
        return;
    }
    if let Some(vp) = plan.valid_prefix {
        let kept = outputs.get(vp).and_then(scalar).unwrap_or(0.0);
        let total = array.len();
        out.push(format!("{short}.kept"), kept);
        let mut text = format!(
            "kept {} of {} ({}%)",
            count(kept),
            count(total as f64),
            significant(100.0 * kept / total.max(1) as f64, 3)
        );
        if let Some(s) = stats(array, kept as usize).filter(|s| s.finite > 0) {
            text.push_str(&format!(", min {} max {}", number(s.min), number(s.max)));
        }
        parts.push(text);
        return;
    }
    if let Some(v) = scalar(array).filter(|_| array.shape().is_empty() || array.len() == 1) {
        out.push(name.clone(), v);
        parts.push(format!("{name} = {}", number(v)));
        return;
    }
    if array.len() <= 8 {
        let values: Vec<f64> = (0..array.len()).filter_map(|i| element(array, i)).collect();
        for (i, v) in values.iter().enumerate() {
            out.push(format!("{name}[{i}]"), *v);
        }
        let shown: Vec<String> = values.iter().map(|v| number(*v)).collect();
        parts.push(format!("{name} = [{}]", shown.join(", ")));
        return;
    }
    let Some(s) = stats(array, array.len()) else {
        parts.push(format!("{name}: {} {} values", count(array.len() as f64), array.dtype()));
        return;
    };
    if plan.name.contains("mask") {
        out.push(format!("{name}.set"), s.nonzero as f64);
        parts.push(format!("{name}: {} of {} set", count(s.nonzero as f64), count(s.n as f64)));
        return;
    }
    let mean = if s.finite > 0 { s.sum / s.finite as f64 } else { f64::NAN };
    out.push(format!("{name}.mean"), mean);
    out.push(format!("{name}.min"), s.min);
    out.push(format!("{name}.max"), s.max);
    let mut text =
        format!("{name}: mean {}, min {}, max {}", number(mean), number(s.min), number(s.max));
    if s.finite < s.n {
        out.push(format!("{name}.non_finite"), (s.n - s.finite) as f64);
        text.push_str(&format!(" ({} not finite)", count((s.n - s.finite) as f64)));
    }
    let carried = matches!(plan.name.as_str(), "values" | "payload" | "indices");
    if id.starts_with("SORT_")
        && !carried
        && let Some(sorted) = is_ascending(array)
    {
        out.push(format!("{name}.ascending"), if sorted { 1.0 } else { 0.0 });
        text.push_str(if sorted { ", ascending" } else { ", NOT ascending" });
    }
    parts.push(text);
}

/// `histogram peak bin 131 [0.094, 0.125) with 16,634 of 4,194,304`.
fn histogram(
    out: &mut ResultSummary,
    parts: &mut Vec<String>,
    params: &Params,
    counts: &HostArray,
) {
    let Some(c) = counts.as_u32() else { return };
    let (peak, peak_count) = c
        .iter()
        .enumerate()
        .max_by_key(|(i, n)| (**n, std::cmp::Reverse(*i)))
        .map_or((0, 0), |(i, n)| (i, *n));
    let total: u64 = c.iter().map(|&n| n as u64).sum();
    let (lo, hi) = (params.f32("min_val") as f64, params.f32("max_val") as f64);
    let width = (hi - lo) / c.len().max(1) as f64;
    let (a, b) = (lo + width * peak as f64, lo + width * (peak + 1) as f64);
    out.push("histogram.peak_bin", peak as f64);
    out.push("histogram.peak_count", peak_count as f64);
    out.push("histogram.total", total as f64);
    parts.push(format!(
        "histogram peak bin {peak} [{}, {}) with {} of {}",
        significant(a, 3),
        significant(b, 3),
        count(peak_count as f64),
        count(total as f64)
    ));
}

/// The host step after the kernels, on the first result it applies to.
fn host_step(
    out: &mut ResultSummary,
    parts: &mut Vec<String>,
    step: &str,
    k: Option<f64>,
    results: &[&HostArray],
) {
    if step.starts_with("sqrt") {
        if let Some(v) = results.iter().find_map(|a| scalar(a)) {
            out.push("sqrt", v.sqrt());
            parts.push(format!("sqrt on the host = {}", number(v.sqrt())));
        }
    } else if step.contains("middle") {
        if let Some(a) = results.iter().find(|a| a.len() > 1) {
            let n = a.len();
            let (lo, hi) = (element(a, (n - 1) / 2), element(a, n / 2));
            if let (Some(lo), Some(hi)) = (lo, hi) {
                let median = lo + (hi - lo) / 2.0;
                out.push("median", median);
                parts.push(format!("median (middle element) = {}", number(median)));
            }
        }
    } else if step.contains("top k")
        && let (Some(a), Some(k)) = (results.iter().find(|a| a.len() > 1), k)
    {
        // The sort is ascending: the top k are the last k, largest first.
        let n = a.len();
        let k = (k as usize).min(n);
        let top: Vec<f64> = (0..k.min(3)).filter_map(|i| element(a, n - 1 - i)).collect();
        for (i, v) in top.iter().enumerate() {
            out.push(format!("top[{i}]"), *v);
        }
        let shown: Vec<String> = top.iter().map(|v| number(*v)).collect();
        parts.push(format!(
            "top {k} (from the sorted array): {}{}",
            shown.join(", "),
            if k > 3 { ", …" } else { "" }
        ));
    }
}

/// The summary of an operation from the outputs of its result steps (`(step index, outputs)`).
pub(crate) fn summarize(
    plan: &OpPlan,
    results: &[(usize, Vec<HostArray>)],
    host: Option<&str>,
    k: Option<f64>,
) -> ResultSummary {
    let mut out = ResultSummary::default();
    let mut parts = Vec::new();
    // Sorted keys of float data read back as the floats they encode.
    let decoded: Vec<(usize, Vec<HostArray>)>;
    let results = if plan.f32_keys {
        decoded = results
            .iter()
            .map(|(si, outputs)| {
                let names = &plan.steps[*si].outputs;
                let arrays = outputs
                    .iter()
                    .enumerate()
                    .map(|(i, a)| match (a.as_u32(), names.get(i).map(|o| o.name.as_str())) {
                        (Some(keys), Some("keys")) => HostArray::f32(
                            a.shape().to_vec(),
                            keys.par_iter().map(|&k| f32_from_sort_key(k)).collect(),
                        ),
                        _ => a.clone(),
                    })
                    .collect();
                (*si, arrays)
            })
            .collect();
        &decoded[..]
    } else {
        results
    };
    for (step_index, outputs) in results {
        let step = &plan.steps[*step_index];
        for i in 0..outputs.len().min(step.outputs.len()) {
            summarize_output(&mut out, &mut parts, step, i, outputs);
        }
    }
    if let Some(h) = host {
        let all: Vec<&HostArray> = results.iter().flat_map(|(_, o)| o.iter()).collect();
        host_step(&mut out, &mut parts, h, k, &all);
    }
    out.text = parts.join("; ");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_drop_the_family() {
        assert_eq!(short_name("REDUCE_STDDEV"), "stddev");
        assert_eq!(short_name("MAP_REDUCE_SQUARE_SUM"), "square_sum");
        assert_eq!(short_name("MAP_EXP"), "exp");
        assert_eq!(short_name("TOPK_SELECT"), "topk");
        assert_eq!(short_name("COMPACT_MASK"), "compact_mask");
    }

    #[test]
    fn statistics_skip_non_finite_values() {
        let a = HostArray::vec_f32(vec![1.0, f32::NAN, 3.0, f32::INFINITY]);
        let s = stats(&a, 4).unwrap();
        assert_eq!((s.n, s.finite, s.sum, s.min, s.max), (4, 2, 4.0, 1.0, 3.0));
        assert_eq!(is_ascending(&HostArray::vec_f32(vec![-0.0, 0.0, 1.0, f32::NAN])), Some(true));
        assert_eq!(is_ascending(&HostArray::vec_u32(vec![3, 1])), Some(false));
    }
}
