//! A streaming NAR reader and validator.
//!
//! [`Reader`] is a pull parser: each call to [`Reader::next`] returns the
//! next [`Event`] (a directory starts or ends, a regular file, a symlink).
//! After an [`Event::Regular`], the file's bytes can be read with
//! [`Reader::read_contents`]; whatever the caller does not read is skipped.
//! Nothing is buffered beyond one entry name and one symlink target, so a NAR
//! of any size is read in constant memory (plus the current path).
//!
//! The reader accepts exactly the NARs that Nix writes and rejects everything
//! else with a typed [`ReadError`] that carries the byte offset: a bad magic,
//! non-zero padding, unknown tokens, unsorted or duplicate entries, invalid
//! names, truncation, trailing data and absurd lengths. Nix's own parser is
//! laxer in places (it accepts fields in any order); kiln only accepts the
//! canonical form, because that is the only form whose hash means anything.
//!
//! [`validate`] runs the reader to the end.

use std::io::{self, Read};

mod error;

pub use error::{Expected, Got, Inside, NameProblem, ReadError, TargetProblem};

use super::wire::{
    MAX_DEPTH, MAX_FILE_SIZE, MAX_NAME_LEN, MAX_TARGET_LEN, ShowBytes, Token, padding_len,
};

/// One step of a NAR, as [`Reader::next`] returns it.
///
/// `path` is relative to the NAR's root, with components joined by `/`; it
/// is empty for the root itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A directory starts; its entries follow, then [`Event::DirectoryEnd`].
    Directory {
        /// The directory's path.
        path: &'a [u8],
    },
    /// A directory's last entry has been read.
    DirectoryEnd {
        /// The directory's path.
        path: &'a [u8],
    },
    /// A regular file; its contents can be read next.
    Regular {
        /// The file's path.
        path: &'a [u8],
        /// Whether the file is executable.
        executable: bool,
        /// The file's size in bytes.
        size: u64,
        /// The byte offset of the contents in the NAR (what `nix nar ls
        /// --json` calls `narOffset`).
        offset: u64,
    },
    /// A symbolic link.
    Symlink {
        /// The link's path.
        path: &'a [u8],
        /// Where the link points, as stored.
        target: &'a [u8],
    },
}

/// Where the parser is in the grammar.
#[derive(Clone, Copy, Debug)]
enum State {
    /// Nothing read yet.
    Start,
    /// Inside a regular file's contents.
    Contents { size: u64, remaining: u64 },
    /// Inside a directory, before `entry` or `)`.
    DirectoryBody,
    /// A node has been read up to and including its `)`.
    NodeEnd,
    /// The whole NAR has been read and checked.
    Done,
}

/// An open directory.
#[derive(Clone, Copy, Debug)]
struct Frame {
    /// The length of the directory's own path.
    base_len: usize,
    /// Whether an entry has been read (its name is still at the end of the
    /// reader's path, for the order check).
    has_previous: bool,
}

/// A streaming NAR parser over any [`Read`]; see the module documentation.
pub struct Reader<R> {
    input: R,
    offset: u64,
    state: State,
    path: Vec<u8>,
    frames: Vec<Frame>,
    name: Vec<u8>,
    target: Vec<u8>,
}

impl<R: Read> Reader<R> {
    /// Returns a reader of the NAR in `input`.
    ///
    /// The reader makes many small reads: give it a buffered reader.
    pub fn new(input: R) -> Self {
        Reader {
            input,
            offset: 0,
            state: State::Start,
            path: Vec::new(),
            frames: Vec::new(),
            name: Vec::new(),
            target: Vec::new(),
        }
    }

    /// Returns how many bytes of the NAR have been consumed.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Returns the next event, or `None` once the whole NAR has been read
    /// and checked to end where the input ends.
    #[expect(
        clippy::should_implement_trait,
        reason = "a lending iterator: each event borrows the reader"
    )]
    pub fn next(&mut self) -> Result<Option<Event<'_>>, ReadError> {
        loop {
            match self.state {
                State::Start => {
                    self.read_magic()?;
                    return self.read_node().map(Some);
                }
                State::Contents { size, remaining } => {
                    self.skip_contents(remaining)?;
                    self.read_padding(size)?;
                    self.expect(&[Token::Close])?;
                    self.state = State::NodeEnd;
                }
                State::DirectoryBody => {
                    if self.expect(&[Token::Entry, Token::Close])? == Token::Close {
                        return Ok(Some(self.end_directory()));
                    }
                    self.read_entry_name()?;
                    self.expect(&[Token::Node])?;
                    return self.read_node().map(Some);
                }
                State::NodeEnd => {
                    if self.frames.is_empty() {
                        self.check_end()?;
                        self.state = State::Done;
                        return Ok(None);
                    }
                    self.expect(&[Token::Close])?;
                    self.state = State::DirectoryBody;
                }
                State::Done => return Ok(None),
            }
        }
    }

    /// Reads up to `buf.len()` bytes of the current regular file's contents
    /// and returns how many were read: 0 at the end of the file, or when the
    /// last event was not a regular file.
    pub fn read_contents(&mut self, buf: &mut [u8]) -> Result<usize, ReadError> {
        let State::Contents { size, remaining } = self.state else {
            return Ok(0);
        };
        let want = usize::try_from(remaining).map_or(buf.len(), |r| r.min(buf.len()));
        let Some(buf) = buf.get_mut(..want) else {
            return Ok(0);
        };
        if buf.is_empty() {
            return Ok(0);
        }
        let n = loop {
            match self.input.read(buf) {
                Ok(0) => return Err(self.truncated(Inside::Contents)),
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => return Err(self.io_error(source)),
            }
        };
        self.offset += n as u64;
        let remaining = remaining - n as u64;
        self.state = State::Contents { size, remaining };
        Ok(n)
    }

    /// Returns the underlying reader.
    pub fn into_inner(self) -> R {
        self.input
    }

    fn read_magic(&mut self) -> Result<(), ReadError> {
        match self.read_token() {
            Ok(token) if token.as_bytes() == Token::Magic.as_bytes() => Ok(()),
            Ok(token) => Err(ReadError::BadMagic {
                got: Got::Str(ShowBytes(token.as_bytes().to_vec())),
            }),
            Err(TokenError::TooLong(len)) => Err(ReadError::BadMagic {
                got: Got::Length(len),
            }),
            Err(TokenError::Read(e)) => Err(e),
        }
    }

    /// Reads a node from its `(` to the point where an event can be
    /// returned, and sets the state for what follows.
    fn read_node(&mut self) -> Result<Event<'_>, ReadError> {
        self.expect(&[Token::Open])?;
        self.expect(&[Token::Type])?;
        match self.expect(&[Token::Regular, Token::Directory, Token::Symlink])? {
            Token::Regular => self.read_regular(),
            Token::Symlink => self.read_symlink(),
            _ => self.start_directory(),
        }
    }

    fn read_regular(&mut self) -> Result<Event<'_>, ReadError> {
        let executable = self.expect(&[Token::Executable, Token::Contents])? == Token::Executable;
        if executable {
            self.expect(&[Token::Empty])?;
            self.expect(&[Token::Contents])?;
        }
        let size = self.read_length(Inside::Contents, MAX_FILE_SIZE)?;
        self.state = State::Contents {
            size,
            remaining: size,
        };
        Ok(Event::Regular {
            path: &self.path,
            executable,
            size,
            offset: self.offset,
        })
    }

    fn read_symlink(&mut self) -> Result<Event<'_>, ReadError> {
        self.expect(&[Token::Target])?;
        let start = self.offset;
        let len = self.read_length(Inside::Target, MAX_TARGET_LEN)?;
        let mut target = std::mem::take(&mut self.target);
        let read = self.read_string_into(len, Inside::Target, &mut target);
        self.target = target;
        read?;
        let problem = if self.target.is_empty() {
            Some(TargetProblem::Empty)
        } else if self.target.contains(&0) {
            Some(TargetProblem::Nul)
        } else {
            None
        };
        if let Some(reason) = problem {
            return Err(ReadError::InvalidTarget {
                offset: start,
                target: ShowBytes(self.target.clone()),
                reason,
            });
        }
        self.expect(&[Token::Close])?;
        self.state = State::NodeEnd;
        Ok(Event::Symlink {
            path: &self.path,
            target: &self.target,
        })
    }

    fn start_directory(&mut self) -> Result<Event<'_>, ReadError> {
        if self.frames.len() >= MAX_DEPTH {
            return Err(ReadError::TooDeep {
                offset: self.offset,
                max: MAX_DEPTH,
            });
        }
        self.frames.push(Frame {
            base_len: self.path.len(),
            has_previous: false,
        });
        self.state = State::DirectoryBody;
        Ok(Event::Directory { path: &self.path })
    }

    fn end_directory(&mut self) -> Event<'_> {
        if let Some(frame) = self.frames.pop() {
            self.path.truncate(frame.base_len);
        }
        self.state = State::NodeEnd;
        Event::DirectoryEnd { path: &self.path }
    }

    /// Reads `( name <name>` of an entry and makes the name the last
    /// component of the current path.
    fn read_entry_name(&mut self) -> Result<(), ReadError> {
        self.expect(&[Token::Open])?;
        self.expect(&[Token::Name])?;
        let start = self.offset;
        let len = self.read_length(Inside::Name, MAX_NAME_LEN)?;
        let mut name = std::mem::take(&mut self.name);
        let read = self.read_string_into(len, Inside::Name, &mut name);
        let checked = read.and_then(|()| self.push_entry(start, &name));
        self.name = name;
        checked
    }

    /// Checks an entry's name and its order, and makes it the last
    /// component of the current path.
    fn push_entry(&mut self, start: u64, name: &[u8]) -> Result<(), ReadError> {
        check_name(name).map_err(|reason| ReadError::InvalidName {
            offset: start,
            name: ShowBytes(name.to_vec()),
            reason,
        })?;
        let Some(frame) = self.frames.last_mut() else {
            return Ok(());
        };
        let name_start = frame.base_len + usize::from(frame.base_len > 0);
        if frame.has_previous {
            let previous = self.path.get(name_start..).unwrap_or_default();
            if name == previous {
                return Err(ReadError::Duplicate {
                    offset: start,
                    name: ShowBytes(name.to_vec()),
                });
            }
            if name < previous {
                return Err(ReadError::Unsorted {
                    offset: start,
                    name: ShowBytes(name.to_vec()),
                    previous: ShowBytes(previous.to_vec()),
                });
            }
        }
        frame.has_previous = true;
        self.path.truncate(frame.base_len);
        if frame.base_len > 0 {
            self.path.push(b'/');
        }
        self.path.extend_from_slice(name);
        Ok(())
    }

    /// Reads a string that must be one of `expected` and returns which.
    fn expect(&mut self, expected: &'static [Token]) -> Result<Token, ReadError> {
        let start = self.offset;
        let got = match self.read_token() {
            Ok(token) => {
                let bytes = token.as_bytes();
                if let Some(found) = expected.iter().find(|t| t.as_bytes() == bytes) {
                    return Ok(*found);
                }
                Got::Str(ShowBytes(bytes.to_vec()))
            }
            Err(TokenError::TooLong(len)) => Got::Length(len),
            Err(TokenError::Read(e)) => return Err(e),
        };
        Err(ReadError::UnexpectedToken {
            offset: start,
            expected: Expected(expected),
            got,
        })
    }

    /// Reads a short string where a token is expected, without allocating.
    fn read_token(&mut self) -> Result<TokenBuf, TokenError> {
        let len = self.read_u64(Inside::Length).map_err(TokenError::Read)?;
        let mut token = TokenBuf {
            bytes: [0; TokenBuf::CAPACITY],
            len: 0,
        };
        let Some(buf) = usize::try_from(len)
            .ok()
            .and_then(|n| token.bytes.get_mut(..n))
        else {
            return Err(TokenError::TooLong(len));
        };
        self.read_exact(buf, Inside::Token)
            .and_then(|()| self.read_padding(len))
            .map_err(TokenError::Read)?;
        token.len = buf.len();
        Ok(token)
    }

    /// Reads a length field and checks it against `max`.
    fn read_length(&mut self, inside: Inside, max: u64) -> Result<u64, ReadError> {
        let offset = self.offset;
        let len = self.read_u64(Inside::Length)?;
        if len > max {
            return Err(ReadError::TooLong {
                offset,
                inside,
                len,
                max,
            });
        }
        Ok(len)
    }

    /// Reads `len` bytes (already checked to be small) and their padding
    /// into `out`.
    fn read_string_into(
        &mut self,
        len: u64,
        inside: Inside,
        out: &mut Vec<u8>,
    ) -> Result<(), ReadError> {
        let n = usize::try_from(len).map_err(|_| self.truncated(inside))?;
        out.clear();
        out.resize(n, 0);
        self.read_exact(out, inside)?;
        self.read_padding(len)
    }

    fn read_u64(&mut self, inside: Inside) -> Result<u64, ReadError> {
        let mut buf = [0; 8];
        self.read_exact(&mut buf, inside)?;
        Ok(u64::from_le_bytes(buf))
    }

    fn read_padding(&mut self, len: u64) -> Result<(), ReadError> {
        let mut buf = [0; 8];
        let Some(pad) = buf.get_mut(..padding_len(len)) else {
            return Ok(());
        };
        let start = self.offset;
        self.read_exact(pad, Inside::Padding)?;
        match pad.iter().position(|&b| b != 0) {
            None => Ok(()),
            Some(i) => Err(ReadError::BadPadding {
                offset: start + i as u64,
                value: pad.get(i).copied().unwrap_or_default(),
            }),
        }
    }

    fn skip_contents(&mut self, mut remaining: u64) -> Result<(), ReadError> {
        let mut buf = [0; 64 * 1024];
        while remaining > 0 {
            let n = self.read_contents(&mut buf)?;
            remaining -= n as u64;
        }
        Ok(())
    }

    fn read_exact(&mut self, mut buf: &mut [u8], inside: Inside) -> Result<(), ReadError> {
        while !buf.is_empty() {
            match self.input.read(buf) {
                Ok(0) => return Err(self.truncated(inside)),
                Ok(n) => {
                    self.offset += n as u64;
                    buf = buf.get_mut(n..).unwrap_or_default();
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => return Err(self.io_error(source)),
            }
        }
        Ok(())
    }

    /// Checks that the input ends right after the root node.
    fn check_end(&mut self) -> Result<(), ReadError> {
        let mut byte = [0; 1];
        loop {
            match self.input.read(&mut byte) {
                Ok(0) => return Ok(()),
                Ok(_) => {
                    return Err(ReadError::TrailingData {
                        offset: self.offset,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => return Err(self.io_error(source)),
            }
        }
    }

    fn truncated(&self, inside: Inside) -> ReadError {
        ReadError::Truncated {
            offset: self.offset,
            inside,
        }
    }

    fn io_error(&self, source: io::Error) -> ReadError {
        ReadError::Io {
            offset: self.offset,
            source,
        }
    }
}

/// A failed token read: either a real error or a string too long to show.
enum TokenError {
    Read(ReadError),
    TooLong(u64),
}

/// A string read where a token was expected: longer than any token, so
/// that near misses show in messages, but short enough for the stack.
struct TokenBuf {
    bytes: [u8; TokenBuf::CAPACITY],
    len: usize,
}

impl TokenBuf {
    const CAPACITY: usize = 64;

    fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

/// Checks that `name` can name an entry of a directory.
pub fn check_name(name: &[u8]) -> Result<(), NameProblem> {
    match name {
        [] => Err(NameProblem::Empty),
        b"." | b".." => Err(NameProblem::Dots),
        _ if name.contains(&b'/') => Err(NameProblem::Slash),
        _ if name.contains(&0) => Err(NameProblem::Nul),
        _ => Ok(()),
    }
}

/// Reads a whole NAR from `input`, checking every rule, and returns its
/// length in bytes.
pub fn validate(input: impl Read) -> Result<u64, ReadError> {
    let mut reader = Reader::new(input);
    while reader.next()?.is_some() {}
    Ok(reader.offset())
}
