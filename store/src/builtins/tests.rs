//! Dispatch and attribute handling of the built-in builders. The fetcher
//! and unpacker have their own tests; these only check the wiring.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use super::*;
use crate::derivation::{DerivationOutput, FixedOutputHash};
use crate::fetch::{Failure, NoReporter, RetryPolicy};
use crate::hash::Hash;
use crate::store_path::FileIngestionMethod;

fn drv(builder: &str, env: &[(&str, &str)], fixed: Option<FixedOutputHash>) -> Derivation {
    let mut outputs = BTreeMap::new();
    outputs.insert("out".to_owned(), DerivationOutput { path: None, fixed });
    Derivation {
        outputs,
        builder: builder.to_owned(),
        platform: "builtin".to_owned(),
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..Default::default()
    }
}

fn builtins() -> Builtins {
    let mut config = FetchConfig::from_env();
    config.proxy_from_env = false;
    config.retry = RetryPolicy {
        tries: 1,
        initial_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
        retry_after_cap: Duration::ZERO,
    };
    Builtins::new(StoreDir::default(), config)
}

fn no_inputs(path: &StorePath) -> PathBuf {
    panic!("no input expected, asked for {path}")
}

#[test]
fn unknown_builtins_list_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    let error = builtins()
        .run(
            &drv("builtin:buildenv", &[], None),
            &no_inputs,
            &dir.path().join("out"),
            &NoReporter,
        )
        .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("`builtin:buildenv`"), "{message}");
    assert!(
        message.contains("`builtin:fetchurl`, `builtin:unpack-v1`"),
        "{message}"
    );
}

#[test]
fn fetchurl_needs_a_pinned_hash_and_a_url() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let unpinned = drv(FETCHURL, &[("url", "http://127.0.0.1:1/x")], None);
    let error = builtins()
        .run(&unpinned, &no_inputs, &out, &NoReporter)
        .unwrap_err();
    assert!(matches!(error, BuiltinError::NotFixedOutput), "{error:?}");
    let fixed = FixedOutputHash {
        method: FileIngestionMethod::Flat,
        hash: Hash::sha256(b""),
    };
    let no_url = drv(FETCHURL, &[], Some(fixed));
    let error = builtins()
        .run(&no_url, &no_inputs, &out, &NoReporter)
        .unwrap_err();
    assert!(
        matches!(error, BuiltinError::Missing { name: "url", .. }),
        "{error:?}"
    );
}

#[test]
fn fetchurl_tries_url_then_urls_once_each() {
    // A port nobody listens on: every attempt is refused at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (a, b) = (format!("http://{closed}/a"), format!("http://{closed}/b"));
    let fixed = FixedOutputHash {
        method: FileIngestionMethod::Flat,
        hash: Hash::sha256(b""),
    };
    let urls = format!("{b}  {a}");
    let fetch = drv(
        FETCHURL,
        &[("url", &a), ("urls", &urls), ("executable", "1")],
        Some(fixed),
    );
    let dir = tempfile::tempdir().unwrap();
    let error = builtins()
        .run(&fetch, &no_inputs, &dir.path().join("out"), &NoReporter)
        .unwrap_err();
    let BuiltinError::Fetch(FetchError::AllFailed { failures }) = &error else {
        panic!("{error:?}")
    };
    let tried: Vec<_> = failures.iter().map(|f| f.url.as_str()).collect();
    assert_eq!(tried, [a.as_str(), b.as_str()]);
    assert!(
        matches!(failures[0].failure, Failure::Request(_)),
        "{error:?}"
    );
}

#[test]
fn flags_must_be_zero_or_one() {
    let fixed = FixedOutputHash {
        method: FileIngestionMethod::Flat,
        hash: Hash::sha256(b""),
    };
    let fetch = drv(
        FETCHURL,
        &[("url", "http://127.0.0.1:1/"), ("executable", "yes")],
        Some(fixed),
    );
    let dir = tempfile::tempdir().unwrap();
    let error = builtins()
        .run(&fetch, &no_inputs, &dir.path().join("out"), &NoReporter)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "attribute `executable` of `builtin:fetchurl` is `yes`, expected `1` or `0`"
    );
}

#[test]
fn unpack_reads_src_through_the_input_map() {
    let dir = tempfile::tempdir().unwrap();
    let physical = dir.path().join("archive");
    let mut builder = ::tar::Builder::new(Vec::new());
    let mut header = ::tar::Header::new_gnu();
    header.set_size(2);
    header.set_mode(0o755);
    builder
        .append_data(&mut header, "pkg-1.0/bin/run", &b"hi"[..])
        .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&builder.into_inner().unwrap()).unwrap();
    fs_err::write(&physical, gz.finish().unwrap()).unwrap();

    let src = "/nix/store/00000000000000000000000000000000-pkg-1.0.tar.gz";
    let unpack = drv(UNPACK_V1, &[("src", src), ("stripComponents", "1")], None);
    let inputs = |path: &StorePath| {
        assert_eq!(path.name(), "pkg-1.0.tar.gz");
        physical.clone()
    };
    let out = dir.path().join("out");
    let outcome = builtins().run(&unpack, &inputs, &out, &NoReporter).unwrap();
    let Outcome::Unpacked(unpacked) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(unpacked.format, Format::TarGz);
    assert_eq!(fs_err::read(out.join("bin/run")).unwrap(), b"hi");
}

#[test]
fn unpack_checks_its_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let run = |env: &[(&str, &str)]| {
        builtins().run(&drv(UNPACK_V1, env, None), &no_inputs, &out, &NoReporter)
    };
    let src = ("src", "/nix/store/00000000000000000000000000000000-x.tar");
    assert!(matches!(
        run(&[]),
        Err(BuiltinError::Missing { name: "src", .. })
    ));
    assert!(matches!(
        run(&[("src", "/tmp/x.tar")]),
        Err(BuiltinError::BadSrc(_))
    ));
    assert!(matches!(
        run(&[src, ("format", "rar")]),
        Err(BuiltinError::Unpack(_))
    ));
    assert!(matches!(
        run(&[src, ("stripComponents", "-1")]),
        Err(BuiltinError::BadValue {
            name: "stripComponents",
            ..
        })
    ));
}
