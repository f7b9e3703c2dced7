//! Writing bundles: which paths go in ([`Store::sources_closure`] for
//! `kiln export --sources-only`, the store's closure for `--closure`) and
//! the writing itself ([`Store::export_bundle`]).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};

use super::BundleError;
use super::format::{BundleWriter, Entry, Manifest};
use crate::derivation::Derivation;
use crate::hash::{HashAlgo, Hasher};
use crate::store::Store;
use crate::store_path::StorePath;

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportReport {
    /// The paths, in the bundle's order.
    pub paths: Vec<StorePath>,
    /// The total size of their NARs in bytes (before compression).
    pub nar_bytes: u64,
}

impl Store {
    /// Returns what rebuilding `roots` from source needs, with no network:
    /// the `.drv` files of the whole build closure (each `.drv` refers to
    /// its input derivations and sources, so this is their reference
    /// closure), the input sources, and the outputs of the fixed-output
    /// derivations among them (the downloads), but no other outputs.
    ///
    /// A root that is not a `.drv` stands for its deriver. Every download
    /// must be valid already ([`BundleError::NotFetched`]).
    pub fn sources_closure(&self, roots: &[StorePath]) -> Result<BTreeSet<StorePath>, BundleError> {
        let mut drvs = BTreeSet::new();
        for root in roots {
            if !self.is_valid(root)? {
                return Err(BundleError::NotValid(self.display(root)));
            }
            if root.is_derivation() {
                drvs.insert(root.clone());
                continue;
            }
            let recorded = self.path_info(root)?.and_then(|info| info.deriver);
            let deriver = match recorded {
                Some(deriver) if self.is_valid(&deriver)? => Some(deriver),
                _ => self.db().derivers_of_output(root)?.into_iter().next(),
            };
            drvs.insert(deriver.ok_or_else(|| BundleError::NoDeriver(self.display(root)))?);
        }
        let mut wanted = self.db().closure(&drvs)?;
        let mut downloads = Vec::new();
        let mut missing = Vec::new();
        for drv_path in wanted.iter().filter(|p| p.is_derivation()) {
            let drv = self.read_derivation(drv_path)?;
            if drv.fixed_output().is_none() {
                continue;
            }
            for output in drv.outputs.values().filter_map(|o| o.path.as_ref()) {
                if self.is_valid(output)? {
                    downloads.push(output.clone());
                } else {
                    missing.push(format!(
                        "\n  {} (of {})",
                        self.display(output),
                        self.display(drv_path)
                    ));
                }
            }
        }
        if !missing.is_empty() {
            return Err(BundleError::NotFetched {
                count: missing.len(),
                list: missing.concat(),
            });
        }
        // A fixed output has no references, but its closure is taken in
        // case one was registered before that rule.
        wanted.extend(self.db().closure(&downloads)?);
        Ok(wanted)
    }

    /// Reads and parses a `.drv` file of this store.
    pub(crate) fn read_derivation(&self, drv_path: &StorePath) -> Result<Derivation, BundleError> {
        let bytes =
            fs_err::read(self.physical(drv_path)).map_err(|source| BundleError::ReadDrv {
                path: self.display(drv_path),
                source,
            })?;
        Derivation::parse(&bytes, self.store_dir()).map_err(|source| BundleError::ParseDrv {
            path: self.display(drv_path),
            source,
        })
    }

    /// Writes a bundle of `paths` (all valid) to `out`, references before
    /// referrers. Each NAR is checked against the database as it is
    /// written, so a path modified in the store is not exported.
    pub fn export_bundle(
        &self,
        paths: &BTreeSet<StorePath>,
        out: impl Write,
    ) -> Result<ExportReport, BundleError> {
        let mut infos = BTreeMap::new();
        for path in paths {
            let info = self
                .path_info(path)?
                .ok_or_else(|| BundleError::NotValid(self.display(path)))?;
            infos.insert(path.clone(), info);
        }
        let order = references_first(&infos);
        let entries: Vec<Entry> = order
            .iter()
            .filter_map(|path| infos.get(path))
            .map(|info| Entry {
                path: info.path.clone(),
                nar_hash: info.nar_hash,
                nar_size: info.nar_size,
                references: info.references.clone(),
                deriver: info.deriver.clone(),
                ca: info.ca.clone(),
            })
            .collect();
        let manifest = Manifest {
            store_dir: self.store_dir().as_str().to_owned(),
            paths: entries
                .iter()
                .map(|e| e.to_manifest(self.store_dir()))
                .collect(),
        };
        let mut writer = BundleWriter::new(out, &manifest)?;
        let mut nar_bytes = 0;
        for entry in &entries {
            let mut sink = HashingWriter {
                inner: writer.nar()?,
                hasher: Hasher::new(HashAlgo::Sha256),
                size: 0,
            };
            let physical = self.physical(&entry.path);
            let dumped = crate::nar::dump(&physical, &mut sink);
            let HashingWriter {
                inner,
                hasher,
                size,
            } = sink;
            let modified = || BundleError::Modified {
                path: self.display(&entry.path),
            };
            match dumped {
                Ok(_) => {}
                // Longer than registered: the NAR writer refuses the excess.
                Err(_) if size >= entry.nar_size => return Err(modified()),
                Err(source) => {
                    return Err(BundleError::Dump {
                        path: self.display(&entry.path),
                        source,
                    });
                }
            }
            if size != entry.nar_size || hasher.finish() != entry.nar_hash {
                return Err(modified());
            }
            inner.finish()?;
            nar_bytes += size;
        }
        writer.finish()?;
        Ok(ExportReport {
            paths: order,
            nar_bytes,
        })
    }
}

/// Orders paths so that each comes after the ones it refers to (among
/// `infos`); ties in path order.
fn references_first(infos: &BTreeMap<StorePath, crate::db::PathInfo>) -> Vec<StorePath> {
    let mut order = Vec::with_capacity(infos.len());
    let mut done: BTreeSet<&StorePath> = BTreeSet::new();
    // Paths whose references are being ordered (references can form
    // cycles between the outputs of one derivation).
    let mut visiting: BTreeSet<&StorePath> = BTreeSet::new();
    for root in infos.keys() {
        // Depth first without recursion: (path, references pushed yet).
        let mut stack = vec![(root, false)];
        while let Some((path, expanded)) = stack.pop() {
            if expanded {
                done.insert(path);
                order.push(path.clone());
                continue;
            }
            if done.contains(path) || !visiting.insert(path) {
                continue;
            }
            stack.push((path, true));
            if let Some(info) = infos.get(path) {
                for reference in info.references.iter().rev() {
                    if infos.contains_key(reference)
                        && !done.contains(reference)
                        && !visiting.contains(reference)
                    {
                        stack.push((reference, false));
                    }
                }
            }
        }
    }
    order
}

/// Hashes and counts what passes through to a NAR in the bundle.
struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
    size: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        let written = buf.get(..n).unwrap_or(buf);
        self.hasher.update(written);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
