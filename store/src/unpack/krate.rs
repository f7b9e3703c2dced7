//! Rust crates as crates.io serves them (`<name>-<version>.crate`): a
//! gzip-compressed tar archive whose entries all sit under one
//! `<name>-<version>/` directory, which is stripped by default so that the
//! output is the crate's root (`Cargo.toml`, `src/`, …).
//!
//! Since stripping would silently merge entries from different top
//! directories, a crate whose entries do not share one is refused.

use std::io::BufRead;
use std::path::Path;

use super::tar;
use super::tree::{Tree, lossy};
use super::{Format, Skipped, UnpackError};

/// Unpacks the crate `input` into `tree`, dropping `strip` leading
/// components (normally 1). `archive` names it in errors.
pub(super) fn unpack(
    input: impl BufRead,
    archive: &Path,
    strip: usize,
    tree: &mut Tree,
) -> Result<Vec<Skipped>, UnpackError> {
    let decoded = tar::decoder(Format::Crate, input).map_err(|source| UnpackError::Read {
        archive: archive.to_owned(),
        format: Format::Crate,
        source,
    })?;
    let mut top = OneTop { top: None, archive };
    tar::unpack_with(decoded, Format::Crate, archive, strip, tree, &mut |name| {
        top.check(name)
    })
}

/// Checks that every entry shares the first one's top directory.
struct OneTop<'a> {
    top: Option<Vec<u8>>,
    archive: &'a Path,
}

impl OneTop<'_> {
    /// Fails if the entry `name` is under another top directory.
    fn check(&mut self, name: &[u8]) -> Result<(), UnpackError> {
        let trimmed = name.strip_prefix(b"./").unwrap_or(name);
        let first = trimmed.split(|&b| b == b'/').next().unwrap_or_default();
        match &self.top {
            None => {
                self.top = Some(first.to_owned());
                Ok(())
            }
            Some(top) if top.as_slice() == first => Ok(()),
            Some(top) => Err(UnpackError::CrateLayout {
                archive: self.archive.to_owned(),
                entry: lossy(name),
                top: lossy(top),
            }),
        }
    }
}
