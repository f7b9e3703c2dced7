//! `kiln parse`: not yet implemented.

use std::process::ExitCode;

/// Arguments of `kiln parse`.
#[derive(Debug, clap::Args)]
pub struct ParseArgs {}

/// Runs `kiln parse`.
pub fn run(_args: ParseArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`kiln parse` is not implemented yet")
}
