use std::collections::BTreeSet;

use super::*;
use crate::hash::{Hash, HashAlgo};

#[test]
fn parses_and_displays() {
    let dir = StoreDir::default();
    let text = "/nix/store/qs2vcw1sd6lzsvgvq6gggnw1v31qrm28-hi.txt";
    let path = dir.parse(text).unwrap();
    assert_eq!(path.hash_part(), "qs2vcw1sd6lzsvgvq6gggnw1v31qrm28");
    assert_eq!(path.name(), "hi.txt");
    assert_eq!(dir.display(&path), text);
    let (inner, rest) = dir
        .parse_prefix("/nix/store/qs2vcw1sd6lzsvgvq6gggnw1v31qrm28-hi.txt/a/b")
        .unwrap();
    assert_eq!(inner, path);
    assert_eq!(rest, "/a/b");
}

#[test]
fn rejects_bad_paths() {
    let dir = StoreDir::default();
    let cases = [
        (
            "/tmp/qs2vcw1sd6lzsvgvq6gggnw1v31qrm28-hi",
            "not in the Nix store",
        ),
        ("/nix/store/qs2vcw1sd6lzsvgvq6g-hi", "too short"),
        (
            "/nix/store/qs2vcw1sd6lzsvgvq6gggnw1v31qrm2e-hi",
            "invalid hash part",
        ),
        ("/nix/store/qs2vcw1sd6lzsvgvq6gggnw1v31qrm28_hi", "no `-`"),
        ("/nix/store/qs2vcw1sd6lzsvgvq6gggnw1v31qrm28-", "empty"),
        (
            "/nix/store/qs2vcw1sd6lzsvgvq6gggnw1v31qrm28-a b",
            "illegal character ` `",
        ),
        (
            "/nix/store/qs2vcw1sd6lzsvgvq6gggnw1v31qrm28-hi/x",
            "not in the Nix store",
        ),
    ];
    for (text, message) in cases {
        let err = dir.parse(text).unwrap_err().to_string();
        assert!(err.contains(message), "{text}: {err}");
    }
    let long = format!(
        "/nix/store/qs2vcw1sd6lzsvgvq6gggnw1v31qrm28-{}",
        "a".repeat(212)
    );
    assert!(matches!(dir.parse(&long), Err(ParseError::NameTooLong(_))));
    let longest = format!(
        "/nix/store/qs2vcw1sd6lzsvgvq6gggnw1v31qrm28-{}",
        "a".repeat(211)
    );
    assert!(dir.parse(&longest).is_ok());
}

#[test]
fn paths_match_nix() {
    // Every expected value below was printed by Nix 2.8 for the file "hi\n".
    let dir = StoreDir::default();
    let none = BTreeSet::new();
    let text = dir.make_text_path("hi.txt", b"hi\n", &none).unwrap();
    assert_eq!(
        dir.display(&text),
        "/nix/store/y45597rd0b6v25dbaajxx57xpgky3jjx-hi.txt"
    );
    let refs: BTreeSet<_> = [text].into_iter().collect();
    let with_ref = format!("x {}", dir.display(refs.first().unwrap()));
    let text = dir
        .make_text_path("ref.txt", with_ref.as_bytes(), &refs)
        .unwrap();
    assert_eq!(
        dir.display(&text),
        "/nix/store/2vgswkj7lijn26igkgsz8dpnri7i5gbi-ref.txt"
    );
    let flat_sha1 = Hash::digest(HashAlgo::Sha1, b"hi\n");
    let fixed = dir
        .make_fixed_output_path(
            "hi.txt",
            FileIngestionMethod::Flat,
            &flat_sha1,
            &none,
            false,
        )
        .unwrap();
    assert_eq!(
        dir.display(&fixed),
        "/nix/store/cwqi3hg14ghxp8cbkczibv2y439hdg7x-hi.txt"
    );
}

#[test]
fn output_names() {
    assert_eq!(compute::output_path_name("hello", "out"), "hello");
    assert_eq!(compute::output_path_name("hello", "dev"), "hello-dev");
}
