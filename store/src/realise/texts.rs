//! Adding many text files at once: the `.drv` files (and `toFile` texts)
//! of one evaluation, as `kiln build` writes them.
//!
//! [`Store::add_text`] makes each text durable on its own: an `fsync` of
//! the file and of the store directory, and a database commit, per text.
//! For the thousand `.drv` files of a large graph that is seconds of
//! waiting on the disk. [`Store::add_texts`] does the same work once for
//! the whole batch: every text is written and hashed in scratch space, the
//! new ones are locked and renamed into the store, one `syncfs` flushes
//! them all, and one transaction registers them. A kill before the commit
//! leaves unregistered objects, which the next open removes, as for any
//! other registration.

use std::collections::{BTreeMap, BTreeSet};

use super::RegisterError;
use super::canonicalise::canonicalise;
use super::sink::summarise;
use crate::db::NewPath;
use crate::derivation::Derivation;
use crate::hash::Hash;
use crate::lock::PathLock;
use crate::store::Store;
use crate::store::add::AddError;
use crate::store::cleanup::remove_tree;
use crate::store_path::{ContentAddress, StorePath};

/// One text file to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    /// The store path's name (`hello.drv`).
    pub name: String,
    /// The contents.
    pub contents: Vec<u8>,
    /// The store paths it refers to (valid, or earlier in the batch).
    pub references: BTreeSet<StorePath>,
}

impl Store {
    /// Adds `texts` like [`Store::add_text`], all in one registration;
    /// returns their paths in order. Texts already valid are left alone.
    pub fn add_texts(&self, texts: &[Text]) -> Result<Vec<StorePath>, AddError> {
        let mut paths = Vec::with_capacity(texts.len());
        let mut new: BTreeMap<StorePath, (&Text, std::path::PathBuf)> = BTreeMap::new();
        let result = self.stage_texts(texts, &mut paths, &mut new);
        let result = result.and_then(|()| self.install_texts(&new));
        // What was not moved into the store (after an error) is scratch.
        for (_, tmp) in new.values() {
            let _ = remove_tree(tmp);
        }
        result.map(|()| paths)
    }

    /// Computes each text's path and writes the invalid ones to scratch.
    fn stage_texts<'a>(
        &self,
        texts: &'a [Text],
        paths: &mut Vec<StorePath>,
        new: &mut BTreeMap<StorePath, (&'a Text, std::path::PathBuf)>,
    ) -> Result<(), AddError> {
        for text in texts {
            let path = self
                .store_dir()
                .make_text_path(&text.name, &text.contents, &text.references)
                .map_err(|source| AddError::BadName {
                    name: text.name.clone(),
                    source,
                })?;
            paths.push(path.clone());
            if new.contains_key(&path) || self.is_valid(&path)? {
                continue;
            }
            let tmp = self.scratch_path(&text.name);
            fs_err::write(&tmp, &text.contents).map_err(|source| AddError::Copy {
                path: tmp.clone(),
                source,
            })?;
            new.insert(path, (text, tmp));
        }
        Ok(())
    }

    /// Locks, moves, syncs and registers the staged texts.
    fn install_texts(
        &self,
        new: &BTreeMap<StorePath, (&Text, std::path::PathBuf)>,
    ) -> Result<(), AddError> {
        // Sorted (a BTreeMap), so two processes never wait on each other.
        let mut locks: Vec<PathLock> = Vec::with_capacity(new.len());
        for path in new.keys() {
            locks.push(self.lock_path(path)?);
        }
        let mut records = Vec::new();
        for (path, (text, tmp)) in new {
            if self.is_valid(path)? {
                continue;
            }
            canonicalise(tmp)?;
            let summary = summarise(tmp, None, []).map_err(|source| RegisterError::Hash {
                path: tmp.clone(),
                source,
            })?;
            let dest = self.physical(path);
            remove_tree(&dest).map_err(|e| self.io(&dest, e))?;
            fs_err::rename(tmp, &dest).map_err(|e| self.io(&dest, e))?;
            records.push(NewPath {
                path: path.clone(),
                nar_hash: summary.nar_hash,
                nar_size: summary.nar_size,
                references: text.references.clone(),
                deriver: None,
                ca: Some(ContentAddress::Text(Hash::sha256(&text.contents))),
                derivation_outputs: self.derivation_outputs(path, &text.contents),
            });
        }
        if records.is_empty() {
            return Ok(());
        }
        let objects = self.layout().objects();
        let dir = fs_err::File::open(&objects).map_err(|e| self.io(&objects, e))?;
        rustix::fs::syncfs(&dir).map_err(|e| self.io(&objects, e.into()))?;
        self.db()
            .register(&records)
            .map_err(crate::store::StoreError::from)?;
        drop(locks);
        Ok(())
    }

    /// For a `.drv`, its outputs by name (recorded with the path, so that
    /// an output's deriver can be found); empty for any other text.
    pub(crate) fn derivation_outputs(
        &self,
        path: &StorePath,
        contents: &[u8],
    ) -> BTreeMap<String, StorePath> {
        if !path.is_derivation() {
            return BTreeMap::new();
        }
        Derivation::parse(contents, self.store_dir())
            .map(|drv| {
                drv.outputs
                    .into_iter()
                    .filter_map(|(name, out)| Some((name, out.path?)))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store_path::StoreDir;

    #[test]
    fn a_batch_registers_texts_that_refer_to_each_other_and_matches_add_text() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreDir::default()).unwrap();
        let first = Text {
            name: "first".into(),
            contents: b"one".to_vec(),
            references: BTreeSet::new(),
        };
        let first_path = store
            .store_dir()
            .make_text_path("first", b"one", &BTreeSet::new())
            .unwrap();
        let second = Text {
            name: "second".into(),
            contents: format!("see {}", store.display(&first_path)).into_bytes(),
            references: BTreeSet::from([first_path.clone()]),
        };
        let paths = store.add_texts(&[first.clone(), second.clone()]).unwrap();
        assert_eq!(paths[0], first_path);
        let info = store.path_info(&paths[1]).unwrap().unwrap();
        assert_eq!(info.references, BTreeSet::from([first_path.clone()]));
        // The same as one at a time, in another store.
        let other_dir = tempfile::tempdir().unwrap();
        let other = Store::open(other_dir.path(), StoreDir::default()).unwrap();
        other.add_text("first", b"one", &BTreeSet::new()).unwrap();
        let added = other
            .add_text("second", &second.contents, &second.references)
            .unwrap();
        assert_eq!(added.path, paths[1]);
        let theirs = other.path_info(&added.path).unwrap().unwrap();
        assert_eq!(
            (theirs.nar_hash, theirs.nar_size, theirs.ca),
            (info.nar_hash, info.nar_size, info.ca)
        );
        assert_eq!(
            fs_err::read(store.physical(&paths[1])).unwrap(),
            second.contents
        );
        // Again: nothing new, same paths.
        assert_eq!(store.add_texts(&[first, second]).unwrap(), paths);
        assert!(store.verify(true).unwrap().problems.is_empty());
    }
}
