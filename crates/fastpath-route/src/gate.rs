//! The health gate's verdict as routing sees it.
//!
//! The gate itself (probes, thresholds, messages) lives in `fastpath-health`; route must not
//! depend on it, so the caller converts health's `GateVerdict` into this small type. The seed:
//! "The system health monitor pre-flight gate MUST pass before entering S0. If the gate
//! blocks, resolve the issue first." A BLOCK stops routing with the gate's message; warnings
//! are carried into the decision.

use serde::Serialize;

/// PASS, WARN or BLOCK, or no gate evaluated at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GateDecision {
    Pass,
    Warn,
    Block,
    /// No health report applied (e.g. routing for a named machine profile from another
    /// machine, where this machine's health says nothing about that one).
    NotEvaluated,
}

impl GateDecision {
    pub fn name(self) -> &'static str {
        match self {
            GateDecision::Pass => "PASS",
            GateDecision::Warn => "WARN",
            GateDecision::Block => "BLOCK",
            GateDecision::NotEvaluated => "not evaluated",
        }
    }
}

/// The gate's decision and its messages, and which health report it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateOutcome {
    pub decision: GateDecision,
    /// The gate's messages, as the user should read them.
    pub messages: Vec<String>,
    /// Where the health report came from: "probe of this machine", "snapshot FILE", …
    pub source: String,
}

impl GateOutcome {
    pub fn pass(source: impl Into<String>) -> Self {
        GateOutcome { decision: GateDecision::Pass, messages: Vec::new(), source: source.into() }
    }

    pub fn warn(messages: Vec<String>, source: impl Into<String>) -> Self {
        GateOutcome { decision: GateDecision::Warn, messages, source: source.into() }
    }

    pub fn block(messages: Vec<String>, source: impl Into<String>) -> Self {
        GateOutcome { decision: GateDecision::Block, messages, source: source.into() }
    }

    /// No gate: `reason` says why (shown in reports).
    pub fn not_evaluated(reason: impl Into<String>) -> Self {
        GateOutcome {
            decision: GateDecision::NotEvaluated,
            messages: Vec::new(),
            source: reason.into(),
        }
    }
}
