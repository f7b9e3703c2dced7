//! Writing the database: registering valid paths and invalidating them,
//! each batch in one transaction.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{Db, DbError, NewPath, encode_hash};
use crate::store_path::StorePath;

impl Db {
    /// Registers `paths` in one transaction and returns, for each, whether
    /// it was newly registered (`false`: it was already valid and is left
    /// as it was).
    ///
    /// Every reference must be valid already or be in `paths`; otherwise
    /// nothing is registered.
    pub fn register(&mut self, paths: &[NewPath]) -> Result<Vec<bool>, DbError> {
        self.in_transaction(|db| db.register_in_transaction(paths))
    }

    fn register_in_transaction(&self, paths: &[NewPath]) -> Result<Vec<bool>, DbError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        let mut ids: BTreeMap<&StorePath, i64> = BTreeMap::new();
        let mut fresh = Vec::with_capacity(paths.len());
        for new in paths {
            if let Some(id) = self.id_of(&new.path)? {
                ids.insert(&new.path, id);
                fresh.push(false);
                continue;
            }
            ids.insert(&new.path, self.insert_row(new, now)?);
            fresh.push(true);
        }
        for (new, is_fresh) in paths.iter().zip(&fresh) {
            if !is_fresh {
                continue;
            }
            let Some(&id) = ids.get(&new.path) else {
                continue;
            };
            self.insert_references(new, id, &ids)?;
            self.insert_derivation_outputs(&new.derivation_outputs, id)?;
        }
        Ok(fresh)
    }

    fn insert_row(&self, new: &NewPath, now: i64) -> Result<i64, DbError> {
        let nar_size = i64::try_from(new.nar_size).unwrap_or(i64::MAX);
        self.conn
            .prepare_cached(
                "INSERT INTO valid_paths (path, nar_hash, nar_size, deriver, registration_time, ca)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut stmt| {
                stmt.execute(rusqlite::params![
                    new.path.base_name(),
                    encode_hash(&new.nar_hash),
                    nar_size,
                    new.deriver.as_ref().map(StorePath::base_name),
                    now,
                    new.ca.as_ref().map(ToString::to_string),
                ])
            })
            .map_err(|e| self.sqlite(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    fn insert_references(
        &self,
        new: &NewPath,
        id: i64,
        batch: &BTreeMap<&StorePath, i64>,
    ) -> Result<(), DbError> {
        for reference in &new.references {
            let target = match batch.get(reference) {
                Some(&target) => target,
                None => self
                    .id_of(reference)?
                    .ok_or_else(|| DbError::MissingReference {
                        path: new.path.clone(),
                        reference: reference.clone(),
                    })?,
            };
            self.conn
                .prepare_cached("INSERT OR IGNORE INTO refs (referrer, reference) VALUES (?1, ?2)")
                .and_then(|mut stmt| stmt.execute([id, target]))
                .map_err(|e| self.sqlite(e))?;
        }
        Ok(())
    }

    fn insert_derivation_outputs(
        &self,
        outputs: &BTreeMap<String, StorePath>,
        id: i64,
    ) -> Result<(), DbError> {
        for (name, path) in outputs {
            self.conn
                .prepare_cached("INSERT OR REPLACE INTO derivation_outputs (drv, output, path) VALUES (?1, ?2, ?3)")
                .and_then(|mut stmt| stmt.execute(rusqlite::params![id, name, path.base_name()]))
                .map_err(|e| self.sqlite(e))?;
        }
        Ok(())
    }

    /// Makes `paths` invalid in one transaction. A valid path outside
    /// `paths` must not refer to any of them; otherwise nothing changes.
    /// Paths that are not valid are skipped.
    pub fn invalidate(&mut self, paths: &BTreeSet<StorePath>) -> Result<(), DbError> {
        self.in_transaction(|db| {
            for path in paths {
                for referrer in db.referrers(path).or_else(|e| match e {
                    DbError::NotValid(_) => Ok(BTreeSet::new()),
                    e => Err(e),
                })? {
                    if !paths.contains(&referrer) {
                        return Err(DbError::StillReferenced {
                            path: path.clone(),
                            referrer,
                        });
                    }
                }
            }
            // Drop the references among the doomed paths first, so that
            // `ON DELETE RESTRICT` does not depend on the deletion order.
            for path in paths {
                if let Some(id) = db.id_of(path)? {
                    db.conn
                        .execute("DELETE FROM refs WHERE referrer = ?1", [id])
                        .map_err(|e| db.sqlite(e))?;
                }
            }
            for path in paths {
                db.conn
                    .execute(
                        "DELETE FROM valid_paths WHERE path = ?1",
                        [path.base_name()],
                    )
                    .map_err(|e| db.sqlite(e))?;
            }
            Ok(())
        })
    }

    /// Runs `body` inside `BEGIN IMMEDIATE` … `COMMIT`, rolling back if it
    /// fails. IMMEDIATE takes the write lock up front, so two processes
    /// never both read "not valid" and then both insert.
    fn in_transaction<T>(
        &mut self,
        body: impl FnOnce(&Db) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.sqlite(e))?;
        match body(self) {
            Ok(value) => {
                if let Err(e) = self.conn.execute_batch("COMMIT") {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    return Err(self.sqlite(e));
                }
                Ok(value)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }
}
