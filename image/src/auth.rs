//! Registry credentials and the challenges that ask for them.
//!
//! Credentials come from flags or from the docker client's configuration
//! (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`): an entry
//! of `auths` keyed by the registry's host, holding `auth` (base64 of
//! `user:password`) or `username` and `password`. A registry answers an
//! unauthenticated request with `401` and a `WWW-Authenticate` challenge:
//! `Basic` (send the credentials) or `Bearer` (trade them, or nothing, for
//! a token at the challenge's realm).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use thiserror::Error;

/// A user name and password (or token) for a registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or access token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the password.
        write!(f, "Credentials {{ username: {:?} }}", self.username)
    }
}

impl Credentials {
    /// The value of an `Authorization: Basic` header.
    pub fn basic_header(&self) -> String {
        format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", self.username, self.password))
        )
    }
}

/// Why the docker configuration could not be read.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file exists but cannot be read.
    #[error("cannot read `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not the docker client's JSON.
    #[error("`{}` is not a docker client configuration: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The configuration named on the command line does not exist.
    #[error("the --authfile `{}` does not exist", path.display())]
    MissingAuthfile {
        /// The file.
        path: PathBuf,
    },
    /// An `auth` entry is not base64 of `user:password`.
    #[error("the `auth` of `{registry}` in `{}` is not base64 of `user:password`", path.display())]
    BadAuth {
        /// The file.
        path: PathBuf,
        /// The entry's key.
        registry: String,
    },
}

#[derive(Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
}

#[derive(Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// The docker client configuration kiln reads: `$DOCKER_CONFIG/config.json`
/// when `DOCKER_CONFIG` is set, else `~/.docker/config.json`.
pub fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|home| PathBuf::from(home).join(".docker/config.json"))
}

/// The credentials for `registry` from a docker configuration: `authfile`
/// when one is named (it must exist), else [`docker_config_path`]'s file
/// when there is one.
pub fn lookup(authfile: Option<&Path>, registry: &str) -> Result<Option<Credentials>, ConfigError> {
    match authfile {
        Some(path) if !path.is_file() => Err(ConfigError::MissingAuthfile {
            path: path.to_owned(),
        }),
        Some(path) => from_docker_config(path, registry),
        None => match docker_config_path() {
            Some(path) => from_docker_config(&path, registry),
            None => Ok(None),
        },
    }
}

/// The credentials `path` holds for `registry` (`host[:port]`), if any. A
/// missing file holds none.
pub fn from_docker_config(path: &Path, registry: &str) -> Result<Option<Credentials>, ConfigError> {
    let text = match fs_err::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let config: DockerConfig =
        serde_json::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source,
        })?;
    let Some((key, entry)) = config
        .auths
        .iter()
        .find(|(key, _)| entry_host(key) == registry)
    else {
        return Ok(None);
    };
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let bad = || ConfigError::BadAuth {
            path: path.to_owned(),
            registry: key.clone(),
        };
        let decoded = STANDARD.decode(auth.trim()).map_err(|_| bad())?;
        let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
        let (username, password) = decoded.split_once(':').ok_or_else(bad)?;
        return Ok(Some(Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
        }));
    }
    Ok(match (&entry.username, &entry.password) {
        (Some(username), Some(password)) => Some(Credentials {
            username: username.clone(),
            password: password.clone(),
        }),
        _ => None,
    })
}

/// The host of an `auths` key: keys are `host[:port]` or URLs such as
/// `https://index.docker.io/v1/` (which means Docker Hub).
fn entry_host(key: &str) -> &str {
    let host = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = host.split('/').next().unwrap_or(host);
    match host {
        "index.docker.io" | "registry-1.docker.io" => crate::reference::DOCKER_HUB,
        _ => host,
    }
}

/// A `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// Send the credentials with every request.
    Basic,
    /// Get a token from `realm` (with `service` and `scope`).
    Bearer {
        /// The token server's URL.
        realm: String,
        /// The `service` parameter, when given.
        service: Option<String>,
        /// The `scope` parameter, when given.
        scope: Option<String>,
    },
}

impl Challenge {
    /// Parses a `WWW-Authenticate` value: a scheme, then `key=value`
    /// parameters, values quoted or not.
    pub fn parse(header: &str) -> Option<Challenge> {
        let header = header.trim();
        let (scheme, params) = header.split_once(' ').unwrap_or((header, ""));
        let params = parse_params(params);
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => Some(Challenge::Basic),
            "bearer" => Some(Challenge::Bearer {
                realm: params.get("realm")?.clone(),
                service: params.get("service").cloned(),
                scope: params.get("scope").cloned(),
            }),
            _ => None,
        }
    }
}

fn parse_params(text: &str) -> BTreeMap<String, String> {
    let mut params = BTreeMap::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=')).collect();
        if key.is_empty() || chars.next() != Some('=') {
            return params;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => value.extend(chars.next()),
                    c => value.push(c),
                }
            }
        } else {
            value.extend(std::iter::from_fn(|| chars.next_if(|c| *c != ',')));
        }
        params.insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        assert_eq!(
            Challenge::parse(r#"Basic realm="registry""#),
            Some(Challenge::Basic)
        );
        assert_eq!(
            Challenge::parse(
                r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into()),
                scope: Some("repository:a/b:pull,push".into()),
            })
        );
        assert_eq!(
            Challenge::parse(r#"Bearer realm=http://127.0.0.1:1/t, service="a \"q\"""#),
            Some(Challenge::Bearer {
                realm: "http://127.0.0.1:1/t".into(),
                service: Some("a \"q\"".into()),
                scope: None,
            })
        );
        assert_eq!(Challenge::parse("Bearer service=x"), None);
        assert_eq!(Challenge::parse("Negotiate"), None);
    }

    #[test]
    fn docker_config_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        fs_err::write(
            &path,
            format!(
                r#"{{"auths": {{
                  "127.0.0.1:5000": {{"auth": "{}"}},
                  "https://index.docker.io/v1/": {{"username": "hub", "password": "pw"}},
                  "bad.example": {{"auth": "bm9jb2xvbg=="}}
                }}, "credsStore": "desktop"}}"#,
                STANDARD.encode("kiln:s3cr:et")
            ),
        )
        .unwrap();
        let c = from_docker_config(&path, "127.0.0.1:5000")
            .unwrap()
            .unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("kiln", "s3cr:et")
        );
        let c = from_docker_config(&path, "docker.io").unwrap().unwrap();
        assert_eq!(c.username, "hub");
        assert!(from_docker_config(&path, "ghcr.io").unwrap().is_none());
        let err = from_docker_config(&path, "bad.example")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not base64 of `user:password`"), "{err}");
        assert!(!format!("{c:?}").contains("pw"));
        assert!(
            from_docker_config(&dir.path().join("none.json"), "x")
                .unwrap()
                .is_none()
        );
        fs_err::write(&path, "{").unwrap();
        let err = from_docker_config(&path, "x").unwrap_err().to_string();
        assert!(
            err.contains("is not a docker client configuration"),
            "{err}"
        );
    }
}
