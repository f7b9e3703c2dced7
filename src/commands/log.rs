//! `kiln log PATH`: print the build log of a derivation, given its `.drv`
//! or one of its outputs, like `nix log`.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use kiln_store::realise::log::read_log;
use kiln_store::store::Store;
use kiln_store::store_path::StorePath;

use super::store::StoreOptions;

/// Arguments of `kiln log`.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// A `.drv` store path, an output path, or a link (such as `result`) to
    /// one
    #[arg(value_name = "PATH")]
    pub path: String,
    /// Which store
    #[command(flatten)]
    pub store: StoreOptions,
}

/// Runs `kiln log`: the decompressed log on stdout.
pub fn run(args: &LogArgs) -> anyhow::Result<ExitCode> {
    let store = args.store.open()?;
    let path = store.resolve(&args.path)?;
    let drv = deriver(&store, &path)?;
    let log = read_log(&store, &drv)?;
    let mut out = std::io::stdout().lock();
    out.write_all(&log)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Returns the derivation whose log to show: `path` itself when it is a
/// `.drv`, else the deriver the store recorded for the output.
fn deriver(store: &Store, path: &StorePath) -> anyhow::Result<StorePath> {
    super::deriver(store, path)?.with_context(|| {
        format!(
            "`{}` was not built by a derivation, so it has no log",
            store.display(path)
        )
    })
}
