//! `kiln import`: check a bundle written by `kiln export` completely, then
//! register the paths it holds that this store lacks, all at once.

use std::io::{BufReader, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use clap::Args;

use super::human_bytes;
use super::store::StoreOptions;

/// Arguments of `kiln import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The bundle file (`-`: standard input)
    #[arg(value_name = "BUNDLE")]
    pub bundle: PathBuf,
    /// Which store
    #[command(flatten)]
    pub store: StoreOptions,
}

/// Runs `kiln import`.
pub fn run(args: &ImportArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let store = args.store.open()?;
    let shown = args.bundle.display();
    let report = if args.bundle.as_os_str() == "-" {
        store.import_bundle(BufReader::new(std::io::stdin().lock()))
    } else {
        let file = fs_err::File::open(&args.bundle)?;
        store.import_bundle(BufReader::new(file))
    }
    .with_context(|| format!("cannot import `{shown}`; nothing was imported"))?;
    let seconds = started.elapsed().as_secs_f64();
    let mut err = std::io::stderr().lock();
    if report.imported.is_empty() {
        writeln!(
            err,
            "nothing to import: all {} paths of `{shown}` are valid already (checked in {seconds:.1} s)",
            report.paths
        )?;
    } else {
        writeln!(
            err,
            "imported {} of the {} paths of `{shown}` ({} of NARs; {} were valid already) in {seconds:.1} s",
            report.imported.len(),
            report.paths,
            human_bytes(report.imported_bytes),
            report.paths - report.imported.len()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
