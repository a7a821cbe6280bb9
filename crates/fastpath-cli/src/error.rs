//! One error type for every command: a single line for the user and an exit status.

use std::fmt::Display;

/// Exit status for a failure while running (GPU lost, I/O error while writing, ...).
pub const EXIT_FAILURE: u8 = 1;
/// Exit status for bad usage or bad input (unknown kernel, wrong dtype, unreadable file, ...).
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit status when the health gate blocks a workload.
pub const EXIT_BLOCKED: u8 = 3;

/// An error to print as `error: <message>` followed by exit with `code`.
#[derive(Debug)]
pub struct CliError {
    message: String,
    code: u8,
}

impl CliError {
    /// Bad usage or bad input: the message says what was expected.
    pub fn bad_input(message: impl Display) -> Self {
        Self { message: one_line(message), code: EXIT_BAD_INPUT }
    }
    /// A failure while running.
    pub fn failure(message: impl Display) -> Self {
        Self { message: one_line(message), code: EXIT_FAILURE }
    }
    /// The health gate blocked the workload.
    pub fn blocked(message: impl Display) -> Self {
        Self { message: one_line(message), code: EXIT_BLOCKED }
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    pub fn exit_code(&self) -> u8 {
        self.code
    }
}

/// Errors are promised to be one line: fold any embedded newlines.
fn one_line(message: impl Display) -> String {
    let text = message.to_string();
    text.split('\n').map(str::trim).filter(|s| !s.is_empty()).collect::<Vec<_>>().join("; ")
}

impl From<anyhow::Error> for CliError {
    fn from(err: anyhow::Error) -> Self {
        Self::failure(format!("{err:#}"))
    }
}
