//! Reading a suite's index from a mirror (or a local copy of one) and
//! checking the hash chain: `InRelease` → `Packages.xz` → each `.deb`.
//!
//! The `InRelease`'s OpenPGP signatures are checked against a keyring
//! when the request names one (`crate::signature`, with the `openpgp`
//! feature); either way its
//! SHA-256 goes into the lock (without a keyring, that is trust on first
//! use). The `Packages` index is the one `InRelease`
//! lists for the component and architecture, `.xz` when listed, else
//! uncompressed, and must have exactly the listed size and SHA-256. The
//! `.deb` hashes in the lock come from that index.
//!
//! Downloads use `reqwest` over rustls with the platform's CA store, which
//! `rustls-native-certs` extends with `SSL_CERT_FILE` and `SSL_CERT_DIR`
//! (so a TLS-intercepting proxy's CA works as it does for curl); plain
//! `http://` mirrors need none of it.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::packages::{Package, PackagesError, parse_packages};
use crate::release::{IndexFile, Release, ReleaseError};

/// Why the index could not be read.
#[derive(Debug, Error)]
pub enum IndexError {
    /// The HTTP client could not be set up.
    #[error("cannot set up the HTTP client")]
    Client(#[source] reqwest::Error),
    /// A download failed.
    #[error("cannot download `{url}`")]
    Download {
        /// The URL.
        url: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// A local file could not be read (the cause names it).
    #[error("cannot read the local index")]
    Read(#[source] std::io::Error),
    /// The `InRelease` is not valid text or not a valid Release file.
    #[error("cannot read the `InRelease` of `{url}`")]
    Release {
        /// Where it came from.
        url: String,
        /// Why.
        #[source]
        source: ReleaseError,
    },
    /// The `InRelease` signatures do not verify.
    #[cfg(feature = "openpgp")]
    #[error("the signatures of `{url}` do not verify")]
    Signature {
        /// Where it came from.
        url: String,
        /// Why (boxed: `pgp`'s errors are large).
        #[source]
        source: Box<crate::signature::SignatureError>,
    },
    /// A keyring was given, but this build cannot check signatures.
    #[error("this kiln was built without the `openpgp` feature and cannot check signatures")]
    NoOpenPgp,
    /// The `InRelease` is not UTF-8.
    #[error("`{url}` is not UTF-8 text")]
    NotText {
        /// Where it came from.
        url: String,
    },
    /// The `InRelease` lists no `Packages` index for the component and
    /// architecture.
    #[error("`InRelease` lists no `{component}/binary-{arch}/Packages.xz` or `Packages`")]
    NoPackagesIndex {
        /// The component.
        component: String,
        /// The architecture.
        arch: String,
    },
    /// The `Packages` index is not what `InRelease` says.
    #[error(
        "`{url}` does not match `InRelease`\n  wanted: {wanted_size} bytes, sha256 {wanted_sha256}\n  got:    {got_size} bytes, sha256 {got_sha256}"
    )]
    Mismatch {
        /// Where it came from.
        url: String,
        /// The listed size.
        wanted_size: u64,
        /// The listed hash.
        wanted_sha256: String,
        /// The size read.
        got_size: u64,
        /// The hash read.
        got_sha256: String,
    },
    /// The `.xz` index does not decompress.
    #[error("cannot decompress `{url}`")]
    Decompress {
        /// Where it came from.
        url: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The `Packages` index does not parse.
    #[error("cannot read `{url}`")]
    Packages {
        /// Where it came from.
        url: String,
        /// Why (boxed: it is large and rare).
        #[source]
        source: Box<PackagesError>,
    },
}

/// Where the index files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Download from the mirror.
    Mirror,
    /// Read from a local directory laid out like the mirror's
    /// `dists/<suite>/` (`InRelease`, `main/binary-amd64/Packages.xz`);
    /// URLs in the lock still name the mirror.
    Dir(PathBuf),
}

/// What to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexRequest {
    /// The mirror's root URL (`http://deb.debian.org/debian`), no trailing `/`.
    pub mirror: String,
    /// The suite (`sid`).
    pub suite: String,
    /// The component (`main`).
    pub component: String,
    /// The architecture (`amd64`).
    pub arch: String,
    /// Where the files come from.
    pub source: Source,
    /// The keyring to check the `InRelease` signatures against; `None`
    /// skips the check.
    pub keyring: Option<PathBuf>,
}

/// Progress, for the caller to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    /// A file is being fetched (from a URL or a local path).
    Fetching {
        /// Its URL, or local path.
        from: &'a str,
    },
    /// A file was read and checked.
    Fetched {
        /// Its URL, or local path.
        from: &'a str,
        /// Its size.
        bytes: u64,
    },
    /// The `InRelease` signatures were checked.
    Verified {
        /// The fingerprints of the keys that made good signatures.
        signers: &'a [String],
    },
    /// The `Packages` index was parsed.
    Parsed {
        /// How many packages it holds.
        packages: usize,
    },
}

/// A suite's index, read and checked.
#[derive(Debug, Clone)]
pub struct Index {
    /// The `InRelease`.
    pub release: Release,
    /// Its URL.
    pub in_release_url: String,
    /// Its SHA-256 and size.
    pub in_release: IndexFile,
    /// The fingerprints of the keys whose signatures on it are good;
    /// empty when the request named no keyring.
    pub signed_by: Vec<String>,
    /// The `Packages` index's URL.
    pub packages_url: String,
    /// The `Packages` index as listed (and checked).
    pub packages_file: IndexFile,
    /// Its packages.
    pub packages: Vec<Package>,
}

/// Reads and checks the index that `request` names.
pub fn load(
    request: &IndexRequest,
    progress: &mut dyn FnMut(Event<'_>),
) -> Result<Index, IndexError> {
    let reader = Reader::new(request)?;
    let dists = format!("{}/dists/{}", request.mirror, request.suite);
    let in_release_url = format!("{dists}/InRelease");
    let bytes = reader.read("InRelease", &in_release_url, progress)?;
    let in_release = IndexFile {
        path: "InRelease".to_owned(),
        size: bytes.len() as u64,
        sha256: sha256_hex(&bytes),
    };
    let text = String::from_utf8(bytes).map_err(|_| IndexError::NotText {
        url: in_release_url.clone(),
    })?;
    let signed_by = match &request.keyring {
        Some(keyring) => {
            let signed_by = check_signatures(&text, keyring, &in_release_url)?;
            progress(Event::Verified {
                signers: &signed_by,
            });
            signed_by
        }
        None => Vec::new(),
    };
    let release = Release::parse(&text).map_err(|source| IndexError::Release {
        url: in_release_url.clone(),
        source,
    })?;
    let base = format!("{}/binary-{}/Packages", request.component, request.arch);
    let packages_file = [format!("{base}.xz"), base]
        .iter()
        .find_map(|path| release.file(path))
        .cloned()
        .ok_or_else(|| IndexError::NoPackagesIndex {
            component: request.component.clone(),
            arch: request.arch.clone(),
        })?;
    let packages_url = format!("{dists}/{}", packages_file.path);
    let bytes = reader.read(&packages_file.path, &packages_url, progress)?;
    check(&bytes, &packages_file, &packages_url)?;
    let text = decompress(bytes, &packages_file.path, &packages_url)?;
    let packages = parse_packages(&text).map_err(|source| IndexError::Packages {
        url: packages_url.clone(),
        source: Box::new(source),
    })?;
    progress(Event::Parsed {
        packages: packages.len(),
    });
    Ok(Index {
        release,
        in_release_url,
        in_release,
        signed_by,
        packages_url,
        packages_file,
        packages,
    })
}

/// Reads index files from the mirror or a local directory.
enum Reader {
    Dir(PathBuf),
    Http(reqwest::blocking::Client),
}

impl Reader {
    fn new(request: &IndexRequest) -> Result<Reader, IndexError> {
        match &request.source {
            Source::Dir(dir) => Ok(Reader::Dir(dir.clone())),
            Source::Mirror => reqwest::blocking::Client::builder()
                .user_agent(concat!("kiln/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(30))
                .timeout(Duration::from_secs(600))
                .build()
                .map(Reader::Http)
                .map_err(IndexError::Client),
        }
    }

    /// Returns the bytes of `path` (below `dists/<suite>/`), at `url` on
    /// the mirror.
    fn read(
        &self,
        path: &str,
        url: &str,
        progress: &mut dyn FnMut(Event<'_>),
    ) -> Result<Vec<u8>, IndexError> {
        let (from, bytes) = match self {
            Reader::Dir(dir) => {
                let file = dir.join(path);
                let from = file.display().to_string();
                progress(Event::Fetching { from: &from });
                let bytes = fs_err::read(&file).map_err(IndexError::Read)?;
                (from, bytes)
            }
            Reader::Http(client) => {
                progress(Event::Fetching { from: url });
                (url.to_owned(), download(client, url)?)
            }
        };
        progress(Event::Fetched {
            from: &from,
            bytes: bytes.len() as u64,
        });
        Ok(bytes)
    }
}

fn download(client: &reqwest::blocking::Client, url: &str) -> Result<Vec<u8>, IndexError> {
    let error = |source| IndexError::Download {
        url: url.to_owned(),
        source,
    };
    let response = client
        .get(url)
        .send()
        .and_then(reqwest::blocking::Response::error_for_status)
        .map_err(error)?;
    Ok(response.bytes().map_err(error)?.to_vec())
}

/// Checks the signatures of `text` (the `InRelease` read from `url`)
/// against the keyring at `keyring`.
#[cfg(feature = "openpgp")]
fn check_signatures(text: &str, keyring: &Path, url: &str) -> Result<Vec<String>, IndexError> {
    let error = |source| IndexError::Signature {
        url: url.to_owned(),
        source: Box::new(source),
    };
    let keyring = crate::signature::Keyring::load(keyring).map_err(error)?;
    crate::signature::verify(text, &keyring).map_err(error)
}

/// Without the `openpgp` feature, nothing can be checked.
#[cfg(not(feature = "openpgp"))]
fn check_signatures(_: &str, _: &Path, _: &str) -> Result<Vec<String>, IndexError> {
    Err(IndexError::NoOpenPgp)
}

/// Checks `bytes` against the size and hash `InRelease` lists.
fn check(bytes: &[u8], listed: &IndexFile, url: &str) -> Result<(), IndexError> {
    let got_sha256 = sha256_hex(bytes);
    if bytes.len() as u64 != listed.size || got_sha256 != listed.sha256 {
        return Err(IndexError::Mismatch {
            url: url.to_owned(),
            wanted_size: listed.size,
            wanted_sha256: listed.sha256.clone(),
            got_size: bytes.len() as u64,
            got_sha256,
        });
    }
    Ok(())
}

/// Returns the text of an index file, decompressing `.xz`.
fn decompress(bytes: Vec<u8>, path: &str, url: &str) -> Result<String, IndexError> {
    let error = |source| IndexError::Decompress {
        url: url.to_owned(),
        source,
    };
    let raw = if Path::new(path).extension().is_some_and(|e| e == "xz") {
        let mut out = Vec::with_capacity(bytes.len() * 6);
        liblzma::read::XzDecoder::new_multi_decoder(bytes.as_slice())
            .read_to_end(&mut out)
            .map_err(error)?;
        out
    } else {
        bytes
    };
    String::from_utf8(raw).map_err(|e| {
        error(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            e.utf8_error(),
        ))
    })
}

/// Returns the SHA-256 of `bytes` in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
