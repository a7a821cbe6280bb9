//! Statistics over repeated timings: medians and spread, peer ratios, routing regret and
//! geometric means. Pure functions on `f64`s so they are unit-tested on synthetic timings.

use serde::{Deserialize, Serialize};

/// Quantile `q` in `[0, 1]` of already sorted samples, interpolating linearly between
/// order statistics (numpy's default, so peer and fastpath numbers are summarised alike).
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    assert!(!sorted.is_empty(), "quantile of no samples");
    let h = (sorted.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Median of unsorted samples; `None` for none.
pub fn median(samples: &[f64]) -> Option<f64> {
    Summary::of(samples).map(|s| s.median)
}

/// Five-number summary of repeated timings (seconds).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub reps: usize,
    pub min: f64,
    pub p25: f64,
    pub median: f64,
    pub p75: f64,
    pub max: f64,
}

impl Summary {
    /// Summarises samples, ignoring non-finite ones (a timer that failed); `None` when no
    /// finite sample is left.
    pub fn of(samples: &[f64]) -> Option<Summary> {
        let mut s: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
        if s.is_empty() {
            return None;
        }
        s.sort_by(f64::total_cmp);
        Some(Summary {
            reps: s.len(),
            min: s[0],
            p25: quantile_sorted(&s, 0.25),
            median: quantile_sorted(&s, 0.5),
            p75: quantile_sorted(&s, 0.75),
            max: s[s.len() - 1],
        })
    }

    /// Spread as the interquartile range relative to the median, in percent. The IQR, not the
    /// min–max range, because one preempted repetition should not make a stable kernel look
    /// noisy.
    pub fn spread_pct(&self) -> f64 {
        if self.median > 0.0 { (self.p75 - self.p25) / self.median * 100.0 } else { 0.0 }
    }
}

/// Geometric mean of positive finite values (others are ignored); `None` when none is left.
/// Ratios are averaged geometrically so that 2× faster and 2× slower cancel out.
pub fn geomean<I: IntoIterator<Item = f64>>(values: I) -> Option<f64> {
    let (mut log_sum, mut count) = (0.0, 0usize);
    for v in values {
        if v.is_finite() && v > 0.0 {
            log_sum += v.ln();
            count += 1;
        }
    }
    (count > 0).then(|| (log_sum / count as f64).exp())
}

/// Peer time over fastpath time: above 1 means fastpath is faster. `None` unless both times
/// are positive and finite.
pub fn speed_ratio(peer_seconds: f64, fastpath_seconds: f64) -> Option<f64> {
    let ok = |t: f64| t.is_finite() && t > 0.0;
    (ok(peer_seconds) && ok(fastpath_seconds)).then(|| peer_seconds / fastpath_seconds)
}

/// Routing regret of one decision: how much slower the chosen backend was than the best one
/// measured (0 when the choice was the best).
pub fn regret(chosen_seconds: f64, best_seconds: f64) -> f64 {
    if best_seconds > 0.0 && chosen_seconds.is_finite() {
        (chosen_seconds / best_seconds - 1.0).max(0.0)
    } else {
        0.0
    }
}

/// One routing decision to score: the time of the choice and of the best backend measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub label: String,
    pub chosen_seconds: f64,
    pub best_seconds: f64,
}

/// Regret over many decisions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegretTotals {
    pub decisions: usize,
    /// Decisions that picked the best backend.
    pub best_chosen: usize,
    /// Geometric mean of chosen/best, minus one.
    pub geomean: f64,
    pub worst: f64,
    pub worst_case: Option<String>,
}

impl RegretTotals {
    pub fn of(decisions: &[Decision]) -> RegretTotals {
        let ratios = decisions.iter().map(|d| 1.0 + regret(d.chosen_seconds, d.best_seconds));
        let worst = decisions
            .iter()
            .map(|d| (regret(d.chosen_seconds, d.best_seconds), &d.label))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        RegretTotals {
            decisions: decisions.len(),
            best_chosen: decisions
                .iter()
                .filter(|d| regret(d.chosen_seconds, d.best_seconds) == 0.0)
                .count(),
            geomean: geomean(ratios).map_or(0.0, |g| g - 1.0),
            worst: worst.map_or(0.0, |w| w.0),
            worst_case: worst.filter(|w| w.0 > 0.0).map(|w| w.1.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    #[test]
    fn median_and_quartiles_interpolate_like_numpy() {
        // numpy.percentile([4, 1, 3, 2], [25, 50, 75]) == [1.75, 2.5, 3.25]
        let s = Summary::of(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((s.reps, s.min, s.max), (4, 1.0, 4.0));
        assert!(close(s.p25, 1.75) && close(s.median, 2.5) && close(s.p75, 3.25), "{s:?}");
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[]), None);
        assert_eq!(Summary::of(&[7.0]).unwrap().median, 7.0);
    }

    #[test]
    fn outliers_and_failed_timers_do_not_move_the_median() {
        let mut samples = vec![1.0e-3; 20];
        samples.push(0.5); // one preempted repetition
        samples.push(f64::NAN); // a timer that failed
        let s = Summary::of(&samples).unwrap();
        assert_eq!(s.reps, 21);
        assert_eq!(s.median, 1.0e-3);
        assert_eq!(s.spread_pct(), 0.0);
        assert_eq!(s.max, 0.5);
        assert!(Summary::of(&[f64::NAN, f64::INFINITY]).is_none());
    }

    #[test]
    fn spread_is_the_interquartile_range_over_the_median() {
        // Quartiles 1.75 and 3.25 around a median of 2.5: IQR 1.5 = 60 % of the median.
        let s = Summary::of(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert!(close(s.spread_pct(), 60.0), "{}", s.spread_pct());
    }

    #[test]
    fn geometric_mean_cancels_reciprocal_ratios() {
        assert!(close(geomean([2.0, 0.5]).unwrap(), 1.0));
        assert!(close(geomean([1.0, 4.0, 16.0]).unwrap(), 4.0));
        assert!(close(geomean([3.0, f64::NAN, 0.0, -1.0]).unwrap(), 3.0));
        assert_eq!(geomean(std::iter::empty()), None);
    }

    #[test]
    fn ratio_is_peer_over_fastpath() {
        assert_eq!(speed_ratio(2.0e-3, 1.0e-3), Some(2.0));
        assert_eq!(speed_ratio(1.0e-3, 4.0e-3), Some(0.25));
        assert_eq!(speed_ratio(1.0, 0.0), None);
        assert_eq!(speed_ratio(f64::NAN, 1.0), None);
    }

    #[test]
    fn regret_scores_choices_against_the_best() {
        assert_eq!(regret(1.0, 1.0), 0.0);
        assert!(close(regret(1.25, 1.0), 0.25));
        // A choice measured faster than "best" (noise between two runs) is no regret.
        assert_eq!(regret(0.9, 1.0), 0.0);
        let d = |label: &str, chosen, best| Decision {
            label: label.into(),
            chosen_seconds: chosen,
            best_seconds: best,
        };
        let totals = RegretTotals::of(&[
            d("A 2^10", 1.0, 1.0),
            d("A 2^20", 1.21, 1.0),
            d("B 2^10", 2.0, 2.0),
            d("B 2^20", 4.0, 4.0),
        ]);
        assert_eq!(totals.decisions, 4);
        assert_eq!(totals.best_chosen, 3);
        // geomean(1, 1.21, 1, 1) = 1.21^(1/4) = 1.1^(1/2)
        assert!(close(totals.geomean, 1.1f64.sqrt() - 1.0), "{}", totals.geomean);
        assert!(close(totals.worst, 0.21));
        assert_eq!(totals.worst_case.as_deref(), Some("A 2^20"));
        let none = RegretTotals::of(&[]);
        assert_eq!((none.decisions, none.geomean, none.worst), (0, 0.0, 0.0));
        assert_eq!(none.worst_case, None);
    }
}
