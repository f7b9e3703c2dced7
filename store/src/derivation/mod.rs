//! Derivations: the build recipes Nix stores as `.drv` files.
//!
//! A [`Derivation`] is what `derivationStrict` produces and what the builder
//! consumes: outputs, input derivations and sources, the platform, the
//! builder with its arguments, and the environment. This module reads and
//! writes Nix's ATerm serialisation byte for byte ([`Derivation::parse`],
//! [`Derivation::to_aterm`]), computes `hashDerivationModulo`
//! ([`hash_modulo()`]), the output paths and the `.drv` store path, and renders
//! the JSON of `nix show-derivation`.
//!
//! Content-addressed ("floating") derivations are not supported: an output
//! either has a path (input-addressed or fixed-output) or, while its paths
//! are being computed, is masked.

mod aterm;
pub mod hash_modulo;
mod json;
mod parse;

use std::collections::{BTreeMap, BTreeSet};

use thiserror::Error;

use crate::hash::Hash;
use crate::store_path::{FileIngestionMethod, ParseError as PathError, StoreDir, StorePath};

pub use aterm::Aterm;
pub use hash_modulo::{DrvHashes, hash_modulo, hash_modulo_of_aterm};
pub use parse::ParseError;

/// A fixed output's expected hash and how the output is serialised for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FixedOutputHash {
    /// Flat (a single file's contents) or recursive (the NAR).
    pub method: FileIngestionMethod,
    /// The expected hash.
    pub hash: Hash,
}

impl FixedOutputHash {
    /// Returns the `hashAlgo` field as Nix writes it (`sha256`, `r:sha256`).
    pub fn algo_field(&self) -> String {
        match self.method {
            FileIngestionMethod::Flat => self.hash.algo().name().to_owned(),
            FileIngestionMethod::Recursive => format!("r:{}", self.hash.algo()),
        }
    }
}

/// One output of a derivation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DerivationOutput {
    /// The output's store path; `None` while output paths are being
    /// computed (it is then written as `""`).
    pub path: Option<StorePath>,
    /// For a fixed-output derivation, the expected hash.
    pub fixed: Option<FixedOutputHash>,
}

/// A derivation, as stored in a `.drv` file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Derivation {
    /// Outputs by name.
    pub outputs: BTreeMap<String, DerivationOutput>,
    /// Input derivations and which of their outputs are used.
    pub input_drvs: BTreeMap<StorePath, BTreeSet<String>>,
    /// Input sources (store paths that are not derivation outputs).
    pub input_srcs: BTreeSet<StorePath>,
    /// The platform the builder runs on (`x86_64-linux`, `builtin`).
    pub platform: String,
    /// The program to run.
    pub builder: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Its environment.
    pub env: BTreeMap<String, String>,
}

/// A derivation whose paths cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PathComputeError {
    /// The name makes an invalid store path.
    #[error("derivation name `{name}` cannot be used in a store path")]
    BadName {
        /// The name.
        name: String,
        /// Why.
        #[source]
        source: PathError,
    },
    /// An input derivation was not supplied to the hash computation.
    #[error("input derivation `{0}` is unknown; load it before computing hashes")]
    MissingInput(String),
    /// A fixed-output derivation has more than one output, or its one output is not `out`.
    #[error("a fixed-output derivation must have exactly one output, `out`")]
    BadFixedOutputs,
}

impl Derivation {
    /// Returns the `name` environment variable, which names the outputs.
    pub fn name(&self) -> Option<&str> {
        self.env.get("name").map(String::as_str)
    }

    /// Returns the fixed output's hash when this is a fixed-output
    /// derivation (one output, `out`, with an expected hash).
    pub fn fixed_output(&self) -> Option<&FixedOutputHash> {
        match (self.outputs.len(), self.outputs.get("out")) {
            (1, Some(out)) => out.fixed.as_ref(),
            _ => None,
        }
    }

    /// Returns every store path this derivation's `.drv` file refers to:
    /// input sources and input derivations.
    pub fn references(&self) -> BTreeSet<StorePath> {
        self.input_srcs
            .iter()
            .chain(self.input_drvs.keys())
            .cloned()
            .collect()
    }

    /// Returns the store path of this derivation's `.drv` file (a text path
    /// named `<name>.drv` referring to its inputs).
    pub fn drv_path(&self, store_dir: &StoreDir) -> Result<StorePath, PathComputeError> {
        self.drv_path_named(store_dir, self.name().unwrap_or_default())
    }

    /// Like [`Derivation::drv_path`], for a derivation whose name is not in
    /// its environment (structured attributes keep it in `__json`).
    pub fn drv_path_named(
        &self,
        store_dir: &StoreDir,
        name: &str,
    ) -> Result<StorePath, PathComputeError> {
        let name = format!("{name}.drv");
        store_dir
            .make_text_path(
                &name,
                self.to_aterm(store_dir).as_bytes(),
                &self.references(),
            )
            .map_err(|source| PathComputeError::BadName { name, source })
    }

    /// Fills in the output paths (and the matching environment variables)
    /// of a derivation built by the evaluator, as `derivationStrict` does:
    /// fixed outputs get their content-addressed path; otherwise every
    /// output is masked, the derivation hashed modulo its inputs, and each
    /// output's path made from that hash.
    pub fn fill_output_paths(
        &mut self,
        store_dir: &StoreDir,
        hashes: &DrvHashes,
    ) -> Result<(), PathComputeError> {
        let name = self.name().unwrap_or_default().to_owned();
        self.fill_output_paths_named(store_dir, hashes, &name)
    }

    /// Like [`Derivation::fill_output_paths`], for a derivation whose name
    /// is not in its environment (structured attributes).
    pub fn fill_output_paths_named(
        &mut self,
        store_dir: &StoreDir,
        hashes: &DrvHashes,
        name: &str,
    ) -> Result<(), PathComputeError> {
        let name = name.to_owned();
        let bad_name = |source| PathComputeError::BadName {
            name: name.clone(),
            source,
        };
        if let Some(fixed) = self.fixed_output().cloned() {
            let path = store_dir
                .make_fixed_output_path(&name, fixed.method, &fixed.hash, &BTreeSet::new(), false)
                .map_err(bad_name)?;
            self.set_output_path("out", path, store_dir);
            return Ok(());
        }
        if !self.outputs.is_empty() && self.outputs.values().any(|o| o.fixed.is_some()) {
            return Err(PathComputeError::BadFixedOutputs);
        }
        let names = self.blank_outputs();
        let hash = hash_modulo(self, store_dir, hashes, true)?;
        self.set_output_paths(&names, &hash, &name, store_dir)
    }

    /// [`Derivation::fill_output_paths_named`], and then the derivation's
    /// ATerm and its (unmasked) hash modulo, which derivations using it
    /// need: what `derivationStrict` computes. The text is written once,
    /// masked, and the final text copied from it with the paths filled in.
    pub fn fill_output_paths_and_aterm(
        &mut self,
        store_dir: &StoreDir,
        hashes: &DrvHashes,
        name: &str,
    ) -> Result<(Aterm, Hash), PathComputeError> {
        if self.outputs.is_empty() || self.outputs.values().any(|o| o.fixed.is_some()) {
            self.fill_output_paths_named(store_dir, hashes, name)?;
            let aterm = self.to_split_aterm(store_dir);
            let hash = hash_modulo_of_aterm(self, &aterm, store_dir, hashes)?;
            return Ok((aterm, hash));
        }
        let names = self.blank_outputs();
        let masked = self.to_masked_aterm(store_dir);
        let inputs = hash_modulo::modulo_input_list(self, store_dir, hashes)?;
        let masked_hash = hash_modulo::hash_with_inputs(&masked.aterm, &inputs);
        self.set_output_paths(&names, &masked_hash, name, store_dir)?;
        let aterm = masked.fill_outputs(self, store_dir);
        let hash = hash_modulo::hash_with_inputs(&aterm, &inputs);
        Ok((aterm, hash))
    }

    /// Blanks the input-addressed outputs' paths, in the outputs and in the
    /// environment, as the hash that names them needs; returns their names.
    fn blank_outputs(&mut self) -> Vec<String> {
        let names: Vec<String> = self.outputs.keys().cloned().collect();
        for output in &names {
            self.env.insert(output.clone(), String::new());
            if let Some(out) = self.outputs.get_mut(output) {
                out.path = None;
            }
        }
        names
    }

    /// Sets each output's path, made from the masked hash modulo.
    fn set_output_paths(
        &mut self,
        names: &[String],
        masked_hash: &Hash,
        name: &str,
        store_dir: &StoreDir,
    ) -> Result<(), PathComputeError> {
        for output in names {
            let path = store_dir
                .make_output_path(masked_hash, output, name)
                .map_err(|source| PathComputeError::BadName {
                    name: name.to_owned(),
                    source,
                })?;
            self.set_output_path(output, path, store_dir);
        }
        Ok(())
    }

    fn set_output_path(&mut self, output: &str, path: StorePath, store_dir: &StoreDir) {
        self.env.insert(output.to_owned(), store_dir.display(&path));
        if let Some(out) = self.outputs.get_mut(output) {
            out.path = Some(path);
        }
    }
}

#[cfg(test)]
mod tests;
