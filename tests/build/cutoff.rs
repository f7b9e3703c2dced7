//! Early cutoff: a derivation whose inputs have the same contents as those
//! of an earlier build is not built again; that build's outputs are copied
//! to its new paths (self-references rewritten), and `--explain` says so.

use serde_json::Value;

use super::{Env, describe, drvs_of, need_sandbox};
use crate::util::run;

/// `gen`'s output does not depend on `note`, so changing `note` rebuilds
/// `gen` to the same bytes. `self` names its own path; `data` reads only
/// `gen`'s data; `top` reads `self`'s; `named` writes `gen`'s path.
const CHAIN: &str = r#"{ note ? "one", payload ? "same" }: rec {
  gen = mk { name = "gen"; inherit note; script = "mkdir $out; echo ${payload} > $out/data; echo $out > $out/self"; };
  data = mk { name = "data"; script = "cat $deps/data > $out"; deps = [ gen ]; };
  self = mk { name = "self"; script = "mkdir $out; cat $deps > $out/data; echo $out > $out/me; ln -s $out/data $out/link"; deps = [ data ]; };
  named = mk { name = "named"; script = "echo $deps > $out"; deps = [ gen ]; };
  top = mk { name = "top"; script = "mkdir $out; cat $deps/data > $out/all"; deps = [ self ]; };
  all = [ top named ];
}"#;

/// The `reusedFrom` of each finished derivation whose name contains `name`.
fn reused(events: &[Value], name: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e["event"] == "finish" && e["drv"].as_str().unwrap().contains(name))
        .map(|e| e["reusedFrom"].clone())
        .collect()
}

/// The output path of `ATTR` of chain.nix with `note = NOTE`.
fn out_path_with_note(env: &Env, attr: &str, note: &str) -> String {
    env.eval_string(&format!(
        "((import ./chain.nix) {{ note = \"{note}\"; }}).{attr}.outPath"
    ))
}

fn started(events: &[Value], name: &str) -> bool {
    drvs_of(events, "start")
        .iter()
        .any(|d| d.ends_with(&format!("-{name}.drv")))
}

#[test]
fn outputs_of_a_build_with_the_same_input_contents_are_reused() {
    need_sandbox!();
    let env = Env::new();
    env.nix("chain.nix", CHAIN);
    let (first, _) = env.build_ok("chain.nix", &["-A", "all"]);
    let top_before = fs_err::read(env.physical(&first[0]).join("all")).unwrap();

    // A change `gen`'s output does not show: `gen` is rebuilt (its
    // variable changed), every other derivation is reused; `named` names
    // `gen`'s new path.
    let (second, events) = env.build_ok(
        "chain.nix",
        &["-A", "all", "--explain", "--argstr", "note", "two"],
    );
    assert_ne!(second, first);
    assert_eq!(reused(&events, "-gen.drv"), [Value::Null]);
    for name in ["-data.drv", "-self.drv", "-top.drv", "-named.drv"] {
        let from = reused(&events, name);
        assert!(
            from.len() == 1 && from[0].as_str().is_some_and(|d| d.ends_with(name)),
            "{name}: {from:?}"
        );
    }
    let named = fs_err::read_to_string(env.physical(&second[1])).unwrap();
    assert_eq!(named.trim(), out_path_with_note(&env, "gen", "two"));
    assert_eq!(
        fs_err::read(env.physical(&second[0]).join("all")).unwrap(),
        top_before
    );
    // The reused `self` names its own new path, in a file and a link.
    let self_path = out_path_with_note(&env, "self", "two");
    let me = fs_err::read_to_string(env.physical(&self_path).join("me")).unwrap();
    assert_eq!(me.trim(), self_path);
    assert_eq!(
        fs_err::read_link(env.physical(&self_path).join("link")).unwrap(),
        std::path::Path::new(&format!("{self_path}/data"))
    );
    let explained: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "explain")
        .filter_map(|e| e["reason"].as_str())
        .collect();
    assert!(
        explained.iter().any(|r| r.starts_with("`data`")
            && r.contains("not built: its inputs have the same contents")),
        "{explained:?}"
    );
    // A summary counts what was reused.
    let summary = events.iter().find(|e| e["event"] == "summary").unwrap();
    assert_eq!(summary["reused"].as_array().unwrap().len(), 4, "{summary}");
    env.assert_verified();

    // The reused outputs are what a build makes: `--check` builds them
    // again and compares.
    let out = run(env.kiln().args([
        "build",
        "--no-link",
        "--check",
        "-A",
        "all",
        "--argstr",
        "note",
        "two",
        "chain.nix",
    ]));
    assert!(out.status.success(), "{}", describe(&out));

    // A change `gen`'s output shows: everything below it is built.
    let (_, events) = env.build_ok(
        "chain.nix",
        &[
            "-A", "all", "--argstr", "note", "three", "--argstr", "payload", "new",
        ],
    );
    for name in ["gen", "data", "self", "top", "named"] {
        assert!(started(&events, name), "{name}");
        assert_eq!(
            reused(&events, &format!("-{name}.drv")),
            [Value::Null],
            "{name}"
        );
    }
}

#[test]
fn a_collected_earlier_build_is_not_reused_and_its_record_goes() {
    need_sandbox!();
    let env = Env::new();
    env.nix("chain.nix", CHAIN);
    env.build_ok("chain.nix", &["-A", "data"]);
    let cutoff = env.store_root().join("cutoff");
    let count = |dir: &str| fs_err::read_dir(cutoff.join(dir)).map_or(0, Iterator::count);
    assert_eq!(count("keys"), 2, "gen's and data's records");
    assert_eq!(count("content"), 1, "gen refers to itself");
    let out = run(env.kiln().args(["gc"]));
    assert!(out.status.success(), "{}", describe(&out));
    // Records of collected outputs are collected with them.
    assert_eq!(count("keys"), 0);
    assert_eq!(count("content"), 0);
    let (_, events) = env.build_ok("chain.nix", &["-A", "data", "--argstr", "note", "two"]);
    assert_eq!(reused(&events, "-data.drv"), [Value::Null]);
    assert!(started(&events, "data"));
}
