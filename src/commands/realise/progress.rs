//! Drawing the scheduler's events on stderr, in one of four modes:
//!
//! - **live** (stderr is a terminal): a few lines at the bottom showing
//!   each running build with its elapsed time and each download with its
//!   bytes and rate, redrawn in place, collapsing at the end to a one-line
//!   summary (`built 12 derivations, fetched 3 (4.2 MiB) in 8.3s`);
//! - **plain** (stderr is not a terminal): one line per start and finish;
//! - **quiet** (`--quiet`): failures only;
//! - **json** (`--json`): one JSON object per line on stderr, for CI:
//!   `planned`, `start`, `finish`, `fail`, `notBuilt`, `download`
//!   (at most every 0.5 s per derivation), `log` (with `-L`), `checkStart`
//!   and `check` (with `--check` or `--rounds`), and a final `summary`.
//!   Each has `event` and `time` (seconds since the start), and those
//!   about a derivation its `drv` path.
//!
//! Failures always print the derivation, the error and the last lines of
//! its log; what was therefore not built is listed at the end. A check
//! that differs always prints the differing files ([`super::check`]).

use std::collections::{BTreeMap, HashMap};
use std::io::{IsTerminal as _, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kiln_store::schedule::{Event, JobKind, Reporter, Summary};
use kiln_store::store::Store;
use kiln_store::store_path::{StoreDir, StorePath};
use serde_json::{Value, json};

use super::BuildFlags;
use super::check;

/// How often the live display is redrawn.
const REDRAW: Duration = Duration::from_millis(200);
/// How often a download's progress is written in JSON mode.
const JSON_DOWNLOAD_EVERY: Duration = Duration::from_millis(500);

/// Where and how progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Redrawn in place on a terminal.
    Live,
    /// One line per event.
    Plain,
    /// Errors only.
    Quiet,
    /// JSON lines.
    Json,
}

impl Mode {
    /// Picks the mode from the flags and whether stderr is a terminal.
    pub fn choose(flags: &BuildFlags) -> Mode {
        if flags.json {
            Mode::Json
        } else if flags.quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal()
            && std::env::var("TERM").map_or(true, |term| term != "dumb")
        {
            Mode::Live
        } else {
            Mode::Plain
        }
    }
}

/// A running job, as drawn.
struct Running {
    name: String,
    kind: JobKind,
    started: Instant,
    bytes: u64,
    total: Option<u64>,
    last_json: Option<Instant>,
}

/// What the display knows; behind a mutex.
#[derive(Default)]
struct State {
    running: BTreeMap<StorePath, Running>,
    /// Partial log lines, per derivation (`-L`).
    partial: HashMap<StorePath, Vec<u8>>,
    /// Failed derivation → what was not built because of it.
    not_built: BTreeMap<StorePath, Vec<StorePath>>,
    planned: usize,
    finished: usize,
    /// Lines of the live display now on screen.
    drawn: usize,
    /// Derivations checked (`--check`, `--vary`): when they finish without
    /// a build of their own, that is what was done.
    checked: std::collections::HashSet<StorePath>,
}

struct Shared {
    mode: Mode,
    store_dir: StoreDir,
    print_logs: bool,
    start: Instant,
    state: Mutex<State>,
    stop: AtomicBool,
}

/// The reporter the CLI gives the scheduler.
pub struct Progress {
    shared: Arc<Shared>,
    ticker: Mutex<Option<JoinHandle<()>>>,
}

impl Progress {
    /// Returns a display in `mode` for paths of `store`.
    pub fn new(mode: Mode, store: &Store, print_logs: bool) -> Progress {
        Progress {
            shared: Arc::new(Shared {
                mode,
                store_dir: store.store_dir().clone(),
                print_logs,
                start: Instant::now(),
                state: Mutex::new(State::default()),
                stop: AtomicBool::new(false),
            }),
            ticker: Mutex::new(None),
        }
    }

    /// Stops redrawing and clears the live display.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let ticker = self
            .ticker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(ticker) = ticker {
            let _ = ticker.join();
        }
        let mut state = self.shared.lock();
        let mut err = std::io::stderr().lock();
        self.shared.clear(&mut state, &mut err);
    }

    /// Ends the display: the summary line, and what was not built.
    pub fn finish(&self, summary: &Summary) {
        self.stop();
        let shared = &self.shared;
        let state = shared.lock();
        let mut err = std::io::stderr().lock();
        if shared.mode == Mode::Json {
            let _ = writeln!(err, "{}", shared.summary_json(summary));
            return;
        }
        for (failed, dependents) in &state.not_built {
            let _ = writeln!(
                err,
                "error: {} derivations were not built because `{}` failed:",
                dependents.len(),
                shared.show(failed)
            );
            for drv in dependents {
                let _ = writeln!(err, "  {}", shared.show(drv));
            }
        }
        if summary.cancelled {
            let _ = writeln!(
                err,
                "error: interrupted; nothing more was registered ({} derivations not finished)",
                summary.not_started.len()
            );
        } else if !summary.not_started.is_empty() && !summary.failed.is_empty() {
            let _ = writeln!(
                err,
                "error: stopped after the failure; {} derivations not started (use --keep-going to build what does not depend on it)",
                summary.not_started.len()
            );
        }
        if shared.mode != Mode::Quiet && state.planned > 0 {
            let _ = writeln!(err, "{}", summary_line(summary));
        }
    }

    /// Starts the redraw thread (live mode only, once).
    fn start_ticker(&self) {
        let mut ticker = self.ticker.lock().unwrap_or_else(PoisonError::into_inner);
        if ticker.is_some() || self.shared.mode != Mode::Live {
            return;
        }
        let shared = Arc::clone(&self.shared);
        *ticker = Some(std::thread::spawn(move || {
            while !shared.stop.load(Ordering::SeqCst) {
                std::thread::sleep(REDRAW);
                let mut state = shared.lock();
                let mut err = std::io::stderr().lock();
                shared.redraw(&mut state, &mut err);
            }
        }));
    }
}

impl Reporter for Progress {
    fn event(&self, event: &Event<'_>) {
        if let Event::Planned { .. } = event {
            self.start_ticker();
        }
        let shared = &self.shared;
        let mut state = shared.lock();
        let mut err = std::io::stderr().lock();
        shared.update(&mut state, event);
        if shared.mode == Mode::Json {
            if let Some(line) = shared.json(&mut state, event) {
                let _ = writeln!(err, "{line}");
            }
            return;
        }
        // Downloads and unprinted log chunks change nothing on screen
        // until the next tick.
        let quiet_event = match event {
            Event::Download { .. } => true,
            Event::Log { .. } => !shared.print_logs || shared.mode == Mode::Quiet,
            _ => false,
        };
        if quiet_event {
            return;
        }
        shared.clear(&mut state, &mut err);
        shared.print(&mut state, event, &mut err);
        shared.redraw(&mut state, &mut err);
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn show(&self, path: &StorePath) -> String {
        self.store_dir.display(path)
    }

    fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Keeps the running set and counters current.
    fn update(&self, state: &mut State, event: &Event<'_>) {
        match *event {
            Event::Planned { builds, builtins } => state.planned = builds.len() + builtins.len(),
            Event::Started { drv, kind } => {
                let name = drv.name().trim_end_matches(".drv").to_owned();
                let running = Running {
                    name,
                    kind,
                    started: Instant::now(),
                    bytes: 0,
                    total: None,
                    last_json: None,
                };
                state.running.insert(drv.clone(), running);
            }
            Event::Download {
                drv, bytes, total, ..
            } => {
                if let Some(running) = state.running.get_mut(drv) {
                    running.bytes = bytes;
                    running.total = total.or(running.total);
                }
            }
            Event::Finished { drv, .. } | Event::Failed { drv, .. } => {
                state.running.remove(drv);
                state.finished += 1;
            }
            Event::NotBuilt { drv, because } => {
                let list = state.not_built.entry(because.clone()).or_default();
                list.push(drv.clone());
            }
            Event::CheckStarted {
                drv, round, rounds, ..
            } => {
                let name = check::drv_name(drv);
                let running = Running {
                    name: format!("{name} (check {round}/{rounds})"),
                    kind: JobKind::Build,
                    started: Instant::now(),
                    bytes: 0,
                    total: None,
                    last_json: None,
                };
                state.running.insert(drv.clone(), running);
            }
            Event::Checked { drv, .. } => {
                state.checked.insert(drv.clone());
            }
            Event::Log { .. } => {}
        }
    }

    /// Prints an event's lines (live and plain modes).
    fn print(&self, state: &mut State, event: &Event<'_>, err: &mut dyn Write) {
        let plain = self.mode == Mode::Plain;
        match *event {
            Event::Started { drv, kind } if plain => {
                let verb = match kind {
                    JobKind::Build => "building",
                    JobKind::Fetch => "fetching",
                    JobKind::Builtin => "running builtin for",
                };
                let _ = writeln!(err, "{verb} `{}`", self.show(drv));
            }
            Event::Finished {
                drv,
                ran,
                reused_from,
                elapsed,
                ..
            } if plain => {
                let how = if reused_from.is_some() {
                    "reused an earlier build with the same inputs"
                } else if ran {
                    "done"
                } else if state.checked.contains(drv) {
                    "checked"
                } else {
                    "done by another process"
                };
                let secs = elapsed.as_secs_f64();
                let _ = writeln!(err, "{how}: `{}` ({secs:.1}s)", self.show(drv));
            }
            Event::Failed {
                drv,
                error,
                log_tail,
                ..
            } => {
                let _ = writeln!(err, "error: `{}` failed: {error}", self.show(drv));
                if !log_tail.is_empty() {
                    let _ = writeln!(err, "  last {} log lines:", log_tail.len());
                    for line in log_tail {
                        let _ = writeln!(err, "  > {line}");
                    }
                }
            }
            Event::CheckStarted {
                drv,
                round,
                rounds,
                variation,
            } if plain => {
                let _ = writeln!(
                    err,
                    "checking `{}` (check {round} of {rounds}{})",
                    self.show(drv),
                    check::varying(variation)
                );
            }
            Event::Checked { drv, report } if report.identical() && plain => {
                let (round, rounds) = (report.round, report.rounds);
                let _ = writeln!(
                    err,
                    "identical: `{}` (check {round} of {rounds}{})",
                    self.show(drv),
                    check::varying(&report.variation)
                );
            }
            Event::Checked { report, .. } if !report.identical() => {
                for line in check::describe(report, &self.store_dir) {
                    let _ = writeln!(err, "{line}");
                }
            }
            Event::Log { drv, chunk } if self.print_logs && self.mode != Mode::Quiet => {
                let name = drv.name().trim_end_matches(".drv");
                let partial = state.partial.entry(drv.clone()).or_default();
                partial.extend_from_slice(chunk);
                while let Some(end) = partial.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = partial.drain(..=end).collect();
                    let text = String::from_utf8_lossy(line.get(..end).unwrap_or_default());
                    let _ = writeln!(err, "{name}> {text}");
                }
            }
            _ => {}
        }
    }

    /// Erases the live display.
    fn clear(&self, state: &mut State, err: &mut dyn Write) {
        if self.mode == Mode::Live && state.drawn > 0 {
            let _ = write!(err, "\x1b[{}F\x1b[J", state.drawn);
            state.drawn = 0;
            let _ = err.flush();
        }
    }

    /// Draws the live display: a header, then one line per running job.
    fn redraw(&self, state: &mut State, err: &mut dyn Write) {
        if self.mode != Mode::Live || self.stop.load(Ordering::SeqCst) {
            return;
        }
        self.clear(state, err);
        if state.running.is_empty() {
            return;
        }
        let mut lines = vec![format!(
            "[{}/{} done, {} running, {:.1}s]",
            state.finished,
            state.planned,
            state.running.len(),
            self.now()
        )];
        for running in state.running.values().take(12) {
            lines.push(running_line(running));
        }
        for line in &lines {
            let _ = writeln!(err, "{line}");
        }
        state.drawn = lines.len();
        let _ = err.flush();
    }

    /// Returns the JSON line of an event, if it gets one.
    fn json(&self, state: &mut State, event: &Event<'_>) -> Option<Value> {
        let time = self.now();
        let value = match *event {
            Event::Planned { builds, builtins } => json!({
                "event": "planned", "time": time,
                "builds": builds.iter().map(|p| self.show(p)).collect::<Vec<_>>(),
                "builtins": builtins.iter().map(|p| self.show(p)).collect::<Vec<_>>(),
            }),
            Event::Started { drv, kind } => json!({
                "event": "start", "time": time, "drv": self.show(drv), "kind": kind.as_str(),
            }),
            Event::Finished {
                drv,
                kind,
                ran,
                reused_from,
                bytes,
                elapsed,
            } => json!({
                "event": "finish", "time": time, "drv": self.show(drv), "kind": kind.as_str(),
                "ran": ran, "reusedFrom": reused_from.map(|earlier| self.show(earlier)),
                "bytes": bytes, "elapsed": elapsed.as_secs_f64(),
            }),
            Event::Failed {
                drv,
                error,
                log_tail,
                elapsed,
            } => json!({
                "event": "fail", "time": time, "drv": self.show(drv), "error": error,
                "logTail": log_tail, "elapsed": elapsed.as_secs_f64(),
            }),
            Event::NotBuilt { drv, because } => json!({
                "event": "notBuilt", "time": time, "drv": self.show(drv),
                "because": self.show(because),
            }),
            Event::Download {
                drv,
                url,
                bytes,
                total,
            } => {
                let running = state.running.get_mut(drv)?;
                let due = running
                    .last_json
                    .is_none_or(|last| last.elapsed() >= JSON_DOWNLOAD_EVERY);
                if !due && total != Some(bytes) {
                    return None;
                }
                running.last_json = Some(Instant::now());
                json!({
                    "event": "download", "time": time, "drv": self.show(drv), "url": url,
                    "bytes": bytes, "total": running.total,
                })
            }
            Event::CheckStarted {
                drv,
                round,
                rounds,
                variation,
            } => json!({
                "event": "checkStart", "time": time, "drv": self.show(drv),
                "round": round, "rounds": rounds, "vary": check::variation_json(variation),
            }),
            Event::Checked { report, .. } => check::to_json(report, &self.store_dir, time),
            Event::Log { drv, chunk } if self.print_logs => json!({
                "event": "log", "time": time, "drv": self.show(drv),
                "text": String::from_utf8_lossy(chunk),
            }),
            Event::Log { .. } => return None,
        };
        Some(value)
    }

    fn summary_json(&self, summary: &Summary) -> Value {
        let paths = |list: &[StorePath]| list.iter().map(|p| self.show(p)).collect::<Vec<_>>();
        json!({
            "event": "summary",
            "time": self.now(),
            "built": paths(&summary.built),
            "reused": summary.reused.iter().map(|(p, _)| self.show(p)).collect::<Vec<_>>(),
            "builtins": paths(&summary.builtins),
            "fetched": summary.fetched,
            "fetchedBytes": summary.fetched_bytes,
            "doneElsewhere": paths(&summary.done_elsewhere),
            "checked": paths(&summary.checked),
            "failed": summary.failed.iter().map(|(p, _)| self.show(p)).collect::<Vec<_>>(),
            "notBuilt": paths(&summary.not_built),
            "notStarted": paths(&summary.not_started),
            "cancelled": summary.cancelled,
            "elapsed": summary.elapsed.as_secs_f64(),
        })
    }
}

/// One line of the live display.
fn running_line(running: &Running) -> String {
    let secs = running.started.elapsed().as_secs_f64();
    match running.kind {
        JobKind::Fetch => {
            let rate = running.bytes as f64 / secs.max(0.001);
            let total = running
                .total
                .map_or(String::new(), |total| format!("/{}", human_bytes(total)));
            format!(
                "  fetching {} {}{total} at {}/s ({secs:.1}s)",
                running.name,
                human_bytes(running.bytes),
                human_bytes(rate as u64)
            )
        }
        JobKind::Build | JobKind::Builtin => {
            format!("  building {} ({secs:.1}s)", running.name)
        }
    }
}

/// The closing line: `built 12 derivations, fetched 3 (4.2 MiB) in 8.3s`.
fn summary_line(summary: &Summary) -> String {
    let reused = summary.reused.len();
    let mut parts = vec![format!(
        "built {} derivations",
        summary.built.len().saturating_sub(reused)
    )];
    if reused > 0 {
        parts.push(format!(
            "reused {reused} earlier builds with the same inputs"
        ));
    }
    if summary.fetched > 0 || summary.fetched_bytes > 0 {
        parts.push(format!(
            "fetched {} ({})",
            summary.fetched,
            human_bytes(summary.fetched_bytes)
        ));
    }
    let others = summary.builtins.len().saturating_sub(summary.fetched);
    if others > 0 {
        parts.push(format!("ran {others} built-in builders"));
    }
    if !summary.checked.is_empty() {
        parts.push(format!("checked {}", summary.checked.len()));
    }
    if !summary.done_elsewhere.is_empty() {
        parts.push(format!(
            "{} done by another process",
            summary.done_elsewhere.len()
        ));
    }
    if !summary.failed.is_empty() {
        parts.push(format!("{} failed", summary.failed.len()));
    }
    format!(
        "{} in {:.1}s",
        parts.join(", "),
        summary.elapsed.as_secs_f64()
    )
}

/// Formats a byte count with a binary unit (`4.2 MiB`).
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS.get(unit).unwrap_or(&"TiB"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_and_summary_read_well() {
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(4_404_019), "4.2 MiB");
        let summary = Summary {
            built: vec![
                StorePath::from_base_name("7rjj86a15146cq1d3qy068lml7n8ykzm-a.drv").unwrap(),
            ],
            fetched: 3,
            fetched_bytes: 4_404_019,
            elapsed: Duration::from_millis(8300),
            ..Summary::default()
        };
        assert_eq!(
            summary_line(&summary),
            "built 1 derivations, fetched 3 (4.2 MiB) in 8.3s"
        );
    }
}
