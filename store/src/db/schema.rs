//! The schema of `db-v1.sqlite`, its creation and its version check.

use std::path::Path;
use std::time::Duration;

use rusqlite::{OptionalExtension, TransactionBehavior};

use super::{Db, DbError};
use crate::store_path::StoreDir;

/// The schema version this kiln reads and writes (`PRAGMA user_version`,
/// and the `v1` in `db-v1.sqlite`).
pub const SCHEMA_VERSION: i64 = 1;

/// How long a writer waits for another process's transaction to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(600);

/// The tables. Store paths are base names (`<hash>-<name>`).
const SCHEMA: &str = "
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
CREATE TABLE valid_paths (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    path              TEXT UNIQUE NOT NULL,
    nar_hash          TEXT NOT NULL,
    nar_size          INTEGER NOT NULL,
    deriver           TEXT,
    registration_time INTEGER NOT NULL,
    ca                TEXT
);
CREATE TABLE refs (
    referrer  INTEGER NOT NULL REFERENCES valid_paths(id) ON DELETE CASCADE,
    reference INTEGER NOT NULL REFERENCES valid_paths(id) ON DELETE RESTRICT,
    PRIMARY KEY (referrer, reference)
);
CREATE INDEX refs_by_reference ON refs(reference);
CREATE TABLE derivation_outputs (
    drv    INTEGER NOT NULL REFERENCES valid_paths(id) ON DELETE CASCADE,
    output TEXT NOT NULL,
    path   TEXT NOT NULL,
    PRIMARY KEY (drv, output)
);
CREATE INDEX derivation_outputs_by_path ON derivation_outputs(path);
";

/// Refuses to go on when a newer kiln has left a `db-v<N>.sqlite` with a
/// higher version beside `file`: the store has moved on, and writing the
/// old database would fork it.
pub(super) fn refuse_newer(file: &Path) -> Result<(), DbError> {
    let Some(dir) = file.parent() else {
        return Ok(());
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let version = name
            .to_str()
            .and_then(|n| n.strip_prefix("db-v"))
            .and_then(|n| n.strip_suffix(".sqlite"))
            .and_then(|n| n.parse::<i64>().ok());
        if version.is_some_and(|v| v > SCHEMA_VERSION) {
            return Err(DbError::NewerDatabase {
                path: file.to_owned(),
                newer: entry.path(),
            });
        }
    }
    Ok(())
}

/// Sets the connection up for several processes: WAL, a busy timeout,
/// foreign keys. `synchronous = NORMAL` is durable against a killed process
/// (the WAL is in the kernel's page cache); after a power loss the last
/// transactions may be lost, which leaves unregistered objects that the
/// next open cleans up.
pub(super) fn configure(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(())
}

/// Creates the schema in a fresh database, or checks the version and the
/// store directory of an existing one.
pub(super) fn ensure(db: &mut Db, store_dir: &StoreDir) -> Result<(), DbError> {
    let path = db.path.clone();
    let err = |source| super::sqlite(&path, source);
    // IMMEDIATE: two processes creating the same new store serialise here.
    let tx = db
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    let version: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(err)?;
    match version {
        0 => {
            tx.execute_batch(SCHEMA).map_err(err)?;
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('store_dir', ?1)",
                [store_dir.as_str()],
            )
            .map_err(err)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(err)?;
        }
        SCHEMA_VERSION => {
            let found: Option<String> = tx
                .query_row(
                    "SELECT value FROM meta WHERE key = 'store_dir'",
                    [],
                    |row| row.get(0),
                )
                .optional()
                .map_err(err)?;
            if found.as_deref() != Some(store_dir.as_str()) {
                return Err(DbError::WrongStoreDir {
                    path,
                    found: found.unwrap_or_default(),
                    expected: store_dir.as_str().to_owned(),
                });
            }
        }
        found => {
            return Err(DbError::UnknownVersion {
                path,
                found,
                expected: SCHEMA_VERSION,
            });
        }
    }
    tx.commit().map_err(err)
}
