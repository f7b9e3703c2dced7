//! `kiln store`: add paths to the store and check it; also the options
//! that say which store every store-using command opens.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use kiln_store::hash::HashAlgo;
use kiln_store::layout::Layout;
use kiln_store::store::Store;
use kiln_store::store_path::{FileIngestionMethod, StoreDir};

/// Which store to open: shared by every command that uses the store.
#[derive(Debug, Clone, Args)]
pub struct StoreOptions {
    /// The store's physical root [default: $XDG_DATA_HOME/kiln or
    /// ~/.local/share/kiln]
    #[arg(long = "store", env = "KILN_STORE", value_name = "ROOT", global = true)]
    pub root: Option<PathBuf>,
    /// The logical store directory that store paths are computed against
    #[arg(
        long,
        env = "KILN_STORE_DIR",
        value_name = "DIR",
        default_value = "/nix/store",
        global = true
    )]
    pub store_dir: String,
}

impl StoreOptions {
    /// The store's physical root.
    pub fn root(&self) -> anyhow::Result<PathBuf> {
        Ok(match &self.root {
            Some(root) => root.clone(),
            None => Layout::default_root()?,
        })
    }

    /// Opens (creating if needed) the store these options name.
    pub fn open(&self) -> anyhow::Result<Store> {
        let root = self.root()?;
        Store::open(&root, StoreDir::new(self.store_dir.clone()))
            .with_context(|| format!("cannot open the store at `{}`", root.display()))
    }
}

/// Arguments of `kiln store`.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Which store
    #[command(flatten)]
    pub options: StoreOptions,
    /// What to do
    #[command(subcommand)]
    pub command: StoreCommand,
}

/// Subcommands of `kiln store`.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Add a file or directory to the store and print its store path, like
    /// `nix-store --add` (or `--add-fixed` with `--flat`/`--type`)
    Add(AddArgs),
    /// Check that every valid path exists (and, with `--check-contents`,
    /// still has its registered NAR hash); report each problem
    Verify(VerifyArgs),
}

/// Arguments of `kiln store add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// The file, directory or symlink to add
    pub path: PathBuf,
    /// The store path's name [default: the file's base name]
    #[arg(long)]
    pub name: Option<String>,
    /// Hash the file's contents rather than its NAR serialisation (a
    /// regular file only), like `nix-store --add-fixed` without `--recursive`
    #[arg(long)]
    pub flat: bool,
    /// The hash algorithm of the content address: md5, sha1, sha256, sha512
    #[arg(long = "type", value_name = "ALGO", default_value = "sha256")]
    pub algo: HashAlgo,
    /// Say on stderr whether the path was registered or already valid
    #[arg(short, long)]
    pub verbose: bool,
}

/// Arguments of `kiln store verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Also recompute every path's NAR hash and compare it with the database
    #[arg(long)]
    pub check_contents: bool,
}

/// Runs `kiln store`.
pub fn run(args: StoreArgs) -> anyhow::Result<ExitCode> {
    let store = args.options.open()?;
    match args.command {
        StoreCommand::Add(add_args) => add(&store, &add_args),
        StoreCommand::Verify(verify_args) => verify(&store, &verify_args),
    }
}

#[expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the command's output"
)]
fn add(store: &Store, args: &AddArgs) -> anyhow::Result<ExitCode> {
    let name = match &args.name {
        Some(name) => name.clone(),
        None => std::path::absolute(&args.path)?
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_owned)
            .with_context(|| {
                format!(
                    "`{}` has no file name; give one with --name",
                    args.path.display()
                )
            })?,
    };
    let method = if args.flat {
        FileIngestionMethod::Flat
    } else {
        FileIngestionMethod::Recursive
    };
    let added = store
        .add_path(&args.path, &name, method, args.algo)
        .with_context(|| format!("cannot add `{}` to the store", args.path.display()))?;
    let shown = store.display(&added.path);
    if args.verbose {
        let what = if added.fresh {
            "registered"
        } else {
            "already valid:"
        };
        eprintln!("{what} {shown}");
    }
    println!("{shown}");
    Ok(ExitCode::SUCCESS)
}

#[expect(clippy::print_stderr, reason = "problems are reported on stderr")]
fn verify(store: &Store, args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let report = store.verify(args.check_contents)?;
    for problem in &report.problems {
        eprintln!("error: {problem}");
    }
    let checked = report.checked;
    if report.problems.is_empty() {
        eprintln!("checked {checked} valid paths: no problems");
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "checked {checked} valid paths: {} problems",
        report.problems.len()
    );
    Ok(ExitCode::from(1))
}
