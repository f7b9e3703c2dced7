//! Unpacking archives into a fresh directory, safely: kiln's built-in
//! `builtin:unpack-v1`.
//!
//! [`unpack`] takes an archive file and an output directory that does not
//! exist yet, and fills it with the archive's contents:
//!
//! - tar, optionally compressed with gzip, xz, zstd or bzip2 (`tar.rs`);
//! - zip and Python wheels (`zip.rs`), keeping the executable bit from the
//!   entries' Unix attributes when there are any;
//! - Debian packages (`deb.rs`): the `data.tar.*` member of the `ar` archive;
//! - Rust crates (`krate.rs`): a `.tar.gz` whose `<name>-<version>/` top
//!   directory is stripped.
//!
//! The format comes from [`UnpackOptions::format`], else from the archive's
//! file name, else from its first bytes ([`Format::detect`]).
//!
//! Archives are untrusted input. An entry with an absolute name or a `..`
//! component, an entry written through a symlink, a symlink whose target
//! leads out of the output (absolute, unless
//! [`UnpackOptions::allow_absolute_symlinks`], or with too many `..`), and
//! a hard link to anything but an earlier entry are all refused with an
//! [`UnpackError::Unsafe`] naming the archive and the entry; see
//! [`Problem`]. Devices, FIFOs and other special entries are skipped and
//! listed in [`Unpacked::skipped`]: a store path cannot hold them, and
//! Debian packages never need them. On any error the output directory is
//! removed, so nothing is left behind.

mod deb;
mod format;
mod krate;
mod path;
mod tar;
mod tree;
mod zip;

#[cfg(test)]
mod tests;

use std::ffi::OsString;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use thiserror::Error;

pub use format::Format;
use format::FormatNames;
use tree::Tree;

/// How to unpack an archive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnpackOptions {
    /// The format; `None` detects it from the file name, then the contents.
    pub format: Option<Format>,
    /// How many leading path components to drop from every entry (like
    /// `tar --strip-components`); `None` means the format's default
    /// ([`Format::default_strip_components`]). Entries with no more
    /// components than this are skipped.
    pub strip_components: Option<usize>,
    /// Keep absolute symlinks as they are instead of refusing them: for
    /// Debian packages that make up a root filesystem, whose links such as
    /// `/usr/bin/cc -> /etc/alternatives/cc` are meant for that root. They
    /// are never followed while unpacking.
    pub allow_absolute_symlinks: bool,
}

/// What [`unpack`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpacked {
    /// The format the archive was read as.
    pub format: Format,
    /// How many directories, files and links were made.
    pub entries: u64,
    /// Entries that were left out, in archive order.
    pub skipped: Vec<Skipped>,
}

/// An entry that was left out of the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Its name in the archive.
    pub entry: String,
    /// Its tar type flag (`3` character device, `4` block device, `6`
    /// FIFO, …) as a character.
    pub kind: char,
}

/// Why an entry is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Problem {
    /// The name is absolute.
    #[error("is an absolute path")]
    Absolute,
    /// The name has a `..` component.
    #[error("has a `..` component")]
    DotDot,
    /// The name has a NUL byte.
    #[error("has a NUL byte in its name")]
    Nul,
    /// A parent of the entry is a symlink made by an earlier entry.
    #[error("would be written through the symlink `{}`", .link.to_string_lossy())]
    ThroughSymlink {
        /// The symlink, relative to the output.
        link: OsString,
    },
    /// A parent of the entry is a regular file.
    #[error("would be written below the file `{}`", .file.to_string_lossy())]
    ThroughFile {
        /// The file, relative to the output.
        file: OsString,
    },
    /// A symlink's target is absolute, and that was not allowed.
    #[error("is a symlink to the absolute path `{}` (set `allowAbsoluteSymlinks` for a root filesystem)", .target.to_string_lossy())]
    AbsoluteSymlink {
        /// The target.
        target: OsString,
    },
    /// A symlink's target leads out of the output.
    #[error("is a symlink to `{}`, which leads out of the output", .target.to_string_lossy())]
    SymlinkEscapes {
        /// The target.
        target: OsString,
    },
    /// A hard link's target is not an earlier file or link of the archive.
    #[error("is a hard link to `{}`, which is not an earlier file of the archive", .target.to_string_lossy())]
    HardLinkOutside {
        /// The target, relative to the output.
        target: OsString,
    },
    /// A directory and a non-directory have the same name.
    #[error("clashes with an earlier entry of another type")]
    Conflict,
}

/// Why an archive could not be unpacked.
#[derive(Debug, Error)]
pub enum UnpackError {
    /// The output exists already.
    #[error("`{path}` already exists")]
    Exists {
        /// The output.
        path: PathBuf,
    },
    /// The `format` names no known format.
    #[error("unknown archive format `{name}`, expected one of {}", FormatNames)]
    UnknownFormatName {
        /// The name given.
        name: String,
    },
    /// Neither the name nor the first bytes tell the format.
    #[error("cannot tell the format of `{archive}` from its name or its first bytes; set `format`")]
    UnknownFormat {
        /// The archive.
        archive: PathBuf,
    },
    /// The archive could not be opened.
    #[error("cannot open the archive `{archive}`")]
    Open {
        /// The archive.
        archive: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The archive (or a member of it) could not be read or decompressed.
    #[error("cannot read the {format} archive `{archive}`")]
    Read {
        /// The archive.
        archive: PathBuf,
        /// The format it was read as.
        format: Format,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// An entry's contents could not be read or decompressed.
    #[error("cannot read entry `{entry}` of `{archive}`")]
    Contents {
        /// The archive.
        archive: PathBuf,
        /// The entry.
        entry: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A zip archive is malformed.
    #[error("cannot read the zip archive `{archive}`")]
    Zip {
        /// The archive.
        archive: PathBuf,
        /// Why.
        #[source]
        source: ::zip::result::ZipError,
    },
    /// A `.deb` has no `data.tar` member, or one compressed in an unknown way.
    #[error(
        "`{archive}` is not a Debian package: no `data.tar`, `data.tar.gz`, `.xz`, `.zst` or `.bz2` member"
    )]
    NoDataTar {
        /// The archive.
        archive: PathBuf,
    },
    /// A crate's entries are not all under one `<name>-<version>/` directory.
    #[error("entry `{entry}` of the crate `{archive}` is not under its top directory `{top}/`")]
    CrateLayout {
        /// The archive.
        archive: PathBuf,
        /// The entry.
        entry: String,
        /// The top directory of the first entry.
        top: String,
    },
    /// An entry is refused.
    #[error("entry `{entry}` of `{archive}` {problem}")]
    Unsafe {
        /// The archive.
        archive: PathBuf,
        /// The entry, as named in the archive.
        entry: String,
        /// What is wrong with it.
        problem: Problem,
    },
    /// The output could not be written (the cause names the file).
    #[error("cannot unpack `{archive}`")]
    Write {
        /// The archive.
        archive: PathBuf,
        /// Why (an `fs_err` error naming the path).
        #[source]
        source: io::Error,
    },
}

/// Unpacks `archive` into `dest`, which must not exist, and reports what
/// was made. `name` is the archive's name for format detection (for a
/// store path, its name rather than the physical path, which may differ).
///
/// On error, `dest` is removed.
pub fn unpack(
    archive: &Path,
    name: &str,
    dest: &Path,
    options: &UnpackOptions,
) -> Result<Unpacked, UnpackError> {
    let format = match options.format {
        Some(format) => format,
        None => detect(archive, name)?,
    };
    let strip = options
        .strip_components
        .unwrap_or(format.default_strip_components());
    let mut tree = Tree::create(dest, archive, options.allow_absolute_symlinks)?;
    let result = run(format, archive, strip, &mut tree).and_then(|skipped| {
        let entries = tree.finish()?;
        Ok(Unpacked {
            format,
            entries,
            skipped,
        })
    });
    if result.is_err() {
        // The error at hand matters more than a failed clean-up, and the
        // store removes stale temporaries anyway.
        let _ = fs_err::remove_dir_all(dest);
    }
    result
}

fn run(
    format: Format,
    archive: &Path,
    strip: usize,
    tree: &mut Tree,
) -> Result<Vec<Skipped>, UnpackError> {
    let file = fs_err::File::open(archive).map_err(|source| UnpackError::Open {
        archive: archive.to_owned(),
        source,
    })?;
    let input = io::BufReader::with_capacity(256 * 1024, file);
    match format {
        Format::Zip | Format::Wheel => zip::unpack(input.into_inner(), archive, strip, tree),
        Format::Deb => deb::unpack(input, archive, strip, tree),
        Format::Crate => krate::unpack(input, archive, strip, tree),
        _ => {
            let decoded = tar::decoder(format, input).map_err(|source| UnpackError::Read {
                archive: archive.to_owned(),
                format,
                source,
            })?;
            tar::unpack(decoded, format, archive, strip, tree)
        }
    }
}

/// Detects the format of `archive` from `name`, then from its first bytes.
fn detect(archive: &Path, name: &str) -> Result<Format, UnpackError> {
    if let Some(format) = Format::from_file_name(name) {
        return Ok(format);
    }
    let open_error = |source| UnpackError::Open {
        archive: archive.to_owned(),
        source,
    };
    let mut head = Vec::with_capacity(512);
    let file = fs_err::File::open(archive).map_err(open_error)?;
    file.take(512).read_to_end(&mut head).map_err(open_error)?;
    Format::from_magic(&head).ok_or_else(|| UnpackError::UnknownFormat {
        archive: archive.to_owned(),
    })
}
