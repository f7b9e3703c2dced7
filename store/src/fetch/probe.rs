//! Unpinned requests, for locking: reading an index or a registry's JSON
//! answer, and hashing a file whose hash is not known yet.
//!
//! These are the only downloads whose result is not checked against a
//! pinned hash; their callers (`kiln lock`) pin what they learn. Each is
//! one `GET` with the fetcher's client, retried like a pinned fetch on a
//! transient failure.

use std::io::Read;
use std::time::Duration;

use reqwest::header::ACCEPT;

use super::Fetcher;
use super::error::{Failure, FetchError, UrlFailure};
use super::retry::is_transient_status;
use crate::hash::{Hash, HashAlgo, Hasher};

/// The most a [`Fetcher::get`] answer may hold (an index, a JSON page).
pub const MAX_DOCUMENT: u64 = 64 << 20;

impl Fetcher {
    /// Returns the body of `url` (at most [`MAX_DOCUMENT`] bytes), asking
    /// for the media type `accept` when given.
    pub fn get(&self, url: &str, accept: Option<&str>) -> Result<Vec<u8>, FetchError> {
        let mut body = Vec::new();
        self.read_url(url, accept, &mut |chunk| {
            body.extend_from_slice(chunk);
            u64::try_from(body.len()).is_ok_and(|len| len <= MAX_DOCUMENT)
        })?;
        Ok(body)
    }

    /// Downloads `url` without keeping it; returns the hash (with `algo`)
    /// of its bytes and its length.
    pub fn hash_url(&self, url: &str, algo: HashAlgo) -> Result<(Hash, u64), FetchError> {
        let mut hasher = Hasher::new(algo);
        let mut size = 0u64;
        self.read_url(url, None, &mut |chunk| {
            hasher.update(chunk);
            size += chunk.len() as u64;
            true
        })?;
        Ok((hasher.finish(), size))
    }

    /// Streams `url`'s body into `sink` (which returns false to give up:
    /// too large), retrying transient failures.
    fn read_url(
        &self,
        url: &str,
        accept: Option<&str>,
        sink: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<(), FetchError> {
        let tries = self.retry.tries.max(1);
        let mut attempt = 0;
        loop {
            let failure = match self.read_once(url, accept, sink) {
                Ok(()) => return Ok(()),
                Err(failure) => *failure,
            };
            attempt += 1;
            let transient = match &failure {
                Failure::Status { status } => is_transient_status(*status),
                Failure::Request(_) | Failure::Body { .. } | Failure::Truncated { .. } => true,
                _ => false,
            };
            if !transient || attempt >= tries {
                return Err(FetchError::AllFailed {
                    failures: vec![UrlFailure {
                        url: url.to_owned(),
                        tries: attempt,
                        failure,
                    }],
                });
            }
            std::thread::sleep(
                self.retry
                    .delay(attempt - 1, None)
                    .min(Duration::from_secs(30)),
            );
        }
    }

    fn read_once(
        &self,
        url: &str,
        accept: Option<&str>,
        sink: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<(), Box<Failure>> {
        let mut request = self.client.get(url);
        if let Some(accept) = accept {
            request = request.header(ACCEPT, accept);
        }
        let mut response = request.send().map_err(|e| Box::new(Failure::Request(e)))?;
        let status = response.status().as_u16();
        match status {
            200 => {}
            404 | 410 => return Err(Box::new(Failure::NotFound { status })),
            _ => return Err(Box::new(Failure::Status { status })),
        }
        let mut buf = vec![0; 256 * 1024];
        let mut got = 0u64;
        loop {
            let n = match response.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => return Err(Box::new(Failure::Body { got, source })),
            };
            got += n as u64;
            if !sink(buf.get(..n).unwrap_or_default()) {
                return Err(Box::new(Failure::TooLarge {
                    limit: MAX_DOCUMENT,
                }));
            }
        }
    }
}
