//! `kiln derivation`: inspect `.drv` files.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use kiln_store::derivation::Derivation;
use kiln_store::store_path::StoreDir;

/// Subcommands of `kiln derivation`.
#[derive(Debug, Subcommand)]
pub enum DerivationCommand {
    /// Print derivations as JSON, shaped like `nix show-derivation`
    Show(ShowArgs),
}

/// Arguments of `kiln derivation show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The `.drv` files to show (can be repeated)
    #[arg(required = true, value_name = "DRV")]
    drvs: Vec<PathBuf>,
    /// The logical store directory the derivations refer to
    #[arg(long, env = "KILN_STORE_DIR", default_value = "/nix/store")]
    store_dir: String,
}

/// Runs `kiln derivation`.
pub fn run(cmd: DerivationCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DerivationCommand::Show(args) => show(&args),
    }
}

fn show(args: &ShowArgs) -> anyhow::Result<ExitCode> {
    let store_dir = StoreDir::new(args.store_dir.clone());
    let mut all = serde_json::Map::new();
    for file in &args.drvs {
        let (key, drv) = load(file, &store_dir)?;
        all.insert(key, drv.to_json(&store_dir));
    }
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &serde_json::Value::Object(all))?;
    writeln!(out)?;
    Ok(ExitCode::SUCCESS)
}

/// Reads and parses a `.drv` file, returning the store path to show it
/// under: the file's own path when it lies in the store, otherwise the path
/// its contents would have there.
fn load(file: &Path, store_dir: &StoreDir) -> anyhow::Result<(String, Derivation)> {
    let bytes = fs_err::read(file)?;
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
