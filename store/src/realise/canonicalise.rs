//! Canonicalising a file system tree before it becomes a store object, as
//! Nix's `canonicalisePathMetaData` does.
//!
//! Every file and directory gets mode 0444, or 0555 when it is a directory
//! or its owner may execute it; that drops write bits and the setuid,
//! setgid and sticky bits. Every entry, symlinks included, gets
//! modification time 1 (one second after the epoch), so that timestamps
//! never leak into what a later build sees. Symlinks are never followed.
//! Sockets, FIFOs and device nodes cannot be stored (a NAR cannot hold
//! them) and are refused by name.
//!
//! Ownership is left as it is: kiln runs as the store's owner, and a
//! sandboxed build's files are mapped back to that user.

use std::fs::{FileType, Metadata};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, CWD, Timespec, Timestamps, UTIME_OMIT};

/// The modification time of every store object, as Nix sets it.
pub const STORE_MTIME: i64 = 1;

/// Why a tree could not be canonicalised.
#[derive(Debug, thiserror::Error)]
pub enum CanonicaliseError {
    /// A file could not be read or changed.
    #[error("cannot canonicalise `{path}`")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file of a type a store object cannot hold.
    #[error("`{path}` is a {kind}, which a store path cannot hold")]
    SpecialFile {
        /// The file.
        path: PathBuf,
        /// `socket`, `FIFO`, `block device` or `character device`.
        kind: &'static str,
    },
}

/// Canonicalises the tree at `root` (a file, directory or symlink).
pub fn canonicalise(root: &Path) -> Result<(), CanonicaliseError> {
    // Post-order without recursion: a directory is fixed after its entries.
    let mut stack = vec![(root.to_owned(), false)];
    while let Some((path, entries_done)) = stack.pop() {
        let meta = symlink_metadata(&path)?;
        let file_type = meta.file_type();
        if file_type.is_dir() && !entries_done {
            stack.push((path.clone(), true));
            for entry in fs_err::read_dir(&path).map_err(|source| io(&path, source))? {
                let entry = entry.map_err(|source| io(&path, source))?;
                stack.push((entry.path(), false));
            }
            continue;
        }
        canonicalise_one(&path, &meta, file_type)?;
    }
    Ok(())
}

/// Fixes the mode and modification time of one entry.
fn canonicalise_one(
    path: &Path,
    meta: &Metadata,
    file_type: FileType,
) -> Result<(), CanonicaliseError> {
    if let Some(kind) = special_kind(file_type) {
        return Err(CanonicaliseError::SpecialFile {
            path: path.to_owned(),
            kind,
        });
    }
    if !file_type.is_symlink() {
        let mode = canonical_mode(file_type.is_dir(), meta.permissions().mode());
        if meta.permissions().mode() & 0o7777 != mode {
            set_mode(path, mode)?;
        }
    }
    set_store_mtime(path)
}

/// Returns the canonical permission bits: 0555 for directories and files
/// their owner may execute (Nix looks at `S_IXUSR` only), 0444 otherwise.
pub fn canonical_mode(is_dir: bool, mode: u32) -> u32 {
    if is_dir || mode & 0o100 != 0 {
        0o555
    } else {
        0o444
    }
}

/// Sets the permission bits of a file or directory (never a symlink).
pub fn set_mode(path: &Path, mode: u32) -> Result<(), CanonicaliseError> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|source| io(path, source))
}

/// Sets the modification time to [`STORE_MTIME`] without following a
/// symlink, leaving the access time alone.
pub fn set_store_mtime(path: &Path) -> Result<(), CanonicaliseError> {
    let times = Timestamps {
        last_access: Timespec {
            tv_sec: 0,
            tv_nsec: UTIME_OMIT,
        },
        last_modification: Timespec {
            tv_sec: STORE_MTIME,
            tv_nsec: 0,
        },
    };
    rustix::fs::utimensat(CWD, path, &times, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|errno| io(path, errno.into()))
}

/// Returns what kind of special file this is, `None` for files,
/// directories and symlinks.
pub(crate) fn special_kind(file_type: FileType) -> Option<&'static str> {
    if file_type.is_socket() {
        Some("socket")
    } else if file_type.is_fifo() {
        Some("FIFO")
    } else if file_type.is_block_device() {
        Some("block device")
    } else if file_type.is_char_device() {
        Some("character device")
    } else {
        None
    }
}

fn symlink_metadata(path: &Path) -> Result<Metadata, CanonicaliseError> {
    std::fs::symlink_metadata(path).map_err(|source| io(path, source))
}

fn io(path: &Path, source: std::io::Error) -> CanonicaliseError {
    CanonicaliseError::Io {
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    #[test]
    fn sets_modes_and_mtimes_and_strips_special_bits() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("out");
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::write(root.join("bin/tool"), b"#!/bin/sh\n").unwrap();
        std::fs::set_permissions(
            root.join("bin/tool"),
            std::fs::Permissions::from_mode(0o4755),
        )
        .unwrap();
        std::fs::write(root.join("data"), b"x").unwrap();
        std::fs::set_permissions(root.join("data"), std::fs::Permissions::from_mode(0o2666))
            .unwrap();
        std::fs::set_permissions(root.join("bin"), std::fs::Permissions::from_mode(0o1777))
            .unwrap();
        std::os::unix::fs::symlink("bin/tool", root.join("link")).unwrap();

        canonicalise(&root).unwrap();

        let mode = |p: &str| std::fs::symlink_metadata(root.join(p)).unwrap().mode() & 0o7777;
        assert_eq!(mode("bin/tool"), 0o555);
        assert_eq!(mode("data"), 0o444);
        assert_eq!(mode("bin"), 0o555);
        assert_eq!(mode(""), 0o555);
        for p in ["", "bin", "bin/tool", "data", "link"] {
            assert_eq!(
                std::fs::symlink_metadata(root.join(p)).unwrap().mtime(),
                1,
                "{p}"
            );
        }
        assert_eq!(
            std::fs::read_link(root.join("link")).unwrap(),
            Path::new("bin/tool")
        );
        // Make it deletable again for the temporary directory's cleanup.
        set_mode(&root, 0o755).unwrap();
        set_mode(&root.join("bin"), 0o755).unwrap();
    }

    #[test]
    fn refuses_a_fifo_and_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("out/pipe");
        std::fs::create_dir(dir.path().join("out")).unwrap();
        rustix::fs::mknodat(
            CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let err = canonicalise(&dir.path().join("out")).unwrap_err();
        assert!(
            matches!(&err, CanonicaliseError::SpecialFile { path, kind: "FIFO" } if *path == fifo),
            "{err}"
        );
    }

    #[test]
    fn a_single_file_and_a_dangling_symlink_are_fine() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        canonicalise(&file).unwrap();
        assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o7777, 0o444);
        let link = dir.path().join("l");
        std::os::unix::fs::symlink("/nonexistent/target", &link).unwrap();
        canonicalise(&link).unwrap();
        assert_eq!(std::fs::symlink_metadata(&link).unwrap().mtime(), 1);
    }
}
