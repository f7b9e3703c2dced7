//! Hashing on a second thread while the caller produces the data.
//!
//! Hashing a tree means reading files (system time) and hashing their bytes
//! (user time). Done in one thread the two add up; with [`hash_with`] the
//! producer fills buffers and a hashing thread consumes them, so on a
//! machine with two cores the wall time is close to the larger of the two.

use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};

use super::{Hash, HashAlgo, Hasher};
use crate::nar::Sink;

/// Size of each buffer handed to the hashing thread.
const CHUNK: usize = 1 << 20;

/// How many buffers there are at most: one being filled, one being hashed,
/// the rest waiting for the hashing thread.
///
/// This is how far the producer may run ahead: 128 MiB. Hashing a tree
/// alternates between parts where hashing is the slower side (large files:
/// one `read` per megabyte) and parts where reading is (small files: four
/// system calls each, as much CPU as hashing them). A deep pool lets the
/// reading thread use the time the hashing thread spends on large files to
/// read ahead into the small ones. On `bench/hash` (1 GiB, a quarter of it
/// in 32,000 small files), against nix-hash's 1.0 s: a pool of 6 MiB took
/// 0.70 s, 64 MiB 0.68 s, 128 MiB 0.63-0.65 s, for a peak RSS of 14, 73 and
/// 136 MiB. Buffers are allocated only when the producer is ahead, so
/// hashing a small tree never holds more than it needs.
const POOL: usize = 128;

/// A buffer and how many of its bytes are data.
struct Filled {
    buf: Vec<u8>,
    len: usize,
}

/// Runs `produce` with a writer whose bytes are hashed with `algo` on
/// another thread, and returns the hash with `produce`'s result.
///
/// The writer is a [`Sink`], so a NAR can be dumped into it with
/// [`crate::nar::dump_to`], file contents going straight into its buffers.
/// Returns early with `produce`'s error, if any; the hash of a partial
/// stream is never returned.
pub fn hash_with<T, E>(
    algo: HashAlgo,
    produce: impl FnOnce(&mut HashWriter) -> Result<T, E>,
) -> Result<(Hash, T), E> {
    let (full_tx, full_rx) = sync_channel::<Filled>(POOL);
    let (empty_tx, empty_rx) = sync_channel::<Vec<u8>>(POOL);
    std::thread::scope(|scope| {
        let hashing = scope.spawn(move || consume(algo, &full_rx, &empty_tx));
        let mut writer = HashWriter {
            buf: Vec::new(),
            len: 0,
            allocated: 0,
            full: Some(full_tx),
            empty: empty_rx,
        };
        let produced = produce(&mut writer);
        // `finish` fails only when the hashing thread is gone, which can only
        // be a panic, and `join` below resumes that panic.
        let _ = writer.finish();
        // The hashing thread only ends when the sending side is dropped,
        // which `finish` did; it cannot panic on data.
        let hash = hashing
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let value = produced?;
        Ok((hash, value))
    })
}

fn consume(algo: HashAlgo, full: &Receiver<Filled>, empty: &SyncSender<Vec<u8>>) -> Hash {
    let mut hasher = Hasher::new(algo);
    for Filled { buf, len } in full {
        hasher.update(buf.get(..len).unwrap_or_default());
        // The pool holds every buffer, so this never blocks; the producer
        // may be gone, which is fine.
        let _ = empty.try_send(buf);
    }
    hasher.finish()
}

/// The writer [`hash_with`] lends: it fills fixed-size buffers from a small
/// pool and hands each full one to the hashing thread.
pub struct HashWriter {
    /// The buffer being filled: empty when none is held, else `CHUNK` long.
    buf: Vec<u8>,
    /// How many bytes of `buf` are data.
    len: usize,
    /// How many buffers have been allocated.
    allocated: usize,
    full: Option<SyncSender<Filled>>,
    empty: Receiver<Vec<u8>>,
}

fn gone() -> io::Error {
    io::Error::other("hashing thread is gone")
}

impl HashWriter {
    /// Returns a buffer to fill: a recycled one, a new one while the pool
    /// is not full, else the next one the hashing thread gives back.
    fn take(&mut self) -> io::Result<Vec<u8>> {
        match self.empty.try_recv() {
            Ok(buf) => Ok(buf),
            Err(TryRecvError::Empty) if self.allocated < POOL => {
                self.allocated += 1;
                Ok(vec![0; CHUNK])
            }
            Err(_) => self.empty.recv().map_err(|_| gone()),
        }
    }

    /// Hands the current buffer to the hashing thread.
    fn send(&mut self) -> io::Result<()> {
        let buf = std::mem::take(&mut self.buf);
        let len = std::mem::take(&mut self.len);
        let sender = self.full.as_ref().ok_or_else(gone)?;
        sender.send(Filled { buf, len }).map_err(|_| gone())
    }

    /// Sends what is left and closes the channel.
    fn finish(mut self) -> io::Result<()> {
        let result = if self.len == 0 { Ok(()) } else { self.send() };
        self.full = None;
        result
    }
}

impl Sink for HashWriter {
    fn spare(&mut self) -> io::Result<&mut [u8]> {
        if self.buf.is_empty() {
            self.buf = self.take()?;
        }
        Ok(self.buf.get_mut(self.len..).unwrap_or_default())
    }

    fn commit(&mut self, n: usize) -> io::Result<()> {
        self.len = (self.len + n).min(self.buf.len());
        if self.len == self.buf.len() {
            self.send()?;
        }
        Ok(())
    }
}

impl Write for HashWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let spare = self.spare()?;
        let n = data.len().min(spare.len());
        spare
            .get_mut(..n)
            .unwrap_or_default()
            .copy_from_slice(data.get(..n).unwrap_or_default());
        self.commit(n)?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_hash_as_one_thread() {
        let data: Vec<u8> = (0..5_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let (hash, n) = hash_with(HashAlgo::Sha256, |w| {
            w.write_all(&data).map(|()| data.len())
        })
        .unwrap();
        assert_eq!(n, data.len());
        assert_eq!(hash, Hash::sha256(&data));
        let (empty, ()) = hash_with(HashAlgo::Sha1, |_| Ok::<_, io::Error>(())).unwrap();
        assert_eq!(empty, Hash::digest(HashAlgo::Sha1, b""));
    }

    #[test]
    fn producer_errors_are_returned() {
        let result: Result<(Hash, ()), &str> = hash_with(HashAlgo::Sha256, |w| {
            w.write_all(b"partial").map_err(|_| "io")?;
            Err("boom")
        });
        assert_eq!(result.unwrap_err(), "boom");
    }
}
