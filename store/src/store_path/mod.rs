//! Store paths: `/nix/store/<hash>-<name>`.
//!
//! A [`StorePath`] is the base name of a store object: a 20-byte hash part
//! (32 nixbase32 characters) and a name. A [`StoreDir`] is the directory the
//! paths live in (`/nix/store` by default), which takes part in computing
//! every path. `compute` holds Nix's recipes for making paths from content:
//! sources, text files, fixed outputs and derivation outputs.
//!
//! What this module does not do: touch the file system. Whether a path is
//! valid in some store is the store database's business.

mod compute;

use std::fmt;

use thiserror::Error;

use crate::hash::nixbase32;

pub use compute::{ContentAddress, FileIngestionMethod};

/// The length of a store path's hash part in nixbase32 characters.
pub const HASH_PART_LEN: usize = 32;

/// The length of a store path's hash part in bytes.
pub const HASH_BYTES: usize = 20;

/// The longest name Nix allows in a store path.
pub const MAX_NAME_LEN: usize = 211;

/// A text that is not a valid store path or store path name.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// The path is not inside the store directory.
    #[error("path `{path}` is not in the Nix store `{store_dir}`")]
    NotInStore {
        /// The path.
        path: String,
        /// The store directory.
        store_dir: String,
    },
    /// The base name is too short to hold a hash part, a dash and a name.
    #[error("store path `{0}` is too short to be a store path")]
    TooShort(String),
    /// The hash part has characters outside nixbase32.
    #[error("store path `{0}` has an invalid hash part")]
    BadHashPart(String),
    /// There is no `-` after the hash part.
    #[error("store path `{0}` has no `-` after its hash part")]
    MissingDash(String),
    /// The name is empty.
    #[error("store path name is empty")]
    EmptyName,
    /// The name is longer than [`MAX_NAME_LEN`].
    #[error("store path name `{0}` is longer than 211 characters")]
    NameTooLong(String),
    /// The name has a character Nix does not allow.
    #[error("store path name `{name}` contains the illegal character `{character}`")]
    BadNameCharacter {
        /// The name.
        name: String,
        /// The character.
        character: char,
    },
}

/// Checks a store path name with Nix's rules: 1–211 characters from
/// `A-Za-z0-9+-._?=`.
pub fn validate_name(name: &str) -> Result<(), ParseError> {
    if name.is_empty() {
        return Err(ParseError::EmptyName);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(ParseError::NameTooLong(name.to_owned()));
    }
    if !name.bytes().all(is_name_byte) {
        // A byte outside the table is either a disallowed ASCII character
        // or part of a multi-byte one: report the character.
        let character = name
            .chars()
            .find(|c| !c.is_ascii() || !is_name_byte(*c as u8))
            .unwrap_or('\u{fffd}');
        return Err(ParseError::BadNameCharacter {
            name: name.to_owned(),
            character,
        });
    }
    Ok(())
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.' | b'_' | b'?' | b'=')
}

/// The base name of a store object: a hash part and a name.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StorePath {
    /// `<hash>-<name>`, in one allocation: the hash part is the first
    /// [`HASH_PART_LEN`] bytes (nixbase32 text, which store paths sort and
    /// print by), then a dash, then the name. Sorting this text sorts by
    /// hash part, then name, since every hash part has the same length.
    base: Box<str>,
}

impl StorePath {
    /// Makes a store path from a 20-byte digest and a name.
    pub fn from_digest(digest: &[u8; HASH_BYTES], name: &str) -> Result<StorePath, ParseError> {
        validate_name(name)?;
        let mut base = String::with_capacity(HASH_PART_LEN + 1 + name.len());
        nixbase32::encode_into(digest, &mut base);
        base.push('-');
        base.push_str(name);
        Ok(StorePath { base: base.into() })
    }

    /// Parses a base name `<hash>-<name>`.
    pub fn from_base_name(base: &str) -> Result<StorePath, ParseError> {
        let (hash_part, rest) = base
            .split_at_checked(HASH_PART_LEN)
            .ok_or_else(|| ParseError::TooShort(base.to_owned()))?;
        if !nixbase32::is_valid(hash_part) {
            return Err(ParseError::BadHashPart(base.to_owned()));
        }
        let name = rest
            .strip_prefix('-')
            .ok_or_else(|| ParseError::MissingDash(base.to_owned()))?;
        validate_name(name)?;
        Ok(StorePath { base: base.into() })
    }

    /// Returns the base name, `<hash>-<name>`.
    pub fn as_str(&self) -> &str {
        &self.base
    }

    /// Returns the 32-character hash part.
    pub fn hash_part(&self) -> &str {
        self.base.get(..HASH_PART_LEN).unwrap_or_default()
    }

    /// Returns the name (after the dash).
    pub fn name(&self) -> &str {
        self.base.get(HASH_PART_LEN + 1..).unwrap_or_default()
    }

    /// Returns `<hash>-<name>`, owned (see [`StorePath::as_str`]).
    pub fn base_name(&self) -> String {
        self.as_str().to_owned()
    }

    /// Whether this is a derivation (its name ends in `.drv`).
    pub fn is_derivation(&self) -> bool {
        self.base.ends_with(".drv")
    }
}

impl fmt::Debug for StorePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StorePath({})", self.base)
    }
}

impl fmt::Display for StorePath {
    /// Displays the base name; use [`StoreDir::display`] for the full path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base)
    }
}

/// The directory a store's paths live in, `/nix/store` by default.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StoreDir(String);

impl Default for StoreDir {
    fn default() -> Self {
        StoreDir("/nix/store".to_owned())
    }
}

impl StoreDir {
    /// Makes a store directory from an absolute path (a trailing `/` is dropped).
    pub fn new(dir: impl Into<String>) -> StoreDir {
        let mut dir = dir.into();
        while dir.len() > 1 && dir.ends_with('/') {
            dir.pop();
        }
        StoreDir(dir)
    }

    /// Returns the directory as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Returns the full path of a store path.
    pub fn display(&self, path: &StorePath) -> String {
        let mut out = String::new();
        self.push_display(&mut out, path);
        out
    }

    /// Appends the full path of `path` in this store to `out`.
    pub fn push_display(&self, out: &mut String, path: &StorePath) {
        out.reserve(self.0.len() + 1 + path.base.len());
        for part in [&*self.0, "/", &path.base] {
            out.push_str(part);
        }
    }

    /// Parses a full store path `<store dir>/<hash>-<name>` (nothing after it).
    pub fn parse(&self, path: &str) -> Result<StorePath, ParseError> {
        let not_in_store = || ParseError::NotInStore {
            path: path.to_owned(),
            store_dir: self.0.clone(),
        };
        let base = path
            .strip_prefix(self.0.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(not_in_store)?;
        if base.contains('/') {
            return Err(not_in_store());
        }
        StorePath::from_base_name(base)
    }

    /// Parses a path inside the store, returning the store path it belongs to
    /// and the rest (`/nix/store/<hash>-foo/bin/x` → (`…-foo`, `/bin/x`)).
    pub fn parse_prefix<'a>(&self, path: &'a str) -> Result<(StorePath, &'a str), ParseError> {
        let not_in_store = || ParseError::NotInStore {
            path: path.to_owned(),
            store_dir: self.0.clone(),
        };
        let inner = path
            .strip_prefix(self.0.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(not_in_store)?;
        let end = inner.find('/').unwrap_or(inner.len());
        let (base, rest) = inner.split_at(end);
        Ok((StorePath::from_base_name(base)?, rest))
    }
}

#[cfg(test)]
mod tests;
