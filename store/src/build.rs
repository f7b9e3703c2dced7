//! Running one derivation's builder in the sandbox.
//!
//! [`run`] takes a [`SandboxPlan`], creates the build's host directories,
//! starts the sandbox ([`crate::sandbox::start`]), and streams the builder's
//! log (stdout and stderr share one pipe, so a noisy builder cannot
//! deadlock on a full pipe nobody reads) to a caller-supplied sink while
//! enforcing the time limits:
//!
//! - `timeout`: the whole build's wall-clock limit (Nix's `--timeout`);
//! - `max_silent_time`: the longest the builder may print nothing (Nix's
//!   `--max-silent-time`);
//! - cancellation: a flag the caller sets (on Ctrl-C, or when a scheduler
//!   gives up), checked at least every [`CANCEL_POLL`].
//!
//! Any of them kills the whole sandbox at once. The last lines of the log
//! are kept for error messages ([`BuildOutcome::log_tail`]).
//!
//! What it does not do: check, canonicalise or register the outputs (the
//! builder's outputs are left in the scratch store, at
//! [`crate::sandbox::PlannedOutput::host_path`]).

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use thiserror::Error;

use crate::sandbox::{self, SandboxPlan, SetupError, Started};

/// How often a cancellation flag is looked at.
pub const CANCEL_POLL: Duration = Duration::from_millis(100);
/// The longest line kept whole in the log tail; longer ones are cut.
const MAX_TAIL_LINE: usize = 4096;

/// Limits and plumbing for one build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Kill the build after this long.
    pub timeout: Option<Duration>,
    /// Kill the build when it prints nothing for this long.
    pub max_silent_time: Option<Duration>,
    /// How many of the log's last lines to keep.
    pub log_lines: usize,
    /// Kill the build when this becomes true.
    pub cancel: Option<Arc<AtomicBool>>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            timeout: None,
            max_silent_time: None,
            log_lines: 25,
            cancel: None,
        }
    }
}

/// How a build ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildStatus {
    /// The builder exited with this code.
    Exited(i32),
    /// The builder was killed by this signal (from inside the sandbox).
    Signaled(i32),
    /// The build ran longer than its timeout and was killed.
    TimedOut(Duration),
    /// The build was silent longer than its limit and was killed.
    Silent(Duration),
    /// The build was cancelled and killed.
    Cancelled,
}

impl fmt::Display for BuildStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildStatus::Exited(code) => write!(f, "exited with code {code}"),
            BuildStatus::Signaled(signal) => write!(f, "was killed by signal {signal}"),
            BuildStatus::TimedOut(limit) => write!(f, "timed out after {}s", limit.as_secs_f64()),
            BuildStatus::Silent(limit) => {
                write!(f, "printed nothing for {}s", limit.as_secs_f64())
            }
            BuildStatus::Cancelled => write!(f, "was cancelled"),
        }
    }
}

/// What a finished build left: its status and the end of its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOutcome {
    /// How it ended.
    pub status: BuildStatus,
    /// The log's last lines (lossily decoded).
    pub log_tail: Vec<String>,
    /// Wall-clock time from start to end.
    pub elapsed: Duration,
}

impl BuildOutcome {
    /// Whether the builder exited with code 0.
    pub fn success(&self) -> bool {
        self.status == BuildStatus::Exited(0)
    }

    /// Returns the outcome if it is a success, else [`BuildError::Failed`].
    pub fn into_result(self) -> Result<BuildOutcome, BuildError> {
        if self.success() {
            Ok(self)
        } else {
            Err(BuildError::Failed {
                status: self.status,
                log_tail: self.log_tail,
            })
        }
    }
}

/// Why a build could not be run, or (from [`BuildOutcome::into_result`])
/// that it failed.
#[derive(Debug, Error)]
pub enum BuildError {
    /// Creating the build's directories or files failed.
    #[error("cannot prepare the build directory")]
    Prepare(#[source] io::Error),
    /// The sandbox could not be set up.
    #[error("cannot run the build in the sandbox")]
    Setup(#[from] SetupError),
    /// Reading the builder's log failed.
    #[error("cannot read the build log")]
    ReadLog(#[source] io::Error),
    /// The log sink refused the log; the build was killed.
    #[error("cannot write the build log")]
    WriteLog(#[source] io::Error),
    /// The builder failed.
    #[error("builder {status}")]
    Failed {
        /// How it ended.
        status: BuildStatus,
        /// The log's last lines.
        log_tail: Vec<String>,
    },
}

/// Runs the planned build, streaming its log into `log`.
///
/// Returns the outcome whether or not the builder succeeded; an `Err` means
/// the build could not be run (or its log not written) at all.
pub fn run(
    plan: &SandboxPlan,
    options: &BuildOptions,
    log: &mut dyn Write,
) -> Result<BuildOutcome, BuildError> {
    prepare_dirs(plan).map_err(BuildError::Prepare)?;
    // Unmounted when the build is over, however it ends.
    let _reversed = if plan.reverse_dirents {
        Some(
            sandbox::disorder::ReversedMount::mount(&plan.dirs.build, &plan.dirs.reversed_build)
                .map_err(BuildError::Prepare)?,
        )
    } else {
        None
    };
    let start = Instant::now();
    let (reader, writer) = io::pipe().map_err(SetupError::Spawn)?;
    let started = sandbox::start(plan, OwnedFd::from(writer))?;
    let mut pump = Pump::new(options, log, start);
    let pumped = pump.run(reader, &started);
    let reported = started.finish();
    let tail = pump.tail.lines();
    let stop = pumped?;
    let status = match (stop, reported?) {
        (Some(stop), _) => stop,
        (None, Some(raw)) => decode_status(raw),
        (None, None) => return Err(SetupError::NoReport.into()),
    };
    Ok(BuildOutcome {
        status,
        log_tail: tail,
        elapsed: start.elapsed(),
    })
}

/// Creates the host directories and writes the `passAsFile` files.
fn prepare_dirs(plan: &SandboxPlan) -> io::Result<()> {
    for dir in [&plan.dirs.build, &plan.dirs.store, &plan.dirs.root] {
        fs_err::create_dir_all(dir)?;
    }
    for file in &plan.build_files {
        fs_err::write(plan.dirs.build.join(&file.name), &file.contents)?;
    }
    Ok(())
}

fn decode_status(raw: i32) -> BuildStatus {
    if libc::WIFSIGNALED(raw) {
        BuildStatus::Signaled(libc::WTERMSIG(raw))
    } else {
        BuildStatus::Exited(libc::WEXITSTATUS(raw))
    }
}

/// Moves the log from the pipe to the sink and watches the limits.
struct Pump<'a> {
    options: &'a BuildOptions,
    log: &'a mut dyn Write,
    tail: LogTail,
    start: Instant,
    last_output: Instant,
    /// Why the build was killed, once it was.
    stopped: Option<BuildStatus>,
    /// The sink's error, once it failed (the rest of the log is dropped).
    sink_error: Option<io::Error>,
}

impl<'a> Pump<'a> {
    fn new(options: &'a BuildOptions, log: &'a mut dyn Write, start: Instant) -> Pump<'a> {
        let tail = LogTail::new(options.log_lines);
        Pump {
            options,
            log,
            tail,
            start,
            last_output: start,
            stopped: None,
            sink_error: None,
        }
    }

    /// Reads until every process in the sandbox has closed the pipe.
    /// Returns why the build was stopped, if it was.
    fn run(
        &mut self,
        mut reader: io::PipeReader,
        started: &Started,
    ) -> Result<Option<BuildStatus>, BuildError> {
        let mut buffer = vec![0; 64 * 1024];
        loop {
            let wait = if self.stopped.is_some() {
                None
            } else {
                self.next_wakeup()
            };
            let ready = readable(&reader, wait).map_err(BuildError::ReadLog)?;
            // Also after output: a build that never stops talking must
            // still time out or be cancelled.
            self.enforce_limits(started, ready);
            if !ready {
                continue;
            }
            match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(count) => self.take(buffer.get(..count).unwrap_or_default(), started),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    started.kill();
                    return Err(BuildError::ReadLog(error));
                }
            }
        }
        let _ = self.log.flush();
        match self.sink_error.take() {
            Some(error) => Err(BuildError::WriteLog(error)),
            None => Ok(self.stopped),
        }
    }

    /// Passes a chunk of log on; a sink that fails stops the build.
    fn take(&mut self, chunk: &[u8], started: &Started) {
        self.last_output = Instant::now();
        self.tail.push(chunk);
        if self.sink_error.is_none()
            && let Err(error) = self.log.write_all(chunk)
        {
            started.kill();
            self.sink_error = Some(error);
            self.stopped.get_or_insert(BuildStatus::Cancelled);
        }
    }

    /// Kills the build if a limit has been reached (once). Output waiting
    /// to be read means the build is not silent.
    fn enforce_limits(&mut self, started: &Started, output_waiting: bool) {
        if self.stopped.is_none() {
            self.stopped = self.check_limits(output_waiting);
            if self.stopped.is_some() {
                started.kill();
            }
        }
    }

    /// How long to wait for output before looking at the limits again.
    fn next_wakeup(&self) -> Option<Duration> {
        let now = Instant::now();
        let deadlines = [
            self.options.timeout.map(|limit| self.start + limit),
            self.options
                .max_silent_time
                .map(|limit| self.last_output + limit),
            self.options.cancel.as_ref().map(|_| now + CANCEL_POLL),
        ];
        deadlines
            .into_iter()
            .flatten()
            .min()
            .map(|deadline| deadline.saturating_duration_since(now))
    }

    fn check_limits(&self, output_waiting: bool) -> Option<BuildStatus> {
        let cancelled = self
            .options
            .cancel
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::SeqCst));
        if cancelled {
            return Some(BuildStatus::Cancelled);
        }
        if let Some(limit) = self.options.timeout
            && self.start.elapsed() >= limit
        {
            return Some(BuildStatus::TimedOut(limit));
        }
        if let Some(limit) = self.options.max_silent_time
            && !output_waiting
            && self.last_output.elapsed() >= limit
        {
            return Some(BuildStatus::Silent(limit));
        }
        None
    }
}

/// Waits until `reader` is readable (or at its end), or `wait` passes.
/// Returns whether it is readable.
fn readable(reader: &io::PipeReader, wait: Option<Duration>) -> io::Result<bool> {
    let timeout = wait.map(|wait| {
        Timespec::try_from(wait).unwrap_or(Timespec {
            tv_sec: i64::MAX,
            tv_nsec: 0,
        })
    });
    let mut fds = [PollFd::new(reader, PollFlags::IN)];
    match rustix::event::poll(&mut fds, timeout.as_ref()) {
        Ok(ready) => Ok(ready > 0),
        Err(rustix::io::Errno::INTR) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

/// The last lines of a log.
struct LogTail {
    lines: VecDeque<Vec<u8>>,
    partial: Vec<u8>,
    max: usize,
}

impl LogTail {
    fn new(max: usize) -> LogTail {
        LogTail {
            lines: VecDeque::new(),
            partial: Vec::new(),
            max,
        }
    }

    fn push(&mut self, mut bytes: &[u8]) {
        while let Some(end) = bytes.iter().position(|&byte| byte == b'\n') {
            let (line, rest) = bytes.split_at(end);
            self.extend_partial(line);
            let line = std::mem::take(&mut self.partial);
            self.lines.push_back(line);
            if self.lines.len() > self.max {
                self.lines.pop_front();
            }
            bytes = rest.get(1..).unwrap_or_default();
        }
        self.extend_partial(bytes);
    }

    fn extend_partial(&mut self, bytes: &[u8]) {
        let room = MAX_TAIL_LINE.saturating_sub(self.partial.len());
        self.partial
            .extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or_default());
    }

    fn lines(&self) -> Vec<String> {
        let partial = (!self.partial.is_empty()).then_some(&self.partial);
        let mut lines: Vec<String> = self
            .lines
            .iter()
            .chain(partial)
            .map(|line| String::from_utf8_lossy(line).into_owned())
            .collect();
        let excess = lines.len().saturating_sub(self.max);
        lines.drain(..excess);
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_last_lines() {
        let mut tail = LogTail::new(2);
        tail.push(b"one\ntwo\nthr");
        tail.push(b"ee\nfour");
        assert_eq!(tail.lines(), ["three", "four"]);
        let mut tail = LogTail::new(3);
        tail.push(b"a\n\nb\n");
        assert_eq!(tail.lines(), ["a", "", "b"]);
    }

    #[test]
    fn tail_cuts_long_lines() {
        let mut tail = LogTail::new(1);
        tail.push(&vec![b'x'; MAX_TAIL_LINE * 3]);
        tail.push(b"y\n");
        assert_eq!(tail.lines(), ["x".repeat(MAX_TAIL_LINE)]);
    }

    #[test]
    fn status_display() {
        assert_eq!(BuildStatus::Exited(2).to_string(), "exited with code 2");
        assert_eq!(
            BuildStatus::TimedOut(Duration::from_secs(3)).to_string(),
            "timed out after 3s"
        );
        assert_eq!(decode_status(0x0100), BuildStatus::Exited(1));
        assert_eq!(decode_status(9), BuildStatus::Signaled(9));
    }
}
