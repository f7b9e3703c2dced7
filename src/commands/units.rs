//! `kiln units PLAN`: the per-crate build plan from a planning build's
//! output (a `buildRustPackage { plan = true; … }` derivation): every
//! rustc call and build-script run cargo made, joined with cargo's unit
//! graph and checked against it (crate `kiln-units`).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use super::store::StoreOptions;

/// Arguments of `kiln units`.
#[derive(Debug, Args)]
pub struct UnitsArgs {
    /// A planning build's output: a store path, a `result` link or a
    /// directory
    #[arg(value_name = "PLAN")]
    pub plan: String,
    /// Write the plan (JSON) to FILE instead of standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print only the summary
    #[arg(long)]
    pub check: bool,
    /// Which store
    #[command(flatten)]
    pub store: StoreOptions,
}

/// Runs `kiln units`.
#[expect(clippy::print_stderr, reason = "the summary")]
pub fn run(args: &UnitsArgs) -> anyhow::Result<ExitCode> {
    let dir = {
        let given = PathBuf::from(&args.plan);
        if given.join("unit-graph.json").is_file() {
            given
        } else {
            let store = args.store.open()?;
            let path = store.resolve(&args.plan)?;
            store.physical(&path)
        }
    };
    let records = kiln_units::Records::read(&dir)
        .with_context(|| format!("cannot read the planning build `{}`", args.plan))?;
    let plan =
        kiln_units::plan(&records).with_context(|| format!("cannot plan from `{}`", args.plan))?;
    eprintln!("{}", kiln_units::plan::summary(&plan, &records.graph));
    if args.check {
        return Ok(ExitCode::SUCCESS);
    }
    let json = serde_json::to_string_pretty(&plan)? + "\n";
    match &args.output {
        Some(file) => fs_err::write(file, json)?,
        None => std::io::stdout().lock().write_all(json.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}
