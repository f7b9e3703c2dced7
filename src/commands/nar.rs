//! `kiln nar`: not yet implemented.

use std::process::ExitCode;

/// Subcommands of `kiln nar`.
#[derive(Debug, clap::Subcommand)]
pub enum NarCommand {}

/// Runs `kiln nar`.
pub fn run(cmd: NarCommand) -> anyhow::Result<ExitCode> {
    match cmd {}
}
