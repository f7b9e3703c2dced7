//! The scheduler: realises a graph of derivations, many at once.
//!
//! [`realise`] loads the [`Graph`] below the root `.drv`s from the store
//! (a derivation whose outputs are all valid is a leaf), then starts each
//! derivation whose inputs are done, at most [`ScheduleOptions::jobs`] at a
//! time, on a tokio multi-thread runtime: each job is a blocking task
//! ([`crate::realise::job::Realiser::realise`]: lock, check, build or
//! fetch, register). Progress goes to a [`Reporter`] as [`Event`]s.
//!
//! Failures and stopping:
//!
//! - A failed derivation is reported with its error and log tail, and
//!   every derivation that depends on it (transitively) is given up
//!   ([`Event::NotBuilt`]).
//! - Without `keep_going`, the first failure stops new jobs from starting;
//!   jobs already running are left to finish and their outputs are
//!   registered (they are correct, and a rerun would only redo them). With
//!   `keep_going`, everything not depending on a failure is realised.
//! - Cancellation (the [`RealiseOptions::cancel`] flag, which
//!   [`realise_blocking`] sets on SIGINT and SIGTERM when asked) kills
//!   running sandboxed builds, abandons running downloads, registers
//!   nothing more, and ends the run with [`Summary::cancelled`].
//!
//! With [`ScheduleOptions::check`] the roots are checked, and with
//! [`RealiseOptions::rounds`] what is built is built several times
//! ([`crate::realise::check`]); a difference fails the derivation.
//!
//! Several kiln processes may realise overlapping graphs in one store at
//! once: per-path locks make each derivation be built once, the others
//! waiting and then finding its outputs valid (`ran: false`).
//!
//! There are no substitutes (binary caches) yet.
//!
//! [`RealiseOptions::cancel`]: crate::realise::job::RealiseOptions::cancel
//! [`RealiseOptions::rounds`]: crate::realise::job::RealiseOptions::rounds

pub mod events;
pub mod graph;
mod run;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub use events::{Event, JobKind, NoReporter, Reporter};
pub use graph::{Graph, GraphError};
pub use run::error_chain;

use crate::realise::job::{RealiseError, Realised, Realiser};
use crate::store_path::StorePath;

/// How a run is scheduled.
#[derive(Debug, Clone)]
pub struct ScheduleOptions {
    /// How many derivations are realised at once (at least 1).
    pub jobs: usize,
    /// Realise everything that does not depend on a failure, rather than
    /// stopping at the first.
    pub keep_going: bool,
    /// Check the roots: realise them if needed, then build them again and
    /// compare ([`crate::realise::check`]).
    pub check: bool,
}

impl Default for ScheduleOptions {
    fn default() -> Self {
        ScheduleOptions {
            jobs: std::thread::available_parallelism().map_or(1, usize::from),
            keep_going: false,
            check: false,
        }
    }
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Derivations whose sandboxed builder ran here and succeeded.
    pub built: Vec<StorePath>,
    /// Derivations whose built-in builder ran here and succeeded.
    pub builtins: Vec<StorePath>,
    /// Bytes downloaded by fetches.
    pub fetched_bytes: u64,
    /// How many of `builtins` were downloads.
    pub fetched: usize,
    /// Derivations not built because an earlier build (the second path)
    /// had inputs with the same contents: its outputs were copied (early
    /// cutoff). They are in `built` too.
    pub reused: Vec<(StorePath, StorePath)>,
    /// Derivations another process realised while this one waited.
    pub done_elsewhere: Vec<StorePath>,
    /// Derivations built again and found identical to their registered
    /// outputs (every check passed).
    pub checked: Vec<StorePath>,
    /// Derivations that failed, with why.
    pub failed: Vec<(StorePath, RealiseError)>,
    /// Derivations given up on because an input failed.
    pub not_built: Vec<StorePath>,
    /// Derivations that never finished because the run stopped early (a
    /// failure without `keep_going`, or cancellation).
    pub not_started: Vec<StorePath>,
    /// The run was cancelled.
    pub cancelled: bool,
    /// How long the run took.
    pub elapsed: Duration,
}

impl Summary {
    /// Whether everything asked for was realised.
    pub fn success(&self) -> bool {
        self.failed.is_empty()
            && self.not_built.is_empty()
            && self.not_started.is_empty()
            && !self.cancelled
    }

    fn record(&mut self, drv: &StorePath, realised: &Realised) {
        if let Some(earlier) = &realised.reused_from {
            self.reused.push((drv.clone(), earlier.clone()));
        }
        if realised.checks > 0 {
            self.checked.push(drv.clone());
        }
        if !realised.ran {
            if realised.checks == 0 {
                self.done_elsewhere.push(drv.clone());
            }
        } else if realised.kind == JobKind::Build {
            self.built.push(drv.clone());
        } else {
            if realised.kind == JobKind::Fetch {
                self.fetched += 1;
            }
            self.fetched_bytes += realised.bytes;
            self.builtins.push(drv.clone());
        }
    }
}

/// Realises every needed derivation of `graph`.
pub async fn realise(
    realiser: &Arc<Realiser>,
    graph: &Arc<Graph>,
    options: &ScheduleOptions,
    reporter: &Arc<dyn Reporter>,
) -> Summary {
    let (builds, builtins): (Vec<_>, Vec<_>) = graph
        .needed()
        .map(|(_, node)| (node.drv_path.clone(), Realiser::kind(&node.drv)))
        .partition(|(_, kind)| *kind == JobKind::Build);
    let strip = |list: Vec<(StorePath, JobKind)>| list.into_iter().map(|(p, _)| p).collect();
    let (builds, builtins): (Vec<StorePath>, Vec<StorePath>) = (strip(builds), strip(builtins));
    reporter.event(&Event::Planned {
        builds: &builds,
        builtins: &builtins,
    });
    run::run(realiser, graph, options, reporter).await
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The graph could not be loaded.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// The runtime could not be started.
    #[error("cannot start the scheduler's runtime")]
    Runtime(#[source] std::io::Error),
}

/// Loads the graph below `roots` and realises it on a runtime of its own,
/// returning the graph and what was done. With `signals`, SIGINT and
/// SIGTERM cancel the run (see the module documentation).
pub fn realise_blocking(
    realiser: &Arc<Realiser>,
    roots: &[StorePath],
    options: &ScheduleOptions,
    reporter: &Arc<dyn Reporter>,
    signals: bool,
) -> Result<(Arc<Graph>, Summary), ScheduleError> {
    let graph = if options.check {
        Graph::load_checking(realiser.store(), roots)?
    } else {
        Graph::load(realiser.store(), roots)?
    };
    let graph = Arc::new(graph);
    if graph.needed().next().is_none() {
        // Nothing to do: no runtime, no threads.
        return Ok((graph, Summary::default()));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(options.jobs.max(1) + 4)
        .enable_all()
        .build()
        .map_err(ScheduleError::Runtime)?;
    let summary = runtime.block_on(async {
        if signals {
            watch_signals(realiser);
        }
        realise(realiser, &graph, options, reporter).await
    });
    // Abandoned downloads run on threads of their own; nothing here waits.
    runtime.shutdown_background();
    Ok((graph, summary))
}

/// Sets the cancellation flag on the first SIGINT or SIGTERM.
fn watch_signals(realiser: &Arc<Realiser>) {
    use tokio::signal::unix::{SignalKind, signal};
    let cancel = Arc::clone(&realiser.options().cancel);
    // Installed before returning, so no signal between here and the first
    // build is missed.
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    tokio::spawn(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        cancel.store(true, Ordering::SeqCst);
    });
}

#[cfg(test)]
mod tests;
