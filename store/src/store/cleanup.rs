//! Cleaning up after processes that crashed, and the scratch sessions that
//! make it safe.
//!
//! Two kinds of leftovers exist:
//!
//! - **Orphaned objects**: `store/<x>` with no row in the database. A build
//!   renames its output into `store/` and then registers it; a kill between
//!   the two leaves the object behind. It is removed while holding its path
//!   lock, so an object that another process is registering right now
//!   (and therefore holds the lock of) is left alone, and validity is
//!   checked again after locking. What a check kept beside a valid object
//!   (`<hash>-<name>.check` and its reports, see
//!   [`crate::layout::check_artefact_base`]) is not an orphan: it stays
//!   until `kiln gc` ([`Store::remove_check_artefacts`]).
//! - **Scratch directories**: each open [`Store`] owns `tmp/session-…/`,
//!   marked live by an exclusive lock on `tmp/session-….lock`. A session
//!   whose lock can be taken belongs to a dead process and is removed.
//!   Anything else in `tmp/` older than this process's session is removed
//!   too (scratch space must be made with [`Store::scratch_path`]).

use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{Store, StoreError};
use crate::layout::{Layout, check_artefact_base};
use crate::lock::{FileLock, LockKind, Wait};
use crate::store_path::StorePath;

/// This process's scratch directory, removed when the store is dropped.
#[derive(Debug)]
pub(super) struct Session {
    dir: PathBuf,
    started: SystemTime,
    lock: Option<FileLock>,
}

impl Session {
    /// Creates and locks a new session under `tmp/`.
    pub(super) fn start(layout: &Layout) -> Result<Session, StoreError> {
        let started = SystemTime::now();
        let nanos = started
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("session-{}-{nanos}", std::process::id());
        let dir = layout.tmp().join(&name);
        let lock_file = layout.tmp().join(format!("{name}.lock"));
        // Lock first, then make the directory: a directory without a live
        // lock is always garbage.
        let lock = FileLock::acquire(&lock_file, LockKind::Exclusive, Wait::Block)?;
        fs_err::create_dir(&dir).map_err(|source| StoreError::Io {
            path: dir.clone(),
            source,
        })?;
        Ok(Session { dir, started, lock })
    }

    /// Returns the scratch directory.
    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = remove_tree(&self.dir);
        if let Some(lock) = self.lock.take() {
            let _ = lock.remove();
        }
    }
}

impl Store {
    /// Removes orphaned objects and dead scratch directories.
    pub fn clean_up(&self) -> Result<(), StoreError> {
        self.remove_orphans()?;
        self.remove_dead_scratch()
    }

    /// Removes every object in `store/` that is not valid and not locked,
    /// except what a check kept beside a valid object. Returns the paths
    /// removed.
    pub fn remove_orphans(&self) -> Result<Vec<StorePath>, StoreError> {
        let valid: HashSet<String> = self
            .db()
            .all_valid()?
            .iter()
            .map(StorePath::base_name)
            .collect();
        let objects = self.layout.objects();
        let mut removed = Vec::new();
        for entry in fs_err::read_dir(&objects).map_err(|e| self.io(&objects, e))? {
            let entry = entry.map_err(|e| self.io(&objects, e))?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if valid.contains(&name)
                || check_artefact_base(&name).is_some_and(|base| valid.contains(base))
            {
                continue;
            }
            let Ok(path) = StorePath::from_base_name(&name) else {
                continue;
            };
            let Some(lock) = self.try_lock_path(&path)? else {
                continue;
            };
            if self.is_valid(&path)? {
                continue;
            }
            remove_tree(&entry.path()).map_err(|e| self.io(&entry.path(), e))?;
            lock.remove()?;
            removed.push(path);
        }
        Ok(removed)
    }

    /// Removes (unless `dry_run`) everything checks kept in `store/`: the
    /// `.check` builds and their reports. Returns what was (or would be)
    /// removed.
    pub fn remove_check_artefacts(&self, dry_run: bool) -> Result<Vec<PathBuf>, StoreError> {
        let objects = self.layout.objects();
        let mut removed = Vec::new();
        for entry in fs_err::read_dir(&objects).map_err(|e| self.io(&objects, e))? {
            let entry = entry.map_err(|e| self.io(&objects, e))?;
            let name = entry.file_name();
            if name.to_str().and_then(check_artefact_base).is_none() {
                continue;
            }
            let path = entry.path();
            if !dry_run {
                remove_tree(&path).map_err(|e| self.io(&path, e))?;
            }
            removed.push(path);
        }
        removed.sort();
        Ok(removed)
    }

    /// Removes scratch sessions of dead processes and stray old entries.
    fn remove_dead_scratch(&self) -> Result<(), StoreError> {
        let tmp = self.layout.tmp();
        let own_lock = self.session.dir.with_extension("lock");
        for entry in fs_err::read_dir(&tmp).map_err(|e| self.io(&tmp, e))? {
            let entry = entry.map_err(|e| self.io(&tmp, e))?;
            let path = entry.path();
            if path == self.session.dir || path == own_lock {
                continue;
            }
            if path.extension().is_some_and(|ext| ext == "lock") {
                let Some(lock) = FileLock::acquire(&path, LockKind::Exclusive, Wait::Try)? else {
                    continue;
                };
                remove_tree(&path.with_extension("")).map_err(|e| self.io(&path, e))?;
                lock.remove()?;
            } else if !path.with_extension("lock").exists() && self.is_stale(&path) {
                remove_tree(&path).map_err(|e| self.io(&path, e))?;
            }
        }
        Ok(())
    }

    /// Whether a stray scratch entry predates this process's session.
    fn is_stale(&self, path: &Path) -> bool {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with("session-") {
            // A session directory whose lock file is gone: its owner exited.
            return true;
        }
        std::fs::symlink_metadata(path)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < self.session.started)
    }
}

/// Removes a file, symlink or directory tree, first making read-only
/// directories (store objects are 0555) writable. A missing path is fine.
pub fn remove_tree(path: &Path) -> std::io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.is_dir() {
        return std::fs::remove_file(path);
    }
    let mut stack = vec![path.to_owned()];
    while let Some(dir) = stack.pop() {
        let meta = std::fs::symlink_metadata(&dir)?;
        if meta.permissions().mode() & 0o700 != 0o700 {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
        }
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    std::fs::remove_dir_all(path)
}

/// Returns the total size in bytes of the regular files and symlinks in a
/// tree (what deleting it frees, ignoring block rounding).
pub fn tree_size(path: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![path.to_owned()];
    while let Some(current) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&current) else {
            continue;
        };
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&current) {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
        } else {
            total += meta.len();
        }
    }
    total
}
