//! What can go wrong while fetching: per URL ([`Failure`]) and as a whole
//! ([`FetchError`]).

use std::error::Error as _;
use std::fmt;
use std::io;
use std::path::PathBuf;

use thiserror::Error;

use crate::hash::{Encoding, Hash};
use crate::nar::WriteError;

use super::http::ClientError;

/// A download whose hash is not the one pinned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashMismatch {
    /// Where it came from.
    pub url: String,
    /// The pinned hash.
    pub wanted: Hash,
    /// The hash of what was downloaded.
    pub got: Hash,
}

impl fmt::Display for HashMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "hash mismatch in the download of `{}`", self.url)?;
        writeln!(f, "  wanted: {}", both(&self.wanted))?;
        write!(f, "  got:    {}", both(&self.got))
    }
}

impl std::error::Error for HashMismatch {}

/// Returns a hash in SRI and in nixbase32, the forms Nix users paste.
fn both(hash: &Hash) -> String {
    format!(
        "{}  {}",
        hash.to_sri(),
        hash.encode_with_algo(Encoding::Nixbase32)
    )
}

/// Why one attempt at one URL failed.
#[derive(Debug, Error)]
pub enum Failure {
    /// The server says the file is not there (`404`, `410`).
    #[error("not found (HTTP {status})")]
    NotFound {
        /// The status code.
        status: u16,
    },
    /// The server answered with another unexpected status.
    #[error("HTTP status {status}")]
    Status {
        /// The status code.
        status: u16,
    },
    /// The request could not be made or answered (DNS, connection, TLS,
    /// timeout, redirect loop).
    #[error("request failed")]
    Request(#[source] reqwest::Error),
    /// The body broke off.
    #[error("the download broke off after {got} bytes")]
    Body {
        /// Bytes received by then (counting a resumed prefix).
        got: u64,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The body ended before its announced length.
    #[error("the body ended after {got} of {expected} bytes")]
    Truncated {
        /// The announced length.
        expected: u64,
        /// Bytes received.
        got: u64,
    },
    /// A resumed download got a range that does not continue it.
    #[error("the server answered a resume at byte {wanted} with a range starting at {got}")]
    BadRange {
        /// Where the partial download ended.
        wanted: u64,
        /// Where the answer starts.
        got: u64,
    },
    /// The download's hash is wrong.
    #[error(transparent)]
    Mismatch(HashMismatch),
    /// An unpinned answer was larger than the caller accepts.
    #[error("the answer is larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
}

impl Failure {
    /// Returns the failure and its causes on one line, `: `-separated.
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut cause = self.source();
        while let Some(error) = cause {
            text.push_str(": ");
            text.push_str(&error.to_string());
            cause = error.source();
        }
        text
    }
}

/// The last failure at one URL, after all its tries.
#[derive(Debug)]
pub struct UrlFailure {
    /// The URL.
    pub url: String,
    /// How many attempts were made.
    pub tries: u32,
    /// Why the last one failed.
    pub failure: Failure,
}

/// Why a fetch failed.
#[derive(Debug, Error)]
pub enum FetchError {
    /// No URL was given.
    #[error("nothing to fetch: no URL given")]
    NoUrls,
    /// The output exists already.
    #[error("`{path}` already exists")]
    Exists {
        /// The output.
        path: PathBuf,
    },
    /// The HTTP client could not be set up.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The download could not be written to disk (the cause names the file).
    #[error("cannot write the download to `{path}`")]
    Write {
        /// The file being written.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The download could not be hashed as a NAR.
    #[error("cannot hash `{path}` as a NAR")]
    NarHash {
        /// The downloaded file.
        path: PathBuf,
        /// Why.
        #[source]
        source: WriteError,
    },
    /// Every URL failed.
    #[error("{}", FailureList(.failures))]
    AllFailed {
        /// One entry per URL, in the order they were tried.
        failures: Vec<UrlFailure>,
    },
}

impl FetchError {
    /// Returns the hash mismatch among the failures, if any: the pinned
    /// hash is then probably wrong rather than the mirrors broken.
    pub fn mismatch(&self) -> Option<&HashMismatch> {
        let FetchError::AllFailed { failures } = self else {
            return None;
        };
        failures.iter().find_map(|failure| match &failure.failure {
            Failure::Mismatch(mismatch) => Some(mismatch),
            _ => None,
        })
    }
}

/// Renders every URL's failure, one per line (a mismatch takes three).
struct FailureList<'a>(&'a [UrlFailure]);

impl fmt::Display for FailureList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let [only] = self.0
            && let Failure::Mismatch(mismatch) = &only.failure
        {
            return write!(f, "{mismatch}");
        }
        let count = self.0.len();
        write!(
            f,
            "cannot fetch: {}",
            if count == 1 {
                "the URL failed"
            } else {
                "every URL failed"
            }
        )?;
        for failure in self.0 {
            let tries = match failure.tries {
                1 => String::new(),
                n => format!(" (after {n} tries)"),
            };
            match &failure.failure {
                Failure::Mismatch(mismatch) => {
                    write!(f, "\n  `{}`: hash mismatch", failure.url)?;
                    write!(f, "\n    wanted: {}", both(&mismatch.wanted))?;
                    write!(f, "\n    got:    {}", both(&mismatch.got))?;
                }
                other => write!(f, "\n  `{}`{tries}: {}", failure.url, other.chain())?,
            }
        }
        Ok(())
    }
}
