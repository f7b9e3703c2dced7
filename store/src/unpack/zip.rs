//! Zip archives and Python wheels.
//!
//! Entries are read in central-directory order. A name ending in `/` is a
//! directory. The Unix mode in an entry's external attributes, when the
//! archive was made on Unix, decides whether a file is executable and
//! whether the entry is a symlink (whose contents are its target); archives
//! made elsewhere have no modes, and their files are not executable.

use std::ffi::OsStr;
use std::io::{Read, Seek};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::path::{Cleaned, clean};
use super::tree::{Tree, lossy};
use super::{Skipped, UnpackError};

/// The longest symlink target read from a zip entry (Linux's `PATH_MAX`).
const MAX_TARGET: u64 = 4096;

/// Unpacks the zip archive `input` into `tree`, dropping `strip` leading
/// components of every name. `archive` names it in errors.
pub(super) fn unpack(
    input: impl Read + Seek,
    archive: &Path,
    strip: usize,
    tree: &mut Tree,
) -> Result<Vec<Skipped>, UnpackError> {
    let zip_error = |source| UnpackError::Zip {
        archive: archive.to_owned(),
        source,
    };
    let mut reader = ::zip::ZipArchive::new(input).map_err(zip_error)?;
    for index in 0..reader.len() {
        let mut entry = reader.by_index(index).map_err(zip_error)?;
        let name = entry.name_raw().to_owned();
        let path = match clean(&name, strip) {
            Ok(Cleaned::Path(path)) => path,
            Ok(Cleaned::Nothing) => continue,
            Err(problem) => return Err(tree.unsafe_entry(&name, problem)),
        };
        if entry.is_dir() {
            tree.dir(&name, &path)?;
        } else if entry.is_symlink() {
            let mut target = Vec::new();
            (&mut entry)
                .take(MAX_TARGET)
                .read_to_end(&mut target)
                .map_err(|source| UnpackError::Contents {
                    archive: archive.to_owned(),
                    entry: lossy(&name),
                    source,
                })?;
            tree.symlink(&name, &path, OsStr::from_bytes(&target))?;
        } else {
            let executable = entry.unix_mode().is_some_and(|mode| mode & 0o111 != 0);
            tree.file(&name, &path, executable, &mut entry)?;
        }
    }
    Ok(Vec::new())
}
