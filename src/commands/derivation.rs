//! `kiln derivation`: not yet implemented.

use std::process::ExitCode;

/// Subcommands of `kiln derivation`.
#[derive(Debug, clap::Subcommand)]
pub enum DerivationCommand {}

/// Runs `kiln derivation`.
pub fn run(cmd: DerivationCommand) -> anyhow::Result<ExitCode> {
    match cmd {}
}
