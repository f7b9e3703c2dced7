//! Realising derivations end to end: `kiln build` and `kiln realise` on
//! graphs of busybox builders in a scratch store, `kiln log`,
//! `kiln why-depends`, failures, `--keep-going`, Ctrl-C, `--check` and
//! `--rounds` ([`check`]), early cutoff ([`cutoff`]), `kiln export`/`kiln import` ([`bundle`]), several processes on one store
//! ([`concurrency`]), fetches over loopback ([`fetch`]), SIGKILL at random
//! moments ([`crash`]) and agreement with Nix ([`interop`]).
//!
//! Builds need the sandbox (user namespaces) and `/bin/busybox`; without
//! them each test prints a notice and passes, unless
//! `KILN_REQUIRE_SANDBOX=1`.

#![expect(
    clippy::print_stderr,
    reason = "a skipped test says why in the test log"
)]

mod bundle;
mod check;
mod concurrency;
mod crash;
mod cutoff;
mod explain;
pub mod fetch;
mod graph;
mod image;
mod interop;
mod registry;
mod vary;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

use crate::util::{kiln, run};

const BUSYBOX: &str = "/bin/busybox";

/// A scratch directory with busybox in it and a store of its own.
pub struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bb/bin");
        fs_err::create_dir_all(&bin).unwrap();
        fs_err::copy(BUSYBOX, bin.join("busybox")).unwrap();
        Env { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn store_root(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// `kiln` with this store, run in this directory.
    pub fn kiln(&self) -> Command {
        let mut cmd = kiln();
        cmd.env("KILN_STORE", self.store_root())
            .env_remove("KILN_STORE_DIR")
            .current_dir(self.dir.path());
        cmd
    }

    /// Writes `body` after a prelude defining `bb` (busybox as a source)
    /// and `mk { name, script, deps ? [], ... }` (a busybox `sh -c`
    /// derivation whose `$deps` lists the dependencies' outputs).
    pub fn nix(&self, file: &str, body: &str) -> PathBuf {
        let prelude = r#"
let
  bb = ./bb;
  mk = { name, script, deps ? [], ... }@args: derivation ({
    system = "x86_64-linux";
    builder = "${bb}/bin/busybox";
    args = [ "sh" "-c" script ];
    PATH = "${bb}/bin";
  } // builtins.removeAttrs args [ "script" ]);
in
"#;
        let path = self.dir.path().join(file);
        fs_err::write(&path, format!("{prelude}{body}\n")).unwrap();
        path
    }

    /// `kiln build --no-link --json FILE ARGS…`; returns the output.
    pub fn build(&self, file: &str, args: &[&str]) -> Output {
        run(self
            .kiln()
            .args(["build", "--no-link", "--json", file])
            .args(args))
    }

    /// Like [`Env::build`], asserting success; returns the printed paths.
    pub fn build_ok(&self, file: &str, args: &[&str]) -> (Vec<String>, Vec<Value>) {
        let out = self.build(file, args);
        assert!(out.status.success(), "{}", describe(&out));
        (lines(&out.stdout), events(&out.stderr))
    }

    /// Returns the physical path of a logical store path.
    pub fn physical(&self, logical: &str) -> PathBuf {
        let base = logical.rsplit('/').next().unwrap();
        self.store_root().join("store").join(base)
    }

    /// Whether `kiln path-info` accepts the path (it is valid).
    pub fn valid(&self, logical: &str) -> bool {
        run(self.kiln().args(["path-info", logical]))
            .status
            .success()
    }

    /// `kiln store verify --check-contents` reports nothing.
    pub fn assert_verified(&self) {
        let out = run(self.kiln().args(["store", "verify", "--check-contents"]));
        assert!(out.status.success(), "{}", describe(&out));
    }

    /// Evaluates `(import FILE).outPath` (or of attribute `attr`).
    pub fn out_path(&self, file: &str, attr: Option<&str>) -> String {
        let select = attr.map_or(String::new(), |a| format!(".{a}"));
        self.eval_string(&format!("(import ./{file}){select}.outPath"))
    }

    /// Evaluates `expr`, a string, in this directory.
    pub fn eval_string(&self, expr: &str) -> String {
        let out = run(self.kiln().args(["eval", "-E", expr]));
        assert!(out.status.success(), "{}", describe(&out));
        String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .trim_matches('"')
            .to_owned()
    }

    /// Writes the derivations of FILE to the store with
    /// `kiln build --dry-run`; returns their `.drv` paths.
    pub fn instantiate(&self, file: &str, args: &[&str]) -> Vec<String> {
        let out = run(self.kiln().args(["build", "--dry-run", file]).args(args));
        assert!(out.status.success(), "{}", describe(&out));
        lines(&out.stdout)
    }
}

/// The lines of a command's stdout.
pub fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The JSON events in `--json` stderr (other lines are ignored).
pub fn events(stderr: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// The `drv` of every event of kind `kind` (`start`, `finish`, …).
pub fn drvs_of(events: &[Value], kind: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["event"] == kind)
        .filter_map(|e| e["drv"].as_str().map(str::to_owned))
        .collect()
}

/// A command's status, stdout and stderr, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Whether sandboxed builds can run here; prints a notice when not.
pub fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    let available = *AVAILABLE.get_or_init(probe);
    if !available {
        assert!(
            std::env::var_os("KILN_REQUIRE_SANDBOX").is_none(),
            "KILN_REQUIRE_SANDBOX is set but the sandbox cannot run here"
        );
        eprintln!("note: no user namespaces or no {BUSYBOX}; skipping a build test");
    }
    available
}

fn probe() -> bool {
    if !Path::new(BUSYBOX).exists() {
        return false;
    }
    let env = Env::new();
    env.nix(
        "probe.nix",
        r#"mk { name = "probe"; script = "echo > $out"; }"#,
    );
    let out = env.build("probe.nix", &[]);
    if !out.status.success() {
        eprintln!("note: the sandbox probe failed:\n{}", describe(&out));
    }
    out.status.success()
}

macro_rules! need_sandbox {
    () => {
        if !super::available() {
            return;
        }
    };
}
use need_sandbox;
