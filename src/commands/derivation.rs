//! `kiln derivation`: inspect `.drv` files.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use kiln_store::derivation::Derivation;
use kiln_store::layout::Layout;
use kiln_store::store_path::StoreDir;

use super::store::StoreOptions;

/// Subcommands of `kiln derivation`.
#[derive(Debug, Subcommand)]
pub enum DerivationCommand {
    /// Print derivations as JSON, shaped like `nix show-derivation`
    Show(ShowArgs),
}

/// Arguments of `kiln derivation show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The `.drv` files to show (can be repeated): files, or store paths
    /// (`/nix/store/…drv`) read from the store when no such file exists
    #[arg(required = true, value_name = "DRV")]
    drvs: Vec<PathBuf>,
    #[command(flatten)]
    store: StoreOptions,
}

/// Runs `kiln derivation`.
pub fn run(cmd: DerivationCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DerivationCommand::Show(args) => show(&args),
    }
}

fn show(args: &ShowArgs) -> anyhow::Result<ExitCode> {
    let store_dir = StoreDir::new(args.store.store_dir.clone());
    let mut all = serde_json::Map::new();
    for file in &args.drvs {
        let (key, drv) = load(file, &store_dir, &args.store)?;
        all.insert(key, drv.to_json(&store_dir));
    }
    // Rendered first, so that a closed pipe is an I/O error (quietly ended).
    let text = serde_json::to_string_pretty(&serde_json::Value::Object(all))? + "\n";
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// Reads and parses a `.drv` file, returning the store path to show it
/// under: the file's own path when it lies in the store, otherwise the path
/// its contents would have there. A store path that is no file here is
/// read from the kiln store's directory.
fn load(
    file: &Path,
    store_dir: &StoreDir,
    store: &StoreOptions,
) -> anyhow::Result<(String, Derivation)> {
    let bytes = match fs_err::read(file) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let Some(path) = file.to_str().and_then(|text| store_dir.parse(text).ok()) else {
                return Err(error.into());
            };
            let physical = Layout::new(store.root()?).object(&path);
            fs_err::read(&physical)
                .with_context(|| format!("`{}` is not in the store", file.display()))?
        }
        Err(error) => return Err(error.into()),
    };
    let drv = Derivation::parse(&bytes, store_dir)
        .with_context(|| format!("`{}` is not a valid derivation", file.display()))?;
    let in_store = file.to_str().and_then(|text| store_dir.parse(text).ok());
    let path = match in_store {
        Some(path) => path,
        None => drv
            .drv_path(store_dir)
            .with_context(|| format!("cannot compute the store path of `{}`", file.display()))?,
    };
    Ok((store_dir.display(&path), drv))
}
