//! The output tree: creates directories, files, symlinks and hard links
//! below the root, never through a symlink.
//!
//! The root is a fresh directory that only this unpacker writes to, so the
//! [`Tree`] keeps in memory what it has put at each path and checks every
//! parent of a new entry against it: a parent that is a symlink (made
//! earlier by the same archive) is refused rather than followed, and a
//! missing parent is created as a real directory. Files are opened with
//! `O_NOFOLLOW | O_EXCL` as a second line of defence. Symlink targets are
//! checked when the link is made and again, against the finished tree, by
//! [`Tree::finish`], since a later link can change where an earlier one
//! leads.
//!
//! What ends up on disk is deterministic: no owners, directories 0o755,
//! files 0o755 when the archive gave any execute bit and 0o644 otherwise;
//! the store canonicalises times and modes when it registers the path.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use fs_err::os::unix::fs::OpenOptionsExt;

use super::path::{Node, RelPath, check_symlink};
use super::{Problem, UnpackError};

/// The output tree being unpacked into.
pub(super) struct Tree {
    root: PathBuf,
    archive: PathBuf,
    allow_absolute_symlinks: bool,
    nodes: HashMap<PathBuf, Node>,
    files: u64,
    /// The copy buffer, reused for every file.
    buf: Vec<u8>,
}

impl Tree {
    /// Creates the root directory, which must not exist yet.
    pub(super) fn create(
        root: &Path,
        archive: &Path,
        allow_absolute_symlinks: bool,
    ) -> Result<Tree, UnpackError> {
        if fs_err::symlink_metadata(root).is_ok() {
            return Err(UnpackError::Exists {
                path: root.to_owned(),
            });
        }
        fs_err::create_dir(root).map_err(|source| UnpackError::Write {
            archive: archive.to_owned(),
            source,
        })?;
        Ok(Tree {
            root: root.to_owned(),
            archive: archive.to_owned(),
            allow_absolute_symlinks,
            nodes: HashMap::new(),
            files: 0,
            buf: vec![0; 64 * 1024],
        })
    }

    /// Returns the error for entry `entry` (as named in the archive).
    pub(super) fn unsafe_entry(&self, entry: &[u8], problem: Problem) -> UnpackError {
        UnpackError::Unsafe {
            archive: self.archive.clone(),
            entry: lossy(entry),
            problem,
        }
    }

    fn write_error(&self, source: io::Error) -> UnpackError {
        UnpackError::Write {
            archive: self.archive.clone(),
            source,
        }
    }

    /// Makes a directory (and its parents).
    pub(super) fn dir(&mut self, entry: &[u8], path: &RelPath) -> Result<(), UnpackError> {
        self.parents(entry, path)?;
        match self.nodes.get(path.as_path()) {
            Some(Node::Dir) => Ok(()),
            Some(_) => Err(self.unsafe_entry(entry, Problem::Conflict)),
            None => self.mkdir(path.as_path()),
        }
    }

    /// Writes a regular file from `contents`.
    pub(super) fn file(
        &mut self,
        entry: &[u8],
        path: &RelPath,
        executable: bool,
        contents: &mut dyn Read,
    ) -> Result<(), UnpackError> {
        self.replaceable(entry, path)?;
        let full = self.root.join(path.as_path());
        let mut file = fs_err::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(if executable { 0o755 } else { 0o644 })
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&full)
            .map_err(|e| self.write_error(e))?;
        loop {
            let n = match contents.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(UnpackError::Contents {
                        archive: self.archive.clone(),
                        entry: lossy(entry),
                        source,
                    });
                }
            };
            let chunk = self.buf.get(..n).unwrap_or_default();
            if let Err(source) = file.write_all(chunk) {
                return Err(self.write_error(source));
            }
        }
        self.insert(path, Node::File);
        Ok(())
    }

    /// Makes a symlink to `target`, if the target stays inside the root.
    pub(super) fn symlink(
        &mut self,
        entry: &[u8],
        path: &RelPath,
        target: &OsStr,
    ) -> Result<(), UnpackError> {
        check_symlink(&self.nodes, path, target, self.allow_absolute_symlinks)
            .map_err(|problem| self.unsafe_entry(entry, problem))?;
        self.replaceable(entry, path)?;
        fs_err::os::unix::fs::symlink(target, self.root.join(path.as_path()))
            .map_err(|e| self.write_error(e))?;
        self.insert(path, Node::Symlink(target.to_owned()));
        Ok(())
    }

    /// Makes a hard link to `target`, an earlier entry of the same archive:
    /// a regular file is linked, a symlink copied.
    pub(super) fn hard_link(
        &mut self,
        entry: &[u8],
        path: &RelPath,
        target: &RelPath,
    ) -> Result<(), UnpackError> {
        let outside = || Problem::HardLinkOutside {
            target: target.as_path().as_os_str().to_owned(),
        };
        match self.nodes.get(target.as_path()).cloned() {
            Some(Node::File) => {
                self.replaceable(entry, path)?;
                let (from, to) = (
                    self.root.join(target.as_path()),
                    self.root.join(path.as_path()),
                );
                fs_err::hard_link(from, to).map_err(|e| self.write_error(e))?;
                self.insert(path, Node::File);
                Ok(())
            }
            Some(Node::Symlink(link_target)) => self.symlink(entry, path, &link_target),
            Some(Node::Dir) | None => Err(self.unsafe_entry(entry, outside())),
        }
    }

    /// Checks every symlink against the finished tree and returns how many
    /// entries were made.
    pub(super) fn finish(self) -> Result<u64, UnpackError> {
        let mut links: Vec<_> = self
            .nodes
            .iter()
            .filter_map(|(path, node)| match node {
                Node::Symlink(target) => Some((path, target)),
                _ => None,
            })
            .collect();
        links.sort();
        for (path, target) in links {
            let link = RelPath::from_clean(path.clone());
            check_symlink(&self.nodes, &link, target, self.allow_absolute_symlinks).map_err(
                |problem| self.unsafe_entry(path.as_os_str().as_encoded_bytes(), problem),
            )?;
        }
        Ok(self.files)
    }

    /// Makes sure `path` can be written as a non-directory: its parents
    /// are directories, and whatever an earlier entry put there (not a
    /// directory) is removed, as tar does when a name repeats.
    fn replaceable(&mut self, entry: &[u8], path: &RelPath) -> Result<(), UnpackError> {
        self.parents(entry, path)?;
        match self.nodes.get(path.as_path()) {
            None => Ok(()),
            Some(Node::Dir) => Err(self.unsafe_entry(entry, Problem::Conflict)),
            Some(_) => {
                fs_err::remove_file(self.root.join(path.as_path()))
                    .map_err(|e| self.write_error(e))?;
                self.nodes.remove(path.as_path());
                Ok(())
            }
        }
    }

    /// Makes the parents of `path` as directories, refusing to go through
    /// anything that is not one.
    fn parents(&mut self, entry: &[u8], path: &RelPath) -> Result<(), UnpackError> {
        let mut at = PathBuf::new();
        let count = path.components().count();
        for part in path.components().take(count.saturating_sub(1)) {
            at.push(part);
            match self.nodes.get(&at) {
                Some(Node::Dir) => {}
                Some(Node::Symlink(_)) => {
                    let link = at.into_os_string();
                    return Err(self.unsafe_entry(entry, Problem::ThroughSymlink { link }));
                }
                Some(Node::File) => {
                    let file = at.into_os_string();
                    return Err(self.unsafe_entry(entry, Problem::ThroughFile { file }));
                }
                None => self.mkdir(&at)?,
            }
        }
        Ok(())
    }

    fn mkdir(&mut self, path: &Path) -> Result<(), UnpackError> {
        fs_err::create_dir(self.root.join(path)).map_err(|e| self.write_error(e))?;
        self.nodes.insert(path.to_owned(), Node::Dir);
        self.files += 1;
        Ok(())
    }

    fn insert(&mut self, path: &RelPath, node: Node) {
        self.nodes.insert(path.as_path().to_owned(), node);
        self.files += 1;
    }
}

/// Keeps the name of an entry as text, for reports and messages.
pub(super) fn lossy(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}
