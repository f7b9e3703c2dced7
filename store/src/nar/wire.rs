//! The framing of a NAR: little-endian `u64` lengths, byte strings padded
//! with zeros to a multiple of 8, and the fixed tokens of the grammar.
//!
//! Everything in a NAR is a sequence of *strings*: an 8-byte little-endian
//! length, the bytes, then zero bytes up to the next multiple of 8. A file's
//! contents are framed the same way, so a NAR can be read and written as a
//! stream without ever holding a whole file.
//!
//! ```text
//! nar       = str("nix-archive-1") node
//! node      = str("(") str("type") body str(")")
//! body      = str("regular") [str("executable") str("")] str("contents") str(<bytes>)
//!           | str("symlink") str("target") str(<target>)
//!           | str("directory") entry*
//! entry     = str("entry") str("(") str("name") str(<name>) str("node") node str(")")
//! ```
//!
//! The writing half lives here; the reading half, which must report offsets
//! and typed errors, lives in [`super::read`].

use std::fmt;
use std::io::{self, Write};

/// Longest name a NAR entry may have: Linux's `NAME_MAX`, the longest file
/// name any file system here can hold.
pub const MAX_NAME_LEN: u64 = 255;

/// Longest symlink target: Linux's `PATH_MAX` less the terminating NUL.
pub const MAX_TARGET_LEN: u64 = 4095;

/// Largest file size accepted: the largest `off_t`, past which no file
/// system can hold the file.
pub const MAX_FILE_SIZE: u64 = i64::MAX as u64;

/// Deepest directory nesting a reader accepts. Linux cannot name a path
/// nested deeper than `PATH_MAX / 2` directories, and a bound keeps readers
/// and listers from using unbounded memory on hostile input.
pub const MAX_DEPTH: usize = 2048;

/// The fixed strings of the NAR grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Token {
    /// `nix-archive-1`, the magic that opens every NAR.
    Magic,
    /// `(`, opening a node or a directory entry.
    Open,
    /// `)`, closing a node or a directory entry.
    Close,
    /// `type`, introducing a node's type.
    Type,
    /// `regular`, a regular file.
    Regular,
    /// `directory`, a directory.
    Directory,
    /// `symlink`, a symbolic link.
    Symlink,
    /// `executable`, marking a regular file executable.
    Executable,
    /// The empty string that follows `executable`.
    Empty,
    /// `contents`, introducing a file's bytes.
    Contents,
    /// `target`, introducing a symlink's target.
    Target,
    /// `entry`, opening a directory entry.
    Entry,
    /// `name`, introducing an entry's name.
    Name,
    /// `node`, introducing an entry's node.
    Node,
}

impl Token {
    /// Longest token, in bytes (`nix-archive-1`).
    pub const MAX_LEN: usize = 13;

    /// Returns the token's bytes as they appear in a NAR (before framing).
    pub const fn as_bytes(self) -> &'static [u8] {
        match self {
            Token::Magic => b"nix-archive-1",
            Token::Open => b"(",
            Token::Close => b")",
            Token::Type => b"type",
            Token::Regular => b"regular",
            Token::Directory => b"directory",
            Token::Symlink => b"symlink",
            Token::Executable => b"executable",
            Token::Empty => b"",
            Token::Contents => b"contents",
            Token::Target => b"target",
            Token::Entry => b"entry",
            Token::Name => b"name",
            Token::Node => b"node",
        }
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Empty => f.write_str("an empty string"),
            other => write!(f, "`{}`", String::from_utf8_lossy(other.as_bytes())),
        }
    }
}

/// Returns how many zero bytes follow a string of `len` bytes.
pub const fn padding_len(len: u64) -> usize {
    // The remainder is < 8, so the cast cannot truncate.
    ((8 - len % 8) % 8) as usize
}

/// Returns the framed size of a string of `len` bytes: length prefix, bytes
/// and padding. Saturates instead of overflowing on absurd lengths.
pub const fn framed_len(len: u64) -> u64 {
    8u64.saturating_add(len)
        .saturating_add(padding_len(len) as u64)
}

/// Zero bytes used for padding.
pub const ZEROS: [u8; 8] = [0; 8];

/// Writes `n` as 8 little-endian bytes.
pub fn write_u64(w: &mut impl Write, n: u64) -> io::Result<()> {
    w.write_all(&n.to_le_bytes())
}

/// Writes the zero padding that follows a string of `len` bytes.
pub fn write_padding(w: &mut impl Write, len: u64) -> io::Result<()> {
    w.write_all(&ZEROS[..padding_len(len)])
}

/// Writes `bytes` as a framed string: length, bytes, padding.
pub fn write_bytes(w: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    let len = bytes.len() as u64;
    write_u64(w, len)?;
    w.write_all(bytes)?;
    write_padding(w, len)
}

/// Writes each token as a framed string.
pub fn write_tokens(w: &mut impl Write, tokens: &[Token]) -> io::Result<()> {
    tokens
        .iter()
        .try_for_each(|token| write_bytes(w, token.as_bytes()))
}

/// Displays bytes from a NAR (names, targets, unexpected tokens) for error
/// messages: valid UTF-8 as text with control characters and `\` escaped,
/// anything else as `\xNN`.
#[derive(Clone, PartialEq, Eq)]
pub struct ShowBytes(pub Vec<u8>);

impl fmt::Display for ShowBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            for c in chunk.valid().chars() {
                if c.is_control() || c == '\\' {
                    write!(f, "{}", c.escape_default())?;
                } else {
                    write!(f, "{c}")?;
                }
            }
            for byte in chunk.invalid() {
                write!(f, "\\x{byte:02x}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for ShowBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_rounds_up_to_eight() {
        assert_eq!(padding_len(0), 0);
        assert_eq!(padding_len(1), 7);
        assert_eq!(padding_len(8), 0);
        assert_eq!(padding_len(13), 3);
        assert_eq!(framed_len(13), 24);
        assert_eq!(framed_len(u64::MAX), u64::MAX);
    }

    #[test]
    fn strings_are_framed() {
        let mut out = Vec::new();
        write_tokens(&mut out, &[Token::Magic, Token::Empty, Token::Open]).unwrap();
        let mut want = Vec::new();
        want.extend_from_slice(&13u64.to_le_bytes());
        want.extend_from_slice(b"nix-archive-1\0\0\0");
        want.extend_from_slice(&0u64.to_le_bytes());
        want.extend_from_slice(&1u64.to_le_bytes());
        want.extend_from_slice(b"(\0\0\0\0\0\0\0");
        assert_eq!(out, want);
    }

    #[test]
    fn show_bytes_escapes() {
        let shown = ShowBytes(b"a\nb\xffc\\\xc3\xa9".to_vec()).to_string();
        assert_eq!(shown, "a\\nb\\xffc\\\\é");
    }
}
