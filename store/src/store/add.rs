//! Putting content-addressed paths into the store: source trees and files
//! (`nix-store --add`, `--add-fixed`, the evaluator's `"${./foo}"`) and
//! text files (`builtins.toFile`, `.drv` files).
//!
//! Both are idempotent: adding what is already valid does nothing but
//! return its path. Concurrent adds of the same content serialise on the
//! path's lock; exactly one of them registers it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::cleanup::remove_tree;
use super::{Store, StoreError};
use crate::db::NewPath;
use crate::hash::{Hash, HashAlgo, Hasher};
use crate::realise::canonicalise::{CanonicaliseError, special_kind};
use crate::realise::{RegisterError, canonicalise, summarise};
use crate::store_path::{ContentAddress, FileIngestionMethod, ParseError, StorePath};

/// Why something could not be added to the store.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    /// The name cannot be used in a store path.
    #[error("`{name}` cannot be the name of a store path")]
    BadName {
        /// The name.
        name: String,
        /// Why.
        #[source]
        source: ParseError,
    },
    /// The source could not be read or copied.
    #[error("cannot copy `{path}` into the store")]
    Copy {
        /// The file that failed.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Flat ingestion was asked for something that is not a regular file.
    #[error("`{0}` is not a regular file, so it cannot be added with flat hashing")]
    NotAFile(PathBuf),
    /// Canonicalising, hashing or registering failed.
    #[error(transparent)]
    Register(#[from] RegisterError),
}

impl From<StoreError> for AddError {
    fn from(e: StoreError) -> Self {
        AddError::Register(RegisterError::Store(e))
    }
}

impl From<CanonicaliseError> for AddError {
    fn from(e: CanonicaliseError) -> Self {
        AddError::Register(RegisterError::Canonicalise(e))
    }
}

/// The result of an add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    /// The store path.
    pub path: StorePath,
    /// Whether this call registered it (`false`: it was valid already).
    pub fresh: bool,
}

impl Store {
    /// Adds the file, directory or symlink at `source` as a fixed-output
    /// path named `name`, hashed with `method` and `algo`, like
    /// `nix-store --add-fixed [--recursive] <algo>` (and, for recursive
    /// SHA-256, `nix-store --add`).
    pub fn add_path(
        &self,
        source: &Path,
        name: &str,
        method: FileIngestionMethod,
        algo: HashAlgo,
    ) -> Result<Added, AddError> {
        crate::store_path::validate_name(name).map_err(|source| AddError::BadName {
            name: name.to_owned(),
            source,
        })?;
        let tmp = self.scratch_path(name);
        let result = self.add_copy(source, &tmp, name, method, algo);
        let _ = remove_tree(&tmp);
        result
    }

    fn add_copy(
        &self,
        source: &Path,
        tmp: &Path,
        name: &str,
        method: FileIngestionMethod,
        algo: HashAlgo,
    ) -> Result<Added, AddError> {
        copy_tree(source, tmp)?;
        canonicalise(tmp)?;
        let extra =
            (method == FileIngestionMethod::Recursive && algo != HashAlgo::Sha256).then_some(algo);
        let summary = summarise(tmp, extra, []).map_err(|source| RegisterError::Hash {
            path: tmp.to_owned(),
            source,
        })?;
        let hash = match method {
            FileIngestionMethod::Recursive => summary.extra_hash.unwrap_or(summary.nar_hash),
            FileIngestionMethod::Flat => flat_file_hash(tmp, algo)?,
        };
        let path = self
            .store_dir()
            .make_fixed_output_path(name, method, &hash, &BTreeSet::new(), false)
            .map_err(|source| AddError::BadName {
                name: name.to_owned(),
                source,
            })?;
        let record = NewPath {
            path,
            nar_hash: summary.nar_hash,
            nar_size: summary.nar_size,
            references: BTreeSet::new(),
            deriver: None,
            ca: Some(ContentAddress::Fixed(method, hash)),
            derivation_outputs: BTreeMap::new(),
        };
        self.install(tmp, record)
    }

    /// Adds a text file with the given references, like `builtins.toFile`
    /// and the writing of `.drv` files. When `name` ends in `.drv` and the
    /// contents parse as a derivation, its outputs are recorded too.
    pub fn add_text(
        &self,
        name: &str,
        contents: &[u8],
        references: &BTreeSet<StorePath>,
    ) -> Result<Added, AddError> {
        let path = self
            .store_dir()
            .make_text_path(name, contents, references)
            .map_err(|source| AddError::BadName {
                name: name.to_owned(),
                source,
            })?;
        if self.is_valid(&path)? {
            return Ok(Added { path, fresh: false });
        }
        let tmp = self.scratch_path(name);
        let result = self.add_text_file(&tmp, path, contents, references);
        let _ = remove_tree(&tmp);
        result
    }

    fn add_text_file(
        &self,
        tmp: &Path,
        path: StorePath,
        contents: &[u8],
        references: &BTreeSet<StorePath>,
    ) -> Result<Added, AddError> {
        fs_err::write(tmp, contents).map_err(|source| AddError::Copy {
            path: tmp.to_owned(),
            source,
        })?;
        canonicalise(tmp)?;
        let summary = summarise(tmp, None, []).map_err(|source| RegisterError::Hash {
            path: tmp.to_owned(),
            source,
        })?;
        let derivation_outputs = self.derivation_outputs(&path, contents);
        let record = NewPath {
            path,
            nar_hash: summary.nar_hash,
            nar_size: summary.nar_size,
            references: references.clone(),
            deriver: None,
            ca: Some(ContentAddress::Text(Hash::sha256(contents))),
            derivation_outputs,
        };
        self.install(tmp, record)
    }

    /// Moves a canonicalised, hashed tree into the store and registers it,
    /// unless its path is (or becomes, while waiting for the lock) valid.
    fn install(&self, tmp: &Path, record: NewPath) -> Result<Added, AddError> {
        let path = record.path.clone();
        if self.is_valid(&path)? {
            return Ok(Added { path, fresh: false });
        }
        let _lock = self.lock_path(&path)?;
        if self.is_valid(&path)? {
            return Ok(Added { path, fresh: false });
        }
        self.move_into_store(tmp, &path)?;
        let fresh = self.db().register(&[record]).map_err(StoreError::from)?;
        Ok(Added {
            path,
            fresh: fresh.first().copied().unwrap_or(false),
        })
    }
}

/// Returns the hash of a regular file's contents.
fn flat_file_hash(path: &Path, algo: HashAlgo) -> Result<Hash, AddError> {
    let copy_err = |source| AddError::Copy {
        path: path.to_owned(),
        source,
    };
    if !std::fs::symlink_metadata(path).map_err(copy_err)?.is_file() {
        return Err(AddError::NotAFile(path.to_owned()));
    }
    let mut hasher = Hasher::new(algo);
    let mut file = fs_err::File::open(path).map_err(copy_err)?;
    std::io::copy(&mut file, &mut hasher).map_err(copy_err)?;
    Ok(hasher.finish())
}

/// Copies a tree without following symlinks, keeping the executable bits
/// (the rest of the mode is reset by canonicalisation). Special files are
/// refused.
fn copy_tree(from: &Path, to: &Path) -> Result<(), AddError> {
    let mut stack = vec![(from.to_owned(), to.to_owned())];
    while let Some((src, dst)) = stack.pop() {
        let copy_err = |source| AddError::Copy {
            path: src.clone(),
            source,
        };
        let file_type = std::fs::symlink_metadata(&src)
            .map_err(copy_err)?
            .file_type();
        if file_type.is_symlink() {
            let target = fs_err::read_link(&src).map_err(copy_err)?;
            fs_err::os::unix::fs::symlink(&target, &dst).map_err(copy_err)?;
        } else if file_type.is_dir() {
            fs_err::create_dir(&dst).map_err(copy_err)?;
            for entry in fs_err::read_dir(&src).map_err(copy_err)? {
                let entry = entry.map_err(copy_err)?;
                stack.push((entry.path(), dst.join(entry.file_name())));
            }
        } else if file_type.is_file() {
            fs_err::copy(&src, &dst).map_err(copy_err)?;
        } else {
            let kind = special_kind(file_type).unwrap_or("special file");
            return Err(CanonicaliseError::SpecialFile {
                path: src.clone(),
                kind,
            }
            .into());
        }
    }
    Ok(())
}
