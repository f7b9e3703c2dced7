//! Archive formats: their names, and telling them apart by file name or by
//! their first bytes.

use std::fmt;
use std::str::FromStr;

use super::UnpackError;

/// An archive format `builtin:unpack-v1` understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// An uncompressed tar archive.
    Tar,
    /// A gzip-compressed tar archive (`.tar.gz`, `.tgz`).
    TarGz,
    /// An xz-compressed tar archive (`.tar.xz`, `.txz`).
    TarXz,
    /// A zstd-compressed tar archive (`.tar.zst`, `.tzst`).
    TarZst,
    /// A bzip2-compressed tar archive (`.tar.bz2`, `.tbz2`).
    TarBz2,
    /// A zip archive.
    Zip,
    /// A Python wheel: a zip archive under another name.
    Wheel,
    /// A Debian package: an `ar` archive whose `data.tar.*` member is unpacked.
    Deb,
    /// A Rust crate from crates.io: a `.tar.gz` whose entries all sit under
    /// `<name>-<version>/`, stripped by default.
    Crate,
}

impl Format {
    /// Every format, in the order their names are listed in messages.
    pub const ALL: [Format; 9] = [
        Format::Tar,
        Format::TarGz,
        Format::TarXz,
        Format::TarZst,
        Format::TarBz2,
        Format::Zip,
        Format::Wheel,
        Format::Deb,
        Format::Crate,
    ];

    /// Returns the name used in the `format` attribute (`tar.gz`, `deb`, …).
    pub const fn name(self) -> &'static str {
        match self {
            Format::Tar => "tar",
            Format::TarGz => "tar.gz",
            Format::TarXz => "tar.xz",
            Format::TarZst => "tar.zst",
            Format::TarBz2 => "tar.bz2",
            Format::Zip => "zip",
            Format::Wheel => "whl",
            Format::Deb => "deb",
            Format::Crate => "crate",
        }
    }

    /// Returns how many leading path components are stripped when the
    /// derivation does not say: 1 for a crate (its `<name>-<version>/`
    /// directory), 0 otherwise.
    pub const fn default_strip_components(self) -> usize {
        match self {
            Format::Crate => 1,
            _ => 0,
        }
    }

    /// Returns the format a file name announces by its extension, if any.
    pub fn from_file_name(name: &str) -> Option<Format> {
        const SUFFIXES: [(&str, Format); 16] = [
            (".tar.gz", Format::TarGz),
            (".tgz", Format::TarGz),
            (".tar.xz", Format::TarXz),
            (".txz", Format::TarXz),
            (".tar.zst", Format::TarZst),
            (".tzst", Format::TarZst),
            (".tar.bz2", Format::TarBz2),
            (".tbz2", Format::TarBz2),
            (".tbz", Format::TarBz2),
            (".tar", Format::Tar),
            (".zip", Format::Zip),
            (".whl", Format::Wheel),
            (".deb", Format::Deb),
            (".udeb", Format::Deb),
            (".crate", Format::Crate),
            (".jar", Format::Zip),
        ];
        let lower = name.to_ascii_lowercase();
        SUFFIXES
            .iter()
            .find(|(suffix, _)| lower.ends_with(suffix))
            .map(|&(_, format)| format)
    }

    /// Returns the format that an archive's first bytes (at least 262 of
    /// them, for tar's `ustar` magic) reveal, if any. A compressed stream
    /// is taken to hold a tar archive.
    pub fn from_magic(head: &[u8]) -> Option<Format> {
        const MAGICS: [(&[u8], Format); 6] = [
            (b"\x1f\x8b", Format::TarGz),
            (b"\xfd7zXZ\x00", Format::TarXz),
            (b"\x28\xb5\x2f\xfd", Format::TarZst),
            (b"BZh", Format::TarBz2),
            (b"PK\x03\x04", Format::Zip),
            (b"!<arch>\n", Format::Deb),
        ];
        if let Some(&(_, format)) = MAGICS.iter().find(|(magic, _)| head.starts_with(magic)) {
            return Some(format);
        }
        if head.starts_with(b"PK\x05\x06") {
            return Some(Format::Zip); // an empty zip: only the end record
        }
        match head.get(257..262) {
            Some(b"ustar") => Some(Format::Tar),
            _ => None,
        }
    }

    /// Returns the format named by `name`, else announced by `file_name`,
    /// else revealed by `head`.
    pub fn detect(file_name: &str, head: &[u8]) -> Option<Format> {
        Format::from_file_name(file_name).or_else(|| Format::from_magic(head))
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = UnpackError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let alias = match s {
            "tgz" => Some(Format::TarGz),
            "txz" => Some(Format::TarXz),
            "wheel" => Some(Format::Wheel),
            _ => None,
        };
        alias
            .or_else(|| Format::ALL.into_iter().find(|format| format.name() == s))
            .ok_or_else(|| UnpackError::UnknownFormatName { name: s.to_owned() })
    }
}

/// Lists every format name, for error messages.
pub(super) struct FormatNames;

impl fmt::Display for FormatNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, format) in Format::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "`{format}`")?;
        }
        Ok(())
    }
}
