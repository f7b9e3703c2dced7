//! `hashDerivationModulo`: the hash that input-addressed output paths are
//! made from.
//!
//! A fixed-output derivation hashes to `sha256("fixed:out:<algo>:<hash>:<path>")`,
//! so that how something is fetched does not change what depends on it.
//! Any other derivation hashes to the SHA-256 of its ATerm with each input
//! derivation's path replaced by that input's own hash modulo (in base16),
//! recursively. With `mask_outputs`, the derivation's own output paths are
//! blanked, which is how its output paths are computed in the first place.

use std::borrow::Cow;
use std::collections::BTreeSet;

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use super::aterm::{Aterm, write_input_list};
use super::{Derivation, PathComputeError};
use crate::hash::{Base16, Encoding, Hash, HashAlgo, Hasher};
use crate::store_path::{StoreDir, StorePath};

/// The hashes modulo of derivations already seen, by `.drv` path. Input
/// derivations must be known here before a derivation that uses them is
/// hashed.
#[derive(Debug, Clone, Default)]
pub struct DrvHashes {
    hashes: HashMap<StorePath, Hash, BuildHasherDefault<HashPartHasher>>,
}

/// Hashes a store path by the start of its hash part, which is already
/// a uniformly distributed hash: every derivation looks up each of its
/// inputs here a few times.
#[derive(Default)]
struct HashPartHasher(Option<u64>);

impl std::hash::Hasher for HashPartHasher {
    fn write(&mut self, bytes: &[u8]) {
        if self.0.is_none() {
            let mut start = [0u8; 8];
            for (to, from) in start.iter_mut().zip(bytes) {
                *to = *from;
            }
            // nixbase32 digits carry 5 bits a byte: a wide multiply folds
            // them over every bit of the result.
            let product = u128::from(u64::from_le_bytes(start)) * 0x9e37_79b9_7f4a_7c15;
            self.0 = Some((product as u64) ^ ((product >> 64) as u64));
        }
    }

    fn finish(&self) -> u64 {
        self.0.unwrap_or_default()
    }
}

impl DrvHashes {
    /// Returns an empty table.
    pub fn new() -> DrvHashes {
        DrvHashes::default()
    }

    /// Returns the recorded hash of a `.drv` path.
    pub fn get(&self, drv_path: &StorePath) -> Option<&Hash> {
        self.hashes.get(drv_path)
    }

    /// Records the hash of a derivation stored at `drv_path`, computing it
    /// from its (already known) inputs, and returns it.
    pub fn insert(
        &mut self,
        drv_path: StorePath,
        drv: &Derivation,
        store_dir: &StoreDir,
    ) -> Result<Hash, PathComputeError> {
        let hash = hash_modulo(drv, store_dir, self, false)?;
        self.hashes.insert(drv_path, hash);
        Ok(hash)
    }

    /// Records the hash modulo of the derivation stored at `drv_path`,
    /// computed already (by [`Derivation::fill_output_paths_and_aterm`]).
    pub fn insert_hash(&mut self, drv_path: StorePath, hash: Hash) {
        self.hashes.insert(drv_path, hash);
    }

    /// Records the hashes of `root` and its whole input closure, reading
    /// derivations with `read` (each at most once), inputs before users.
    pub fn insert_closure<E>(
        &mut self,
        root: &StorePath,
        store_dir: &StoreDir,
        mut read: impl FnMut(&StorePath) -> Result<Derivation, E>,
    ) -> Result<Hash, ClosureError<E>> {
        // An explicit stack: derivation graphs can be deep.
        let mut stack: Vec<(StorePath, Option<Derivation>)> = vec![(root.clone(), None)];
        while let Some((path, drv)) = stack.pop() {
            if self.hashes.contains_key(&path) {
                continue;
            }
            match drv {
                Some(drv) => {
                    self.insert(path, &drv, store_dir)
                        .map_err(ClosureError::Compute)?;
                }
                None => {
                    let drv = read(&path).map_err(ClosureError::Read)?;
                    let missing: Vec<StorePath> = drv
                        .input_drvs
                        .keys()
                        .filter(|p| !self.hashes.contains_key(*p))
                        .cloned()
                        .collect();
                    stack.push((path, Some(drv)));
                    stack.extend(missing.into_iter().map(|p| (p, None)));
                }
            }
        }
        self.hashes.get(root).copied().ok_or_else(|| {
            ClosureError::Compute(PathComputeError::MissingInput(store_dir.display(root)))
        })
    }
}

/// Why the hashes of a derivation closure could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum ClosureError<E> {
    /// A derivation could not be read.
    #[error("cannot read a derivation of the closure")]
    Read(#[source] E),
    /// A hash could not be computed.
    #[error(transparent)]
    Compute(PathComputeError),
}

/// Returns the hash modulo of `drv`; its input derivations must be in `known`.
pub fn hash_modulo(
    drv: &Derivation,
    store_dir: &StoreDir,
    known: &DrvHashes,
    mask_outputs: bool,
) -> Result<Hash, PathComputeError> {
    if let Some(hash) = fixed_hash_modulo(drv, store_dir) {
        return Ok(hash);
    }
    let inputs = modulo_inputs(drv, store_dir, known)?;
    let aterm = drv.to_aterm_with_inputs(
        store_dir,
        inputs.iter().map(|(hash, outputs)| (hash, &**outputs)),
        write_hash_key,
        mask_outputs,
    );
    Ok(Hash::sha256(aterm.as_bytes()))
}

/// Returns the hash modulo of `drv` (unmasked) from its ATerm `aterm`:
/// the text around the input derivations is hashed as it is, with the
/// inputs' hashes in their place, instead of writing the whole text again.
pub fn hash_modulo_of_aterm(
    drv: &Derivation,
    aterm: &Aterm,
    store_dir: &StoreDir,
    known: &DrvHashes,
) -> Result<Hash, PathComputeError> {
    if let Some(hash) = fixed_hash_modulo(drv, store_dir) {
        return Ok(hash);
    }
    Ok(hash_with_inputs(
        aterm,
        &modulo_input_list(drv, store_dir, known)?,
    ))
}

/// The list of input derivations as `hashDerivationModulo` writes it: each
/// input's own hash modulo in place of its path.
pub(crate) fn modulo_input_list(
    drv: &Derivation,
    store_dir: &StoreDir,
    known: &DrvHashes,
) -> Result<String, PathComputeError> {
    let inputs = modulo_inputs(drv, store_dir, known)?;
    let mut list = String::with_capacity(inputs.len() * 80);
    write_input_list(
        &mut list,
        inputs.iter().map(|(hash, outputs)| (hash, &**outputs)),
        write_hash_key,
    );
    Ok(list)
}

/// The SHA-256 of `aterm` with `inputs` in place of its input derivations.
pub(crate) fn hash_with_inputs(aterm: &Aterm, inputs: &str) -> Hash {
    let (before, after) = aterm.around_inputs();
    let mut hasher = Hasher::new(HashAlgo::Sha256);
    for part in [before, inputs, after] {
        hasher.update(part.as_bytes());
    }
    hasher.finish()
}

/// A fixed-output derivation's hash modulo: its output alone.
fn fixed_hash_modulo(drv: &Derivation, store_dir: &StoreDir) -> Option<Hash> {
    let fixed = drv.fixed_output()?;
    let path = drv.outputs.get("out").and_then(|o| o.path.as_ref());
    let path = path.map(|p| store_dir.display(p)).unwrap_or_default();
    let text = format!(
        "fixed:out:{}:{}:{path}",
        fixed.algo_field(),
        fixed.hash.encode(Encoding::Base16)
    );
    Some(Hash::sha256(text.as_bytes()))
}

/// An input derivation's hash modulo and the outputs used.
type ModuloInput<'a> = (&'a Hash, Cow<'a, BTreeSet<String>>);

/// The input derivations keyed by their own hashes modulo, sorted as their
/// base16 text sorts (the order of the digests' bytes).
fn modulo_inputs<'a>(
    drv: &'a Derivation,
    store_dir: &StoreDir,
    known: &'a DrvHashes,
) -> Result<Vec<ModuloInput<'a>>, PathComputeError> {
    let mut inputs: Vec<ModuloInput<'a>> = Vec::with_capacity(drv.input_drvs.len());
    for (path, outputs) in &drv.input_drvs {
        let hash = known
            .get(path)
            .ok_or_else(|| PathComputeError::MissingInput(store_dir.display(path)))?;
        inputs.push((hash, Cow::Borrowed(outputs)));
    }
    inputs.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    // Two inputs with the same hash (two derivations fetching the same
    // fixed output) are one entry, with their outputs merged, as in Nix.
    inputs.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.1.to_mut().extend(later.1.iter().cloned());
        }
        same
    });
    Ok(inputs)
}

/// Writes an input's hash modulo in its path's place: base16, which needs
/// no escaping.
fn write_hash_key(out: &mut String, hash: &&Hash) {
    out.push('"');
    out.push_str(Base16::new(hash.as_bytes()).as_str());
    out.push('"');
}
