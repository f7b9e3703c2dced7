//! Downloading pinned files: the fetcher behind `builtin:fetchurl`.
//!
//! A [`Fetcher`] downloads one file ([`FetchRequest`]) from a list of mirror
//! URLs tried in order, into a temporary sibling of the output path,
//! hashing it as it streams; only when the hash is the pinned one is the
//! file renamed to the output path. Per URL:
//!
//! - a `404`/`410` or a hash mismatch moves on to the next URL at once;
//! - a connection error, a broken-off body, `408`, `429` or `5xx` is
//!   retried with exponential backoff ([`RetryPolicy`]), resuming a
//!   broken-off body with a `Range` request when the server allows;
//! - when every URL has failed, [`FetchError::AllFailed`] lists each with
//!   the reason. A mismatch prints aligned `wanted:` and `got:` lines in
//!   SRI and nixbase32.
//!
//! The expected hash is a derivation's fixed output: flat (the file's
//! bytes) or recursive (the NAR of the file, executable or not). Progress
//! goes to a [`FetchReporter`]; [`NoReporter`] ignores it.
//!
//! What this module does not do: register the output in the store (the
//! caller does), or pick mirrors (the recipe pins them).

mod error;
mod http;
mod partial;
mod probe;
mod retry;

#[cfg(test)]
mod tests;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::derivation::FixedOutputHash;
use crate::hash::{Hash, Hasher};
use crate::store_path::FileIngestionMethod;

pub use error::{Failure, FetchError, HashMismatch, UrlFailure};
pub use http::{ClientError, FetchConfig, client};
pub use probe::MAX_DOCUMENT;
pub use retry::RetryPolicy;

use http::Attempt;
use partial::Partial;

/// One file to download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRequest {
    /// Mirrors, tried in order.
    pub urls: Vec<String>,
    /// The pinned hash, and whether it is of the bytes or of the NAR.
    pub expected: FixedOutputHash,
    /// Make the output executable (mode 0o755 rather than 0o644).
    pub executable: bool,
}

/// Receives progress reports, to draw them.
///
/// Every method has a default that does nothing.
pub trait FetchReporter {
    /// A server started sending `url`; `total` is its length, if known
    /// (counting a prefix resumed from an earlier attempt).
    fn on_start(&self, url: &str, total: Option<u64>) {
        let _ = (url, total);
    }

    /// `bytes` of `url` have arrived so far.
    fn on_progress(&self, url: &str, bytes: u64) {
        let _ = (url, bytes);
    }

    /// An attempt at `url` failed; the next one (at this URL or the next)
    /// starts after `wait`.
    fn on_retry(&self, url: &str, failure: &Failure, wait: Duration) {
        let _ = (url, failure, wait);
    }

    /// `url` was downloaded and verified: `bytes` long.
    fn on_done(&self, url: &str, bytes: u64) {
        let _ = (url, bytes);
    }
}

/// A reporter that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoReporter;

impl FetchReporter for NoReporter {}

/// Downloads files; holds one HTTP client (and its connection pool).
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::blocking::Client,
    retry: RetryPolicy,
}

impl Fetcher {
    /// Sets up a fetcher as `config` describes.
    pub fn new(config: &FetchConfig) -> Result<Fetcher, ClientError> {
        Ok(Fetcher {
            client: http::client(config)?,
            retry: config.retry,
        })
    }

    /// Downloads `request` to `out`, which must not exist, and returns the
    /// hash of the download itself (of the bytes, whatever the mode).
    ///
    /// On error nothing is left at `out` or beside it.
    pub fn fetch(
        &self,
        request: &FetchRequest,
        out: &Path,
        reporter: &dyn FetchReporter,
    ) -> Result<Hash, FetchError> {
        if request.urls.is_empty() {
            return Err(FetchError::NoUrls);
        }
        if fs_err::symlink_metadata(out).is_ok() {
            return Err(FetchError::Exists {
                path: out.to_owned(),
            });
        }
        let temp = temporary(out);
        let mut partial = Partial::create(&temp, request.expected.hash.algo())?;
        let result = self.fetch_into(request, &mut partial, out, reporter);
        if result.is_err() {
            // The error at hand matters more than a failed clean-up.
            let _ = fs_err::remove_file(&temp);
        }
        result
    }

    fn fetch_into(
        &self,
        request: &FetchRequest,
        partial: &mut Partial,
        out: &Path,
        reporter: &dyn FetchReporter,
    ) -> Result<Hash, FetchError> {
        let mut failures = Vec::new();
        for url in &request.urls {
            let (tries, failure) = match self.fetch_url(url, request, partial, reporter)? {
                Ok(hash) => {
                    let mode = if request.executable { 0o755 } else { 0o644 };
                    let permissions = std::fs::Permissions::from_mode(mode);
                    let path = partial.path();
                    fs_err::set_permissions(path, permissions)
                        .map_err(|source| write_error(path, source))?;
                    fs_err::rename(path, out).map_err(|source| write_error(out, source))?;
                    reporter.on_done(url, partial.len());
                    return Ok(hash);
                }
                Err(failed) => failed,
            };
            partial.reset()?;
            failures.push(UrlFailure {
                url: url.clone(),
                tries,
                failure,
            });
        }
        Err(FetchError::AllFailed { failures })
    }

    /// Tries one URL until it succeeds, fails for good, or runs out of
    /// tries. The outer error is local and ends the fetch; the inner one
    /// is this URL's (the number of tries and the last failure).
    fn fetch_url(
        &self,
        url: &str,
        request: &FetchRequest,
        partial: &mut Partial,
        reporter: &dyn FetchReporter,
    ) -> Result<Result<Hash, (u32, Failure)>, FetchError> {
        let tries = self.retry.tries.max(1);
        for attempt in 0..tries {
            let (failure, retry) = match http::attempt(&self.client, url, partial, reporter)? {
                Attempt::Complete => {
                    return Ok(match verify(url, request, partial)? {
                        Ok(hash) => Ok(hash),
                        Err(mismatch) => Err((attempt + 1, Failure::Mismatch(mismatch))),
                    });
                }
                Attempt::Failed { failure, retry } => (failure, retry),
            };
            match retry {
                Some(asked) if attempt + 1 < tries => {
                    let wait = self.retry.delay(attempt, asked);
                    reporter.on_retry(url, &failure, wait);
                    std::thread::sleep(wait);
                }
                _ => {
                    reporter.on_retry(url, &failure, Duration::ZERO);
                    return Ok(Err((attempt + 1, failure)));
                }
            }
        }
        // `tries` is at least 1 and every iteration returns or retries;
        // the last one cannot retry, so this is never reached.
        Ok(Err((tries, Failure::Status { status: 0 })))
    }
}

/// Checks the complete download against the pinned hash. Returns the hash
/// of its bytes, or the mismatch.
fn verify(
    url: &str,
    request: &FetchRequest,
    partial: &mut Partial,
) -> Result<Result<Hash, HashMismatch>, FetchError> {
    let flat = partial.finish()?;
    let got = match request.expected.method {
        FileIngestionMethod::Flat => flat,
        FileIngestionMethod::Recursive => nar_hash(partial.path(), request)?,
    };
    if got == request.expected.hash {
        Ok(Ok(flat))
    } else {
        Ok(Err(HashMismatch {
            url: url.to_owned(),
            wanted: request.expected.hash,
            got,
        }))
    }
}

/// Returns the hash of the NAR of the downloaded file, as it will be once
/// its executable bit is set as requested.
fn nar_hash(path: &Path, request: &FetchRequest) -> Result<Hash, FetchError> {
    // Only reading can fail: the hasher takes every byte.
    let nar_error = |source| FetchError::NarHash {
        path: path.to_owned(),
        source: crate::nar::WriteError::Input(source),
    };
    let file = fs_err::File::open(path).map_err(nar_error)?;
    let size = file.metadata().map_err(nar_error)?.len();
    let mut hasher = HashWriter(Hasher::new(request.expected.hash.algo()));
    crate::nar::dump_regular(
        request.executable,
        size,
        std::io::BufReader::new(file),
        &mut hasher,
    )
    .map_err(nar_error)?;
    Ok(hasher.0.finish())
}

/// Feeds what is written to a hasher.
struct HashWriter(Hasher);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Returns where the download of `out` is written before it is verified:
/// `.<name>.part` beside it.
fn temporary(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    out.with_file_name(format!(".{name}.part"))
}

fn write_error(path: &Path, source: std::io::Error) -> FetchError {
    FetchError::Write {
        path: path.to_owned(),
        source,
    }
}
