use std::collections::BTreeSet;

use crate::derivation::FixedOutputHash;
use crate::hash::{Hash, HashAlgo};
use crate::realise::{PendingOutput, RegisterError, Registration};
use crate::store::Store;
use crate::store_path::{FileIngestionMethod, StoreDir, StorePath};

fn open(dir: &std::path::Path) -> Store {
    Store::open(dir.join("root"), StoreDir::default()).unwrap()
}

fn output_path(name: &str) -> StorePath {
    let digest = Hash::sha256(name).compress::<20>();
    StorePath::from_digest(&digest, name).unwrap()
}

#[test]
fn registers_outputs_with_self_and_cross_references() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let dep = store
        .add_text("dep", b"dependency", &BTreeSet::new())
        .unwrap()
        .path;
    let unused = store
        .add_text("unused", b"not referenced", &BTreeSet::new())
        .unwrap()
        .path;
    let (out, dev) = (output_path("foo"), output_path("foo-dev"));
    let out_tmp = store.scratch_path("out");
    fs_err::create_dir(&out_tmp).unwrap();
    fs_err::write(
        out_tmp.join("script"),
        format!("#!{}\nexec {}\n", store.display(&dep), store.display(&out)),
    )
    .unwrap();
    let dev_tmp = store.scratch_path("dev");
    fs_err::create_dir(&dev_tmp).unwrap();
    std::os::unix::fs::symlink(store.display(&out), dev_tmp.join("lib")).unwrap();
    let deriver = output_path("foo.drv");
    let locks = [
        store.lock_path(&out).unwrap(),
        store.lock_path(&dev).unwrap(),
    ];
    let candidates: BTreeSet<StorePath> = [dep.clone(), unused].into();
    let outputs = [
        PendingOutput {
            path: out.clone(),
            tmp: out_tmp.clone(),
            fixed: None,
        },
        PendingOutput {
            path: dev.clone(),
            tmp: dev_tmp,
            fixed: None,
        },
    ];
    let infos = store
        .register_outputs(
            &outputs,
            Registration {
                candidates: &candidates,
                deriver: Some(&deriver),
                locks: &locks,
            },
        )
        .unwrap();
    assert_eq!(infos[0].references, [dep, out.clone()].into());
    assert_eq!(infos[1].references, [out.clone()].into());
    assert_eq!(infos[0].deriver, Some(deriver));
    assert!(!out_tmp.exists());
    let mut nar = Vec::new();
    crate::nar::dump(&store.physical(&out), &mut nar).unwrap();
    assert_eq!(infos[0].nar_hash, Hash::sha256(&nar));
    assert!(store.verify(true).unwrap().problems.is_empty());
}

#[test]
fn a_fixed_output_with_the_wrong_hash_registers_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let out = output_path("fetched");
    let tmp = store.scratch_path("fetched");
    fs_err::write(&tmp, b"actual contents").unwrap();
    let wanted = Hash::sha256("expected contents");
    let lock = store.lock_path(&out).unwrap();
    let outputs = [PendingOutput {
        path: out.clone(),
        tmp: tmp.clone(),
        fixed: Some(FixedOutputHash {
            method: FileIngestionMethod::Flat,
            hash: wanted,
        }),
    }];
    let candidates = BTreeSet::new();
    let reg = Registration {
        candidates: &candidates,
        deriver: None,
        locks: std::slice::from_ref(&lock),
    };
    let err = store.register_outputs(&outputs, reg).unwrap_err();
    let RegisterError::HashMismatch(mismatch) = &err else {
        panic!("{err}")
    };
    assert_eq!(mismatch.got, Hash::sha256("actual contents"));
    let text = err.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[1].starts_with("  wanted: sha256-") && lines[2].starts_with("  got:    sha256-"),
        "{text}"
    );
    assert!(
        lines[1].contains(&wanted.encode_with_algo(crate::hash::Encoding::Nixbase32)),
        "{text}"
    );
    assert_eq!(lines[1].find("sha256-"), lines[2].find("sha256-"));
    assert!(!store.is_valid(&out).unwrap());
    assert!(!store.physical(&out).exists());

    // The right hash (recursive, sha1 this time) registers it with its CA.
    let fixed = FixedOutputHash {
        method: FileIngestionMethod::Recursive,
        hash: nar_hash(&tmp, HashAlgo::Sha1),
    };
    let outputs = [PendingOutput {
        path: out.clone(),
        tmp,
        fixed: Some(fixed.clone()),
    }];
    let infos = store.register_outputs(&outputs, reg).unwrap();
    assert_eq!(
        infos[0].ca,
        Some(crate::store_path::ContentAddress::Fixed(
            fixed.method,
            fixed.hash
        ))
    );
}

fn nar_hash(path: &std::path::Path, algo: HashAlgo) -> Hash {
    let mut nar = Vec::new();
    crate::nar::dump(path, &mut nar).unwrap();
    Hash::digest(algo, &nar)
}

#[test]
fn refuses_outputs_the_caller_has_not_locked() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let tmp = store.scratch_path("x");
    fs_err::write(&tmp, b"x").unwrap();
    let outputs = [PendingOutput {
        path: output_path("x"),
        tmp,
        fixed: None,
    }];
    let candidates = BTreeSet::new();
    let err = store
        .register_outputs(
            &outputs,
            Registration {
                candidates: &candidates,
                deriver: None,
                locks: &[],
            },
        )
        .unwrap_err();
    assert!(matches!(err, RegisterError::NotLocked(_)), "{err}");
}

#[test]
fn refuses_a_fifo_in_an_output_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let out = output_path("withfifo");
    let tmp = store.scratch_path("withfifo");
    fs_err::create_dir(&tmp).unwrap();
    let fifo = tmp.join("pipe");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let lock = store.lock_path(&out).unwrap();
    let candidates = BTreeSet::new();
    let outputs = [PendingOutput {
        path: out.clone(),
        tmp,
        fixed: None,
    }];
    let err = store
        .register_outputs(
            &outputs,
            Registration {
                candidates: &candidates,
                deriver: None,
                locks: std::slice::from_ref(&lock),
            },
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("pipe") && err.to_string().contains("FIFO"),
        "{err}"
    );
    assert!(!store.is_valid(&out).unwrap());
}
