//! The scheduler on graphs of built-in builders (no sandbox needed):
//! `builtin:unpack-v1` of a source tarball succeeds, an unknown
//! `builtin:nope` fails at once. Sandboxed graphs, several processes and
//! crashes are covered end to end in `tests/build/`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use super::*;
use crate::derivation::{Derivation, DerivationOutput, DrvHashes};
use crate::hash::HashAlgo;
use crate::realise::job::RealiseOptions;
use crate::store::Store;
use crate::store_path::{FileIngestionMethod, StoreDir};

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    tarball: StorePath,
    hashes: DrvHashes,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("store"), StoreDir::default()).unwrap();
        let tar_path = dir.path().join("src.tar");
        let mut builder = tar::Builder::new(fs_err::File::create(&tar_path).unwrap());
        let mut header = tar::Header::new_gnu();
        header.set_size(3);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, "dir/file", &b"hi\n"[..])
            .unwrap();
        builder.into_inner().unwrap();
        let tarball = store
            .add_path(
                &tar_path,
                "src.tar",
                FileIngestionMethod::Recursive,
                HashAlgo::Sha256,
            )
            .unwrap()
            .path;
        Fixture {
            _dir: dir,
            store: Arc::new(store),
            tarball,
            hashes: DrvHashes::new(),
        }
    }

    /// Adds a derivation with `builder` needing `deps`; returns its path.
    fn drv(&mut self, name: &str, builder: &str, deps: &[&StorePath]) -> StorePath {
        let store_dir = self.store.store_dir().clone();
        let env = BTreeMap::from([
            ("name".to_owned(), name.to_owned()),
            ("builder".to_owned(), builder.to_owned()),
            ("system".to_owned(), "builtin".to_owned()),
            ("src".to_owned(), store_dir.display(&self.tarball)),
            ("out".to_owned(), String::new()),
        ]);
        let mut drv = Derivation {
            outputs: BTreeMap::from([(
                "out".to_owned(),
                DerivationOutput {
                    path: None,
                    fixed: None,
                },
            )]),
            input_drvs: deps
                .iter()
                .map(|dep| ((*dep).clone(), BTreeSet::from(["out".to_owned()])))
                .collect(),
            input_srcs: BTreeSet::from([self.tarball.clone()]),
            platform: "builtin".to_owned(),
            builder: builder.to_owned(),
            args: Vec::new(),
            env,
        };
        drv.fill_output_paths(&store_dir, &self.hashes).unwrap();
        let path = drv.drv_path(&store_dir).unwrap();
        self.hashes.insert(path.clone(), &drv, &store_dir).unwrap();
        let added = self
            .store
            .add_text(
                &format!("{name}.drv"),
                drv.to_aterm(&store_dir).as_bytes(),
                &drv.references(),
            )
            .unwrap();
        assert_eq!(added.path, path);
        path
    }

    fn run(&self, roots: &[StorePath], keep_going: bool) -> (Summary, Vec<String>) {
        self.run_checking(roots, keep_going, false, 1)
    }

    /// Runs with `--check` (`check`) and `--rounds` (`rounds`).
    fn run_checking(
        &self,
        roots: &[StorePath],
        keep_going: bool,
        check: bool,
        rounds: u32,
    ) -> (Summary, Vec<String>) {
        let realiser = Arc::new(Realiser::new(
            Arc::clone(&self.store),
            RealiseOptions {
                rounds,
                ..RealiseOptions::default()
            },
        ));
        let recorder = Arc::new(Recorder::default());
        let reporter: Arc<dyn Reporter> = recorder.clone();
        let options = ScheduleOptions {
            jobs: 2,
            keep_going,
            check,
        };
        let (_, summary) = realise_blocking(&realiser, roots, &options, &reporter, false).unwrap();
        let seen = recorder.0.lock().unwrap().clone();
        (summary, seen)
    }
}

/// Records `kind name` for each event about a derivation.
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Reporter for Recorder {
    fn event(&self, event: &Event<'_>) {
        let kind = match event {
            Event::Started { .. } => "start",
            Event::Finished { .. } => "finish",
            Event::Failed { .. } => "fail",
            Event::NotBuilt { .. } => "not-built",
            Event::CheckStarted { .. } => "check",
            Event::Checked { report, .. } if report.identical() => "identical",
            Event::Checked { .. } => "differs",
            _ => return,
        };
        if let Some(drv) = event.drv() {
            let name = drv.name().trim_end_matches(".drv");
            self.0.lock().unwrap().push(format!("{kind} {name}"));
        }
    }
}

#[test]
fn a_chain_builds_in_order_and_a_rerun_does_nothing() {
    let mut fixture = Fixture::new();
    let first = fixture.drv("first", "builtin:unpack-v1", &[]);
    let second = fixture.drv("second", "builtin:unpack-v1", &[&first]);
    let (summary, seen) = fixture.run(std::slice::from_ref(&second), false);
    assert!(summary.success(), "{summary:?}");
    assert_eq!(summary.builtins.len(), 2);
    assert_eq!(
        seen,
        [
            "start first",
            "finish first",
            "start second",
            "finish second"
        ]
    );
    let (summary, seen) = fixture.run(&[second], false);
    assert!(summary.success());
    assert!(seen.is_empty(), "{seen:?}");
}

#[test]
fn a_failure_abandons_its_dependents_and_keep_going_builds_the_rest() {
    let mut fixture = Fixture::new();
    let bad = fixture.drv("bad", "builtin:nope", &[]);
    let after = fixture.drv("after", "builtin:unpack-v1", &[&bad]);
    let last = fixture.drv("last", "builtin:unpack-v1", &[&after]);
    let good = fixture.drv("good", "builtin:unpack-v1", &[]);
    let (summary, seen) = fixture.run(&[last.clone(), good.clone()], true);
    assert!(!summary.success());
    assert_eq!(summary.failed.len(), 1);
    assert_eq!(summary.failed[0].0, bad);
    assert_eq!(summary.not_built, [after, last]);
    assert!(summary.not_started.is_empty());
    assert_eq!(summary.builtins, [good]);
    assert!(seen.contains(&"fail bad".to_owned()), "{seen:?}");
    assert!(seen.contains(&"not-built last".to_owned()), "{seen:?}");
    let log = crate::realise::log::read_log(&fixture.store, &bad).unwrap();
    assert!(String::from_utf8_lossy(&log).contains("builtin:nope"));
}

#[test]
fn a_missing_derivation_is_an_error_naming_it() {
    let fixture = Fixture::new();
    let missing = StorePath::from_base_name("7rjj86a15146cq1d3qy068lml7n8ykzm-x.drv").unwrap();
    let error = Graph::load(&fixture.store, &[missing]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "derivation `/nix/store/7rjj86a15146cq1d3qy068lml7n8ykzm-x.drv` is not valid in the store"
    );
}

/// The registered info of the `out` output of `drv`.
fn out_info(store: &Store, drv: &StorePath) -> crate::db::PathInfo {
    let parsed = graph::load_drv(store, drv).unwrap();
    let out = parsed.outputs["out"].path.clone().unwrap();
    store.path_info(&out).unwrap().unwrap()
}

#[test]
fn checking_builds_the_roots_again_and_changes_nothing() {
    let mut fixture = Fixture::new();
    let first = fixture.drv("first", "builtin:unpack-v1", &[]);
    let second = fixture.drv("second", "builtin:unpack-v1", &[&first]);
    fixture.run(std::slice::from_ref(&second), false);
    let before = out_info(&fixture.store, &second);
    let (summary, seen) = fixture.run_checking(std::slice::from_ref(&second), false, true, 1);
    assert!(summary.success(), "{summary:?}");
    assert_eq!(summary.checked, std::slice::from_ref(&second));
    assert!(summary.builtins.is_empty() && summary.done_elsewhere.is_empty());
    assert_eq!(seen, ["check second", "identical second", "finish second"]);
    assert_eq!(out_info(&fixture.store, &second), before);
    assert!(fixture.store.verify(true).unwrap().problems.is_empty());
}

#[test]
fn rounds_build_again_what_is_built_here() {
    let mut fixture = Fixture::new();
    let first = fixture.drv("first", "builtin:unpack-v1", &[]);
    let second = fixture.drv("second", "builtin:unpack-v1", &[&first]);
    fixture.run(std::slice::from_ref(&first), false);
    let (summary, seen) = fixture.run_checking(std::slice::from_ref(&second), false, false, 3);
    assert!(summary.success(), "{summary:?}");
    // `first` was valid already: not built, so not checked.
    assert_eq!(summary.checked, std::slice::from_ref(&second));
    assert_eq!(
        seen,
        [
            "start second",
            "check second",
            "identical second",
            "check second",
            "identical second",
            "finish second"
        ]
    );
}
