//! Where a store keeps its files on disk.
//!
//! A store has a *logical* directory (`/nix/store` by default), which is
//! what store paths are computed against and what builds see, and a
//! *physical* root, where the bytes actually live:
//!
//! ```text
//! <root>/store/<hash>-<name>   the store objects
//! <root>/store/<hash>-<name>.check
//!                              a checked build that differed from the
//!                              object, kept for inspection (not valid;
//!                              `kiln gc` removes it)
//! <root>/db/db-v1.sqlite       the database (its version is in its name)
//! <root>/tmp/                  build and download scratch; on the same file
//!                              system as store/, so a rename is atomic
//! <root>/locks/                per-path lock files
//! <root>/logs/                 build logs
//! <root>/gcroots/              garbage-collector roots (symlinks)
//! ```
//!
//! The root is `$KILN_STORE`, else `$XDG_DATA_HOME/kiln`, else
//! `~/.local/share/kiln`. This module only computes paths and creates the
//! directories; it does not open the database or take locks.

use std::path::{Path, PathBuf};

use crate::store_path::StorePath;

/// The environment variable naming the physical store root.
pub const ENV_STORE_ROOT: &str = "KILN_STORE";

/// The environment variable naming the logical store directory.
pub const ENV_STORE_DIR: &str = "KILN_STORE_DIR";

/// The file name of the database this version of kiln reads and writes.
pub const DB_FILE: &str = "db-v1.sqlite";

/// What the name of a differing build kept by a check ends with
/// (`<hash>-<name>.check`, as Nix names it).
pub const CHECK_SUFFIX: &str = ".check";

/// Why no default store root could be found.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    /// Neither `KILN_STORE`, `XDG_DATA_HOME` nor `HOME` is set.
    #[error("cannot find a place for the store: set `KILN_STORE`, `XDG_DATA_HOME` or `HOME`")]
    NoHome,
    /// A directory of the layout could not be created.
    #[error("cannot create the store directory `{path}`")]
    Create {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The physical paths of one store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// Returns the layout rooted at `root` (nothing is created).
    pub fn new(root: impl Into<PathBuf>) -> Layout {
        Layout { root: root.into() }
    }

    /// Returns the default root: `$KILN_STORE`, `$XDG_DATA_HOME/kiln` or
    /// `~/.local/share/kiln` (empty variables count as unset).
    pub fn default_root() -> Result<PathBuf, LayoutError> {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        if let Some(root) = var(ENV_STORE_ROOT) {
            return Ok(root);
        }
        if let Some(data) = var("XDG_DATA_HOME") {
            return Ok(data.join("kiln"));
        }
        var("HOME")
            .map(|home| home.join(".local/share/kiln"))
            .ok_or(LayoutError::NoHome)
    }

    /// Creates every directory of the layout that is missing.
    pub fn create(&self) -> Result<(), LayoutError> {
        for dir in [
            self.root.clone(),
            self.objects(),
            self.db_dir(),
            self.tmp(),
            self.locks(),
            self.logs(),
            self.gcroots(),
            self.history(),
        ] {
            fs_err::create_dir_all(&dir).map_err(|source| LayoutError::Create {
                path: dir.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Returns the root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Returns the directory holding the store objects.
    pub fn objects(&self) -> PathBuf {
        self.root.join("store")
    }

    /// Returns the physical path of a store object.
    pub fn object(&self, path: &StorePath) -> PathBuf {
        self.objects().join(path.base_name())
    }

    /// Returns where a check keeps a build of `path` that differed from
    /// it: `store/<hash>-<name>.check`.
    pub fn check_object(&self, path: &StorePath) -> PathBuf {
        self.objects()
            .join(format!("{}{CHECK_SUFFIX}", path.base_name()))
    }

    /// Returns the directory holding the database.
    pub fn db_dir(&self) -> PathBuf {
        self.root.join("db")
    }

    /// Returns the database file of the current version.
    pub fn db_file(&self) -> PathBuf {
        self.db_dir().join(DB_FILE)
    }

    /// Returns the scratch directory (same file system as the objects).
    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Returns the directory of lock files.
    pub fn locks(&self) -> PathBuf {
        self.root.join("locks")
    }

    /// Returns the lock file of one store path (named by its hash part).
    pub fn path_lock(&self, path: &StorePath) -> PathBuf {
        self.locks().join(format!("{}.lock", path.hash_part()))
    }

    /// Returns the lock file that the garbage collector takes exclusively
    /// and every open store shares.
    pub fn gc_lock(&self) -> PathBuf {
        self.locks().join("gc.lock")
    }

    /// Returns the directory of build logs.
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// Returns the directory of garbage-collector roots.
    pub fn gcroots(&self) -> PathBuf {
        self.root.join("gcroots")
    }

    /// Returns the directory of the build history (one file per derivation
    /// name: the last derivations of that name built here).
    pub fn history(&self) -> PathBuf {
        self.root.join("history")
    }

    /// Returns the directory of early-cutoff records (one file per cutoff
    /// key: the derivation built with that key and its outputs).
    pub fn cutoff_keys(&self) -> PathBuf {
        self.root.join("cutoff").join("keys")
    }

    /// Returns the directory of cached content ids of outputs that refer
    /// to themselves.
    pub fn cutoff_content(&self) -> PathBuf {
        self.root.join("cutoff").join("content")
    }
}

/// Returns the base name of the store object that an entry of `store/`
/// named `name` was kept beside by a check: `<base>.check` itself, or
/// `<base>.check.<anything>` (a report about it). `None` for other names.
pub fn check_artefact_base(name: &str) -> Option<&str> {
    let at = name.rfind(CHECK_SUFFIX)?;
    let rest = name.get(at + CHECK_SUFFIX.len()..)?;
    if at == 0 || !(rest.is_empty() || rest.starts_with('.')) {
        return None;
    }
    name.get(..at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_under_the_root() {
        let layout = Layout::new("/r");
        let path = StorePath::from_base_name("7rjj86a15146cq1d3qy068lml7n8ykzm-hello").unwrap();
        assert_eq!(
            layout.object(&path),
            Path::new("/r/store/7rjj86a15146cq1d3qy068lml7n8ykzm-hello")
        );
        assert_eq!(
            layout.path_lock(&path),
            Path::new("/r/locks/7rjj86a15146cq1d3qy068lml7n8ykzm.lock")
        );
        assert_eq!(layout.db_file(), Path::new("/r/db/db-v1.sqlite"));
        assert_eq!(
            layout.check_object(&path),
            Path::new("/r/store/7rjj86a15146cq1d3qy068lml7n8ykzm-hello.check")
        );
    }

    #[test]
    fn check_artefacts_are_recognised_by_name() {
        let base = "7rjj86a15146cq1d3qy068lml7n8ykzm-hello";
        for name in [
            format!("{base}.check"),
            format!("{base}.check.diffoscope.txt"),
            format!("{base}.check.diffoscope.html"),
        ] {
            assert_eq!(check_artefact_base(&name), Some(base), "{name}");
        }
        for name in [base, "x-hello.checkout", ".check", "x-hello.check-2"] {
            assert_eq!(check_artefact_base(name), None, "{name}");
        }
    }

    #[test]
    fn create_makes_every_directory() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path().join("root"));
        layout.create().unwrap();
        for sub in ["store", "db", "tmp", "locks", "logs", "gcroots"] {
            assert!(dir.path().join("root").join(sub).is_dir(), "{sub}");
        }
    }
}
