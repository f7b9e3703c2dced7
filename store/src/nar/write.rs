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

use std::ffi::{CString, OsStr};
use std::io::{self, Read, Write};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, Mode, OFlags};

use super::sink::{Buffered, FillError, Sink};
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

/// Size of the buffer directory listings are read into: room for hundreds
/// of entries per `getdents` call.
const LISTING_BUFFER: usize = 32 * 1024;

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
    Dumper::new(&mut encoder).dump(path)?;
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

/// How many directories, from the root down, keep a descriptor open while
/// their entries are dumped. Deeper ones are closed once listed and their
/// entries opened by path, so a deep tree does not run out of descriptors.
const DIR_FDS: usize = 128;

/// The state of one directory being dumped: its descriptor, which its
/// entries are opened relative to (none below [`DIR_FDS`] levels), and the
/// entries left, sorted.
struct DirFrame {
    fd: Option<OwnedFd>,
    path: PathBuf,
    entries: std::vec::IntoIter<DirEntry>,
}

/// A directory entry: its name and the type the directory listing gave
/// (`Unknown` when the file system does not say).
struct DirEntry {
    name: CString,
    hint: rfs::FileType,
}

/// Walks a tree depth-first, without recursion, feeding an [`Encoder`].
///
/// Below the root, every file is opened relative to its directory's
/// descriptor, so the kernel resolves one name, not the whole path, and the
/// type from the directory listing saves a `stat` before the open: a
/// regular file costs `openat`, `fstat`, `read` and `close`. Paths are
/// built only for error messages.
struct Dumper<'a, S: Sink> {
    encoder: &'a mut Encoder<S>,
    /// The buffer directory listings are read into, reused.
    listing: Vec<MaybeUninit<u8>>,
}

impl<'a, S: Sink> Dumper<'a, S> {
    fn new(encoder: &'a mut Encoder<S>) -> Self {
        Dumper {
            encoder,
            listing: vec![MaybeUninit::uninit(); LISTING_BUFFER],
        }
    }

    fn dump(&mut self, root: &Path) -> Result<(), WriteError> {
        let mut stack: Vec<DirFrame> = Vec::new();
        if let Some(frame) = self.root(root)? {
            stack.push(frame);
        }
        while let Some(top) = stack.last_mut() {
            let Some(entry) = top.entries.next() else {
                stack.pop();
                self.encoder.directory_end().map_err(WriteError::Output)?;
                if !stack.is_empty() {
                    self.encoder.entry_end().map_err(WriteError::Output)?;
                }
                continue;
            };
            self.encoder
                .entry_start(entry.name.as_bytes())
                .map_err(WriteError::Output)?;
            let (fd, parent) = (top.fd.as_ref().map(AsFd::as_fd), top.path.as_path());
            match self.child(fd, parent, &entry)? {
                Some(mut frame) => {
                    if stack.len() >= DIR_FDS {
                        frame.fd = None;
                    }
                    stack.push(frame);
                }
                None => self.encoder.entry_end().map_err(WriteError::Output)?,
            }
        }
        Ok(())
    }

    /// Writes the root node, or for a directory only its start, and returns
    /// the directory's frame.
    fn root(&mut self, path: &Path) -> Result<Option<DirFrame>, WriteError> {
        let meta = fs_err::symlink_metadata(path).map_err(WriteError::Input)?;
        let file_type = meta.file_type();
        if file_type.is_symlink() {
            let target = fs_err::read_link(path).map_err(WriteError::Input)?;
            return self.symlink(target.as_os_str().as_bytes());
        }
        if !file_type.is_file() && !file_type.is_dir() {
            return Err(WriteError::Unsupported {
                path: path.to_owned(),
                kind: describe(meta.mode()),
            });
        }
        let fd =
            rfs::open(path, open_flags(), Mode::empty()).map_err(|e| input(e, "open", path))?;
        self.opened(fd, &|| path.to_owned())
    }

    /// Writes the node `entry` of the directory `parent`, open as `dir` (or
    /// not open: the entry is then found by its whole path), or for a
    /// directory only its start, and returns the directory's frame.
    fn child(
        &mut self,
        dir: Option<BorrowedFd<'_>>,
        parent: &Path,
        entry: &DirEntry,
    ) -> Result<Option<DirFrame>, WriteError> {
        let path = || parent.join(OsStr::from_bytes(entry.name.to_bytes()));
        let whole;
        let (dir, name) = match dir {
            Some(dir) => (dir, entry.name.as_c_str()),
            None => {
                whole = CString::new(path().into_os_string().into_vec())
                    .map_err(|e| input_io(io::Error::other(e), "open", &path()))?;
                (rfs::CWD, whole.as_c_str())
            }
        };
        let kind = match entry.hint {
            rfs::FileType::Unknown => rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
                .map(|st| rfs::FileType::from_raw_mode(st.st_mode))
                .map_err(|e| input(e, "query metadata of", &path()))?,
            hint => hint,
        };
        match kind {
            rfs::FileType::Symlink => {
                let target = rfs::readlinkat(dir, name, Vec::new())
                    .map_err(|e| input(e, "read link", &path()))?;
                self.symlink(target.as_bytes())
            }
            rfs::FileType::RegularFile | rfs::FileType::Directory => {
                let fd = rfs::openat(dir, name, open_flags(), Mode::empty())
                    .map_err(|e| input(e, "open", &path()))?;
                self.opened(fd, &path)
            }
            other => Err(WriteError::Unsupported {
                path: path(),
                kind: describe_type(other),
            }),
        }
    }

    /// Writes the regular file or the start of the directory open as `fd`,
    /// and returns the directory's frame; anything else is refused. `path`
    /// builds the file's path, for a directory's frame and for errors.
    fn opened(
        &mut self,
        fd: OwnedFd,
        path: &dyn Fn() -> PathBuf,
    ) -> Result<Option<DirFrame>, WriteError> {
        let st = rfs::fstat(&fd).map_err(|e| input(e, "query metadata of", &path()))?;
        match rfs::FileType::from_raw_mode(st.st_mode) {
            rfs::FileType::RegularFile => {
                // Nix checks `S_IXUSR` only; the group and other bits do
                // not count.
                let executable = st.st_mode & 0o100 != 0;
                let size = u64::try_from(st.st_size).unwrap_or_default();
                self.regular(std::fs::File::from(fd), executable, size, path)?;
                Ok(None)
            }
            rfs::FileType::Directory => {
                let path = path();
                let entries = self.list(&fd, &path)?;
                self.encoder.directory_start().map_err(WriteError::Output)?;
                Ok(Some(DirFrame {
                    fd: Some(fd),
                    path,
                    entries: entries.into_iter(),
                }))
            }
            other => Err(WriteError::Unsupported {
                path: path(),
                kind: describe_type(other),
            }),
        }
    }

    fn symlink(&mut self, target: &[u8]) -> Result<Option<DirFrame>, WriteError> {
        self.encoder.symlink(target).map_err(WriteError::Output)?;
        Ok(None)
    }

    fn regular(
        &mut self,
        mut file: std::fs::File,
        executable: bool,
        size: u64,
        path: &dyn Fn() -> PathBuf,
    ) -> Result<(), WriteError> {
        self.encoder
            .regular_start(executable, size)
            .map_err(WriteError::Output)?;
        let mut remaining = size;
        while remaining > 0 {
            let n = self
                .encoder
                .contents_from(&mut file, remaining)
                .map_err(|e| match e {
                    WriteError::Input(e) => input_io(e, "read", &path()),
                    e => e,
                })?;
            if n == 0 {
                return Err(WriteError::FileChanged {
                    path: path(),
                    expected: size,
                    got: size - remaining,
                });
            }
            remaining -= n as u64;
        }
        self.encoder.regular_end(size).map_err(WriteError::Output)
    }

    /// Returns the entries of the directory open as `fd`, without `.` and
    /// `..`, sorted by name as bytes (as Nix does).
    fn list(&mut self, fd: &OwnedFd, path: &Path) -> Result<Vec<DirEntry>, WriteError> {
        let mut entries = Vec::new();
        let mut raw = rfs::RawDir::new(fd, self.listing.as_mut_slice());
        while let Some(entry) = raw.next() {
            let entry = entry.map_err(|e| input(e, "read directory", path))?;
            let name = entry.file_name();
            if name == c"." || name == c".." {
                continue;
            }
            entries.push(DirEntry {
                name: name.to_owned(),
                hint: entry.file_type(),
            });
        }
        entries.sort_unstable_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        Ok(entries)
    }
}

/// How files and directories are opened. `NOFOLLOW`: a name that became a
/// symlink since the listing fails rather than leading elsewhere;
/// `NONBLOCK`: one that became a FIFO does not hang (`opened` then refuses
/// it).
fn open_flags() -> OFlags {
    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC
}

/// An input error naming what was done to which file.
fn input(errno: rustix::io::Errno, what: &str, path: &Path) -> WriteError {
    input_io(errno.into(), what, path)
}

fn input_io(error: io::Error, what: &str, path: &Path) -> WriteError {
    let message = format!("cannot {what} `{}`: {error}", path.display());
    WriteError::Input(io::Error::new(error.kind(), message))
}

/// Names the file type of a `stat` mode that a NAR cannot hold: `socket`,
/// `FIFO`, `block device`, `character device`.
pub fn describe(mode: u32) -> &'static str {
    describe_type(rfs::FileType::from_raw_mode(mode))
}

/// Names a file type, from a `stat` mode or a directory listing, that a
/// NAR cannot hold.
fn describe_type(file_type: rfs::FileType) -> &'static str {
    match file_type {
        rfs::FileType::Socket => "socket",
        rfs::FileType::Fifo => "FIFO",
        rfs::FileType::BlockDevice => "block device",
        rfs::FileType::CharacterDevice => "character device",
        _ => "file of unknown type",
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
        let n = super::sink::fill(&mut self.out, file, max).map_err(|e| match e {
            FillError::Read(e) => WriteError::Input(e),
            FillError::Write(e) => WriteError::Output(e),
        })?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Dumps the entry `name` of `dir` as the directory listing would have
    /// typed it (`hint`), and returns the NAR bytes or the error.
    fn dump_entry(dir: &Path, name: &str, hint: rfs::FileType) -> Result<Vec<u8>, WriteError> {
        let fd = rfs::open(dir, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
        let mut bytes = Vec::new();
        let mut encoder = Encoder::new(Buffered::new(&mut bytes)).unwrap();
        let mut dumper = Dumper::new(&mut encoder);
        let entry = DirEntry {
            name: CString::new(name).unwrap(),
            hint,
        };
        if let Some(frame) = dumper.child(Some(fd.as_fd()), dir, &entry)? {
            assert!(frame.entries.len() <= 1);
        }
        encoder.finish().unwrap().flush().unwrap();
        Ok(bytes)
    }

    fn tree() -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("file"), b"contents").unwrap();
        std::fs::create_dir(tmp.path().join("dir")).unwrap();
        std::fs::write(tmp.path().join("dir/inner"), b"x").unwrap();
        std::os::unix::fs::symlink("file", tmp.path().join("link")).unwrap();
        tmp
    }

    #[test]
    fn an_untyped_listing_is_looked_up() {
        let tmp = tree();
        for (name, hint) in [
            ("file", rfs::FileType::RegularFile),
            ("dir", rfs::FileType::Directory),
            ("link", rfs::FileType::Symlink),
        ] {
            let typed = dump_entry(tmp.path(), name, hint).unwrap();
            let untyped = dump_entry(tmp.path(), name, rfs::FileType::Unknown).unwrap();
            assert_eq!(typed, untyped, "{name}");
        }
    }

    #[test]
    fn a_name_that_changed_type_after_the_listing_is_refused() {
        let tmp = tree();
        // Listed as a file, now a symlink: not followed.
        let err = dump_entry(tmp.path(), "link", rfs::FileType::RegularFile).unwrap_err();
        let message = err.source_message();
        assert!(
            message.contains("cannot open") && message.contains("link"),
            "{message}"
        );
        // Listed as a file, now a FIFO: refused without hanging.
        let fifo = tmp.path().join("fifo");
        rustix::fs::mknodat(
            rfs::CWD,
            &fifo,
            rfs::FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let err = dump_entry(tmp.path(), "fifo", rfs::FileType::RegularFile).unwrap_err();
        assert!(
            matches!(&err, WriteError::Unsupported { kind: "FIFO", path } if *path == fifo),
            "{err:?}"
        );
        // Listed as a FIFO: refused without being opened.
        let err = dump_entry(tmp.path(), "fifo", rfs::FileType::Fifo).unwrap_err();
        assert!(matches!(err, WriteError::Unsupported { kind: "FIFO", .. }));
    }

    impl WriteError {
        fn source_message(&self) -> String {
            match self {
                WriteError::Input(e) => e.to_string(),
                other => other.to_string(),
            }
        }
    }

    #[test]
    fn below_the_levels_with_descriptors_entries_are_found_by_path() {
        // (`tests/nar.rs` runs this under a low descriptor limit.)
        let depth = DIR_FDS * 2;
        let tmp = tempfile::tempdir().unwrap();
        let mut path = tmp.path().to_owned();
        for _ in 0..depth {
            path.push("d");
        }
        std::fs::create_dir_all(&path).unwrap();
        std::fs::write(path.join("f"), b"bottom").unwrap();
        let mut expected = Encoder::new(Vec::new()).unwrap();
        for _ in 0..depth {
            expected.directory_start().unwrap();
            expected.entry_start(b"d").unwrap();
        }
        expected.directory_start().unwrap();
        expected.entry_start(b"f").unwrap();
        expected.regular(false, 6, &b"bottom"[..]).unwrap();
        expected.entry_end().unwrap();
        for _ in 0..depth {
            expected.directory_end().unwrap();
            expected.entry_end().unwrap();
        }
        expected.directory_end().unwrap();
        let mut got = Vec::new();
        dump(tmp.path(), &mut got).unwrap();
        assert_eq!(got, expected.finish().unwrap());
    }
}
