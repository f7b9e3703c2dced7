//! Checking a store against its database, like `nix-store --verify
//! [--check-contents]`: every valid path must exist, and, when asked, its
//! NAR hash and size must still be what was registered.

use std::fmt;

use super::{Store, StoreError};
use crate::hash::{Encoding, Hash};
use crate::nar::WriteError;
use crate::realise::summarise;
use crate::store_path::StorePath;

/// One thing wrong with a store.
#[derive(Debug)]
pub enum Problem {
    /// A valid path has no object in `store/`.
    Missing(StorePath),
    /// A valid path's contents no longer have the registered NAR hash.
    Modified {
        /// The path.
        path: StorePath,
        /// The registered NAR hash.
        wanted: Hash,
        /// The NAR hash of what is on disk.
        got: Hash,
    },
    /// A valid path's object cannot be serialised (unreadable, or it now
    /// holds a special file).
    Unreadable {
        /// The path.
        path: StorePath,
        /// Why.
        source: WriteError,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Missing(path) => {
                write!(f, "path `{path}` is valid but missing from the store")
            }
            Problem::Modified { path, wanted, got } => write!(
                f,
                "path `{path}` was modified: its NAR hash was {}, it is now {}",
                wanted.encode_with_algo(Encoding::Nixbase32),
                got.encode_with_algo(Encoding::Nixbase32)
            ),
            Problem::Unreadable { path, source } => {
                write!(f, "path `{path}` cannot be read: {source}")
            }
        }
    }
}

/// What a verification found.
#[derive(Debug, Default)]
pub struct VerifyReport {
    /// How many valid paths were checked.
    pub checked: usize,
    /// Everything wrong, in path order.
    pub problems: Vec<Problem>,
}

impl Store {
    /// Checks that every valid path exists and, with `check_contents`, that
    /// its NAR hash and size match the database. Changes nothing.
    pub fn verify(&self, check_contents: bool) -> Result<VerifyReport, StoreError> {
        let mut report = VerifyReport::default();
        // Collect first: the database guard must not live across the loop.
        let paths = self.db().all_valid()?;
        for path in paths {
            report.checked += 1;
            let physical = self.physical(&path);
            if std::fs::symlink_metadata(&physical).is_err() {
                report.problems.push(Problem::Missing(path));
                continue;
            }
            if !check_contents {
                continue;
            }
            let Some(info) = self.path_info(&path)? else {
                continue;
            };
            match summarise(&physical, None, []) {
                Ok(summary)
                    if summary.nar_hash == info.nar_hash && summary.nar_size == info.nar_size => {}
                Ok(summary) => {
                    report.problems.push(Problem::Modified {
                        path,
                        wanted: info.nar_hash,
                        got: summary.nar_hash,
                    });
                }
                Err(source) => report.problems.push(Problem::Unreadable { path, source }),
            }
        }
        Ok(report)
    }
}
