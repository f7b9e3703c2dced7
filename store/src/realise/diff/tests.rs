use std::os::unix::fs::{PermissionsExt, symlink};

use super::*;

/// Builds a tree under `root` from `(path, what)` pairs: `what` is
/// `dir`, `exec:CONTENTS`, `link:TARGET` or plain contents.
fn tree(root: &Path, entries: &[(&str, &str)]) {
    std::fs::create_dir_all(root).unwrap();
    for (path, what) in entries {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        if *what == "dir" {
            std::fs::create_dir_all(&path).unwrap();
        } else if let Some(target) = what.strip_prefix("link:") {
            symlink(target, &path).unwrap();
        } else if let Some(contents) = what.strip_prefix("exec:") {
            std::fs::write(&path, contents).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        } else {
            std::fs::write(&path, what).unwrap();
        }
    }
}

fn listed(diff: &TreeDiff) -> Vec<String> {
    diff.differences.iter().map(ToString::to_string).collect()
}

#[test]
fn identical_trees_have_no_differences() {
    let dir = tempfile::tempdir().unwrap();
    let entries = [
        ("bin/tool", "exec:#!/bin/sh\n"),
        ("share/doc/README", "hello"),
        ("lib", "link:share"),
        ("empty", "dir"),
    ];
    tree(&dir.path().join("a"), &entries);
    tree(&dir.path().join("b"), &entries);
    let diff = compare_trees(&dir.path().join("a"), &dir.path().join("b"), 10).unwrap();
    assert!(diff.is_empty(), "{diff:?}");
    assert_eq!(diff, TreeDiff::default());
}

#[test]
fn lists_each_kind_of_difference_in_path_order() {
    let dir = tempfile::tempdir().unwrap();
    tree(
        &dir.path().join("a"),
        &[
            ("same", "same bytes"),
            ("time", "1700000000.123"),
            ("size", "short"),
            ("tool", "exec:x"),
            ("link", "link:one"),
            ("kind", "dir"),
            ("gone/deep/file", "x"),
        ],
    );
    tree(
        &dir.path().join("b"),
        &[
            ("same", "same bytes"),
            ("time", "1700000000.456"),
            ("size", "longer"),
            ("tool", "x"),
            ("link", "link:two"),
            ("kind", "now a file"),
            ("new", "x"),
        ],
    );
    let diff = compare_trees(&dir.path().join("a"), &dir.path().join("b"), 10).unwrap();
    assert_eq!(
        listed(&diff),
        [
            "gone: only in the registered output",
            "kind: a directory before, a file in the new build",
            "link: symlink to `one` before, to `two` in the new build",
            "new: only in the new build",
            "size: contents differ",
            "time: contents differ",
            "tool: executable before, not in the new build",
        ]
    );
    assert_eq!(diff.total, 7);
    assert_eq!(diff.omitted(), 0);
}

#[test]
fn descends_into_common_directories() {
    let dir = tempfile::tempdir().unwrap();
    tree(
        &dir.path().join("a"),
        &[("x/y/z", "1"), ("x/y/w", "exec:1")],
    );
    tree(&dir.path().join("b"), &[("x/y/z", "2"), ("x/y/w", "2")]);
    let diff = compare_trees(&dir.path().join("a"), &dir.path().join("b"), 10).unwrap();
    assert_eq!(
        listed(&diff),
        [
            "x/y/w: contents differ",
            "x/y/w: executable before, not in the new build",
            "x/y/z: contents differ",
        ]
    );
}

#[test]
fn the_list_is_capped_but_every_difference_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    for (side, contents) in [("a", "first"), ("b", "second")] {
        let root = dir.path().join(side);
        std::fs::create_dir(&root).unwrap();
        for i in 0..20 {
            std::fs::write(root.join(format!("f{i:02}")), contents).unwrap();
        }
    }
    let diff = compare_trees(&dir.path().join("a"), &dir.path().join("b"), 5).unwrap();
    assert_eq!(diff.differences.len(), 5);
    assert_eq!(diff.total, 20);
    assert_eq!(diff.omitted(), 15);
    assert_eq!(listed(&diff)[0], "f00: contents differ");
}

#[test]
fn single_files_and_symlinks_at_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::write(&a, "one").unwrap();
    std::fs::write(&b, "two").unwrap();
    let diff = compare_trees(&a, &b, 10).unwrap();
    assert_eq!(listed(&diff), [".: contents differ"]);
    // Symlinks to directories are compared as links, not followed.
    let (la, lb) = (dir.path().join("la"), dir.path().join("lb"));
    symlink(dir.path(), &la).unwrap();
    symlink(dir.path(), &lb).unwrap();
    assert!(compare_trees(&la, &lb, 10).unwrap().is_empty());
    let diff = compare_trees(&a, &la, 10).unwrap();
    assert_eq!(
        listed(&diff),
        [".: a file before, a symlink in the new build"]
    );
}

#[test]
fn a_missing_tree_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let err = compare_trees(dir.path(), &missing, 10).unwrap_err();
    assert_eq!(err.path, missing);
}
