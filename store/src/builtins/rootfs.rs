//! `builtin:debian-rootfs-v1`: a root filesystem made from Debian
//! packages, without dpkg and without running maintainer scripts.
//!
//! The derivation's `debs` lists the `.deb` store paths (its inputs),
//! separated by spaces, in the order to extract them. Each package's
//! `data.tar.*` is unpacked with the safe unpacker ([`crate::unpack`],
//! absolute symlinks allowed) into a scratch directory beside the output,
//! up to four at a time, and the trees are then merged into the output in
//! the listed order:
//!
//! - a path that no earlier package shipped is moved in;
//! - a path an earlier package shipped is kept when both are directories,
//!   or both are files with the same bytes and executable bit, or both are
//!   symlinks to the same target; anything else is a [`RootfsError::Conflict`]
//!   naming the path and both packages (dpkg would refuse it too, unless
//!   the later package declares `Replaces`, which no lock records);
//! - the top-level `bin`, `sbin`, `lib`, `lib32`, `lib64` and `libx32`
//!   directories are merged into their `usr/` counterparts, and such
//!   top-level symlinks (base-files ships them) are left out: the
//!   usr-merge links are made once, at the end, for each `usr/<dir>` that
//!   exists;
//! - documentation is left out: `usr/share/{doc,doc-base,man,info,locale,
//!   lintian,bug}`, plus the paths listed in the optional `exclude`
//!   attribute (space-separated, relative; `*` stands for one whole path
//!   component, as in `usr/src/*/src/tools`), with everything below them.
//!
//! Last come the links that maintainer scripts (alternatives, diversions)
//! would have made and the toolchain needs ([`LINKS`]): each is made only
//! when nothing is at its path and its target exists. The sandbox
//! provides `/etc/passwd`, `/etc/group`, `/dev` and `/proc`, so none of
//! those are written.
//!
//! The result depends only on the packages and their order (the store
//! canonicalises modes and times), so the same inputs give the same NAR.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use thiserror::Error;

use super::{BuiltinError, Outcome};
use crate::derivation::Derivation;
use crate::store_path::{ParseError as PathError, StoreDir, StorePath};
use crate::unpack::{self, Format, UnpackError, UnpackOptions};

/// The name of the root-filesystem builder.
pub const DEBIAN_ROOTFS_V1: &str = "builtin:debian-rootfs-v1";

/// Top-level directories that live under `usr/` in a merged-usr system.
const MERGED_DIRS: [&str; 6] = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// Paths never copied into the root filesystem: documentation and
/// translations, which no build needs.
const DROPPED: [&str; 7] = [
    "usr/share/doc",
    "usr/share/doc-base",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "usr/share/lintian",
    "usr/share/bug",
];

/// The links that maintainer scripts would make and builds need, as
/// `(link, target, required)`: the link is made (pointing at `target`,
/// relative to its directory) when nothing is at `link` and `required`
/// exists.
pub const LINKS: [(&str, &str, &str); 4] = [
    // dash's postinst (older dash packages do not ship the link).
    ("usr/bin/sh", "dash", "usr/bin/dash"),
    // The `cc`, `c++` and `awk` alternatives of gcc, g++ and mawk.
    ("usr/bin/cc", "gcc", "usr/bin/gcc"),
    ("usr/bin/c++", "g++", "usr/bin/g++"),
    ("usr/bin/awk", "mawk", "usr/bin/mawk"),
];

/// Why the root filesystem could not be made.
#[derive(Debug, Error)]
pub enum RootfsError {
    /// `debs` names something that is not a store path.
    #[error("`debs` of `{DEBIAN_ROOTFS_V1}` names `{path}`, which is not a store path")]
    BadDeb {
        /// The word of `debs`.
        path: String,
        /// Why.
        #[source]
        source: PathError,
    },
    /// `debs` is empty.
    #[error("`{DEBIAN_ROOTFS_V1}` needs at least one package in `debs`")]
    NoDebs,
    /// A package could not be unpacked (the cause names it).
    #[error(transparent)]
    Unpack(#[from] UnpackError),
    /// Two packages ship different things at one path.
    #[error("`{path}` is shipped by `{first}` and, differently, by `{second}`")]
    Conflict {
        /// The path, relative to the root.
        path: PathBuf,
        /// The package that shipped it first.
        first: String,
        /// The package that ships something else there.
        second: String,
    },
    /// The output could not be written (the cause names the path).
    #[error("cannot write the root filesystem")]
    Write(#[source] std::io::Error),
    /// An unpacking thread panicked.
    #[error("an unpacking thread panicked")]
    Panicked,
}

/// What the builder made, for the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootfsReport {
    /// How many packages were unpacked.
    pub debs: usize,
    /// How many files and symlinks the root filesystem holds.
    pub entries: u64,
    /// How many entries were left out (documentation, excluded prefixes,
    /// identical repeats, top-level usr-merge links).
    pub dropped: u64,
    /// Device and FIFO entries skipped by the unpacker.
    pub skipped: usize,
    /// The links made at the end (usr-merge and [`LINKS`]), relative.
    pub links: Vec<String>,
}

/// One package to unpack: where it is, and its store path's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deb {
    /// The physical path of the `.deb`.
    pub path: PathBuf,
    /// Its name, for messages.
    pub name: String,
}

/// Runs the builder for `drv`: reads `debs` and `exclude`, and builds the
/// root filesystem at `out`.
pub(super) fn run(
    store_dir: &StoreDir,
    drv: &Derivation,
    inputs: &dyn Fn(&StorePath) -> PathBuf,
    out: &Path,
) -> Result<Outcome, BuiltinError> {
    let debs = drv.env.get("debs").ok_or(BuiltinError::Missing {
        builder: DEBIAN_ROOTFS_V1,
        name: "debs",
    })?;
    let debs = parse_debs(store_dir, debs, inputs)?;
    let exclude: Vec<String> = drv
        .env
        .get("exclude")
        .map(|text| text.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    Ok(Outcome::Rootfs(build(&debs, &exclude, out)?))
}

/// Reads the `debs` attribute: store paths, mapped to where they are by
/// `inputs`.
pub fn parse_debs(
    store_dir: &StoreDir,
    debs: &str,
    inputs: &dyn Fn(&StorePath) -> PathBuf,
) -> Result<Vec<Deb>, RootfsError> {
    let debs = debs
        .split_whitespace()
        .map(|word| {
            let path = store_dir
                .parse(word)
                .map_err(|source| RootfsError::BadDeb {
                    path: word.to_owned(),
                    source,
                })?;
            Ok(Deb {
                path: inputs(&path),
                name: path.name().to_owned(),
            })
        })
        .collect::<Result<Vec<_>, RootfsError>>()?;
    if debs.is_empty() {
        return Err(RootfsError::NoDebs);
    }
    Ok(debs)
}

/// Builds the root filesystem from `debs` at `out`, which must not exist,
/// leaving out the paths under the prefixes in `exclude` as well as the
/// documentation. On error nothing is left at `out` or beside it.
pub fn build(debs: &[Deb], exclude: &[String], out: &Path) -> Result<RootfsReport, RootfsError> {
    let mut work = out.as_os_str().to_owned();
    work.push(".rootfs-work");
    let work = PathBuf::from(work);
    let result = build_in(debs, exclude, out, &work);
    // A failed clean-up must not hide the result; the store removes stale
    // temporaries anyway.
    let _ = fs_err::remove_dir_all(&work);
    if result.is_err() {
        let _ = fs_err::remove_dir_all(out);
    }
    result
}

fn build_in(
    debs: &[Deb],
    exclude: &[String],
    out: &Path,
    work: &Path,
) -> Result<RootfsReport, RootfsError> {
    if work.exists() {
        fs_err::remove_dir_all(work).map_err(RootfsError::Write)?;
    }
    fs_err::create_dir(work).map_err(RootfsError::Write)?;
    fs_err::create_dir(out).map_err(RootfsError::Write)?;
    let skipped = unpack_all(debs, work)?;
    let mut dropped: Vec<PathBuf> = DROPPED.iter().map(PathBuf::from).collect();
    dropped.extend(exclude.iter().map(|p| PathBuf::from(p.trim_matches('/'))));
    dropped.retain(|p| !p.as_os_str().is_empty());
    let mut merger = Merger {
        out: out.to_owned(),
        dropped,
        owners: HashMap::new(),
        report: RootfsReport {
            debs: debs.len(),
            skipped,
            ..RootfsReport::default()
        },
    };
    for index in 0..debs.len() {
        merger.merge_package(&work.join(index.to_string()), index, debs)?;
        fs_err::remove_dir_all(work.join(index.to_string())).map_err(RootfsError::Write)?;
    }
    merger.finish_links()?;
    Ok(merger.report)
}

/// Unpacks every package into `work/<index>`, a few at a time, and
/// returns how many special entries were skipped.
fn unpack_all(debs: &[Deb], work: &Path) -> Result<usize, RootfsError> {
    let next = AtomicUsize::new(0);
    let skipped = AtomicUsize::new(0);
    let first_error: Mutex<Option<(usize, UnpackError)>> = Mutex::new(None);
    let options = UnpackOptions {
        format: Some(Format::Deb),
        strip_components: None,
        allow_absolute_symlinks: true,
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let worker = || {
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(deb) = debs.get(index) else { break };
            let dest = work.join(index.to_string());
            match unpack::unpack(&deb.path, &deb.name, &dest, &options) {
                Ok(unpacked) => {
                    skipped.fetch_add(unpacked.skipped.len(), Ordering::Relaxed);
                }
                Err(error) => {
                    let mut slot = first_error.lock().unwrap_or_else(|e| e.into_inner());
                    // Report the error of the earliest package, whatever
                    // the threads' timing.
                    if slot.as_ref().is_none_or(|(at, _)| index < *at) {
                        *slot = Some((index, error));
                    }
                    next.store(debs.len(), Ordering::Relaxed);
                }
            }
        }
    };
    let panicked = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads).map(|_| scope.spawn(worker)).collect();
        handles.into_iter().any(|h| h.join().is_err())
    });
    if panicked {
        return Err(RootfsError::Panicked);
    }
    match first_error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        Some((_, error)) => Err(error.into()),
        None => Ok(skipped.into_inner()),
    }
}

/// Moves unpacked trees into the output, checking for conflicts.
struct Merger {
    out: PathBuf,
    dropped: Vec<PathBuf>,
    /// Which package (by index) put each non-directory in the output.
    owners: HashMap<PathBuf, usize>,
    report: RootfsReport,
}

impl Merger {
    /// Merges the tree of package `index`, unpacked at `root`.
    fn merge_package(
        &mut self,
        root: &Path,
        index: usize,
        debs: &[Deb],
    ) -> Result<(), RootfsError> {
        for name in sorted_children(root)? {
            let src = root.join(&name);
            let is_merged = MERGED_DIRS.iter().any(|dir| name == *dir);
            let meta = fs_err::symlink_metadata(&src).map_err(RootfsError::Write)?;
            if is_merged && meta.file_type().is_symlink() {
                self.report.dropped += 1;
            } else if is_merged && meta.is_dir() {
                self.ensure_dir(Path::new("usr"), index, debs)?;
                self.merge(&src, &Path::new("usr").join(&name), index, debs)?;
            } else {
                self.merge(&src, Path::new(&name), index, debs)?;
            }
        }
        Ok(())
    }

    /// Makes `rel` a directory in the output if nothing is there.
    fn ensure_dir(&mut self, rel: &Path, index: usize, debs: &[Deb]) -> Result<(), RootfsError> {
        let dest = self.out.join(rel);
        match fs_err::symlink_metadata(&dest) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(self.conflict(rel, index, debs)),
            Err(_) => fs_err::create_dir(&dest).map_err(RootfsError::Write),
        }
    }

    /// Merges the entry `src` into the output at `rel`.
    fn merge(
        &mut self,
        src: &Path,
        rel: &Path,
        index: usize,
        debs: &[Deb],
    ) -> Result<(), RootfsError> {
        if self.dropped.iter().any(|pattern| is_below(rel, pattern)) {
            self.report.dropped += 1;
            return Ok(());
        }
        let dest = self.out.join(rel);
        let src_meta = fs_err::symlink_metadata(src).map_err(RootfsError::Write)?;
        let Ok(dest_meta) = fs_err::symlink_metadata(&dest) else {
            if src_meta.is_dir() {
                fs_err::create_dir(&dest).map_err(RootfsError::Write)?;
                return self.merge_children(src, rel, index, debs);
            }
            fs_err::rename(src, &dest).map_err(RootfsError::Write)?;
            self.owners.insert(rel.to_owned(), index);
            self.report.entries += 1;
            return Ok(());
        };
        if src_meta.is_dir() && dest_meta.is_dir() {
            return self.merge_children(src, rel, index, debs);
        }
        if same_entry(src, &src_meta, &dest, &dest_meta)? {
            self.report.dropped += 1;
            return Ok(());
        }
        Err(self.conflict(rel, index, debs))
    }

    fn merge_children(
        &mut self,
        src: &Path,
        rel: &Path,
        index: usize,
        debs: &[Deb],
    ) -> Result<(), RootfsError> {
        for name in sorted_children(src)? {
            self.merge(&src.join(&name), &rel.join(&name), index, debs)?;
        }
        Ok(())
    }

    fn conflict(&self, rel: &Path, index: usize, debs: &[Deb]) -> RootfsError {
        let name = |i: Option<usize>| {
            i.and_then(|i| debs.get(i))
                .map_or_else(|| "(a directory)".to_owned(), |d| d.name.clone())
        };
        RootfsError::Conflict {
            path: rel.to_owned(),
            first: name(self.owners.get(rel).copied()),
            second: name(Some(index)),
        }
    }

    /// Makes the usr-merge links and the [`LINKS`] whose targets exist.
    fn finish_links(&mut self) -> Result<(), RootfsError> {
        for dir in MERGED_DIRS {
            let target = Path::new("usr").join(dir);
            if self.out.join(&target).is_dir() && !exists(&self.out.join(dir)) {
                fs_err::os::unix::fs::symlink(&target, self.out.join(dir))
                    .map_err(RootfsError::Write)?;
                self.report.links.push(dir.to_owned());
            }
        }
        for (link, target, required) in LINKS {
            if exists(&self.out.join(required)) && !exists(&self.out.join(link)) {
                fs_err::os::unix::fs::symlink(target, self.out.join(link))
                    .map_err(RootfsError::Write)?;
                self.report.links.push(link.to_owned());
            }
        }
        self.report.entries += self.report.links.len() as u64;
        Ok(())
    }
}

/// Whether `rel` is `pattern` or below it; a `*` component of the
/// pattern matches any one component.
fn is_below(rel: &Path, pattern: &Path) -> bool {
    let mut parts = rel.components();
    pattern.components().all(|want| {
        parts
            .next()
            .is_some_and(|part| want.as_os_str() == "*" || want == part)
    })
}

/// Whether anything (even a dangling symlink) is at `path`.
fn exists(path: &Path) -> bool {
    fs_err::symlink_metadata(path).is_ok()
}

/// Returns the names in directory `dir`, sorted.
fn sorted_children(dir: &Path) -> Result<Vec<std::ffi::OsString>, RootfsError> {
    let mut names = fs_err::read_dir(dir)
        .map_err(RootfsError::Write)?
        .map(|entry| entry.map(|e| e.file_name()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(RootfsError::Write)?;
    names.sort();
    Ok(names)
}

/// Whether two non-directory entries are the same: symlinks to the same
/// target, or files with the same executable bit and bytes.
fn same_entry(
    a: &Path,
    a_meta: &std::fs::Metadata,
    b: &Path,
    b_meta: &std::fs::Metadata,
) -> Result<bool, RootfsError> {
    use std::os::unix::fs::PermissionsExt as _;
    let (a_type, b_type) = (a_meta.file_type(), b_meta.file_type());
    if a_type.is_symlink() && b_type.is_symlink() {
        let a_target = fs_err::read_link(a).map_err(RootfsError::Write)?;
        return Ok(a_target == fs_err::read_link(b).map_err(RootfsError::Write)?);
    }
    if !(a_type.is_file() && b_type.is_file()) || a_meta.len() != b_meta.len() {
        return Ok(false);
    }
    let executable = |m: &std::fs::Metadata| m.permissions().mode() & 0o111 != 0;
    if executable(a_meta) != executable(b_meta) {
        return Ok(false);
    }
    same_bytes(a, b)
}

fn same_bytes(a: &Path, b: &Path) -> Result<bool, RootfsError> {
    let mut a = std::io::BufReader::new(fs_err::File::open(a).map_err(RootfsError::Write)?);
    let mut b = std::io::BufReader::new(fs_err::File::open(b).map_err(RootfsError::Write)?);
    let (mut buf_a, mut buf_b) = (vec![0; 64 * 1024], vec![0; 64 * 1024]);
    loop {
        let n = read_full(&mut a, &mut buf_a)?;
        let m = read_full(&mut b, &mut buf_b)?;
        if buf_a.get(..n) != buf_b.get(..m) {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

/// Reads until `buf` is full or the file ends; returns the count.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> Result<usize, RootfsError> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..).filter(|r| !r.is_empty()) {
        match reader.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(RootfsError::Write(e)),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests;
