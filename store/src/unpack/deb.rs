//! Debian packages: an `ar` archive holding `debian-binary`,
//! `control.tar.*` and `data.tar.*`, of which only the last is unpacked,
//! as `dpkg-deb -x` does. Maintainer scripts are not run (see DESIGN.md:
//! a root filesystem needs none; what they would make is made by hand).
//!
//! The member is streamed, never held in memory: the archive is read once,
//! in order, until `data.tar*` is found.

use std::io::{BufReader, Read};
use std::path::Path;

use super::tar;
use super::tree::Tree;
use super::{Format, Skipped, UnpackError};

/// Unpacks the `data.tar.*` member of the Debian package `input` into
/// `tree`. `archive` names it in errors.
pub(super) fn unpack(
    input: impl Read,
    archive: &Path,
    strip: usize,
    tree: &mut Tree,
) -> Result<Vec<Skipped>, UnpackError> {
    let read_error = |source| UnpackError::Read {
        archive: archive.to_owned(),
        format: Format::Deb,
        source,
    };
    let mut members = ar::Archive::new(input);
    while let Some(member) = members.next_entry() {
        let member = member.map_err(read_error)?;
        let Some(format) = data_member(member.header().identifier()) else {
            continue;
        };
        let decoded = tar::decoder(format, BufReader::with_capacity(256 * 1024, member))
            .map_err(read_error)?;
        return tar::unpack(decoded, Format::Deb, archive, strip, tree);
    }
    Err(UnpackError::NoDataTar {
        archive: archive.to_owned(),
    })
}

/// Returns how the member named `name` is compressed, if it is the data
/// archive. GNU `ar` may end names with `/`.
fn data_member(name: &[u8]) -> Option<Format> {
    let name = name.strip_suffix(b"/").unwrap_or(name);
    match name {
        b"data.tar" => Some(Format::Tar),
        b"data.tar.gz" => Some(Format::TarGz),
        b"data.tar.xz" => Some(Format::TarXz),
        b"data.tar.zst" => Some(Format::TarZst),
        b"data.tar.bz2" => Some(Format::TarBz2),
        _ => None,
    }
}
