//! `kiln eval`: not yet implemented.

use std::process::ExitCode;

/// Arguments of `kiln eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {}

/// Runs `kiln eval`.
pub fn run(_args: EvalArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`kiln eval` is not implemented yet")
}
