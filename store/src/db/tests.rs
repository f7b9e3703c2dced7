use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::hash::HashAlgo;

fn path(name: &str) -> StorePath {
    let digest = Hash::sha256(name).compress::<20>();
    StorePath::from_digest(&digest, name).unwrap()
}

fn new_path(name: &str, references: &[&str]) -> NewPath {
    NewPath {
        path: path(name),
        nar_hash: Hash::sha256(name),
        nar_size: 120,
        references: references.iter().map(|r| path(r)).collect(),
        deriver: None,
        ca: None,
        derivation_outputs: BTreeMap::new(),
    }
}

fn open(dir: &Path) -> Db {
    Db::open(&dir.join("db-v1.sqlite"), &StoreDir::default()).unwrap()
}

#[test]
fn registers_and_reads_back_path_info() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = open(dir.path());
    let mut leaf = new_path("leaf", &[]);
    leaf.ca = Some(ContentAddress::Fixed(
        FileIngestionMethod::Recursive,
        Hash::sha256("x"),
    ));
    let mut top = new_path("top", &["leaf", "top"]);
    top.deriver = Some(path("top.drv"));
    assert_eq!(
        db.register(&[leaf.clone(), top.clone()]).unwrap(),
        [true, true]
    );
    let info = db.path_info(&top.path).unwrap().unwrap();
    assert_eq!(info.references, [path("leaf"), path("top")].into());
    assert_eq!(info.deriver, Some(path("top.drv")));
    assert_eq!(info.nar_size, 120);
    assert_eq!(info.nar_hash, Hash::sha256("top"));
    assert!(info.registration_time > 0);
    assert_eq!(db.path_info(&leaf.path).unwrap().unwrap().ca, leaf.ca);
    assert_eq!(db.referrers(&leaf.path).unwrap(), [path("top")].into());
    assert!(db.path_info(&path("other")).unwrap().is_none());
}

#[test]
fn registering_twice_keeps_the_first_registration() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = open(dir.path());
    assert_eq!(db.register(&[new_path("a", &[])]).unwrap(), [true]);
    let mut again = new_path("a", &[]);
    again.nar_size = 999;
    assert_eq!(db.register(&[again]).unwrap(), [false]);
    assert_eq!(db.path_info(&path("a")).unwrap().unwrap().nar_size, 120);
}

#[test]
fn refuses_a_reference_that_is_not_valid_and_registers_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = open(dir.path());
    let err = db
        .register(&[new_path("a", &[]), new_path("b", &["missing"])])
        .unwrap_err();
    assert!(matches!(err, DbError::MissingReference { .. }), "{err}");
    assert!(!db.is_valid(&path("a")).unwrap());
}

#[test]
fn closure_follows_references_transitively() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = open(dir.path());
    db.register(&[
        new_path("c", &[]),
        new_path("b", &["c"]),
        new_path("a", &["b", "a"]),
        new_path("x", &[]),
    ])
    .unwrap();
    let closure = db.closure([&path("a")]).unwrap();
    assert_eq!(closure, [path("a"), path("b"), path("c")].into());
    assert_eq!(db.all_valid().unwrap().len(), 4);
    assert!(matches!(
        db.closure([&path("nope")]),
        Err(DbError::NotValid(_))
    ));
}

#[test]
fn invalidate_refuses_to_break_the_closure_invariant() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = open(dir.path());
    db.register(&[new_path("c", &[]), new_path("b", &["c", "b"])])
        .unwrap();
    let err = db.invalidate(&[path("c")].into()).unwrap_err();
    assert!(matches!(err, DbError::StillReferenced { .. }), "{err}");
    db.invalidate(&[path("b"), path("c")].into()).unwrap();
    assert!(db.all_valid().unwrap().is_empty());
}

#[test]
fn records_derivation_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = open(dir.path());
    let mut drv = new_path("foo.drv", &[]);
    drv.derivation_outputs = [
        ("out".to_owned(), path("foo")),
        ("dev".to_owned(), path("foo-dev")),
    ]
    .into();
    db.register(&[drv]).unwrap();
    let outputs = db.derivation_outputs(&path("foo.drv")).unwrap();
    assert_eq!(outputs.get("dev"), Some(&path("foo-dev")));
    assert_eq!(
        db.derivers_of_output(&path("foo")).unwrap(),
        BTreeSet::from([path("foo.drv")])
    );
}

#[test]
fn refuses_unknown_versions_and_other_store_dirs() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    let err = Db::open(&dir.path().join("db-v1.sqlite"), &StoreDir::new("/other")).unwrap_err();
    assert!(matches!(err, DbError::WrongStoreDir { .. }), "{err}");

    let conn = rusqlite::Connection::open(dir.path().join("db-v1.sqlite")).unwrap();
    conn.pragma_update(None, "user_version", 7).unwrap();
    drop(conn);
    let err = Db::open(&dir.path().join("db-v1.sqlite"), &StoreDir::default()).unwrap_err();
    assert!(err.to_string().contains("schema version 7"), "{err}");

    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("db-v2.sqlite"), b"").unwrap();
    let err = Db::open(&other.path().join("db-v1.sqlite"), &StoreDir::default()).unwrap_err();
    assert!(matches!(err, DbError::NewerDatabase { .. }), "{err}");
}

#[test]
fn content_addresses_round_trip() {
    for ca in [
        ContentAddress::Text(Hash::sha256("t")),
        ContentAddress::Fixed(FileIngestionMethod::Flat, Hash::digest(HashAlgo::Sha1, "f")),
        ContentAddress::Fixed(FileIngestionMethod::Recursive, Hash::sha256("r")),
    ] {
        assert_eq!(parse_content_address(&ca.to_string()), Some(ca));
    }
    assert_eq!(parse_content_address("fixed:bogus"), None);
}

#[test]
fn many_connections_opening_a_new_database_at_once_all_succeed() {
    // Each round: a fresh file, eight connections racing to create it and
    // switch it to WAL; SQLite answers some of them "busy" at once.
    for _ in 0..25 {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("db-v1.sqlite");
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (file, barrier) = (file.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    Db::open(&file, &StoreDir::default()).map(|_| ())
                })
            })
            .collect();
        for thread in threads {
            let result = thread.join().unwrap();
            assert!(result.is_ok(), "{:?}", result.err());
        }
    }
}
