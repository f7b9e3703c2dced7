//! The corpus of malformed NARs in `store/tests/fixtures/nar/bad/`: each
//! case is built here, must be rejected with the right error, and must
//! match its committed file. `KILN_REGEN_FIXTURES=1 cargo test -p
//! kiln-store nar::tests::bad` rewrites the files and their README.

use std::path::{Path, PathBuf};

use super::frame;
use crate::nar::read::{Got, Inside, NameProblem, TargetProblem};
use crate::nar::{ReadError, validate};

/// One malformed NAR.
struct Case {
    /// File name in the corpus.
    file: &'static str,
    /// What is wrong, for the README.
    what: &'static str,
    /// The bytes.
    bytes: Vec<u8>,
    /// Whether the error is the one this case is about.
    check: fn(&ReadError) -> bool,
}

const MAGIC: &[u8] = b"nix-archive-1";

/// `nix-archive-1 ( type directory` followed by `strings`.
fn directory(strings: &[&[u8]]) -> Vec<u8> {
    let mut all: Vec<&[u8]> = vec![MAGIC, b"(", b"type", b"directory"];
    all.extend_from_slice(strings);
    frame(&all)
}

/// A directory holding one empty regular file called `name`.
fn one_entry(name: &[u8]) -> Vec<u8> {
    directory(&[
        b"entry",
        b"(",
        b"name",
        name,
        b"node",
        b"(",
        b"type",
        b"regular",
        b"contents",
        b"",
        b")",
        b")",
        b")",
    ])
}

/// A directory holding empty files `first` and `second`, in that order.
fn two_entries(first: &[u8], second: &[u8]) -> Vec<u8> {
    let mut strings: Vec<&[u8]> = Vec::new();
    for name in [first, second] {
        strings.extend_from_slice(&[
            b"entry",
            b"(",
            b"name",
            name,
            b"node",
            b"(",
            b"type",
            b"regular",
            b"contents",
            b"",
            b")",
            b")",
        ]);
    }
    strings.push(b")");
    directory(&strings)
}

fn regular(contents: &[u8]) -> Vec<u8> {
    frame(&[
        MAGIC,
        b"(",
        b"type",
        b"regular",
        b"contents",
        contents,
        b")",
    ])
}

/// Replaces the 8 bytes at `at` with `value` (a length field).
fn with_u64(mut bytes: Vec<u8>, at: usize, value: u64) -> Vec<u8> {
    bytes.splice(at..at + 8, value.to_le_bytes());
    bytes
}

fn cases() -> Vec<Case> {
    let mut cases = vec![
        Case {
            file: "empty.nar",
            what: "zero bytes: no magic at all",
            bytes: Vec::new(),
            check: |e| matches!(e, ReadError::Truncated { offset: 0, .. }),
        },
        Case {
            file: "bad-magic.nar",
            what: "magic is `nix-archive-2`",
            bytes: frame(&[
                b"nix-archive-2",
                b"(",
                b"type",
                b"regular",
                b"contents",
                b"",
                b")",
            ]),
            check: |e| matches!(e, ReadError::BadMagic { got: Got::Str(_) }),
        },
        Case {
            file: "absurd-magic-length.nar",
            what: "the first length field is 2^62, so the magic cannot be there",
            bytes: with_u64(regular(b"x"), 0, 1 << 62),
            check: |e| {
                matches!(
                    e,
                    ReadError::BadMagic {
                        got: Got::Length(_)
                    }
                )
            },
        },
        Case {
            file: "truncated-magic.nar",
            what: "ends in the middle of the magic string",
            bytes: regular(b"").get(..12).unwrap_or_default().to_vec(),
            check: |e| {
                matches!(
                    e,
                    ReadError::Truncated {
                        offset: 12,
                        inside: Inside::Token
                    }
                )
            },
        },
        Case {
            file: "nonzero-padding.nar",
            what: "the padding after the file contents `abc` holds 0x01",
            bytes: {
                let mut bytes = regular(b"abc");
                bytes[96 + 5] = 1;
                bytes
            },
            check: |e| {
                matches!(
                    e,
                    ReadError::BadPadding {
                        offset: 101,
                        value: 1
                    }
                )
            },
        },
        Case {
            file: "unknown-type.nar",
            what: "node type `fifo`",
            bytes: frame(&[MAGIC, b"(", b"type", b"fifo", b")"]),
            check: |e| matches!(e, ReadError::UnexpectedToken { offset: 56, .. }),
        },
        Case {
            file: "unknown-field.nar",
            what: "a regular file with `contentz` instead of `contents`",
            bytes: frame(&[MAGIC, b"(", b"type", b"regular", b"contentz", b"", b")"]),
            check: |e| matches!(e, ReadError::UnexpectedToken { offset: 72, .. }),
        },
        Case {
            file: "executable-not-empty.nar",
            what: "`executable` followed by `yes` instead of the empty string",
            bytes: frame(&[
                MAGIC,
                b"(",
                b"type",
                b"regular",
                b"executable",
                b"yes",
                b"contents",
                b"",
                b")",
            ]),
            check: |e| matches!(e, ReadError::UnexpectedToken { offset: 96, .. }),
        },
        Case {
            file: "unsorted-entries.nar",
            what: "entry `b` before entry `a`",
            bytes: two_entries(b"b", b"a"),
            check: |e| matches!(e, ReadError::Unsorted { .. }),
        },
        Case {
            file: "duplicate-entries.nar",
            what: "two entries named `a`",
            bytes: two_entries(b"a", b"a"),
            check: |e| matches!(e, ReadError::Duplicate { .. }),
        },
        Case {
            file: "empty-name.nar",
            what: "an entry with an empty name",
            bytes: one_entry(b""),
            check: |e| {
                matches!(
                    e,
                    ReadError::InvalidName {
                        reason: NameProblem::Empty,
                        ..
                    }
                )
            },
        },
        Case {
            file: "dot-name.nar",
            what: "an entry named `.`",
            bytes: one_entry(b"."),
            check: |e| {
                matches!(
                    e,
                    ReadError::InvalidName {
                        reason: NameProblem::Dots,
                        ..
                    }
                )
            },
        },
        Case {
            file: "dotdot-name.nar",
            what: "an entry named `..` (would escape the destination)",
            bytes: one_entry(b".."),
            check: |e| {
                matches!(
                    e,
                    ReadError::InvalidName {
                        reason: NameProblem::Dots,
                        ..
                    }
                )
            },
        },
        Case {
            file: "slash-name.nar",
            what: "an entry named `../escape` (contains `/`)",
            bytes: one_entry(b"../escape"),
            check: |e| {
                matches!(
                    e,
                    ReadError::InvalidName {
                        reason: NameProblem::Slash,
                        ..
                    }
                )
            },
        },
        Case {
            file: "nul-name.nar",
            what: "an entry named `a<NUL>b`",
            bytes: one_entry(b"a\0b"),
            check: |e| {
                matches!(
                    e,
                    ReadError::InvalidName {
                        reason: NameProblem::Nul,
                        ..
                    }
                )
            },
        },
        Case {
            file: "long-name.nar",
            what: "an entry name of 256 bytes (more than `NAME_MAX`)",
            bytes: one_entry(&[b'n'; 256]),
            check: |e| {
                matches!(
                    e,
                    ReadError::TooLong {
                        inside: Inside::Name,
                        len: 256,
                        ..
                    }
                )
            },
        },
        Case {
            file: "absurd-name-length.nar",
            what: "an entry name whose length field is 2^60",
            bytes: with_u64(one_entry(b"a"), 128, 1 << 60),
            check: |e| {
                matches!(
                    e,
                    ReadError::TooLong {
                        offset: 128,
                        inside: Inside::Name,
                        ..
                    }
                )
            },
        },
        Case {
            file: "absurd-file-size.nar",
            what: "a file whose size field is 2^64 - 1",
            bytes: with_u64(regular(b"abc"), 88, u64::MAX),
            check: |e| {
                matches!(
                    e,
                    ReadError::TooLong {
                        offset: 88,
                        inside: Inside::Contents,
                        ..
                    }
                )
            },
        },
        Case {
            file: "truncated-contents.nar",
            what: "a file of 100 bytes of which only 10 are present",
            bytes: {
                let mut bytes = with_u64(regular(b"0123456789"), 88, 100);
                bytes.truncate(96 + 10);
                bytes
            },
            check: |e| {
                matches!(
                    e,
                    ReadError::Truncated {
                        offset: 106,
                        inside: Inside::Contents
                    }
                )
            },
        },
        Case {
            file: "missing-close.nar",
            what: "a directory whose final `)` is missing",
            bytes: {
                let mut bytes = one_entry(b"a");
                bytes.truncate(bytes.len() - 16);
                bytes
            },
            check: |e| {
                matches!(
                    e,
                    ReadError::Truncated {
                        inside: Inside::Length,
                        ..
                    }
                )
            },
        },
        Case {
            file: "trailing-data.nar",
            what: "a valid NAR followed by 8 more bytes",
            bytes: {
                let mut bytes = regular(b"abc");
                bytes.extend_from_slice(b"garbage!");
                bytes
            },
            check: |e| matches!(e, ReadError::TrailingData { offset: 120 }),
        },
        Case {
            file: "empty-symlink-target.nar",
            what: "a symlink with an empty target",
            bytes: frame(&[MAGIC, b"(", b"type", b"symlink", b"target", b"", b")"]),
            check: |e| {
                matches!(
                    e,
                    ReadError::InvalidTarget {
                        reason: TargetProblem::Empty,
                        ..
                    }
                )
            },
        },
        Case {
            file: "entry-without-paren.nar",
            what: "`entry` followed directly by `name`, without `(`",
            bytes: directory(&[b"entry", b"name", b"a", b"node"]),
            check: |e| matches!(e, ReadError::UnexpectedToken { offset: 96, .. }),
        },
        Case {
            file: "absurd-token-length.nar",
            what: "where `type` should be, a length field of 2^40",
            bytes: with_u64(regular(b""), 40, 1 << 40),
            check: |e| {
                matches!(
                    e,
                    ReadError::UnexpectedToken {
                        offset: 40,
                        got: Got::Length(_),
                        ..
                    }
                )
            },
        },
    ];
    cases.sort_by_key(|case| case.file);
    cases
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nar/bad")
}

#[test]
fn each_case_is_rejected_as_described() {
    for case in cases() {
        match validate(case.bytes.as_slice()) {
            Err(e) => assert!((case.check)(&e), "{}: unexpected error {e:?}", case.file),
            Ok(_) => panic!("{}: accepted", case.file),
        }
    }
}

#[test]
fn corpus_files_are_up_to_date() {
    let dir = corpus_dir();
    let cases = cases();
    if std::env::var_os("KILN_REGEN_FIXTURES").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        let mut readme = String::from(
            "# Malformed NARs\n\n\
             Each file here must be rejected by `kiln nar unpack` with a clear error.\n\
             Generated by `store/src/nar/tests/bad.rs`; regenerate with\n\
             `KILN_REGEN_FIXTURES=1 cargo test -p kiln-store nar::tests::bad`.\n\n",
        );
        for case in &cases {
            std::fs::write(dir.join(case.file), &case.bytes).unwrap();
            readme.push_str(&format!("- `{}`: {}\n", case.file, case.what));
        }
        std::fs::write(dir.join("README.md"), readme).unwrap();
    }
    let mut on_disk: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".nar"))
        .collect();
    on_disk.sort();
    let names: Vec<_> = cases.iter().map(|case| case.file).collect();
    assert_eq!(on_disk, names, "stale corpus: set KILN_REGEN_FIXTURES=1");
    for case in &cases {
        let bytes = std::fs::read(dir.join(case.file)).unwrap();
        assert_eq!(
            bytes, case.bytes,
            "{} is stale: set KILN_REGEN_FIXTURES=1",
            case.file
        );
    }
}
