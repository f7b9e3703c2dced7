//! Comparing two file system trees: the registered output of a derivation
//! and a new build of it, when a check finds that their NAR hashes differ.
//!
//! [`compare_trees`] walks both trees together, in name order, without
//! following symlinks, and lists each path that is in one tree only (a
//! directory once, not each file in it), or whose type, contents,
//! executable bit or symlink target differs. Modification times and other
//! permission bits are not compared: canonicalisation makes them equal.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt;
use std::fs::Metadata;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// How the contents of two files are compared: in chunks of this many
/// bytes.
const CHUNK: usize = 64 * 1024;

/// How one path differs between the registered output and the new build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DifferenceKind {
    /// The path is in the registered output only.
    OnlyRegistered,
    /// The path is in the new build only.
    OnlyRebuilt,
    /// The path has a different type in each (`file`, `directory`,
    /// `symlink`, `special file`).
    Type {
        /// Its type in the registered output.
        registered: &'static str,
        /// Its type in the new build.
        rebuilt: &'static str,
    },
    /// Two regular files with different contents.
    Contents,
    /// Two regular files, executable in one only.
    Executable {
        /// Whether the registered file is executable.
        registered: bool,
    },
    /// Two symlinks with different targets.
    SymlinkTarget {
        /// The registered symlink's target.
        registered: PathBuf,
        /// The new symlink's target.
        rebuilt: PathBuf,
    },
}

impl DifferenceKind {
    /// Returns a short camel-case name of the kind, for machines
    /// (`onlyRegistered`, `onlyRebuilt`, `type`, `contents`, `executable`,
    /// `symlinkTarget`).
    pub fn tag(&self) -> &'static str {
        match self {
            DifferenceKind::OnlyRegistered => "onlyRegistered",
            DifferenceKind::OnlyRebuilt => "onlyRebuilt",
            DifferenceKind::Type { .. } => "type",
            DifferenceKind::Contents => "contents",
            DifferenceKind::Executable { .. } => "executable",
            DifferenceKind::SymlinkTarget { .. } => "symlinkTarget",
        }
    }
}

impl fmt::Display for DifferenceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DifferenceKind::OnlyRegistered => write!(f, "only in the registered output"),
            DifferenceKind::OnlyRebuilt => write!(f, "only in the new build"),
            DifferenceKind::Type {
                registered,
                rebuilt,
            } => write!(f, "a {registered} before, a {rebuilt} in the new build"),
            DifferenceKind::Contents => write!(f, "contents differ"),
            DifferenceKind::Executable { registered: true } => {
                write!(f, "executable before, not in the new build")
            }
            DifferenceKind::Executable { registered: false } => {
                write!(f, "executable in the new build only")
            }
            DifferenceKind::SymlinkTarget {
                registered,
                rebuilt,
            } => write!(
                f,
                "symlink to `{}` before, to `{}` in the new build",
                registered.display(),
                rebuilt.display()
            ),
        }
    }
}

/// One path that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The path relative to the output's root (empty for the root).
    pub path: PathBuf,
    /// How it differs.
    pub kind: DifferenceKind,
}

impl Difference {
    /// Returns the relative path for display: `.` for the root.
    pub fn shown_path(&self) -> String {
        if self.path.as_os_str().is_empty() {
            ".".to_owned()
        } else {
            self.path.display().to_string()
        }
    }
}

impl fmt::Display for Difference {
    /// Prints `path: how`, with `.` for the root.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.shown_path(), self.kind)
    }
}

/// What [`compare_trees`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeDiff {
    /// The first differences, in path order (at most the limit asked for).
    pub differences: Vec<Difference>,
    /// How many differences there are in all.
    pub total: usize,
}

impl TreeDiff {
    /// Whether the trees are the same (as far as a store object goes).
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// How many differences were found but not listed.
    pub fn omitted(&self) -> usize {
        self.total.saturating_sub(self.differences.len())
    }

    fn record(&mut self, limit: usize, path: PathBuf, kind: DifferenceKind) {
        self.total += 1;
        if self.differences.len() < limit {
            self.differences.push(Difference { path, kind });
        }
    }
}

/// A tree could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot compare `{path}`")]
pub struct DiffError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: io::Error,
}

/// What is left to look at.
enum Item {
    /// A path in both trees.
    Both(PathBuf),
    /// A path in the registered tree only.
    OnlyRegistered(PathBuf),
    /// A path in the new tree only.
    OnlyRebuilt(PathBuf),
}

/// Compares the tree at `registered` with the tree at `rebuilt`, listing
/// at most `limit` differences (but counting them all).
pub fn compare_trees(
    registered: &Path,
    rebuilt: &Path,
    limit: usize,
) -> Result<TreeDiff, DiffError> {
    let mut diff = TreeDiff::default();
    let mut stack = vec![Item::Both(PathBuf::new())];
    while let Some(item) = stack.pop() {
        match item {
            Item::OnlyRegistered(rel) => diff.record(limit, rel, DifferenceKind::OnlyRegistered),
            Item::OnlyRebuilt(rel) => diff.record(limit, rel, DifferenceKind::OnlyRebuilt),
            Item::Both(rel) => {
                let pair = Pair {
                    registered: under(registered, &rel),
                    rebuilt: under(rebuilt, &rel),
                };
                for kind in pair.compare(&rel, &mut stack)? {
                    diff.record(limit, rel.clone(), kind);
                }
            }
        }
    }
    Ok(diff)
}

/// Returns `root/rel`, or `root` itself for the empty `rel` (joining an
/// empty path would add a slash, which makes a symlink followed).
fn under(root: &Path, rel: &Path) -> PathBuf {
    if rel.as_os_str().is_empty() {
        root.to_owned()
    } else {
        root.join(rel)
    }
}

/// The same relative path in both trees.
struct Pair {
    registered: PathBuf,
    rebuilt: PathBuf,
}

impl Pair {
    /// Returns how the two entries differ; for two directories, pushes
    /// their entries onto `stack` (so they are taken in name order).
    fn compare(&self, rel: &Path, stack: &mut Vec<Item>) -> Result<Vec<DifferenceKind>, DiffError> {
        let first = metadata(&self.registered)?;
        let second = metadata(&self.rebuilt)?;
        let (first_type, second_type) = (type_name(&first), type_name(&second));
        if first_type != second_type {
            return Ok(vec![DifferenceKind::Type {
                registered: first_type,
                rebuilt: second_type,
            }]);
        }
        let mut kinds = Vec::new();
        if first.is_dir() {
            self.push_entries(rel, stack)?;
        } else if first.is_symlink() {
            let (a, b) = (read_link(&self.registered)?, read_link(&self.rebuilt)?);
            if a != b {
                kinds.push(DifferenceKind::SymlinkTarget {
                    registered: a,
                    rebuilt: b,
                });
            }
        } else if first.is_file() {
            if !self.same_contents(&first, &second)? {
                kinds.push(DifferenceKind::Contents);
            }
            let executable = is_executable(&first);
            if executable != is_executable(&second) {
                kinds.push(DifferenceKind::Executable {
                    registered: executable,
                });
            }
        }
        Ok(kinds)
    }

    /// Pushes the entries of two directories, sorted, in reverse (the
    /// stack then pops them in name order).
    fn push_entries(&self, rel: &Path, stack: &mut Vec<Item>) -> Result<(), DiffError> {
        let first = entry_names(&self.registered)?;
        let second = entry_names(&self.rebuilt)?;
        let all: BTreeSet<&OsString> = first.iter().chain(&second).collect();
        for name in all.into_iter().rev() {
            let child = rel.join(name);
            stack.push(match (first.contains(name), second.contains(name)) {
                (true, true) => Item::Both(child),
                (true, false) => Item::OnlyRegistered(child),
                _ => Item::OnlyRebuilt(child),
            });
        }
        Ok(())
    }

    /// Whether two regular files have the same bytes.
    fn same_contents(&self, first: &Metadata, second: &Metadata) -> Result<bool, DiffError> {
        if first.len() != second.len() {
            return Ok(false);
        }
        let mut a = open(&self.registered)?;
        let mut b = open(&self.rebuilt)?;
        let mut buf_a = vec![0; CHUNK];
        let mut buf_b = vec![0; CHUNK];
        loop {
            let n = fill(&mut a, &mut buf_a).map_err(|e| diff_error(&self.registered, e))?;
            let m = fill(&mut b, &mut buf_b).map_err(|e| diff_error(&self.rebuilt, e))?;
            if n != m || buf_a.get(..n) != buf_b.get(..m) {
                return Ok(false);
            }
            if n == 0 {
                return Ok(true);
            }
        }
    }
}

/// Reads until `buf` is full or the file ends; returns the bytes read.
fn fill(file: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..).filter(|rest| !rest.is_empty()) {
        match file.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn type_name(meta: &Metadata) -> &'static str {
    if meta.is_dir() {
        "directory"
    } else if meta.is_symlink() {
        "symlink"
    } else if meta.is_file() {
        "file"
    } else {
        "special file"
    }
}

fn is_executable(meta: &Metadata) -> bool {
    meta.permissions().mode() & 0o100 != 0
}

fn metadata(path: &Path) -> Result<Metadata, DiffError> {
    std::fs::symlink_metadata(path).map_err(|e| diff_error(path, e))
}

fn read_link(path: &Path) -> Result<PathBuf, DiffError> {
    std::fs::read_link(path).map_err(|e| diff_error(path, e))
}

fn open(path: &Path) -> Result<std::fs::File, DiffError> {
    std::fs::File::open(path).map_err(|e| diff_error(path, e))
}

fn entry_names(dir: &Path) -> Result<BTreeSet<OsString>, DiffError> {
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(dir).map_err(|e| diff_error(dir, e))? {
        names.insert(entry.map_err(|e| diff_error(dir, e))?.file_name());
    }
    Ok(names)
}

fn diff_error(path: &Path, source: io::Error) -> DiffError {
    DiffError {
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests;
