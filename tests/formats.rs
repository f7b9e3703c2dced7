//! Differential tests of kiln's store formats against the real Nix 2.8:
//! store paths of sources and fixed outputs, and derivations written by
//! `nix-instantiate`.

use std::collections::BTreeSet;
use std::path::Path;

use kiln_store::derivation::{Derivation, DrvHashes};
use kiln_store::hash::{Encoding, Hash, HashAlgo};
use kiln_store::store_path::{FileIngestionMethod, StoreDir, StorePath};

use crate::util::{self, kiln, nix, run_ok, run_ok_str};

/// Makes a small tree with a file, an executable, a symlink and a subdirectory.
fn sample_tree(root: &Path) {
    std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
    std::fs::write(root.join("a.txt"), "alpha\n").unwrap();
    std::fs::write(root.join("sub/deeper/b"), vec![7u8; 5000]).unwrap();
    std::fs::write(root.join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    let mut perms = std::fs::metadata(root.join("run.sh"))
        .unwrap()
        .permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(root.join("run.sh"), perms).unwrap();
    std::os::unix::fs::symlink("a.txt", root.join("link")).unwrap();
}

fn kiln_nar_hash(path: &Path) -> Hash {
    let text = run_ok_str(
        kiln()
            .args(["hash", "path", "--type", "sha256", "--sri"])
            .arg(path),
    );
    Hash::parse(&text, None).unwrap()
}

#[test]
fn source_paths_match_nix_store_add() {
    if !util::have_nix() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("my-tree");
    sample_tree(&tree);
    let file = tmp.path().join("file.txt");
    std::fs::write(&file, "some text\n").unwrap();
    let dir = StoreDir::default();
    for path in [&tree, &file] {
        let expected = run_ok_str(nix("nix-store").arg("--add").arg(path));
        let name = path.file_name().unwrap().to_str().unwrap();
        let ours = dir
            .make_source_path(name, &kiln_nar_hash(path), &BTreeSet::new(), false)
            .unwrap();
        assert_eq!(dir.display(&ours), expected, "{}", path.display());
    }
}

#[test]
fn fixed_output_paths_match_nix_store_add_fixed() {
    if !util::have_nix() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("fixed-tree");
    sample_tree(&tree);
    let file = tmp.path().join("fixed.bin");
    std::fs::write(&file, b"\x00\x01binary\xff").unwrap();
    let dir = StoreDir::default();
    for algo in HashAlgo::ALL {
        for recursive in [false, true] {
            let path: &Path = if recursive { &tree } else { &file };
            let mut cmd = nix("nix-store");
            cmd.arg("--add-fixed");
            if recursive {
                cmd.arg("--recursive");
            }
            let expected = run_ok_str(cmd.arg(algo.name()).arg(path));
            let (method, hash) = if recursive {
                let text = run_ok_str(
                    kiln()
                        .args(["hash", "path", "--type", algo.name(), "--base32"])
                        .arg(path),
                );
                (
                    FileIngestionMethod::Recursive,
                    Hash::parse(&text, Some(algo)).unwrap(),
                )
            } else {
                let text = run_ok_str(
                    kiln()
                        .args(["hash", "file", "--type", algo.name(), "--base16"])
                        .arg(path),
                );
                (
                    FileIngestionMethod::Flat,
                    Hash::parse(&text, Some(algo)).unwrap(),
                )
            };
            let name = path.file_name().unwrap().to_str().unwrap();
            let ours = dir
                .make_fixed_output_path(name, method, &hash, &BTreeSet::new(), false)
                .unwrap();
            assert_eq!(dir.display(&ours), expected, "{algo} recursive={recursive}");
        }
    }
}

/// Returns `nix <args…>` with the `nix-command` feature on.
fn nix_command() -> std::process::Command {
    let mut cmd = nix("nix");
    cmd.args(["--extra-experimental-features", "nix-command"]);
    cmd
}

#[test]
fn hashes_match_nix_hash() {
    if !util::have_nix() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("t");
    sample_tree(&tree);
    let file = tree.join("a.txt");
    for algo in HashAlgo::ALL {
        // `nix-hash` itself knows base16 (its default) and base32.
        for (path, flat) in [(&tree, false), (&file, false), (&file, true)] {
            let sub = if flat { "file" } else { "path" };
            for (ours, theirs) in [("--base16", None), ("--base32", Some("--base32"))] {
                let mut nix_cmd = nix("nix-hash");
                nix_cmd
                    .args(["--type", algo.name()])
                    .args(theirs)
                    .args(flat.then_some("--flat"));
                let expected = run_ok_str(nix_cmd.arg(path));
                let got = run_ok_str(
                    kiln()
                        .args(["hash", sub, "--type", algo.name(), ours])
                        .arg(path),
                );
                assert_eq!(
                    got,
                    expected,
                    "nix-hash {algo} {ours} flat={flat} {}",
                    path.display()
                );
            }
            // `nix hash path|file` knows every encoding.
            for encoding in ["--base16", "--base32", "--base64", "--sri"] {
                let expected = run_ok_str(
                    nix_command()
                        .args(["hash", sub, "--type", algo.name(), encoding])
                        .arg(path),
                );
                let got = run_ok_str(
                    kiln()
                        .args(["hash", sub, "--type", algo.name(), encoding])
                        .arg(path),
                );
                assert_eq!(
                    got,
                    expected,
                    "nix hash {sub} {algo} {encoding} {}",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn hash_convert_matches_nix_hash() {
    if !util::have_nix() {
        return;
    }
    for algo in HashAlgo::ALL {
        let hash = Hash::digest(algo, b"convert me");
        let conversions = [
            ("--base16", "to-base16"),
            ("--base32", "to-base32"),
            ("--base64", "to-base64"),
            ("--sri", "to-sri"),
        ];
        for (flag, nix_verb) in conversions {
            for input in [
                hash.encode(Encoding::Base16),
                hash.encode(Encoding::Nixbase32),
                hash.encode(Encoding::Base64),
            ] {
                let expected = run_ok_str(nix_command().args([
                    "hash",
                    nix_verb,
                    "--type",
                    algo.name(),
                    &input,
                ]));
                let got = run_ok_str(kiln().args([
                    "hash",
                    "convert",
                    "--type",
                    algo.name(),
                    flag,
                    &input,
                ]));
                assert_eq!(got, expected, "{algo} {flag} {input}");
            }
            let expected = run_ok_str(nix_command().args(["hash", nix_verb, &hash.to_sri()]));
            let got = run_ok_str(kiln().args(["hash", "convert", flag, &hash.to_sri()]));
            assert_eq!(got, expected, "{algo} {flag} from SRI");
        }
    }
}

/// Instantiates the fixture derivations with the real Nix and returns their `.drv` paths.
fn instantiate_fixtures(src: &Path) -> Vec<String> {
    let expr = util::fixtures().join("derivations.nix");
    let out = run_ok(
        nix("nix-instantiate")
            .arg(&expr)
            .args(["--arg", "src"])
            .arg(src)
            .arg("--no-gc-warning"),
    );
    // A derivation whose first output is not `out` prints as `<drv>!<output>`.
    let text = String::from_utf8(out).unwrap();
    text.lines()
        .map(|line| line.split('!').next().unwrap_or(line).to_owned())
        .collect()
}

#[test]
fn derivations_round_trip_and_hash_like_nix() {
    if !util::have_nix() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("hello.txt"), "hello\n").unwrap();
    sample_tree(&tmp.path().join("tree"));
    let drv_paths = instantiate_fixtures(tmp.path());
    assert!(
        drv_paths.len() >= 30,
        "only {} derivations",
        drv_paths.len()
    );
    let dir = StoreDir::default();
    let read = |path: &StorePath| -> Result<Derivation, String> {
        let bytes = std::fs::read(dir.display(path)).map_err(|e| e.to_string())?;
        Derivation::parse(&bytes, &dir).map_err(|e| e.to_string())
    };
    let mut hashes = DrvHashes::new();
    for text in &drv_paths {
        let bytes = std::fs::read(text).unwrap();
        let drv = Derivation::parse(&bytes, &dir).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(
            drv.to_aterm(&dir).as_bytes(),
            &bytes[..],
            "{text} does not re-print identically"
        );
        let path = dir.parse(text).unwrap();
        assert_eq!(dir.display(&drv.drv_path(&dir).unwrap()), *text);
        hashes.insert_closure(&path, &dir, read).unwrap();
        let mut blanked = drv.clone();
        for output in blanked.outputs.values_mut() {
            output.path = None;
        }
        blanked.fill_output_paths(&dir, &hashes).unwrap();
        assert_eq!(blanked, drv, "{text}: output paths differ");
    }
}

#[test]
fn derivation_show_matches_nix_show_derivation() {
    if !util::have_nix() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("hello.txt"), "hello\n").unwrap();
    sample_tree(&tmp.path().join("tree"));
    let drv_paths = instantiate_fixtures(tmp.path());
    let expected = run_ok(
        nix("nix")
            .args([
                "--extra-experimental-features",
                "nix-command",
                "show-derivation",
            ])
            .args(&drv_paths),
    );
    let got = run_ok(kiln().args(["derivation", "show"]).args(&drv_paths));
    let expected: serde_json::Value = serde_json::from_slice(&expected).unwrap();
    let got: serde_json::Value = serde_json::from_slice(&got).unwrap();
    assert_eq!(got, expected);
}
