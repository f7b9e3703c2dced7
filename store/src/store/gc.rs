//! Garbage collection: delete every valid path that no root needs.
//!
//! Roots are the symlinks under `gcroots/` (searched recursively). A root
//! usually points at a `result` link somewhere in a project, which in turn
//! points at a store path (an *indirect* root, made by
//! [`Store::add_indirect_root`]); it may also point at a store path
//! directly. A root whose result link has been deleted is stale and is
//! removed. Paths named by the caller (`kiln gc --keep`) are roots too.
//! The live set is the closure of the roots; everything else valid is
//! deleted: first made invalid in one database transaction (so a crash
//! never leaves a valid path with missing files), then removed from disk.
//!
//! What checks kept for inspection (`<hash>-<name>.check` and its reports)
//! is removed too.
//!
//! The collector takes the garbage-collector lock exclusively, which waits
//! until no other process has the store open: a build in progress may be
//! using paths that nothing roots yet.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::cleanup::{remove_tree, tree_size};
use super::{Store, StoreError};
use crate::hash::{Encoding, Hash};
use crate::lock::{LockKind, Wait};
use crate::store_path::StorePath;

/// What the collector should do.
#[derive(Debug, Clone, Default)]
pub struct GcOptions {
    /// Only report what would be deleted.
    pub dry_run: bool,
    /// More roots, besides those under `gcroots/`.
    pub keep: Vec<StorePath>,
}

/// What the collector did (or, in a dry run, would do).
#[derive(Debug, Clone, Default)]
pub struct GcReport {
    /// The roots found (valid ones only).
    pub roots: BTreeSet<StorePath>,
    /// The paths deleted, with the bytes each freed.
    pub deleted: Vec<(StorePath, u64)>,
    /// The total bytes freed.
    pub bytes_freed: u64,
    /// Stale root links removed (or that would be).
    pub stale_roots: Vec<PathBuf>,
    /// Builds and reports kept by checks, removed (or that would be).
    pub check_artefacts: Vec<PathBuf>,
}

impl Store {
    /// Records `link` (typically a `result` symlink) as an indirect root:
    /// the store path it points at stays alive as long as the link does.
    pub fn add_indirect_root(&self, link: &Path) -> Result<PathBuf, StoreError> {
        let link = std::path::absolute(link).map_err(|e| self.io(link, e))?;
        let digest = Hash::sha256(link.as_os_str().as_encoded_bytes()).encode(Encoding::Nixbase32);
        let root = self
            .layout
            .gcroots()
            .join(format!("auto-{}", digest.get(..32).unwrap_or(&digest)));
        let _ = std::fs::remove_file(&root);
        fs_err::os::unix::fs::symlink(&link, &root).map_err(|e| self.io(&root, e))?;
        Ok(root)
    }

    /// Deletes every valid path outside the closure of the roots.
    pub fn collect_garbage(&self, options: &GcOptions) -> Result<GcReport, StoreError> {
        let mut gc_lock = self
            .gc_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        gc_lock.convert(LockKind::Exclusive, Wait::Block)?;
        let result = self.collect_locked(options);
        gc_lock.convert(LockKind::Shared, Wait::Block)?;
        result
    }

    fn collect_locked(&self, options: &GcOptions) -> Result<GcReport, StoreError> {
        let mut report = GcReport::default();
        let (roots, stale) = self.find_roots()?;
        let db = self.db();
        for root in roots.iter().chain(&options.keep) {
            if db.is_valid(root)? {
                report.roots.insert(root.clone());
            }
        }
        let live = db.closure(&report.roots)?;
        let dead: BTreeSet<StorePath> = db
            .all_valid()?
            .into_iter()
            .filter(|p| !live.contains(p))
            .collect();
        drop(db);
        for path in &dead {
            let bytes = tree_size(&self.physical(path));
            report.bytes_freed += bytes;
            report.deleted.push((path.clone(), bytes));
        }
        report.stale_roots = stale;
        report.check_artefacts = self.remove_check_artefacts(options.dry_run)?;
        if options.dry_run {
            return Ok(report);
        }
        for link in &report.stale_roots {
            let _ = std::fs::remove_file(link);
        }
        self.db().invalidate(&dead)?;
        for path in &dead {
            let physical = self.physical(path);
            remove_tree(&physical).map_err(|e| self.io(&physical, e))?;
            if let Some(lock) = self.try_lock_path(path)? {
                lock.remove()?;
            }
        }
        self.remove_orphans()?;
        crate::realise::cutoff::prune(self, &dead);
        Ok(report)
    }

    /// Returns the store paths the links under `gcroots/` lead to, and the
    /// links whose target no longer exists.
    fn find_roots(&self) -> Result<(BTreeSet<StorePath>, Vec<PathBuf>), StoreError> {
        let mut roots = BTreeSet::new();
        let mut stale = Vec::new();
        let mut stack = vec![self.layout.gcroots()];
        while let Some(dir) = stack.pop() {
            for entry in fs_err::read_dir(&dir).map_err(|e| self.io(&dir, e))? {
                let entry = entry.map_err(|e| self.io(&dir, e))?;
                let file_type = entry.file_type().map_err(|e| self.io(&entry.path(), e))?;
                if file_type.is_dir() {
                    stack.push(entry.path());
                } else if file_type.is_symlink() {
                    match self.root_target(&entry.path()) {
                        RootTarget::Path(path) => {
                            roots.insert(path);
                        }
                        RootTarget::Stale => stale.push(entry.path()),
                        RootTarget::Other => {}
                    }
                }
            }
        }
        Ok((roots, stale))
    }

    /// Follows a root link to the store path it keeps alive.
    fn root_target(&self, root: &Path) -> RootTarget {
        let Ok(target) = std::fs::read_link(root) else {
            return RootTarget::Other;
        };
        let target = root.parent().unwrap_or(Path::new("/")).join(target);
        if let Some(text) = target.to_str()
            && let Ok(path) = self.resolve(text)
        {
            return RootTarget::Path(path);
        }
        if std::fs::symlink_metadata(&target).is_err() {
            RootTarget::Stale
        } else {
            RootTarget::Other
        }
    }
}

/// Where a root link leads.
enum RootTarget {
    /// To a store path (directly or through a result link).
    Path(StorePath),
    /// To nothing: the result link was deleted.
    Stale,
    /// To something that is not in the store.
    Other,
}
