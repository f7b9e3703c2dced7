//! Registering build and fetch outputs: verify, move into the store, sync,
//! record.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use super::canonicalise::{CanonicaliseError, canonicalise, set_mode, set_store_mtime};
use super::sink::{NarSummary, summarise};
use crate::db::{DbError, NewPath, PathInfo};
use crate::derivation::FixedOutputHash;
use crate::hash::{Encoding, Hash, Hasher};
use crate::lock::PathLock;
use crate::nar::WriteError;
use crate::store::cleanup::remove_tree;
use crate::store::{Store, StoreError};
use crate::store_path::{ContentAddress, FileIngestionMethod, StorePath};

/// One output of a build or fetch, waiting under `tmp/` to be registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingOutput {
    /// The store path it is meant to become.
    pub path: StorePath,
    /// Where it is now (under the store's `tmp/`).
    pub tmp: PathBuf,
    /// For a fixed-output derivation, the declared hash.
    pub fixed: Option<FixedOutputHash>,
}

/// What [`Store::register_outputs`] needs besides the outputs.
#[derive(Debug, Clone, Copy)]
pub struct Registration<'a> {
    /// The input closure: the paths the outputs may refer to (the outputs
    /// themselves are always candidates too).
    pub candidates: &'a BTreeSet<StorePath>,
    /// The derivation that produced the outputs, if any.
    pub deriver: Option<&'a StorePath>,
    /// The locks of every output, held by the caller.
    pub locks: &'a [PathLock],
}

/// A fixed output whose contents do not have the declared hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashMismatch {
    /// The output's full logical path.
    pub path: String,
    /// The declared hash.
    pub wanted: Hash,
    /// The hash of what was produced.
    pub got: Hash,
}

impl fmt::Display for HashMismatch {
    /// Prints aligned `wanted:` and `got:` lines, each in SRI and nixbase32.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "hash mismatch in fixed output `{}`", self.path)?;
        let line = |hash: &Hash| {
            format!(
                "{}  {}",
                hash.to_sri(),
                hash.encode_with_algo(Encoding::Nixbase32)
            )
        };
        writeln!(f, "  wanted: {}", line(&self.wanted))?;
        write!(f, "  got:    {}", line(&self.got))
    }
}

impl std::error::Error for HashMismatch {}

impl From<HashMismatch> for RegisterError {
    fn from(mismatch: HashMismatch) -> Self {
        RegisterError::HashMismatch(Box::new(mismatch))
    }
}

/// Why outputs could not be registered. In every case nothing was
/// registered.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The caller does not hold the lock of an output.
    #[error("output `{0}` is not locked by the caller")]
    NotLocked(StorePath),
    /// An output could not be canonicalised.
    #[error(transparent)]
    Canonicalise(#[from] CanonicaliseError),
    /// An output could not be serialised.
    #[error("cannot hash output `{path}`")]
    Hash {
        /// The output's temporary location.
        path: PathBuf,
        /// Why.
        #[source]
        source: WriteError,
    },
    /// A fixed output's hash is not the declared one.
    /// (Boxed: two hashes would make every `Result` of this module large.)
    #[error(transparent)]
    HashMismatch(Box<HashMismatch>),
    /// A flat fixed output is not a single regular file.
    #[error("fixed output `{0}` has flat hashing, so it must be a regular file")]
    NotAFile(PathBuf),
    /// A fixed output refers to store paths, which Nix forbids.
    #[error("fixed output `{path}` must not refer to store paths, but refers to `{reference}`")]
    FixedOutputReferences {
        /// The output.
        path: StorePath,
        /// One of its references.
        reference: StorePath,
    },
    /// The store failed (moving the output in, syncing, the database).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<DbError> for RegisterError {
    fn from(e: DbError) -> Self {
        RegisterError::Store(StoreError::Db(e))
    }
}

impl Store {
    /// Registers the outputs of one build or fetch, all or nothing.
    ///
    /// Outputs already valid (someone else produced them) are skipped and
    /// their temporary copies removed. Returns the info of every output.
    pub fn register_outputs(
        &self,
        outputs: &[PendingOutput],
        registration: Registration<'_>,
    ) -> Result<Vec<PathInfo>, RegisterError> {
        for output in outputs {
            if !registration
                .locks
                .iter()
                .any(|lock| lock.store_path() == &output.path)
            {
                return Err(RegisterError::NotLocked(output.path.clone()));
            }
        }
        let mut candidates: BTreeSet<StorePath> = registration.candidates.clone();
        candidates.extend(outputs.iter().map(|o| o.path.clone()));
        let mut new_paths = Vec::new();
        for output in outputs {
            if self.is_valid(&output.path)? {
                remove_tree(&output.tmp).map_err(|e| self.io(&output.tmp, e))?;
                continue;
            }
            let summary = self.check_output(output, &candidates)?;
            new_paths.push((output, summary));
        }
        for (output, _) in &new_paths {
            self.move_into_store(&output.tmp, &output.path)?;
        }
        let records: Vec<NewPath> = new_paths
            .into_iter()
            .map(|(output, summary)| NewPath {
                path: output.path.clone(),
                nar_hash: summary.nar_hash,
                nar_size: summary.nar_size,
                references: summary.references,
                deriver: registration.deriver.cloned(),
                ca: output
                    .fixed
                    .as_ref()
                    .map(|fixed| ContentAddress::Fixed(fixed.method, fixed.hash)),
                derivation_outputs: BTreeMap::new(),
            })
            .collect();
        self.db().register(&records)?;
        let db = self.db();
        let mut infos = Vec::with_capacity(outputs.len());
        for output in outputs {
            infos.push(
                db.path_info(&output.path)?
                    .ok_or_else(|| DbError::NotValid(output.path.clone()))?,
            );
        }
        Ok(infos)
    }

    /// Canonicalises, hashes and scans one output, and checks a fixed
    /// output's hash.
    pub(crate) fn check_output(
        &self,
        output: &PendingOutput,
        candidates: &BTreeSet<StorePath>,
    ) -> Result<NarSummary, RegisterError> {
        canonicalise(&output.tmp)?;
        let extra = output
            .fixed
            .as_ref()
            .filter(|fixed| fixed.method == FileIngestionMethod::Recursive)
            .map(|fixed| fixed.hash.algo());
        let summary =
            summarise(&output.tmp, extra, candidates).map_err(|source| RegisterError::Hash {
                path: output.tmp.clone(),
                source,
            })?;
        let Some(fixed) = &output.fixed else {
            return Ok(summary);
        };
        let got = match fixed.method {
            FileIngestionMethod::Recursive => summary.extra_hash.unwrap_or(summary.nar_hash),
            FileIngestionMethod::Flat => flat_hash(&output.tmp, fixed.hash.algo())?,
        };
        if got != fixed.hash {
            return Err(HashMismatch {
                path: self.display(&output.path),
                wanted: fixed.hash,
                got,
            }
            .into());
        }
        if let Some(reference) = summary.references.iter().next() {
            return Err(RegisterError::FixedOutputReferences {
                path: output.path.clone(),
                reference: reference.clone(),
            });
        }
        Ok(summary)
    }

    /// Renames a canonicalised tree from `tmp/` to its place in `store/`,
    /// replacing any unregistered leftover there, and syncs it to disk. The
    /// caller holds the path's lock and has checked it is not valid.
    pub(crate) fn move_into_store(&self, tmp: &Path, path: &StorePath) -> Result<(), StoreError> {
        let dest = self.physical(path);
        self.place(tmp, &dest)?;
        sync_tree(&dest).map_err(|e| self.io(&dest, e))?;
        let objects = self.layout().objects();
        sync_path(&objects).map_err(|e| self.io(&objects, e))
    }

    /// Renames a canonicalised tree from `tmp/` to `dest` in `store/`,
    /// replacing whatever is there, keeping it canonical.
    pub(crate) fn place(&self, tmp: &Path, dest: &Path) -> Result<(), StoreError> {
        remove_tree(dest).map_err(|e| self.io(dest, e))?;
        let is_dir = std::fs::symlink_metadata(tmp)
            .map_err(|e| self.io(tmp, e))?
            .is_dir();
        // Moving a directory to another parent rewrites its `..`, which
        // needs write permission on it when not running as root.
        if is_dir {
            set_mode(tmp, 0o755).map_err(|e| self.canonicalise_io(e))?;
        }
        fs_err::rename(tmp, dest).map_err(|e| self.io(dest, e))?;
        if is_dir {
            set_mode(dest, 0o555).map_err(|e| self.canonicalise_io(e))?;
        }
        set_store_mtime(dest).map_err(|e| self.canonicalise_io(e))
    }

    fn canonicalise_io(&self, error: CanonicaliseError) -> StoreError {
        match error {
            CanonicaliseError::Io { path, source } => self.io(&path, source),
            CanonicaliseError::SpecialFile { path, .. } => {
                self.io(&path, std::io::ErrorKind::InvalidInput.into())
            }
        }
    }
}

/// Returns the hash of a regular file's contents (flat ingestion).
pub(crate) fn flat_hash(path: &Path, algo: crate::hash::HashAlgo) -> Result<Hash, RegisterError> {
    let meta = std::fs::symlink_metadata(path).map_err(|source| CanonicaliseError::Io {
        path: path.to_owned(),
        source,
    })?;
    if !meta.is_file() {
        return Err(RegisterError::NotAFile(path.to_owned()));
    }
    let mut file = fs_err::File::open(path).map_err(|source| CanonicaliseError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut hasher = Hasher::new(algo);
    std::io::copy(&mut file, &mut hasher).map_err(|source| CanonicaliseError::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(hasher.finish())
}

/// Flushes every file and directory of a tree to disk, so that a power
/// loss after the database commit cannot leave a valid path with missing
/// contents.
///
/// One `syncfs` of the store's file system does it: it writes back
/// everything dirty there and waits, at the cost of the dirty data, not of
/// the number of files. Syncing each file instead costs a round trip to
/// the disk per file: 45 s for uv's vendor directory (27,447 files) on
/// this project's machines, against 0.9 s. Where `syncfs` is refused, each
/// file and directory is synced in turn.
fn sync_tree(root: &Path) -> std::io::Result<()> {
    let dir = std::fs::File::open(root)?;
    if rustix::fs::syncfs(&dir).is_ok() {
        return Ok(());
    }
    let mut stack = vec![root.to_owned()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                stack.push(entry?.path());
            }
        }
        // Symlinks need no sync of their own: their parent's covers them.
        if !meta.file_type().is_symlink() {
            sync_path(&path)?;
        }
    }
    Ok(())
}

fn sync_path(path: &Path) -> std::io::Result<()> {
    std::fs::File::open(path)?.sync_all()
}

#[cfg(test)]
mod tests;
