//! Where [`dump_to`](super::dump_to) sends a NAR.
//!
//! The framing is small and goes through [`Write`]; file contents are most
//! of the bytes, and they are read from the file straight into memory the
//! sink lends ([`Sink::spare`]). A sink that owns its buffers (the hashing
//! pipeline of [`crate::hash::hash_with`]) thus gets every byte of contents
//! with one copy, the kernel's. [`Buffered`] adapts any [`Write`].

use std::io::{self, BufWriter, Read, Write};

/// Size of [`Buffered`]'s buffers.
const BUFFER_SIZE: usize = 64 * 1024;

/// A destination for a NAR that lends memory to read file contents into.
pub trait Sink: Write {
    /// Returns free memory to read the next contents into: never empty.
    fn spare(&mut self) -> io::Result<&mut [u8]>;

    /// Marks the first `n` bytes of the last [`Sink::spare`] as written.
    fn commit(&mut self, n: usize) -> io::Result<()>;
}

/// Why [`fill`] stopped: the reader or the sink failed.
#[derive(Debug)]
pub enum FillError {
    /// Reading failed.
    Read(io::Error),
    /// The sink failed.
    Write(io::Error),
}

impl From<FillError> for io::Error {
    fn from(error: FillError) -> io::Error {
        match error {
            FillError::Read(e) | FillError::Write(e) => e,
        }
    }
}

/// Reads at most `max` bytes from `reader` straight into the memory `sink`
/// lends, and returns how many: 0 at the end of the reader. An interrupted
/// read is retried.
pub fn fill(sink: &mut impl Sink, reader: &mut impl Read, max: u64) -> Result<usize, FillError> {
    let spare = sink.spare().map_err(FillError::Write)?;
    let want = usize::try_from(max).map_or(spare.len(), |max| max.min(spare.len()));
    let chunk = spare.get_mut(..want).unwrap_or_default();
    let n = loop {
        match reader.read(chunk) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            read => break read.map_err(FillError::Read)?,
        }
    };
    sink.commit(n).map_err(FillError::Write)?;
    Ok(n)
}

impl<S: Sink + ?Sized> Sink for &mut S {
    fn spare(&mut self) -> io::Result<&mut [u8]> {
        (**self).spare()
    }

    fn commit(&mut self, n: usize) -> io::Result<()> {
        (**self).commit(n)
    }
}

/// A [`Sink`] over any writer: a large output buffer, and file contents
/// read through a buffer of their own.
pub struct Buffered<W: Write> {
    out: BufWriter<W>,
    buf: Box<[u8]>,
}

impl<W: Write> Buffered<W> {
    /// Wraps `out`, which should be unbuffered.
    pub fn new(out: W) -> Self {
        Buffered {
            out: BufWriter::with_capacity(BUFFER_SIZE, out),
            buf: vec![0; BUFFER_SIZE].into_boxed_slice(),
        }
    }
}

impl<W: Write> Write for Buffered<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.out.write(data)
    }

    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.out.write_all(data)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl<W: Write> Sink for Buffered<W> {
    fn spare(&mut self) -> io::Result<&mut [u8]> {
        Ok(&mut self.buf)
    }

    fn commit(&mut self, n: usize) -> io::Result<()> {
        self.out.write_all(self.buf.get(..n).unwrap_or_default())
    }
}
