//! `kiln nar dump|unpack|ls` against the real `nix-store --dump` and
//! `nix nar ls`, on trees generated here, and `kiln nar unpack` on the
//! corpus of malformed NARs in `store/tests/fixtures/nar/bad/`.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::util::{self, kiln, nix, run, run_ok};

fn write(path: &Path, contents: impl AsRef<[u8]>, mode: u32) {
    std::fs::write(path, contents).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mkdir(path: &Path) {
    std::fs::create_dir_all(path).unwrap();
}

fn name(bytes: &[u8]) -> &OsStr {
    OsStr::from_bytes(bytes)
}

/// Creates a tree at a path that does not exist yet.
type MakeTree = fn(&Path);

/// The generated trees, each with a name.
fn trees() -> Vec<(&'static str, MakeTree)> {
    vec![
        ("file", |p| write(p, "hello\n", 0o644)),
        ("executable-file", |p| write(p, "#!/bin/sh\n", 0o755)),
        ("owner-x-only", |p| write(p, "x", 0o700)),
        ("group-x-only", |p| write(p, "x", 0o610)),
        ("other-x-only-read-only", |p| write(p, "x", 0o401)),
        ("empty-file", |p| write(p, "", 0o644)),
        ("binary-file", |p| {
            write(p, (0..=255u8).cycle().take(5000).collect::<Vec<_>>(), 0o644)
        }),
        ("symlink-relative", |p| symlink("some/where", p).unwrap()),
        ("symlink-absolute-dangling", |p| {
            symlink("/nix/store/does-not-exist", p).unwrap()
        }),
        ("empty-directory", mkdir),
        ("nested-empty-directories", |p| mkdir(&p.join("a/b/c/d"))),
        ("mixed", mixed),
        ("deep-100", |p| {
            let mut deep = p.to_path_buf();
            for i in 0..100 {
                deep.push(format!("d{i}"));
            }
            mkdir(&deep);
            write(&deep.join("bottom"), "deep", 0o644);
        }),
        ("odd-names", odd_names),
        ("byte-order-vs-locale-order", byte_order),
        ("many-files", |p| {
            mkdir(p);
            for i in 0..2000 {
                write(&p.join(format!("f{i}")), i.to_string(), 0o644);
            }
        }),
        ("non-utf8-names", |p| {
            mkdir(p);
            for bytes in [&b"\xff"[..], b"\xc3\x28", b"caf\xe9", b"\x80x"] {
                write(&p.join(name(bytes)), bytes, 0o644);
            }
            symlink(name(b"\xfe\xfd"), p.join("bad-target")).unwrap();
        }),
        ("padding-boundaries", |p| {
            mkdir(p);
            for len in 0..=17 {
                write(&p.join(format!("len-{len:02}")), vec![b'p'; len], 0o644);
            }
        }),
        ("long-names-and-targets", |p| {
            mkdir(p);
            write(&p.join("n".repeat(255)), "long", 0o644);
            symlink("t".repeat(1000), p.join("long-target")).unwrap();
        }),
        ("symlink-cycles-and-dirs", |p| {
            mkdir(&p.join("dir"));
            symlink("b", p.join("a")).unwrap();
            symlink("a", p.join("b")).unwrap();
            symlink("dir", p.join("to-dir")).unwrap();
            symlink(".", p.join("self")).unwrap();
        }),
        ("read-only-directories", |p| {
            mkdir(&p.join("ro/inner"));
            write(&p.join("ro/inner/f"), "ro", 0o444);
            for dir in ["ro/inner", "ro"] {
                std::fs::set_permissions(p.join(dir), std::fs::Permissions::from_mode(0o555))
                    .unwrap();
            }
        }),
        ("hard-links-and-setuid", |p| {
            mkdir(p);
            write(&p.join("one"), "shared", 0o4755);
            std::fs::hard_link(p.join("one"), p.join("two")).unwrap();
        }),
    ]
}

fn mixed(p: &Path) {
    mkdir(&p.join("bin"));
    mkdir(&p.join("share/doc"));
    mkdir(&p.join("empty"));
    write(&p.join("bin/tool"), "ELF...", 0o755);
    symlink("tool", p.join("bin/alias")).unwrap();
    symlink("/etc/passwd", p.join("bin/absolute")).unwrap();
    symlink("../missing", p.join("share/dangling")).unwrap();
    write(&p.join("share/doc/README"), "read me\n", 0o644);
}

fn odd_names(p: &Path) {
    mkdir(p);
    let names = [
        "with space",
        "new\nline",
        "tab\there",
        "quote\"d",
        "single'q",
        "-dash",
        "--double",
        "back\\slash",
        "é",
        "日本語",
        "emoji-🦀",
        "$dollar",
        "*star",
        "?",
        "#hash",
        "\u{1}ctrl",
        " leading",
        "trailing ",
    ];
    for n in names {
        write(&p.join(n), n, 0o644);
    }
    mkdir(&p.join("dir with space/sub dir"));
    write(&p.join("dir with space/sub dir/ö"), "umlaut", 0o755);
}

fn byte_order(p: &Path) {
    mkdir(p);
    let names = [
        "B", "a", "_x", "Z", "10", "9", ".hidden", "-dash", "é", "e", "E", "ß", "ss", "a-b", "a.b",
        "a_b", "aB", "Ab", "~tilde",
    ];
    for n in names {
        write(&p.join(n), n, 0o644);
    }
    // A directory `a` next to `a-b` and `a.b`: `/` sorts after `-` and `.`,
    // so a listing by full path would order these differently.
    mkdir(&p.join("a0"));
    std::fs::remove_file(p.join("a")).unwrap();
    mkdir(&p.join("a"));
    write(&p.join("a/z"), "z", 0o644);
    for i in 0..300 {
        write(
            &p.join(format!("{}{i}", if i % 2 == 0 { "x" } else { "X" })),
            "",
            0o644,
        );
    }
}

/// `nix nar ls`, which needs the `nix-command` experimental feature.
fn nix_nar_ls() -> Command {
    let mut cmd = nix("nix");
    cmd.env(
        "NIX_CONFIG",
        "build-users-group =\nsubstituters =\nexperimental-features = nix-command\n",
    )
    .args(["nar", "ls"]);
    cmd
}

/// Checks one tree: dump, hash, unpack and list, each against the real Nix.
fn check_tree(label: &str, path: &Path, scratch: &Path, with_ls: bool) {
    let ours = run_ok(kiln().args(["nar", "dump"]).arg(path));
    let theirs = run_ok(nix("nix-store").arg("--dump").arg(path));
    assert!(
        ours == theirs,
        "{label}: `kiln nar dump` differs from `nix-store --dump`"
    );
    // `kiln hash path` has a pipeline of its own (a hashing thread that the
    // reading runs ahead of), so it is checked apart from `nar dump`.
    let ours = run_ok(kiln().args(["hash", "path", "--base32"]).arg(path));
    let theirs_hash = run_ok(
        nix("nix-hash")
            .args(["--type", "sha256", "--base32"])
            .arg(path),
    );
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&theirs_hash),
        "{label}: `kiln hash path` differs from `nix-hash`"
    );

    let nar = scratch.join(format!("{label}.nar"));
    std::fs::write(&nar, &theirs).unwrap();
    let unpacked = scratch.join(format!("{label}.unpacked"));
    run_ok(kiln().args(["nar", "unpack"]).arg(&nar).arg(&unpacked));
    let again = run_ok(nix("nix-store").arg("--dump").arg(&unpacked));
    assert!(
        again == theirs,
        "{label}: unpack then `nix-store --dump` differs"
    );

    if with_ls {
        for flags in [
            &["-R"][..],
            &["-R", "-l"],
            &["-l"],
            &["-d"],
            &["--json", "-R"],
            &["--json"],
        ] {
            let ours = run_ok(kiln().args(["nar", "ls"]).args(flags).arg(&nar).arg("/"));
            let theirs = run_ok(nix_nar_ls().args(flags).arg(&nar).arg("/"));
            // Nix prints JSON without a final newline; kiln ends every line.
            assert_eq!(
                String::from_utf8_lossy(ours.strip_suffix(b"\n").unwrap_or(&ours)),
                String::from_utf8_lossy(theirs.strip_suffix(b"\n").unwrap_or(&theirs)),
                "{label}: `nar ls {flags:?}` differs"
            );
        }
    }
}

#[test]
fn dump_unpack_and_ls_match_nix_on_generated_trees() {
    if !util::have_nix() {
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let trees = trees();
    assert!(trees.len() >= 20);
    for (label, make) in trees {
        let path = temp.path().join(label);
        make(&path);
        check_tree(label, &path, temp.path(), true);
    }
}

#[test]
fn a_tree_deeper_than_the_descriptor_limit_matches_nix() {
    if !util::have_nix() {
        return;
    }
    // kiln opens entries relative to their directory's descriptor, but
    // keeps descriptors only for the levels near the root: 600 levels
    // under a limit of 256 open descriptors must still dump.
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("deep");
    let mut deep = root.clone();
    for _ in 0..600 {
        deep.push("d");
    }
    mkdir(&deep);
    write(&deep.join("bottom"), "deep", 0o755);
    symlink("../d", deep.join("up")).unwrap();
    let limited = |args: &[&str]| {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(r#"ulimit -n 256 && exec "$@""#)
            .arg("sh")
            .arg(env!("CARGO_BIN_EXE_kiln"))
            .args(args)
            .arg(&root);
        run_ok(&mut cmd)
    };
    let theirs = run_ok(nix("nix-store").arg("--dump").arg(&root));
    assert!(
        limited(&["nar", "dump"]) == theirs,
        "`kiln nar dump` differs"
    );
    let hash = run_ok(
        nix("nix-hash")
            .args(["--type", "sha256", "--base32"])
            .arg(&root),
    );
    assert_eq!(limited(&["hash", "path", "--base32"]), hash);
}

#[test]
fn dump_and_unpack_match_nix_on_a_large_sparse_file() {
    if !util::have_nix() {
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("large");
    mkdir(&dir);
    let file = std::fs::File::create(dir.join("big.bin")).unwrap();
    // 150 MB, mostly holes, with data at a few places and an odd length so
    // the padding shows.
    file.set_len(150 * 1024 * 1024 + 3).unwrap();
    use std::os::unix::fs::FileExt;
    for offset in [0, 4095, 64 * 1024 * 1024 + 7, 150 * 1024 * 1024] {
        file.write_all_at(b"data", offset).unwrap();
    }
    drop(file);
    write(&dir.join("small"), "small", 0o755);
    check_tree("large", &dir, temp.path(), false);
    // `kiln hash file` reads in chunks of its own: many of them here.
    let big = dir.join("big.bin");
    let ours = run_ok(kiln().args(["hash", "file", "--base32"]).arg(&big));
    let theirs = run_ok(
        nix("nix-hash")
            .args(["--flat", "--type", "sha256", "--base32"])
            .arg(&big),
    );
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&theirs)
    );
}

/// For each malformed NAR in the corpus: a substring of the error message.
const BAD: &[(&str, &str)] = &[
    (
        "absurd-file-size.nar",
        "absurd length 18446744073709551615 for a file's contents at byte 88",
    ),
    (
        "absurd-magic-length.nar",
        "not a NAR: expected `nix-archive-1` at byte 0, got a string of",
    ),
    (
        "absurd-name-length.nar",
        "absurd length 1152921504606846976 for an entry name at byte 128",
    ),
    (
        "absurd-token-length.nar",
        "expected `type` at byte 40, got a string of 1099511627776 bytes",
    ),
    (
        "bad-magic.nar",
        "expected `nix-archive-1` at byte 0, got `nix-archive-2`",
    ),
    (
        "dot-name.nar",
        "NAR entry name `.` at byte 128 is not allowed",
    ),
    (
        "dotdot-name.nar",
        "NAR entry name `..` at byte 128 is not allowed",
    ),
    (
        "duplicate-entries.nar",
        "duplicate NAR entry `a` at byte 312",
    ),
    (
        "empty-name.nar",
        "NAR entry name `` at byte 128 is not allowed: it is empty",
    ),
    (
        "empty-symlink-target.nar",
        "symlink target `` at byte 88 is not allowed: it is empty",
    ),
    ("empty.nar", "NAR is truncated: it ends at byte 0"),
    (
        "entry-without-paren.nar",
        "expected `(` at byte 96, got `name`",
    ),
    (
        "executable-not-empty.nar",
        "expected an empty string at byte 96, got `yes`",
    ),
    (
        "long-name.nar",
        "absurd length 256 for an entry name at byte 128 (at most 255)",
    ),
    ("missing-close.nar", "NAR is truncated: it ends at byte 264"),
    (
        "nonzero-padding.nar",
        "non-zero padding byte 0x01 at byte 101",
    ),
    (
        "nul-name.nar",
        "at byte 128 is not allowed: it contains a NUL byte",
    ),
    (
        "slash-name.nar",
        "NAR entry name `../escape` at byte 128 is not allowed: it contains `/`",
    ),
    ("trailing-data.nar", "trailing data at byte 120"),
    (
        "truncated-contents.nar",
        "ends at byte 106, in the middle of a file's contents",
    ),
    (
        "truncated-magic.nar",
        "ends at byte 12, in the middle of a token",
    ),
    (
        "unknown-field.nar",
        "expected `executable` or `contents` at byte 72, got `contentz`",
    ),
    (
        "unknown-type.nar",
        "expected `regular` or `directory` or `symlink` at byte 56, got `fifo`",
    ),
    (
        "unsorted-entries.nar",
        "NAR entry `a` at byte 312 is out of order: it must sort after `b`",
    ),
];

fn bad_corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("store/tests/fixtures/nar/bad")
}

#[test]
fn unpack_rejects_every_malformed_nar() {
    let mut files: Vec<String> = std::fs::read_dir(bad_corpus())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".nar"))
        .collect();
    files.sort();
    let listed: Vec<&str> = BAD.iter().map(|(file, _)| *file).collect();
    assert_eq!(
        files, listed,
        "every corpus file needs an expected message here"
    );
    assert!(files.len() >= 15);
    for (file, message) in BAD {
        let scratch = tempfile::tempdir().unwrap();
        let dest = scratch.path().join("dest");
        let nar = bad_corpus().join(file);
        let out = run(kiln().args(["nar", "unpack"]).arg(&nar).arg(&dest));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{file}: {stderr}");
        assert!(
            stderr.starts_with("error: cannot unpack `"),
            "{file}: {stderr}"
        );
        assert!(
            stderr.contains(message),
            "{file}: want {message:?} in:\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{file}: {stderr}");
        assert!(!dest.exists(), "{file}: the destination was created");
        let left = std::fs::read_dir(scratch.path()).unwrap().count();
        assert_eq!(left, 0, "{file}: a temporary was left behind");
        // Listing must fail the same way.
        let out = run(kiln().args(["nar", "ls"]).arg(&nar));
        assert_eq!(out.status.code(), Some(1), "{file}: ls");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(message),
            "{file}: ls"
        );
    }
}

#[test]
fn unpack_reads_stdin_and_refuses_existing_destinations() {
    let temp = tempfile::tempdir().unwrap();
    let source = temp.path().join("source");
    mixed(&source);
    let nar = run_ok(kiln().args(["nar", "dump"]).arg(&source));
    let dest = temp.path().join("dest");
    let mut child = kiln()
        .args(["nar", "unpack", "-"])
        .arg(&dest)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &nar).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(run_ok(kiln().args(["nar", "dump"]).arg(&dest)), nar);
    let mode = std::fs::metadata(dest.join("bin/tool"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    let mode = std::fs::metadata(dest.join("share/doc/README"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);

    let nar_file = temp.path().join("x.nar");
    std::fs::write(&nar_file, &nar).unwrap();
    let out = run(kiln().args(["nar", "unpack"]).arg(&nar_file).arg(&dest));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
}

#[test]
fn ls_names_missing_paths_and_dump_refuses_sockets() {
    let temp = tempfile::tempdir().unwrap();
    let source = temp.path().join("source");
    mixed(&source);
    let nar = temp.path().join("x.nar");
    std::fs::write(&nar, run_ok(kiln().args(["nar", "dump"]).arg(&source))).unwrap();
    let out = run(kiln().args(["nar", "ls"]).arg(&nar).arg("/bin/nope"));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("path `/bin/nope` does not exist in `"),
        "{stderr}"
    );
    let listing = run_ok(kiln().args(["nar", "ls", "-l"]).arg(&nar).arg("/bin"));
    assert_eq!(
        String::from_utf8(listing).unwrap(),
        "lrwxrwxrwx                    0 ./absolute -> /etc/passwd\n\
         lrwxrwxrwx                    0 ./alias -> tool\n\
         -r-xr-xr-x                    6 ./tool\n"
    );

    let socket = source.join("share/sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let out = run(kiln()
        .args(["nar", "dump"])
        .arg(&source)
        .stdout(Stdio::null()));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("share/sock` is a socket, which a NAR cannot hold"),
        "{stderr}"
    );
}
