//! Four `kiln build` processes at once on one store, with overlapping
//! graphs: all succeed and every derivation is built exactly once.
//!
//! "Built" is counted from the `start` events of the processes' `--json`
//! output: a process emits `start` only after taking the outputs' locks and
//! finding them still invalid, that is, when it really runs the builder.

use std::collections::BTreeMap;
use std::process::Stdio;

use super::{Env, describe, drvs_of, events, need_sandbox};

const LAYERS: &str = r#"rec {
  l0 = builtins.genList (i: mk { name = "l0-${toString i}"; script = "sleep 0.2; echo ${toString i} > $out"; }) 4;
  l1 = builtins.genList (i: mk { name = "l1-${toString i}"; script = "sleep 0.1; echo $deps > $out"; deps = l0; }) 3;
  at = builtins.elemAt l1;
  a = mk { name = "a"; script = "echo $deps > $out"; deps = [ (at 0) (at 1) ]; };
  b = mk { name = "b"; script = "echo $deps > $out"; deps = [ (at 1) (at 2) ]; };
  c = mk { name = "c"; script = "echo $deps > $out"; deps = [ (at 0) (at 2) ]; };
  d = mk { name = "d"; script = "echo $deps > $out"; deps = l1; };
}"#;

#[test]
fn four_processes_on_one_store_build_each_derivation_once() {
    need_sandbox!();
    let env = Env::new();
    env.nix("layers.nix", LAYERS);
    // Evaluate once first so that the four processes race on building, not
    // on adding busybox (which has its own test in tests/store.rs).
    env.instantiate("layers.nix", &["-A", "d"]);
    let children: Vec<_> = ["a", "b", "c", "d"]
        .into_iter()
        .map(|attr| {
            env.kiln()
                .args([
                    "build",
                    "--no-link",
                    "--json",
                    "-j2",
                    "layers.nix",
                    "-A",
                    attr,
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut started: BTreeMap<String, usize> = BTreeMap::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        for drv in drvs_of(&events(&out.stderr), "start") {
            *started.entry(drv).or_default() += 1;
        }
    }
    // 4 + 3 + the 4 roots.
    assert_eq!(started.len(), 11, "{started:?}");
    assert!(started.values().all(|&n| n == 1), "{started:?}");
    for attr in ["a", "b", "c", "d"] {
        assert!(env.valid(&env.out_path("layers.nix", Some(attr))));
    }
    env.assert_verified();
}
