//! `kiln export`: write store paths (optionally their closure, or just
//! what an offline rebuild needs) into one bundle file for `kiln import`.

use std::collections::BTreeSet;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use clap::Args;

use super::human_bytes;
use super::store::StoreOptions;

/// Arguments of `kiln export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Store paths, `.drv` paths, or links to them (`result`)
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,
    /// The bundle file to write
    #[arg(short, long, value_name = "BUNDLE")]
    pub output: PathBuf,
    /// Add every path the given paths refer to, recursively
    #[arg(long, conflicts_with = "sources_only")]
    pub closure: bool,
    /// Export what rebuilding the given derivations (or the derivers of
    /// the given outputs) from source needs, with no network: every `.drv`
    /// of the build closure, the input sources and the outputs of
    /// fixed-output derivations (the downloads), but no other build outputs
    #[arg(long)]
    pub sources_only: bool,
    /// Which store
    #[command(flatten)]
    pub store: StoreOptions,
}

/// Runs `kiln export`.
pub fn run(args: &ExportArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let store = args.store.open()?;
    let mut roots = Vec::new();
    for text in &args.paths {
        let path = store.resolve(text)?;
        if !store.is_valid(&path)? {
            anyhow::bail!("path `{}` is not valid", store.display(&path));
        }
        roots.push(path);
    }
    let paths: BTreeSet<_> = if args.sources_only {
        store
            .sources_closure(&roots)
            .context("cannot collect what the derivations need")?
    } else if args.closure {
        store
            .db()
            .closure(&roots)
            .context("cannot compute the closure")?
    } else {
        roots.into_iter().collect()
    };
    let report = write_atomically(&args.output, |file| {
        store
            .export_bundle(&paths, file)
            .map_err(anyhow::Error::from)
    })
    .with_context(|| format!("cannot export to `{}`", args.output.display()))?;
    let size = fs_err::metadata(&args.output).map_or(0, |m| m.len());
    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "exported {} paths ({} of NARs) to `{}`: {} compressed, in {:.1} s",
        report.paths.len(),
        human_bytes(report.nar_bytes),
        args.output.display(),
        human_bytes(size),
        started.elapsed().as_secs_f64()
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `write` on a temporary file beside `dest` and renames it to `dest`
/// only when it succeeded; otherwise removes it.
fn write_atomically<T>(
    dest: &Path,
    write: impl FnOnce(&mut BufWriter<fs_err::File>) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let name = dest
        .file_name()
        .with_context(|| format!("`{}` has no file name", dest.display()))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = dest.with_file_name(tmp_name);
    let result = (|| {
        let mut file = BufWriter::new(fs_err::File::create(&tmp)?);
        let value = write(&mut file)?;
        let file = file.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs_err::rename(&tmp, dest)?;
        Ok(value)
    })();
    if result.is_err() {
        let _ = fs_err::remove_file(&tmp);
    }
    result
}
