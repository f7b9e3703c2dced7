use std::collections::{BTreeMap, BTreeSet};

use super::BundleError;
use super::format::{BundleReader, BundleWriter, Manifest};
use crate::derivation::{Derivation, DerivationOutput, DrvHashes};
use crate::hash::HashAlgo;
use crate::realise::{PendingOutput, Registration};
use crate::store::Store;
use crate::store_path::{FileIngestionMethod, StoreDir, StorePath};

/// A store holding a small graph: a source `dep`, a derivation
/// `thing.drv` with `dep` as input source, its output `thing` (which refers
/// to `dep`), and a text `note` referring to `dep`.
struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    dep: StorePath,
    drv: StorePath,
    out: StorePath,
    note: StorePath,
}

fn open(dir: &std::path::Path) -> Store {
    Store::open(dir, StoreDir::default()).unwrap()
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("a"));
    let src = dir.path().join("src");
    fs_err::create_dir_all(src.join("sub")).unwrap();
    fs_err::write(src.join("sub/file"), b"some source\n").unwrap();
    std::os::unix::fs::symlink("sub/file", src.join("link")).unwrap();
    let dep = store
        .add_path(
            &src,
            "dep",
            FileIngestionMethod::Recursive,
            HashAlgo::Sha256,
        )
        .unwrap()
        .path;
    let note = store
        .add_text(
            "note",
            format!("see {}\n", store.display(&dep)).as_bytes(),
            &[dep.clone()].into(),
        )
        .unwrap()
        .path;
    let mut derivation = Derivation {
        outputs: [(
            "out".to_owned(),
            DerivationOutput {
                path: None,
                fixed: None,
            },
        )]
        .into(),
        input_srcs: [dep.clone()].into(),
        platform: "x86_64-linux".into(),
        builder: "/bin/sh".into(),
        env: [
            ("name".to_owned(), "thing".to_owned()),
            ("src".to_owned(), store.display(&dep)),
        ]
        .into(),
        ..Derivation::default()
    };
    derivation
        .fill_output_paths(store.store_dir(), &DrvHashes::new())
        .unwrap();
    let aterm = derivation.to_aterm(store.store_dir());
    let drv = store
        .add_text("thing.drv", aterm.as_bytes(), &derivation.references())
        .unwrap()
        .path;
    let out = derivation.outputs["out"].path.clone().unwrap();
    let tmp = store.scratch_path("out");
    fs_err::create_dir(&tmp).unwrap();
    fs_err::write(tmp.join("uses"), store.display(&dep)).unwrap();
    let lock = store.lock_path(&out).unwrap();
    store
        .register_outputs(
            &[PendingOutput {
                path: out.clone(),
                tmp,
                fixed: None,
            }],
            Registration {
                candidates: &[dep.clone()].into(),
                deriver: Some(&drv),
                locks: &[lock],
            },
        )
        .unwrap();
    Fixture {
        _dir: dir,
        store,
        dep,
        drv,
        out,
        note,
    }
}

impl Fixture {
    fn all(&self) -> BTreeSet<StorePath> {
        [&self.dep, &self.drv, &self.out, &self.note]
            .into_iter()
            .cloned()
            .collect()
    }

    fn export(&self, paths: &BTreeSet<StorePath>) -> Vec<u8> {
        let mut bytes = Vec::new();
        self.store.export_bundle(paths, &mut bytes).unwrap();
        bytes
    }

    /// The manifest of an export of `paths`, and the NARs in its order.
    fn parts(&self, paths: &BTreeSet<StorePath>) -> (Manifest, Vec<Vec<u8>>) {
        let bytes = self.export(paths);
        let (manifest, _) = BundleReader::open(&bytes[..]).unwrap();
        let nars = manifest
            .paths
            .iter()
            .map(|entry| {
                let path = self.store.store_dir().parse(&entry.path).unwrap();
                let mut nar = Vec::new();
                crate::nar::dump(&self.store.physical(&path), &mut nar).unwrap();
                nar
            })
            .collect();
        (manifest, nars)
    }

    fn entry_index(&self, manifest: &Manifest, path: &StorePath) -> usize {
        let shown = self.store.display(path);
        manifest.paths.iter().position(|e| e.path == shown).unwrap()
    }
}

/// Writes a bundle from a manifest and NARs, whatever they say.
fn assemble(manifest: &Manifest, nars: &[Vec<u8>]) -> Vec<u8> {
    let mut writer = BundleWriter::new(Vec::new(), manifest).unwrap();
    for nar in nars {
        use std::io::Write as _;
        let mut sink = writer.nar().unwrap();
        sink.write_all(nar).unwrap();
        sink.finish().unwrap();
    }
    writer.finish().unwrap()
}

/// Imports `bytes` into a fresh store, expecting an error; checks that
/// nothing was registered and the store still verifies.
fn rejected(bytes: &[u8]) -> BundleError {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let error = store.import_bundle(bytes).unwrap_err();
    assert!(store.db().all_valid().unwrap().is_empty(), "{error}");
    assert!(store.verify(true).unwrap().problems.is_empty());
    // Nothing left behind in store/ either.
    assert_eq!(
        fs_err::read_dir(store.layout().objects()).unwrap().count(),
        0,
        "{error}"
    );
    error
}

#[test]
fn a_bundle_round_trips_into_an_empty_store() {
    let fx = fixture();
    let bytes = fx.export(&fx.all());
    let dir = tempfile::tempdir().unwrap();
    let other = open(dir.path());
    let report = other.import_bundle(&bytes[..]).unwrap();
    assert_eq!(report.paths, 4);
    assert_eq!(
        report.imported.iter().cloned().collect::<BTreeSet<_>>(),
        fx.all()
    );
    assert_eq!(report.imported_bytes, report.nar_bytes);
    for path in fx.all() {
        let mine = fx.store.path_info(&path).unwrap().unwrap();
        let theirs = other.path_info(&path).unwrap().unwrap();
        assert_eq!(
            (
                &mine.nar_hash,
                mine.nar_size,
                &mine.references,
                &mine.deriver,
                &mine.ca
            ),
            (
                &theirs.nar_hash,
                theirs.nar_size,
                &theirs.references,
                &theirs.deriver,
                &theirs.ca
            )
        );
    }
    assert_eq!(
        other.db().derivation_outputs(&fx.drv).unwrap(),
        BTreeMap::from([("out".to_owned(), fx.out.clone())])
    );
    assert!(other.verify(true).unwrap().problems.is_empty());
    // Again: a no-op.
    let again = other.import_bundle(&bytes[..]).unwrap();
    assert!(again.imported.is_empty());
    assert_eq!(again.paths, 4);
}

#[test]
fn references_come_before_their_referrers() {
    let fx = fixture();
    let (manifest, _) = fx.parts(&fx.all());
    let at = |p: &StorePath| fx.entry_index(&manifest, p);
    assert!(at(&fx.dep) < at(&fx.out));
    assert!(at(&fx.dep) < at(&fx.drv));
    assert!(at(&fx.dep) < at(&fx.note));
}

#[test]
fn a_truncated_bundle_is_rejected() {
    let fx = fixture();
    let bytes = fx.export(&fx.all());
    for cut in [
        0,
        5,
        16,
        20,
        bytes.len() / 2,
        bytes.len() - 20,
        bytes.len() - 1,
    ] {
        let error = rejected(&bytes[..cut]);
        assert!(
            matches!(
                error,
                BundleError::Truncated { .. } | BundleError::Corrupt { .. }
            ),
            "cut at {cut}: {error:?}"
        );
    }
    assert!(matches!(
        rejected(&bytes[..10]),
        BundleError::Truncated { .. }
    ));
}

#[test]
fn a_flipped_byte_is_rejected() {
    let fx = fixture();
    let bytes = fx.export(&fx.all());
    for at in [20, bytes.len() / 3, bytes.len() / 2, bytes.len() - 10] {
        let mut flipped = bytes.clone();
        flipped[at] ^= 0x40;
        rejected(&flipped);
    }
    // A byte flipped before compression: the NAR's hash names the path.
    let (manifest, mut nars) = fx.parts(&fx.all());
    let index = fx.entry_index(&manifest, &fx.out);
    let last = nars[index].len() - 20;
    nars[index][last] ^= 1;
    let error = rejected(&assemble(&manifest, &nars));
    let message = error.to_string();
    assert!(message.contains(&fx.store.display(&fx.out)), "{message}");
    assert!(
        matches!(
            error,
            BundleError::NarHash { .. } | BundleError::BadNar { .. }
        ),
        "{error:?}"
    );
}

#[test]
fn bad_magic_trailing_data_and_unknown_versions_are_rejected() {
    let fx = fixture();
    let bytes = fx.export(&fx.all());
    let mut bad = bytes.clone();
    bad[0] = b'K';
    assert!(matches!(rejected(&bad), BundleError::BadMagic));
    let mut newer = bytes.clone();
    newer[12] = 2;
    assert!(matches!(
        rejected(&newer),
        BundleError::Version { found: 2, .. }
    ));
    let mut trailing = bytes;
    trailing.extend_from_slice(b"more");
    rejected(&trailing);
}

#[test]
fn a_manifest_that_lies_about_references_is_rejected() {
    let fx = fixture();
    let (manifest, nars) = fx.parts(&fx.all());
    let out = fx.entry_index(&manifest, &fx.out);
    let shown_dep = fx.store.display(&fx.dep);

    // Fewer: `thing` refers to `dep`, the manifest says it refers to nothing.
    let mut fewer = manifest.clone();
    fewer.paths[out].references.clear();
    let error = rejected(&assemble(&fewer, &nars));
    assert!(matches!(error, BundleError::References { .. }), "{error:?}");
    assert!(error.to_string().contains(&shown_dep), "{error}");

    // More: `thing` claims to refer to `note` as well.
    let mut more = manifest.clone();
    more.paths[out].references.push(fx.store.display(&fx.note));
    more.paths[out].references.sort();
    let error = rejected(&assemble(&more, &nars));
    assert!(matches!(error, BundleError::References { .. }), "{error:?}");
    assert!(
        error.to_string().contains(&fx.store.display(&fx.out)),
        "{error}"
    );

    // A `.drv` whose references are not its inputs: not its text path.
    let drv = fx.entry_index(&manifest, &fx.drv);
    let mut drv_lie = manifest.clone();
    drv_lie.paths[drv].references.clear();
    let error = rejected(&assemble(&drv_lie, &nars));
    assert!(matches!(error, BundleError::WrongPath { .. }), "{error:?}");
}

#[test]
fn a_missing_reference_is_rejected() {
    let fx = fixture();
    let bytes = fx.export(&[fx.out.clone()].into());
    let error = rejected(&bytes);
    assert!(
        matches!(error, BundleError::MissingReference { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains(&fx.store.display(&fx.out)), "{message}");
    assert!(message.contains(&fx.store.display(&fx.dep)), "{message}");
    // With the reference valid in the target store, it imports.
    let dir = tempfile::tempdir().unwrap();
    let other = open(dir.path());
    other
        .import_bundle(&fx.export(&[fx.dep.clone()].into())[..])
        .unwrap();
    let report = other.import_bundle(&bytes[..]).unwrap();
    assert_eq!(report.imported, vec![fx.out.clone()]);
}

#[test]
fn a_content_addressed_path_must_match_its_contents() {
    let fx = fixture();
    let (mut manifest, nars) = fx.parts(&[fx.dep.clone()].into());
    // Another name for the same contents: not the path its hash gives.
    let fake =
        StorePath::from_base_name(&format!("{}-dep", "0c8n79nkkb0l5gwmad4yfcyjfzcgnykv")).unwrap();
    manifest.paths[0].path = fx.store.display(&fake);
    let error = rejected(&assemble(&manifest, &nars));
    assert!(matches!(error, BundleError::WrongPath { .. }), "{error:?}");
    // A wrong NAR size in the manifest.
    let (mut manifest, nars) = fx.parts(&[fx.dep.clone()].into());
    manifest.paths[0].nar_size += 8;
    let mut padded = nars.clone();
    padded[0].extend_from_slice(&[0; 8]);
    let error = rejected(&assemble(&manifest, &padded));
    assert!(matches!(error, BundleError::BadNar { .. }), "{error:?}");
}

#[test]
fn sources_only_takes_drvs_sources_and_downloads_but_no_build_outputs() {
    let fx = fixture();
    let sources = fx
        .store
        .sources_closure(std::slice::from_ref(&fx.out))
        .unwrap();
    assert_eq!(sources, [fx.drv.clone(), fx.dep.clone()].into());
    let from_drv = fx
        .store
        .sources_closure(std::slice::from_ref(&fx.drv))
        .unwrap();
    assert_eq!(from_drv, sources);
}

#[test]
fn sources_only_needs_the_downloads_and_takes_them() {
    use crate::derivation::FixedOutputHash;
    use crate::hash::Hash;
    let fx = fixture();
    let contents = b"a download\n";
    let mut fetch = Derivation {
        outputs: [(
            "out".to_owned(),
            DerivationOutput {
                path: None,
                fixed: Some(FixedOutputHash {
                    method: FileIngestionMethod::Flat,
                    hash: Hash::sha256(contents),
                }),
            },
        )]
        .into(),
        platform: "builtin".into(),
        builder: "builtin:fetchurl".into(),
        env: [("name".to_owned(), "download".to_owned())].into(),
        ..Derivation::default()
    };
    fetch
        .fill_output_paths(fx.store.store_dir(), &DrvHashes::new())
        .unwrap();
    let drv = fx
        .store
        .add_text(
            "download.drv",
            fetch.to_aterm(fx.store.store_dir()).as_bytes(),
            &BTreeSet::new(),
        )
        .unwrap()
        .path;
    let output = fetch.outputs["out"].path.clone().unwrap();
    let error = fx
        .store
        .sources_closure(std::slice::from_ref(&drv))
        .unwrap_err();
    assert!(
        matches!(error, BundleError::NotFetched { count: 1, .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains(&fx.store.display(&output)),
        "{error}"
    );

    let tmp = fx.store.scratch_path("download");
    fs_err::write(&tmp, contents).unwrap();
    let lock = fx.store.lock_path(&output).unwrap();
    fx.store
        .register_outputs(
            &[PendingOutput {
                path: output.clone(),
                tmp,
                fixed: fetch.fixed_output().cloned(),
            }],
            Registration {
                candidates: &BTreeSet::new(),
                deriver: Some(&drv),
                locks: &[lock],
            },
        )
        .unwrap();
    let sources = fx
        .store
        .sources_closure(std::slice::from_ref(&drv))
        .unwrap();
    assert_eq!(sources, [drv, output.clone()].into());
    // The download's flat content address is checked on import.
    let bytes = fx.export(&sources);
    let dir = tempfile::tempdir().unwrap();
    let other = open(dir.path());
    other.import_bundle(&bytes[..]).unwrap();
    assert_eq!(
        other.path_info(&output).unwrap().unwrap().ca,
        fx.store.path_info(&output).unwrap().unwrap().ca
    );
    let (mut manifest, mut nars) = fx.parts(&[output.clone()].into());
    let other_contents = b"another file";
    nars[0].clear();
    crate::nar::dump_regular(
        false,
        other_contents.len() as u64,
        &other_contents[..],
        &mut nars[0],
    )
    .unwrap();
    manifest.paths[0].nar_hash =
        Hash::sha256(&nars[0]).encode_with_algo(crate::hash::Encoding::Nixbase32);
    manifest.paths[0].nar_size = nars[0].len() as u64;
    let error = rejected(&assemble(&manifest, &nars));
    assert!(matches!(error, BundleError::WrongPath { .. }), "{error:?}");
}
