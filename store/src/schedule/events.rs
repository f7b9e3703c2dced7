//! What the scheduler tells whoever draws its progress: one [`Event`] per
//! thing that happens, through the [`Reporter`] trait.
//!
//! Events are sent from the scheduler's task and from the threads that run
//! builds, so a reporter must be `Send + Sync` and cheap: it should record
//! and return, not block.

use std::time::Duration;

use crate::realise::check::CheckReport;
use crate::sandbox::Variation;
use crate::store_path::StorePath;

/// How a derivation is realised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// A builder run in the sandbox.
    Build,
    /// `builtin:fetchurl`: a download.
    Fetch,
    /// Another built-in builder (`builtin:unpack-v1`).
    Builtin,
}

impl JobKind {
    /// Returns a short lowercase name (`build`, `fetch`, `builtin`).
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Build => "build",
            JobKind::Fetch => "fetch",
            JobKind::Builtin => "builtin",
        }
    }
}

/// Something that happened while realising a graph.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// The graph is loaded: these derivations will be realised, in some
    /// order (the others' outputs are valid already).
    Planned {
        /// Derivations to build in the sandbox.
        builds: &'a [StorePath],
        /// Derivations with built-in builders (fetches, unpacking).
        builtins: &'a [StorePath],
    },
    /// A derivation's builder started (its outputs are locked and were
    /// found invalid).
    Started {
        /// The derivation.
        drv: &'a StorePath,
        /// What kind of job.
        kind: JobKind,
    },
    /// A chunk of a build's log (stdout and stderr together).
    Log {
        /// The derivation.
        drv: &'a StorePath,
        /// The bytes, as the builder wrote them.
        chunk: &'a [u8],
    },
    /// A download made progress.
    Download {
        /// The derivation fetching.
        drv: &'a StorePath,
        /// The URL being downloaded.
        url: &'a str,
        /// Bytes received so far.
        bytes: u64,
        /// The length, if the server said.
        total: Option<u64>,
    },
    /// A derivation's outputs are valid.
    Finished {
        /// The derivation.
        drv: &'a StorePath,
        /// What kind of job it was.
        kind: JobKind,
        /// `false` when another process produced the outputs while this
        /// one waited for their locks (nothing was run here).
        ran: bool,
        /// When the outputs were copied from an earlier build whose inputs
        /// had the same contents (early cutoff): its derivation.
        reused_from: Option<&'a StorePath>,
        /// Bytes downloaded (fetches only).
        bytes: u64,
        /// How long it took, lock waits included.
        elapsed: Duration,
    },
    /// A derivation failed.
    Failed {
        /// The derivation.
        drv: &'a StorePath,
        /// Why, in one line.
        error: &'a str,
        /// The last lines of its log.
        log_tail: &'a [String],
        /// How long it ran.
        elapsed: Duration,
    },
    /// A check of a derivation whose outputs are valid started: it is being
    /// built again, to be compared with them.
    CheckStarted {
        /// The derivation.
        drv: &'a StorePath,
        /// Which check (from 1).
        round: u32,
        /// How many checks in all.
        rounds: u32,
        /// What the check varies in the build's surroundings.
        variation: &'a Variation,
    },
    /// A check ended: the new build was compared with the registered
    /// outputs (a difference then fails the derivation).
    Checked {
        /// The derivation.
        drv: &'a StorePath,
        /// What the comparison found.
        report: &'a CheckReport,
    },
    /// A derivation will not be realised because one it depends on failed.
    NotBuilt {
        /// The derivation given up on.
        drv: &'a StorePath,
        /// The failed dependency.
        because: &'a StorePath,
    },
}

impl Event<'_> {
    /// Returns the derivation the event is about, if it is about one.
    pub fn drv(&self) -> Option<&StorePath> {
        match self {
            Event::Planned { .. } => None,
            Event::Started { drv, .. }
            | Event::Log { drv, .. }
            | Event::Download { drv, .. }
            | Event::Finished { drv, .. }
            | Event::Failed { drv, .. }
            | Event::CheckStarted { drv, .. }
            | Event::Checked { drv, .. }
            | Event::NotBuilt { drv, .. } => Some(drv),
        }
    }
}

/// Receives the scheduler's events.
pub trait Reporter: Send + Sync {
    /// Handles one event.
    fn event(&self, event: &Event<'_>);
}

/// A reporter that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoReporter;

impl Reporter for NoReporter {
    fn event(&self, _: &Event<'_>) {}
}
