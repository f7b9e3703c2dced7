//! `kiln realise DRV…`: build derivations already in the store and print
//! their output paths, like `nix-store --realise`. Also the flags and the
//! run that `kiln build` shares ([`BuildFlags`], [`realise_roots`]),
//! checks included (`--check`, `--rounds`: [`check`]).

pub mod check;
mod progress;

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use kiln_store::realise::job::{RealiseOptions, Realiser};
use kiln_store::sandbox::{Aspect, Variation};
use kiln_store::schedule::{self, Graph, Reporter, ScheduleOptions, Summary};
use kiln_store::store::Store;
use kiln_store::store_path::StorePath;

use super::store::StoreOptions;
use crate::error::AlreadyReported;
use progress::{Mode, Progress};

/// The exit code of a run stopped by SIGINT or SIGTERM (128 + SIGINT).
const EXIT_CANCELLED: u8 = 130;

/// Arguments of `kiln realise`.
#[derive(Debug, Args)]
pub struct RealiseArgs {
    /// Derivations (`.drv` store paths, or links to them) to realise
    #[arg(required = true, value_name = "DRV")]
    pub drvs: Vec<String>,
    /// How to build
    #[command(flatten)]
    pub build: BuildFlags,
    /// Which store
    #[command(flatten)]
    pub store: StoreOptions,
}

/// How derivations are built: shared by `kiln build` and `kiln realise`.
#[derive(Debug, Clone, Args)]
pub struct BuildFlags {
    /// Run at most N builds at once [default: the number of CPUs]
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
    /// Tell each builder to use N cores (`NIX_BUILD_CORES`) [default: the
    /// number of CPUs]
    #[arg(long, value_name = "N")]
    pub cores: Option<u32>,
    /// Keep building what does not depend on a failed derivation
    #[arg(short = 'k', long)]
    pub keep_going: bool,
    /// Kill a build that runs longer than SECONDS
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Kill a build that prints nothing for SECONDS
    #[arg(long, value_name = "SECONDS")]
    pub max_silent_time: Option<u64>,
    /// Print nothing but errors on stderr
    #[arg(short, long, conflicts_with = "json")]
    pub quiet: bool,
    /// Write one JSON object per event on stderr (for CI), instead of the
    /// progress display
    #[arg(long)]
    pub json: bool,
    /// Print the builders' logs on stderr as they build
    #[arg(short = 'L', long)]
    pub print_build_logs: bool,
    /// Build the selected derivations again (after building what is
    /// missing) and compare the outputs with the registered ones bit for
    /// bit, changing nothing in the store; a differing build is kept as
    /// `<output>.check`
    #[arg(long)]
    pub check: bool,
    /// Build each derivation that is built here N times in all and compare
    /// the builds (with --check: check N - 1 times)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(2..))]
    pub rounds: Option<u32>,
    /// Check (implies --check) in varied surroundings: `all` or a
    /// comma-separated list of build-dir, clock, timezone, locale, umask,
    /// hostname, cores, dirents (needs disorderfs). On a difference, kiln checks again without variation
    /// and with each one alone, and says which changes the outputs
    #[arg(long, value_name = "LIST", value_parser = parse_variation)]
    pub vary: Option<Variation>,
    /// After building, say for each derivation built why it had to be:
    /// the first input that differs from the last build of its name
    #[arg(long)]
    pub explain: bool,
}

impl BuildFlags {
    /// Whether the selected derivations are checked (`--check` or `--vary`).
    pub fn checks(&self) -> bool {
        self.check || self.vary.is_some()
    }
}

/// Parses `--vary`. `dirents` needs disorderfs: named alone it is an
/// error without it, and `all` goes on without it, saying so.
#[expect(clippy::print_stderr, reason = "the note that an aspect is left out")]
fn parse_variation(list: &str) -> Result<Variation, String> {
    let variation = Variation::parse(list).map_err(|error| error.to_string())?;
    if !variation.varies(Aspect::Dirents) {
        return Ok(variation);
    }
    match kiln_store::sandbox::disorder::available() {
        Ok(()) => Ok(variation),
        Err(why) if list.trim() == "all" => {
            eprintln!("note: not varying `dirents`: {why}");
            Ok(variation.without(Aspect::Dirents))
        }
        Err(why) => Err(why),
    }
}

/// Runs `kiln realise`.
pub fn run(args: &RealiseArgs) -> anyhow::Result<ExitCode> {
    let store = Arc::new(args.store.open()?);
    let roots = args
        .drvs
        .iter()
        .map(|text| store.resolve(text))
        .collect::<Result<Vec<_>, _>>()?;
    let (graph, code) = realise_roots(&store, &roots, &args.build)?;
    let mut out = std::io::stdout().lock();
    for &root in &graph.roots {
        let Some(node) = graph.nodes.get(root) else {
            continue;
        };
        for output in node.drv.outputs.values() {
            if let Some(path) = &output.path
                && store.is_valid(path)?
            {
                writeln!(out, "{}", store.display(path))?;
            }
        }
    }
    out.flush()?;
    code_or_reported(code)
}

/// Turns a failure exit code into the "already reported" error (so main
/// prints nothing more), keeping 130 for cancellation.
pub fn code_or_reported(code: ExitCode) -> anyhow::Result<ExitCode> {
    if code == ExitCode::SUCCESS || code == ExitCode::from(EXIT_CANCELLED) {
        Ok(code)
    } else {
        Err(AlreadyReported.into())
    }
}

/// Realises `roots` with progress on stderr; returns the graph and the exit
/// code (0, 1 for failures, 130 when cancelled). Failures have been
/// reported on stderr.
pub fn realise_roots(
    store: &Arc<Store>,
    roots: &[StorePath],
    flags: &BuildFlags,
) -> anyhow::Result<(Arc<Graph>, ExitCode)> {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let options = RealiseOptions {
        cores: flags
            .cores
            .unwrap_or_else(|| u32::try_from(cpus).unwrap_or(1)),
        timeout: flags.timeout.map(Duration::from_secs),
        max_silent_time: flags.max_silent_time.map(Duration::from_secs),
        rounds: flags.rounds.unwrap_or(1),
        vary: flags.vary.clone().unwrap_or_default(),
        ..RealiseOptions::default()
    };
    let realiser = Arc::new(Realiser::new(Arc::clone(store), options));
    let schedule = ScheduleOptions {
        jobs: flags.jobs.unwrap_or(cpus).max(1),
        keep_going: flags.keep_going,
        check: flags.checks(),
    };
    let mode = Mode::choose(flags);
    let progress = Arc::new(Progress::new(mode, store, flags.print_build_logs));
    let reporter: Arc<dyn Reporter> = progress.clone();
    let result = schedule::realise_blocking(&realiser, roots, &schedule, &reporter, true);
    drop(reporter);
    let (graph, summary) = match result {
        Ok(done) => done,
        Err(error) => {
            progress.stop();
            return Err(error.into());
        }
    };
    progress.finish(&summary);
    check::conclude(store, &graph, &summary, mode)?;
    if flags.explain {
        explain_built(store, &summary, mode)?;
    }
    Ok((graph, exit_code(&summary)))
}

/// Prints why each derivation built in the run was built (`--explain`),
/// and for one whose outputs were reused from an earlier build (early
/// cutoff), which build.
fn explain_built(store: &Store, summary: &Summary, mode: Mode) -> anyhow::Result<()> {
    let mut err = std::io::stderr().lock();
    for drv in &summary.built {
        let mut reason = super::why_rebuilt::reason(store, drv)?;
        let earlier = summary
            .reused
            .iter()
            .find(|(reused, _)| reused == drv)
            .map(|(_, earlier)| earlier);
        if let Some(earlier) = earlier {
            reason.push_str(&format!(
                "; not built: its inputs have the same contents as those of `{}`, so that build's outputs were reused",
                store.display(earlier)
            ));
        }
        if mode == Mode::Json {
            let event = serde_json::json!({
                "event": "explain", "drv": store.display(drv), "reason": reason,
                "reusedFrom": earlier.map(|earlier| store.display(earlier)),
            });
            writeln!(err, "{event}")?;
        } else {
            writeln!(err, "why {reason}")?;
        }
    }
    Ok(())
}

fn exit_code(summary: &Summary) -> ExitCode {
    if summary.cancelled {
        ExitCode::from(EXIT_CANCELLED)
    } else if summary.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
