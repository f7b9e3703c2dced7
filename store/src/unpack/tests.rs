//! Unpacking real-shaped archives, and refusing hostile ones without
//! leaving anything behind.

use std::io::{Cursor, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use super::*;

/// One entry of a test tar archive.
enum T<'a> {
    Dir(&'a str),
    File(&'a str, &'a [u8], u32),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
    Fifo(&'a str),
}

/// Writes a tar archive byte by byte, so that names the `tar` crate's
/// builder would refuse (`../x`, `/etc/x`) can be made.
fn tar(entries: &[T<'_>]) -> Vec<u8> {
    let mut builder = ::tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = ::tar::Header::new_gnu();
        let (name, kind, data, link, mode): (&str, _, &[u8], &str, u32) = match *entry {
            T::Dir(name) => (name, ::tar::EntryType::Directory, b"", "", 0o755),
            T::File(name, data, mode) => (name, ::tar::EntryType::Regular, data, "", mode),
            T::Symlink(name, target) => (name, ::tar::EntryType::Symlink, b"", target, 0o777),
            T::HardLink(name, target) => (name, ::tar::EntryType::Link, b"", target, 0o644),
            T::Fifo(name) => (name, ::tar::EntryType::Fifo, b"", "", 0o644),
        };
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(data.len() as u64);
        header.set_cksum();
        builder.append(&header, data).unwrap();
    }
    builder.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn xz(data: &[u8]) -> Vec<u8> {
    let mut encoder = liblzma::write::XzEncoder::new(Vec::new(), 1);
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// A scratch directory holding one archive; the output goes to `out`
/// beside it, so a test can check that nothing else appeared.
struct Scratch {
    dir: TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    fn unpack(
        &self,
        name: &str,
        bytes: &[u8],
        options: &UnpackOptions,
    ) -> Result<Unpacked, UnpackError> {
        let archive = self.dir.path().join(name);
        fs_err::write(&archive, bytes).unwrap();
        unpack(&archive, name, &self.out(), options)
    }

    /// Asserts that the directory holds only the archive: no output, and
    /// nothing written through a link.
    fn assert_only(&self, name: &str) {
        let mut left: Vec<_> = fs_err::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [name]);
    }
}

fn mode(path: &Path) -> u32 {
    fs_err::symlink_metadata(path).unwrap().permissions().mode() & 0o777
}

fn refused(result: Result<Unpacked, UnpackError>) -> Problem {
    match result {
        Err(UnpackError::Unsafe { problem, .. }) => problem,
        other => panic!("expected an unsafe entry, got {other:?}"),
    }
}

#[test]
fn tar_gz_unpacks_files_dirs_links() {
    let scratch = Scratch::new();
    let archive = gzip(&tar(&[
        T::Dir("./"),
        T::Dir("./bin/"),
        T::File("./bin/tool", b"#!/bin/sh\n", 0o775),
        T::File("./share/doc/README", b"hello", 0o600),
        T::Symlink("./bin/alias", "tool"),
        T::HardLink("./bin/tool2", "./bin/tool"),
    ]));
    let unpacked = scratch
        .unpack("x.tar.gz", &archive, &UnpackOptions::default())
        .unwrap();
    assert_eq!(unpacked.format, Format::TarGz);
    let out = scratch.out();
    assert_eq!(fs_err::read(out.join("bin/tool")).unwrap(), b"#!/bin/sh\n");
    assert_eq!(mode(&out.join("bin/tool")), 0o755);
    assert_eq!(mode(&out.join("share/doc/README")), 0o644);
    assert_eq!(mode(&out.join("share")), 0o755);
    assert_eq!(
        fs_err::read_link(out.join("bin/alias")).unwrap(),
        Path::new("tool")
    );
    assert_eq!(fs_err::read(out.join("bin/tool2")).unwrap(), b"#!/bin/sh\n");
}

#[test]
fn dotdot_is_refused_and_nothing_is_left() {
    let scratch = Scratch::new();
    let archive = tar(&[T::File("ok", b"1", 0o644), T::File("../x", b"evil", 0o644)]);
    let error = scratch
        .unpack("a.tar", &archive, &UnpackOptions::default())
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("`../x`") && message.contains("a.tar") && message.contains("`..`"),
        "{message}"
    );
    scratch.assert_only("a.tar");
}

#[test]
fn absolute_names_are_refused() {
    let scratch = Scratch::new();
    let target = scratch.dir.path().join("abs");
    let name = format!("{}", target.display());
    let archive = tar(&[T::File(&name, b"evil", 0o644)]);
    assert_eq!(
        refused(scratch.unpack("a.tar", &archive, &UnpackOptions::default())),
        Problem::Absolute
    );
    scratch.assert_only("a.tar");
}

#[test]
fn escaping_symlinks_are_refused() {
    let scratch = Scratch::new();
    let archive = tar(&[
        T::Symlink("evil", "../outside"),
        T::File("evil/x", b"evil", 0o644),
    ]);
    let problem = refused(scratch.unpack("a.tar", &archive, &UnpackOptions::default()));
    assert!(
        matches!(problem, Problem::SymlinkEscapes { .. }),
        "{problem:?}"
    );
    scratch.assert_only("a.tar");
}

#[test]
fn writing_through_an_absolute_symlink_is_refused() {
    // With absolute links allowed (a .deb root), a link to a real
    // directory outside is kept, but never written through.
    let scratch = Scratch::new();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().to_str().unwrap().to_owned();
    let archive = tar(&[
        T::Symlink("etc", &target),
        T::File("etc/passwd", b"evil", 0o644),
    ]);
    let options = UnpackOptions {
        allow_absolute_symlinks: true,
        ..Default::default()
    };
    let problem = refused(scratch.unpack("a.tar", &archive, &options));
    assert_eq!(problem, Problem::ThroughSymlink { link: "etc".into() });
    scratch.assert_only("a.tar");
    assert_eq!(fs_err::read_dir(outside.path()).unwrap().count(), 0);
}

#[test]
fn writing_through_an_inside_symlink_is_refused() {
    let scratch = Scratch::new();
    let archive = tar(&[
        T::Dir("real/"),
        T::Symlink("link", "real"),
        T::File("link/x", b"x", 0o644),
    ]);
    let problem = refused(scratch.unpack("a.tar", &archive, &UnpackOptions::default()));
    assert_eq!(
        problem,
        Problem::ThroughSymlink {
            link: "link".into()
        }
    );
}

#[test]
fn symlink_chains_that_escape_are_found_at_the_end() {
    // `l` looks inside while `p/q/up` does not exist yet; `p/q/up` makes it escape.
    let scratch = Scratch::new();
    let archive = tar(&[
        T::Symlink("l", "p/q/up/.."),
        T::Dir("p/q/"),
        T::Symlink("p/q/up", "../.."),
    ]);
    let problem = refused(scratch.unpack("a.tar", &archive, &UnpackOptions::default()));
    assert!(
        matches!(problem, Problem::SymlinkEscapes { .. }),
        "{problem:?}"
    );
    scratch.assert_only("a.tar");
}

#[test]
fn absolute_symlinks_need_the_option() {
    let archive = tar(&[T::Symlink("cc", "/etc/alternatives/cc")]);
    let scratch = Scratch::new();
    let problem = refused(scratch.unpack("a.tar", &archive, &UnpackOptions::default()));
    assert!(
        matches!(problem, Problem::AbsoluteSymlink { .. }),
        "{problem:?}"
    );
    let scratch = Scratch::new();
    let options = UnpackOptions {
        allow_absolute_symlinks: true,
        ..Default::default()
    };
    scratch.unpack("a.tar", &archive, &options).unwrap();
    assert_eq!(
        fs_err::read_link(scratch.out().join("cc")).unwrap(),
        Path::new("/etc/alternatives/cc")
    );
}

#[test]
fn hard_links_must_point_to_earlier_files() {
    let scratch = Scratch::new();
    let archive = tar(&[T::HardLink("h", "/etc/passwd")]);
    assert!(matches!(
        refused(scratch.unpack("a.tar", &archive, &UnpackOptions::default())),
        Problem::HardLinkOutside { .. }
    ));
    let scratch = Scratch::new();
    let archive = tar(&[T::HardLink("h", "later"), T::File("later", b"x", 0o644)]);
    assert!(matches!(
        refused(scratch.unpack("a.tar", &archive, &UnpackOptions::default())),
        Problem::HardLinkOutside { .. }
    ));
}

#[test]
fn fifos_are_skipped_and_reported() {
    let scratch = Scratch::new();
    let archive = tar(&[T::Fifo("pipe"), T::File("f", b"x", 0o644)]);
    let unpacked = scratch
        .unpack("a.tar", &archive, &UnpackOptions::default())
        .unwrap();
    assert_eq!(
        unpacked.skipped,
        [Skipped {
            entry: "pipe".into(),
            kind: '6'
        }]
    );
    assert!(!scratch.out().join("pipe").exists());
}

#[test]
fn repeated_names_replace_earlier_files() {
    let scratch = Scratch::new();
    let archive = tar(&[
        T::File("f", b"old", 0o644),
        T::Symlink("f", "g"),
        T::File("f", b"new", 0o644),
    ]);
    scratch
        .unpack("a.tar", &archive, &UnpackOptions::default())
        .unwrap();
    assert_eq!(fs_err::read(scratch.out().join("f")).unwrap(), b"new");
    let scratch = Scratch::new();
    let archive = tar(&[T::Dir("d/"), T::File("d", b"x", 0o644)]);
    assert_eq!(
        refused(scratch.unpack("a.tar", &archive, &UnpackOptions::default())),
        Problem::Conflict
    );
}

#[test]
fn crates_strip_their_top_directory() {
    let scratch = Scratch::new();
    let archive = gzip(&tar(&[
        T::File("demo-1.0.0/Cargo.toml", b"[package]\n", 0o644),
        T::File("demo-1.0.0/src/lib.rs", b"", 0o644),
    ]));
    let unpacked = scratch
        .unpack("demo-1.0.0.crate", &archive, &UnpackOptions::default())
        .unwrap();
    assert_eq!(unpacked.format, Format::Crate);
    assert!(scratch.out().join("Cargo.toml").is_file());
    assert!(scratch.out().join("src/lib.rs").is_file());

    let scratch = Scratch::new();
    let archive = gzip(&tar(&[
        T::File("demo-1.0.0/a", b"", 0o644),
        T::File("other/b", b"", 0o644),
    ]));
    let error = scratch
        .unpack("demo-1.0.0.crate", &archive, &UnpackOptions::default())
        .unwrap_err();
    assert!(
        matches!(error, UnpackError::CrateLayout { .. }),
        "{error:?}"
    );
    scratch.assert_only("demo-1.0.0.crate");
}

#[test]
fn strip_components_applies_to_any_tar() {
    let scratch = Scratch::new();
    let archive = tar(&[T::File("a/b/c", b"x", 0o644), T::File("top", b"y", 0o644)]);
    let options = UnpackOptions {
        strip_components: Some(2),
        ..Default::default()
    };
    scratch.unpack("a.tar", &archive, &options).unwrap();
    assert!(scratch.out().join("c").is_file());
    assert!(!scratch.out().join("top").exists());
}

#[test]
fn formats_are_detected_by_magic() {
    let inner = tar(&[T::File("f", b"x", 0o644)]);
    let zstd = zstd::encode_all(&inner[..], 1).unwrap();
    let mut bzip = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    bzip.write_all(&inner).unwrap();
    let bzip = bzip.finish().unwrap();
    let cases = [
        (inner.clone(), Format::Tar),
        (gzip(&inner), Format::TarGz),
        (xz(&inner), Format::TarXz),
        (zstd, Format::TarZst),
        (bzip, Format::TarBz2),
    ];
    for (bytes, format) in cases {
        let scratch = Scratch::new();
        let unpacked = scratch
            .unpack("source", &bytes, &UnpackOptions::default())
            .unwrap();
        assert_eq!(unpacked.format, format);
        assert_eq!(fs_err::read(scratch.out().join("f")).unwrap(), b"x");
    }
    let scratch = Scratch::new();
    let error = scratch
        .unpack("source", b"plain text", &UnpackOptions::default())
        .unwrap_err();
    assert!(
        matches!(error, UnpackError::UnknownFormat { .. }),
        "{error:?}"
    );
}

#[test]
fn format_names_parse() {
    assert_eq!("tar.zst".parse::<Format>().unwrap(), Format::TarZst);
    assert_eq!("whl".parse::<Format>().unwrap(), Format::Wheel);
    let error = "rar".parse::<Format>().unwrap_err().to_string();
    assert!(
        error.contains("`rar`") && error.contains("`tar.gz`"),
        "{error}"
    );
}

fn zip(build: impl FnOnce(&mut ::zip::ZipWriter<Cursor<Vec<u8>>>)) -> Vec<u8> {
    let mut writer = ::zip::ZipWriter::new(Cursor::new(Vec::new()));
    build(&mut writer);
    writer.finish().unwrap().into_inner()
}

#[test]
fn wheels_keep_executable_bits() {
    use ::zip::write::SimpleFileOptions;
    let archive = zip(|w| {
        let exec = SimpleFileOptions::default().unix_permissions(0o755);
        let plain = SimpleFileOptions::default().unix_permissions(0o644);
        w.add_directory("ziglang/", plain).unwrap();
        w.start_file("ziglang/zig", exec).unwrap();
        w.write_all(b"\x7fELF").unwrap();
        w.start_file("ziglang/lib/std.zig", plain).unwrap();
        w.write_all(b"pub const x = 1;").unwrap();
        w.add_symlink("ziglang/link", "zig", plain).unwrap();
    });
    let scratch = Scratch::new();
    let unpacked = scratch
        .unpack(
            "ziglang-0.15.1-py3-none-any.whl",
            &archive,
            &UnpackOptions::default(),
        )
        .unwrap();
    assert_eq!(unpacked.format, Format::Wheel);
    let out = scratch.out();
    assert_eq!(mode(&out.join("ziglang/zig")), 0o755);
    assert_eq!(mode(&out.join("ziglang/lib/std.zig")), 0o644);
    assert_eq!(
        fs_err::read(out.join("ziglang/lib/std.zig")).unwrap(),
        b"pub const x = 1;"
    );
    assert_eq!(
        fs_err::read_link(out.join("ziglang/link")).unwrap(),
        Path::new("zig")
    );
}

#[test]
fn zip_dotdot_is_refused() {
    use ::zip::write::SimpleFileOptions;
    let archive = zip(|w| {
        w.start_file("../evil", SimpleFileOptions::default())
            .unwrap();
        w.write_all(b"evil").unwrap();
    });
    let scratch = Scratch::new();
    assert_eq!(
        refused(scratch.unpack("a.zip", &archive, &UnpackOptions::default())),
        Problem::DotDot
    );
    scratch.assert_only("a.zip");
}

/// Builds a `.deb` the way `dpkg-deb --build` lays it out.
fn deb(data_name: &str, data: &[u8]) -> Vec<u8> {
    let control = gzip(&tar(&[T::File("./control", b"Package: demo\n", 0o644)]));
    let mut builder = ar::Builder::new(Vec::new());
    for (name, bytes) in [
        ("debian-binary", &b"2.0\n"[..]),
        ("control.tar.gz", &control),
        (data_name, data),
    ] {
        let header = ar::Header::new(name.as_bytes().to_vec(), bytes.len() as u64);
        builder.append(&header, bytes).unwrap();
    }
    builder.into_inner().unwrap()
}

#[test]
fn debs_unpack_their_data_tar() {
    let data = xz(&tar(&[
        T::Dir("./"),
        T::Dir("./usr/"),
        T::Dir("./usr/bin/"),
        T::File("./usr/bin/demo", b"\x7fELF", 0o755),
        T::Symlink("./usr/bin/cc", "/etc/alternatives/cc"),
    ]));
    let archive = deb("data.tar.xz", &data);
    let scratch = Scratch::new();
    let options = UnpackOptions {
        allow_absolute_symlinks: true,
        ..Default::default()
    };
    let unpacked = scratch
        .unpack("demo_1.0_amd64.deb", &archive, &options)
        .unwrap();
    assert_eq!(unpacked.format, Format::Deb);
    let out = scratch.out();
    assert_eq!(mode(&out.join("usr/bin/demo")), 0o755);
    assert_eq!(
        fs_err::read_link(out.join("usr/bin/cc")).unwrap(),
        Path::new("/etc/alternatives/cc")
    );
    assert!(
        !out.join("control").exists(),
        "the control archive is not unpacked"
    );
}

#[test]
fn debs_without_data_are_refused() {
    let archive = deb("data.tar.lz4", b"");
    let scratch = Scratch::new();
    let error = scratch
        .unpack("x.deb", &archive, &UnpackOptions::default())
        .unwrap_err();
    assert!(matches!(error, UnpackError::NoDataTar { .. }), "{error:?}");
    scratch.assert_only("x.deb");
}

#[test]
fn corrupt_archives_fail_cleanly() {
    let mut archive = gzip(&tar(&[T::File("f", &[7; 100_000], 0o644)]));
    archive.truncate(archive.len() / 2);
    let scratch = Scratch::new();
    let error = scratch
        .unpack("a.tar.gz", &archive, &UnpackOptions::default())
        .unwrap_err();
    assert!(
        matches!(
            error,
            UnpackError::Contents { .. } | UnpackError::Read { .. }
        ),
        "{error:?}"
    );
    scratch.assert_only("a.tar.gz");
}

#[test]
fn an_existing_output_is_not_touched() {
    let scratch = Scratch::new();
    fs_err::create_dir(scratch.out()).unwrap();
    fs_err::write(scratch.out().join("keep"), b"x").unwrap();
    let error = scratch
        .unpack("a.tar", &tar(&[]), &UnpackOptions::default())
        .unwrap_err();
    assert!(matches!(error, UnpackError::Exists { .. }), "{error:?}");
    assert!(scratch.out().join("keep").exists());
}

/// Returns the NAR of `path`, to compare trees byte for byte.
fn nar_of(path: &Path) -> Vec<u8> {
    let mut nar = Vec::new();
    crate::nar::dump(path, &mut nar).unwrap();
    nar
}

fn have(tool: &str) -> bool {
    std::process::Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A tree with the shapes real archives have: nested directories, plain
/// and executable files, relative symlinks, a hard link.
fn sample_tar() -> Vec<u8> {
    tar(&[
        T::Dir("./"),
        T::Dir("./usr/"),
        T::Dir("./usr/bin/"),
        T::File("./usr/bin/demo", b"\x7fELF demo", 0o755),
        T::Symlink("./usr/bin/demo-alias", "demo"),
        T::Dir("./usr/share/doc/demo/"),
        T::File("./usr/share/doc/demo/copyright", b"MIT", 0o644),
        T::HardLink(
            "./usr/share/doc/demo/LICENSE",
            "./usr/share/doc/demo/copyright",
        ),
        T::Symlink("./usr/share/doc/demo/up", "../../../bin/../share"),
    ])
}

#[test]
#[expect(
    clippy::print_stderr,
    reason = "a skipped or long test says so, as the Nix differential tests do"
)]
fn matches_dpkg_deb() {
    if !have("dpkg-deb") {
        eprintln!("note: dpkg-deb not found; skipping");
        return;
    }
    let archive = deb("data.tar.xz", &xz(&sample_tar()));
    let scratch = Scratch::new();
    scratch
        .unpack("demo.deb", &archive, &UnpackOptions::default())
        .unwrap();
    let theirs = scratch.dir.path().join("dpkg");
    let status = std::process::Command::new("dpkg-deb")
        .arg("-x")
        .arg(scratch.dir.path().join("demo.deb"))
        .arg(&theirs)
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        nar_of(&scratch.out()) == nar_of(&theirs),
        "kiln and dpkg-deb -x differ"
    );
}

#[test]
#[expect(
    clippy::print_stderr,
    reason = "a skipped or long test says so, as the Nix differential tests do"
)]
fn matches_gnu_tar() {
    if !have("tar") {
        eprintln!("note: tar not found; skipping");
        return;
    }
    let scratch = Scratch::new();
    scratch
        .unpack(
            "demo.tar.gz",
            &gzip(&sample_tar()),
            &UnpackOptions::default(),
        )
        .unwrap();
    let theirs = scratch.dir.path().join("gnu");
    fs_err::create_dir(&theirs).unwrap();
    let status = std::process::Command::new("tar")
        .arg("-xzf")
        .arg(scratch.dir.path().join("demo.tar.gz"))
        .arg("-C")
        .arg(&theirs)
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        nar_of(&scratch.out()) == nar_of(&theirs),
        "kiln and GNU tar differ"
    );
}

/// Unpacks every real `.deb` in the directory `KILN_TEST_DEBS` (fetch some
/// with `apt-get download dash coreutils tzdata`) with kiln and with
/// `dpkg-deb -x`, and compares the trees as NARs.
#[test]
#[ignore = "needs real .debs: KILN_TEST_DEBS=dir cargo test -p kiln-store real_debs -- --ignored"]
#[expect(
    clippy::print_stderr,
    reason = "a skipped or long test says so, as the Nix differential tests do"
)]
fn real_debs_match_dpkg_deb() {
    let dir = PathBuf::from(
        std::env::var_os("KILN_TEST_DEBS").expect("KILN_TEST_DEBS names a directory of .debs"),
    );
    let mut debs: Vec<_> = fs_err::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .collect();
    debs.sort();
    assert!(!debs.is_empty(), "no .deb in {}", dir.display());
    for deb in debs {
        let scratch = tempfile::tempdir().unwrap();
        let ours = scratch.path().join("kiln");
        let options = UnpackOptions {
            allow_absolute_symlinks: true,
            ..Default::default()
        };
        let name = deb.file_name().unwrap().to_str().unwrap();
        unpack(&deb, name, &ours, &options).unwrap();
        let theirs = scratch.path().join("dpkg");
        let status = std::process::Command::new("dpkg-deb")
            .arg("-x")
            .arg(&deb)
            .arg(&theirs)
            .status()
            .unwrap();
        assert!(status.success());
        assert!(
            nar_of(&ours) == nar_of(&theirs),
            "kiln and dpkg-deb -x differ on {name}"
        );
        eprintln!("{name}: same tree as dpkg-deb -x");
    }
}
