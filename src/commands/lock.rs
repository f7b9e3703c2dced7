//! `kiln lock`: pin a flake's fetched inputs in flake.lock, or external
//! package sets into lock files that recipes load. `kiln lock debian` reads a Debian suite's index and pins the
//! closure of a root set of packages (see `docs/recipes.md`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use kiln_debian::{Event, IndexRequest, Source};

/// Arguments of `kiln lock`: a flake's directory, or a subcommand.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct LockArgs {
    /// Pin something other than a flake's inputs
    #[command(subcommand)]
    pub command: Option<LockCommand>,
    /// The flake's directory: pin every fetched input of its flake.toml
    /// (crates, PyPI files, URLs) that flake.lock lacks or that changed
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Pin these inputs again even if their entries are current (none
    /// named: every fetched input; a crate or PyPI input without a version
    /// then moves to the newest release)
    #[arg(long, num_args = 0.., value_name = "INPUT")]
    pub update: Option<Vec<String>>,
}

/// The subcommands of `kiln lock`.
#[derive(Debug, Subcommand)]
pub enum LockCommand {
    /// Pin the dependency closure of Debian packages: every `.deb` by URL, size and SHA-256
    Debian(DebianArgs),
}

/// Arguments of `kiln lock debian`.
#[derive(Debug, Args)]
pub struct DebianArgs {
    /// The suite (`dists/<suite>/` on the mirror)
    #[arg(long, default_value = "sid")]
    pub suite: String,
    /// The architecture; packages of this architecture and `all` are considered
    #[arg(long, default_value = "amd64")]
    pub arch: String,
    /// The archive component
    #[arg(long, default_value = "main")]
    pub component: String,
    /// The mirror's root URL, recorded in the lock as each package's first URL
    #[arg(
        long,
        value_name = "URL",
        default_value = "http://deb.debian.org/debian"
    )]
    pub mirror: String,
    /// Read `InRelease` and `<component>/binary-<arch>/Packages.xz` (or
    /// `Packages`) from this directory, a copy of the mirror's
    /// `dists/<suite>/`, instead of downloading them; hashes are checked
    /// the same way
    #[arg(long, value_name = "DIR")]
    pub packages_from: Option<PathBuf>,
    /// Check the OpenPGP signatures of `InRelease` against this keyring
    /// (binary or ASCII-armored; at least one signature must be good).
    /// Default: `/usr/share/keyrings/debian-archive-keyring.gpg` when kiln
    /// is built with the `openpgp` feature; without it, signatures are not
    /// checked
    #[arg(long, value_name = "FILE")]
    pub keyring: Option<PathBuf>,
    /// Do not check the signatures of `InRelease`: trust it on first use
    /// (its SHA-256 is recorded in the lock either way)
    #[arg(long, conflicts_with = "keyring")]
    pub no_verify: bool,
    /// Add every `Essential: yes` package to the roots
    #[arg(long)]
    pub essential: bool,
    /// Where to write the lock (JSON)
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// The root packages, each a relation (`rustc`, `'gcc | clang'`, `'make (>= 4)'`)
    #[arg(required = true, value_name = "PKG")]
    pub roots: Vec<String>,
}

/// Runs `kiln lock <kind>`.
pub fn run(args: LockArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        Some(LockCommand::Debian(debian_args)) => debian(&debian_args),
        None => super::flake::lock(&args.dir, args.update.as_deref()),
    }
}

/// Returns the keyring to check `InRelease` against, if any.
#[expect(clippy::print_stderr, reason = "the note goes to stderr")]
fn keyring(args: &DebianArgs) -> Option<PathBuf> {
    if args.no_verify {
        return None;
    }
    if kiln_debian::CAN_VERIFY {
        return Some(
            args.keyring
                .clone()
                .unwrap_or_else(|| PathBuf::from(kiln_debian::DEBIAN_KEYRING)),
        );
    }
    if args.keyring.is_none() {
        eprintln!(
            "note: this kiln was built without the `openpgp` feature: the signatures of InRelease are not checked, its SHA-256 is recorded (trust on first use)"
        );
    }
    args.keyring.clone()
}

/// Runs `kiln lock debian`: progress on stderr, the lock to `--output`.
#[expect(clippy::print_stderr, reason = "progress goes to stderr")]
fn debian(args: &DebianArgs) -> anyhow::Result<ExitCode> {
    let request = IndexRequest {
        mirror: args.mirror.trim_end_matches('/').to_owned(),
        suite: args.suite.clone(),
        component: args.component.clone(),
        arch: args.arch.clone(),
        source: args
            .packages_from
            .clone()
            .map_or(Source::Mirror, Source::Dir),
        keyring: keyring(args),
    };
    let mut progress = |event: Event<'_>| match event {
        Event::Fetching { from } => eprintln!("reading {from}"),
        Event::Fetched { from, bytes } => eprintln!("read {from} ({bytes} bytes, checked)"),
        Event::Verified { signers } => {
            eprintln!("good signatures by {}", signers.join(", "));
        }
        Event::Parsed { packages } => eprintln!("parsed {packages} packages"),
    };
    let lock = kiln_debian::make_lock(&request, &args.roots, args.essential, &mut progress)
        .context("cannot make the Debian lock")?;
    fs_err::write(&args.output, lock.to_json())?;
    let total = lock.total_size();
    eprintln!(
        "locked {} packages ({:.1} MB of .debs, {total} bytes) from {} {} (snapshot {}) into {}",
        lock.packages.len(),
        total as f64 / 1e6,
        lock.suite,
        lock.architecture,
        lock.snapshot,
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}
