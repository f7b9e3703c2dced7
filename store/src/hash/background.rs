//! Hashing on a second thread while the caller produces the data.
//!
//! Hashing a tree means reading files (system time) and hashing their bytes
//! (user time). Done in one thread the two add up; with [`hash_with`] the
//! producer fills buffers and a hashing thread consumes them, so on a
//! machine with two cores the wall time is close to the larger of the two.

use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use super::{Hash, HashAlgo, Hasher};

/// Size of each buffer handed to the hashing thread.
const CHUNK: usize = 1 << 20;

/// How many filled buffers may wait for the hashing thread.
const DEPTH: usize = 4;

/// Runs `produce` with a writer whose bytes are hashed with `algo` on
/// another thread, and returns the hash with `produce`'s result.
///
/// Returns early with `produce`'s error, if any; the hash of a partial
/// stream is never returned.
pub fn hash_with<T, E>(
    algo: HashAlgo,
    produce: impl FnOnce(&mut dyn Write) -> Result<T, E>,
) -> Result<(Hash, T), E> {
    let (full_tx, full_rx) = sync_channel::<Vec<u8>>(DEPTH);
    let (empty_tx, empty_rx) = sync_channel::<Vec<u8>>(DEPTH + 2);
    std::thread::scope(|scope| {
        let hashing = scope.spawn(move || consume(algo, &full_rx, &empty_tx));
        let mut writer = ChannelWriter {
            buf: Vec::with_capacity(CHUNK),
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

fn consume(algo: HashAlgo, full: &Receiver<Vec<u8>>, empty: &SyncSender<Vec<u8>>) -> Hash {
    let mut hasher = Hasher::new(algo);
    for mut buf in full {
        hasher.update(&buf);
        buf.clear();
        // The producer may be gone or have enough spare buffers; either is fine.
        let _ = empty.try_send(buf);
    }
    hasher.finish()
}

/// A writer that hands full buffers to the hashing thread.
struct ChannelWriter {
    buf: Vec<u8>,
    full: Option<SyncSender<Vec<u8>>>,
    empty: Receiver<Vec<u8>>,
}

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        let next = self
            .empty
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK));
        let full = std::mem::replace(&mut self.buf, next);
        let sender = self
            .full
            .as_ref()
            .ok_or_else(|| io::Error::other("hashing thread is gone"))?;
        sender
            .send(full)
            .map_err(|_| io::Error::other("hashing thread is gone"))
    }

    /// Sends what is left and closes the channel.
    fn finish(mut self) -> io::Result<()> {
        let result = if self.buf.is_empty() {
            Ok(())
        } else {
            self.send()
        };
        self.full = None;
        result
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.send()?;
        }
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
