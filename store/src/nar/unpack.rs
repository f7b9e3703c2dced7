//! Unpacking a NAR into the file system, all or nothing.
//!
//! [`unpack`] restores the tree into a temporary sibling of the destination
//! (`.<name>.tmp-<random>`) and renames it into place only once the whole
//! NAR has been read and checked; on any error the temporary is removed, so
//! a failed unpack leaves nothing behind. The rename refuses to replace
//! anything that appeared at the destination meanwhile.
//!
//! Regular files get mode 0o755 or 0o644 and directories 0o755; making
//! them read-only (0o555/0o444) is the store's job when it registers a path.

use fs_err::os::unix::fs::OpenOptionsExt;
use std::ffi::OsStr;
use std::fs::Permissions;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::read::{Event, ReadError, Reader};

/// Why a NAR could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The destination exists already.
    #[error("`{path}` already exists")]
    Exists {
        /// The destination.
        path: PathBuf,
    },
    /// The destination has no file name (`/`, `..`).
    #[error("`{path}` cannot be a destination: it has no file name")]
    NoFileName {
        /// The destination.
        path: PathBuf,
    },
    /// The NAR is invalid or could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The tree could not be written (the cause names the file).
    #[error("cannot write the unpacked tree")]
    Write(#[source] io::Error),
    /// The finished tree could not be moved into place.
    #[error("cannot rename `{from}` to `{to}`")]
    Rename {
        /// The temporary.
        from: PathBuf,
        /// The destination.
        to: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// Unpacks the NAR read from `input` to `dest`, which must not exist, and
/// returns the NAR's length in bytes.
///
/// The reader makes many small reads: give it a buffered reader.
pub fn unpack(input: impl Read, dest: &Path) -> Result<u64, UnpackError> {
    let name = dest.file_name().ok_or_else(|| UnpackError::NoFileName {
        path: dest.to_owned(),
    })?;
    if fs_err::symlink_metadata(dest).is_ok() {
        return Err(UnpackError::Exists {
            path: dest.to_owned(),
        });
    }
    let parent = match dest.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let temp = temporary_name(parent, name);
    let result = restore(Reader::new(input), &temp).and_then(|len| {
        rustix::fs::renameat_with(
            rustix::fs::CWD,
            &temp,
            rustix::fs::CWD,
            dest,
            rustix::fs::RenameFlags::NOREPLACE,
        )
        .map_err(|errno| rename_error(&temp, dest, errno))?;
        Ok(len)
    });
    if result.is_err() {
        remove_all(&temp);
    }
    result
}

fn rename_error(from: &Path, to: &Path, errno: rustix::io::Errno) -> UnpackError {
    if errno == rustix::io::Errno::EXIST {
        return UnpackError::Exists {
            path: to.to_owned(),
        };
    }
    UnpackError::Rename {
        from: from.to_owned(),
        to: to.to_owned(),
        source: errno.into(),
    }
}

/// Returns `parent/.<name>.tmp-<random>`.
fn temporary_name(parent: &Path, name: &OsStr) -> PathBuf {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // `RandomState` is seeded from the OS; mixing in the pid, the time and a
    // counter keeps names distinct across threads and processes.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    if let Ok(now) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        hasher.write_u128(now.as_nanos());
    }
    let mut file = OsStr::new(".").to_owned();
    file.push(name);
    file.push(format!(".tmp-{:016x}", hasher.finish()));
    parent.join(file)
}

/// Removes a temporary tree, ignoring errors: it is best effort cleanup
/// after an error that is already being reported.
fn remove_all(path: &Path) {
    match fs_err::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => {
            let _ = fs_err::remove_dir_all(path);
        }
        Ok(_) => {
            let _ = fs_err::remove_file(path);
        }
        Err(_) => {}
    }
}

/// Restores every node of the NAR under `root`.
fn restore(mut reader: Reader<impl Read>, root: &Path) -> Result<u64, UnpackError> {
    let mut buf = vec![0; 256 * 1024];
    let mut target = PathBuf::new();
    while let Some(event) = reader.next()? {
        match event {
            Event::Directory { path } => {
                fs_err::create_dir(join(root, path)).map_err(UnpackError::Write)?;
            }
            Event::DirectoryEnd { .. } => {}
            Event::Symlink { path, target: to } => {
                target.clear();
                target.push(OsStr::from_bytes(to));
                fs_err::os::unix::fs::symlink(&target, join(root, path))
                    .map_err(UnpackError::Write)?;
            }
            Event::Regular {
                path, executable, ..
            } => {
                let path = join(root, path);
                write_file(&mut reader, &path, executable, &mut buf)?;
            }
        }
    }
    Ok(reader.offset())
}

/// Creates a regular file and copies the reader's current contents into it.
fn write_file(
    reader: &mut Reader<impl Read>,
    path: &Path,
    executable: bool,
    buf: &mut [u8],
) -> Result<(), UnpackError> {
    let mode = if executable { 0o755 } else { 0o644 };
    let mut file = fs_err::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(UnpackError::Write)?;
    loop {
        let n = reader.read_contents(buf)?;
        let Some(chunk) = buf.get(..n).filter(|chunk| !chunk.is_empty()) else {
            break;
        };
        file.write_all(chunk).map_err(UnpackError::Write)?;
    }
    // The umask may have cleared bits of `mode`; set it exactly.
    file.set_permissions(Permissions::from_mode(mode))
        .map_err(UnpackError::Write)
}

/// Returns `root/path` for a NAR path (`path` empty for the root).
fn join(root: &Path, path: &[u8]) -> PathBuf {
    if path.is_empty() {
        root.to_owned()
    } else {
        root.join(OsStr::from_bytes(path))
    }
}
