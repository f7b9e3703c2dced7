//! `kiln export` and `kiln import` between scratch stores: a built closure
//! moves over with the same NAR hashes, a second import does nothing,
//! corrupt bundles leave the target store empty, and `--sources-only`
//! carries what an offline rebuild needs.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::Path;

use kiln_store::bundle::{BundleReader, BundleWriter, Manifest};
use kiln_store::hash::Hash;
use serde_json::Value;

use super::fetch::{FETCH, route, serve_stoppable};
use super::{Env, describe, need_sandbox};
use crate::util::run;

/// `dep` and `top`, which refers to `dep`'s output.
const PAIR: &str = r#"rec {
  dep = mk { name = "dep"; script = "mkdir $out; echo dep > $out/file"; };
  top = mk { name = "top"; script = "echo $deps > $out"; deps = [ dep ]; };
}"#;

/// Path → NAR hash of `kiln path-info --json --recursive PATH` in `env`.
fn nar_hashes(env: &Env, path: &str) -> BTreeMap<String, String> {
    let out = run(env
        .kiln()
        .args(["path-info", "--json", "--recursive", path]));
    assert!(out.status.success(), "{}", describe(&out));
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    list.iter()
        .map(|info| {
            (
                info["path"].as_str().unwrap().to_owned(),
                info["narHash"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Whether `env`'s store has no valid path and verifies.
fn assert_empty(env: &Env) {
    let out = run(env.kiln().args(["store", "verify", "--check-contents"]));
    assert!(out.status.success(), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("checked 0 valid paths"), "{stderr}");
}

fn export(env: &Env, args: &[&str], bundle: &Path) {
    let out = run(env.kiln().arg("export").args(args).arg("-o").arg(bundle));
    assert!(out.status.success(), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("exported"), "{stderr}");
}

fn import(env: &Env, bundle: &Path) -> std::process::Output {
    run(env.kiln().arg("import").arg(bundle))
}

/// The manifest and NARs of a bundle file.
fn unpack_bundle(bundle: &Path) -> (Manifest, Vec<Vec<u8>>) {
    use std::io::Read as _;
    let bytes = fs_err::read(bundle).unwrap();
    let (manifest, mut reader) = BundleReader::open(&bytes[..]).unwrap();
    let mut nars = Vec::new();
    for entry in &manifest.paths {
        let mut nar = Vec::new();
        reader
            .nar(&entry.path)
            .unwrap()
            .read_to_end(&mut nar)
            .unwrap();
        nars.push(nar);
    }
    reader.finish().unwrap();
    (manifest, nars)
}

fn write_bundle(bundle: &Path, manifest: &Manifest, nars: &[Vec<u8>]) {
    let mut writer = BundleWriter::new(Vec::new(), manifest).unwrap();
    for nar in nars {
        let mut sink = writer.nar().unwrap();
        sink.write_all(nar).unwrap();
        sink.finish().unwrap();
    }
    fs_err::write(bundle, writer.finish().unwrap()).unwrap();
}

#[test]
fn bundle_export_import_moves_a_built_closure_to_an_empty_store() {
    need_sandbox!();
    let env = Env::new();
    env.nix("pair.nix", PAIR);
    let (paths, _) = env.build_ok("pair.nix", &["-A", "top"]);
    let top = &paths[0];
    let bundle = env.path().join("top.kbundle");
    export(&env, &["--closure", top], &bundle);
    let mine = nar_hashes(&env, top);
    assert_eq!(unpack_bundle(&bundle).0.paths.len(), mine.len());

    let fresh = Env::new();
    let out = import(&fresh, &bundle);
    assert!(out.status.success(), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("imported {} of the {}", mine.len(), mine.len())),
        "{stderr}"
    );
    fresh.assert_verified();
    assert_eq!(nar_hashes(&fresh, top), mine);
    assert_eq!(
        fs_err::read(fresh.physical(top)).unwrap(),
        fs_err::read(env.physical(top)).unwrap()
    );

    // Twice: nothing to do, and it says so.
    let out = import(&fresh, &bundle);
    assert!(out.status.success(), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nothing to import"), "{stderr}");
    fresh.assert_verified();
}

#[test]
fn bundle_import_rejects_corrupt_bundles_and_registers_nothing() {
    need_sandbox!();
    let env = Env::new();
    env.nix("pair.nix", PAIR);
    let (paths, _) = env.build_ok("pair.nix", &["-A", "top"]);
    let top = &paths[0];
    let bundle = env.path().join("top.kbundle");
    export(&env, &["--closure", top], &bundle);
    let bytes = fs_err::read(&bundle).unwrap();

    let flipped = env.path().join("flipped.kbundle");
    let mut changed = bytes.clone();
    let middle = changed.len() / 2;
    changed[middle] ^= 0x10;
    fs_err::write(&flipped, &changed).unwrap();

    let truncated = env.path().join("truncated.kbundle");
    fs_err::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();

    // The manifest hides `top`'s reference to `dep`.
    let lying = env.path().join("lying.kbundle");
    let (mut manifest, nars) = unpack_bundle(&bundle);
    let entry = manifest.paths.iter_mut().find(|e| &e.path == top).unwrap();
    assert_eq!(entry.references.len(), 1);
    entry.references.clear();
    write_bundle(&lying, &manifest, &nars);

    let fresh = Env::new();
    for (file, expect) in [
        (&flipped, "bundle"),
        (&truncated, "truncated"),
        (&lying, top.as_str()),
    ] {
        let out = import(&fresh, file);
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("nothing was imported"), "{stderr}");
        assert!(stderr.contains(expect), "{stderr}");
        assert_empty(&fresh);
    }
    let out = import(&fresh, &lying);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("references"), "{stderr}");
}

#[test]
fn bundle_sources_only_rebuilds_offline_in_an_empty_store() {
    need_sandbox!();
    let env = Env::new();
    let data = b"downloaded once, carried over\n".to_vec();
    let server = serve_stoppable(HashMap::from([("/data".to_owned(), route(&data))]));
    let hash = Hash::sha256(&data).to_sri();
    env.nix(
        "offline.nix",
        &format!(
            r#"let {FETCH} in rec {{
  data = fetch "data" [ "{}/data" ] "{hash}";
  top = mk {{ name = "top"; script = "cat ${{data}} > $out; echo built >> $out"; }};
}}"#,
            server.base
        ),
    );
    let (paths, _) = env.build_ok("offline.nix", &["-A", "top"]);
    let top = paths[0].clone();
    let data_path = env.out_path("offline.nix", Some("data"));
    let drvs = env.instantiate("offline.nix", &["-A", "top"]);
    let top_drv = drvs[0].clone();

    let bundle = env.path().join("sources.kbundle");
    export(&env, &["--sources-only", &top_drv], &bundle);
    let (manifest, _) = unpack_bundle(&bundle);
    let listed: Vec<&str> = manifest.paths.iter().map(|e| e.path.as_str()).collect();
    assert!(listed.contains(&top_drv.as_str()), "{listed:?}");
    assert!(listed.contains(&data_path.as_str()), "{listed:?}");
    assert!(!listed.contains(&top.as_str()), "{listed:?}");
    assert_eq!(listed.iter().filter(|p| p.ends_with(".drv")).count(), 2);
    // From the output instead of the `.drv`: its deriver, the same paths.
    let from_output = env.path().join("from-output.kbundle");
    export(&env, &["--sources-only", &top], &from_output);
    assert_eq!(unpack_bundle(&from_output).0, manifest);

    // The server goes away: nothing can be downloaded any more. (Its port
    // may be reused by another test's server, which has no `/data`.)
    drop(server);

    let fresh = Env::new();
    let out = import(&fresh, &bundle);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(fresh.valid(&data_path) && !fresh.valid(&top));
    let out = run(fresh.kiln().args(["realise", &top_drv]));
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(super::lines(&out.stdout), std::slice::from_ref(&top));
    let mut expected = data;
    expected.extend_from_slice(b"built\n");
    assert_eq!(fs_err::read(fresh.physical(&top)).unwrap(), expected);
    fresh.assert_verified();
}
