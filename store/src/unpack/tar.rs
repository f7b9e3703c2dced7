//! Tar archives, plain or compressed with gzip, xz, zstd or bzip2.
//!
//! Entries are read with the `tar` crate, which resolves GNU long names and
//! PAX extended headers, and written by the module's safe
//! [`Tree`](super::tree::Tree), never by the crate's own `unpack`. Repeated
//! names behave as with GNU tar: the later entry replaces the earlier one.

use std::ffi::OsStr;
use std::io::{self, BufRead, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use tar::EntryType;

use super::path::{Cleaned, clean};
use super::tree::{Tree, lossy};
use super::{Format, Problem, Skipped, UnpackError};

/// Returns a reader of the tar stream inside `input`, decompressing it as
/// `format` says (`Tar` passes it through). Concatenated gzip, xz and bzip2
/// streams are read as one, as `tar` does.
pub(super) fn decoder<'a>(
    format: Format,
    input: impl BufRead + 'a,
) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match format {
        Format::TarGz | Format::Crate => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        Format::TarXz => Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(input)),
        Format::TarZst => Box::new(zstd::stream::read::Decoder::with_buffer(input)?),
        Format::TarBz2 => Box::new(bzip2::bufread::MultiBzDecoder::new(input)),
        Format::Tar | Format::Zip | Format::Wheel | Format::Deb => Box::new(input),
    })
}

/// Unpacks the tar stream `input` (already decompressed) into `tree`,
/// dropping `strip` leading components of every name; returns the entries
/// that were skipped. `format` and `archive` name the archive in errors.
pub(super) fn unpack(
    input: impl Read,
    format: Format,
    archive: &Path,
    strip: usize,
    tree: &mut Tree,
) -> Result<Vec<Skipped>, UnpackError> {
    unpack_with(input, format, archive, strip, tree, &mut |_| Ok(()))
}

/// Like [`unpack`], calling `check` with each entry's raw name first.
pub(super) fn unpack_with(
    input: impl Read,
    format: Format,
    archive: &Path,
    strip: usize,
    tree: &mut Tree,
    check: &mut dyn FnMut(&[u8]) -> Result<(), UnpackError>,
) -> Result<Vec<Skipped>, UnpackError> {
    let read_error = |source| UnpackError::Read {
        archive: archive.to_owned(),
        format,
        source,
    };
    let mut reader = tar::Archive::new(input);
    let mut skipped = Vec::new();
    for entry in reader.entries().map_err(read_error)? {
        let mut entry = entry.map_err(read_error)?;
        let name = entry.path_bytes().into_owned();
        check(&name)?;
        let kind = entry.header().entry_type();
        if let Some(skip) = special(&name, kind) {
            skipped.extend(skip);
            continue;
        }
        let path = match clean(&name, strip) {
            Ok(Cleaned::Path(path)) => path,
            Ok(Cleaned::Nothing) => continue,
            Err(problem) => return Err(tree.unsafe_entry(&name, problem)),
        };
        match kind {
            EntryType::Directory => tree.dir(&name, &path)?,
            EntryType::Symlink => {
                let target = link_name(&entry, &name, tree)?;
                tree.symlink(&name, &path, OsStr::from_bytes(&target))?;
            }
            EntryType::Link => {
                let target = link_name(&entry, &name, tree)?;
                let target = match clean(&target, strip) {
                    Ok(Cleaned::Path(target)) => target,
                    Ok(Cleaned::Nothing) | Err(_) => {
                        let target = OsStr::from_bytes(&target).to_owned();
                        return Err(tree.unsafe_entry(&name, Problem::HardLinkOutside { target }));
                    }
                };
                tree.hard_link(&name, &path, &target)?;
            }
            _ => {
                let mode = entry.header().mode().map_err(read_error)?;
                tree.file(&name, &path, mode & 0o111 != 0, &mut entry)?;
            }
        }
    }
    Ok(skipped)
}

/// Decides whether an entry is one that is not unpacked: `Some(None)` for
/// headers with nothing to unpack (a PAX global header), `Some(Some(…))`
/// for devices, FIFOs and unknown types, which are reported.
fn special(name: &[u8], kind: EntryType) -> Option<Option<Skipped>> {
    match kind {
        EntryType::Regular
        | EntryType::Continuous
        | EntryType::GNUSparse
        | EntryType::Directory
        | EntryType::Symlink
        | EntryType::Link => None,
        EntryType::XGlobalHeader => Some(None),
        other => Some(Some(Skipped {
            entry: lossy(name),
            kind: char::from(other.as_byte()),
        })),
    }
}

/// Returns a link's target, which must be there.
fn link_name<R: Read>(
    entry: &tar::Entry<'_, R>,
    name: &[u8],
    tree: &Tree,
) -> Result<Vec<u8>, UnpackError> {
    match entry.link_name_bytes() {
        Some(target) if !target.is_empty() => Ok(target.into_owned()),
        _ => Err(tree.unsafe_entry(
            name,
            Problem::HardLinkOutside {
                target: Default::default(),
            },
        )),
    }
}
