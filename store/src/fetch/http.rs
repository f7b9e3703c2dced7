//! The HTTP client and one attempt at one URL.
//!
//! The client is `reqwest`'s blocking one over rustls. It trusts the
//! platform's CA store (`rustls-native-certs`, which also reads
//! `SSL_CERT_FILE` and `SSL_CERT_DIR`) plus the bundles named by
//! `SSL_CERT_FILE` and `NIX_SSL_CERT_FILE` (Nix's variable), so that a
//! TLS-intercepting proxy's CA works as it does for `curl`. Proxies come
//! from `http_proxy`, `https_proxy` and `no_proxy`. It sends
//! `User-Agent: kiln/<version>`, asks for no content encoding (the bytes
//! hashed are the bytes served), gives up connecting after
//! [`FetchConfig::connect_timeout`] and on a body that stalls for
//! [`FetchConfig::stall_timeout`].

use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use reqwest::header::{CONTENT_RANGE, RANGE, RETRY_AFTER};
use thiserror::Error;

use super::FetchReporter;
use super::error::{Failure, FetchError};
use super::partial::Partial;
use super::retry::{RetryPolicy, is_transient_status, parse_retry_after};

/// How the fetcher talks to servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchConfig {
    /// The longest wait for a connection.
    pub connect_timeout: Duration,
    /// The longest wait for the answer's head, or for more of its body.
    pub stall_timeout: Duration,
    /// Retries per URL.
    pub retry: RetryPolicy,
    /// Use the proxies named by `http_proxy`, `https_proxy`, `no_proxy`.
    pub proxy_from_env: bool,
    /// PEM bundles of CA certificates to trust besides the platform's.
    pub ca_files: Vec<PathBuf>,
}

impl FetchConfig {
    /// Returns the default configuration, trusting the bundles that
    /// `SSL_CERT_FILE` and `NIX_SSL_CERT_FILE` name; `KILN_FETCH_TRIES`
    /// sets the attempts per URL (at least 1).
    pub fn from_env() -> FetchConfig {
        let mut ca_files: Vec<PathBuf> = Vec::new();
        for var in ["SSL_CERT_FILE", "NIX_SSL_CERT_FILE"] {
            if let Some(path) = std::env::var_os(var)
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
                && !ca_files.contains(&path)
            {
                ca_files.push(path);
            }
        }
        FetchConfig {
            connect_timeout: Duration::from_secs(30),
            stall_timeout: Duration::from_secs(60),
            retry: RetryPolicy {
                tries: std::env::var("KILN_FETCH_TRIES")
                    .ok()
                    .and_then(|t| t.parse::<u32>().ok())
                    .map_or(RetryPolicy::default().tries, |t| t.max(1)),
                ..RetryPolicy::default()
            },
            proxy_from_env: true,
            ca_files,
        }
    }
}

/// Why the HTTP client could not be set up.
#[derive(Debug, Error)]
pub enum ClientError {
    /// A CA bundle could not be read (the cause names the file).
    #[error("cannot read the CA certificates")]
    ReadCa(#[source] std::io::Error),
    /// A CA bundle is not PEM certificates.
    #[error("`{path}` does not hold PEM certificates")]
    ParseCa {
        /// The bundle.
        path: PathBuf,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// `reqwest` refused the configuration (no TLS backend, bad proxy).
    #[error("cannot set up the HTTP client")]
    Build(#[source] reqwest::Error),
}

/// Builds the client `config` describes.
pub fn client(config: &FetchConfig) -> Result<Client, ClientError> {
    let mut builder = Client::builder()
        .user_agent(concat!("kiln/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(config.connect_timeout)
        .timeout(config.stall_timeout)
        .tls_built_in_native_certs(true);
    for path in &config.ca_files {
        let pem = fs_err::read(path).map_err(ClientError::ReadCa)?;
        let certificates =
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|source| ClientError::ParseCa {
                path: path.clone(),
                source,
            })?;
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    if !config.proxy_from_env {
        builder = builder.no_proxy();
    }
    builder.build().map_err(ClientError::Build)
}

/// How one attempt ended, short of a local error.
pub enum Attempt {
    /// The whole body is in the partial file.
    Complete,
    /// It failed; `retry` says whether the same URL is worth another try
    /// and how long the server asked to wait.
    Failed {
        /// Why.
        failure: Failure,
        /// `Some` when worth retrying, with the server's `Retry-After`.
        retry: Option<Option<Duration>>,
    },
}

/// Makes one attempt at `url`, appending to `partial` (resuming with a
/// `Range` request when it holds a prefix already). Errors are local
/// (writing the partial file) and end the whole fetch.
pub fn attempt(
    client: &Client,
    url: &str,
    partial: &mut Partial,
    reporter: &dyn FetchReporter,
) -> Result<Attempt, FetchError> {
    let mut request = client.get(url);
    if partial.len() > 0 {
        request = request.header(RANGE, format!("bytes={}-", partial.len()));
    }
    let response = match request.send() {
        Ok(response) => response,
        Err(error) => {
            let retry = (!error.is_builder() && !error.is_redirect()).then_some(None);
            return Ok(Attempt::Failed {
                failure: Failure::Request(error),
                retry,
            });
        }
    };
    if let Some(failed) = check_status(&response, partial)? {
        return Ok(failed);
    }
    let total = response.content_length().map(|len| len + partial.len());
    reporter.on_start(url, total);
    stream(response, url, total, partial, reporter)
}

/// Returns the failure a status means, if any; on a `200` to a resume,
/// starts the partial file over.
fn check_status(response: &Response, partial: &mut Partial) -> Result<Option<Attempt>, FetchError> {
    let status = response.status();
    let code = status.as_u16();
    if status == StatusCode::PARTIAL_CONTENT && partial.len() > 0 {
        let start = range_start(response);
        if start == Some(partial.len()) {
            return Ok(None);
        }
        let failure = Failure::BadRange {
            wanted: partial.len(),
            got: start.unwrap_or(0),
        };
        partial.reset()?;
        return Ok(Some(Attempt::Failed {
            failure,
            retry: Some(None),
        }));
    }
    if status == StatusCode::OK {
        if partial.len() > 0 {
            partial.reset()?;
        }
        return Ok(None);
    }
    let failure = match code {
        404 | 410 => Failure::NotFound { status: code },
        _ => Failure::Status { status: code },
    };
    let retry = is_transient_status(code).then(|| {
        let value = response.headers().get(RETRY_AFTER)?.to_str().ok()?;
        parse_retry_after(value, SystemTime::now())
    });
    Ok(Some(Attempt::Failed { failure, retry }))
}

/// Returns where a `206` answer's `Content-Range: bytes START-END/TOTAL` starts.
fn range_start(response: &Response) -> Option<u64> {
    let value = response.headers().get(CONTENT_RANGE)?.to_str().ok()?;
    let range = value.trim().strip_prefix("bytes")?.trim_start();
    range.split('-').next()?.trim().parse().ok()
}

/// Copies the body into `partial`, reporting progress.
fn stream(
    mut response: Response,
    url: &str,
    total: Option<u64>,
    partial: &mut Partial,
    reporter: &dyn FetchReporter,
) -> Result<Attempt, FetchError> {
    let mut buf = vec![0; 256 * 1024];
    loop {
        let n = match response.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => {
                let failure = Failure::Body {
                    got: partial.len(),
                    source,
                };
                return Ok(Attempt::Failed {
                    failure,
                    retry: Some(None),
                });
            }
        };
        partial.write(buf.get(..n).unwrap_or_default())?;
        reporter.on_progress(url, partial.len());
    }
    match total {
        Some(expected) if partial.len() < expected => Ok(Attempt::Failed {
            failure: Failure::Truncated {
                expected,
                got: partial.len(),
            },
            retry: Some(None),
        }),
        _ => Ok(Attempt::Complete),
    }
}
