//! `flake.lock`: what each fetched input was pinned to — URL, file name
//! and hash — written by `kiln lock`, read by every build.
//!
//! JSON, sorted, one input per key:
//!
//! ```json
//! { "version": 1,
//!   "inputs": {
//!     "rg": { "request": "crate ripgrep newest", "version": "15.2.0",
//!             "url": "https://static.crates.io/crates/ripgrep/ripgrep-15.2.0.crate",
//!             "file": "ripgrep-15.2.0.crate", "hash": "sha256-…" } } }
//! ```
//!
//! `request` is what flake.toml asked for when the entry was locked; an
//! entry whose request no longer matches is stale and must be locked again.

use std::collections::BTreeMap;
use std::path::Path;

use kiln_store::hash::{Hash, HashAlgo};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::manifest::Manifest;

/// The file name of the lock.
pub const LOCK: &str = "flake.lock";

/// The format version this kiln writes and reads.
pub const VERSION: u32 = 1;

/// Why a lock was refused.
#[derive(Debug, Error)]
pub enum LockError {
    /// The file could not be read or written.
    #[error("cannot {action} `{path}`")]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a flake.lock.
    #[error("`{path}` is not a valid flake.lock: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Inputs are missing from the lock or locked for another request.
    #[error("flake.lock is out of date:\n{}\nrun `kiln lock` to pin them", .problems.join("\n"))]
    Stale {
        /// One line per input.
        problems: Vec<String>,
    },
}

/// The lock file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockFile {
    /// The format version.
    pub version: u32,
    /// Each fetched input's pin.
    pub inputs: BTreeMap<String, Locked>,
}

/// One fetched input, pinned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Locked {
    /// What flake.toml asked for ([`crate::manifest::Input::request`]).
    pub request: String,
    /// The version chosen, for crates and PyPI files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Where the file is.
    pub url: String,
    /// Its file name (which says its archive format).
    pub file: String,
    /// The SHA-256 of its bytes, in SRI form.
    pub hash: String,
}

impl Locked {
    /// Returns the pinned hash.
    pub fn sha256(&self) -> Result<Hash, String> {
        let hash = Hash::parse(&self.hash, Some(HashAlgo::Sha256)).map_err(|e| e.to_string())?;
        if hash.algo() == HashAlgo::Sha256 {
            Ok(hash)
        } else {
            Err(format!("`{}` is not a SHA-256 hash", self.hash))
        }
    }
}

/// Reads `dir/flake.lock`; a missing file is an empty lock.
pub fn read(dir: &Path) -> Result<LockFile, LockError> {
    let path = dir.join(LOCK);
    let shown = path.display().to_string();
    let text = match fs_err::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(LockFile {
                version: VERSION,
                inputs: BTreeMap::new(),
            });
        }
        Err(source) => {
            return Err(LockError::Io {
                action: "read",
                path: shown,
                source,
            });
        }
    };
    parse(&text, &shown)
}

/// Parses a lock's text; `path` names it in errors.
pub fn parse(text: &str, path: &str) -> Result<LockFile, LockError> {
    let parse_error = |message: String| LockError::Parse {
        path: path.to_owned(),
        message,
    };
    let lock: LockFile = serde_json::from_str(text).map_err(|e| parse_error(e.to_string()))?;
    if lock.version != VERSION {
        return Err(parse_error(format!(
            "version {} (this kiln reads version {VERSION})",
            lock.version
        )));
    }
    for (name, locked) in &lock.inputs {
        locked
            .sha256()
            .map_err(|e| parse_error(format!("input `{name}`: {e}")))?;
    }
    Ok(lock)
}

/// Writes the lock to `dir/flake.lock` (atomically: a temporary file
/// renamed over it).
pub fn write(dir: &Path, lock: &LockFile) -> Result<(), LockError> {
    let path = dir.join(LOCK);
    let io = |source| LockError::Io {
        action: "write",
        path: path.display().to_string(),
        source,
    };
    let mut text = serde_json::to_string_pretty(lock).map_err(|e| io(std::io::Error::other(e)))?;
    text.push('\n');
    let temp = dir.join(format!(".{LOCK}.tmp"));
    fs_err::write(&temp, text).map_err(io)?;
    fs_err::rename(&temp, &path).map_err(io)
}

/// Checks that every fetched input of `manifest` is locked for its
/// current request; returns every problem at once.
pub fn check(manifest: &Manifest, lock: &LockFile) -> Result<(), LockError> {
    let mut problems = Vec::new();
    for (name, input) in &manifest.inputs {
        if !input.is_fetched() {
            continue;
        }
        match lock.inputs.get(name) {
            None => problems.push(format!(
                "  input `{name}` ({}) is not locked",
                input.request()
            )),
            Some(locked) if locked.request != input.request() => problems.push(format!(
                "  input `{name}` was locked for `{}`, flake.toml now asks for `{}`",
                locked.request,
                input.request()
            )),
            Some(_) => {}
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(LockError::Stale { problems })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{
  "version": 1,
  "inputs": {
    "rg": {
      "request": "crate ripgrep newest",
      "version": "15.2.0",
      "url": "https://static.crates.io/crates/ripgrep/ripgrep-15.2.0.crate",
      "file": "ripgrep-15.2.0.crate",
      "hash": "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    }
  }
}
"#;

    #[test]
    fn round_trips() {
        let lock = match parse(GOOD, "flake.lock") {
            Ok(lock) => lock,
            Err(e) => panic!("{e}"),
        };
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), &lock).expect("write");
        let text = fs_err::read_to_string(dir.path().join(LOCK)).expect("read");
        assert_eq!(text, GOOD);
    }

    #[test]
    fn bad_locks_are_refused() {
        let bad_hash = GOOD.replace("sha256-47DEQ", "sha256-!!");
        let e = parse(&bad_hash, "flake.lock").expect_err("bad hash");
        assert!(e.to_string().contains("input `rg`"), "{e}");
        let e = parse(&GOOD.replace("\"version\": 1", "\"version\": 9"), "x").expect_err("version");
        assert!(e.to_string().contains("version 9"), "{e}");
        let e = parse("{", "x").expect_err("syntax");
        assert!(e.to_string().contains("not a valid flake.lock"), "{e}");
    }

    #[test]
    fn stale_entries_are_all_listed() {
        let manifest = crate::manifest::parse(
            "[inputs.rg]\ncrate = \"ripgrep\"\nversion = \"14.0.0\"\n[inputs.uv]\npypi = \"uv\"\n",
            "flake.toml",
        )
        .expect("manifest");
        let lock = parse(GOOD, "flake.lock").expect("lock");
        let e = check(&manifest, &lock).expect_err("stale").to_string();
        assert!(
            e.contains("`rg` was locked for `crate ripgrep newest`"),
            "{e}"
        );
        assert!(
            e.contains("`uv` (pypi uv newest sdist) is not locked"),
            "{e}"
        );
    }
}
