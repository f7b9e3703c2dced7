//! Bundles: store paths with their metadata in one file, for carrying a
//! closure (or everything a build needs from the network) to a machine
//! without network access.
//!
//! - [`format`](mod@format): the file format, [`format::BundleWriter`] and
//!   [`format::BundleReader`], and the [`format::Manifest`].
//! - [`export`]: choosing the paths ([`crate::store::Store::sources_closure`] for
//!   `--sources-only`) and writing them ([`crate::store::Store::export_bundle`]).
//! - [`import`]: checking a whole bundle and registering its new paths in
//!   one transaction ([`crate::store::Store::import_bundle`]).
//!
//! `docs/bundles.md` describes the format and the offline workflow.

pub mod export;
pub mod format;
pub mod import;

#[cfg(test)]
mod tests;

use std::io;

use crate::nar::{ReadError, WriteError};
use crate::realise::{CanonicaliseError, RegisterError};
use crate::store::StoreError;

pub use export::ExportReport;
pub use format::{BundleReader, BundleWriter, Manifest, ManifestEntry};
pub use import::ImportReport;

/// Why a bundle could not be written, read or imported. When an import
/// fails, nothing has been registered.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Writing the bundle failed.
    #[error("cannot write the bundle")]
    Write(#[source] io::Error),
    /// The file does not start with the bundle magic.
    #[error("not a kiln bundle: the file does not start with `kiln-bundle`")]
    BadMagic,
    /// The bundle's format version is not one this kiln reads.
    #[error("bundle format version {found} is not supported (this kiln reads version {supported})")]
    Version {
        /// The version in the file.
        found: u32,
        /// The version this kiln reads.
        supported: u32,
    },
    /// The file ends early.
    #[error("the bundle is truncated: it ends inside {what}")]
    Truncated {
        /// What was being read (`the manifest`, `the NAR of …`).
        what: String,
    },
    /// The compressed stream or the file cannot be read.
    #[error("the bundle is corrupt or unreadable in {what}")]
    Corrupt {
        /// What was being read.
        what: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The manifest is not the JSON it should be.
    #[error("the bundle's manifest is not valid JSON of the right shape")]
    ManifestJson(#[source] serde_json::Error),
    /// The manifest's length is absurd.
    #[error("the bundle's manifest claims to be {len} bytes long (at most {max})")]
    ManifestTooLarge {
        /// The claimed length.
        len: u64,
        /// The largest accepted length.
        max: u64,
    },
    /// A field of the manifest is invalid.
    #[error("the bundle's manifest is invalid: {0}")]
    Manifest(String),
    /// The bundle was made for another logical store directory.
    #[error("the bundle is for the store directory `{found}`, but this store's is `{expected}`")]
    WrongStoreDir {
        /// The bundle's.
        found: String,
        /// The store's.
        expected: String,
    },
    /// Something follows the last NAR.
    #[error("the bundle holds data after its end marker")]
    TrailingData,
    /// A NAR's length prefix is not the size the manifest gives.
    #[error("`{path}`: the bundle holds a NAR of {got} bytes, but the manifest says {wanted}")]
    NarSize {
        /// The store path.
        path: String,
        /// The manifest's size.
        wanted: u64,
        /// The length in the bundle.
        got: u64,
    },
    /// A NAR's hash is not the manifest's.
    #[error("`{path}`: the NAR's hash is {got}, but the manifest says {wanted}")]
    NarHash {
        /// The store path.
        path: String,
        /// The manifest's hash.
        wanted: String,
        /// The hash of the NAR in the bundle.
        got: String,
    },
    /// A NAR does not parse.
    #[error("`{path}`: the NAR in the bundle is invalid")]
    BadNar {
        /// The store path.
        path: String,
        /// Why.
        #[source]
        source: ReadError,
    },
    /// A path refers to a path that is neither in the bundle nor valid.
    #[error(
        "`{path}` refers to `{reference}`, which is neither in the bundle nor valid in this store"
    )]
    MissingReference {
        /// The store path.
        path: String,
        /// Its missing reference.
        reference: String,
    },
    /// The references the manifest gives are not what the contents say.
    #[error("`{path}`: the manifest's references do not match its contents: {detail}")]
    References {
        /// The store path.
        path: String,
        /// Which references differ.
        detail: String,
    },
    /// A content-addressed path is not the path of its contents.
    #[error("`{path}` is not the store path of its contents: {detail}")]
    WrongPath {
        /// The store path.
        path: String,
        /// What was computed.
        detail: String,
    },
    /// An unpacked path could not be written or read back.
    #[error("cannot unpack `{path}` into the store's scratch space")]
    Unpack {
        /// The store path.
        path: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A path to export is not valid.
    #[error("path `{0}` is not valid in this store")]
    NotValid(String),
    /// A path to export no longer has its registered NAR hash or size.
    #[error(
        "cannot export `{path}`: its contents no longer match the store database (run `kiln store verify --check-contents`)"
    )]
    Modified {
        /// The store path.
        path: String,
    },
    /// A path to export cannot be serialised.
    #[error("cannot serialise `{path}`")]
    Dump {
        /// The store path.
        path: String,
        /// Why.
        #[source]
        source: WriteError,
    },
    /// An output given to `--sources-only` has no known derivation.
    #[error(
        "`{0}` has no known deriver in this store, so what builds it cannot be exported; give its `.drv`"
    )]
    NoDeriver(String),
    /// Fixed outputs the sources need are not in the store.
    #[error(
        "{count} downloads are not in the store; fetch them first (`kiln fetch --all FLAKE#OUTPUT`):{list}"
    )]
    NotFetched {
        /// How many.
        count: usize,
        /// One line per download: the fixed output and its derivation.
        list: String,
    },
    /// A `.drv` file cannot be read.
    #[error("cannot read the derivation `{path}`")]
    ReadDrv {
        /// The derivation.
        path: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A `.drv` file does not parse.
    #[error("cannot parse the derivation `{path}`")]
    ParseDrv {
        /// The derivation.
        path: String,
        /// Why.
        #[source]
        source: crate::derivation::ParseError,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Moving into the store or registering failed.
    #[error(transparent)]
    Register(#[from] RegisterError),
}

impl From<crate::db::DbError> for BundleError {
    fn from(e: crate::db::DbError) -> Self {
        BundleError::Store(StoreError::Db(e))
    }
}

impl From<CanonicaliseError> for BundleError {
    fn from(e: CanonicaliseError) -> Self {
        BundleError::Register(RegisterError::Canonicalise(e))
    }
}

/// Returns the error for reading `what` that failed with `source`: the
/// end of the input means truncation, anything else corruption.
pub(crate) fn read_error(what: impl Into<String>, source: io::Error) -> BundleError {
    if source.kind() == io::ErrorKind::UnexpectedEof {
        BundleError::Truncated { what: what.into() }
    } else {
        BundleError::Corrupt {
            what: what.into(),
            source,
        }
    }
}
