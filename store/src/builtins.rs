//! Built-in builders: derivations whose `builder` names work that kiln
//! does itself, in-process and outside the sandbox, rather than a program.
//!
//! - `builtin:fetchurl` (Nix's name and meaning) downloads a fixed-output
//!   derivation's file: `url` (one URL, as in Nix) and/or `urls` (kiln's
//!   extension: space-separated mirrors, tried after `url`), `executable`
//!   (`"1"` makes the file executable). The pinned hash is the derivation's
//!   fixed output (`outputHash`, `outputHashAlgo`, `outputHashMode`).
//! - `builtin:unpack-v1` (kiln's own) unpacks the archive at store path
//!   `src` into a directory: `format` (optional, see
//!   [`Format`]), `stripComponents` (optional),
//!   `allowAbsoluteSymlinks` (`"1"` for root filesystems). No network.
//! - `builtin:debian-rootfs-v1` (kiln's own, [`rootfs`]) extracts the
//!   `.deb` store paths listed in `debs` into one root filesystem, with
//!   the usr-merge links and the few links maintainer scripts would make.
//! - `builtin:oci-image-v1` (kiln's own, [`crate::oci`]) writes an OCI
//!   image layout for the JSON spec in `image`
//!   ([`crate::oci::ImageSpec`]): deterministic layers of store paths
//!   (which must be inputs), a config and manifest per platform, an index.
//!
//! Each name carries its version: a change in what a builtin produces gets
//! a new name (`builtin:unpack-v2`), and nothing depends on the hash of the
//! kiln binary, so upgrading kiln invalidates no output.
//!
//! The output is written to a path the caller gives; registering it in the
//! store is the caller's job. See `docs/builtins.md` for the user's view.

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::derivation::Derivation;
use crate::fetch::{ClientError, FetchConfig, FetchError, FetchReporter, FetchRequest, Fetcher};
use crate::store_path::{ParseError as PathError, StoreDir, StorePath};
use crate::unpack::{self, Format, UnpackError, UnpackOptions, Unpacked};

pub mod rootfs;

/// The name of the built-in downloader.
pub const FETCHURL: &str = "builtin:fetchurl";

/// The name of the built-in unpacker.
pub const UNPACK_V1: &str = "builtin:unpack-v1";

/// The name of the built-in OCI image writer.
pub const OCI_IMAGE_V1: &str = "builtin:oci-image-v1";

/// Every built-in builder kiln knows.
pub const KNOWN: [&str; 4] = [FETCHURL, UNPACK_V1, rootfs::DEBIAN_ROOTFS_V1, OCI_IMAGE_V1];

/// Why a built-in builder failed.
#[derive(Debug, Error)]
pub enum BuiltinError {
    /// The builder starts with `builtin:` but is not one kiln knows.
    #[error("unknown built-in builder `{builder}`, expected one of `{}`", KNOWN.join("`, `"))]
    Unknown {
        /// The `builder` field.
        builder: String,
    },
    /// A required attribute is missing.
    #[error("`{builder}` needs the attribute `{name}`")]
    Missing {
        /// The builder.
        builder: &'static str,
        /// The attribute.
        name: &'static str,
    },
    /// An attribute has a value the builder does not accept.
    #[error("attribute `{name}` of `{builder}` is `{value}`, expected {expected}")]
    BadValue {
        /// The builder.
        builder: &'static str,
        /// The attribute.
        name: &'static str,
        /// Its value.
        value: String,
        /// What would do.
        expected: &'static str,
    },
    /// `builtin:fetchurl` on a derivation that pins no hash.
    #[error(
        "`builtin:fetchurl` needs a fixed-output derivation (`outputHash`), or nothing checks what it downloads"
    )]
    NotFixedOutput,
    /// `src` is not a store path.
    #[error("`src` of `builtin:unpack-v1` must be a store path")]
    BadSrc(#[source] PathError),
    /// The HTTP client could not be set up.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The download failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The unpacking failed.
    #[error(transparent)]
    Unpack(#[from] UnpackError),
    /// The root filesystem could not be made.
    #[error(transparent)]
    Rootfs(#[from] rootfs::RootfsError),
    /// The image could not be written.
    #[error(transparent)]
    Image(#[from] crate::oci::ImageError),
}

/// What a built-in builder did, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A file was downloaded; the hash is of its bytes.
    Fetched(crate::hash::Hash),
    /// An archive was unpacked.
    Unpacked(Unpacked),
    /// A root filesystem was made.
    Rootfs(rootfs::RootfsReport),
    /// An image layout was written.
    Image(crate::oci::Written),
}

/// Runs built-in builders; holds what they share (the HTTP client, made
/// on first use).
#[derive(Debug)]
pub struct Builtins {
    store_dir: StoreDir,
    fetch_config: FetchConfig,
    fetcher: std::sync::OnceLock<Fetcher>,
}

impl Builtins {
    /// Returns a runner for a store at `store_dir`, fetching as `fetch_config` says.
    pub fn new(store_dir: StoreDir, fetch_config: FetchConfig) -> Builtins {
        Builtins {
            store_dir,
            fetch_config,
            fetcher: std::sync::OnceLock::new(),
        }
    }

    /// Whether `builder` names a built-in builder (known or not): it starts
    /// with `builtin:`.
    pub fn is_builtin(builder: &str) -> bool {
        builder.starts_with("builtin:")
    }

    /// Runs the built-in builder of `drv`, writing its `out` to `out_path`
    /// (which must not exist). `inputs` maps an input store path to where
    /// it physically is (and any other path to one that does not exist).
    pub fn run(
        &self,
        drv: &Derivation,
        inputs: &dyn Fn(&StorePath) -> PathBuf,
        out_path: &Path,
        reporter: &dyn FetchReporter,
    ) -> Result<Outcome, BuiltinError> {
        match drv.builder.as_str() {
            FETCHURL => self.fetchurl(drv, out_path, reporter),
            UNPACK_V1 => self.unpack(drv, inputs, out_path),
            rootfs::DEBIAN_ROOTFS_V1 => rootfs::run(&self.store_dir, drv, inputs, out_path),
            OCI_IMAGE_V1 => self.image(drv, inputs, out_path),
            other => Err(BuiltinError::Unknown {
                builder: other.to_owned(),
            }),
        }
    }

    fn fetcher(&self) -> Result<&Fetcher, ClientError> {
        if let Some(fetcher) = self.fetcher.get() {
            return Ok(fetcher);
        }
        let fetcher = Fetcher::new(&self.fetch_config)?;
        Ok(self.fetcher.get_or_init(|| fetcher))
    }

    fn fetchurl(
        &self,
        drv: &Derivation,
        out_path: &Path,
        reporter: &dyn FetchReporter,
    ) -> Result<Outcome, BuiltinError> {
        let expected = drv
            .fixed_output()
            .cloned()
            .ok_or(BuiltinError::NotFixedOutput)?;
        let mut urls: Vec<String> = Vec::new();
        let listed = drv.env.get("url").into_iter().chain(drv.env.get("urls"));
        for url in listed.flat_map(|text| text.split_whitespace()) {
            if !urls.iter().any(|seen| seen == url) {
                urls.push(url.to_owned());
            }
        }
        if urls.is_empty() {
            return Err(BuiltinError::Missing {
                builder: FETCHURL,
                name: "url",
            });
        }
        if flag(drv, FETCHURL, "unpack")? {
            return Err(BuiltinError::BadValue {
                builder: FETCHURL,
                name: "unpack",
                value: "1".to_owned(),
                expected: "nothing: use `builtin:unpack-v1` on the download instead",
            });
        }
        let executable = flag(drv, FETCHURL, "executable")?;
        let request = FetchRequest {
            urls,
            expected,
            executable,
        };
        let hash = self.fetcher()?.fetch(&request, out_path, reporter)?;
        Ok(Outcome::Fetched(hash))
    }

    fn unpack(
        &self,
        drv: &Derivation,
        inputs: &dyn Fn(&StorePath) -> PathBuf,
        out_path: &Path,
    ) -> Result<Outcome, BuiltinError> {
        let src = drv.env.get("src").ok_or(BuiltinError::Missing {
            builder: UNPACK_V1,
            name: "src",
        })?;
        let src = self.store_dir.parse(src).map_err(BuiltinError::BadSrc)?;
        let options = UnpackOptions {
            format: drv
                .env
                .get("format")
                .map(|name| name.parse::<Format>())
                .transpose()?,
            strip_components: strip_components(drv)?,
            allow_absolute_symlinks: flag(drv, UNPACK_V1, "allowAbsoluteSymlinks")?,
        };
        let unpacked = unpack::unpack(&inputs(&src), src.name(), out_path, &options)?;
        Ok(Outcome::Unpacked(unpacked))
    }
}

impl Builtins {
    fn image(
        &self,
        drv: &Derivation,
        inputs: &dyn Fn(&StorePath) -> PathBuf,
        out_path: &Path,
    ) -> Result<Outcome, BuiltinError> {
        let text = drv.env.get("image").ok_or(BuiltinError::Missing {
            builder: OCI_IMAGE_V1,
            name: "image",
        })?;
        let spec = crate::oci::ImageSpec::parse(text)?;
        // A source is an input store path (`inputs` maps any other path to
        // one that does not exist), or a path below one.
        let resolve = |logical: &str| -> Option<PathBuf> {
            let (path, rest) = self.store_dir.parse_prefix(logical).ok()?;
            let host = inputs(&path);
            host.exists()
                .then(|| host.join(rest.trim_start_matches('/')))
        };
        let written = crate::oci::layout::write(&spec, &resolve, out_path)?;
        Ok(Outcome::Image(written))
    }
}

/// Runs the built-in builder of `drv` once, with the default fetch
/// configuration (see [`Builtins::run`]; make a [`Builtins`] to run many).
pub fn run_builtin(
    drv: &Derivation,
    store_dir: &StoreDir,
    inputs: &dyn Fn(&StorePath) -> PathBuf,
    out_path: &Path,
    reporter: &dyn FetchReporter,
) -> Result<Outcome, BuiltinError> {
    Builtins::new(store_dir.clone(), FetchConfig::from_env()).run(drv, inputs, out_path, reporter)
}

/// Reads a boolean attribute: absent, `""` or `"0"` is false, `"1"` true.
fn flag(drv: &Derivation, builder: &'static str, name: &'static str) -> Result<bool, BuiltinError> {
    match drv.env.get(name).map(String::as_str) {
        None | Some("" | "0") => Ok(false),
        Some("1") => Ok(true),
        Some(other) => Err(BuiltinError::BadValue {
            builder,
            name,
            value: other.to_owned(),
            expected: "`1` or `0`",
        }),
    }
}

/// Reads `stripComponents`, a small count.
fn strip_components(drv: &Derivation) -> Result<Option<usize>, BuiltinError> {
    let Some(value) = drv.env.get("stripComponents") else {
        return Ok(None);
    };
    value
        .parse::<usize>()
        .map(Some)
        .map_err(|_| BuiltinError::BadValue {
            builder: UNPACK_V1,
            name: "stripComponents",
            value: value.clone(),
            expected: "a number of path components",
        })
}

#[cfg(test)]
mod tests;
