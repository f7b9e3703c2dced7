//! The lock file: every `.deb` of a root set's closure, pinned by URL,
//! size and SHA-256, with the index files it was read from.
//!
//! The lock is JSON so that recipes can load it with
//! `builtins.fromJSON (builtins.readFile ./sid.lock.json)`. Keys come in a
//! fixed order and packages are sorted by name, so that a regenerated
//! lock diffs line by line. Its shape (see `docs/recipes.md`):
//!
//! ```json
//! {
//!   "lockVersion": 1,
//!   "suite": "sid",
//!   "architecture": "amd64",
//!   "mirror": "http://deb.debian.org/debian",
//!   "snapshot": "20261030T080801Z",
//!   "date": "Fri, 30 Oct 2026 08:08:01 UTC",
//!   "inRelease": { "url": "…/dists/sid/InRelease", "sha256": "…", "size": 192842 },
//!   "packagesIndex": { "url": "…/main/binary-amd64/Packages.xz", "sha256": "…", "size": 10824484 },
//!   "signedBy": ["4CB50190207B4758A3F73A796ED0E7B82643E131", "B8E5F13176D2A7A75220028078DBA3BC47EF2265"],
//!   "roots": ["cargo", "rustc"],
//!   "essential": false,
//!   "packages": [
//!     { "name": "rustc", "version": "1.97.1+dfsg1-1", "architecture": "amd64",
//!       "filename": "pool/main/r/rustc/rustc_1.97.1+dfsg1-1_amd64.deb",
//!       "urls": ["http://deb.debian.org/debian/pool/…", "https://snapshot.debian.org/archive/debian/20261030T080801Z/pool/…"],
//!       "sha256": "…", "size": 4494600 }
//!   ]
//! }
//! ```

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::packages::Package;

/// The version of the lock format this crate writes.
pub const LOCK_VERSION: u32 = 1;

/// Where snapshot.debian.org keeps the Debian archive by timestamp.
pub const SNAPSHOT_BASE: &str = "https://snapshot.debian.org/archive/debian";

/// Why a lock could not be read.
#[derive(Debug, Error)]
pub enum LockError {
    /// The text is not a lock.
    #[error("not a Debian lock file")]
    Json(#[source] serde_json::Error),
    /// The lock was written by a newer kiln.
    #[error("lock format version {found} is not the one this kiln reads ({LOCK_VERSION})")]
    Version {
        /// The lock's `lockVersion`.
        found: u32,
    },
}

/// An index file the lock was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedFile {
    /// Where it was read from.
    pub url: String,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
}

/// One pinned `.deb`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedPackage {
    /// The package name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its architecture (`amd64` or `all`).
    pub architecture: String,
    /// Its path below the archive's root (`pool/main/…`).
    pub filename: String,
    /// Mirrors, in the order to try them: the pool URL, then snapshot.debian.org.
    pub urls: Vec<String>,
    /// The `.deb`'s SHA-256, lowercase hex.
    pub sha256: String,
    /// The `.deb`'s size in bytes.
    pub size: u64,
}

/// A Debian lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lock {
    /// The lock format's version ([`LOCK_VERSION`]).
    pub lock_version: u32,
    /// The suite as asked for (`sid`).
    pub suite: String,
    /// The architecture.
    pub architecture: String,
    /// The mirror's root URL, without a trailing `/`.
    pub mirror: String,
    /// The `Date` of the `InRelease` as a snapshot.debian.org timestamp.
    pub snapshot: String,
    /// The `Date` of the `InRelease`, as written.
    pub date: String,
    /// The `InRelease` read (trust on first use: its hash is recorded).
    pub in_release: LockedFile,
    /// The `Packages` index read, as listed in the `InRelease`.
    pub packages_index: LockedFile,
    /// The fingerprints of the keys whose signatures on the `InRelease`
    /// were checked and good; empty when the check was skipped.
    #[serde(default)]
    pub signed_by: Vec<String>,
    /// The root set, sorted.
    pub roots: Vec<String>,
    /// Whether every `Essential: yes` package was a root too.
    pub essential: bool,
    /// The closure, sorted by name.
    pub packages: Vec<LockedPackage>,
}

impl Lock {
    /// Reads a lock from its JSON text.
    pub fn from_json(text: &str) -> Result<Lock, LockError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Head {
            lock_version: u32,
        }
        let head: Head = serde_json::from_str(text).map_err(LockError::Json)?;
        if head.lock_version != LOCK_VERSION {
            return Err(LockError::Version {
                found: head.lock_version,
            });
        }
        serde_json::from_str(text).map_err(LockError::Json)
    }

    /// Returns the lock as pretty-printed JSON, ending with a newline.
    pub fn to_json(&self) -> String {
        // Serialising plain strings and numbers cannot fail.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Returns the sum of the `.deb` sizes.
    pub fn total_size(&self) -> u64 {
        self.packages.iter().map(|p| p.size).sum()
    }
}

/// Pins `package` from `mirror` (no trailing `/`) with a snapshot.debian.org
/// URL at timestamp `snapshot` as the second mirror.
pub fn lock_package(package: &Package, mirror: &str, snapshot: &str) -> LockedPackage {
    LockedPackage {
        name: package.name.clone(),
        version: package.version.to_string(),
        architecture: package.architecture.clone(),
        filename: package.filename.clone(),
        urls: vec![
            format!("{mirror}/{}", package.filename),
            format!("{SNAPSHOT_BASE}/{snapshot}/{}", package.filename),
        ],
        sha256: package.sha256.clone(),
        size: package.size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packages::parse_packages;

    fn sample() -> Lock {
        let packages = parse_packages(
            "Package: dash\nVersion: 0.5.12-12\nArchitecture: amd64\n\
             Filename: pool/main/d/dash/dash_0.5.12-12_amd64.deb\nSize: 100\nSHA256: ab{}\n"
                .replace("{}", &"0".repeat(62))
                .as_str(),
        )
        .unwrap();
        let file = |url: &str| LockedFile {
            url: url.to_owned(),
            sha256: "00".repeat(32),
            size: 1,
        };
        Lock {
            lock_version: LOCK_VERSION,
            suite: "sid".into(),
            architecture: "amd64".into(),
            mirror: "http://deb.debian.org/debian".into(),
            snapshot: "20261030T080801Z".into(),
            date: "Fri, 30 Oct 2026 08:08:01 UTC".into(),
            in_release: file("http://deb.debian.org/debian/dists/sid/InRelease"),
            signed_by: Vec::new(),
            packages_index: file(
                "http://deb.debian.org/debian/dists/sid/main/binary-amd64/Packages.xz",
            ),
            roots: vec!["dash".into()],
            essential: false,
            packages: vec![lock_package(
                &packages[0],
                "http://deb.debian.org/debian",
                "20261030T080801Z",
            )],
        }
    }

    #[test]
    fn urls_and_key_order() {
        let lock = sample();
        assert_eq!(
            lock.packages[0].urls,
            [
                "http://deb.debian.org/debian/pool/main/d/dash/dash_0.5.12-12_amd64.deb",
                "https://snapshot.debian.org/archive/debian/20261030T080801Z/pool/main/d/dash/dash_0.5.12-12_amd64.deb"
            ]
        );
        let json = lock.to_json();
        let keys = [
            "lockVersion",
            "suite",
            "architecture",
            "mirror",
            "snapshot",
            "date",
            "inRelease",
            "packagesIndex",
            "signedBy",
            "roots",
            "essential",
            "packages",
        ];
        let positions: Vec<usize> = keys
            .iter()
            .map(|k| json.find(&format!("\"{k}\"")).unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{json}");
        assert!(json.ends_with("}\n"));
        assert_eq!(Lock::from_json(&json).unwrap(), lock);
        assert_eq!(lock.total_size(), 100);
    }

    #[test]
    fn refuses_other_versions() {
        let json = sample()
            .to_json()
            .replace("\"lockVersion\": 1", "\"lockVersion\": 2");
        assert!(matches!(
            Lock::from_json(&json),
            Err(LockError::Version { found: 2 })
        ));
        assert!(matches!(Lock::from_json("[]"), Err(LockError::Json(_))));
    }
}
