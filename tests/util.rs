//! Helpers shared by the end-to-end tests: running kiln and the real Nix.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Returns a `Command` for the kiln binary under test.
pub fn kiln() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
}

/// Runs a command and returns its output, panicking (this is a test) if it
/// cannot be spawned.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Runs a command that must succeed and returns its stdout.
pub fn run_ok(cmd: &mut Command) -> Vec<u8> {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed with {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Like [`run_ok`], returning stdout as a trimmed string.
pub fn run_ok_str(cmd: &mut Command) -> String {
    String::from_utf8(run_ok(cmd))
        .expect("utf-8 output")
        .trim_end()
        .to_owned()
}

/// Whether the real Nix is available. When it is not, differential tests
/// print a notice and return early, unless `KILN_REQUIRE_NIX=1`, in which
/// case they fail.
#[expect(
    clippy::print_stderr,
    reason = "a skipped differential test must say so"
)]
pub fn have_nix() -> bool {
    static HAVE: OnceLock<bool> = OnceLock::new();
    let have = *HAVE.get_or_init(|| {
        Command::new("nix-store")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !have {
        assert!(
            std::env::var_os("KILN_REQUIRE_NIX").is_none(),
            "KILN_REQUIRE_NIX is set but nix-store is not installed"
        );
        eprintln!("note: nix-store not found; skipping a differential test");
    }
    have
}

/// Returns a `Command` for one of Nix's tools (`nix-store`, `nix-hash`,
/// `nix-instantiate`, …) configured to run as root without build users or
/// substituters, with a scratch cache directory.
pub fn nix(tool: &str) -> Command {
    static CACHE: OnceLock<PathBuf> = OnceLock::new();
    let cache = CACHE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("kiln-test-nix-cache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create nix cache dir");
        dir
    });
    let mut cmd = Command::new(tool);
    cmd.env("NIX_CONFIG", "build-users-group =\nsubstituters =\n")
        .env("XDG_CACHE_HOME", cache)
        .env_remove("NIX_PATH");
    cmd
}

/// The directory holding test fixtures shipped in the repository.
pub fn fixtures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"))
}
