//! The scheduling loop: start every derivation whose inputs are done, at
//! most `jobs` at once, until the graph is done, a failure stops it, or
//! the run is cancelled.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use super::events::{Event, Reporter};
use super::graph::Graph;
use super::{ScheduleOptions, Summary};
use crate::realise::job::{RealiseError, Realised, Realiser};

/// How often the loop looks at the cancellation flag while builds run.
const TICK: Duration = Duration::from_millis(100);

/// Where each node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for inputs, or ready and not started.
    Pending,
    Running,
    Done,
    Failed,
    /// Given up on: an input failed.
    Abandoned,
}

/// What a finished job sends back.
type Joined = (usize, Result<Realised, RealiseError>, Duration);

/// The loop's state.
struct Scheduler<'a> {
    graph: &'a Arc<Graph>,
    realiser: &'a Arc<Realiser>,
    reporter: &'a Arc<dyn Reporter>,
    options: &'a ScheduleOptions,
    state: Vec<State>,
    /// Unfinished inputs of each node.
    waiting: Vec<usize>,
    ready: VecDeque<usize>,
    running: JoinSet<Joined>,
    /// No new job starts (a failure without `keep_going`, or cancelled).
    stop: bool,
    summary: Summary,
}

/// Realises every needed node of `graph`; see [`super::realise`].
pub(super) async fn run(
    realiser: &Arc<Realiser>,
    graph: &Arc<Graph>,
    options: &ScheduleOptions,
    reporter: &Arc<dyn Reporter>,
) -> Summary {
    let start = Instant::now();
    let mut scheduler = Scheduler {
        graph,
        realiser,
        reporter,
        options,
        state: vec![State::Pending; graph.nodes.len()],
        waiting: graph.nodes.iter().map(|node| node.deps.len()).collect(),
        ready: graph
            .needed()
            .filter(|(_, node)| node.deps.is_empty())
            .map(|(id, _)| id)
            .collect(),
        running: JoinSet::new(),
        stop: false,
        summary: Summary::default(),
    };
    for (id, node) in graph.nodes.iter().enumerate() {
        if !node.needed {
            scheduler.state[id] = State::Done;
        }
    }
    scheduler.run_loop().await;
    scheduler.finish(start)
}

impl Scheduler<'_> {
    async fn run_loop(&mut self) {
        let mut tick = tokio::time::interval(TICK);
        loop {
            if self.realiser.options().cancel.load(Ordering::SeqCst) {
                self.stop = true;
                self.summary.cancelled = true;
            }
            while !self.stop && self.running.len() < self.options.jobs.max(1) {
                let Some(id) = self.ready.pop_front() else {
                    break;
                };
                self.spawn(id);
            }
            if self.running.is_empty() {
                break;
            }
            tokio::select! {
                joined = self.running.join_next() => {
                    match joined {
                        Some(Ok(joined)) => self.finished(joined),
                        // A job panicked: a bug; its node stays `Running`
                        // and is reported as not built.
                        Some(Err(_)) | None => self.stop = !self.options.keep_going,
                    }
                }
                _ = tick.tick() => {}
            }
        }
    }

    fn spawn(&mut self, id: usize) {
        self.state[id] = State::Running;
        let graph = Arc::clone(self.graph);
        let realiser = Arc::clone(self.realiser);
        let reporter = Arc::clone(self.reporter);
        self.running.spawn_blocking(move || {
            let start = Instant::now();
            let result = match graph.nodes.get(id) {
                Some(node) => realiser.realise_and_check(
                    &node.drv_path,
                    &node.drv,
                    &node.inputs,
                    node.check,
                    &reporter,
                ),
                None => Err(RealiseError::Cancelled),
            };
            (id, result, start.elapsed())
        });
    }

    fn finished(&mut self, (id, result, elapsed): Joined) {
        let Some(node) = self.graph.nodes.get(id) else {
            return;
        };
        let drv = &node.drv_path;
        match result {
            Ok(realised) => {
                self.state[id] = State::Done;
                self.summary.record(drv, &realised);
                self.reporter.event(&Event::Finished {
                    drv,
                    kind: realised.kind,
                    ran: realised.ran,
                    reused_from: realised.reused_from.as_ref(),
                    bytes: realised.bytes,
                    elapsed,
                });
                for &dependent in &node.dependents {
                    let waiting = &mut self.waiting[dependent];
                    *waiting = waiting.saturating_sub(1);
                    if *waiting == 0 && self.state[dependent] == State::Pending {
                        self.ready.push_back(dependent);
                    }
                }
            }
            Err(RealiseError::Cancelled) => {
                self.state[id] = State::Failed;
                // Cut short: it never finished, like those not started.
                self.summary.not_started.push(drv.clone());
                self.summary.cancelled = true;
                self.stop = true;
            }
            Err(error) => {
                self.state[id] = State::Failed;
                self.reporter.event(&Event::Failed {
                    drv,
                    error: &error_chain(&error),
                    log_tail: error.log_tail(),
                    elapsed,
                });
                self.abandon_dependents(id);
                self.summary.failed.push((drv.clone(), error));
                if !self.options.keep_going {
                    self.stop = true;
                }
            }
        }
    }

    /// Gives up on everything that depends on the failed node `id`.
    fn abandon_dependents(&mut self, id: usize) {
        let Some(failed) = self.graph.nodes.get(id) else {
            return;
        };
        let mut queue: VecDeque<usize> = failed.dependents.iter().copied().collect();
        while let Some(next) = queue.pop_front() {
            if self.state[next] != State::Pending {
                continue;
            }
            self.state[next] = State::Abandoned;
            let Some(node) = self.graph.nodes.get(next) else {
                continue;
            };
            self.reporter.event(&Event::NotBuilt {
                drv: &node.drv_path,
                because: &failed.drv_path,
            });
            self.summary.not_built.push(node.drv_path.clone());
            queue.extend(node.dependents.iter().copied());
        }
    }

    /// Lists what never ran (stopped early) and returns the summary.
    fn finish(mut self, start: Instant) -> Summary {
        for (id, node) in self.graph.nodes.iter().enumerate() {
            if matches!(self.state[id], State::Pending | State::Running) {
                self.summary.not_started.push(node.drv_path.clone());
            }
        }
        self.summary.elapsed = start.elapsed();
        self.summary
    }
}

/// Returns an error and its causes on one line, joined by `: `.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
