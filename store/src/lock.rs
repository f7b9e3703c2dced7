//! Advisory file locks (`flock`) that let several kiln processes share one
//! store.
//!
//! - A [`PathLock`] guards one store path (`locks/<hash-part>.lock`). Whoever
//!   is about to produce a path takes its lock, re-checks that the path is
//!   still invalid (another process may have finished it meanwhile), and
//!   holds the lock until the path is registered. Cleaning up an orphaned
//!   object and deleting a path in the garbage collector take it too.
//! - A [`FileLock`] is the underlying primitive: shared or exclusive,
//!   blocking or not, released when dropped (the kernel also releases it
//!   when the process dies, which is what makes crash recovery safe).
//!
//! Lock files may be deleted by whoever holds them (the garbage collector
//! does, for paths it deletes). A process that opened the file before the
//! deletion would then hold a lock on a file nobody else can find, so after
//! locking, [`FileLock`] checks that the path still names the file it
//! locked, and starts over if not.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rustix::fs::FlockOperation;
use rustix::io::Errno;

use crate::layout::Layout;
use crate::store_path::StorePath;

/// A lock that could not be taken or released.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// The lock file could not be opened, created or checked.
    #[error("cannot open the lock file `{path}`")]
    Open {
        /// The lock file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `flock` failed for a reason other than contention.
    #[error("cannot lock `{path}`")]
    Flock {
        /// The lock file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Whether a lock excludes everyone else or only exclusive holders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    /// Many holders at once; excludes [`LockKind::Exclusive`].
    Shared,
    /// One holder.
    Exclusive,
}

/// Whether to wait for a lock another process holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Block until the lock is free.
    Block,
    /// Return at once if the lock is held.
    Try,
}

/// A held `flock` on a file; released on drop.
#[derive(Debug)]
pub struct FileLock {
    file: File,
    path: PathBuf,
}

impl FileLock {
    /// Takes a lock on `path`, creating the file if needed. Returns `None`
    /// when `wait` is [`Wait::Try`] and someone else holds a conflicting lock.
    pub fn acquire(path: &Path, kind: LockKind, wait: Wait) -> Result<Option<FileLock>, LockError> {
        loop {
            let file = fs_err::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map_err(|source| LockError::Open {
                    path: path.to_owned(),
                    source,
                })?
                .into_parts()
                .0;
            if !flock(&file, path, kind, wait)? {
                return Ok(None);
            }
            if still_named(&file, path)? {
                return Ok(Some(FileLock {
                    file,
                    path: path.to_owned(),
                }));
            }
            // The file was deleted (or replaced) between open and flock: retry.
        }
    }

    /// Changes the lock to `kind`, waiting as `wait` says. Returns `false`
    /// when the lock is contended and `wait` is [`Wait::Try`]; the old lock
    /// is then still held. (Like `flock` itself, an upgrade is not atomic:
    /// another process may take the lock in between.)
    pub fn convert(&mut self, kind: LockKind, wait: Wait) -> Result<bool, LockError> {
        flock(&self.file, &self.path, kind, wait)
    }

    /// Returns the lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Deletes the lock file while still holding the lock, then releases it.
    pub fn remove(self) -> Result<(), LockError> {
        match fs_err::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(LockError::Open {
                path: self.path.clone(),
                source,
            }),
        }
    }
}

/// Runs `flock`, retrying on `EINTR`. Returns `false` on contention in try mode.
fn flock(file: &File, path: &Path, kind: LockKind, wait: Wait) -> Result<bool, LockError> {
    let operation = match (kind, wait) {
        (LockKind::Shared, Wait::Block) => FlockOperation::LockShared,
        (LockKind::Shared, Wait::Try) => FlockOperation::NonBlockingLockShared,
        (LockKind::Exclusive, Wait::Block) => FlockOperation::LockExclusive,
        (LockKind::Exclusive, Wait::Try) => FlockOperation::NonBlockingLockExclusive,
    };
    loop {
        match rustix::fs::flock(file, operation) {
            Ok(()) => return Ok(true),
            Err(Errno::INTR) => continue,
            Err(Errno::WOULDBLOCK) if wait == Wait::Try => return Ok(false),
            Err(errno) => {
                return Err(LockError::Flock {
                    path: path.to_owned(),
                    source: errno.into(),
                });
            }
        }
    }
}

/// Whether `path` still names the open `file` (same device and inode).
fn still_named(file: &File, path: &Path) -> Result<bool, LockError> {
    let open = file.metadata().map_err(|source| LockError::Open {
        path: path.to_owned(),
        source,
    })?;
    match std::fs::metadata(path) {
        Ok(named) => Ok(named.dev() == open.dev() && named.ino() == open.ino()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(LockError::Open {
            path: path.to_owned(),
            source,
        }),
    }
}

/// An exclusive lock on one store path, held while the path is produced,
/// registered or deleted.
#[derive(Debug)]
pub struct PathLock {
    path: StorePath,
    lock: FileLock,
}

impl PathLock {
    /// Takes the lock of `path`, waiting for any other holder.
    pub fn lock(layout: &Layout, path: &StorePath) -> Result<PathLock, LockError> {
        let file = layout.path_lock(path);
        let lock = FileLock::acquire(&file, LockKind::Exclusive, Wait::Block)?;
        // A blocking acquire only returns `None` in try mode.
        Ok(PathLock {
            path: path.clone(),
            lock: lock.ok_or_else(|| contended(&file))?,
        })
    }

    /// Takes the lock of `path` if nobody holds it; `None` otherwise.
    pub fn try_lock(layout: &Layout, path: &StorePath) -> Result<Option<PathLock>, LockError> {
        let lock = FileLock::acquire(&layout.path_lock(path), LockKind::Exclusive, Wait::Try)?;
        Ok(lock.map(|lock| PathLock {
            path: path.clone(),
            lock,
        }))
    }

    /// Returns the store path this lock guards.
    pub fn store_path(&self) -> &StorePath {
        &self.path
    }

    /// Deletes the lock file and releases the lock (for deleted paths).
    pub fn remove(self) -> Result<(), LockError> {
        self.lock.remove()
    }
}

fn contended(path: &Path) -> LockError {
    LockError::Flock {
        path: path.to_owned(),
        source: std::io::Error::from(std::io::ErrorKind::WouldBlock),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StorePath {
        StorePath::from_base_name("7rjj86a15146cq1d3qy068lml7n8ykzm-hello").unwrap()
    }

    #[test]
    fn exclusive_excludes_a_second_holder_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        layout.create().unwrap();
        let first = PathLock::lock(&layout, &sample()).unwrap();
        assert!(PathLock::try_lock(&layout, &sample()).unwrap().is_none());
        drop(first);
        assert!(PathLock::try_lock(&layout, &sample()).unwrap().is_some());
    }

    #[test]
    fn shared_locks_coexist_and_exclude_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gc.lock");
        let a = FileLock::acquire(&file, LockKind::Shared, Wait::Try).unwrap();
        let b = FileLock::acquire(&file, LockKind::Shared, Wait::Try).unwrap();
        assert!(a.is_some() && b.is_some());
        assert!(
            FileLock::acquire(&file, LockKind::Exclusive, Wait::Try)
                .unwrap()
                .is_none()
        );
        drop(b);
        let mut a = a.unwrap();
        assert!(a.convert(LockKind::Exclusive, Wait::Try).unwrap());
    }

    #[test]
    fn a_removed_lock_file_is_recreated_by_the_next_holder() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        layout.create().unwrap();
        PathLock::lock(&layout, &sample())
            .unwrap()
            .remove()
            .unwrap();
        assert!(!layout.path_lock(&sample()).exists());
        let again = PathLock::lock(&layout, &sample()).unwrap();
        assert!(layout.path_lock(&sample()).exists());
        drop(again);
    }

    #[test]
    fn a_blocked_holder_proceeds_when_the_lock_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        layout.create().unwrap();
        let first = PathLock::lock(&layout, &sample()).unwrap();
        let layout2 = layout.clone();
        let waiter = std::thread::spawn(move || PathLock::lock(&layout2, &sample()).map(|_| ()));
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!waiter.is_finished());
        drop(first);
        waiter.join().unwrap().unwrap();
    }
}
