//! `kiln why-rebuilt` and `kiln build --explain`: a rebuild names the
//! first input that differs from the last build of the same name, down to
//! the change that started it: an environment variable, the builder's
//! arguments, a source's contents, an input replaced by another version.

use serde_json::Value;

use super::{Env, describe, need_sandbox};
use crate::util::run;

/// `top` depends on `base` and on `dep-<version>`; `base` reads a source
/// file; every knob is an argument.
const GRAPH: &str = r#"{ flavour ? "plain", greeting ? "hello", version ? "1.0" }: rec {
  base = mk { name = "base"; inherit flavour; src = ./data.txt; script = "cat $src > $out; echo ${greeting} $flavour >> $out"; };
  dep = mk { name = "dep-${version}"; script = "echo dep > $out"; };
  top = mk { name = "top"; script = "cat $deps > $out"; deps = [ base dep ]; };
}"#;

/// The reasons of a `--json` run's `explain` events, by derivation name.
fn reasons(events: &[Value]) -> Vec<String> {
    let mut found: Vec<String> = events
        .iter()
        .filter(|e| e["event"] == "explain")
        .map(|e| e["reason"].as_str().unwrap().to_owned())
        .collect();
    found.sort();
    found
}

fn why(env: &Env, path: &str) -> String {
    let out = run(env.kiln().args(["why-rebuilt", path]));
    assert!(out.status.success(), "{}", describe(&out));
    String::from_utf8(out.stdout).unwrap().trim_end().to_owned()
}

#[test]
fn a_rebuild_names_the_change_that_caused_it() {
    need_sandbox!();
    let env = Env::new();
    env.nix("graph.nix", GRAPH);
    fs_err::write(env.path().join("data.txt"), "one\n").unwrap();
    let (paths, events) = env.build_ok("graph.nix", &["-A", "top", "--explain"]);
    assert!(
        reasons(&events)
            .contains(&"`top`: the first derivation of that name built here".to_owned())
    );
    assert_eq!(
        why(&env, &paths[0]),
        "`top`: the first derivation of that name built here"
    );

    // An environment variable of a dependency.
    let (paths, events) = env.build_ok(
        "graph.nix",
        &["-A", "top", "--explain", "--argstr", "flavour", "spicy"],
    );
    assert_eq!(
        reasons(&events),
        [
            "`base`: the variable `flavour` changed from `plain` to `spicy`",
            "`top`: input `base` changed: the variable `flavour` changed from `plain` to `spicy`",
        ]
    );
    assert_eq!(
        why(&env, &paths[0]),
        "`top`: input `base` changed: the variable `flavour` changed from `plain` to `spicy`"
    );

    // The builder's script, then a source's contents.
    let args = ["-A", "top", "--explain", "--argstr", "flavour", "spicy"];
    let mut with_greeting = args.to_vec();
    with_greeting.extend(["--argstr", "greeting", "bonjour"]);
    let (_, events) = env.build_ok("graph.nix", &with_greeting);
    assert!(
        reasons(&events)
            .contains(&"`top`: input `base` changed: the builder's arguments changed".to_owned()),
        "{:?}",
        reasons(&events)
    );
    fs_err::write(env.path().join("data.txt"), "two\n").unwrap();
    let (_, events) = env.build_ok("graph.nix", &with_greeting);
    assert!(
        reasons(&events).contains(&"`base`: the source `data.txt` has other contents".to_owned()),
        "{:?}",
        reasons(&events)
    );

    // A new version of an input.
    let mut bumped = with_greeting.clone();
    bumped.extend(["--argstr", "version", "1.1"]);
    let (paths, events) = env.build_ok("graph.nix", &bumped);
    assert!(
        reasons(&events).contains(&"`top`: input `dep-1.1` replaces `dep-1.0`".to_owned()),
        "{:?}",
        reasons(&events)
    );

    // Plain output with --explain; and the earlier derivation collected.
    let out = run(env
        .kiln()
        .args(["build", "--no-link", "--explain", "-A", "top", "graph.nix"]));
    assert!(out.status.success(), "{}", describe(&out));
    let gc = run(env.kiln().args(["gc"]));
    assert!(gc.status.success(), "{}", describe(&gc));
    let out = run(env.kiln().args(["why-rebuilt", &paths[0]]));
    // The output itself was collected with its deriver (no root): a clear error.
    assert!(!out.status.success(), "{}", describe(&out));
    let (paths, _) = env.build_ok("graph.nix", &["-A", "top"]);
    assert!(
        why(&env, &paths[0]).contains("has been collected, so it cannot be compared"),
        "{}",
        why(&env, &paths[0])
    );
}
