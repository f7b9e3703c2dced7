/*!
kiln's Debian package lock: reads a suite's archive index, computes the
dependency closure of a root set of packages, and pins every `.deb` of it
by URL, size and SHA-256 in a JSON lock that recipes load.

The pieces follow the archive's hash chain:

- [`release`]: the `InRelease` file (clear-signed `Release`): its fields
  and the SHA-256 list of the index files below it;
- [`packages`]: a `Packages` index (paragraphs in the [`deb822`] syntax),
  with [`relation`]s (`Depends`, `Pre-Depends`, `Provides`) and
  [`version`]s ordered as dpkg orders them;
- [`index`]: downloads (or reads from a local copy) and checks
  `InRelease` → `Packages.xz`;
- `signature` (with the `openpgp` feature): the OpenPGP signatures of
  `InRelease`, checked against a keyring (Debian's by default);
- [`resolve`]: the closure of the roots over `Pre-Depends` and `Depends`;
- [`lock`]: the lock file; [`make_lock`] runs the whole chain.

What this crate does not do: download the `.deb`s
(the recipes do, with `builtin:fetchurl`), or run maintainer scripts (the
root filesystem builder in `kiln-store` makes the few links they would).
*/

pub mod deb822;
pub mod index;
pub mod lock;
pub mod packages;
pub mod relation;
pub mod release;
pub mod resolve;
#[cfg(feature = "openpgp")]
pub mod signature;
pub mod version;

use thiserror::Error;

pub use index::{Event, IndexRequest, Source};
pub use lock::{LOCK_VERSION, Lock, LockedFile, LockedPackage};

/// Where Debian's archive keyring is on a Debian system.
pub const DEBIAN_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// Whether this build can check OpenPGP signatures (the `openpgp` feature).
pub const CAN_VERIFY: bool = cfg!(feature = "openpgp");

/// Why a lock could not be made.
#[derive(Debug, Error)]
pub enum MakeLockError {
    /// The index could not be read or checked.
    #[error(transparent)]
    Index(#[from] index::IndexError),
    /// A root is not a valid relation.
    #[error("bad root `{root}`")]
    Root {
        /// The root as given.
        root: String,
        /// Why.
        #[source]
        source: relation::RelationError,
    },
    /// The closure cannot be computed.
    #[error(transparent)]
    Resolve(#[from] resolve::ResolveError),
}

/// Reads the index `request` names, resolves the closure of `roots` (each a
/// relation such as `rustc` or `gcc | clang`, resolved in sorted order;
/// with `essential`, every `Essential: yes` package is a root too) and
/// returns the lock.
pub fn make_lock(
    request: &IndexRequest,
    roots: &[String],
    essential: bool,
    progress: &mut dyn FnMut(Event<'_>),
) -> Result<Lock, MakeLockError> {
    // Sorted, so that the lock's roots, resolved again, give the same closure.
    let mut roots = roots.to_vec();
    roots.sort();
    roots.dedup();
    let mut relations = Vec::new();
    for root in &roots {
        let parsed = relation::parse_relations(root).map_err(|source| MakeLockError::Root {
            root: root.clone(),
            source,
        })?;
        relations.extend(parsed);
    }
    let index = index::load(request, progress)?;
    let universe = resolve::Universe::new(&index.packages, &request.arch);
    if essential {
        relations.extend(universe.essential());
    }
    let closure = resolve::resolve(&universe, &relations)?;
    let snapshot = &index.release.snapshot;
    Ok(Lock {
        lock_version: LOCK_VERSION,
        suite: request.suite.clone(),
        architecture: request.arch.clone(),
        mirror: request.mirror.clone(),
        snapshot: snapshot.clone(),
        date: index.release.date.clone(),
        in_release: LockedFile {
            url: index.in_release_url.clone(),
            sha256: index.in_release.sha256.clone(),
            size: index.in_release.size,
        },
        packages_index: LockedFile {
            url: index.packages_url.clone(),
            sha256: index.packages_file.sha256.clone(),
            size: index.packages_file.size,
        },
        signed_by: index.signed_by.clone(),
        roots,
        essential,
        packages: closure
            .into_iter()
            .map(|package| lock::lock_package(package, &request.mirror, snapshot))
            .collect(),
    })
}
