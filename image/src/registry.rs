//! A client of the OCI distribution API (`/v2/…`) for one repository:
//! blob existence checks, monolithic and chunked uploads, manifest and
//! index reads and writes, with basic and bearer-token authentication.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE,
};
use serde_json::Value;
use thiserror::Error;

use crate::auth::{Challenge, Credentials};
use crate::layout::{media, sha256_digest};
use crate::reference::Reference;

/// How to reach a registry.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Talk plain HTTP (for a registry on loopback) instead of HTTPS.
    pub insecure: bool,
    /// The credentials, when the registry asks for them.
    pub credentials: Option<Credentials>,
}

impl Options {
    /// Refuses plain HTTP to a registry that is not on this machine: only
    /// loopback traffic may go unencrypted.
    pub fn check(&self, reference: &Reference) -> Result<(), RegistryError> {
        if self.insecure && !reference.is_loopback() {
            return Err(RegistryError::InsecureRemote {
                registry: reference.registry.clone(),
            });
        }
        Ok(())
    }
}

/// What a session did, by request kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// HTTP requests sent (token requests included).
    pub requests: u64,
    /// Blobs uploaded.
    pub blobs_uploaded: u64,
    /// Their bytes.
    pub bytes_uploaded: u64,
    /// Upload requests that carried a chunk (`PATCH`).
    pub chunks: u64,
    /// Blobs the registry had already.
    pub blobs_present: u64,
    /// Manifests and indexes written.
    pub manifests_put: u64,
    /// Manifests and indexes the registry had already.
    pub manifests_present: u64,
}

/// Why a registry request failed.
#[derive(Debug, Error)]
pub enum RegistryError {
    /// The HTTP client could not be set up.
    #[error(transparent)]
    Client(#[from] kiln_store::fetch::ClientError),
    /// The request did not get an answer.
    #[error("{what}: {url}: {}", chain(source))]
    Http {
        /// What kiln was doing.
        what: String,
        /// The URL.
        url: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// The registry answered with an error.
    #[error("{what}: {url} answered {status}{}", if detail.is_empty() { String::new() } else { format!(": {detail}") })]
    Status {
        /// What kiln was doing.
        what: String,
        /// The URL.
        url: String,
        /// The status.
        status: StatusCode,
        /// The registry's error messages.
        detail: String,
    },
    /// The registry wants credentials kiln does not have, or refused them.
    #[error("{registry} refused access{}: {hint}", if detail.is_empty() { String::new() } else { format!(" ({detail})") })]
    Unauthorized {
        /// The registry.
        registry: String,
        /// Its error messages.
        detail: String,
        /// What to do.
        hint: String,
    },
    /// Plain HTTP was asked for a registry that is not on loopback.
    #[error(
        "--insecure (plain HTTP) is only for a registry on this machine; `{registry}` is not on loopback"
    )]
    InsecureRemote {
        /// The registry.
        registry: String,
    },
    /// The registry said something the API does not allow.
    #[error("{registry}: {reason}")]
    Protocol {
        /// The registry.
        registry: String,
        /// What was wrong.
        reason: String,
    },
}

fn chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Every manifest type kiln reads, for `Accept`.
const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

/// A session with one repository of a registry.
pub struct Registry {
    http: Client,
    base: String,
    registry: String,
    repository: String,
    credentials: Option<Credentials>,
    authorization: Option<String>,
    /// What the session did so far.
    pub stats: Stats,
}

impl Registry {
    /// Connects to `reference`'s registry and repository: checks that it
    /// speaks the API (`GET /v2/`) and authenticates when it asks.
    pub fn connect(reference: &Reference, options: &Options) -> Result<Registry, RegistryError> {
        options.check(reference)?;
        let mut config = kiln_store::fetch::FetchConfig::from_env();
        // Uploads of large layers take longer than a fetch's stall limit.
        config.stall_timeout = Duration::from_secs(600);
        if reference.is_loopback() {
            config.proxy_from_env = false;
        }
        let http = kiln_store::fetch::client(&config)?;
        let scheme = if options.insecure { "http" } else { "https" };
        let mut registry = Registry {
            http,
            base: format!("{scheme}://{}", reference.api_host()),
            registry: reference.registry.clone(),
            repository: reference.repository.clone(),
            credentials: options.credentials.clone(),
            authorization: None,
            stats: Stats::default(),
        };
        let url = format!("{}/v2/", registry.base);
        let response = registry.send("checking the registry", &url, |c| c.get(&url))?;
        if !response.status().is_success() {
            return Err(registry.status_error("checking the registry", &url, response));
        }
        Ok(registry)
    }

    /// The repository's URL prefix.
    fn repo_url(&self) -> String {
        format!("{}/v2/{}", self.base, self.repository)
    }

    /// Sends a request, authenticating and sending it again when the
    /// registry answers 401.
    fn send(
        &mut self,
        what: &str,
        url: &str,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Response, RegistryError> {
        let response = self.send_once(what, url, &build)?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let challenge = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(Challenge::parse);
        let detail = error_detail(response);
        let Some(challenge) = challenge else {
            return Err(self.unauthorized(
                detail,
                "it gave no challenge kiln understands (Basic or Bearer)",
            ));
        };
        let had = self.authorization.clone();
        self.authenticate(&challenge)?;
        if self.authorization == had {
            return Err(self.unauthorized(detail, self.credential_hint()));
        }
        let response = self.send_once(what, url, &build)?;
        if response.status() == StatusCode::UNAUTHORIZED
            || response.status() == StatusCode::FORBIDDEN
        {
            let detail = error_detail(response);
            return Err(self.unauthorized(detail, self.credential_hint()));
        }
        Ok(response)
    }

    fn send_once(
        &mut self,
        what: &str,
        url: &str,
        build: &impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Response, RegistryError> {
        let mut request = build(&self.http);
        if let Some(authorization) = &self.authorization {
            request = request.header(AUTHORIZATION, authorization);
        }
        self.stats.requests += 1;
        request.send().map_err(|source| RegistryError::Http {
            what: what.to_owned(),
            url: url.to_owned(),
            source,
        })
    }

    fn credential_hint(&self) -> &'static str {
        if self.credentials.is_some() {
            "check the user name and password (flags or the docker configuration)"
        } else {
            "give credentials with --username and --password-stdin, or log in with `docker login` or `podman login --authfile ~/.docker/config.json`"
        }
    }

    fn unauthorized(&self, detail: String, hint: &str) -> RegistryError {
        RegistryError::Unauthorized {
            registry: self.registry.clone(),
            detail,
            hint: hint.to_owned(),
        }
    }

    /// Answers a challenge: basic credentials, or a token from the realm.
    fn authenticate(&mut self, challenge: &Challenge) -> Result<(), RegistryError> {
        match challenge {
            Challenge::Basic => {
                if let Some(credentials) = &self.credentials {
                    self.authorization = Some(credentials.basic_header());
                }
                Ok(())
            }
            Challenge::Bearer { realm, service, .. } => {
                let scope = format!("repository:{}:pull,push", self.repository);
                let mut query: Vec<(&str, &str)> = vec![("scope", &scope)];
                if let Some(service) = service {
                    query.push(("service", service));
                }
                let mut request = self.http.get(realm).query(&query);
                if let Some(credentials) = &self.credentials {
                    request = request.header(AUTHORIZATION, credentials.basic_header());
                }
                self.stats.requests += 1;
                let what = "getting a token";
                let response = request.send().map_err(|source| RegistryError::Http {
                    what: what.to_owned(),
                    url: realm.clone(),
                    source,
                })?;
                if response.status() == StatusCode::UNAUTHORIZED
                    || response.status() == StatusCode::FORBIDDEN
                {
                    let detail = error_detail(response);
                    return Err(self.unauthorized(detail, self.credential_hint()));
                }
                if !response.status().is_success() {
                    return Err(self.status_error(what, realm, response));
                }
                let bytes = self.body(what, realm, response)?;
                let body: Value = serde_json::from_slice(&bytes).map_err(|e| {
                    self.protocol(format!("the token server {realm} did not answer JSON: {e}"))
                })?;
                let token = body["token"]
                    .as_str()
                    .or_else(|| body["access_token"].as_str())
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| RegistryError::Protocol {
                        registry: self.registry.clone(),
                        reason: format!("the token server {realm} answered without a token"),
                    })?;
                self.authorization = Some(format!("Bearer {token}"));
                Ok(())
            }
        }
    }

    fn status_error(&self, what: &str, url: &str, response: Response) -> RegistryError {
        let status = response.status();
        RegistryError::Status {
            what: what.to_owned(),
            url: url.to_owned(),
            status,
            detail: error_detail(response),
        }
    }

    fn protocol(&self, reason: String) -> RegistryError {
        RegistryError::Protocol {
            registry: self.registry.clone(),
            reason,
        }
    }

    /// Whether the repository holds the blob `digest`.
    pub fn has_blob(&mut self, digest: &str) -> Result<bool, RegistryError> {
        let url = format!("{}/blobs/{digest}", self.repo_url());
        let what = format!("checking for blob {digest}");
        let response = self.send(&what, &url, |c| c.head(&url))?;
        match response.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.status_error(&what, &url, response)),
        }
    }

    /// Uploads the blob `bytes` (whose digest is `digest`): in one request
    /// when it is at most `chunk_size` bytes, else in chunks of that size.
    pub fn upload_blob(
        &mut self,
        digest: &str,
        bytes: &[u8],
        chunk_size: usize,
    ) -> Result<(), RegistryError> {
        let what = format!("uploading blob {digest}");
        let start = format!("{}/blobs/uploads/", self.repo_url());
        let response = self.send(&what, &start, |c| {
            c.post(&start).header(CONTENT_LENGTH, "0")
        })?;
        if response.status() != StatusCode::ACCEPTED {
            return Err(self.status_error(&what, &start, response));
        }
        let mut location = self.location(&response, &what)?;
        let chunk_size = chunk_size.max(1);
        if bytes.len() > chunk_size {
            for (n, chunk) in bytes.chunks(chunk_size).enumerate() {
                let first = n * chunk_size;
                let last = first + chunk.len() - 1;
                let url = location.clone();
                let response = self.send(&what, &url, |c| {
                    c.patch(&url)
                        .header(CONTENT_TYPE, "application/octet-stream")
                        .header(CONTENT_RANGE, format!("{first}-{last}"))
                        .body(chunk.to_vec())
                })?;
                self.stats.chunks += 1;
                if response.status() != StatusCode::ACCEPTED {
                    return Err(self.status_error(&what, &url, response));
                }
                location = self.location(&response, &what)?;
            }
            let url = with_digest(&location, digest);
            let response = self.send(&what, &url, |c| c.put(&url).header(CONTENT_LENGTH, "0"))?;
            self.finish_upload(&what, &url, digest, response)?;
        } else {
            let url = with_digest(&location, digest);
            let response = self.send(&what, &url, |c| {
                c.put(&url)
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .body(bytes.to_vec())
            })?;
            self.finish_upload(&what, &url, digest, response)?;
        }
        self.stats.blobs_uploaded += 1;
        self.stats.bytes_uploaded += bytes.len() as u64;
        Ok(())
    }

    fn finish_upload(
        &self,
        what: &str,
        url: &str,
        digest: &str,
        response: Response,
    ) -> Result<(), RegistryError> {
        if response.status() != StatusCode::CREATED {
            return Err(self.status_error(what, url, response));
        }
        match docker_digest(&response) {
            Some(stored) if stored != digest => {
                Err(self.protocol(format!("it stored the blob {digest} as {stored}")))
            }
            _ => Ok(()),
        }
    }

    /// The upload URL of an answer's `Location`, made absolute.
    fn location(&self, response: &Response, what: &str) -> Result<String, RegistryError> {
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| self.protocol(format!("{what}: the answer has no Location")))?;
        Ok(
            if location.starts_with("http://") || location.starts_with("https://") {
                location.to_owned()
            } else if location.starts_with('/') {
                format!("{}{location}", self.base)
            } else {
                format!("{}/{location}", self.base)
            },
        )
    }

    /// The digest of the manifest `reference` (a tag or digest) names, or
    /// `None` when the repository has none.
    pub fn manifest_digest(&mut self, reference: &str) -> Result<Option<String>, RegistryError> {
        let url = format!("{}/manifests/{reference}", self.repo_url());
        let what = format!("checking for manifest {reference}");
        let response = self.send(&what, &url, |c| c.head(&url).header(ACCEPT, MANIFEST_TYPES))?;
        match response.status() {
            s if s.is_success() => Ok(docker_digest(&response)),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(self.status_error(&what, &url, response)),
        }
    }

    /// Writes a manifest or index under `reference` (a tag, or its
    /// digest); returns the digest the registry gives it.
    pub fn put_manifest(
        &mut self,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<String, RegistryError> {
        let url = format!("{}/manifests/{reference}", self.repo_url());
        let what = format!("writing manifest {reference}");
        let response = self.send(&what, &url, |c| {
            c.put(&url)
                .header(CONTENT_TYPE, media_type)
                .body(bytes.to_vec())
        })?;
        if response.status() != StatusCode::CREATED && !response.status().is_success() {
            return Err(self.status_error(&what, &url, response));
        }
        let ours = sha256_digest(bytes);
        match docker_digest(&response) {
            Some(stored) if stored != ours => {
                Err(self.protocol(format!("it stored the manifest {ours} as {stored}")))
            }
            _ => {
                self.stats.manifests_put += 1;
                Ok(ours)
            }
        }
    }

    /// Reads the manifest or index `reference` names: its media type and
    /// bytes, checked against the digest when `reference` is one.
    pub fn get_manifest(&mut self, reference: &str) -> Result<(String, Vec<u8>), RegistryError> {
        let url = format!("{}/manifests/{reference}", self.repo_url());
        let what = format!("reading manifest {reference}");
        let response = self.send(&what, &url, |c| c.get(&url).header(ACCEPT, MANIFEST_TYPES))?;
        if !response.status().is_success() {
            return Err(self.status_error(&what, &url, response));
        }
        let media_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = self.body(&what, &url, response)?;
        if reference.starts_with("sha256:") && sha256_digest(&bytes) != reference {
            return Err(self.protocol(format!(
                "the manifest {reference} it sent has the digest {}",
                sha256_digest(&bytes)
            )));
        }
        let media_type = if media_type.is_empty() || media_type == "application/json" {
            serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v["mediaType"].as_str().map(str::to_owned))
                .unwrap_or_else(|| media::MANIFEST.to_owned())
        } else {
            media_type
        };
        Ok((media_type, bytes))
    }

    /// Reads the blob `digest`, checked against it.
    pub fn get_blob(&mut self, digest: &str) -> Result<Vec<u8>, RegistryError> {
        let url = format!("{}/blobs/{digest}", self.repo_url());
        let what = format!("reading blob {digest}");
        let response = self.send(&what, &url, |c| c.get(&url))?;
        if !response.status().is_success() {
            return Err(self.status_error(&what, &url, response));
        }
        let bytes = self.body(&what, &url, response)?;
        let got = sha256_digest(&bytes);
        if got != digest {
            return Err(self.protocol(format!("the blob {digest} it sent has the digest {got}")));
        }
        Ok(bytes)
    }

    fn body(&self, what: &str, url: &str, response: Response) -> Result<Vec<u8>, RegistryError> {
        response
            .bytes()
            .map(|b| b.to_vec())
            .map_err(|source| RegistryError::Http {
                what: what.to_owned(),
                url: url.to_owned(),
                source,
            })
    }
}

/// `url` with the `digest` query parameter that completes an upload.
fn with_digest(url: &str, digest: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}digest={}", digest.replace(':', "%3A"))
}

fn docker_digest(response: &Response) -> Option<String> {
    response
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The messages of a registry's error body (`{"errors": [{"code",
/// "message"}]}`), or its first line of text.
fn error_detail(response: Response) -> String {
    let text = response.text().unwrap_or_default();
    if let Ok(body) = serde_json::from_str::<Value>(&text)
        && let Some(errors) = body["errors"].as_array()
    {
        return errors
            .iter()
            .map(|e| {
                let code = e["code"].as_str().unwrap_or("");
                let message = e["message"].as_str().unwrap_or("");
                match (code.is_empty(), message.is_empty()) {
                    (false, false) => format!("{code}: {message}"),
                    (false, true) => code.to_owned(),
                    _ => message.to_owned(),
                }
            })
            .collect::<Vec<_>>()
            .join("; ");
    }
    text.lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(200)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_urls_get_the_digest() {
        let d = format!("sha256:{}", "0".repeat(64));
        assert_eq!(
            with_digest("http://h/v2/a/blobs/uploads/u?_state=x", &d),
            format!(
                "http://h/v2/a/blobs/uploads/u?_state=x&digest=sha256%3A{}",
                "0".repeat(64)
            )
        );
        assert!(with_digest("http://h/u", &d).starts_with("http://h/u?digest="));
    }
}
