//! `kiln why-rebuilt PATH` and `kiln build --explain`: why a derivation
//! had to be built, as the first input that differs from the derivation of
//! the same name built here before (see `kiln_store::realise::explain`).

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use kiln_store::realise::{explain, history};
use kiln_store::store::Store;
use kiln_store::store_path::StorePath;

use super::store::StoreOptions;

/// Arguments of `kiln why-rebuilt`.
#[derive(Debug, Args)]
pub struct WhyRebuiltArgs {
    /// A derivation (`.drv`), or an output built here (a store path or a
    /// `result` link)
    #[arg(value_name = "PATH")]
    pub path: String,
    /// Which store
    #[command(flatten)]
    pub store: StoreOptions,
}

/// Runs `kiln why-rebuilt`.
pub fn run(args: &WhyRebuiltArgs) -> anyhow::Result<ExitCode> {
    let store = args.store.open()?;
    let path = store.resolve(&args.path)?;
    let drv = super::deriver(&store, &path)?.with_context(|| {
        format!(
            "`{}` was not built here (it has no deriver)",
            store.display(&path)
        )
    })?;
    writeln!(std::io::stdout().lock(), "{}", reason(&store, &drv)?)?;
    Ok(ExitCode::SUCCESS)
}

/// One line saying why `drv` was built: `` `name`: <change> ``.
pub fn reason(store: &Store, drv: &StorePath) -> anyhow::Result<String> {
    let name = drv.name().trim_end_matches(".drv");
    let why = match history::previous(store, drv) {
        Some(previous) => explain::explain(store, &previous, drv)?.to_string(),
        None if history::is_last(store, drv) => {
            "the first derivation of that name built here".to_owned()
        }
        None => "no build of that name is recorded here".to_owned(),
    };
    Ok(format!("`{name}`: {why}"))
}
