//! `fastpath health` — placeholder until its issue lands; replaced wholesale by its owner.

use std::process::ExitCode;

use crate::{CliError, GlobalOpts};

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: &Args, _global: &GlobalOpts) -> Result<ExitCode, CliError> {
    Err(CliError::failure("`fastpath health` is not built yet"))
}
