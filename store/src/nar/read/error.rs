//! The errors of [`super::Reader`]: one variant per way a NAR can be
//! malformed, each with the byte offset where the problem starts.

use std::fmt;
use std::io;

use crate::nar::wire::{ShowBytes, Token};

/// Why a NAR could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The underlying reader failed.
    #[error("cannot read the NAR at byte {offset}")]
    Io {
        /// Where the read was attempted.
        offset: u64,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The input ended in the middle of the NAR.
    #[error("NAR is truncated: it ends at byte {offset}, in the middle of {inside}")]
    Truncated {
        /// The length of the input.
        offset: u64,
        /// What was being read.
        inside: Inside,
    },
    /// The input does not start with `nix-archive-1`.
    #[error("not a NAR: expected `nix-archive-1` at byte 0, got {got}")]
    BadMagic {
        /// What was there instead.
        got: Got,
    },
    /// A padding byte is not zero.
    #[error("non-zero padding byte {value:#04x} at byte {offset}")]
    BadPadding {
        /// Where the byte is.
        offset: u64,
        /// The byte.
        value: u8,
    },
    /// A token other than the ones the grammar allows here.
    #[error("expected {expected} at byte {offset}, got {got}")]
    UnexpectedToken {
        /// Where the string starts.
        offset: u64,
        /// The tokens that would have been valid.
        expected: Expected,
        /// What was there instead.
        got: Got,
    },
    /// A length field is larger than anything valid in its place.
    #[error("absurd length {len} for {inside} at byte {offset} (at most {max})")]
    TooLong {
        /// Where the length field is.
        offset: u64,
        /// What the length is for.
        inside: Inside,
        /// The length found.
        len: u64,
        /// The largest valid length.
        max: u64,
    },
    /// An entry name that cannot name a file.
    #[error("NAR entry name `{name}` at byte {offset} is not allowed: {reason}")]
    InvalidName {
        /// Where the name starts.
        offset: u64,
        /// The name.
        name: ShowBytes,
        /// What is wrong with it.
        reason: NameProblem,
    },
    /// An entry name that does not sort after the previous one.
    #[error("NAR entry `{name}` at byte {offset} is out of order: it must sort after `{previous}`")]
    Unsorted {
        /// Where the name starts.
        offset: u64,
        /// The name.
        name: ShowBytes,
        /// The previous entry's name.
        previous: ShowBytes,
    },
    /// Two entries with the same name in one directory.
    #[error("duplicate NAR entry `{name}` at byte {offset}")]
    Duplicate {
        /// Where the second name starts.
        offset: u64,
        /// The name.
        name: ShowBytes,
    },
    /// A symlink whose target cannot be created.
    #[error("symlink target `{target}` at byte {offset} is not allowed: {reason}")]
    InvalidTarget {
        /// Where the target starts.
        offset: u64,
        /// The target.
        target: ShowBytes,
        /// What is wrong with it.
        reason: TargetProblem,
    },
    /// Directories nested deeper than [`MAX_DEPTH`](crate::nar::wire::MAX_DEPTH).
    #[error("NAR directories at byte {offset} are nested deeper than {max} levels")]
    TooDeep {
        /// Where the entry that is too deep starts.
        offset: u64,
        /// The limit.
        max: usize,
    },
    /// Bytes after the end of the root node.
    #[error("trailing data at byte {offset}, after the end of the NAR")]
    TrailingData {
        /// Where the extra bytes start.
        offset: u64,
    },
}

/// What part of a NAR was being read when something went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inside {
    /// A fixed token of the grammar.
    Token,
    /// A directory entry's name.
    Name,
    /// A symlink's target.
    Target,
    /// A regular file's contents.
    Contents,
    /// A length field.
    Length,
    /// Padding after a string.
    Padding,
}

impl fmt::Display for Inside {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Inside::Token => "a token",
            Inside::Name => "an entry name",
            Inside::Target => "a symlink target",
            Inside::Contents => "a file's contents",
            Inside::Length => "a length field",
            Inside::Padding => "padding",
        })
    }
}

/// What a reader found where it expected a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Got {
    /// A string short enough to show.
    Str(ShowBytes),
    /// A string too long to be any token; only its length was read.
    Length(u64),
}

impl fmt::Display for Got {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Got::Str(bytes) => write!(f, "`{bytes}`"),
            Got::Length(len) => write!(f, "a string of {len} bytes"),
        }
    }
}

/// The tokens that a reader would have accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expected(pub &'static [Token]);

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, token) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" or ")?;
            }
            write!(f, "{token}")?;
        }
        Ok(())
    }
}

/// Why an entry name is not allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameProblem {
    /// The empty name.
    Empty,
    /// `.` or `..`.
    Dots,
    /// A name containing `/`.
    Slash,
    /// A name containing a NUL byte.
    Nul,
}

impl fmt::Display for NameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameProblem::Empty => "it is empty",
            NameProblem::Dots => "`.` and `..` cannot be entries",
            NameProblem::Slash => "it contains `/`",
            NameProblem::Nul => "it contains a NUL byte",
        })
    }
}

/// Why a symlink target is not allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetProblem {
    /// The empty target, which no file system can store.
    Empty,
    /// A target containing a NUL byte.
    Nul,
}

impl fmt::Display for TargetProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TargetProblem::Empty => "it is empty",
            TargetProblem::Nul => "it contains a NUL byte",
        })
    }
}
