//! Importing bundles: check everything, then register every new path in
//! one transaction.
//!
//! [`Store::import_bundle`] reads the whole bundle before it registers
//! anything:
//!
//! 1. the header, and the manifest: the store directory, every field, no
//!    path twice, and every reference in the bundle or valid already;
//! 2. each NAR: its length and SHA-256 against the manifest, and that it
//!    parses. A path that is not valid yet is unpacked into this
//!    process's scratch space and checked further:
//!    - a `.drv` file must be the text path of its contents and the
//!      references the manifest gives, and those must be the derivation's
//!      inputs (a `.drv` names its inputs' outputs too, which are not
//!      references, so it is not scanned);
//!    - anything else is scanned for the hash parts of every path in the
//!      bundle and every reference ([`crate::realise::scan`]), and what
//!      the scan finds must be exactly the manifest's references;
//!    - a content-addressed path (`text:`, `fixed:`) must have that
//!      content hash, and its store path must be the one computed from it;
//!    - a path whose deriver is in the bundle or the store must be one of
//!      that derivation's outputs;
//! 3. the end marker, and nothing after it.
//!
//! Only then are the new paths locked, moved into `store/`, flushed to disk
//! with one `syncfs`, and registered in one database transaction. After an
//! error the scratch copies are removed and the store is as before.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use super::BundleError;
use super::format::{BundleReader, Entry, NarReader};
use crate::db::NewPath;
use crate::derivation::Derivation;
use crate::hash::{Encoding, Hash, HashAlgo, Hasher};
use crate::lock::PathLock;
use crate::nar::{self, ReadError, UnpackError};
use crate::realise::scan::RefScanner;
use crate::realise::{RegisterError, canonicalise};
use crate::store::cleanup::remove_tree;
use crate::store::{Store, StoreError};
use crate::store_path::{ContentAddress, FileIngestionMethod, StorePath};

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// How many paths the bundle holds.
    pub paths: usize,
    /// The total size of the bundle's NARs in bytes.
    pub nar_bytes: u64,
    /// The paths this import registered (the others were valid already).
    pub imported: Vec<StorePath>,
    /// The total NAR size of the registered paths.
    pub imported_bytes: u64,
}

/// A new path unpacked into scratch space and checked.
struct Staged {
    entry: Entry,
    tmp: PathBuf,
    derivation_outputs: BTreeMap<String, StorePath>,
}

impl Store {
    /// Checks the bundle read from `input` completely, then registers the
    /// paths it holds that are not valid yet, all in one transaction; see
    /// the module documentation. On any error nothing is registered.
    pub fn import_bundle(&self, input: impl Read) -> Result<ImportReport, BundleError> {
        let (manifest, mut reader) = BundleReader::open(input)?;
        let entries = manifest.entries(self.store_dir())?;
        let in_bundle: BTreeSet<&StorePath> = entries.iter().map(|e| &e.path).collect();
        let mut new = BTreeSet::new();
        for entry in &entries {
            if !self.is_valid(&entry.path)? {
                new.insert(entry.path.clone());
            }
        }
        for entry in &entries {
            for reference in &entry.references {
                if !in_bundle.contains(reference) && !self.is_valid(reference)? {
                    return Err(BundleError::MissingReference {
                        path: self.display(&entry.path),
                        reference: self.display(reference),
                    });
                }
            }
        }
        let candidates: BTreeSet<StorePath> = entries
            .iter()
            .flat_map(|e| std::iter::once(&e.path).chain(&e.references))
            .cloned()
            .collect();
        let staging = self.scratch_path("import");
        fs_err::create_dir(&staging).map_err(|e| self.io(&staging, e))?;
        let result = self.import_entries(&entries, &mut reader, &new, &candidates, &staging);
        let result = result.and_then(|staged| {
            reader.finish()?;
            self.check_derivers(&staged)?;
            self.register_staged(&staged)
        });
        let _ = remove_tree(&staging);
        let imported = result?;
        let sizes: BTreeMap<&StorePath, u64> =
            entries.iter().map(|e| (&e.path, e.nar_size)).collect();
        Ok(ImportReport {
            paths: entries.len(),
            nar_bytes: entries.iter().map(|e| e.nar_size).sum(),
            imported_bytes: imported.iter().filter_map(|p| sizes.get(p)).sum(),
            imported,
        })
    }

    /// Reads and checks every NAR, unpacking the new ones under `staging`.
    fn import_entries<R: Read>(
        &self,
        entries: &[Entry],
        reader: &mut BundleReader<R>,
        new: &BTreeSet<StorePath>,
        candidates: &BTreeSet<StorePath>,
        staging: &Path,
    ) -> Result<Vec<Staged>, BundleError> {
        let mut staged = Vec::new();
        for entry in entries {
            let tmp = new
                .contains(&entry.path)
                .then(|| staging.join(entry.path.base_name()));
            let what = format!("the NAR of `{}`", self.display(&entry.path));
            let nar = reader.nar(&what)?;
            if nar.len() != entry.nar_size {
                return Err(BundleError::NarSize {
                    path: self.display(&entry.path),
                    wanted: entry.nar_size,
                    got: nar.len(),
                });
            }
            let summary = self.read_nar(nar, entry, tmp.as_deref(), candidates, &what)?;
            if let Some(tmp) = tmp {
                staged.push(self.check_new(entry, tmp, &summary)?);
            }
        }
        Ok(staged)
    }

    /// Reads one NAR (unpacking it to `tmp` when given) and checks its
    /// hash; returns what the pass found.
    fn read_nar<R: Read>(
        &self,
        mut nar: NarReader<'_, R>,
        entry: &Entry,
        tmp: Option<&Path>,
        candidates: &BTreeSet<StorePath>,
        what: &str,
    ) -> Result<Summary, BundleError> {
        let shown = self.display(&entry.path);
        let scan = tmp.is_some() && !entry.path.is_derivation();
        let extra = match &entry.ca {
            Some(ContentAddress::Fixed(FileIngestionMethod::Recursive, hash))
                if hash.algo() != HashAlgo::Sha256 =>
            {
                Some(Hasher::new(hash.algo()))
            }
            _ => None,
        };
        let mut tee = Tee {
            inner: &mut nar,
            sha256: Hasher::new(HashAlgo::Sha256),
            extra,
            scanner: scan.then(|| RefScanner::new(candidates)),
        };
        let parsed = match tmp {
            Some(tmp) => nar::unpack(BufReader::new(&mut tee), tmp).map(drop),
            None => nar::validate(BufReader::new(&mut tee))
                .map(drop)
                .map_err(UnpackError::Read),
        };
        let Tee {
            sha256,
            extra,
            scanner,
            ..
        } = tee;
        if let Err(error) = parsed {
            return Err(match error {
                _ if nar.truncated() => BundleError::Truncated { what: what.into() },
                UnpackError::Read(ReadError::Io { source, .. }) => BundleError::Corrupt {
                    what: what.into(),
                    source,
                },
                UnpackError::Read(source) => BundleError::BadNar {
                    path: shown,
                    source,
                },
                UnpackError::Write(source) => BundleError::Unpack {
                    path: shown,
                    source,
                },
                other => BundleError::Unpack {
                    path: shown,
                    source: io::Error::other(other),
                },
            });
        }
        let nar_hash = sha256.finish();
        if nar_hash != entry.nar_hash || !nar.done() {
            return Err(BundleError::NarHash {
                path: shown,
                wanted: entry.nar_hash.encode_with_algo(Encoding::Nixbase32),
                got: nar_hash.encode_with_algo(Encoding::Nixbase32),
            });
        }
        Ok(Summary {
            extra_hash: extra.map(Hasher::finish),
            references: scanner.map(|s| s.found()),
        })
    }

    /// Checks a new path's references, content address and store path,
    /// and canonicalises it.
    fn check_new(
        &self,
        entry: &Entry,
        tmp: PathBuf,
        summary: &Summary,
    ) -> Result<Staged, BundleError> {
        let shown = self.display(&entry.path);
        let name = entry.path.name();
        let mut derivation_outputs = BTreeMap::new();
        if entry.path.is_derivation() {
            let contents = self.read_text(entry, &tmp)?;
            let computed = self
                .store_dir()
                .make_text_path(name, &contents, &entry.references)
                .map_err(|e| self.wrong_path(entry, format!("its name is invalid: {e}")))?;
            if computed != entry.path {
                return Err(self.wrong_path(
                    entry,
                    format!(
                        "as a text file with the listed references it is `{}`",
                        self.display(&computed)
                    ),
                ));
            }
            let drv = Derivation::parse(&contents, self.store_dir()).map_err(|source| {
                BundleError::ParseDrv {
                    path: shown.clone(),
                    source,
                }
            })?;
            self.compare_references(entry, &drv.references(), "the derivation's inputs are")?;
            derivation_outputs = self.derivation_outputs(&entry.path, &contents);
        } else if let Some(found) = &summary.references {
            self.compare_references(entry, found, "its contents refer to")?;
        }
        match &entry.ca {
            Some(ContentAddress::Text(hash)) => {
                let contents = self.read_text(entry, &tmp)?;
                let got = Hash::sha256(&contents);
                if got != *hash {
                    return Err(self.wrong_path(entry, mismatch("text", hash, &got)));
                }
            }
            Some(ContentAddress::Fixed(method, hash)) => {
                let got = match method {
                    FileIngestionMethod::Recursive => summary.extra_hash.unwrap_or(entry.nar_hash),
                    FileIngestionMethod::Flat => crate::realise::flat_hash(&tmp, hash.algo())
                        .map_err(|_| {
                            self.wrong_path(
                                entry,
                                "its content address is flat, but it is not a regular file".into(),
                            )
                        })?,
                };
                if got != *hash {
                    return Err(self.wrong_path(entry, mismatch("fixed", hash, &got)));
                }
            }
            None => {}
        }
        if let Some(ca) = &entry.ca {
            let mut others = entry.references.clone();
            let self_reference = others.remove(&entry.path);
            let computed = match ca {
                ContentAddress::Text(_) if self_reference => None,
                ContentAddress::Text(_) => self
                    .store_dir()
                    .make_content_addressed_path(name, ca, &others)
                    .ok(),
                ContentAddress::Fixed(method, hash) => self
                    .store_dir()
                    .make_fixed_output_path(name, *method, hash, &others, self_reference)
                    .ok(),
            };
            if computed.as_ref() != Some(&entry.path) {
                let detail = computed.map_or_else(
                    || format!("no store path has the content address `{ca}`"),
                    |c| format!("its content address `{ca}` makes it `{}`", self.display(&c)),
                );
                return Err(self.wrong_path(entry, detail));
            }
        }
        canonicalise(&tmp)?;
        Ok(Staged {
            entry: entry.clone(),
            tmp,
            derivation_outputs,
        })
    }

    fn read_text(&self, entry: &Entry, tmp: &Path) -> Result<Vec<u8>, BundleError> {
        let is_file = std::fs::symlink_metadata(tmp).is_ok_and(|m| m.is_file());
        if !is_file {
            return Err(self.wrong_path(
                entry,
                "a text file (a `.drv` or a `text:` content address) must be a regular file".into(),
            ));
        }
        fs_err::read(tmp).map_err(|source| BundleError::Unpack {
            path: self.display(&entry.path),
            source,
        })
    }

    fn compare_references(
        &self,
        entry: &Entry,
        found: &BTreeSet<StorePath>,
        what: &str,
    ) -> Result<(), BundleError> {
        if *found == entry.references {
            return Ok(());
        }
        let list = |paths: Vec<&StorePath>| {
            paths
                .iter()
                .map(|p| format!("`{}`", self.display(p)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut parts = Vec::new();
        let unclaimed: Vec<&StorePath> = found.difference(&entry.references).collect();
        if !unclaimed.is_empty() {
            parts.push(format!(
                "{what} {} but the manifest does not list them",
                list(unclaimed)
            ));
        }
        let unfound: Vec<&StorePath> = entry.references.difference(found).collect();
        if !unfound.is_empty() {
            parts.push(format!(
                "the manifest lists {} but {what} none of them",
                list(unfound)
            ));
        }
        Err(BundleError::References {
            path: self.display(&entry.path),
            detail: parts.join("; "),
        })
    }

    fn wrong_path(&self, entry: &Entry, detail: String) -> BundleError {
        BundleError::WrongPath {
            path: self.display(&entry.path),
            detail,
        }
    }

    /// Checks that each new path whose deriver is at hand (new in the
    /// bundle, or valid) is one of the deriver's outputs.
    fn check_derivers(&self, staged: &[Staged]) -> Result<(), BundleError> {
        let new: BTreeMap<&StorePath, &Path> = staged
            .iter()
            .map(|s| (&s.entry.path, s.tmp.as_path()))
            .collect();
        let mut parsed: BTreeMap<&StorePath, Option<Derivation>> = BTreeMap::new();
        for s in staged {
            let Some(deriver) = &s.entry.deriver else {
                continue;
            };
            if !parsed.contains_key(deriver) {
                let file = match new.get(deriver) {
                    Some(tmp) => Some(tmp.to_path_buf()),
                    None if self.is_valid(deriver)? => Some(self.physical(deriver)),
                    None => None,
                };
                let drv = file
                    .and_then(|file| fs_err::read(file).ok())
                    .and_then(|bytes| Derivation::parse(&bytes, self.store_dir()).ok());
                parsed.insert(deriver, drv);
            }
            let Some(Some(drv)) = parsed.get(deriver) else {
                continue;
            };
            if !drv
                .outputs
                .values()
                .any(|o| o.path.as_ref() == Some(&s.entry.path))
            {
                return Err(self.wrong_path(
                    &s.entry,
                    format!("its deriver `{}` has no such output", self.display(deriver)),
                ));
            }
        }
        Ok(())
    }

    /// Locks, moves, syncs and registers the staged paths in one
    /// transaction; returns the paths registered.
    fn register_staged(&self, staged: &[Staged]) -> Result<Vec<StorePath>, BundleError> {
        let mut sorted: Vec<&Staged> = staged.iter().collect();
        sorted.sort_by(|a, b| a.entry.path.cmp(&b.entry.path));
        // In path order, so two importers never wait on each other.
        let mut locks: Vec<PathLock> = Vec::with_capacity(sorted.len());
        for s in &sorted {
            locks.push(self.lock_path(&s.entry.path)?);
        }
        let mut records = Vec::new();
        for s in staged {
            if self.is_valid(&s.entry.path)? {
                continue;
            }
            let dest = self.physical(&s.entry.path);
            self.place(&s.tmp, &dest)?;
            records.push(NewPath {
                path: s.entry.path.clone(),
                nar_hash: s.entry.nar_hash,
                nar_size: s.entry.nar_size,
                references: s.entry.references.clone(),
                deriver: s.entry.deriver.clone(),
                ca: s.entry.ca.clone(),
                derivation_outputs: s.derivation_outputs.clone(),
            });
        }
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let objects = self.layout().objects();
        let dir = fs_err::File::open(&objects).map_err(|e| self.io(&objects, e))?;
        rustix::fs::syncfs(&dir).map_err(|e| self.io(&objects, e.into()))?;
        let fresh = self
            .db()
            .register(&records)
            .map_err(|e| RegisterError::Store(StoreError::Db(e)))?;
        drop(locks);
        Ok(records
            .into_iter()
            .zip(fresh)
            .filter(|(_, fresh)| *fresh)
            .map(|(record, _)| record.path)
            .collect())
    }
}

/// What one pass over a NAR found besides its hash.
struct Summary {
    /// The hash with the content address's algorithm, for a recursive
    /// fixed output that is not SHA-256.
    extra_hash: Option<Hash>,
    /// The candidates found, when the NAR was scanned.
    references: Option<BTreeSet<StorePath>>,
}

fn mismatch(kind: &str, wanted: &Hash, got: &Hash) -> String {
    format!(
        "its {kind} content address says {}, but its contents hash to {}",
        wanted.encode_with_algo(Encoding::Nixbase32),
        got.encode_with_algo(Encoding::Nixbase32)
    )
}

/// Hashes and scans what the NAR parser reads.
struct Tee<'a, R> {
    inner: &'a mut R,
    sha256: Hasher,
    extra: Option<Hasher>,
    scanner: Option<RefScanner>,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let chunk = buf.get(..n).unwrap_or_default();
        self.sha256.update(chunk);
        if let Some(extra) = &mut self.extra {
            extra.update(chunk);
        }
        if let Some(scanner) = &mut self.scanner {
            scanner.feed(chunk);
        }
        Ok(n)
    }
}
