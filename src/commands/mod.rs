//! One module per subcommand: each holds its arguments next to its `run`.

pub mod build;
pub mod derivation;
pub mod eval;
pub mod export;
pub mod fetch;
pub mod flake;
pub mod flake_build;
pub mod gc;
pub mod hash;
pub mod image;
pub mod import;
pub mod instantiate;
pub mod lock;
pub mod log;
pub mod nar;
pub mod parse;
pub mod path_info;
pub mod provenance;
pub mod realise;
pub mod store;
pub mod units;
pub mod verify;
pub mod why_depends;
pub mod why_rebuilt;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// Runs the subcommand the user asked for.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Hash(cmd) => hash::run(cmd),
        Command::Nar(cmd) => nar::run(cmd),
        Command::Derivation(cmd) => derivation::run(cmd),
        Command::Eval(args) => eval::run(args),
        Command::Instantiate(args) => instantiate::run(args),
        Command::Build(args) => build::run(&args),
        Command::Realise(args) => realise::run(&args),
        Command::Log(args) => log::run(&args),
        Command::WhyDepends(args) => why_depends::run(&args),
        Command::Parse(args) => parse::run(args),
        Command::PathInfo(args) => path_info::run(&args),
        Command::Store(args) => store::run(args),
        Command::Gc(args) => gc::run(&args),
        Command::Lock(args) => lock::run(args),
        Command::Init(args) => flake::init(&args),
        Command::Fetch(args) => fetch::run(&args),
        Command::Export(args) => export::run(&args),
        Command::Import(args) => import::run(&args),
        Command::Image(cmd) => image::run(&cmd),
        Command::Show(args) => flake::show(&args),
        Command::Verify(args) => verify::run(&args),
        Command::WhyRebuilt(args) => why_rebuilt::run(&args),
        Command::Units(args) => units::run(&args),
        Command::Provenance(args) => provenance::run(&args),
    }
}

/// Renders a byte count for people (`12.3 MiB`, `12 bytes`): the
/// summaries of `gc`, `export` and `import`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The derivation of `path`: itself when it is a `.drv`, else the deriver
/// the store records for it, else one of the derivations the database
/// knows to have it as an output; `None` when nothing built it. Fails when
/// `path` is not valid.
pub fn deriver(
    store: &kiln_store::store::Store,
    path: &kiln_store::store_path::StorePath,
) -> anyhow::Result<Option<kiln_store::store_path::StorePath>> {
    use anyhow::Context as _;
    if path.is_derivation() {
        return Ok(Some(path.clone()));
    }
    let info = store
        .path_info(path)?
        .with_context(|| format!("path `{}` is not valid", store.display(path)))?;
    if let Some(deriver) = info.deriver {
        return Ok(Some(deriver));
    }
    Ok(store.db().derivers_of_output(path)?.into_iter().next())
}
