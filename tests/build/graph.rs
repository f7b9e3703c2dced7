//! Graphs of busybox derivations: each node once, failures, `--keep-going`,
//! no-op reruns, `kiln realise`, `kiln log`, `kiln why-depends`, Ctrl-C.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::{Env, describe, drvs_of, events, lines, need_sandbox};
use crate::util::run;

/// A diamond: `top` needs `left` and `right`, which both need `base`.
/// Each output names its inputs' outputs, so references follow the edges.
const DIAMOND: &str = r#"rec {
  base = mk { name = "base"; script = "echo base-log-line; echo base > $out"; };
  left = mk { name = "left"; script = "sleep 0.3; echo $deps > $out"; deps = [ base ]; };
  right = mk { name = "right"; script = "sleep 0.3; echo $deps > $out"; deps = [ base ]; };
  top = mk { name = "top"; script = "echo $deps > $out"; deps = [ left right ]; };
}"#;

#[test]
fn a_diamond_builds_each_node_once_with_two_jobs_and_a_rerun_does_nothing() {
    need_sandbox!();
    let env = Env::new();
    env.nix("diamond.nix", DIAMOND);
    let started = Instant::now();
    let (paths, events) = env.build_ok("diamond.nix", &["-A", "top", "-j2"]);
    let elapsed = started.elapsed();
    assert_eq!(paths, [env.out_path("diamond.nix", Some("top"))]);
    let starts = drvs_of(&events, "start");
    let unique: BTreeSet<&String> = starts.iter().collect();
    assert_eq!(starts.len(), 4, "{starts:?}");
    assert_eq!(unique.len(), 4, "{starts:?}");
    // left and right (0.3 s each) ran side by side.
    assert!(elapsed < Duration::from_millis(3000), "{elapsed:?}");
    let top = fs_err::read_to_string(env.physical(&paths[0])).unwrap();
    for side in ["left", "right"] {
        let side_path = env.out_path("diamond.nix", Some(side));
        assert!(top.contains(&side_path), "{top}");
    }
    let (again, events) = env.build_ok("diamond.nix", &["-A", "top", "-j2"]);
    assert_eq!(again, paths);
    assert!(drvs_of(&events, "start").is_empty(), "{events:?}");
    env.assert_verified();
}

#[test]
fn an_out_link_in_a_missing_directory_creates_it_and_roots_the_output() {
    need_sandbox!();
    let env = Env::new();
    env.nix("diamond.nix", DIAMOND);
    let link = env.path().join("links/of/base");
    let out = run(env
        .kiln()
        .args(["build", "diamond.nix", "-A", "base", "-o"])
        .arg(&link));
    assert!(out.status.success(), "{}", describe(&out));
    let base = env.out_path("diamond.nix", Some("base"));
    assert_eq!(fs_err::read_link(&link).unwrap(), env.physical(&base));
    let gc = run(env.kiln().arg("gc"));
    assert!(gc.status.success(), "{}", describe(&gc));
    assert!(env.valid(&base), "the linked output was collected");
}

#[test]
fn realise_builds_derivations_already_in_the_store() {
    need_sandbox!();
    let env = Env::new();
    env.nix("diamond.nix", DIAMOND);
    let drvs = env.instantiate("diamond.nix", &["-A", "top", "-A", "base"]);
    assert_eq!(drvs.len(), 2, "{drvs:?}");
    let out = run(env.kiln().args(["realise", "--json"]).args(&drvs));
    assert!(out.status.success(), "{}", describe(&out));
    let expected = [
        env.out_path("diamond.nix", Some("top")),
        env.out_path("diamond.nix", Some("base")),
    ];
    assert_eq!(lines(&out.stdout), expected);
    assert_eq!(drvs_of(&events(&out.stderr), "start").len(), 4);
    // A no-op run prints the same paths and starts nothing.
    let out = run(env.kiln().args(["realise", "--json"]).args(&drvs));
    assert_eq!(lines(&out.stdout), expected);
    assert!(drvs_of(&events(&out.stderr), "start").is_empty());
}

/// `bad` fails; `after` needs it; `other` is independent and slow enough
/// to start after the failure without `--keep-going`'s help.
const FAILING: &str = r#"rec {
  base = mk { name = "base"; script = "echo base > $out"; };
  bad = mk { name = "bad"; script = "echo first-line; echo the-last-words; exit 3"; deps = [ base ]; };
  after = mk { name = "after"; script = "echo $deps > $out"; deps = [ bad ]; };
  last = mk { name = "last"; script = "echo $deps > $out"; deps = [ after ]; };
  other = mk { name = "other"; script = "echo other > $out"; deps = [ base ]; };
  slow = mk { name = "slow"; script = "sleep 0.5; echo $deps > $out"; deps = [ other ]; };
}"#;

#[test]
fn a_failure_names_the_derivation_shows_its_log_and_lists_what_was_not_built() {
    need_sandbox!();
    let env = Env::new();
    env.nix("failing.nix", FAILING);
    let bad = env.instantiate("failing.nix", &["-A", "bad"]).remove(0);
    let out = run(env
        .kiln()
        .args(["build", "--no-link", "-j1", "failing.nix", "-A", "last"]));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "error: `{bad}` failed: builder exited with code 3"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("> first-line"), "{stderr}");
    assert!(stderr.contains("> the-last-words"), "{stderr}");
    let after = env.instantiate("failing.nix", &["-A", "after"]).remove(0);
    let last = env.instantiate("failing.nix", &["-A", "last"]).remove(0);
    assert!(
        stderr.contains(&format!(
            "2 derivations were not built because `{bad}` failed"
        )),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("  {after}")), "{stderr}");
    assert!(stderr.contains(&format!("  {last}")), "{stderr}");
    assert!(out.stdout.is_empty());
    // The failed build's log is kept.
    let log = run(env.kiln().args(["log", &bad]));
    assert!(String::from_utf8_lossy(&log.stdout).contains("the-last-words"));
}

#[test]
fn keep_going_builds_the_independent_branch() {
    need_sandbox!();
    let env = Env::new();
    env.nix(
        "failing.nix",
        &format!("let g = {FAILING}; in [ g.last g.slow ]"),
    );
    // Without --keep-going, one job: the failure stops what had not started.
    let out = run(env
        .kiln()
        .args(["build", "--no-link", "--json", "-j1", "failing.nix"]));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let summary = events(&out.stderr).pop().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["failed"].as_array().unwrap().len(), 1);
    // With it, everything not depending on `bad` is built.
    let out = run(env.kiln().args([
        "build",
        "--no-link",
        "--json",
        "-j1",
        "--keep-going",
        "failing.nix",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let summary = events(&out.stderr).pop().unwrap();
    assert_eq!(
        summary["notStarted"].as_array().unwrap().len(),
        0,
        "{summary}"
    );
    assert_eq!(
        summary["notBuilt"].as_array().unwrap().len(),
        2,
        "{summary}"
    );
    let slow_drv = env.instantiate("failing.nix", &[]);
    assert_eq!(slow_drv.len(), 2);
    let realised = run(env.kiln().args(["realise", &slow_drv[1]]));
    assert!(realised.status.success(), "{}", describe(&realised));
    let events = events(&realised.stderr);
    assert!(drvs_of(&events, "start").is_empty());
}

#[test]
fn log_shows_the_build_log_of_a_drv_or_an_output() {
    need_sandbox!();
    let env = Env::new();
    env.nix("diamond.nix", DIAMOND);
    let (paths, _) = env.build_ok("diamond.nix", &["-A", "base"]);
    let drv = env.instantiate("diamond.nix", &["-A", "base"]).remove(0);
    for path in [&paths[0], &drv] {
        let out = run(env.kiln().args(["log", path]));
        assert!(out.status.success(), "{}", describe(&out));
        assert_eq!(out.stdout, b"base-log-line\n");
    }
    let bb = run(env.kiln().args(["store", "add", "bb"]));
    let bb = lines(&bb.stdout).remove(0);
    let out = run(env.kiln().args(["log", &bb]));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no log"));
}

#[test]
fn why_depends_prints_a_shortest_chain() {
    need_sandbox!();
    let env = Env::new();
    env.nix("diamond.nix", DIAMOND);
    let (top, _) = env.build_ok("diamond.nix", &["-A", "top"]);
    let base = env.out_path("diamond.nix", Some("base"));
    let out = run(env.kiln().args(["why-depends", &top[0], &base]));
    assert!(out.status.success(), "{}", describe(&out));
    let chain = lines(&out.stdout);
    assert_eq!(chain.len(), 3, "{chain:?}");
    assert_eq!(chain[0], top[0]);
    assert!(chain[1].starts_with("└───/nix/store/"), "{chain:?}");
    assert!(chain[1].ends_with("-left"), "{chain:?}");
    assert_eq!(chain[2], format!("    └───{base}"));
    let out = run(env.kiln().args(["why-depends", &base, &top[0]]));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not depend on"));
}

#[test]
fn ctrl_c_registers_nothing_and_the_next_run_succeeds() {
    need_sandbox!();
    let env = Env::new();
    env.nix(
        "sleepy.nix",
        r#"rec {
  quick = mk { name = "quick"; script = "echo quick > $out"; };
  sleepy = mk { name = "sleepy"; script = "echo started; sleep 2; echo $deps > $out"; deps = [ quick ]; };
}"#,
    );
    let sleepy = env.out_path("sleepy.nix", Some("sleepy"));
    let quick = env.out_path("sleepy.nix", Some("quick"));
    let mut child = env
        .kiln()
        .args(["build", "--no-link", "--json", "sleepy.nix", "-A", "sleepy"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let started = Instant::now();
    for line in stderr.by_ref() {
        let line = line.unwrap();
        if line.contains(r#""event":"start""#) && line.contains("-sleepy.drv") {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    let pid = child.id().to_string();
    assert!(
        run(std::process::Command::new("kill").args(["-INT", &pid]))
            .status
            .success()
    );
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    // The build cut short is counted as not finished.
    let summary: serde_json::Value = stderr
        .map(Result::unwrap)
        .filter(|line| line.contains(r#""event":"summary""#))
        .map(|line| serde_json::from_str(&line).unwrap())
        .next()
        .expect("no summary event");
    assert_eq!(summary["cancelled"], true);
    let not_finished = summary["notStarted"].as_array().unwrap();
    assert_eq!(not_finished.len(), 1, "{summary}");
    assert!(not_finished[0].as_str().unwrap().ends_with("-sleepy.drv"));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(!env.valid(&sleepy));
    assert!(env.valid(&quick));
    env.assert_verified();
    let (paths, events) = env.build_ok("sleepy.nix", &["-A", "sleepy"]);
    assert_eq!(paths, [sleepy]);
    assert_eq!(drvs_of(&events, "start").len(), 1);
}

#[test]
fn derivation_show_reads_store_paths_from_the_store() {
    need_sandbox!();
    let env = Env::new();
    env.nix("diamond.nix", DIAMOND);
    let drvs = env.instantiate("diamond.nix", &["-A", "top"]);
    let out = run(env.kiln().args(["derivation", "show", &drvs[0]]));
    assert!(out.status.success(), "{}", describe(&out));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown[&drvs[0]]["env"]["name"], "top", "{shown}");

    let missing = drvs[0].replace("-top.drv", "-gone.drv");
    let out = run(env.kiln().args(["derivation", "show", &missing]));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("`{missing}` is not in the store")),
        "{stderr}"
    );
}

#[test]
fn a_niced_build_keeps_its_priority_in_the_builders_session() {
    need_sandbox!();
    let env = Env::new();
    env.nix(
        "nice.nix",
        r#"mk { name = "nice"; script = "cat /proc/self/autogroup > $out; cut -d' ' -f19 /proc/self/stat >> $out"; }"#,
    );
    // Each builder runs in a session of its own, and with scheduler
    // autogroups a session competes as an equal whatever its nice value:
    // kiln gives the builder's autogroup its own priority.
    let mut cmd = std::process::Command::new("nice");
    cmd.args(["-n", "7", env!("CARGO_BIN_EXE_kiln")])
        .args(["build", "--no-link", "nice.nix"])
        .env("KILN_STORE", env.store_root())
        .current_dir(env.path());
    let out = run(&mut cmd);
    assert!(out.status.success(), "{}", describe(&out));
    // `nice` adds to the test's own nice value.
    let stat = fs_err::read_to_string("/proc/self/stat").unwrap();
    let own: i32 = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(16))
        .and_then(|n| n.parse().ok())
        .unwrap();
    let expected = (own + 7).min(19);
    let path = lines(&out.stdout).remove(0);
    let seen = fs_err::read_to_string(env.physical(&path)).unwrap();
    let mut seen = seen.lines();
    let autogroup = seen.next().unwrap_or_default();
    assert!(
        autogroup.ends_with(&format!(" nice {expected}")),
        "{autogroup:?}"
    );
    assert_eq!(
        seen.next(),
        Some(expected.to_string().as_str()),
        "the builder's own nice value"
    );
}
