//! Writing NARs: [`dump`] serialises a file system tree; [`Encoder`] writes
//! one node at a time for trees that do not live on disk.
//!
//! [`dump`] matches `nix-store --dump` byte for byte: entries sorted by name
//! as bytes, a regular file is executable when its owner's `x` bit is set
//! (Nix tests `S_IXUSR` only: mode 0o610 is *not* executable),
//! symlinks are stored as they are (absolute, relative or dangling), the
//! root may be a file or a symlink, and sockets, FIFOs and devices are
//! refused. File contents are read straight into memory the [`Sink`] lends
//! (for [`dump`], one reusable buffer, the output going through a large
//! `BufWriter`), so memory use does not grow with file size: NAR hashing of
//! whole trees sits on this path.

use std::ffi::OsString;
use std::fs::{FileType, Metadata};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::sink::{Buffered, Sink};
use super::wire::{Token, padding_len, write_bytes, write_padding, write_tokens, write_u64};

/// Why a tree could not be written as a NAR.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A file, directory or link could not be read (the cause names it).
    #[error("cannot read the tree to archive")]
    Input(#[source] io::Error),
    /// The output could not be written.
    #[error("cannot write the NAR")]
    Output(#[source] io::Error),
    /// A file type that a NAR cannot hold.
    #[error("`{path}` is a {kind}, which a NAR cannot hold")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What it is: `socket`, `FIFO`, `block device`, `character device`.
        kind: &'static str,
    },
    /// A regular file shrank while it was being read.
    #[error("`{path}` changed while it was archived: expected {expected} bytes, read {got}")]
    FileChanged {
        /// The file.
        path: PathBuf,
        /// Its size when it was opened.
        expected: u64,
        /// How many bytes could be read.
        got: u64,
    },
}

/// Writes the NAR serialisation of the file, directory or symlink at `path`
/// to `out` and returns the number of bytes written.
///
/// `out` is wrapped in a large buffer; pass it unbuffered.
pub fn dump(path: &Path, out: impl Write) -> Result<u64, WriteError> {
    dump_to(path, Buffered::new(out))
}

/// Writes the NAR serialisation of the tree at `path` to `sink`, reading
/// file contents straight into the memory it lends, and returns the number
/// of bytes written. The sink is flushed at the end.
pub fn dump_to(path: &Path, sink: impl Sink) -> Result<u64, WriteError> {
    let mut encoder = Encoder::new(sink).map_err(WriteError::Output)?;
    Dumper {
        encoder: &mut encoder,
    }
    .dump(path)?;
    let written = encoder.written();
    encoder
        .finish()
        .and_then(|mut out| out.flush())
        .map_err(WriteError::Output)?;
    Ok(written)
}

/// Writes a NAR holding one regular file with the given contents.
pub fn dump_regular(
    executable: bool,
    size: u64,
    contents: impl Read,
    out: impl Write,
) -> io::Result<u64> {
    let mut encoder = Encoder::new(out)?;
    encoder.regular(executable, size, contents)?;
    let written = encoder.written();
    encoder.finish()?.flush()?;
    Ok(written)
}

/// Writes a NAR holding one symlink.
pub fn dump_symlink(target: &[u8], out: impl Write) -> io::Result<u64> {
    let mut encoder = Encoder::new(out)?;
    encoder.symlink(target)?;
    let written = encoder.written();
    encoder.finish()?.flush()?;
    Ok(written)
}

/// The state of one directory being dumped.
struct DirFrame {
    path: PathBuf,
    names: std::vec::IntoIter<OsString>,
}

/// Walks a tree depth-first, without recursion, feeding an [`Encoder`].
struct Dumper<'a, S: Sink> {
    encoder: &'a mut Encoder<S>,
}

impl<S: Sink> Dumper<'_, S> {
    fn dump(&mut self, root: &Path) -> Result<(), WriteError> {
        let mut stack: Vec<DirFrame> = Vec::new();
        if let Some(frame) = self.node(root)? {
            stack.push(frame);
        }
        while let Some(top) = stack.last_mut() {
            let Some(name) = top.names.next() else {
                stack.pop();
                self.encoder.directory_end().map_err(WriteError::Output)?;
                if !stack.is_empty() {
                    self.encoder.entry_end().map_err(WriteError::Output)?;
                }
                continue;
            };
            let path = top.path.join(&name);
            self.encoder
                .entry_start(name.as_bytes())
                .map_err(WriteError::Output)?;
            match self.node(&path)? {
                Some(frame) => stack.push(frame),
                None => self.encoder.entry_end().map_err(WriteError::Output)?,
            }
        }
        Ok(())
    }

    /// Writes the node at `path`, or for a directory only its start, and
    /// returns the directory's frame.
    fn node(&mut self, path: &Path) -> Result<Option<DirFrame>, WriteError> {
        let meta = fs_err::symlink_metadata(path).map_err(WriteError::Input)?;
        let file_type = meta.file_type();
        if file_type.is_dir() {
            let names = sorted_names(path)?;
            self.encoder.directory_start().map_err(WriteError::Output)?;
            return Ok(Some(DirFrame {
                path: path.to_owned(),
                names: names.into_iter(),
            }));
        }
        if file_type.is_symlink() {
            let target = fs_err::read_link(path).map_err(WriteError::Input)?;
            self.encoder
                .symlink(target.as_os_str().as_bytes())
                .map_err(WriteError::Output)?;
        } else if file_type.is_file() {
            self.regular(path, &meta)?;
        } else {
            return Err(WriteError::Unsupported {
                path: path.to_owned(),
                kind: describe(file_type),
            });
        }
        Ok(None)
    }

    fn regular(&mut self, path: &Path, meta: &Metadata) -> Result<(), WriteError> {
        // Nix checks `S_IXUSR` only; the group and other bits do not count.
        let executable = meta.permissions().mode() & 0o100 != 0;
        let size = meta.len();
        let mut file = fs_err::File::open(path).map_err(WriteError::Input)?;
        self.encoder
            .regular_start(executable, size)
            .map_err(WriteError::Output)?;
        let mut remaining = size;
        while remaining > 0 {
            let n = self.encoder.contents_from(&mut file, remaining)?;
            if n == 0 {
                return Err(WriteError::FileChanged {
                    path: path.to_owned(),
                    expected: size,
                    got: size - remaining,
                });
            }
            remaining -= n as u64;
        }
        self.encoder.regular_end(size).map_err(WriteError::Output)
    }
}

/// Returns the names in directory `path`, sorted as bytes (as Nix does).
fn sorted_names(path: &Path) -> Result<Vec<OsString>, WriteError> {
    let mut names = Vec::new();
    for entry in fs_err::read_dir(path).map_err(WriteError::Input)? {
        names.push(entry.map_err(WriteError::Input)?.file_name());
    }
    names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

/// Names a file type that a NAR cannot hold: `socket`, `FIFO`, `block
/// device`, `character device`.
pub fn describe(file_type: FileType) -> &'static str {
    if file_type.is_socket() {
        "socket"
    } else if file_type.is_fifo() {
        "FIFO"
    } else if file_type.is_block_device() {
        "block device"
    } else if file_type.is_char_device() {
        "character device"
    } else {
        "file of unknown type"
    }
}

/// A low-level NAR writer: the caller describes nodes in NAR order and the
/// encoder frames them.
///
/// The encoder checks nothing: entries must come sorted by name, names must
/// be valid, and every start must be matched by its end, or the output is
/// not a valid NAR. [`dump`] uses it for file system trees.
pub struct Encoder<W: Write> {
    out: W,
    written: u64,
}

impl<W: Write> Encoder<W> {
    /// Returns an encoder that has written the NAR magic to `out`.
    pub fn new(out: W) -> io::Result<Self> {
        let mut encoder = Encoder { out, written: 0 };
        encoder.tokens(&[Token::Magic])?;
        Ok(encoder)
    }

    /// Returns how many bytes have been written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Writes a whole regular file node, reading exactly `size` bytes of
    /// contents from `contents`.
    pub fn regular(&mut self, executable: bool, size: u64, contents: impl Read) -> io::Result<()> {
        self.regular_start(executable, size)?;
        let copied = io::copy(&mut contents.take(size), &mut Counter(self))?;
        if copied != size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file contents ended before the announced size",
            ));
        }
        self.regular_end(size)
    }

    /// Starts a regular file of `size` bytes; its contents must follow in
    /// [`Encoder::contents`] calls, then [`Encoder::regular_end`].
    pub fn regular_start(&mut self, executable: bool, size: u64) -> io::Result<()> {
        if executable {
            self.tokens(&[
                Token::Open,
                Token::Type,
                Token::Regular,
                Token::Executable,
                Token::Empty,
                Token::Contents,
            ])?;
        } else {
            self.tokens(&[Token::Open, Token::Type, Token::Regular, Token::Contents])?;
        }
        write_u64(&mut self.out, size)?;
        self.written += 8;
        Ok(())
    }

    /// Writes a chunk of the current regular file's contents.
    pub fn contents(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.out.write_all(chunk)?;
        self.written += chunk.len() as u64;
        Ok(())
    }

    /// Ends a regular file of `size` bytes: padding and `)`.
    pub fn regular_end(&mut self, size: u64) -> io::Result<()> {
        write_padding(&mut self.out, size)?;
        self.written += padding_len(size) as u64;
        self.tokens(&[Token::Close])
    }

    /// Writes a whole symlink node.
    pub fn symlink(&mut self, target: &[u8]) -> io::Result<()> {
        self.tokens(&[Token::Open, Token::Type, Token::Symlink, Token::Target])?;
        self.string(target)?;
        self.tokens(&[Token::Close])
    }

    /// Starts a directory node; entries follow, then
    /// [`Encoder::directory_end`].
    pub fn directory_start(&mut self) -> io::Result<()> {
        self.tokens(&[Token::Open, Token::Type, Token::Directory])
    }

    /// Ends a directory node.
    pub fn directory_end(&mut self) -> io::Result<()> {
        self.tokens(&[Token::Close])
    }

    /// Starts a directory entry called `name`; its node follows, then
    /// [`Encoder::entry_end`].
    pub fn entry_start(&mut self, name: &[u8]) -> io::Result<()> {
        self.tokens(&[Token::Entry, Token::Open, Token::Name])?;
        self.string(name)?;
        self.tokens(&[Token::Node])
    }

    /// Ends a directory entry.
    pub fn entry_end(&mut self) -> io::Result<()> {
        self.tokens(&[Token::Close])
    }

    /// Returns the output.
    pub fn finish(self) -> io::Result<W> {
        Ok(self.out)
    }

    fn tokens(&mut self, tokens: &[Token]) -> io::Result<()> {
        write_tokens(&mut self.out, tokens)?;
        self.written += tokens
            .iter()
            .map(|t| super::wire::framed_len(t.as_bytes().len() as u64))
            .sum::<u64>();
        Ok(())
    }

    fn string(&mut self, bytes: &[u8]) -> io::Result<()> {
        write_bytes(&mut self.out, bytes)?;
        self.written += super::wire::framed_len(bytes.len() as u64);
        Ok(())
    }
}

impl<S: Sink> Encoder<S> {
    /// Reads at most `max` bytes of the current regular file's contents
    /// from `file` straight into the sink and returns how many were read,
    /// 0 at the end of the file.
    fn contents_from(&mut self, file: &mut impl Read, max: u64) -> Result<usize, WriteError> {
        let spare = self.out.spare().map_err(WriteError::Output)?;
        let want = usize::try_from(max).map_or(spare.len(), |max| max.min(spare.len()));
        let chunk = spare.get_mut(..want).unwrap_or_default();
        let n = loop {
            match file.read(chunk) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                read => break read.map_err(WriteError::Input)?,
            }
        };
        self.out.commit(n).map_err(WriteError::Output)?;
        self.written += n as u64;
        Ok(n)
    }
}

/// Adapts [`Encoder::contents`] to [`Write`] for `io::copy`.
struct Counter<'a, W: Write>(&'a mut Encoder<W>);

impl<W: Write> Write for Counter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.contents(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.out.flush()
    }
}
