//! [`dump_prefetching`]: the NAR of a tree, with its small files read
//! ahead on worker threads.
//!
//! Hashing a tree is two kinds of work: system calls per file (open, read,
//! close) and hashing bytes. The hash is one sequential stream, so the
//! hashing thread sets the pace for large files; for trees of many small
//! files, the system calls do, and one thread making them leaves the other
//! core idle. Here a walker thread lists directories (in NAR order) and
//! hands small files, in batches, to reading threads; the caller's thread
//! writes the NAR in order, taking each small file's contents from its
//! batch and reading large files itself, straight into the sink.
//!
//! The output is byte for byte [`dump_to`](super::dump_to)'s, and so is
//! the first error, in NAR order. Memory is bounded: small files read
//! ahead but not yet written hold at most [`BUDGET`] bytes (one batch more
//! when a single batch is larger).

use std::collections::{BTreeMap, VecDeque};
use std::ffi::OsString;
use std::fs::Metadata;
use std::io::{self, Read};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use super::sink::Sink;
use super::write::{Encoder, WriteError, describe, sorted_entries};

/// Files up to this size are read ahead; larger ones are read by the
/// writing thread straight into the sink.
const SMALL: u64 = 256 * 1024;

/// A batch closes at this many files…
const BATCH_FILES: usize = 64;

/// …or at this many bytes.
const BATCH_BYTES: u64 = 1 << 20;

/// Bytes of small files read ahead and not yet written, at most.
const BUDGET: u64 = 64 << 20;

// The writer gives a batch's budget back when it needs the next batch, so
// two batches must always fit (see `Walker::dispatch`).
const _: () = assert!(2 * (BATCH_BYTES + SMALL) <= BUDGET);

/// Threads reading small files.
const READERS: usize = 2;

/// Steps per message from the walker to the writer.
const STEPS_PER_MESSAGE: usize = 512;

/// Writes the NAR serialisation of the tree at `path` to `sink`, as
/// [`dump_to`](super::dump_to) does, reading small files ahead on other
/// threads, and returns the number of bytes written.
pub fn dump_prefetching(path: &Path, sink: impl Sink) -> Result<u64, WriteError> {
    let shared = Shared::default();
    let (steps_tx, steps_rx) = sync_channel::<Vec<Step>>(64);
    std::thread::scope(|scope| {
        let shared = &shared;
        scope.spawn(move || {
            let _closes = CloseOnDrop(shared);
            Walker::new(shared, steps_tx).run(path);
        });
        for _ in 0..READERS {
            shared.readers.fetch_add(1, Ordering::SeqCst);
            scope.spawn(move || {
                let _gone = ReaderGone(shared);
                read_batches(shared);
            });
        }
        let written = write_steps(shared, &steps_rx, sink);
        // Whatever happened, stop the other threads: the walker when it
        // next sends or waits for the budget, the readers when the queue
        // is empty.
        shared.cancel();
        drop(steps_rx);
        written
    })
}

/// One thing the writer does, in NAR order.
enum Step {
    DirStart,
    DirEnd,
    EntryStart(OsString),
    EntryEnd,
    Symlink(Vec<u8>),
    /// A small file: its contents are the next ones in the batches.
    Small {
        executable: bool,
        size: u64,
    },
    /// A large file, for the writer to read.
    Large {
        path: PathBuf,
        executable: bool,
        size: u64,
    },
    /// The walk stopped here.
    Failed(WriteError),
}

/// Small files for a reading thread, in NAR order.
struct Batch {
    seq: u64,
    files: Vec<(PathBuf, u64)>,
    bytes: u64,
}

/// What a reading thread made of a batch: the contents one after the
/// other, or the error of the file where it stopped.
struct ReadAhead {
    data: Vec<u8>,
    /// How many of the batch's files are in `data`.
    files: usize,
    /// Why the file after them could not be read.
    error: Option<WriteError>,
    /// The batch's budget, given back once it is written.
    bytes: u64,
}

/// The state the threads share.
#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    queued: Condvar,
    results: Mutex<BTreeMap<u64, ReadAhead>>,
    resulted: Condvar,
    /// Bytes of batches handed out and not yet written.
    in_flight: Mutex<u64>,
    released: Condvar,
    cancelled: AtomicBool,
    /// Reading threads still running.
    readers: AtomicUsize,
    /// A reading thread panicked, and its batch is lost.
    reader_panicked: AtomicBool,
}

#[derive(Default)]
struct Queue {
    batches: VecDeque<Batch>,
    closed: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Waits until `bytes` more fit the budget (or nothing is in flight),
    /// then counts them in; false once cancelled.
    fn reserve(&self, bytes: u64) -> bool {
        let mut in_flight = lock(&self.in_flight);
        loop {
            if self.cancelled.load(Ordering::SeqCst) {
                return false;
            }
            if *in_flight == 0 || *in_flight + bytes <= BUDGET {
                *in_flight += bytes;
                return true;
            }
            in_flight = self
                .released
                .wait(in_flight)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn release(&self, bytes: u64) {
        let mut in_flight = lock(&self.in_flight);
        *in_flight = in_flight.saturating_sub(bytes);
        self.released.notify_all();
    }

    fn close(&self) {
        lock(&self.queue).closed = true;
        self.queued.notify_all();
    }

    fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        lock(&self.queue).batches.clear();
        self.close();
        // Take the lock so that a walker between its check and its wait
        // cannot miss the notification.
        drop(lock(&self.in_flight));
        self.released.notify_all();
    }

    /// Waits for batch `seq`'s contents; `None` when no reading thread is
    /// left to produce them (one panicked: the scope resumes the panic).
    fn take_result(&self, seq: u64) -> Option<ReadAhead> {
        let mut results = lock(&self.results);
        loop {
            if let Some(read) = results.remove(&seq) {
                return Some(read);
            }
            if self.readers.load(Ordering::SeqCst) == 0
                || self.reader_panicked.load(Ordering::SeqCst)
            {
                return None;
            }
            results = self
                .resulted
                .wait(results)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// Closes the queue when the walker ends, however it ends.
struct CloseOnDrop<'a>(&'a Shared);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Counts a reading thread out when it ends, however it ends, and wakes
/// the writer so that it does not wait for a batch nobody will read.
struct ReaderGone<'a>(&'a Shared);

impl Drop for ReaderGone<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.reader_panicked.store(true, Ordering::SeqCst);
        }
        self.0.readers.fetch_sub(1, Ordering::SeqCst);
        drop(lock(&self.0.results));
        self.0.resulted.notify_all();
    }
}

/// A reading thread: reads batches until the queue is closed and empty.
fn read_batches(shared: &Shared) {
    loop {
        let batch = {
            let mut queue = lock(&shared.queue);
            loop {
                if let Some(batch) = queue.batches.pop_front() {
                    break batch;
                }
                if queue.closed {
                    return;
                }
                queue = shared
                    .queued
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        let seq = batch.seq;
        let read = read_batch(batch);
        lock(&shared.results).insert(seq, read);
        shared.resulted.notify_all();
    }
}

/// Reads a batch's files one after the other into one buffer.
fn read_batch(batch: Batch) -> ReadAhead {
    let capacity = usize::try_from(batch.bytes).unwrap_or(0);
    let mut read = ReadAhead {
        data: Vec::with_capacity(capacity),
        files: 0,
        error: None,
        bytes: batch.bytes,
    };
    for (path, size) in &batch.files {
        match read_exactly(path, *size, &mut read.data) {
            Ok(()) => read.files += 1,
            Err(error) => {
                read.error = Some(error);
                break;
            }
        }
    }
    read
}

/// Appends the first `size` bytes of the file at `path` to `data`.
fn read_exactly(path: &Path, size: u64, data: &mut Vec<u8>) -> Result<(), WriteError> {
    let file = fs_err::File::open(path).map_err(WriteError::Input)?;
    let before = data.len();
    file.take(size)
        .read_to_end(data)
        .map_err(WriteError::Input)?;
    let got = (data.len() - before) as u64;
    if got < size {
        return Err(WriteError::FileChanged {
            path: path.to_owned(),
            expected: size,
            got,
        });
    }
    Ok(())
}

/// A directory being walked: its path and its entries still to visit.
struct Frame {
    path: PathBuf,
    entries: std::vec::IntoIter<(OsString, Metadata)>,
}

/// Lists the tree in NAR order, sending steps to the writer and small
/// files to the reading threads.
struct Walker<'a> {
    shared: &'a Shared,
    out: SyncSender<Vec<Step>>,
    steps: Vec<Step>,
    batch: Batch,
    /// False once the writer is gone or the walk is cancelled.
    going: bool,
}

impl<'a> Walker<'a> {
    fn new(shared: &'a Shared, out: SyncSender<Vec<Step>>) -> Self {
        Walker {
            shared,
            out,
            steps: Vec::with_capacity(STEPS_PER_MESSAGE),
            batch: Batch {
                seq: 0,
                files: Vec::new(),
                bytes: 0,
            },
            going: true,
        }
    }

    fn run(mut self, root: &Path) {
        if let Err(error) = self.walk(root) {
            self.push(Step::Failed(error));
        }
        self.flush();
    }

    fn walk(&mut self, root: &Path) -> Result<(), WriteError> {
        let meta = fs_err::symlink_metadata(root).map_err(WriteError::Input)?;
        let mut stack: Vec<Frame> = Vec::new();
        if let Some(frame) = self.node(root.to_owned(), &meta)? {
            stack.push(frame);
        }
        while let Some(top) = stack.last_mut() {
            if !self.going {
                return Ok(());
            }
            let Some((name, meta)) = top.entries.next() else {
                stack.pop();
                self.push(Step::DirEnd);
                if !stack.is_empty() {
                    self.push(Step::EntryEnd);
                }
                continue;
            };
            let path = top.path.join(&name);
            self.push(Step::EntryStart(name));
            match self.node(path, &meta)? {
                Some(frame) => stack.push(frame),
                None => self.push(Step::EntryEnd),
            }
        }
        Ok(())
    }

    /// Describes the node at `path`, or for a directory its start, and
    /// returns the directory's frame.
    fn node(&mut self, path: PathBuf, meta: &Metadata) -> Result<Option<Frame>, WriteError> {
        let file_type = meta.file_type();
        if file_type.is_dir() {
            let entries = sorted_entries(&path)?;
            self.push(Step::DirStart);
            return Ok(Some(Frame {
                path,
                entries: entries.into_iter(),
            }));
        }
        if file_type.is_symlink() {
            let target = fs_err::read_link(&path).map_err(WriteError::Input)?;
            self.push(Step::Symlink(target.into_os_string().into_vec()));
        } else if file_type.is_file() {
            // Nix checks `S_IXUSR` only; the group and other bits do not count.
            let executable = meta.permissions().mode() & 0o100 != 0;
            let size = meta.len();
            if size <= SMALL {
                self.small(path, size);
                self.push(Step::Small { executable, size });
            } else {
                self.push(Step::Large {
                    path,
                    executable,
                    size,
                });
            }
        } else {
            return Err(WriteError::Unsupported {
                path,
                kind: describe(file_type),
            });
        }
        Ok(None)
    }

    fn small(&mut self, path: PathBuf, size: u64) {
        self.batch.files.push((path, size));
        self.batch.bytes += size;
        if self.batch.files.len() >= BATCH_FILES || self.batch.bytes >= BATCH_BYTES {
            self.dispatch();
        }
    }

    /// Hands the batch being filled to the reading threads, once the
    /// budget has room for it.
    fn dispatch(&mut self) {
        if self.batch.files.is_empty() || !self.going {
            return;
        }
        let seq = self.batch.seq;
        let batch = std::mem::replace(
            &mut self.batch,
            Batch {
                seq: seq + 1,
                files: Vec::with_capacity(BATCH_FILES),
                bytes: 0,
            },
        );
        // This wait ends: the steps naming earlier batches were all sent
        // (a batch is dispatched before the steps that name it are), so
        // the writer can take every earlier batch, giving back all but
        // the last one, and two batches fit the budget.
        if !self.shared.reserve(batch.bytes) {
            self.going = false;
            return;
        }
        lock(&self.shared.queue).batches.push_back(batch);
        self.shared.queued.notify_one();
    }

    fn push(&mut self, step: Step) {
        self.steps.push(step);
        if self.steps.len() >= STEPS_PER_MESSAGE {
            self.flush();
        }
    }

    /// Dispatches the batch being filled, then sends the steps so far.
    fn flush(&mut self) {
        self.dispatch();
        if self.steps.is_empty() || !self.going {
            return;
        }
        let steps = std::mem::replace(&mut self.steps, Vec::with_capacity(STEPS_PER_MESSAGE));
        if self.out.send(steps).is_err() {
            self.going = false;
        }
    }
}

/// The contents of small files, batch after batch, as the writer takes
/// them.
struct Contents<'a> {
    shared: &'a Shared,
    next_seq: u64,
    current: Option<ReadAhead>,
    /// Files of `current` taken so far, and where the next one starts.
    taken: usize,
    offset: usize,
}

impl Contents<'_> {
    /// Returns the next small file's `size` bytes.
    fn next(&mut self, size: u64) -> Result<&[u8], WriteError> {
        let current = match self.current.take() {
            Some(read) if self.taken < read.files || read.error.is_some() => read,
            finished => {
                if let Some(read) = finished {
                    self.shared.release(read.bytes);
                }
                let read = self.shared.take_result(self.next_seq).ok_or_else(|| {
                    WriteError::Input(io::Error::other("a reading thread stopped"))
                })?;
                self.next_seq += 1;
                self.taken = 0;
                self.offset = 0;
                read
            }
        };
        let current = self.current.insert(current);
        if self.taken == current.files
            && let Some(error) = current.error.take()
        {
            return Err(error);
        }
        let len = usize::try_from(size).unwrap_or(usize::MAX);
        let start = self.offset;
        let chunk = current
            .data
            .get(start..start.saturating_add(len))
            .ok_or_else(|| {
                WriteError::Input(io::Error::other("read-ahead contents out of step"))
            })?;
        self.taken += 1;
        self.offset += len;
        Ok(chunk)
    }
}

/// The writing side: turns the steps into the NAR, in order.
fn write_steps(
    shared: &Shared,
    steps: &Receiver<Vec<Step>>,
    sink: impl Sink,
) -> Result<u64, WriteError> {
    let mut encoder = Encoder::new(sink).map_err(WriteError::Output)?;
    let mut contents = Contents {
        shared,
        next_seq: 0,
        current: None,
        taken: 0,
        offset: 0,
    };
    for message in steps {
        for step in message {
            write_step(&mut encoder, &mut contents, step)?;
        }
    }
    let written = encoder.written();
    encoder
        .finish()
        .and_then(|mut out| out.flush())
        .map_err(WriteError::Output)?;
    Ok(written)
}

fn write_step<S: Sink>(
    encoder: &mut Encoder<S>,
    contents: &mut Contents<'_>,
    step: Step,
) -> Result<(), WriteError> {
    let output = |result: io::Result<()>| result.map_err(WriteError::Output);
    match step {
        Step::DirStart => output(encoder.directory_start()),
        Step::DirEnd => output(encoder.directory_end()),
        Step::EntryStart(name) => output(encoder.entry_start(name.as_bytes())),
        Step::EntryEnd => output(encoder.entry_end()),
        Step::Symlink(target) => output(encoder.symlink(&target)),
        Step::Small { executable, size } => {
            let data = contents.next(size)?;
            output(encoder.regular_start(executable, size))?;
            output(encoder.contents(data))?;
            output(encoder.regular_end(size))
        }
        Step::Large {
            path,
            executable,
            size,
        } => encoder.regular_file(&path, executable, size),
        Step::Failed(error) => Err(error),
    }
}

/// Reads `files` as a reading thread would: the contents, how many files
/// were read whole, and the error that stopped it.
#[cfg(test)]
pub(super) fn read_batch_for_test(files: &[(&Path, u64)]) -> (Vec<u8>, usize, Option<WriteError>) {
    let batch = Batch {
        seq: 0,
        files: files
            .iter()
            .map(|(path, size)| (path.to_path_buf(), *size))
            .collect(),
        bytes: files.iter().map(|(_, size)| size).sum(),
    };
    let read = read_batch(batch);
    (read.data, read.files, read.error)
}
