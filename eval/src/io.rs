//! The evaluator's narrow interface to the world.
//!
//! Everything the language can observe outside itself goes through [`Io`]:
//! reading files and directories (`import`, `readFile`, `readDir`,
//! `pathExists`, `hashFile`), adding paths and texts to the store (`"${./x}"`,
//! `builtins.path`, `filterSource`, `toFile`), the environment (`getEnv`)
//! and `trace` output. The evaluator knows nothing about building; the CLI
//! plugs in an implementation that computes store paths with `kiln-store`,
//! and tests plug in [`MemoryIo`].

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use kiln_store::store_path::StorePath;

use crate::error::{Error, ErrorKind};

/// The type of a directory entry, as `readDir` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    /// A regular file.
    Regular,
    /// A directory.
    Directory,
    /// A symbolic link.
    Symlink,
    /// Anything else.
    Unknown,
}

impl FileType {
    /// Returns the name Nix uses (`"regular"`, `"directory"`, …).
    pub fn nix_name(self) -> &'static str {
        match self {
            FileType::Regular => "regular",
            FileType::Directory => "directory",
            FileType::Symlink => "symlink",
            FileType::Unknown => "unknown",
        }
    }
}

/// How a path is turned into a store object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IngestMethod {
    /// The file's bytes (a regular file only).
    Flat,
    /// The NAR serialisation of the tree.
    Recursive,
}

/// An error from the world.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IoError {
    /// The path does not exist.
    #[error("getting status of '{path}': No such file or directory")]
    NotFound {
        /// The path.
        path: String,
    },
    /// Some other failure.
    #[error("{action} '{path}': {reason}")]
    Failed {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: String,
        /// Why it failed.
        reason: String,
    },
    /// Access not allowed in pure mode.
    #[error("access to path '{path}' is forbidden in restricted mode")]
    Forbidden {
        /// The path.
        path: String,
    },
}

impl IoError {
    /// Converts into an evaluation error.
    pub fn into_error(self) -> Error {
        match self {
            IoError::NotFound { path } => Error::new(ErrorKind::Io {
                action: "getting status of",
                path,
                reason: "No such file or directory".to_owned(),
            }),
            IoError::Failed {
                action,
                path,
                reason,
            } => Error::new(ErrorKind::Io {
                action,
                path,
                reason,
            }),
            IoError::Forbidden { path } => Error::new(ErrorKind::Forbidden { path }),
        }
    }
}

/// The evaluator's view of the world.
pub trait Io {
    /// Reads a file's bytes (`import`, `readFile`, `hashFile`).
    fn read_file(&self, path: &str) -> Result<Vec<u8>, IoError>;

    /// Lists a directory: names and types (`readDir`, `filterSource`).
    fn read_dir(&self, path: &str) -> Result<Vec<(String, FileType)>, IoError>;

    /// Returns a path's type, or `None` if it does not exist (`pathExists`);
    /// symlinks are followed.
    fn path_type(&self, path: &str) -> Result<Option<FileType>, IoError>;

    /// Adds a path to the store and returns its store path. `include` is
    /// asked about every path below `path` (not `path` itself) and excluded
    /// entries are left out (`filterSource`, `builtins.path`).
    fn add_to_store(
        &self,
        path: &str,
        name: &str,
        method: IngestMethod,
        include: &dyn Fn(&str) -> bool,
    ) -> Result<String, IoError>;

    /// Adds a text file with references and returns its store path
    /// (`toFile`).
    fn add_text_to_store(
        &self,
        name: &str,
        text: &str,
        references: &BTreeSet<String>,
    ) -> Result<String, IoError>;

    /// Adds a `.drv` file at `path`, which the evaluator computed from
    /// `name`, `text` and `references` exactly as [`Io::add_text_to_store`]
    /// would (`derivationStrict`): the path is not computed a second time.
    fn add_derivation(
        &self,
        path: &StorePath,
        name: &str,
        text: String,
        references: &BTreeSet<StorePath>,
    ) -> Result<(), IoError>;

    /// Reads an environment variable (`getEnv`, `NIX_PATH`).
    fn get_env(&self, name: &str) -> Option<String>;

    /// Receives `builtins.trace` output.
    fn trace(&self, message: &str);
}

/// An in-memory [`Io`] for tests: files in a map, fake store paths.
#[derive(Default)]
pub struct MemoryIo {
    /// Files by absolute path.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Environment variables.
    pub env: BTreeMap<String, String>,
    /// Trace messages received.
    pub traces: RefCell<Vec<String>>,
}

impl Io for MemoryIo {
    fn read_file(&self, path: &str) -> Result<Vec<u8>, IoError> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| IoError::NotFound {
                path: path.to_owned(),
            })
    }

    fn read_dir(&self, path: &str) -> Result<Vec<(String, FileType)>, IoError> {
        let prefix = format!("{}/", path.trim_end_matches('/'));
        let mut out: BTreeMap<String, FileType> = BTreeMap::new();
        for key in self.files.keys() {
            if let Some(rest) = key.strip_prefix(&prefix) {
                match rest.split_once('/') {
                    Some((dir, _)) => out.insert(dir.to_owned(), FileType::Directory),
                    None => out.insert(rest.to_owned(), FileType::Regular),
                };
            }
        }
        Ok(out.into_iter().collect())
    }

    fn path_type(&self, path: &str) -> Result<Option<FileType>, IoError> {
        if self.files.contains_key(path) {
            return Ok(Some(FileType::Regular));
        }
        let prefix = format!("{}/", path.trim_end_matches('/'));
        Ok(self
            .files
            .keys()
            .any(|k| k.starts_with(&prefix))
            .then_some(FileType::Directory))
    }

    fn add_to_store(
        &self,
        _path: &str,
        name: &str,
        _m: IngestMethod,
        _i: &dyn Fn(&str) -> bool,
    ) -> Result<String, IoError> {
        Ok(format!(
            "/nix/store/00000000000000000000000000000000-{name}"
        ))
    }

    fn add_text_to_store(
        &self,
        name: &str,
        _text: &str,
        _refs: &BTreeSet<String>,
    ) -> Result<String, IoError> {
        Ok(format!(
            "/nix/store/00000000000000000000000000000000-{name}"
        ))
    }

    fn add_derivation(
        &self,
        _path: &StorePath,
        _name: &str,
        _text: String,
        _references: &BTreeSet<StorePath>,
    ) -> Result<(), IoError> {
        Ok(())
    }

    fn get_env(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }

    fn trace(&self, message: &str) {
        self.traces.borrow_mut().push(message.to_owned());
    }
}
