//! `kiln hash`: compute hashes of files and trees, and convert between
//! encodings, the way `nix-hash` and `nix hash` do.

use std::io::{self, Read, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use kiln_store::hash::{Encoding, Hash, HashAlgo};
use kiln_store::nar::Sink;

/// Subcommands of `kiln hash`.
#[derive(Debug, Subcommand)]
pub enum HashCommand {
    /// Print the hash of a path's NAR serialisation (as `nix-hash PATH`)
    ///
    /// The tree is read on one thread and hashed on another; the reading
    /// may run up to 128 MiB ahead of the hashing, so that reading many
    /// small files overlaps with hashing large ones.
    Path(HashPathArgs),
    /// Print the hash of a regular file's contents (as `nix-hash --flat FILE`)
    File(HashPathArgs),
    /// Convert hashes to another encoding
    Convert(ConvertArgs),
}

/// Which encoding to print, shared by the hash subcommands.
#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct EncodingArgs {
    /// Print in lowercase hexadecimal
    #[arg(long)]
    base16: bool,
    /// Print in Nix's base-32
    #[arg(long, alias = "nixbase32")]
    base32: bool,
    /// Print in base64
    #[arg(long)]
    base64: bool,
    /// Print in SRI form, `<type>-<base64>` (the default)
    #[arg(long)]
    sri: bool,
}

impl EncodingArgs {
    /// Returns the chosen encoding, SRI when none was chosen.
    fn encoding(&self) -> Encoding {
        if self.base16 {
            Encoding::Base16
        } else if self.base32 {
            Encoding::Nixbase32
        } else if self.base64 {
            Encoding::Base64
        } else {
            Encoding::Sri
        }
    }
}

/// Arguments of `kiln hash path` and `kiln hash file`.
#[derive(Debug, Args)]
pub struct HashPathArgs {
    /// The paths to hash (can be repeated)
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The hash algorithm: md5, sha1, sha256 or sha512
    #[arg(long = "type", default_value = "sha256", value_name = "ALGO")]
    algo: HashAlgo,
    #[command(flatten)]
    encoding: EncodingArgs,
}

/// Arguments of `kiln hash convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// The hashes to convert: `algo:digest`, SRI, or bare digests with `--type`
    #[arg(required = true)]
    hashes: Vec<String>,
    /// The algorithm of bare digests
    #[arg(long = "type", value_name = "ALGO")]
    algo: Option<HashAlgo>,
    #[command(flatten)]
    encoding: EncodingArgs,
}

/// Runs `kiln hash`.
pub fn run(cmd: HashCommand) -> anyhow::Result<ExitCode> {
    let mut out = io::stdout().lock();
    match cmd {
        HashCommand::Path(args) => {
            for path in &args.paths {
                let hash = hash_nar(path, args.algo)?;
                writeln!(out, "{}", hash.encode(args.encoding.encoding()))?;
            }
        }
        HashCommand::File(args) => {
            for path in &args.paths {
                let hash = hash_file(path, args.algo)?;
                writeln!(out, "{}", hash.encode(args.encoding.encoding()))?;
            }
        }
        HashCommand::Convert(args) => {
            for text in &args.hashes {
                let hash = Hash::parse(text, args.algo)?;
                writeln!(out, "{}", hash.encode(args.encoding.encoding()))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Returns the hash of the NAR serialisation of `path`.
fn hash_nar(path: &std::path::Path, algo: HashAlgo) -> anyhow::Result<Hash> {
    let (hash, _size) =
        kiln_store::hash::hash_with(algo, |out| kiln_store::nar::dump_to(path, out))
            .with_context(|| format!("cannot hash `{}`", path.display()))?;
    Ok(hash)
}

/// Returns the hash of the contents of the regular file at `path`, read
/// on this thread straight into the buffers of the hashing thread.
fn hash_file(path: &std::path::Path, algo: HashAlgo) -> anyhow::Result<Hash> {
    fs_err::File::open(path)
        .and_then(|mut file| kiln_store::hash::hash_with(algo, |out| read_into(&mut file, out)))
        .map(|(hash, ())| hash)
        .with_context(|| format!("cannot hash `{}`", path.display()))
}

/// Reads `file` to its end into `sink`.
fn read_into(file: &mut impl Read, sink: &mut impl Sink) -> io::Result<()> {
    while kiln_store::nar::fill(sink, file, u64::MAX)? > 0 {}
    Ok(())
}
