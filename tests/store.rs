//! End-to-end tests of the store commands (`kiln store add|verify`,
//! `kiln path-info`, `kiln gc`), differentially against the real Nix 2.8
//! where Nix defines the answer, and with several kiln processes sharing
//! one store.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use kiln_store::hash::{Encoding, Hash};
use serde_json::Value;

use crate::util::{self, kiln, nix, run, run_ok, run_ok_str};

/// A kiln command on the store rooted at `root`, logical dir `/nix/store`.
fn kiln_in(root: &Path) -> Command {
    let mut cmd = kiln();
    cmd.env("KILN_STORE", root).env_remove("KILN_STORE_DIR");
    cmd
}

/// A tree with a file, an executable, a symlink, an empty directory and a
/// file larger than one read buffer.
fn sample_tree(root: &Path) -> PathBuf {
    std::fs::create_dir_all(root.join("sub/empty")).unwrap();
    std::fs::write(root.join("a.txt"), "alpha\n").unwrap();
    std::fs::write(root.join("sub/big"), vec![b'x'; 300_000]).unwrap();
    std::fs::write(root.join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(root.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("a.txt", root.join("link")).unwrap();
    root.to_owned()
}

fn path_info_json(cmd: &mut Command) -> Vec<Value> {
    let out = run_ok(cmd);
    match serde_json::from_slice(&out).unwrap() {
        Value::Array(items) => items,
        other => panic!("not a JSON array: {other}"),
    }
}

fn without_registration_time(mut items: Vec<Value>) -> Vec<Value> {
    for item in &mut items {
        if let Value::Object(object) = item {
            assert!(
                object
                    .remove("registrationTime")
                    .is_some_and(|t| t.as_u64().is_some_and(|t| t > 0))
            );
        }
    }
    items
}

#[test]
fn store_add_prints_the_paths_nix_store_adds() {
    if !util::have_nix() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let tree = sample_tree(&tmp.path().join("tree"));
    let file = tmp.path().join("file.txt");
    std::fs::write(&file, "contents\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cases: [(&[&str], &[&str], &Path); 5] = [
        (&[], &["--add"], &tree),
        (&[], &["--add"], &file),
        (
            &["--flat", "--type", "sha1"],
            &["--add-fixed", "sha1"],
            &file,
        ),
        (&["--flat"], &["--add-fixed", "sha256"], &file),
        (
            &["--type", "sha512"],
            &["--add-fixed", "--recursive", "sha512"],
            &tree,
        ),
    ];
    for (kiln_args, nix_args, path) in cases {
        let ours = run_ok_str(
            kiln_in(&root)
                .args(["store", "add"])
                .args(kiln_args)
                .arg(path),
        );
        let theirs = run_ok_str(nix("nix-store").args(nix_args).arg(path));
        assert_eq!(
            ours, theirs,
            "kiln store add {kiln_args:?} vs nix-store {nix_args:?}"
        );

        // The NAR hash kiln recorded is that of `nix-store --dump` of the
        // physical copy, and the path-info JSON matches Nix's.
        let base = ours.rsplit('/').next().unwrap();
        let physical = root.join("store").join(base);
        let dump = run_ok(nix("nix-store").arg("--dump").arg(&physical));
        let ours_json = path_info_json(kiln_in(&root).args(["path-info", "--json", &ours]));
        let nar_hash = Hash::parse(ours_json[0]["narHash"].as_str().unwrap(), None).unwrap();
        assert_eq!(
            nar_hash.encode(Encoding::Nixbase32),
            Hash::sha256(&dump).encode(Encoding::Nixbase32)
        );
        let theirs_json = path_info_json(
            nix("nix")
                .env(
                    "NIX_CONFIG",
                    "build-users-group =\nsubstituters =\nexperimental-features = nix-command\n",
                )
                .args(["path-info", "--json", &theirs]),
        );
        assert_eq!(
            without_registration_time(ours_json),
            without_registration_time(theirs_json),
            "{path:?}"
        );
    }
}

#[test]
fn path_info_recursive_lists_the_closure_and_follows_links() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let tree = sample_tree(&tmp.path().join("tree"));
    let path = run_ok_str(kiln_in(&root).args(["store", "add"]).arg(&tree));
    let link = tmp.path().join("result");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    let listed = run_ok_str(kiln_in(&root).args(["path-info", "-r"]).arg(&link));
    assert_eq!(listed, path);
    let out = run(kiln_in(&root).args([
        "path-info",
        "/nix/store/00000000000000000000000000000000-nope",
    ]));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not valid"));
}

#[test]
fn verify_check_contents_detects_a_file_modified_behind_the_stores_back() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let tree = sample_tree(&tmp.path().join("tree"));
    let path = run_ok_str(kiln_in(&root).args(["store", "add"]).arg(&tree));
    run_ok(kiln_in(&root).args(["store", "verify", "--check-contents"]));

    let victim = root
        .join("store")
        .join(path.rsplit('/').next().unwrap())
        .join("a.txt");
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&victim, "tampered\n").unwrap();
    // Without --check-contents only existence is checked.
    run_ok(kiln_in(&root).args(["store", "verify"]));
    let out = run(kiln_in(&root).args(["store", "verify", "--check-contents"]));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(path.rsplit('/').next().unwrap()) && stderr.contains("modified"),
        "{stderr}"
    );
}

#[test]
fn an_unregistered_object_left_by_a_crash_is_removed_by_the_next_run() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let tree = sample_tree(&tmp.path().join("tree"));
    let path = run_ok_str(kiln_in(&root).args(["store", "add"]).arg(&tree));
    // What a kill between the rename into store/ and the database commit
    // leaves behind: an object with no database row.
    let orphan = root.join("store/7rjj86a15146cq1d3qy068lml7n8ykzm-half-registered");
    std::fs::create_dir(&orphan).unwrap();
    std::fs::write(orphan.join("f"), "x").unwrap();
    run_ok(kiln_in(&root).args(["store", "verify", "--check-contents"]));
    assert!(!orphan.exists());
    assert!(
        root.join("store")
            .join(path.rsplit('/').next().unwrap())
            .exists()
    );
}

#[test]
fn four_processes_adding_the_same_paths_register_each_once() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let inputs: Vec<PathBuf> = (0..3)
        .map(|i| {
            let tree = sample_tree(&tmp.path().join(format!("tree{i}")));
            std::fs::write(tree.join("which"), i.to_string()).unwrap();
            tree
        })
        .collect();
    let script = inputs
        .iter()
        .map(|input| format!("\"$KILN\" store add -v '{}' || exit 1", input.display()))
        .collect::<Vec<_>>()
        .join("\n");
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new("sh")
                .args(["-c", &script])
                .env("KILN", env!("CARGO_BIN_EXE_kiln"))
                .env("KILN_STORE", &root)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut registered = Vec::new();
    let mut printed = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        registered.extend(
            stderr
                .lines()
                .filter_map(|l| l.strip_prefix("registered ").map(str::to_owned)),
        );
        printed.push(String::from_utf8(out.stdout).unwrap());
    }
    assert!(
        printed.windows(2).all(|w| w[0] == w[1]),
        "processes disagree on paths: {printed:?}"
    );
    registered.sort();
    let mut expected: Vec<String> = printed[0].lines().map(str::to_owned).collect();
    expected.sort();
    assert_eq!(
        registered, expected,
        "each path must be registered exactly once"
    );
    run_ok(kiln_in(&root).args(["store", "verify", "--check-contents"]));
}

#[test]
fn gc_deletes_what_no_root_needs() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let kept_tree = sample_tree(&tmp.path().join("kept"));
    let junk_file = tmp.path().join("junk");
    std::fs::write(&junk_file, "junk junk\n").unwrap();
    let kept = run_ok_str(kiln_in(&root).args(["store", "add"]).arg(&kept_tree));
    let junk = run_ok_str(kiln_in(&root).args(["store", "add"]).arg(&junk_file));
    let result = tmp.path().join("result");
    std::os::unix::fs::symlink(&kept, &result).unwrap();
    std::os::unix::fs::symlink(&result, root.join("gcroots/my-result")).unwrap();

    let out = run(kiln_in(&root).args(["gc", "--dry-run"]));
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), junk);
    assert!(String::from_utf8_lossy(&out.stderr).contains("would free"));
    run_ok(kiln_in(&root).args(["path-info", &junk]));

    let out = run(kiln_in(&root).args(["gc"]));
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), junk);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("freed 10 bytes"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !run(kiln_in(&root).args(["path-info", &junk]))
            .status
            .success()
    );
    run_ok(kiln_in(&root).args(["path-info", &kept]));
    run_ok(kiln_in(&root).args(["store", "verify", "--check-contents"]));
}
