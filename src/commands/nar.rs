//! `kiln nar`: write, unpack and list Nix archives (NAR).
//!
//! `dump` and `ls` behave like `nix-store --dump` and `nix nar ls`; the
//! format itself lives in `kiln_store::nar`.

use std::io::{self, BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use kiln_store::nar::{self, Kind, Listing, WriteError};

use crate::error::Hint;

/// Subcommands of `kiln nar`.
#[derive(Debug, clap::Subcommand)]
pub enum NarCommand {
    /// Write the NAR serialisation of a file, directory or symlink to stdout
    Dump(DumpArgs),
    /// Unpack a NAR into a new directory (or file, or symlink)
    Unpack(UnpackArgs),
    /// List the contents of a NAR, like `nix nar ls`
    Ls(LsArgs),
}

/// Arguments of `kiln nar dump`.
#[derive(Debug, clap::Args)]
pub struct DumpArgs {
    /// The file, directory or symlink to serialise
    pub path: PathBuf,
}

/// Arguments of `kiln nar unpack`.
#[derive(Debug, clap::Args)]
pub struct UnpackArgs {
    /// The NAR to read, or `-` for stdin
    pub nar: PathBuf,
    /// Where to unpack it; must not exist yet
    pub dest: PathBuf,
}

/// Arguments of `kiln nar ls`.
#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// The NAR to read, or `-` for stdin
    pub nar: PathBuf,
    /// The path inside the NAR to list
    #[arg(default_value = "/")]
    pub path: String,
    /// List subdirectories recursively
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// Show type, permissions and size, like `ls -l`
    #[arg(short = 'l', long)]
    pub long: bool,
    /// Show a directory itself rather than its contents
    #[arg(short = 'd', long)]
    pub directory: bool,
    /// Print Nix's JSON listing instead of names
    #[arg(long)]
    pub json: bool,
}

/// Runs `kiln nar`.
pub fn run(cmd: NarCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        NarCommand::Dump(args) => dump(&args),
        NarCommand::Unpack(args) => unpack(&args),
        NarCommand::Ls(args) => ls(&args),
    }
}

fn dump(args: &DumpArgs) -> anyhow::Result<ExitCode> {
    let stdout = io::stdout();
    if stdout.is_terminal() {
        return Err(anyhow::Error::new(Hint(format!(
            "redirect it to a file or a pipe: `kiln nar dump {} > out.nar`",
            args.path.display()
        )))
        .context("refusing to write a NAR (binary data) to a terminal"));
    }
    match nar::dump(&args.path, stdout.lock()) {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(WriteError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(e).with_context(|| format!("cannot dump `{}`", args.path.display())),
    }
}

fn unpack(args: &UnpackArgs) -> anyhow::Result<ExitCode> {
    let input = open_nar(&args.nar)?;
    nar::unpack(input, &args.dest).with_context(|| {
        format!(
            "cannot unpack `{}` into `{}`",
            args.nar.display(),
            args.dest.display()
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

fn ls(args: &LsArgs) -> anyhow::Result<ExitCode> {
    let input = open_nar(&args.nar)?;
    let listing =
        nar::list(input).with_context(|| format!("cannot list `{}`", args.nar.display()))?;
    let Some(index) = listing.find(args.path.as_bytes()) else {
        bail!(
            "path `{}` does not exist in `{}`",
            args.path,
            args.nar.display()
        );
    };
    let mut out = BufWriter::new(io::stdout().lock());
    let written = if args.json {
        listing
            .write_json(index, args.recursive, &mut out)
            .and_then(|()| out.write_all(b"\n"))
    } else {
        write_text(&listing, index, args, &mut out)
    };
    match written.and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write the listing")
        }
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// Opens a NAR file, or stdin for `-`, buffered.
fn open_nar(path: &Path) -> anyhow::Result<BufReader<Box<dyn Read>>> {
    let input: Box<dyn Read> = if path == Path::new("-") {
        Box::new(io::stdin().lock())
    } else {
        Box::new(fs_err::File::open(path)?)
    };
    Ok(BufReader::with_capacity(256 * 1024, input))
}

/// Prints names the way `nix nar ls` does: a directory's entries as
/// `./name` (or the directory itself as `.` with `-d`), a file by its base
/// name; with `-R`, every entry below as well, in NAR order.
fn write_text(
    listing: &Listing,
    index: usize,
    args: &LsArgs,
    out: &mut impl Write,
) -> io::Result<()> {
    let Some(top) = listing.entries.get(index) else {
        return Ok(());
    };
    let is_dir = matches!(top.kind, Kind::Directory { .. });
    let base: &[u8] = if is_dir { b"." } else { top.name() };
    let subtree = index + 1..listing.subtree_end(index);
    let show_top = !is_dir || args.directory;
    if show_top {
        write_line(listing, index, base, args.long, out)?;
    }
    if !is_dir || (show_top && !args.recursive) {
        return Ok(());
    }
    let prefix_len = top.path.len() + usize::from(!top.path.is_empty());
    let mut children = listing.children(index).peekable();
    for i in subtree {
        let is_child = children.next_if_eq(&i).is_some();
        if !is_child && !args.recursive {
            continue;
        }
        let Some(entry) = listing.entries.get(i) else {
            break;
        };
        let mut rel = base.to_vec();
        rel.push(b'/');
        rel.extend_from_slice(entry.path.get(prefix_len..).unwrap_or_default());
        write_line(listing, i, &rel, args.long, out)?;
    }
    Ok(())
}

/// Prints one entry: its relative path, or with `long` the line
/// `mode size path [-> target]` (`%s %20d %s` in Nix).
fn write_line(
    listing: &Listing,
    index: usize,
    rel: &[u8],
    long: bool,
    out: &mut impl Write,
) -> io::Result<()> {
    let Some(entry) = listing.entries.get(index) else {
        return Ok(());
    };
    if long {
        write!(out, "{} {:>20} ", entry.mode(), entry.size())?;
    }
    out.write_all(rel)?;
    if let (true, Kind::Symlink { target }) = (long, &entry.kind) {
        out.write_all(b" -> ")?;
        out.write_all(target)?;
    }
    out.write_all(b"\n")
}
