//! Reading the database: validity, path info, references, referrers,
//! closures and derivation outputs.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::OptionalExtension;

use super::{Db, DbError, PathInfo, parse_content_address};
use crate::hash::Hash;
use crate::store_path::StorePath;

/// One row of `valid_paths`, before its texts are parsed.
struct Row {
    id: i64,
    nar_hash: String,
    nar_size: i64,
    deriver: Option<String>,
    registration_time: i64,
    ca: Option<String>,
}

impl Db {
    /// Whether `path` is valid.
    pub fn is_valid(&self, path: &StorePath) -> Result<bool, DbError> {
        Ok(self.id_of(path)?.is_some())
    }

    /// Returns the row id of a valid path.
    pub(super) fn id_of(&self, path: &StorePath) -> Result<Option<i64>, DbError> {
        self.conn
            .prepare_cached("SELECT id FROM valid_paths WHERE path = ?1")
            .and_then(|mut stmt| {
                stmt.query_row([path.base_name()], |row| row.get(0))
                    .optional()
            })
            .map_err(|e| self.sqlite(e))
    }

    /// Returns what is recorded about `path`, or `None` if it is not valid.
    pub fn path_info(&self, path: &StorePath) -> Result<Option<PathInfo>, DbError> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT id, nar_hash, nar_size, deriver, registration_time, ca FROM valid_paths WHERE path = ?1",
            )
            .and_then(|mut stmt| {
                stmt.query_row([path.base_name()], |row| {
                    Ok(Row {
                        id: row.get(0)?,
                        nar_hash: row.get(1)?,
                        nar_size: row.get(2)?,
                        deriver: row.get(3)?,
                        registration_time: row.get(4)?,
                        ca: row.get(5)?,
                    })
                })
                .optional()
            })
            .map_err(|e| self.sqlite(e))?;
        row.map(|row| self.info_from_row(path, row)).transpose()
    }

    fn info_from_row(&self, path: &StorePath, row: Row) -> Result<PathInfo, DbError> {
        let nar_hash = Hash::parse(&row.nar_hash, None)
            .map_err(|_| self.corrupt("NAR hash", &row.nar_hash))?;
        let deriver = row.deriver.map(|d| self.parse_path(&d)).transpose()?;
        let ca = match row.ca {
            Some(ca) => Some(
                parse_content_address(&ca).ok_or_else(|| self.corrupt("content address", ca))?,
            ),
            None => None,
        };
        let nar_size = u64::try_from(row.nar_size)
            .map_err(|_| self.corrupt("NAR size", row.nar_size.to_string()))?;
        Ok(PathInfo {
            path: path.clone(),
            nar_hash,
            nar_size,
            references: self.references_of_id(row.id)?,
            deriver,
            registration_time: row.registration_time,
            ca,
        })
    }

    pub(super) fn parse_path(&self, base: &str) -> Result<StorePath, DbError> {
        StorePath::from_base_name(base).map_err(|_| self.corrupt("store path", base))
    }

    /// Returns the references of a valid path.
    pub fn references(&self, path: &StorePath) -> Result<BTreeSet<StorePath>, DbError> {
        let id = self
            .id_of(path)?
            .ok_or_else(|| DbError::NotValid(path.clone()))?;
        self.references_of_id(id)
    }

    fn references_of_id(&self, id: i64) -> Result<BTreeSet<StorePath>, DbError> {
        self.paths_of(
            "SELECT v.path FROM refs r JOIN valid_paths v ON v.id = r.reference WHERE r.referrer = ?1",
            id,
        )
    }

    /// Returns the valid paths that refer to `path` (possibly itself).
    pub fn referrers(&self, path: &StorePath) -> Result<BTreeSet<StorePath>, DbError> {
        let id = self
            .id_of(path)?
            .ok_or_else(|| DbError::NotValid(path.clone()))?;
        self.paths_of(
            "SELECT v.path FROM refs r JOIN valid_paths v ON v.id = r.referrer WHERE r.reference = ?1",
            id,
        )
    }

    /// Returns the closure of `roots` (Nix's requisites): the roots and
    /// every path reachable from them through references.
    pub fn closure<'a>(
        &self,
        roots: impl IntoIterator<Item = &'a StorePath>,
    ) -> Result<BTreeSet<StorePath>, DbError> {
        let mut closure = BTreeSet::new();
        for root in roots {
            if closure.contains(root) {
                continue;
            }
            let id = self
                .id_of(root)?
                .ok_or_else(|| DbError::NotValid(root.clone()))?;
            closure.extend(self.paths_of(
                "WITH RECURSIVE reach(id) AS (
                     SELECT ?1
                     UNION SELECT r.reference FROM refs r JOIN reach ON r.referrer = reach.id
                 )
                 SELECT v.path FROM reach JOIN valid_paths v ON v.id = reach.id",
                id,
            )?);
        }
        Ok(closure)
    }

    /// Returns every valid path.
    pub fn all_valid(&self) -> Result<BTreeSet<StorePath>, DbError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT path FROM valid_paths")
            .map_err(|e| self.sqlite(e))?;
        let names = stmt
            .query_map([], |row| row.get::<_, String>(0))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.sqlite(e))?;
        names.iter().map(|name| self.parse_path(name)).collect()
    }

    /// Returns the outputs recorded for a derivation (empty if the `.drv`
    /// is not valid or not a derivation).
    pub fn derivation_outputs(
        &self,
        drv: &StorePath,
    ) -> Result<BTreeMap<String, StorePath>, DbError> {
        let Some(id) = self.id_of(drv)? else {
            return Ok(BTreeMap::new());
        };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT output, path FROM derivation_outputs WHERE drv = ?1")
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map([id], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.sqlite(e))?;
        rows.into_iter()
            .map(|(name, path)| Ok((name, self.parse_path(&path)?)))
            .collect()
    }

    /// Returns the valid derivations that list `path` as one of their outputs.
    pub fn derivers_of_output(&self, path: &StorePath) -> Result<BTreeSet<StorePath>, DbError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT v.path FROM derivation_outputs o JOIN valid_paths v ON v.id = o.drv WHERE o.path = ?1",
            )
            .map_err(|e| self.sqlite(e))?;
        let names = stmt
            .query_map([path.base_name()], |row| row.get::<_, String>(0))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.sqlite(e))?;
        names.iter().map(|name| self.parse_path(name)).collect()
    }

    /// Runs a query taking one id and returning store path base names.
    fn paths_of(&self, sql: &str, id: i64) -> Result<BTreeSet<StorePath>, DbError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.sqlite(e))?;
        let names = stmt
            .query_map([id], |row| row.get::<_, String>(0))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.sqlite(e))?;
        names.iter().map(|name| self.parse_path(name)).collect()
    }
}
