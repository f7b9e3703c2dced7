//! `kiln hash`: not yet implemented.

use std::process::ExitCode;

/// Subcommands of `kiln hash`.
#[derive(Debug, clap::Subcommand)]
pub enum HashCommand {}

/// Runs `kiln hash`.
pub fn run(cmd: HashCommand) -> anyhow::Result<ExitCode> {
    match cmd {}
}
