//! Locking: asking the registries what an input's request means today —
//! which version, which file, which hash.
//!
//! - a crate: crates.io's sparse index (`index.crates.io`) lists every
//!   version with the SHA-256 of its `.crate`; the newest is the highest
//!   non-yanked release (no pre-release) by SemVer;
//! - a PyPI file: the Simple API's JSON form (PEP 691) lists a project's
//!   files with their SHA-256; the newest version comes from the JSON API;
//! - a URL: downloaded once and hashed.

use kiln_store::fetch::{FetchError, Fetcher};
use kiln_store::hash::{Hash, HashAlgo};
use serde::Deserialize;
use thiserror::Error;

use crate::lock::Locked;
use crate::manifest::Input;

/// Where crates and PyPI files are looked up (overridable for tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registries {
    /// The sparse index, e.g. `https://index.crates.io`.
    pub crates_index: String,
    /// Where `.crate` files are downloaded, e.g. `https://static.crates.io/crates`.
    pub crates_download: String,
    /// PyPI, e.g. `https://pypi.org`.
    pub pypi: String,
}

impl Registries {
    /// The defaults, each overridden by its environment variable when set:
    /// `KILN_CRATES_INDEX`, `KILN_CRATES_DOWNLOAD`, `KILN_PYPI_URL` (for a
    /// mirror, or a test's server).
    pub fn from_env() -> Registries {
        let default = Registries::default();
        let var = |name: &str, fallback: String| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or(fallback)
        };
        Registries {
            crates_index: var("KILN_CRATES_INDEX", default.crates_index),
            crates_download: var("KILN_CRATES_DOWNLOAD", default.crates_download),
            pypi: var("KILN_PYPI_URL", default.pypi),
        }
    }
}

impl Default for Registries {
    fn default() -> Registries {
        Registries {
            crates_index: "https://index.crates.io".to_owned(),
            crates_download: "https://static.crates.io/crates".to_owned(),
            pypi: "https://pypi.org".to_owned(),
        }
    }
}

/// Why an input could not be locked.
#[derive(Debug, Error)]
pub enum ResolveError {
    /// A request failed.
    #[error("cannot fetch `{url}`")]
    Fetch {
        /// The URL.
        url: String,
        /// Why.
        #[source]
        source: FetchError,
    },
    /// An answer was not what the registry's API promises.
    #[error("`{url}` answered something unexpected: {problem}")]
    BadAnswer {
        /// The URL.
        url: String,
        /// What was wrong.
        problem: String,
    },
    /// The registry has no such version or file.
    #[error("{0}")]
    NotFound(String),
}

/// Pins a fetched input.
pub fn resolve(
    fetcher: &Fetcher,
    registries: &Registries,
    input: &Input,
) -> Result<Locked, ResolveError> {
    match input {
        Input::Path { .. } => Err(ResolveError::NotFound(
            "a path input is not locked: it is hashed on import".to_owned(),
        )),
        Input::Crate { name, version } => {
            resolve_crate(fetcher, registries, input, name, version.as_deref())
        }
        Input::Pypi {
            name,
            version,
            file,
        } => resolve_pypi(
            fetcher,
            registries,
            input,
            name,
            version.as_deref(),
            file.as_deref(),
        ),
        Input::Url { url } => resolve_url(fetcher, input, url),
    }
}

/// One line of the sparse index.
#[derive(Debug, Deserialize)]
struct IndexEntry {
    vers: String,
    cksum: String,
    #[serde(default)]
    yanked: bool,
}

/// Returns the sparse index path of a crate: `1/a`, `2/ab`, `3/a/abc`,
/// `ab/cd/abcd…` (lower-cased).
pub fn index_path(name: &str) -> String {
    let name = name.to_ascii_lowercase();
    match name.len() {
        1 => format!("1/{name}"),
        2 => format!("2/{name}"),
        3 => format!("3/{}/{name}", &name[..1]),
        _ => format!("{}/{}/{name}", &name[..2], &name[2..4]),
    }
}

fn resolve_crate(
    fetcher: &Fetcher,
    registries: &Registries,
    input: &Input,
    name: &str,
    version: Option<&str>,
) -> Result<Locked, ResolveError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ResolveError::NotFound(format!(
            "`{name}` is not a crate name"
        )));
    }
    let url = format!(
        "{}/{}",
        registries.crates_index.trim_end_matches('/'),
        index_path(name)
    );
    let body = get(fetcher, &url, None).map_err(|e| match e {
        ResolveError::Fetch { source, .. } if is_not_found(&source) => {
            ResolveError::NotFound(format!("crates.io has no crate named `{name}`"))
        }
        other => other,
    })?;
    let text = String::from_utf8_lossy(&body);
    let mut entries = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let entry: IndexEntry =
            serde_json::from_str(line).map_err(|e| ResolveError::BadAnswer {
                url: url.clone(),
                problem: e.to_string(),
            })?;
        entries.push(entry);
    }
    let chosen = match version {
        Some(wanted) => entries.iter().find(|e| e.vers == wanted).ok_or_else(|| {
            ResolveError::NotFound(format!("crates.io has no version {wanted} of `{name}`"))
        })?,
        None => entries
            .iter()
            .filter(|e| !e.yanked)
            .filter_map(|e| semver::Version::parse(&e.vers).ok().map(|v| (v, e)))
            .filter(|(v, _)| v.pre.is_empty())
            .max_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, e)| e)
            .ok_or_else(|| {
                ResolveError::NotFound(format!("`{name}` has no release on crates.io"))
            })?,
    };
    let hash = Hash::parse(&chosen.cksum, Some(HashAlgo::Sha256)).map_err(|e| {
        ResolveError::BadAnswer {
            url: url.clone(),
            problem: format!("checksum of {}: {e}", chosen.vers),
        }
    })?;
    let file = format!("{name}-{}.crate", chosen.vers);
    Ok(Locked {
        request: input.request(),
        version: Some(chosen.vers.clone()),
        url: format!(
            "{}/{name}/{file}",
            registries.crates_download.trim_end_matches('/')
        ),
        file,
        hash: hash.to_sri(),
    })
}

/// The Simple API's JSON page of a project (PEP 691).
#[derive(Debug, Deserialize)]
struct SimplePage {
    files: Vec<SimpleFile>,
}

#[derive(Debug, Deserialize)]
struct SimpleFile {
    filename: String,
    url: String,
    hashes: std::collections::BTreeMap<String, String>,
}

/// The JSON API's project page, for the newest version.
#[derive(Debug, Deserialize)]
struct ProjectPage {
    info: ProjectInfo,
}

#[derive(Debug, Deserialize)]
struct ProjectInfo {
    version: String,
}

/// PEP 503 normalisation: lower case, runs of `-_.` as one `-`.
pub fn normalise_pypi_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

fn resolve_pypi(
    fetcher: &Fetcher,
    registries: &Registries,
    input: &Input,
    name: &str,
    version: Option<&str>,
    file: Option<&str>,
) -> Result<Locked, ResolveError> {
    let project = normalise_pypi_name(name);
    let base = registries.pypi.trim_end_matches('/');
    let not_found = |source: &FetchError| is_not_found(source);
    let version = match version {
        Some(v) => v.to_owned(),
        None => {
            let url = format!("{base}/pypi/{project}/json");
            let page: ProjectPage = get_json(fetcher, &url, None, &not_found, || {
                format!("PyPI has no project named `{name}`")
            })?;
            page.info.version
        }
    };
    let url = format!("{base}/simple/{project}/");
    let page: SimplePage = get_json(
        fetcher,
        &url,
        Some("application/vnd.pypi.simple.v1+json"),
        &not_found,
        || format!("PyPI has no project named `{name}`"),
    )?;
    let underscored = project.replace('-', "_");
    let is_sdist_of = |f: &str| {
        [project.as_str(), underscored.as_str()].iter().any(|stem| {
            [".tar.gz", ".zip"]
                .iter()
                .any(|ext| f.eq_ignore_ascii_case(&format!("{stem}-{version}{ext}")))
        })
    };
    let chosen = match file {
        Some(wanted) => page.files.iter().find(|f| f.filename == wanted),
        None => page.files.iter().find(|f| is_sdist_of(&f.filename)),
    };
    let Some(chosen) = chosen else {
        let what = file.map_or_else(
            || format!("an sdist of version {version}"),
            |f| format!("a file `{f}`"),
        );
        return Err(ResolveError::NotFound(format!(
            "PyPI's `{name}` has no {what}"
        )));
    };
    let digest = chosen
        .hashes
        .get("sha256")
        .ok_or_else(|| ResolveError::BadAnswer {
            url: url.clone(),
            problem: format!("no sha256 for {}", chosen.filename),
        })?;
    let hash =
        Hash::parse(digest, Some(HashAlgo::Sha256)).map_err(|e| ResolveError::BadAnswer {
            url: url.clone(),
            problem: format!("sha256 of {}: {e}", chosen.filename),
        })?;
    Ok(Locked {
        request: input.request(),
        version: Some(version),
        url: chosen.url.clone(),
        file: chosen.filename.clone(),
        hash: hash.to_sri(),
    })
}

fn resolve_url(fetcher: &Fetcher, input: &Input, url: &str) -> Result<Locked, ResolveError> {
    let (hash, _) =
        fetcher
            .hash_url(url, HashAlgo::Sha256)
            .map_err(|source| ResolveError::Fetch {
                url: url.to_owned(),
                source,
            })?;
    Ok(Locked {
        request: input.request(),
        version: None,
        url: url.to_owned(),
        file: file_name(url),
        hash: hash.to_sri(),
    })
}

/// The last path segment of a URL, without query or fragment.
pub fn file_name(url: &str) -> String {
    let without_query = url.split(['?', '#']).next().unwrap_or(url);
    let after_scheme = without_query
        .split_once("://")
        .map_or(without_query, |(_, rest)| rest);
    let path = after_scheme.split_once('/').map_or("", |(_, path)| path);
    let name = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    if name.is_empty() || name.contains(':') {
        "download".to_owned()
    } else {
        name.to_owned()
    }
}

fn is_not_found(error: &FetchError) -> bool {
    matches!(error, FetchError::AllFailed { failures }
        if failures.iter().all(|f| matches!(f.failure, kiln_store::fetch::Failure::NotFound { .. })))
}

fn get(fetcher: &Fetcher, url: &str, accept: Option<&str>) -> Result<Vec<u8>, ResolveError> {
    fetcher
        .get(url, accept)
        .map_err(|source| ResolveError::Fetch {
            url: url.to_owned(),
            source,
        })
}

fn get_json<T: serde::de::DeserializeOwned>(
    fetcher: &Fetcher,
    url: &str,
    accept: Option<&str>,
    not_found: &dyn Fn(&FetchError) -> bool,
    missing: impl FnOnce() -> String,
) -> Result<T, ResolveError> {
    let body = match fetcher.get(url, accept) {
        Ok(body) => body,
        Err(source) if not_found(&source) => return Err(ResolveError::NotFound(missing())),
        Err(source) => {
            return Err(ResolveError::Fetch {
                url: url.to_owned(),
                source,
            });
        }
    };
    serde_json::from_slice(&body).map_err(|e| ResolveError::BadAnswer {
        url: url.to_owned(),
        problem: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_paths_follow_the_sparse_layout() {
        assert_eq!(index_path("a"), "1/a");
        assert_eq!(index_path("ab"), "2/ab");
        assert_eq!(index_path("abc"), "3/a/abc");
        assert_eq!(index_path("RipGrep"), "ri/pg/ripgrep");
    }

    #[test]
    fn pypi_names_are_normalised() {
        assert_eq!(normalise_pypi_name("Foo_Bar.baz--x"), "foo-bar-baz-x");
    }

    #[test]
    fn file_names_come_from_the_url_path() {
        assert_eq!(
            file_name("https://x.org/a/b-1.0.tar.gz?x=1#f"),
            "b-1.0.tar.gz"
        );
        assert_eq!(file_name("https://x.org/"), "download");
    }
}
