//! Tests of the NAR module: known bytes, the reader's rules, round trips
//! (proptest) and the malformed-NAR corpus.

mod bad;
mod good;
mod model;
mod roundtrip;

use std::collections::BTreeMap;

use super::read::{Got, Inside, NameProblem};
use super::wire::{Token, write_bytes, write_tokens};
use super::*;
use model::Tree;

/// Builds NAR bytes from a list of strings, framing each.
pub(crate) fn frame(strings: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for s in strings {
        write_bytes(&mut out, s).unwrap();
    }
    out
}

fn file(contents: &[u8], executable: bool) -> Tree {
    Tree::Regular {
        executable,
        contents: contents.to_vec(),
    }
}

fn dir(entries: &[(&str, Tree)]) -> Tree {
    Tree::Directory(
        entries
            .iter()
            .map(|(name, tree)| (name.as_bytes().to_vec(), tree.clone()))
            .collect::<BTreeMap<_, _>>(),
    )
}

#[test]
fn regular_file_bytes() {
    let nar = model::encode(&file(b"hello", false));
    let want = frame(&[
        b"nix-archive-1",
        b"(",
        b"type",
        b"regular",
        b"contents",
        b"hello",
        b")",
    ]);
    assert_eq!(nar, want);
}

#[test]
fn executable_and_directory_bytes() {
    let tree = dir(&[
        ("x", file(b"", true)),
        ("l", Tree::Symlink(b"/abs".to_vec())),
    ]);
    let nar = model::encode(&tree);
    let want = frame(&[
        b"nix-archive-1",
        b"(",
        b"type",
        b"directory",
        b"entry",
        b"(",
        b"name",
        b"l",
        b"node",
        b"(",
        b"type",
        b"symlink",
        b"target",
        b"/abs",
        b")",
        b")",
        b"entry",
        b"(",
        b"name",
        b"x",
        b"node",
        b"(",
        b"type",
        b"regular",
        b"executable",
        b"",
        b"contents",
        b"",
        b")",
        b")",
        b")",
    ]);
    assert_eq!(nar, want);
    assert_eq!(model::decode(&nar).unwrap(), tree);
}

#[test]
fn empty_directory_round_trips() {
    let tree = dir(&[]);
    let nar = model::encode(&tree);
    assert_eq!(
        nar,
        frame(&[b"nix-archive-1", b"(", b"type", b"directory", b")"])
    );
    assert_eq!(model::decode(&nar).unwrap(), tree);
}

#[test]
fn events_carry_paths_and_offsets() {
    let tree = dir(&[
        ("a", dir(&[("b", file(b"xyz", true))])),
        ("c", file(b"", false)),
    ]);
    let nar = model::encode(&tree);
    let mut reader = Reader::new(nar.as_slice());
    let mut seen: Vec<(&str, String)> = Vec::new();
    while let Some(event) = reader.next().unwrap() {
        let (kind, path) = match event {
            Event::Directory { path } => ("dir", path),
            Event::DirectoryEnd { path } => ("end", path),
            Event::Symlink { path, .. } => ("link", path),
            Event::Regular {
                path, offset, size, ..
            } => {
                let start = usize::try_from(offset).unwrap();
                let size = usize::try_from(size).unwrap();
                assert_eq!(
                    &nar[start..start + size],
                    if size == 3 { &b"xyz"[..] } else { b"" }
                );
                ("file", path)
            }
        };
        seen.push((kind, String::from_utf8(path.to_vec()).unwrap()));
    }
    let want = [
        ("dir", ""),
        ("dir", "a"),
        ("file", "a/b"),
        ("end", "a"),
        ("file", "c"),
        ("end", ""),
    ];
    assert_eq!(seen, want.map(|(k, p)| (k, p.to_owned())));
    assert_eq!(reader.offset(), nar.len() as u64);
}

#[test]
fn unread_contents_are_skipped() {
    let tree = dir(&[("a", file(&[7; 10_000], false)), ("b", file(b"x", false))]);
    let nar = model::encode(&tree);
    assert_eq!(validate(nar.as_slice()).unwrap(), nar.len() as u64);
}

#[test]
fn reports_offsets_of_bad_names() {
    let mut nar = frame(&[
        b"nix-archive-1",
        b"(",
        b"type",
        b"directory",
        b"entry",
        b"(",
        b"name",
    ]);
    let offset = nar.len() as u64;
    write_bytes(&mut nar, b"..").unwrap();
    match validate(nar.as_slice()) {
        Err(ReadError::InvalidName {
            offset: got,
            reason: NameProblem::Dots,
            ..
        }) => assert_eq!(got, offset),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn truncation_is_reported_at_the_end() {
    let nar = model::encode(&dir(&[("a", file(b"abc", false))]));
    for len in 0..nar.len() {
        match validate(&nar[..len]) {
            Err(ReadError::Truncated { offset, .. }) => assert_eq!(offset, len as u64),
            other => panic!("prefix of {len} bytes: unexpected {other:?}"),
        }
    }
}

#[test]
fn nesting_is_bounded() {
    let mut nar = Vec::new();
    write_tokens(&mut nar, &[Token::Magic]).unwrap();
    for _ in 0..wire::MAX_DEPTH {
        write_tokens(
            &mut nar,
            &[
                Token::Open,
                Token::Type,
                Token::Directory,
                Token::Entry,
                Token::Open,
                Token::Name,
            ],
        )
        .unwrap();
        write_bytes(&mut nar, b"d").unwrap();
        write_tokens(&mut nar, &[Token::Node]).unwrap();
    }
    write_tokens(&mut nar, &[Token::Open, Token::Type, Token::Directory]).unwrap();
    assert!(matches!(
        validate(nar.as_slice()),
        Err(ReadError::TooDeep { .. })
    ));
}

#[test]
fn nesting_up_to_the_limit_is_fine() {
    // Written without the recursive model, which would need a big stack.
    let mut encoder = Encoder::new(Vec::new()).unwrap();
    for _ in 0..wire::MAX_DEPTH {
        encoder.directory_start().unwrap();
        encoder.entry_start(b"d").unwrap();
    }
    encoder.regular(false, 4, &b"deep"[..]).unwrap();
    for _ in 0..wire::MAX_DEPTH {
        encoder.entry_end().unwrap();
        encoder.directory_end().unwrap();
    }
    let nar = encoder.finish().unwrap();
    let listing = list(nar.as_slice()).unwrap();
    assert_eq!(listing.entries.len(), wire::MAX_DEPTH + 1);
    let deepest = listing.entries.last().unwrap();
    assert_eq!(deepest.path.len(), 2 * wire::MAX_DEPTH - 1);
    assert_eq!(deepest.size(), 4);
    let mut json = Vec::new();
    listing.write_json(0, true, &mut json).unwrap();
    assert!(json.ends_with(&b"}}".repeat(wire::MAX_DEPTH)));
}

#[test]
fn error_messages_read_well() {
    let nar = frame(&[b"nix-archive-1", b"(", b"type", b"fifo"]);
    let err = validate(nar.as_slice()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "expected `regular` or `directory` or `symlink` at byte 56, got `fifo`"
    );
    let err = validate(&b"\x05\0\0\0\0\0\0\0hello\0\0\0"[..]).unwrap_err();
    assert!(
        matches!(&err, ReadError::BadMagic { got: Got::Str(_) }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "not a NAR: expected `nix-archive-1` at byte 0, got `hello`"
    );
    let err = validate(&b"\x05\0\0"[..]).unwrap_err();
    assert!(matches!(
        err,
        ReadError::Truncated {
            offset: 3,
            inside: Inside::Length
        }
    ));
}

#[test]
fn listing_finds_paths_and_children() {
    let tree = dir(&[
        (
            "a",
            dir(&[
                ("b", file(b"xyz", true)),
                ("c", Tree::Symlink(b"b".to_vec())),
            ]),
        ),
        ("a-z", file(b"", false)),
        ("e", dir(&[])),
    ]);
    let listing = list(model::encode(&tree).as_slice()).unwrap();
    let names = |i| {
        listing
            .children(i)
            .map(|c| String::from_utf8(listing.entries[c].name().to_vec()).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(0), ["a", "a-z", "e"]);
    let a = listing.find(b"/a").unwrap();
    assert_eq!(names(a), ["b", "c"]);
    assert_eq!(listing.find(b"a//c/"), Some(a + 2));
    assert_eq!(listing.find(b"/a/b/x"), None);
    assert_eq!(listing.find(b"/"), Some(0));
    assert_eq!(names(listing.find(b"e").unwrap()), Vec::<String>::new());
}

#[test]
fn json_matches_nix_format() {
    let tree = dir(&[
        ("a", dir(&[("b", file(b"xyz", true))])),
        ("l", Tree::Symlink(b"t\"\n\x01".to_vec())),
    ]);
    let listing = list(model::encode(&tree).as_slice()).unwrap();
    let mut json = Vec::new();
    listing.write_json(0, true, &mut json).unwrap();
    assert_eq!(
        String::from_utf8(json).unwrap(),
        r#"{"type":"directory","entries":{"a":{"type":"directory","entries":{"b":{"type":"regular","size":3,"executable":true,"narOffset":400}}},"l":{"type":"symlink","target":"t\"\n\u0001"}}}"#
    );
    let mut json = Vec::new();
    listing.write_json(0, false, &mut json).unwrap();
    assert_eq!(
        String::from_utf8(json).unwrap(),
        r#"{"type":"directory","entries":{"a":{},"l":{}}}"#
    );
}
