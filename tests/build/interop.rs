//! Agreement with Nix 2.8 on what a build produces: the NAR hash kiln
//! records is `nix-store --dump | sha256sum`, and the same derivation built
//! by `nix-build` (sandbox on) in Nix's own store gets the same output
//! path, NAR hash, size, references and deriver, with the same
//! `path-info --json` fields.

use serde_json::Value;

use super::{Env, describe, need_sandbox};
use crate::util::{have_nix, nix, run, run_ok_str};

const TREE: &str = r#"mk {
  name = "interop-tree";
  script = "mkdir -p $out/bin $out/share; echo data > $out/share/file; echo '#!/bin/sh' > $out/bin/tool; chmod +x $out/bin/tool; ln -s ../share/file $out/link; echo $deps > $out/share/deps";
  deps = [ (mk { name = "interop-dep"; script = "echo dep > $out"; }) ];
}"#;

/// Returns the nixbase32 form of a SHA-256 given in any form Nix reads.
fn base32(hash: &str) -> String {
    run_ok_str(nix("nix-hash").args(["--type", "sha256", "--to-base32", hash]))
}

fn path_info(cmd: &mut std::process::Command) -> serde_json::Map<String, Value> {
    let out = run(cmd);
    assert!(out.status.success(), "{}", describe(&out));
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    list.into_iter()
        .next()
        .unwrap()
        .as_object()
        .unwrap()
        .clone()
}

#[test]
fn a_built_output_matches_what_nix_builds_and_records() {
    need_sandbox!();
    if !have_nix() {
        return;
    }
    let env = Env::new();
    env.nix("tree.nix", TREE);
    let (paths, _) = env.build_ok("tree.nix", &[]);
    let path = &paths[0];
    let kiln_info = path_info(env.kiln().args(["path-info", "--json", path]));

    // The recorded NAR hash is the hash of `nix-store --dump`.
    let physical = env.physical(path);
    let dump = run(std::process::Command::new("sh").args([
        "-c",
        "nix-store --dump \"$1\" | sha256sum | cut -d' ' -f1",
        "sh",
        physical.to_str().unwrap(),
    ]));
    assert!(dump.status.success(), "{}", describe(&dump));
    let dumped = String::from_utf8(dump.stdout).unwrap();
    let kiln_hash = kiln_info["narHash"].as_str().unwrap();
    assert_eq!(base32(dumped.trim()), base32(kiln_hash));

    // Nix builds the same derivation to the same path and bytes.
    let nix_path = run_ok_str(
        nix("nix-build")
            .env(
                "NIX_CONFIG",
                "build-users-group =\nsubstituters =\nsandbox = true\n",
            )
            .args(["--no-out-link", "tree.nix"])
            .current_dir(env.path()),
    );
    assert_eq!(&nix_path, path);
    let nix_info = path_info(nix("nix").args([
        "--extra-experimental-features",
        "nix-command",
        "path-info",
        "--json",
        path,
    ]));
    let keys = |info: &serde_json::Map<String, Value>| info.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&kiln_info), keys(&nix_info));
    for field in [
        "path",
        "narHash",
        "narSize",
        "references",
        "deriver",
        "ultimate",
    ] {
        assert_eq!(kiln_info[field], nix_info[field], "{field}");
    }
    assert!(kiln_info["registrationTime"].as_i64().unwrap() > 1_600_000_000);
}
