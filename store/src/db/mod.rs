//! The store database: which store paths are valid, and what is known about
//! each (NAR hash and size, references, deriver, registration time, content
//! address), plus the outputs of every derivation the store holds.
//!
//! A path is valid exactly when it has a row in `valid_paths`; the object in
//! `store/` is garbage until then. Every registration is one SQLite
//! transaction, so a process killed at any moment leaves the database either
//! before or after it. Nix's closure invariant holds: a path's references
//! are valid (or registered in the same transaction) before it is, and a
//! path cannot be invalidated while a valid path refers to it.
//!
//! The database is SQLite in WAL mode with a long busy timeout, so several
//! kiln processes can read and write it at once. Its schema version is in
//! the file name (`db-v1.sqlite`) and in `PRAGMA user_version`; an unknown
//! version is refused, never migrated silently. Store paths are kept as base
//! names; the logical store directory is recorded once and checked on open,
//! because every hash in the database depends on it.
//!
//! - [`Db`]: an open database; its reads and writes are methods.
//! - [`PathInfo`]: what is recorded about one valid path.
//! - [`NewPath`]: what a registration supplies.

mod query;
mod schema;
mod write;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::hash::{Encoding, Hash};
use crate::store_path::{ContentAddress, FileIngestionMethod, StoreDir, StorePath};

pub use schema::SCHEMA_VERSION;

/// A database that cannot be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite failed.
    #[error("store database `{path}` failed")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rusqlite::Error,
    },
    /// The file holds a schema version this kiln does not know.
    #[error(
        "store database `{path}` has schema version {found}, but this kiln reads only version {expected}"
    )]
    UnknownVersion {
        /// The database file.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
        /// The version this kiln reads.
        expected: i64,
    },
    /// A newer kiln has created a database of a later version beside ours.
    #[error("store database `{newer}` was written by a newer kiln; this kiln reads only `{path}`")]
    NewerDatabase {
        /// The database this kiln would use.
        path: PathBuf,
        /// The newer database found beside it.
        newer: PathBuf,
    },
    /// The database was made for another logical store directory.
    #[error("store database `{path}` is for the store directory `{found}`, not `{expected}`")]
    WrongStoreDir {
        /// The database file.
        path: PathBuf,
        /// The directory it records.
        found: String,
        /// The directory asked for.
        expected: String,
    },
    /// A row holds something that does not parse (the database was edited
    /// or corrupted).
    #[error("store database `{path}` holds an invalid {what} `{value}`")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What the value should have been (`store path`, `NAR hash`, …).
        what: &'static str,
        /// The value.
        value: String,
    },
    /// A path to register refers to a path that is not valid.
    #[error("cannot register `{path}`: its reference `{reference}` is not valid")]
    MissingReference {
        /// The path being registered.
        path: StorePath,
        /// The reference.
        reference: StorePath,
    },
    /// A path to invalidate is still referred to by a valid path.
    #[error("cannot invalidate `{path}`: the valid path `{referrer}` refers to it")]
    StillReferenced {
        /// The path.
        path: StorePath,
        /// A valid path that refers to it.
        referrer: StorePath,
    },
    /// A path that must be valid is not.
    #[error("path `{0}` is not valid in this store")]
    NotValid(StorePath),
}

/// What the database records about one valid path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathInfo {
    /// The path.
    pub path: StorePath,
    /// The SHA-256 of its NAR serialisation.
    pub nar_hash: Hash,
    /// The size of its NAR serialisation in bytes.
    pub nar_size: u64,
    /// The paths it refers to (possibly itself).
    pub references: BTreeSet<StorePath>,
    /// The derivation that produced it, if any.
    pub deriver: Option<StorePath>,
    /// When it was registered, in seconds since the Unix epoch.
    pub registration_time: i64,
    /// Its content address, for content-addressed paths.
    pub ca: Option<ContentAddress>,
}

/// What a registration supplies for one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPath {
    /// The path.
    pub path: StorePath,
    /// The SHA-256 of its NAR serialisation.
    pub nar_hash: Hash,
    /// The size of its NAR serialisation in bytes.
    pub nar_size: u64,
    /// The paths it refers to (possibly itself).
    pub references: BTreeSet<StorePath>,
    /// The derivation that produced it, if any.
    pub deriver: Option<StorePath>,
    /// Its content address, for content-addressed paths.
    pub ca: Option<ContentAddress>,
    /// For a `.drv` file: its outputs by name (recorded in the
    /// derivation-outputs table).
    pub derivation_outputs: BTreeMap<String, StorePath>,
}

/// An open store database.
#[derive(Debug)]
pub struct Db {
    conn: rusqlite::Connection,
    path: PathBuf,
}

impl Db {
    /// Opens (creating if needed) the database at `file` for a store whose
    /// logical directory is `store_dir`.
    pub fn open(file: &Path, store_dir: &StoreDir) -> Result<Db, DbError> {
        schema::refuse_newer(file)?;
        // Processes opening a new store at once race to switch it to WAL,
        // and SQLite answers some of those races with SQLITE_BUSY at once,
        // without its busy handler: try again, a while.
        let start = std::time::Instant::now();
        let mut pause = std::time::Duration::from_millis(5);
        loop {
            match Db::open_once(file, store_dir) {
                Err(error) if error.is_busy() && start.elapsed() < OPEN_RETRY_FOR => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(std::time::Duration::from_millis(200));
                }
                result => return result,
            }
        }
    }

    fn open_once(file: &Path, store_dir: &StoreDir) -> Result<Db, DbError> {
        let conn = rusqlite::Connection::open(file).map_err(|source| sqlite(file, source))?;
        let mut db = Db {
            conn,
            path: file.to_owned(),
        };
        schema::configure(&db.conn).map_err(|source| sqlite(file, source))?;
        schema::ensure(&mut db, store_dir)?;
        Ok(db)
    }

    /// Returns the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sqlite(&self, source: rusqlite::Error) -> DbError {
        sqlite(&self.path, source)
    }

    fn corrupt(&self, what: &'static str, value: impl Into<String>) -> DbError {
        DbError::Corrupt {
            path: self.path.clone(),
            what,
            value: value.into(),
        }
    }
}

/// How long opening the database retries when SQLite says it is busy.
const OPEN_RETRY_FOR: std::time::Duration = std::time::Duration::from_secs(60);

impl DbError {
    /// Whether SQLite said the database is busy or locked.
    fn is_busy(&self) -> bool {
        matches!(
            self,
            DbError::Sqlite {
                source: rusqlite::Error::SqliteFailure(e, _),
                ..
            } if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    }
}

fn sqlite(path: &Path, source: rusqlite::Error) -> DbError {
    DbError::Sqlite {
        path: path.to_owned(),
        source,
    }
}

/// Parses a content address in Nix's textual form (`text:sha256:…`,
/// `fixed:r:sha256:…`, `fixed:sha1:…`).
pub fn parse_content_address(text: &str) -> Option<ContentAddress> {
    if let Some(hash) = text.strip_prefix("text:") {
        return Hash::parse(hash, None).ok().map(ContentAddress::Text);
    }
    let fixed = text.strip_prefix("fixed:")?;
    let (method, hash) = match fixed.strip_prefix("r:") {
        Some(hash) => (FileIngestionMethod::Recursive, hash),
        None => (FileIngestionMethod::Flat, fixed),
    };
    Hash::parse(hash, None)
        .ok()
        .map(|hash| ContentAddress::Fixed(method, hash))
}

/// Returns how a NAR hash is written in the database (`sha256:<nixbase32>`).
fn encode_hash(hash: &Hash) -> String {
    hash.encode_with_algo(Encoding::Nixbase32)
}

#[cfg(test)]
mod tests;
