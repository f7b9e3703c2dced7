//! Deterministic image layers: a tar of the image's files whose bytes
//! depend on nothing but the files and the image's time.
//!
//! Entries are sorted by path, every parent directory is present, owners
//! are 0:0 with empty user and group names, every entry's mtime is the
//! image's `created` time, modes are fixed (0755 for directories and
//! executables, 0644 for other files, 0777 for symlinks), and there are no
//! extended attributes or device entries. The tar is compressed with gzip
//! by `flate2` (its Rust back end, pinned by Cargo.lock) at level 9, with
//! a header that holds no time, no name and the "unknown" OS byte, so the
//! compressed bytes are as reproducible as the tar.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use flate2::{Compression, GzBuilder};
use sha2::{Digest as _, Sha256};
use thiserror::Error;

/// The gzip level of layers.
pub const GZIP_LEVEL: u32 = 9;
/// The gzip header's OS byte: 255, unknown (not the OS that built it).
pub const GZIP_OS_UNKNOWN: u8 = 255;

/// One entry of a layer, by its path in the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A directory.
    Dir,
    /// A regular file: where its bytes are on the host, and whether it is
    /// executable.
    File {
        /// The host file.
        source: PathBuf,
        /// Mode 0755 rather than 0644.
        executable: bool,
    },
    /// A symbolic link.
    Symlink {
        /// Its target, as written.
        target: PathBuf,
    },
}

/// Why a layer could not be made.
#[derive(Debug, Error)]
pub enum LayerError {
    /// A path in the image is not absolute or has `.`/`..` parts.
    #[error("`{0}` is not a normal absolute path in the image")]
    BadPath(String),
    /// Two contents claim one path with different entries.
    #[error("`{0}` is given twice in the image, with different contents")]
    Conflict(String),
    /// A host file is neither a file, a directory nor a symlink.
    #[error("`{0}` is not a regular file, directory or symlink")]
    Unsupported(PathBuf),
    /// Reading or writing failed.
    #[error("{what} `{path}`")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

fn io_error<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> LayerError + 'a {
    move |source| LayerError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

/// The entries of a layer, by path relative to `/` (`usr/bin/uv`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    entries: BTreeMap<String, Entry>,
}

impl Tree {
    /// Adds a directory (and its parents).
    pub fn add_dir(&mut self, at: &str) -> Result<(), LayerError> {
        let relative = normal(at)?;
        self.add_parents(&relative)?;
        if !relative.is_empty() {
            self.insert(relative, Entry::Dir)?;
        }
        Ok(())
    }

    /// Adds the host path `source` (a file, a symlink, or a directory with
    /// everything below it) at `at` in the image, with its parents.
    pub fn add(&mut self, source: &Path, at: &str) -> Result<(), LayerError> {
        let relative = normal(at)?;
        self.add_parents(&relative)?;
        self.add_host(source, relative)
    }

    /// The entries, in the order the tar holds them.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.entries
            .iter()
            .map(|(path, entry)| (path.as_str(), entry))
    }

    fn add_host(&mut self, source: &Path, relative: String) -> Result<(), LayerError> {
        let meta = fs_err::symlink_metadata(source).map_err(io_error("cannot read", source))?;
        let kind = meta.file_type();
        if kind.is_symlink() {
            let target = fs_err::read_link(source).map_err(io_error("cannot read", source))?;
            return self.insert(relative, Entry::Symlink { target });
        }
        if kind.is_file() {
            use std::os::unix::fs::PermissionsExt as _;
            let executable = meta.permissions().mode() & 0o111 != 0;
            let entry = Entry::File {
                source: source.to_owned(),
                executable,
            };
            return self.insert(relative, entry);
        }
        if !kind.is_dir() {
            return Err(LayerError::Unsupported(source.to_owned()));
        }
        if !relative.is_empty() {
            self.insert(relative.clone(), Entry::Dir)?;
        }
        let mut names: Vec<_> = fs_err::read_dir(source)
            .map_err(io_error("cannot list", source))?
            .map(|entry| entry.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(io_error("cannot list", source))?;
        names.sort();
        for name in names {
            let name_text = name.to_string_lossy().into_owned();
            let child = if relative.is_empty() {
                name_text
            } else {
                format!("{relative}/{name_text}")
            };
            self.add_host(&source.join(&name), child)?;
        }
        Ok(())
    }

    fn add_parents(&mut self, relative: &str) -> Result<(), LayerError> {
        let mut end = 0;
        while let Some(slash) = relative[end..].find('/') {
            end += slash;
            self.insert(relative[..end].to_owned(), Entry::Dir)?;
            end += 1;
        }
        Ok(())
    }

    fn insert(&mut self, relative: String, entry: Entry) -> Result<(), LayerError> {
        match self.entries.get(&relative) {
            None => {
                self.entries.insert(relative, entry);
                Ok(())
            }
            Some(existing) if *existing == entry => Ok(()),
            Some(_) => Err(LayerError::Conflict(format!("/{relative}"))),
        }
    }
}

/// `/usr/bin/uv` → `usr/bin/uv`; `/` → the empty string.
fn normal(at: &str) -> Result<String, LayerError> {
    let bad = || LayerError::BadPath(at.to_owned());
    let rest = at.strip_prefix('/').ok_or_else(bad)?;
    let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    if parts.iter().any(|p| *p == "." || *p == "..") || at.contains('\0') {
        return Err(bad());
    }
    Ok(parts.join("/"))
}

/// A written layer: the compressed blob and the digests the image needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// The gzip-compressed tar.
    pub blob: Vec<u8>,
    /// `sha256:<hex>` of the uncompressed tar (the config's `diff_ids`).
    pub diff_id: String,
}

/// Writes `tree` as a tar with every mtime `mtime`, and compresses it.
pub fn write(tree: &Tree, mtime: u64) -> Result<Layer, LayerError> {
    let mut tar_bytes = Vec::new();
    {
        let mut builder = tar::Builder::new(&mut tar_bytes);
        builder.mode(tar::HeaderMode::Deterministic);
        for (path, entry) in tree.entries() {
            append(&mut builder, path, entry, mtime)?;
        }
        builder
            .finish()
            .map_err(io_error("cannot write the layer", Path::new("/")))?;
    }
    let diff_id = format!("sha256:{:x}", Sha256::digest(&tar_bytes));
    let mut encoder = GzBuilder::new()
        .mtime(0)
        .operating_system(GZIP_OS_UNKNOWN)
        .write(Vec::new(), Compression::new(GZIP_LEVEL));
    let compressed = encoder
        .write_all(&tar_bytes)
        .and_then(|()| encoder.finish())
        .map_err(io_error("cannot compress the layer", Path::new("/")))?;
    Ok(Layer {
        blob: compressed,
        diff_id,
    })
}

fn append(
    builder: &mut tar::Builder<&mut Vec<u8>>,
    path: &str,
    entry: &Entry,
    mtime: u64,
) -> Result<(), LayerError> {
    let mut header = tar::Header::new_ustar();
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(mtime);
    let fail = io_error("cannot add to the layer", Path::new(path));
    match entry {
        Entry::Dir => {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            builder
                .append_data(&mut header, format!("{path}/"), io::empty())
                .map_err(fail)
        }
        Entry::File { source, executable } => {
            let bytes = fs_err::read(source).map_err(io_error("cannot read", source))?;
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(if *executable { 0o755 } else { 0o644 });
            header.set_size(bytes.len() as u64);
            builder
                .append_data(&mut header, path, bytes.as_slice())
                .map_err(fail)
        }
        Entry::Symlink { target } => {
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_mode(0o777);
            header.set_size(0);
            builder.append_link(&mut header, path, target).map_err(fail)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree_in(dir: &Path) -> Tree {
        fs_err::create_dir_all(dir.join("bin")).unwrap();
        fs_err::write(dir.join("bin/uv"), b"\x7fELF binary").unwrap();
        fs_err::write(dir.join("bin/README"), b"text").unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        fs_err::set_permissions(dir.join("bin/uv"), std::fs::Permissions::from_mode(0o555))
            .unwrap();
        std::os::unix::fs::symlink("uv", dir.join("bin/uvx")).unwrap();
        tree_in_place(dir)
    }

    #[test]
    fn entries_are_sorted_with_their_parents() {
        let dir = tempfile::TempDir::new().unwrap();
        let tree = tree_in(dir.path());
        let paths: Vec<&str> = tree.entries().map(|(p, _)| p).collect();
        assert_eq!(
            paths,
            [
                "io",
                "opt",
                "opt/tools",
                "opt/tools/README",
                "opt/tools/uv",
                "opt/tools/uvx",
                "uv"
            ]
        );
    }

    #[test]
    fn a_layer_is_the_same_bytes_every_time_and_fixes_owners_modes_and_times() {
        let dir = tempfile::TempDir::new().unwrap();
        let tree = tree_in(dir.path());
        let first = write(&tree, 315_532_800).unwrap();
        // Other host metadata: a later mtime, another mode for a plain file.
        use std::os::unix::fs::PermissionsExt as _;
        let readme = dir.path().join("bin/README");
        fs_err::set_permissions(&readme, std::fs::Permissions::from_mode(0o600)).unwrap();
        let again = write(&tree_in_place(dir.path()), 315_532_800).unwrap();
        assert_eq!(first, again);
        // gzip header: magic, deflate, no flags, mtime 0, OS unknown.
        assert_eq!(&first.blob[..4], &[0x1f, 0x8b, 8, 0]);
        assert_eq!(&first.blob[4..8], &[0, 0, 0, 0]);
        assert_eq!(first.blob[9], GZIP_OS_UNKNOWN);

        let decoder = flate2::read::GzDecoder::new(first.blob.as_slice());
        let mut archive = tar::Archive::new(decoder);
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            let header = entry.header();
            assert_eq!((header.uid().unwrap(), header.gid().unwrap()), (0, 0));
            assert_eq!(header.mtime().unwrap(), 315_532_800);
            let path = entry.path().unwrap().display().to_string();
            seen.push((path, header.mode().unwrap()));
        }
        assert!(seen.contains(&("uv".into(), 0o755)), "{seen:?}");
        assert!(
            seen.contains(&("opt/tools/README".into(), 0o644)),
            "{seen:?}"
        );
        assert!(seen.contains(&("io/".into(), 0o755)), "{seen:?}");
        // Another time, another layer.
        assert_ne!(write(&tree, 1).unwrap().diff_id, first.diff_id);
    }

    /// The same tree from files already in place.
    fn tree_in_place(dir: &Path) -> Tree {
        let mut tree = Tree::default();
        tree.add(&dir.join("bin/uv"), "/uv").unwrap();
        tree.add(&dir.join("bin"), "/opt/tools").unwrap();
        tree.add_dir("/io").unwrap();
        tree
    }

    #[test]
    fn bad_paths_and_conflicts_are_refused() {
        let dir = tempfile::TempDir::new().unwrap();
        let file = dir.path().join("f");
        fs_err::write(&file, b"x").unwrap();
        let mut tree = Tree::default();
        for bad in ["relative", "/a/../b", "/./a"] {
            assert!(
                matches!(tree.add(&file, bad), Err(LayerError::BadPath(_))),
                "{bad}"
            );
        }
        tree.add(&file, "/a").unwrap();
        tree.add(&file, "/a").unwrap();
        assert!(matches!(tree.add_dir("/a"), Err(LayerError::Conflict(p)) if p == "/a"));
    }
}
