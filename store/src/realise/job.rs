//! Realising one derivation: lock its outputs, skip it if they are valid,
//! else run its builder (built-in, or in the sandbox) and register what it
//! produced.
//!
//! The order of things is what makes several kiln processes safe on one
//! store and a kill at any moment harmless:
//!
//! 1. if every output is valid, there is nothing to do (no lock taken);
//! 2. take the lock of every output, in sorted order (so two processes
//!    never wait on each other), waiting if another process holds one, and
//!    check validity again: if that process built them, we are done;
//! 3. compute the input closure from the database (every input must be
//!    valid: the scheduler realised them first);
//! 4. run the builder into this process's scratch directory, the log going
//!    to `logs/` ([`super::log`]) and to the [`Reporter`];
//! 5. unless the run was cancelled, register the outputs in one
//!    transaction ([`Store::register_outputs`]), then drop the locks.
//!
//! Built-in builders run on a thread of their own, so that a cancellation
//! returns at once even in the middle of a download (the thread is left
//! to end by itself; what it writes is in scratch space and never
//! registered).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use crate::build::{self, BuildError, BuildOptions, BuildStatus};
use crate::builtins::{BuiltinError, Builtins, FETCHURL, Outcome};
use crate::derivation::Derivation;
use crate::fetch::{FetchConfig, FetchReporter};
use crate::lock::PathLock;
use crate::sandbox::{self, PlanError, SandboxDirs, SandboxSpec, Variation};
use crate::schedule::events::{Event, JobKind, Reporter};
use crate::store::cleanup::remove_tree;
use crate::store::{Store, StoreError};
use crate::store_path::StorePath;

use super::check::CheckReport;
use super::cutoff;
use super::diff::DiffError;
use super::log::{LogError, LogWriter};
use super::{PendingOutput, RegisterError, Registration};

/// How often a built-in builder's thread is checked for cancellation.
const CANCEL_POLL: Duration = Duration::from_millis(100);
/// Where a builtin finds a store path that is not one of its inputs:
/// nowhere.
const NOT_AN_INPUT: &str = "/nonexistent/kiln-not-an-input";

/// How often an output lock held by another process is tried again.
const LOCK_POLL: Duration = Duration::from_millis(20);

/// Limits and settings shared by every build of one run.
#[derive(Debug, Clone)]
pub struct RealiseOptions {
    /// `NIX_BUILD_CORES` for builders.
    pub cores: u32,
    /// Kill a build after this long.
    pub timeout: Option<Duration>,
    /// Kill a build that prints nothing for this long.
    pub max_silent_time: Option<Duration>,
    /// How many of a failed build's last log lines to keep.
    pub log_lines: usize,
    /// Set to stop every running build and register nothing more.
    pub cancel: Arc<AtomicBool>,
    /// How many times in all each derivation built here is built: from 2
    /// on, the extra builds are checks ([`super::check`]).
    pub rounds: u32,
    /// What checks vary in the builds' surroundings (`--vary`); nothing by
    /// default. Builds that register outputs never vary.
    pub vary: Variation,
}

impl Default for RealiseOptions {
    fn default() -> Self {
        RealiseOptions {
            cores: 1,
            timeout: None,
            max_silent_time: None,
            log_lines: 25,
            cancel: Arc::new(AtomicBool::new(false)),
            rounds: 1,
            vary: Variation::none(),
        }
    }
}

/// Why a derivation could not be realised.
#[derive(Debug, thiserror::Error)]
pub enum RealiseError {
    /// An output has no path (a masked or floating output).
    #[error("output `{output}` of `{drv}` has no store path")]
    NoOutputPath {
        /// The derivation.
        drv: String,
        /// The output name.
        output: String,
    },
    /// An input is not valid, so the build cannot see it.
    #[error("input `{0}` is not valid")]
    MissingInput(String),
    /// The store failed (locks, database).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The log could not be written.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The sandbox could not be planned.
    #[error("cannot plan the sandbox")]
    Plan(#[from] PlanError),
    /// The builder could not be run at all.
    #[error(transparent)]
    Run(#[from] BuildError),
    /// The builder ran and failed.
    #[error("builder {status}")]
    Failed {
        /// How it ended.
        status: BuildStatus,
        /// The last lines of its log.
        log_tail: Vec<String>,
    },
    /// A built-in builder failed.
    #[error(transparent)]
    Builtin(#[from] BuiltinError),
    /// The built-in builder's thread died without an answer.
    #[error("the built-in builder `{0}` stopped without a result")]
    BuiltinLost(String),
    /// The builder succeeded but did not create an output.
    #[error("builder did not create output `{output}` (`{path}`)")]
    MissingOutput {
        /// The output name.
        output: String,
        /// Its store path.
        path: String,
    },
    /// The outputs could not be registered.
    #[error(transparent)]
    Register(#[from] RegisterError),
    /// An output could not be given to the store's owner.
    #[error("cannot change the owner of `{path}`")]
    Chown {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The run was cancelled; nothing was registered.
    #[error("cancelled")]
    Cancelled,
    /// An output to check is not valid (it was never built).
    #[error("output `{0}` is not valid, so it cannot be checked")]
    NotValid(String),
    /// A check built an output that differs from the registered one.
    /// (Boxed: the report would make every `Result` of this module large.)
    #[error("not deterministic: {0}")]
    NotDeterministic(Box<CheckReport>),
    /// A check could not compare the two builds.
    #[error(transparent)]
    Diff(#[from] DiffError),
}

impl RealiseError {
    /// Returns the last lines of the build's log, when it ran and failed.
    pub fn log_tail(&self) -> &[String] {
        match self {
            RealiseError::Failed { log_tail, .. } => log_tail,
            _ => &[],
        }
    }
}

/// What realising one derivation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Realised {
    /// What kind of job it is.
    pub kind: JobKind,
    /// Whether a builder ran here (`false`: the outputs were valid, maybe
    /// after waiting for another process that built them).
    pub ran: bool,
    /// Bytes downloaded.
    pub bytes: u64,
    /// How many times the derivation was built again and found identical.
    pub checks: u32,
    /// When its outputs were copied from an earlier build whose inputs had
    /// the same contents (early cutoff, [`super::cutoff`]): that build's
    /// derivation. `ran` is then `true`, though no builder ran.
    pub reused_from: Option<StorePath>,
}

/// Realises derivations in one store; shared by every job of a run.
#[derive(Debug)]
pub struct Realiser {
    store: Arc<Store>,
    builtins: Builtins,
    options: RealiseOptions,
}

impl Realiser {
    /// Returns a realiser for `store`, fetching as the environment says
    /// ([`FetchConfig::from_env`]).
    pub fn new(store: Arc<Store>, options: RealiseOptions) -> Realiser {
        let builtins = Builtins::new(store.store_dir().clone(), FetchConfig::from_env());
        Realiser {
            store,
            builtins,
            options,
        }
    }

    /// Returns the store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Returns the options.
    pub fn options(&self) -> &RealiseOptions {
        &self.options
    }

    /// Returns what kind of job `drv` is.
    pub fn kind(drv: &Derivation) -> JobKind {
        if drv.builder == FETCHURL {
            JobKind::Fetch
        } else if Builtins::is_builtin(&drv.builder) {
            JobKind::Builtin
        } else {
            JobKind::Build
        }
    }

    /// Realises `drv` (stored at `drv_path`), whose inputs (sources and the
    /// input derivations' outputs) are `inputs`, all valid.
    pub fn realise(
        self: &Arc<Self>,
        drv_path: &StorePath,
        drv: &Derivation,
        inputs: &BTreeSet<StorePath>,
        reporter: &Arc<dyn Reporter>,
    ) -> Result<Realised, RealiseError> {
        let kind = Realiser::kind(drv);
        let skipped = Realised {
            kind,
            ran: false,
            bytes: 0,
            checks: 0,
            reused_from: None,
        };
        let outputs = output_paths(&self.store, drv_path, drv)?;
        if self.all_valid(&outputs)? {
            return Ok(skipped);
        }
        let locks = self.lock_outputs(&outputs)?;
        if self.all_valid(&outputs)? {
            return Ok(skipped);
        }
        let closure = self.input_closure(inputs)?;
        reporter.event(&Event::Started {
            drv: drv_path,
            kind,
        });
        let work = self.store.scratch_path(drv_path.name());
        let job = Job {
            drv_path,
            drv,
            outputs: &outputs,
            work: &work,
            reporter,
            variation: &Variation::none(),
        };
        let cutoff_key = cutoff::key(&self.store, drv, inputs);
        let mut log = LogWriter::create(&self.store, drv_path)?;
        let result = self.reuse_or_build(&job, cutoff_key.as_ref(), &closure, &locks, &mut log);
        if let Err(error) = &result {
            let _ = writeln!(log, "error: {error}");
        }
        // The log is kept for failures too; a failure to finish it matters
        // less than the build's own result.
        let finished = log.finish();
        let _ = remove_tree(&work);
        let (bytes, reused_from) = result?;
        finished?;
        // Advisory: a build whose history or cutoff key cannot be written
        // still counts.
        let _ = super::history::record(&self.store, drv_path);
        if let Some(key) = &cutoff_key {
            let _ = cutoff::record(&self.store, key, drv_path, &outputs);
        }
        Ok(Realised {
            kind,
            ran: true,
            bytes,
            checks: 0,
            reused_from,
        })
    }

    /// Takes the locks of `outputs`, in sorted order (so two processes
    /// never wait on each other).
    pub(super) fn lock_outputs(
        &self,
        outputs: &[(String, StorePath)],
    ) -> Result<Vec<PathLock>, RealiseError> {
        let mut sorted: Vec<&StorePath> = outputs.iter().map(|(_, path)| path).collect();
        sorted.sort();
        sorted
            .into_iter()
            .map(|path| self.lock_output(path))
            .collect()
    }

    /// Returns the closure of `inputs`, every one of which must be valid.
    pub(super) fn input_closure(
        &self,
        inputs: &BTreeSet<StorePath>,
    ) -> Result<BTreeSet<StorePath>, RealiseError> {
        self.store
            .db()
            .closure(inputs)
            .map_err(|error| match error {
                crate::db::DbError::NotValid(path) => {
                    RealiseError::MissingInput(self.store.display(&path))
                }
                other => RealiseError::Store(other.into()),
            })
    }

    /// Takes the lock of an output, waiting for another process that holds
    /// it, but returning [`RealiseError::Cancelled`] if the run is
    /// cancelled meanwhile (a blocking `flock` could not be interrupted).
    fn lock_output(&self, path: &StorePath) -> Result<PathLock, RealiseError> {
        loop {
            if let Some(lock) = self.store.try_lock_path(path)? {
                return Ok(lock);
            }
            if self.options.cancel.load(Ordering::SeqCst) {
                return Err(RealiseError::Cancelled);
            }
            std::thread::sleep(LOCK_POLL);
        }
    }

    fn all_valid(&self, outputs: &[(String, StorePath)]) -> Result<bool, StoreError> {
        for (_, path) in outputs {
            if !self.store.is_valid(path)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Produces the outputs, by copying those of an earlier build whose
    /// inputs had the same contents (early cutoff, [`cutoff`]) or else by
    /// running the builder, and registers them. Returns the bytes
    /// downloaded and the earlier build's derivation, if one was reused.
    fn reuse_or_build(
        self: &Arc<Self>,
        job: &Job<'_>,
        key: Option<&cutoff::Key>,
        closure: &BTreeSet<StorePath>,
        locks: &[PathLock],
        log: &mut LogWriter,
    ) -> Result<(u64, Option<StorePath>), RealiseError> {
        let reused = key.and_then(|key| {
            let earlier = cutoff::lookup(&self.store, key, job.outputs)?;
            let pending =
                cutoff::copy_earlier(&self.store, key, &earlier, job.outputs, closure, job.work)?;
            Some((earlier.drv, pending))
        });
        let (pending, bytes, reused_from) = match reused {
            Some((earlier, pending)) => {
                // `kiln log` says where the outputs came from.
                let _ = writeln!(
                    log,
                    "not built: its inputs have the same contents as those of `{}`, whose outputs were reused",
                    self.store.display(&earlier)
                );
                (pending, 0, Some(earlier))
            }
            None => {
                let (pending, bytes) = self.run_builder(job, closure, log)?;
                (pending, bytes, None)
            }
        };
        self.store.register_outputs(
            &pending,
            Registration {
                candidates: closure,
                deriver: Some(job.drv_path),
                locks,
            },
        )?;
        Ok((bytes, reused_from))
    }

    /// Runs the builder (built-in or sandboxed); returns the outputs,
    /// waiting in scratch and owned by the store's owner, and the bytes
    /// downloaded.
    pub(super) fn run_builder(
        self: &Arc<Self>,
        job: &Job<'_>,
        closure: &BTreeSet<StorePath>,
        log: &mut LogWriter,
    ) -> Result<(Vec<PendingOutput>, u64), RealiseError> {
        let (pending, bytes) = if Builtins::is_builtin(&job.drv.builder) {
            self.run_builtin(job, closure, log)?
        } else {
            (self.run_sandboxed(job, closure, log)?, 0)
        };
        if self.options.cancel.load(Ordering::SeqCst) {
            return Err(RealiseError::Cancelled);
        }
        for output in &pending {
            give_to_store_owner(&output.tmp)?;
        }
        Ok((pending, bytes))
    }

    /// Runs a sandboxed build; returns its outputs, waiting in scratch.
    fn run_sandboxed(
        &self,
        job: &Job<'_>,
        closure: &BTreeSet<StorePath>,
        log: &mut LogWriter,
    ) -> Result<Vec<PendingOutput>, RealiseError> {
        let drv = job.drv;
        let store_dir = self.store.store_dir();
        let fixed = drv.fixed_output().cloned();
        let spec = SandboxSpec {
            store_dir: store_dir.clone(),
            dirs: SandboxDirs::under(job.work),
            inputs: closure
                .iter()
                .map(|path| (path.clone(), self.store.physical(path)))
                .collect(),
            outputs: job.outputs.to_vec(),
            builder: drv.builder.clone(),
            args: drv.args.clone(),
            env: drv.env.clone(),
            rootfs: sandbox::plan::rootfs_attr(&drv.env, store_dir)?,
            fixed_output: fixed.is_some(),
            impure_env: if fixed.is_some() {
                impure_env(drv)
            } else {
                Default::default()
            },
            cores: job.variation.cores(self.options.cores, machine_cores()),
            ids: sandbox::linux::current_ids(),
            variation: job.variation.clone(),
        };
        let plan = sandbox::plan(&spec)?;
        let options = BuildOptions {
            timeout: self.options.timeout,
            max_silent_time: self.options.max_silent_time,
            log_lines: self.options.log_lines,
            cancel: Some(self.options.cancel.clone()),
        };
        let mut tee = Tee {
            log,
            reporter: job.reporter.as_ref(),
            drv: job.drv_path,
        };
        let outcome = build::run(&plan, &options, &mut tee)?;
        match outcome.status {
            BuildStatus::Exited(0) => {}
            BuildStatus::Cancelled => return Err(RealiseError::Cancelled),
            status => {
                return Err(RealiseError::Failed {
                    status,
                    log_tail: outcome.log_tail,
                });
            }
        }
        let mut pending = Vec::new();
        for planned in plan.outputs {
            if std::fs::symlink_metadata(&planned.host_path).is_err() {
                return Err(RealiseError::MissingOutput {
                    output: planned.name,
                    path: store_dir.display(&planned.path),
                });
            }
            let fixed = drv.outputs.get(&planned.name).and_then(|o| o.fixed.clone());
            pending.push(PendingOutput {
                path: planned.path,
                tmp: planned.host_path,
                fixed,
            });
        }
        Ok(pending)
    }

    /// Runs a built-in builder on a thread of its own, returning at once
    /// when the run is cancelled. Returns its output and the bytes fetched.
    fn run_builtin(
        self: &Arc<Self>,
        job: &Job<'_>,
        closure: &BTreeSet<StorePath>,
        log: &mut LogWriter,
    ) -> Result<(Vec<PendingOutput>, u64), RealiseError> {
        let (name, path) = match job.outputs {
            [(name, path)] if name == "out" => (name.clone(), path.clone()),
            _ => {
                return Err(RealiseError::NoOutputPath {
                    drv: self.store.display(job.drv_path),
                    output: "out".to_owned(),
                });
            }
        };
        fs_err::create_dir_all(job.work).map_err(|e| StoreError::Io {
            path: job.work.to_owned(),
            source: e,
        })?;
        let tmp = job.work.join(path.base_name());
        let fetched = Arc::new(AtomicU64::new(0));
        let (sender, receiver) = mpsc::channel();
        {
            let me = Arc::clone(self);
            let drv = job.drv.clone();
            let drv_path = job.drv_path.clone();
            let tmp = tmp.clone();
            let reporter = Arc::clone(job.reporter);
            let fetched = Arc::clone(&fetched);
            let closure = closure.clone();
            std::thread::spawn(move || {
                let progress = Progress {
                    reporter: reporter.as_ref(),
                    drv: &drv_path,
                    fetched: &fetched,
                };
                // Only the inputs are there for a builtin to read.
                let physical = |p: &StorePath| {
                    if closure.contains(p) {
                        me.store.physical(p)
                    } else {
                        PathBuf::from(NOT_AN_INPUT).join(p.base_name())
                    }
                };
                let result = me.builtins.run(&drv, &physical, &tmp, &progress);
                let _ = sender.send(result);
            });
        }
        let outcome = loop {
            match receiver.recv_timeout(CANCEL_POLL) {
                Ok(result) => break result?,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if self.options.cancel.load(Ordering::SeqCst) {
                        return Err(RealiseError::Cancelled);
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(RealiseError::BuiltinLost(job.drv.builder.clone()));
                }
            }
        };
        let bytes = fetched.load(Ordering::SeqCst);
        let _ = match &outcome {
            Outcome::Fetched(hash) => writeln!(log, "fetched {bytes} bytes, {}", hash.to_sri()),
            Outcome::Unpacked(unpacked) => writeln!(log, "unpacked: {unpacked:?}"),
            Outcome::Rootfs(report) => writeln!(log, "root filesystem: {report:?}"),
            Outcome::Image(written) => writeln!(log, "image index {}", written.index_digest),
        };
        let fixed = job.drv.outputs.get(&name).and_then(|o| o.fixed.clone());
        Ok((vec![PendingOutput { path, tmp, fixed }], bytes))
    }
}

/// One derivation being realised.
pub(super) struct Job<'a> {
    pub(super) drv_path: &'a StorePath,
    pub(super) drv: &'a Derivation,
    pub(super) outputs: &'a [(String, StorePath)],
    pub(super) work: &'a Path,
    pub(super) reporter: &'a Arc<dyn Reporter>,
    /// What differs in the sandbox (nothing, except in checks).
    pub(super) variation: &'a Variation,
}

/// The machine's core count (1 when unknown).
fn machine_cores() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX))
}

/// Returns every output's name and path; an output without a path is an
/// error (kiln does not build floating content-addressed derivations).
pub fn output_paths(
    store: &Store,
    drv_path: &StorePath,
    drv: &Derivation,
) -> Result<Vec<(String, StorePath)>, RealiseError> {
    drv.outputs
        .iter()
        .map(|(name, output)| match &output.path {
            Some(path) => Ok((name.clone(), path.clone())),
            None => Err(RealiseError::NoOutputPath {
                drv: store.display(drv_path),
                output: name.clone(),
            }),
        })
        .collect()
}

/// Returns the values of `impureEnvVars` from this process's environment.
fn impure_env(drv: &Derivation) -> std::collections::BTreeMap<String, String> {
    let names = drv.env.get("impureEnvVars").map_or("", String::as_str);
    names
        .split_whitespace()
        .filter_map(|name| Some((name.to_owned(), std::env::var(name).ok()?)))
        .collect()
}

/// As root, builders run as an unprivileged host user
/// ([`sandbox::ROOT_BUILD_ID`]-based ids); their outputs are given to root
/// before registration, so no build user owns anything in the store.
fn give_to_store_owner(root: &Path) -> Result<(), RealiseError> {
    let uid = rustix::process::geteuid();
    if !uid.is_root() {
        return Ok(());
    }
    let gid = rustix::process::getegid();
    let mut stack = vec![root.to_owned()];
    while let Some(path) = stack.pop() {
        let chown_err = |source: std::io::Error| RealiseError::Chown {
            path: path.clone(),
            source,
        };
        let meta = std::fs::symlink_metadata(&path).map_err(chown_err)?;
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).map_err(chown_err)? {
                stack.push(entry.map_err(chown_err)?.path());
            }
        }
        rustix::fs::chownat(
            rustix::fs::CWD,
            &path,
            Some(uid),
            Some(gid),
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|errno| chown_err(errno.into()))?;
    }
    Ok(())
}

/// Sends a build's log to its file and to the reporter.
struct Tee<'a> {
    log: &'a mut LogWriter,
    reporter: &'a dyn Reporter,
    drv: &'a StorePath,
}

impl Write for Tee<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.log.write_all(buf)?;
        self.reporter.event(&Event::Log {
            drv: self.drv,
            chunk: buf,
        });
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.log.flush()
    }
}

/// Passes a download's progress on as events.
struct Progress<'a> {
    reporter: &'a dyn Reporter,
    drv: &'a StorePath,
    fetched: &'a AtomicU64,
}

impl FetchReporter for Progress<'_> {
    fn on_start(&self, url: &str, total: Option<u64>) {
        self.reporter.event(&Event::Download {
            drv: self.drv,
            url,
            bytes: 0,
            total,
        });
    }

    fn on_progress(&self, url: &str, bytes: u64) {
        self.reporter.event(&Event::Download {
            drv: self.drv,
            url,
            bytes,
            total: None,
        });
    }

    fn on_done(&self, url: &str, bytes: u64) {
        self.fetched.store(bytes, Ordering::SeqCst);
        self.reporter.event(&Event::Download {
            drv: self.drv,
            url,
            bytes,
            total: Some(bytes),
        });
    }
}
