//! `kiln gc`: delete every store path that no root needs.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Args;
use kiln_store::store::gc::GcOptions;

use super::human_bytes;
use super::store::StoreOptions;

/// Arguments of `kiln gc`.
#[derive(Debug, Args)]
pub struct GcArgs {
    /// Print what would be deleted, and delete nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Keep this path and its closure as if it were a root (can be repeated)
    #[arg(long, value_name = "PATH")]
    pub keep: Vec<String>,
    /// Which store
    #[command(flatten)]
    pub store: StoreOptions,
}

/// How many stale roots `kiln gc` names.
const STALE_SHOWN: usize = 3;

/// Runs `kiln gc`: prints each deleted path on stdout and a summary on
/// stderr.
#[expect(clippy::print_stderr, reason = "the summary goes to stderr")]
pub fn run(args: &GcArgs) -> anyhow::Result<ExitCode> {
    let store = args.store.open()?;
    let keep = args
        .keep
        .iter()
        .map(|text| store.resolve(text))
        .collect::<Result<Vec<_>, _>>()?;
    let report = store.collect_garbage(&GcOptions {
        dry_run: args.dry_run,
        keep,
    })?;
    let mut out = std::io::stdout().lock();
    for (path, _) in &report.deleted {
        writeln!(out, "{}", store.display(path))?;
    }
    let verb = if args.dry_run {
        "would be deleted"
    } else {
        "deleted"
    };
    let freed = if args.dry_run { "would free" } else { "freed" };
    eprintln!(
        "{} store paths {verb}, {freed} {} ({} bytes); {} roots",
        report.deleted.len(),
        human_bytes(report.bytes_freed),
        report.bytes_freed,
        report.roots.len()
    );
    if !report.stale_roots.is_empty() {
        // Roots whose result links are gone: one line, naming a few.
        let what = if args.dry_run {
            "would remove"
        } else {
            "removed"
        };
        let shown: Vec<String> = report
            .stale_roots
            .iter()
            .take(STALE_SHOWN)
            .map(|link| format!("`{}`", link.display()))
            .collect();
        let more = report.stale_roots.len().saturating_sub(STALE_SHOWN);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        eprintln!(
            "{what} {} stale roots (their links are gone): {}{more}",
            report.stale_roots.len(),
            shown.join(", ")
        );
    }
    for kept in &report.check_artefacts {
        let what = if args.dry_run {
            "would remove"
        } else {
            "removed"
        };
        eprintln!("{what} `{}`, kept by a check", kept.display());
    }
    Ok(ExitCode::SUCCESS)
}
