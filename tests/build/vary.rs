//! `kiln build --vary`: a check in varied surroundings. A derivation that
//! ignores its surroundings passes every variation; one that records them
//! fails, and kiln names each aspect that changes its output; a derivation
//! that differs anyway is told apart from one that depends on a variation.

use serde_json::Value;

use super::check::checks;
use super::{Env, describe, events, need_sandbox};
use crate::util::run;

/// The same bytes whatever the surroundings.
const STEADY: &str = r#"mk {
  name = "steady";
  script = "mkdir $out; echo same > $out/same";
}"#;

/// Records every aspect a variation can change: the build directory, the
/// host name, the umask, `TZ`, `LC_ALL`, whether the boot-time clock says
/// the machine has been up for more than a year, the core count, and the
/// order in which the build directory lists a directory's entries.
const RECORDER: &str = r#"mk {
  name = "recorder";
  script = ''
    mkdir $out
    echo "$PWD $NIX_BUILD_TOP" > $out/dir
    hostname > $out/hostname
    umask > $out/umask
    echo "$TZ" > $out/tz
    echo "$LC_ALL" > $out/locale
    up=$(cut -d. -f1 /proc/uptime)
    if [ "$up" -gt 31536000 ]; then echo long > $out/uptime; else echo short > $out/uptime; fi
    echo "$NIX_BUILD_CORES" > $out/cores
    echo "$SOURCE_DATE_EPOCH" > $out/epoch
    mkdir d
    touch d/a d/b d/c d/e d/f
    find d | tr '\n' ' ' > $out/dirents
  '';
}"#;

/// Depends on the umask alone.
const UMASKED: &str = r#"mk {
  name = "umasked";
  script = "mkdir $out; umask > $out/umask";
}"#;

/// Differs every time.
const RANDOM: &str = r#"mk {
  name = "random";
  script = "mkdir $out; head -c 16 /dev/urandom | od -x > $out/random";
}"#;

/// The error of the run's one `fail` event.
fn failure(events: &[Value]) -> String {
    let failed: Vec<&Value> = events.iter().filter(|e| e["event"] == "fail").collect();
    assert_eq!(failed.len(), 1, "{events:?}");
    failed[0]["error"].as_str().unwrap().to_owned()
}

fn names(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"))
        .iter()
        .map(|name| name.as_str().unwrap())
        .collect()
}

const ALL: [&str; 8] = [
    "build-dir",
    "clock",
    "timezone",
    "locale",
    "umask",
    "hostname",
    "cores",
    "dirents",
];

#[test]
fn a_steady_derivation_passes_every_variation_in_one_check() {
    need_sandbox!();
    let env = Env::new();
    env.nix("steady.nix", STEADY);
    let (paths, events) = env.build_ok("steady.nix", &["--vary", "all"]);
    assert_eq!(paths.len(), 1);
    let found = checks(&events);
    assert_eq!(found.len(), 1, "{events:?}");
    assert_eq!(found[0]["identical"], true);
    assert_eq!(names(&found[0]["vary"]), ALL);

    let out = run(env
        .kiln()
        .args(["build", "--no-link", "--vary", "umask,clock", "steady.nix"]));
    assert!(out.status.success(), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("checked 1 outputs: identical"), "{stderr}");
    // A derivation that was only checked says so when it finishes.
    assert!(stderr.contains("checked: `"), "{stderr}");
    assert!(!stderr.contains("done by another process"), "{stderr}");
    env.assert_verified();
}

#[test]
fn each_aspect_is_varied_and_named_when_it_changes_the_output() {
    need_sandbox!();
    let env = Env::new();
    env.nix("recorder.nix", RECORDER);
    let (paths, _) = env.build_ok("recorder.nix", &[]);
    let physical = env.physical(&paths[0]);
    let read = |file: &str| fs_err::read_to_string(physical.join(file)).unwrap();
    assert_eq!(read("dir"), "/build /build\n");
    assert_eq!(read("umask"), "0022\n");
    assert_eq!(read("uptime"), "short\n");

    let out = env.build("recorder.nix", &["--vary", "all"]);
    assert!(!out.status.success(), "{}", describe(&out));
    let events = events(&out.stderr);
    let found = checks(&events);
    // The check with everything varied, the check without variation, then
    // one check per aspect.
    assert_eq!(found.len(), 2 + ALL.len(), "{events:?}");
    assert_eq!(found[0]["identical"], false);
    assert_eq!(found[1]["identical"], true, "{:?}", found[1]);
    assert!(names(&found[1]["vary"]).is_empty());
    for (check, aspect) in found[2..].iter().zip(ALL) {
        assert_eq!(names(&check["vary"]), [aspect]);
        assert_eq!(check["identical"], false, "{aspect} did not vary: {check}");
    }
    let error = failure(&events);
    let named: Vec<&str> = ALL
        .into_iter()
        .filter(|aspect| error.contains(&format!("{aspect} (")))
        .collect();
    assert_eq!(named, ALL, "{error}");
    assert!(error.contains("; changed by build-dir ("), "{error}");
    // The varied build is kept: what each aspect became.
    let kept = format!("{}.check", physical.display());
    let kept_read = |file: &str| fs_err::read_to_string(format!("{kept}/{file}")).unwrap();
    assert_eq!(kept_read("epoch"), read("epoch"), "SOURCE_DATE_EPOCH stays");
    // The last check varied the directory order alone: the same entries,
    // listed in reverse.
    let listed = |text: String| {
        // `find d` lists `d` itself first, then its entries.
        text.split_whitespace()
            .skip(1)
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let mut reversed = listed(kept_read("dirents"));
    reversed.reverse();
    assert_eq!(reversed, listed(read("dirents")));
    assert_eq!(kept_read("cores"), read("cores"));
    env.assert_verified();
}

#[test]
fn the_report_names_the_one_aspect_that_matters() {
    need_sandbox!();
    let env = Env::new();
    env.nix("umasked.nix", UMASKED);
    let (_, _) = env.build_ok("umasked.nix", &[]);
    let out = run(env
        .kiln()
        .args(["build", "--no-link", "--vary", "all", "umasked.nix"]));
    assert!(!out.status.success(), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is not deterministic: output `out` differs from the registered one (check 1 of 1, varying build-dir, clock, timezone, locale, umask, hostname, cores, dirents)"),
        "{stderr}"
    );
    assert!(stderr.contains("umask: contents differ"), "{stderr}");
    assert!(
        stderr.contains("varying build-dir, clock, timezone, locale, umask, hostname, cores, dirents); changed by umask (umask 022 -> 002)"),
        "{stderr}"
    );
}

#[test]
fn a_build_that_differs_anyway_is_not_blamed_on_a_variation() {
    need_sandbox!();
    let env = Env::new();
    env.nix("random.nix", RANDOM);
    let out = env.build("random.nix", &["--vary", "umask,hostname"]);
    assert!(!out.status.success(), "{}", describe(&out));
    let events = events(&out.stderr);
    let found = checks(&events);
    // The varied check and the unvaried one; no per-aspect checks.
    assert_eq!(found.len(), 2, "{events:?}");
    assert_eq!(found[1]["identical"], false);
    let error = failure(&events);
    assert!(
        error.ends_with("; it differs without any variation too"),
        "{error}"
    );

    let out = run(env
        .kiln()
        .args(["build", "--vary", "umask,tz", "random.nix"]));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown variation `tz`"), "{stderr}");

    // Without disorderfs, `dirents` is refused and `all` goes on without
    // it, saying so.
    let out = run(env.kiln().env("PATH", "/nonexistent").args([
        "build",
        "--vary",
        "dirents",
        "random.nix",
    ]));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("needs disorderfs"), "{stderr}");
    let out = run(env.kiln().env("PATH", "/nonexistent").args([
        "build",
        "--vary",
        "all",
        "--dry-run",
        "random.nix",
    ]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("note: not varying `dirents`: the `dirents` variation needs disorderfs"),
        "{stderr}"
    );
}
