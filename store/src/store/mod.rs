//! The [`Store`] handle: one open store, shared by everything a kiln
//! process does with it.
//!
//! Opening a store creates whatever of its [`Layout`] is missing, opens the
//! database, takes a shared hold on the garbage collector's lock (so no
//! collection runs while this process may be using paths), gives the
//! process a private scratch directory under `tmp/`, and cleans up after
//! processes that crashed: objects in `store/` that never got registered,
//! and scratch directories whose owner is gone ([`cleanup`]).
//!
//! What a store can do is spread over a few modules: [`add`] puts sources
//! and text files in, [`crate::realise`] registers the outputs of builds and
//! fetches, [`verify`] checks it, [`gc`] deletes what no root needs.
//!
//! A `Store` is `Send + Sync`; the database connection sits behind a mutex.

pub mod add;
pub mod cleanup;
pub mod gc;
pub mod verify;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::db::{Db, DbError, PathInfo};
use crate::layout::{ENV_STORE_DIR, Layout, LayoutError};
use crate::lock::{FileLock, LockError, LockKind, PathLock, Wait};
use crate::store_path::{ParseError, StoreDir, StorePath};

/// A store that cannot be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The layout could not be found or created.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A lock failed.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// A file in the store could not be read, written or removed.
    #[error("cannot access `{path}` in the store")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A text is neither a store path nor a link to one.
    #[error("`{text}` is not a path in the store `{store_dir}`")]
    NotAStorePath {
        /// The text.
        text: String,
        /// The logical store directory.
        store_dir: String,
        /// Why it did not parse.
        #[source]
        source: ParseError,
    },
}

/// An open store.
#[derive(Debug)]
pub struct Store {
    layout: Layout,
    store_dir: StoreDir,
    db: Mutex<Db>,
    /// Held shared for the store's lifetime; the collector converts it.
    gc_lock: Mutex<FileLock>,
    /// This process's scratch directory and the lock that marks it live.
    session: cleanup::Session,
    counter: AtomicU64,
}

impl Store {
    /// Opens the store rooted at `root` whose logical directory is
    /// `store_dir`, creating it if needed, and cleans up after crashes.
    pub fn open(root: impl Into<PathBuf>, store_dir: StoreDir) -> Result<Store, StoreError> {
        let layout = Layout::new(root);
        layout.create()?;
        let gc_lock = FileLock::acquire(&layout.gc_lock(), LockKind::Shared, Wait::Block)?
            .ok_or_else(|| LockError::Flock {
                path: layout.gc_lock(),
                source: std::io::ErrorKind::WouldBlock.into(),
            })?;
        let db = Db::open(&layout.db_file(), &store_dir)?;
        let session = cleanup::Session::start(&layout)?;
        let store = Store {
            layout,
            store_dir,
            db: Mutex::new(db),
            gc_lock: Mutex::new(gc_lock),
            session,
            counter: AtomicU64::new(0),
        };
        store.clean_up()?;
        Ok(store)
    }

    /// Opens the store at the default root (`KILN_STORE`, …) with the
    /// logical directory from `KILN_STORE_DIR` or `/nix/store`.
    pub fn open_default() -> Result<Store, StoreError> {
        let store_dir = std::env::var(ENV_STORE_DIR)
            .ok()
            .filter(|dir| !dir.is_empty())
            .map_or_else(StoreDir::default, StoreDir::new);
        Store::open(Layout::default_root()?, store_dir)
    }

    /// Returns the physical layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Returns the logical store directory.
    pub fn store_dir(&self) -> &StoreDir {
        &self.store_dir
    }

    /// Returns where a store path's bytes are on disk.
    pub fn physical(&self, path: &StorePath) -> PathBuf {
        self.layout.object(path)
    }

    /// Returns the logical full path (`/nix/store/<hash>-<name>`).
    pub fn display(&self, path: &StorePath) -> String {
        self.store_dir.display(path)
    }

    /// Resolves what a user typed to a store path: a logical path (a path
    /// inside an object is cut to the object), a physical path under this
    /// store, or a symlink chain (a `result` link) ending at either.
    pub fn resolve(&self, text: &str) -> Result<StorePath, StoreError> {
        let mut current = PathBuf::from(text);
        for _ in 0..40 {
            if let Some(path) = self.parse_any(&current) {
                return Ok(path);
            }
            match std::fs::read_link(&current) {
                Ok(target) => current = current.parent().unwrap_or(Path::new("/")).join(target),
                Err(_) => break,
            }
        }
        let source = self
            .store_dir
            .parse_prefix(text)
            .err()
            .unwrap_or(ParseError::EmptyName);
        Err(StoreError::NotAStorePath {
            text: text.to_owned(),
            store_dir: self.store_dir.as_str().to_owned(),
            source,
        })
    }

    fn parse_any(&self, path: &Path) -> Option<StorePath> {
        let text = path.to_str()?;
        if let Ok((store_path, _)) = self.store_dir.parse_prefix(text) {
            return Some(store_path);
        }
        let inner = path.strip_prefix(self.layout.objects()).ok()?;
        let base = inner.components().next()?.as_os_str().to_str()?;
        StorePath::from_base_name(base).ok()
    }

    /// Locks the database for a query or a write.
    pub fn db(&self) -> MutexGuard<'_, Db> {
        // A panic while holding the connection leaves SQLite consistent
        // (uncommitted transactions roll back), so poisoning is ignored.
        self.db.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `path` is valid.
    pub fn is_valid(&self, path: &StorePath) -> Result<bool, StoreError> {
        Ok(self.db().is_valid(path)?)
    }

    /// Returns what is recorded about `path`, `None` if it is not valid.
    pub fn path_info(&self, path: &StorePath) -> Result<Option<PathInfo>, StoreError> {
        Ok(self.db().path_info(path)?)
    }

    /// Takes the lock of `path`, waiting for other holders.
    pub fn lock_path(&self, path: &StorePath) -> Result<PathLock, StoreError> {
        Ok(PathLock::lock(&self.layout, path)?)
    }

    /// Takes the lock of `path` unless someone else holds it.
    pub fn try_lock_path(&self, path: &StorePath) -> Result<Option<PathLock>, StoreError> {
        Ok(PathLock::try_lock(&self.layout, path)?)
    }

    /// Returns a fresh path (not created) in this process's scratch
    /// directory, on the same file system as the store; `hint` makes it
    /// readable in listings.
    pub fn scratch_path(&self, hint: &str) -> PathBuf {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let hint: String = hint
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "+-._".contains(*c))
            .take(64)
            .collect();
        self.session.dir().join(format!("{n}-{hint}"))
    }

    pub(crate) fn io(&self, path: &Path, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

#[cfg(test)]
mod tests;
