//! The `kiln` binary: parses the command line, runs one command, renders any
//! error with its causes and hints, and picks the exit code in one place.

mod alloc;
mod cli;
#[cfg(test)]
mod cli_docs;
mod commands;
mod error;
mod eval_io;
mod recipes;

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: alloc::Mimalloc = alloc::Mimalloc;

fn main() -> ExitCode {
    alloc::pretouch();
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(err) => error::report(&err),
    }
}
