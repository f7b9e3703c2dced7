//! `kiln build --check` and `--rounds N`: a deterministic derivation
//! passes; a non-deterministic one fails naming the differing file (not
//! the identical one), keeps the other build as `<output>.check`, runs
//! diffoscope when it is on `PATH`, and leaves the registered output and
//! the database as they were; `kiln gc` removes what a check kept. A fixed
//! output is checked against its declared hash.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Env, describe, drvs_of, events, lines, need_sandbox};
use crate::util::run;

/// The same bytes every time.
const DETERMINISTIC: &str = r#"mk {
  name = "det";
  script = "mkdir -p $out/sub; echo same > $out/same; echo b > $out/sub/b; ln -s same $out/link";
}"#;

/// 16 random bytes in `random` (and the time, so even a broken
/// `/dev/urandom` differs), beside an identical `same`.
const NONDETERMINISTIC: &str = r#"mk {
  name = "nondet";
  script = "mkdir $out; echo same > $out/same; head -c 16 /dev/urandom | od -x > $out/random; date +%s%N >> $out/random";
}"#;

/// `kiln path-info --json` of a path: what the database records.
fn recorded(env: &Env, logical: &str) -> Value {
    let out = run(env.kiln().args(["path-info", "--json", logical]));
    assert!(out.status.success(), "{}", describe(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The `check` events of a `--json` run.
pub(super) fn checks(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| e["event"] == "check").collect()
}

/// The physical path of the `.check` build kept beside `logical`.
fn kept(env: &Env, logical: &str) -> PathBuf {
    let physical = env.physical(logical);
    let mut name = physical.into_os_string();
    name.push(".check");
    PathBuf::from(name)
}

/// Lists what is left in the store's scratch directory.
fn scratch_left(env: &Env) -> Vec<PathBuf> {
    fs_err::read_dir(env.store_root().join("tmp"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect()
}

/// Writes a stand-in for diffoscope into `dir/bin`, which writes its
/// `--text` and `--html` reports and exits 1 (differences found).
fn fake_diffoscope(dir: &Path) -> PathBuf {
    let bin = dir.join("fake-bin");
    fs_err::create_dir_all(&bin).unwrap();
    let script = bin.join("diffoscope");
    fs_err::write(
        &script,
        "#!/bin/sh\n[ \"$1\" = --text ] && [ \"$3\" = --html ] || exit 2\n\
         echo \"compared $5 and $6\" > \"$2\"\necho '<html></html>' > \"$4\"\nexit 1\n",
    )
    .unwrap();
    fs_err::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

#[test]
fn a_deterministic_derivation_passes_check_and_rounds() {
    need_sandbox!();
    let env = Env::new();
    env.nix("det.nix", DETERMINISTIC);
    let (paths, _) = env.build_ok("det.nix", &[]);
    let before = recorded(&env, &paths[0]);

    let (again, events) = env.build_ok("det.nix", &["--check"]);
    assert_eq!(again, paths);
    assert!(drvs_of(&events, "start").is_empty(), "{events:?}");
    let found = checks(&events);
    assert_eq!(found.len(), 1, "{events:?}");
    assert_eq!(found[0]["identical"], true);
    assert_eq!(found[0]["outputs"][0]["path"], paths[0].as_str());

    let out = run(env
        .kiln()
        .args(["build", "--no-link", "--check", "--rounds", "3", "det.nix"]));
    assert!(out.status.success(), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("identical: `").count(), 2, "{stderr}");
    assert!(stderr.contains("checked 1 outputs: identical"), "{stderr}");

    // `kiln realise --check` checks the `.drv`s it is given.
    let drv = env.instantiate("det.nix", &[]).remove(0);
    let out = run(env.kiln().args(["realise", "--check", "--json", &drv]));
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(lines(&out.stdout), paths);
    assert_eq!(checks(&super::events(&out.stderr))[0]["drv"], drv.as_str());

    assert_eq!(recorded(&env, &paths[0]), before);
    assert!(!kept(&env, &paths[0]).exists());
    assert!(scratch_left(&env).is_empty(), "{:?}", scratch_left(&env));
    env.assert_verified();

    // --rounds 2 on an empty store: built, then built again and compared.
    let fresh = Env::new();
    fresh.nix("det.nix", DETERMINISTIC);
    let (fresh_paths, events) = fresh.build_ok("det.nix", &["--rounds", "2"]);
    assert_eq!(fresh_paths, paths);
    assert_eq!(drvs_of(&events, "start").len(), 1, "{events:?}");
    assert_eq!(drvs_of(&events, "checkStart").len(), 1, "{events:?}");
    assert_eq!(checks(&events)[0]["identical"], true);
}

#[test]
fn a_nondeterministic_derivation_fails_check_and_keeps_the_other_build() {
    need_sandbox!();
    let env = Env::new();
    env.nix("nondet.nix", NONDETERMINISTIC);
    let (paths, _) = env.build_ok("nondet.nix", &[]);
    let out_path = &paths[0];
    let physical = env.physical(out_path);
    let random_before = fs_err::read(physical.join("random")).unwrap();
    let before = recorded(&env, out_path);
    let drv = env.instantiate("nondet.nix", &[]).remove(0);

    let fake = fake_diffoscope(env.path());
    let out =
        run(env
            .kiln()
            .env("PATH", &fake)
            .args(["build", "--no-link", "--check", "nondet.nix"]));
    assert!(!out.status.success(), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("`{drv}` (nondet) is not deterministic")),
        "{stderr}"
    );
    assert!(stderr.contains("random: contents differ"), "{stderr}");
    assert!(!stderr.contains("same:"), "{stderr}");
    let kept = kept(&env, out_path);
    assert!(
        stderr.contains(&format!("kept at `{}`", kept.display())),
        "{stderr}"
    );
    let text = PathBuf::from(format!("{}.diffoscope.txt", kept.display()));
    let html = PathBuf::from(format!("{}.diffoscope.html", kept.display()));
    assert!(stderr.contains(&text.display().to_string()), "{stderr}");
    assert!(stderr.contains(&html.display().to_string()), "{stderr}");
    let report = fs_err::read_to_string(&text).unwrap();
    assert!(report.contains(&kept.display().to_string()), "{report}");

    // The other build is there to inspect; the registered one is untouched.
    assert_eq!(fs_err::read(kept.join("same")).unwrap(), b"same\n");
    assert_ne!(fs_err::read(kept.join("random")).unwrap(), random_before);
    assert_eq!(
        fs_err::read(physical.join("random")).unwrap(),
        random_before
    );
    assert_eq!(recorded(&env, out_path), before);
    assert!(scratch_left(&env).is_empty(), "{:?}", scratch_left(&env));
    env.assert_verified();

    // The JSON event says the same; a second check replaces the kept build.
    let out = env.build("nondet.nix", &["--check"]);
    assert!(!out.status.success(), "{}", describe(&out));
    let events = events(&out.stderr);
    let check = checks(&events)[0].clone();
    assert_eq!(check["identical"], false);
    assert_eq!(check["drv"], drv.as_str());
    let output = &check["outputs"][0];
    assert_eq!(output["kept"], kept.display().to_string());
    let differing: Vec<&str> = output["differences"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["path"].as_str())
        .collect();
    assert_eq!(differing, ["random"]);
    assert!(drvs_of(&events, "fail").contains(&drv), "{events:?}");

    // Opening the store keeps the kept build; `kiln gc` removes it.
    let (_, _) = env.build_ok("nondet.nix", &[]);
    assert!(kept.join("random").exists());
    let out = run(env.kiln().args(["gc"]));
    assert!(out.status.success(), "{}", describe(&out));
    assert!(!kept.exists() && !text.exists() && !html.exists());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("kept by a check"),
        "{}",
        describe(&out)
    );
}

#[test]
fn check_builds_a_derivation_that_is_not_valid_yet_then_checks_it() {
    need_sandbox!();
    let env = Env::new();
    env.nix("det.nix", DETERMINISTIC);
    let (paths, events) = env.build_ok("det.nix", &["--check"]);
    assert_eq!(drvs_of(&events, "start").len(), 1, "{events:?}");
    assert_eq!(checks(&events).len(), 1, "{events:?}");
    assert_eq!(checks(&events)[0]["identical"], true);
    assert!(env.valid(&paths[0]));
}

#[test]
fn rounds_fail_a_nondeterministic_build_but_its_first_build_stays_registered() {
    need_sandbox!();
    let env = Env::new();
    env.nix("nondet.nix", NONDETERMINISTIC);
    let out_path = env.out_path("nondet.nix", None);
    let out = env.build("nondet.nix", &["--rounds", "2"]);
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(lines(&out.stdout).is_empty());
    let events = events(&out.stderr);
    assert_eq!(checks(&events).len(), 1, "{events:?}");
    assert_eq!(checks(&events)[0]["identical"], false);
    assert!(env.valid(&out_path));
    assert!(kept(&env, &out_path).join("random").exists());
    assert!(scratch_left(&env).is_empty(), "{:?}", scratch_left(&env));
    env.assert_verified();
}

/// A fixed output whose contents come from the environment
/// (`impureEnvVars`), so a check can be made to produce other bytes.
const FIXED: &str = r#"mk {
  name = "fixed";
  script = "echo -n $CONTENT > $out";
  impureEnvVars = [ "CONTENT" ];
  outputHashMode = "flat";
  outputHashAlgo = "sha256";
  outputHash = "770e607624d689265ca6c44884d0807d9b054d23c473c106c72be9de08b7376c";
}"#;

#[test]
fn a_fixed_output_is_checked_against_its_hash() {
    need_sandbox!();
    let env = Env::new();
    env.nix("fixed.nix", FIXED);
    let build = |content: &str| {
        run(env
            .kiln()
            .env("CONTENT", content)
            .args(["build", "--no-link", "--json", "fixed.nix"]))
    };
    let out = build("good");
    assert!(out.status.success(), "{}", describe(&out));
    let path = lines(&out.stdout).remove(0);
    let before = recorded(&env, &path);
    let check = |content: &str| {
        run(env.kiln().env("CONTENT", content).args([
            "build",
            "--no-link",
            "--json",
            "--check",
            "fixed.nix",
        ]))
    };
    let out = check("good");
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(checks(&events(&out.stderr))[0]["identical"], true);
    let out = check("bad");
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("hash mismatch in fixed output"),
        "{}",
        describe(&out)
    );
    assert_eq!(recorded(&env, &path), before);
    assert_eq!(fs_err::read(env.physical(&path)).unwrap(), b"good");
    assert!(scratch_left(&env).is_empty(), "{:?}", scratch_left(&env));
    env.assert_verified();
}
