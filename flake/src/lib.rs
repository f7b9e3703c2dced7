//! kiln's flakes: `flake.toml` (what a project declares: inputs and the
//! packages built from them), `flake.lock` (what the fetched inputs were
//! pinned to), locking them against crates.io, PyPI and URLs, and the spec
//! that `recipes/flake.nix` turns into derivations.
//!
//! Evaluation never touches the network: [`load`] refuses a lock that
//! does not cover the manifest, and names what `kiln lock` must pin.

pub mod init;
pub mod lock;
pub mod manifest;
pub mod reference;
pub mod resolve;
pub mod spec;
pub mod walk;

use std::path::{Path, PathBuf};

use thiserror::Error;

pub use lock::{LockError, LockFile, Locked};
pub use manifest::{Input, Manifest, ManifestError, Package};
pub use reference::{FlakeRef, Selected};

/// Why a flake could not be used.
#[derive(Debug, Error)]
pub enum FlakeError {
    /// flake.toml is wrong.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// flake.lock is wrong or stale.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// An input is not in the lock.
    #[error("input `{0}` is not locked: run `kiln lock`")]
    NotLocked(String),
    /// A lock entry is unusable.
    #[error("flake.lock: {0}")]
    BadLock(String),
    /// A path input could not be walked.
    #[error("input `{input}`")]
    Walk {
        /// The input.
        input: String,
        /// Why.
        #[source]
        source: walk::WalkError,
    },
    /// No such output.
    #[error("{0}")]
    NoOutput(String),
    /// `kiln init` cannot write a manifest.
    #[error("{0}")]
    Init(String),
    /// The directory holds no flake.toml.
    #[error("`{}` has no flake.toml (run `kiln init` in a Cargo project to write one)", .0.display())]
    NotAFlake(PathBuf),
}

/// A flake: its directory, manifest and lock.
#[derive(Debug, Clone)]
pub struct Flake {
    /// The directory, absolute.
    pub dir: PathBuf,
    /// flake.toml.
    pub manifest: Manifest,
    /// flake.lock (empty when absent).
    pub lock: LockFile,
}

/// Returns whether `dir` holds a flake.toml.
pub fn is_flake(dir: &Path) -> bool {
    dir.join(manifest::MANIFEST).is_file()
}

/// Reads the flake in `dir` without checking its lock (for `kiln lock`
/// and `kiln show`).
pub fn read(dir: &Path) -> Result<Flake, FlakeError> {
    if !is_flake(dir) {
        return Err(FlakeError::NotAFlake(dir.to_owned()));
    }
    let dir = fs_err::canonicalize(dir).map_err(|source| ManifestError::Read {
        path: dir.display().to_string(),
        source,
    })?;
    let manifest = manifest::read(&dir)?;
    let lock = lock::read(&dir)?;
    Ok(Flake {
        dir,
        manifest,
        lock,
    })
}

/// Reads the flake in `dir` and checks that its lock covers every fetched
/// input, as building needs.
pub fn load(dir: &Path) -> Result<Flake, FlakeError> {
    let flake = read(dir)?;
    lock::check(&flake.manifest, &flake.lock)?;
    Ok(flake)
}
