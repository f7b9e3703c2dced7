//! The build sandbox, end to end: real builders (a static busybox as the
//! only input) that try to escape, each of which must be denied, and the
//! basics a build relies on (outputs, environment, identity, time limits).
//!
//! These need Linux namespaces (CI runs them as root) and `/bin/busybox`
//! (Debian's `busybox-static`). Without either they print a notice and
//! pass, unless `KILN_REQUIRE_SANDBOX=1`, in which case they fail.

#![expect(
    clippy::print_stderr,
    reason = "a skipped test says why in the test log"
)]

use std::collections::BTreeMap;
use std::io::{ErrorKind, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use kiln_store::build::{self, BuildError, BuildOptions, BuildOutcome, BuildStatus};
use kiln_store::sandbox::{self, SandboxDirs, SandboxPlan, SandboxSpec, SetupError};
use kiln_store::store_path::{StoreDir, StorePath};

const BUSYBOX: &str = "/bin/busybox";
const APPLETS: &[&str] = &[
    "sh", "env", "cat", "ls", "echo", "id", "hostname", "uname", "mkdir", "touch", "nc", "sleep",
    "setsid", "grep", "head", "wc", "yes", "test", "chmod", "pwd", "tr", "rm", "sort", "true",
];

/// A scratch store holding busybox, and a work area for builds.
struct Fixture {
    _temp: tempfile::TempDir,
    /// The physical store directory (not `/nix/store`).
    store: PathBuf,
    busybox: StorePath,
    work: PathBuf,
}

fn store_path(byte: u8, name: &str) -> StorePath {
    StorePath::from_digest(&[byte; 20], name).unwrap()
}

impl Fixture {
    fn new() -> Fixture {
        let temp = tempfile::tempdir().unwrap();
        let store = temp.path().join("physical-store");
        let busybox = store_path(1, "busybox");
        let bin = store.join(busybox.base_name()).join("bin");
        fs_err::create_dir_all(&bin).unwrap();
        fs_err::copy(BUSYBOX, bin.join("busybox")).unwrap();
        for applet in APPLETS {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
        }
        let work = temp.path().join("work");
        Fixture {
            store,
            busybox,
            work,
            _temp: temp,
        }
    }

    fn busybox_dir(&self) -> String {
        format!("/nix/store/{}", self.busybox.base_name())
    }

    /// A spec running `script` with busybox's `sh`, output `out`.
    fn spec(&self, script: &str) -> SandboxSpec {
        let out = store_path(2, "out");
        let bb = self.busybox_dir();
        SandboxSpec {
            store_dir: StoreDir::default(),
            dirs: SandboxDirs::under(&self.work),
            inputs: vec![(
                self.busybox.clone(),
                self.store.join(self.busybox.base_name()),
            )],
            outputs: vec![("out".into(), out.clone())],
            builder: format!("{bb}/bin/busybox"),
            args: vec![
                "sh".into(),
                "-c".into(),
                format!("export PATH={bb}/bin\n{script}"),
            ],
            env: BTreeMap::from([("out".into(), format!("/nix/store/{}", out.base_name()))]),
            rootfs: None,
            fixed_output: false,
            impure_env: BTreeMap::new(),
            cores: 1,
            ids: sandbox::linux::current_ids(),
            variation: Default::default(),
        }
    }
}

fn host_uid() -> u32 {
    // The tests run as one user; /proc/self tells which.
    std::os::unix::fs::MetadataExt::uid(&fs_err::metadata("/proc/self").unwrap())
}

/// Runs a planned build; returns the outcome and the whole log.
fn run_plan(plan: &SandboxPlan, options: &BuildOptions) -> (BuildOutcome, String) {
    let mut log = Vec::new();
    let outcome = build::run(plan, options, &mut log).unwrap_or_else(|e| panic!("{e:?}"));
    (outcome, String::from_utf8_lossy(&log).into_owned())
}

fn run_spec(spec: &SandboxSpec) -> (BuildOutcome, String, SandboxPlan) {
    let plan = sandbox::plan(spec).unwrap();
    let (outcome, log) = run_plan(&plan, &BuildOptions::default());
    (outcome, log, plan)
}

/// Runs `script`; asserts it succeeded; returns its log.
fn run_ok(fixture: &Fixture, script: &str) -> String {
    let (outcome, log, _) = run_spec(&fixture.spec(script));
    assert!(outcome.success(), "{:?}\nlog:\n{log}", outcome.status);
    log
}

/// Whether sandboxed builds can run here; prints a notice when not.
fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    let available = *AVAILABLE.get_or_init(probe);
    if !available {
        assert!(
            std::env::var_os("KILN_REQUIRE_SANDBOX").is_none(),
            "KILN_REQUIRE_SANDBOX is set but the sandbox cannot run here"
        );
        eprintln!("note: no user namespaces or no {BUSYBOX}; skipping a sandbox test");
    }
    available
}

fn probe() -> bool {
    if !Path::new(BUSYBOX).exists() {
        return false;
    }
    let fixture = Fixture::new();
    let plan = sandbox::plan(&fixture.spec("true")).unwrap();
    match build::run(&plan, &BuildOptions::default(), &mut std::io::sink()) {
        Ok(outcome) => outcome.success(),
        Err(BuildError::Setup(SetupError::Phase { phase, source })) => {
            eprintln!("note: sandbox unavailable: {phase}: {source}");
            false
        }
        Err(error) => panic!("sandbox probe failed: {error:?}"),
    }
}

macro_rules! need_sandbox {
    () => {
        if !available() {
            return;
        }
    };
}

#[test]
fn build_writes_its_output() {
    need_sandbox!();
    let fixture = Fixture::new();
    let (outcome, log, plan) =
        run_spec(&fixture.spec("mkdir $out && echo hello > $out/greeting && echo done"));
    assert!(outcome.success(), "{log}");
    assert_eq!(log, "done\n");
    let out = &plan.outputs[0].host_path;
    assert_eq!(
        fs_err::read_to_string(out.join("greeting")).unwrap(),
        "hello\n"
    );
}

#[test]
fn output_may_be_a_file_or_symlink() {
    need_sandbox!();
    let fixture = Fixture::new();
    let (outcome, _, plan) = run_spec(&fixture.spec("echo plain > $out"));
    assert!(outcome.success());
    assert_eq!(
        fs_err::read_to_string(&plan.outputs[0].host_path).unwrap(),
        "plain\n"
    );
}

#[test]
fn environment_is_exactly_the_plan() {
    need_sandbox!();
    let fixture = Fixture::new();
    let mut spec = fixture.spec("");
    spec.args = vec!["env".into()];
    spec.env.insert("custom".into(), "value with spaces".into());
    let (outcome, log, plan) = run_spec(&spec);
    assert!(outcome.success(), "{log}");
    let seen: BTreeMap<String, String> = log
        .lines()
        .map(|line| line.split_once('=').unwrap())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(seen, plan.env);
    let names: Vec<&str> = seen.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "HOME",
            "LC_ALL",
            "NIX_BUILD_CORES",
            "NIX_BUILD_TOP",
            "NIX_LOG_FD",
            "NIX_STORE",
            "PATH",
            "PWD",
            "SOURCE_DATE_EPOCH",
            "TEMP",
            "TEMPDIR",
            "TERM",
            "TMP",
            "TMPDIR",
            "TZ",
            "custom",
            "out",
        ]
    );
    assert_eq!(seen["PATH"], "/path-not-set");
    assert_eq!(seen["HOME"], "/homeless-shelter");
    assert_eq!(seen["SOURCE_DATE_EPOCH"], "315532800");
}

#[test]
fn identity_is_fixed() {
    need_sandbox!();
    let fixture = Fixture::new();
    let log = run_ok(
        &fixture,
        "hostname; uname -n; cat /proc/sys/kernel/domainname; id -u; id -g; id -un; id -gn; \
         id -G; pwd; cat /proc/self/uid_map",
    );
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(
        lines[..7],
        [
            "localhost",
            "localhost",
            "(none)",
            "1000",
            "100",
            "nixbld",
            "nixbld"
        ]
    );
    // Supplementary groups: none as root; an unprivileged caller's own
    // show up unmapped (65534) after the build group.
    assert_eq!(lines[7].split(' ').next(), Some("100"));
    assert_eq!(lines[8], "/build");
    let map: Vec<Vec<&str>> = lines[9..]
        .iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    if host_uid() == 0 {
        // As root, the builder is an unprivileged host user, not root.
        let build_id = kiln_store::sandbox::plan::ROOT_BUILD_ID.to_string();
        assert_eq!(
            map,
            [vec!["0", "0", "1"], vec!["1000", build_id.as_str(), "1"]]
        );
    } else {
        assert_eq!(
            map,
            [vec![
                "1000".to_owned(),
                host_uid().to_string(),
                "1".to_owned()
            ]]
        );
    }
}

#[test]
fn network_is_denied() {
    need_sandbox!();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let fixture = Fixture::new();
    let log = run_ok(
        &fixture,
        &format!(
            "if echo hi | nc -w 2 127.0.0.1 {port}; then echo CONNECTED; else echo REFUSED; fi"
        ),
    );
    assert!(log.contains("REFUSED"), "{log}");
    assert!(!log.contains("CONNECTED"), "{log}");
    assert_eq!(
        listener.accept().map(drop).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
}

#[test]
fn only_loopback_exists() {
    need_sandbox!();
    let fixture = Fixture::new();
    let log = run_ok(&fixture, "cat /proc/net/dev");
    let interfaces: Vec<&str> = log
        .lines()
        .skip(2)
        .filter_map(|line| line.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(interfaces, ["lo"], "{log}");
}

#[test]
fn fixed_output_build_shares_the_network() {
    need_sandbox!();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    // Answer one connection, or give up after a while.
    let server = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok((mut stream, _)) = listener.accept() {
                stream.write_all(b"pong\n").unwrap();
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    });
    let fixture = Fixture::new();
    let mut spec = fixture.spec(&format!(
        "nc -w 5 127.0.0.1 {port} </dev/null || echo REFUSED"
    ));
    spec.fixed_output = true;
    let plan = sandbox::plan(&spec).unwrap();
    let limit = BuildOptions {
        timeout: Some(Duration::from_secs(30)),
        ..BuildOptions::default()
    };
    let (outcome, log) = run_plan(&plan, &limit);
    assert!(outcome.success(), "{:?}: {log}", outcome.status);
    assert!(server.join().unwrap(), "the listener saw no connection");
    assert_eq!(log, "pong\n");
}

#[test]
fn host_files_are_invisible() {
    need_sandbox!();
    let marker = std::env::temp_dir().join(format!("kiln-sandbox-marker-{}", std::process::id()));
    fs_err::write(&marker, "host secret 8d1f").unwrap();
    let fixture = Fixture::new();
    let log = run_ok(
        &fixture,
        &format!(
            "cat {} 2>&1 || echo UNREADABLE; ls /; ls /tmp 2>&1 || true",
            marker.display()
        ),
    );
    fs_err::remove_file(&marker).unwrap();
    assert!(!log.contains("8d1f"), "{log}");
    assert!(log.contains("UNREADABLE"), "{log}");
    let top: Vec<&str> = log.lines().skip(2).take(5).collect();
    assert_eq!(top, ["build", "dev", "etc", "nix", "proc"], "{log}");
}

#[test]
fn store_paths_outside_the_inputs_are_invisible() {
    need_sandbox!();
    let fixture = Fixture::new();
    let secret = store_path(3, "secret");
    fs_err::create_dir_all(fixture.store.join(secret.base_name())).unwrap();
    fs_err::write(fixture.store.join(secret.base_name()).join("data"), "x").unwrap();
    let log = run_ok(
        &fixture,
        &format!(
            "ls /nix/store; test -e /nix/store/{s} && echo VISIBLE; ls /nix/store/{s} 2>&1 || true",
            s = secret.base_name()
        ),
    );
    assert!(!log.contains("VISIBLE"), "{log}");
    assert_eq!(
        log.lines().next(),
        Some(fixture.busybox.base_name().as_str()),
        "{log}"
    );
    assert!(
        log.lines()
            .nth(1)
            .is_some_and(|line| line.contains("No such file")),
        "{log}"
    );
}

#[test]
fn host_processes_are_invisible() {
    need_sandbox!();
    let fixture = Fixture::new();
    let log = run_ok(
        &fixture,
        "echo $$; ls /proc; cat /proc/1/cmdline | tr '\\0' ' '; echo",
    );
    let mut lines = log.lines();
    assert_eq!(
        lines.next(),
        Some("2"),
        "the builder is pid 2, under the reaper"
    );
    let pids: Vec<u32> = lines
        .clone()
        .filter_map(|entry| entry.parse().ok())
        .collect();
    assert!(pids.contains(&1) && pids.contains(&2), "{log}");
    assert!(
        pids.iter().all(|pid| *pid < 10),
        "host pids are visible: {pids:?}"
    );
    let host_pid = std::process::id();
    assert!(!log.contains(&format!("\n{host_pid}\n")) || host_pid < 10);
    // Pid 1 does not show the caller's command line.
    let cmdline = log.lines().last().unwrap_or_default().trim();
    assert_eq!(cmdline, "kiln-sandbox-init", "{log}");
}

#[test]
fn writes_outside_build_and_outputs_are_denied() {
    need_sandbox!();
    let fixture = Fixture::new();
    let bb = fixture.busybox_dir();
    let attempts = [
        ("root", "echo x > /evil".to_owned()),
        ("root-dir", "mkdir /evil".into()),
        ("etc", "echo x > /etc/evil".into()),
        ("passwd", "echo x >> /etc/passwd".into()),
        ("input", format!("echo x > {bb}/evil")),
        ("input-binary", format!("echo x > {bb}/bin/busybox")),
        ("input-chmod", format!("chmod 777 {bb}")),
        ("dev", "touch /dev/evil".into()),
        (
            "proc-hostname",
            "echo evil > /proc/sys/kernel/hostname".into(),
        ),
        ("hostname", "hostname evil".into()),
        // Harmless if they succeed (same mode, same value), but they must not.
        ("dev-null-chmod", "chmod 666 /dev/null".into()),
        (
            "global-sysctl",
            "cat /proc/sys/kernel/core_pattern > /proc/sys/kernel/core_pattern".into(),
        ),
        (
            "overcommit",
            "cat /proc/sys/vm/overcommit_memory > /proc/sys/vm/overcommit_memory".into(),
        ),
    ];
    let script: String = attempts
        .iter()
        .map(|(name, attempt)| {
            format!("if ( {attempt} ) 2>/dev/null; then echo ESCAPED-{name}; fi\n")
        })
        .collect();
    let log = run_ok(
        &fixture,
        &format!(
            "{script}echo ok > /build/fine; echo ok > /dev/shm/fine; echo x > /dev/null; hostname"
        ),
    );
    assert!(!log.contains("ESCAPED"), "{log}");
    assert_eq!(log.trim(), "localhost");
    assert!(
        !fixture
            .store
            .join(fixture.busybox.base_name())
            .join("evil")
            .exists()
    );
    assert_eq!(
        fs_err::read(
            fixture
                .store
                .join(fixture.busybox.base_name())
                .join("bin/busybox")
        )
        .unwrap(),
        fs_err::read(BUSYBOX).unwrap()
    );
}

#[test]
fn new_store_paths_stay_in_the_scratch_store() {
    need_sandbox!();
    let fixture = Fixture::new();
    let other = store_path(4, "undeclared");
    run_ok(
        &fixture,
        &format!("echo x > /nix/store/{}", other.base_name()),
    );
    assert!(!fixture.store.join(other.base_name()).exists());
}

#[test]
fn no_process_outlives_the_build() {
    need_sandbox!();
    let fixture = Fixture::new();
    let start = Instant::now();
    run_ok(
        &fixture,
        "setsid sleep 7361 & sleep 7362 & (sleep 7363 &) ; nohup sleep 7364 >/dev/null 2>&1 & echo started",
    );
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "the build waited for its daemons"
    );
    let survivors: Vec<String> = fs_err::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| std::fs::read(entry.ok()?.path().join("cmdline")).ok())
        .map(|cmdline| String::from_utf8_lossy(&cmdline).replace('\0', " "))
        .filter(|cmdline| cmdline.contains("sleep 736"))
        .collect();
    assert!(survivors.is_empty(), "survivors: {survivors:?}");
}

fn timed(fixture: &Fixture, script: &str, options: BuildOptions) -> (BuildOutcome, String) {
    let plan = sandbox::plan(&fixture.spec(script)).unwrap();
    run_plan(&plan, &options)
}

#[test]
fn timeout_kills_the_build() {
    need_sandbox!();
    let fixture = Fixture::new();
    let limit = Duration::from_secs(1);
    let options = BuildOptions {
        timeout: Some(limit),
        ..BuildOptions::default()
    };
    let (outcome, _) = timed(&fixture, "sleep 100 & sleep 100", options);
    assert_eq!(outcome.status, BuildStatus::TimedOut(limit));
    assert!(
        outcome.elapsed < Duration::from_secs(10),
        "{:?}",
        outcome.elapsed
    );
}

#[test]
fn timeout_kills_a_chatty_build() {
    need_sandbox!();
    let fixture = Fixture::new();
    let limit = Duration::from_secs(1);
    let options = BuildOptions {
        timeout: Some(limit),
        ..BuildOptions::default()
    };
    let plan = sandbox::plan(&fixture.spec("yes")).unwrap();
    let outcome = build::run(&plan, &options, &mut std::io::sink()).unwrap();
    assert_eq!(outcome.status, BuildStatus::TimedOut(limit));
    assert!(
        outcome.elapsed < Duration::from_secs(10),
        "{:?}",
        outcome.elapsed
    );
}

#[test]
fn max_silent_time_kills_a_silent_build() {
    need_sandbox!();
    let fixture = Fixture::new();
    let limit = Duration::from_secs(1);
    let options = BuildOptions {
        max_silent_time: Some(limit),
        ..BuildOptions::default()
    };
    let (outcome, log) = timed(&fixture, "echo start; sleep 100", options.clone());
    assert_eq!(outcome.status, BuildStatus::Silent(limit));
    assert_eq!(log, "start\n");
    assert_eq!(outcome.log_tail, ["start"]);
    // A build that keeps talking is not silent.
    let (outcome, _) = timed(
        &fixture,
        "for i in 1 2 3 4 5 6; do echo $i; sleep 0.4; done",
        options,
    );
    assert!(outcome.success(), "{:?}", outcome.status);
}

#[test]
fn cancellation_kills_the_build() {
    need_sandbox!();
    let fixture = Fixture::new();
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    let setter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        flag.store(true, Ordering::SeqCst);
    });
    let options = BuildOptions {
        cancel: Some(cancel),
        ..BuildOptions::default()
    };
    let (outcome, _) = timed(&fixture, "sleep 100", options);
    setter.join().unwrap();
    assert_eq!(outcome.status, BuildStatus::Cancelled);
    assert!(outcome.elapsed < Duration::from_secs(10));
}

#[test]
fn failure_reports_status_and_log_tail() {
    need_sandbox!();
    let fixture = Fixture::new();
    let options = BuildOptions {
        log_lines: 2,
        ..BuildOptions::default()
    };
    let (outcome, _) = timed(
        &fixture,
        "echo one; echo two >&2; echo three; exit 3",
        options,
    );
    assert_eq!(outcome.status, BuildStatus::Exited(3));
    let error = outcome.into_result().unwrap_err();
    assert_eq!(error.to_string(), "builder exited with code 3");
    let BuildError::Failed { log_tail, .. } = error else {
        panic!()
    };
    assert_eq!(log_tail, ["two", "three"]);
    let (outcome, _) = timed(&fixture, "kill -9 $$", BuildOptions::default());
    assert_eq!(outcome.status, BuildStatus::Signaled(9));
}

#[test]
fn missing_builder_is_an_exec_error() {
    need_sandbox!();
    let fixture = Fixture::new();
    let mut spec = fixture.spec("");
    spec.builder = "/nix/store/missing/bin/sh".into();
    let plan = sandbox::plan(&spec).unwrap();
    let error = build::run(&plan, &BuildOptions::default(), &mut std::io::sink()).unwrap_err();
    let BuildError::Setup(SetupError::Exec { builder, source }) = error else {
        panic!("{error:?}")
    };
    assert_eq!(builder, "/nix/store/missing/bin/sh");
    assert_eq!(source.kind(), ErrorKind::NotFound);
}

#[test]
fn setup_failure_names_the_step() {
    need_sandbox!();
    let fixture = Fixture::new();
    let mut plan = sandbox::plan(&fixture.spec("true")).unwrap();
    let bad = sandbox::Step::Tmpfs {
        path: "/no/such/dir".into(),
        mode: 0o755,
    };
    plan.steps.insert(1, bad.clone());
    let error = build::run(&plan, &BuildOptions::default(), &mut std::io::sink()).unwrap_err();
    let BuildError::Setup(SetupError::Step { step, source }) = error else {
        panic!("{error:?}")
    };
    assert_eq!(step, bad);
    assert_eq!(source.kind(), ErrorKind::NotFound);
    assert_eq!(
        SetupError::Step { step, source }.to_string(),
        "sandbox setup failed at `tmpfs (mode 755) on /no/such/dir`"
    );
}

#[test]
fn noisy_builder_does_not_deadlock() {
    need_sandbox!();
    let fixture = Fixture::new();
    struct Count(usize);
    impl Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let plan = sandbox::plan(
        &fixture.spec("yes out | head -c 4000000 & yes err | head -c 4000000 >&2; wait"),
    )
    .unwrap();
    let mut count = Count(0);
    let outcome = build::run(&plan, &BuildOptions::default(), &mut count).unwrap();
    assert!(outcome.success());
    assert_eq!(count.0, 8_000_000);
}

#[test]
fn dev_is_minimal() {
    need_sandbox!();
    let fixture = Fixture::new();
    let log = run_ok(
        &fixture,
        "ls /dev | tr '\\n' ' '; echo; head -c 5 /dev/urandom | wc -c; ls /etc | tr '\\n' ' '",
    );
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(
        lines[0].trim(),
        "fd full null ptmx pts random shm stderr stdin stdout tty urandom zero"
    );
    assert_eq!(lines[1].trim(), "5");
    assert_eq!(lines[2].trim(), "group hosts passwd");
}

#[test]
fn rootfs_is_mounted_beneath_the_store() {
    need_sandbox!();
    let fixture = Fixture::new();
    let rootfs = store_path(5, "rootfs");
    let root = fixture.store.join(rootfs.base_name());
    fs_err::create_dir_all(root.join("usr/bin")).unwrap();
    fs_err::create_dir_all(root.join("etc")).unwrap();
    fs_err::create_dir_all(root.join("nix/store/shadowed")).unwrap();
    fs_err::copy(BUSYBOX, root.join("usr/bin/busybox")).unwrap();
    for applet in ["sh", "cat", "ls", "tr", "echo"] {
        std::os::unix::fs::symlink("busybox", root.join("usr/bin").join(applet)).unwrap();
    }
    std::os::unix::fs::symlink("usr/bin", root.join("bin")).unwrap();
    fs_err::write(root.join("etc/os-release"), "ID=kiln-test\n").unwrap();
    fs_err::write(root.join("etc/passwd"), "not used\n").unwrap();
    let mut spec = fixture.spec("");
    spec.inputs.push((rootfs.clone(), root.clone()));
    spec.rootfs = Some(rootfs);
    spec.builder = "/bin/sh".into();
    spec.args = vec![
        "-c".into(),
        "export PATH=/bin; cat /etc/os-release; ls / | tr '\\n' ' '; echo; ls /nix/store | tr '\\n' ' '; \
         echo; ls /etc | tr '\\n' ' '; echo; if echo x > /usr/evil; then echo ESCAPED; fi"
            .into(),
    ];
    let (outcome, log, _) = run_spec(&spec);
    assert!(outcome.success(), "{log}");
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines[0], "ID=kiln-test");
    assert_eq!(lines[1].trim(), "bin build dev etc nix proc usr");
    assert!(!lines[2].contains("shadowed"), "{log}");
    assert_eq!(lines[3].trim(), "group hosts os-release passwd");
    assert!(!log.contains("ESCAPED"), "{log}");
    assert!(!root.join("usr/evil").exists());
}
