//! Errors of the router. Every message is one line that names the key or state at fault and
//! says what was expected, because the CLI prints it as `error: <message>`.

use thiserror::Error;

/// Why a workload could not be read, resolved or routed.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum RouteError {
    /// The workload (file, flags or library value) is malformed: unknown key, wrong type,
    /// impossible value, unknown operation. `key` is the path of the offending key, e.g.
    /// `operations[2].shape` or `data_size_gb`.
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },

    /// The workload text is not valid TOML/JSON at all.
    #[error("{0}")]
    Syntax(String),

    /// Given values contradict each other (e.g. `local_time_hours` versus
    /// `item_count / local_rate / 3600`).
    #[error("{0}")]
    Inconsistent(String),

    /// The state machine reached a predicate whose outcome depends on a value the workload
    /// neither gives nor lets us derive.
    #[error("cannot decide at {state} ({predicate}): {missing} unknown; give {hint}")]
    MissingInput { state: String, predicate: String, missing: String, hint: String },

    /// The health gate said BLOCK: routing stops with the gate's own message.
    #[error("blocked by the health gate: {0}")]
    Blocked(String),

    /// An unknown machine profile, price table or other named thing.
    #[error("{0}")]
    Unknown(String),

    /// Reading a file failed.
    #[error("{path}: {message}")]
    Io { path: String, message: String },
}

impl RouteError {
    pub(crate) fn invalid(key: impl Into<String>, message: impl Into<String>) -> Self {
        RouteError::Invalid { key: key.into(), message: message.into() }
    }
}
