use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::*;
use crate::hash::{Hash, HashAlgo};
use crate::store::add::Added;
use crate::store::gc::GcOptions;
use crate::store_path::FileIngestionMethod;

pub(crate) fn open(dir: &Path) -> Store {
    Store::open(dir.join("root"), StoreDir::default()).unwrap()
}

fn sample_tree(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    fs_err::create_dir_all(src.join("sub")).unwrap();
    fs_err::write(src.join("sub/a"), b"a\n").unwrap();
    fs_err::write(src.join("run"), b"#!/bin/sh\n").unwrap();
    fs_err::set_permissions(src.join("run"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("sub/a", src.join("link")).unwrap();
    src
}

#[test]
fn add_path_registers_a_canonical_copy_with_its_nar_hash() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let src = sample_tree(dir.path());
    let added = store
        .add_path(
            &src,
            "src",
            FileIngestionMethod::Recursive,
            HashAlgo::Sha256,
        )
        .unwrap();
    assert!(added.fresh);
    let mut nar = Vec::new();
    crate::nar::dump(&src, &mut nar).unwrap();
    let info = store.path_info(&added.path).unwrap().unwrap();
    assert_eq!(info.nar_hash, Hash::sha256(&nar));
    assert_eq!(info.nar_size, nar.len() as u64);
    let expected = store
        .store_dir()
        .make_source_path("src", &Hash::sha256(&nar), &BTreeSet::new(), false)
        .unwrap();
    assert_eq!(added.path, expected);
    let physical = store.physical(&added.path);
    assert_eq!(
        fs_err::metadata(physical.join("run"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o555
    );
    assert_eq!(
        fs_err::metadata(&physical).unwrap().permissions().mode() & 0o777,
        0o555
    );

    let again = store
        .add_path(
            &src,
            "src",
            FileIngestionMethod::Recursive,
            HashAlgo::Sha256,
        )
        .unwrap();
    assert_eq!(
        again,
        Added {
            path: added.path,
            fresh: false
        }
    );
    // Nothing left in the scratch directory.
    assert_eq!(fs_err::read_dir(store.session.dir()).unwrap().count(), 0);
}

#[test]
fn add_text_records_derivation_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let dep = store
        .add_text("dep", b"hello", &BTreeSet::new())
        .unwrap()
        .path;
    let out = StorePath::from_base_name("7rjj86a15146cq1d3qy068lml7n8ykzm-foo").unwrap();
    let drv = format!(
        "Derive([(\"out\",\"/nix/store/{out}\",\"\",\"\")],[],[\"/nix/store/{dep}\"],\"x86_64-linux\",\"/bin/sh\",[],[(\"name\",\"foo\"),(\"out\",\"/nix/store/{out}\")])"
    );
    let added = store
        .add_text("foo.drv", drv.as_bytes(), &[dep.clone()].into())
        .unwrap();
    let info = store.path_info(&added.path).unwrap().unwrap();
    assert_eq!(info.references, [dep].into());
    assert_eq!(
        info.ca.unwrap().to_string(),
        format!(
            "text:{}",
            Hash::sha256(&drv).encode_with_algo(crate::hash::Encoding::Nixbase32)
        )
    );
    assert_eq!(
        store
            .db()
            .derivation_outputs(&added.path)
            .unwrap()
            .get("out"),
        Some(&out)
    );
}

#[test]
fn an_orphan_from_a_crash_between_rename_and_register_is_removed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = StorePath::from_base_name("7rjj86a15146cq1d3qy068lml7n8ykzm-half").unwrap();
    {
        let store = open(dir.path());
        let tmp = store.scratch_path("half");
        fs_err::create_dir(&tmp).unwrap();
        fs_err::write(tmp.join("f"), b"x").unwrap();
        crate::realise::canonicalise(&tmp).unwrap();
        let _lock = store.lock_path(&path).unwrap();
        // The first half of registration, then the "crash".
        store.move_into_store(&tmp, &path).unwrap();
        assert!(store.physical(&path).exists());
        assert!(!store.is_valid(&path).unwrap());
    }
    let store = open(dir.path());
    assert!(
        !store.physical(&path).exists(),
        "the orphan survived reopening"
    );
    assert!(store.verify(true).unwrap().problems.is_empty());
}

#[test]
fn an_orphan_locked_by_someone_else_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let path = StorePath::from_base_name("7rjj86a15146cq1d3qy068lml7n8ykzm-busy").unwrap();
    fs_err::write(store.physical(&path), b"being registered").unwrap();
    let lock = store.lock_path(&path).unwrap();
    assert!(store.remove_orphans().unwrap().is_empty());
    drop(lock);
    assert_eq!(store.remove_orphans().unwrap(), [path]);
}

#[test]
fn what_a_check_kept_survives_reopening_until_gc() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let valid = store.add_text("t", b"t", &BTreeSet::new()).unwrap().path;
    let kept = store.layout().check_object(&valid);
    fs_err::create_dir(&kept).unwrap();
    fs_err::write(kept.join("file"), b"other build").unwrap();
    let report = kept.with_file_name(format!("{}.check.diffoscope.txt", valid.base_name()));
    fs_err::write(&report, b"report").unwrap();
    let gone = StorePath::from_base_name("7rjj86a15146cq1d3qy068lml7n8ykzm-gone").unwrap();
    let orphan_check = store.layout().check_object(&gone);
    fs_err::write(&orphan_check, b"beside nothing").unwrap();
    drop(store);

    let store = open(dir.path());
    assert!(kept.join("file").exists() && report.exists());
    assert!(
        !orphan_check.exists(),
        "a .check beside no valid path is an orphan"
    );
    let dry = store
        .collect_garbage(&GcOptions {
            dry_run: true,
            keep: vec![valid.clone()],
        })
        .unwrap();
    assert_eq!(dry.check_artefacts, [kept.clone(), report.clone()]);
    assert!(kept.exists());
    let done = store
        .collect_garbage(&GcOptions {
            dry_run: false,
            keep: vec![valid.clone()],
        })
        .unwrap();
    assert_eq!(done.check_artefacts.len(), 2);
    assert!(!kept.exists() && !report.exists());
    assert!(store.is_valid(&valid).unwrap());
    assert!(store.verify(true).unwrap().problems.is_empty());
}

#[test]
fn dead_scratch_sessions_are_removed_and_live_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path());
    let live = first.scratch_path("live");
    fs_err::write(&live, b"in use").unwrap();
    // A session whose process died: a directory and an unlocked lock file.
    let tmp = first.layout().tmp();
    fs_err::create_dir(tmp.join("session-1-2")).unwrap();
    fs_err::write(tmp.join("session-1-2/junk"), b"x").unwrap();
    fs_err::write(tmp.join("session-1-2.lock"), b"").unwrap();
    let second = open(dir.path());
    assert!(live.exists());
    assert!(!tmp.join("session-1-2").exists());
    assert!(!tmp.join("session-1-2.lock").exists());
    drop(second);
    drop(first);
    assert_eq!(fs_err::read_dir(&tmp).unwrap().count(), 0);
}

#[test]
fn verify_detects_missing_and_modified_paths() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let a = store.add_text("a", b"aaa", &BTreeSet::new()).unwrap().path;
    let b = store.add_text("b", b"bbb", &BTreeSet::new()).unwrap().path;
    assert!(store.verify(true).unwrap().problems.is_empty());
    let file = store.physical(&a);
    fs_err::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    fs_err::write(&file, b"AAA").unwrap();
    fs_err::remove_file(store.physical(&b)).unwrap();
    assert_eq!(store.verify(false).unwrap().problems.len(), 1);
    let report = store.verify(true).unwrap();
    assert_eq!(report.checked, 2);
    let text: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|t| t.contains(&a.to_string()) && t.contains("modified")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|t| t.contains(&b.to_string()) && t.contains("missing")),
        "{text:?}"
    );
}

#[test]
fn gc_keeps_the_closure_of_roots_and_deletes_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let leaf = store
        .add_text("leaf", b"leaf", &BTreeSet::new())
        .unwrap()
        .path;
    let top = store
        .add_text(
            "top",
            store.display(&leaf).as_bytes(),
            &[leaf.clone()].into(),
        )
        .unwrap()
        .path;
    let junk = store
        .add_text("junk", b"junk", &BTreeSet::new())
        .unwrap()
        .path;
    let kept = store
        .add_text("kept", b"kept", &BTreeSet::new())
        .unwrap()
        .path;
    let result = dir.path().join("result");
    std::os::unix::fs::symlink(store.display(&top), &result).unwrap();
    store.add_indirect_root(&result).unwrap();
    let gone = dir.path().join("gone");
    std::os::unix::fs::symlink(store.display(&kept), &gone).unwrap();
    let stale_root = store.add_indirect_root(&gone).unwrap();
    fs_err::remove_file(&gone).unwrap();

    let options = GcOptions {
        dry_run: true,
        keep: vec![kept.clone()],
    };
    let report = store.collect_garbage(&options).unwrap();
    assert_eq!(
        report
            .deleted
            .iter()
            .map(|(p, _)| p.clone())
            .collect::<Vec<_>>(),
        std::slice::from_ref(&junk)
    );
    assert_eq!(report.bytes_freed, 4);
    assert_eq!(report.stale_roots, std::slice::from_ref(&stale_root));
    assert!(store.is_valid(&junk).unwrap());

    let report = store
        .collect_garbage(&GcOptions {
            dry_run: false,
            ..options
        })
        .unwrap();
    assert_eq!(report.deleted.len(), 1);
    assert!(!store.is_valid(&junk).unwrap());
    assert!(!store.physical(&junk).exists());
    assert!(!stale_root.exists());
    for path in [&leaf, &top, &kept] {
        assert!(store.is_valid(path).unwrap() && store.physical(path).exists());
    }
    let report = store.collect_garbage(&GcOptions::default()).unwrap();
    assert_eq!(
        report.deleted.len(),
        1,
        "only `kept` goes once it is no longer kept"
    );
}

#[test]
fn resolve_accepts_logical_physical_and_linked_paths() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let path = store.add_text("t", b"t", &BTreeSet::new()).unwrap().path;
    let logical = store.display(&path);
    assert_eq!(store.resolve(&logical).unwrap(), path);
    assert_eq!(store.resolve(&format!("{logical}/inner")).unwrap(), path);
    assert_eq!(
        store
            .resolve(store.physical(&path).to_str().unwrap())
            .unwrap(),
        path
    );
    let link = dir.path().join("result");
    std::os::unix::fs::symlink(&logical, &link).unwrap();
    assert_eq!(store.resolve(link.to_str().unwrap()).unwrap(), path);
    assert!(store.resolve("/tmp/nothing").is_err());
}

#[test]
fn concurrent_adds_of_the_same_content_register_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let src = sample_tree(dir.path());
    let root = dir.path().join("root");
    drop(open(dir.path()));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (root, src) = (root.clone(), src.clone());
            std::thread::spawn(move || {
                let store = Store::open(root, StoreDir::default()).unwrap();
                let a = store
                    .add_path(
                        &src,
                        "src",
                        FileIngestionMethod::Recursive,
                        HashAlgo::Sha256,
                    )
                    .unwrap();
                let b = store.add_text("t", b"same text", &BTreeSet::new()).unwrap();
                [a, b]
            })
        })
        .collect();
    let results: Vec<[Added; 2]> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for i in 0..2 {
        let fresh = results.iter().filter(|r| r[i].fresh).count();
        assert_eq!(fresh, 1, "path {i} registered {fresh} times");
    }
    let store = open(dir.path());
    assert_eq!(store.db().all_valid().unwrap().len(), 2);
}
