//! The root-filesystem builder on synthetic `.deb`s: merging, usr-merge,
//! links, documentation and exclusions, conflicts, determinism.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::*;
use crate::derivation::DerivationOutput;
use crate::fetch::NoReporter;
use crate::hash::Hash;

/// An entry of a synthetic package's data.tar.
enum E<'a> {
    Dir(&'a str),
    File(&'a str, &'a [u8], u32),
    Link(&'a str, &'a str),
}

/// Builds a `.deb` (`debian-binary`, `control.tar`, `data.tar`).
fn deb(entries: &[E<'_>]) -> Vec<u8> {
    let mut data = ::tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = ::tar::Header::new_gnu();
        let (name, kind, body, target, mode): (&str, _, &[u8], &str, u32) = match entry {
            E::Dir(name) => (name, ::tar::EntryType::Directory, b"", "", 0o755),
            E::File(name, body, mode) => (name, ::tar::EntryType::Regular, body, "", *mode),
            E::Link(name, target) => (name, ::tar::EntryType::Symlink, b"", target, 0o777),
        };
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(body.len() as u64);
        if !target.is_empty() {
            header.set_link_name(target).unwrap();
        }
        data.append_data(&mut header, name, body).unwrap();
    }
    let data = data.into_inner().unwrap();
    let control = ::tar::Builder::new(Vec::new()).into_inner().unwrap();
    let mut builder = ar::Builder::new(Vec::new());
    for (name, bytes) in [
        ("debian-binary", &b"2.0\n"[..]),
        ("control.tar", &control),
        ("data.tar", &data),
    ] {
        let header = ar::Header::new(name.as_bytes().to_vec(), bytes.len() as u64);
        builder.append(&header, bytes).unwrap();
    }
    builder.into_inner().unwrap()
}

/// Writes packages into `dir` and returns them as [`Deb`]s.
fn write_debs(dir: &Path, packages: &[(&str, Vec<u8>)]) -> Vec<Deb> {
    packages
        .iter()
        .map(|(name, bytes)| {
            let path = dir.join(name);
            std::fs::write(&path, bytes).unwrap();
            Deb {
                path,
                name: (*name).to_owned(),
            }
        })
        .collect()
}

fn toolchain_debs() -> Vec<(&'static str, Vec<u8>)> {
    let dash = deb(&[
        E::Dir("./"),
        E::Dir("./usr/"),
        E::Dir("./usr/bin/"),
        E::File("./usr/bin/dash", b"\x7fELF dash", 0o755),
        E::Dir("./usr/share/doc/dash/"),
        E::File("./usr/share/doc/dash/copyright", b"GPL", 0o644),
        E::Dir("./usr/share/man/man1/"),
        E::Link("./usr/share/man/man1/sh.1.gz", "dash.1.gz"),
    ]);
    let gcc = deb(&[
        E::Dir("./"),
        E::Dir("./usr/bin/"),
        E::Link("./usr/bin/gcc", "gcc-16"),
        E::File("./usr/bin/gcc-16", b"\x7fELF gcc", 0o755),
        E::Link("./usr/bin/g++", "g++-16"),
        E::File("./usr/bin/g++-16", b"\x7fELF g++", 0o755),
        E::Link("./usr/bin/x", "/etc/alternatives/x"),
        E::Dir("./usr/share/locale/de/LC_MESSAGES/"),
        E::File("./usr/share/locale/de/LC_MESSAGES/gcc.mo", b"mo", 0o644),
    ]);
    let libc = deb(&[
        E::Dir("./"),
        // An old-style package with files under /lib and /lib64, and
        // base-files' own usr-merge link.
        E::Dir("./lib/"),
        E::Dir("./lib/x86_64-linux-gnu/"),
        E::File("./lib/x86_64-linux-gnu/libc.so.6", b"\x7fELF libc", 0o755),
        E::Dir("./lib64/"),
        E::Link(
            "./lib64/ld-linux-x86-64.so.2",
            "/lib/x86_64-linux-gnu/ld.so",
        ),
        E::Link("./bin", "usr/bin"),
        // The same file as another package ships: allowed.
        E::Dir("./usr/bin/"),
        E::File("./usr/bin/gcc-16", b"\x7fELF gcc", 0o755),
    ]);
    vec![("dash.deb", dash), ("gcc.deb", gcc), ("libc6.deb", libc)]
}

fn link(path: &Path) -> String {
    std::fs::read_link(path)
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn builds_a_merged_usr_root_with_links_and_no_docs() {
    let dir = tempfile::tempdir().unwrap();
    let debs = write_debs(dir.path(), &toolchain_debs());
    let out = dir.path().join("out");
    let report = build(&debs, &[], &out).unwrap();
    assert_eq!(report.debs, 3);
    assert_eq!(link(&out.join("bin")), "usr/bin");
    assert_eq!(link(&out.join("lib")), "usr/lib");
    assert_eq!(link(&out.join("lib64")), "usr/lib64");
    assert!(!out.join("sbin").exists(), "no usr/sbin, so no sbin link");
    assert_eq!(link(&out.join("usr/bin/sh")), "dash");
    assert_eq!(link(&out.join("usr/bin/cc")), "gcc");
    assert_eq!(link(&out.join("usr/bin/c++")), "g++");
    assert!(!out.join("usr/bin/awk").exists(), "no mawk, so no awk");
    assert_eq!(link(&out.join("usr/bin/x")), "/etc/alternatives/x");
    assert_eq!(
        std::fs::read(out.join("lib/x86_64-linux-gnu/libc.so.6")).unwrap(),
        b"\x7fELF libc"
    );
    assert!(out.join("usr/bin/dash").is_file());
    assert!(!out.join("usr/share/doc").exists());
    assert!(!out.join("usr/share/man").exists());
    assert!(!out.join("usr/share/locale").exists());
    assert_eq!(
        report.links,
        [
            "bin",
            "lib",
            "lib64",
            "usr/bin/sh",
            "usr/bin/cc",
            "usr/bin/c++"
        ]
    );
    assert!(report.dropped >= 4, "{report:?}");
    let work = dir.path().join("out.rootfs-work");
    assert!(!work.exists(), "the scratch directory is removed");
}

#[test]
fn same_inputs_give_the_same_nar() {
    let dir = tempfile::tempdir().unwrap();
    let debs = write_debs(dir.path(), &toolchain_debs());
    let nar_hash = |out: &Path| {
        build(&debs, &[], out).unwrap();
        let mut nar = Vec::new();
        crate::nar::dump(out, &mut nar).unwrap();
        Hash::sha256(&nar)
    };
    assert_eq!(
        nar_hash(&dir.path().join("a")),
        nar_hash(&dir.path().join("b"))
    );
}

#[test]
fn different_files_at_one_path_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let mut packages = toolchain_debs();
    packages.push((
        "other-gcc.deb",
        deb(&[
            E::Dir("./usr/bin/"),
            E::File("./usr/bin/gcc-16", b"other", 0o755),
        ]),
    ));
    let debs = write_debs(dir.path(), &packages);
    let out = dir.path().join("out");
    let error = build(&debs, &[], &out).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains(
            "`usr/bin/gcc-16` is shipped by `gcc.deb` and, differently, by `other-gcc.deb`"
        ),
        "{message}"
    );
    assert!(!out.exists() && !dir.path().join("out.rootfs-work").exists());
    // A symlink against a file conflicts too, and so does a file where a
    // directory is.
    for clash in [
        deb(&[E::Dir("./usr/bin/"), E::Link("./usr/bin/dash", "busybox")]),
        deb(&[E::Dir("./usr/"), E::File("./usr/bin", b"", 0o644)]),
    ] {
        let mut packages = toolchain_debs();
        packages.push(("clash.deb", clash));
        let debs = write_debs(dir.path(), &packages);
        let error = build(&debs, &[], &out).unwrap_err();
        assert!(matches!(error, RootfsError::Conflict { .. }), "{error:?}");
    }
}

#[test]
fn exclude_with_wildcards() {
    let dir = tempfile::tempdir().unwrap();
    let src = deb(&[
        E::Dir("./usr/src/rustc-1.97.1/library/core/"),
        E::File("./usr/src/rustc-1.97.1/library/core/lib.rs", b"", 0o644),
        E::Dir("./usr/src/rustc-1.97.1/src/tools/cargo/"),
        E::File("./usr/src/rustc-1.97.1/src/tools/cargo/x.rs", b"", 0o644),
        E::File("./usr/src/rustc-1.97.1/src/version", b"1.97.1", 0o644),
    ]);
    let debs = write_debs(dir.path(), &[("rust-src.deb", src)]);
    let out = dir.path().join("out");
    build(&debs, &["/usr/src/*/src/tools/".to_owned()], &out).unwrap();
    assert!(
        out.join("usr/src/rustc-1.97.1/library/core/lib.rs")
            .is_file()
    );
    assert!(out.join("usr/src/rustc-1.97.1/src/version").is_file());
    assert!(!out.join("usr/src/rustc-1.97.1/src/tools").exists());
    assert!(is_below(Path::new("a/b/c"), Path::new("a/*")));
    assert!(!is_below(Path::new("a"), Path::new("a/*")));
    assert!(!is_below(Path::new("ab/c"), Path::new("a")));
}

#[test]
fn a_broken_package_names_itself_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut packages = toolchain_debs();
    packages.insert(1, ("broken.deb", b"!<arch>\nnot really".to_vec()));
    let debs = write_debs(dir.path(), &packages);
    let out = dir.path().join("out");
    let error = build(&debs, &[], &out).unwrap_err();
    assert!(matches!(error, RootfsError::Unpack(_)), "{error:?}");
    let chain = format!("{error}");
    assert!(chain.contains("broken.deb"), "{chain}");
    assert!(!out.exists() && !dir.path().join("out.rootfs-work").exists());
}

#[test]
fn runs_as_a_builtin_derivation() {
    let dir = tempfile::tempdir().unwrap();
    let debs = write_debs(dir.path(), &toolchain_debs());
    let store_paths: Vec<String> = debs
        .iter()
        .map(|d| format!("/nix/store/{}-{}", "0".repeat(32), d.name))
        .collect();
    let physical: BTreeMap<String, PathBuf> = debs
        .iter()
        .map(|d| (d.name.clone(), d.path.clone()))
        .collect();
    let mut outputs = BTreeMap::new();
    outputs.insert(
        "out".to_owned(),
        DerivationOutput {
            path: None,
            fixed: None,
        },
    );
    let mut drv = Derivation {
        outputs,
        builder: DEBIAN_ROOTFS_V1.to_owned(),
        platform: "builtin".to_owned(),
        ..Default::default()
    };
    drv.env.insert("debs".to_owned(), store_paths.join(" "));
    drv.env
        .insert("exclude".to_owned(), "usr/bin/g++-16".to_owned());
    let inputs = |path: &StorePath| physical[path.name()].clone();
    let runner =
        crate::builtins::Builtins::new(StoreDir::default(), crate::fetch::FetchConfig::from_env());
    let out = dir.path().join("out");
    let outcome = runner.run(&drv, &inputs, &out, &NoReporter).unwrap();
    let Outcome::Rootfs(report) = outcome else {
        panic!("not a rootfs outcome: {outcome:?}");
    };
    assert_eq!(report.debs, 3);
    assert!(!out.join("usr/bin/g++-16").exists());
    drv.env
        .insert("debs".to_owned(), "relative/a.deb".to_owned());
    let error = runner
        .run(&drv, &inputs, &dir.path().join("out2"), &NoReporter)
        .unwrap_err();
    assert!(error.to_string().contains("`relative/a.deb`"), "{error}");
    drv.env.remove("debs");
    let error = runner
        .run(&drv, &inputs, &dir.path().join("out3"), &NoReporter)
        .unwrap_err();
    assert!(error.to_string().contains("`debs`"), "{error}");
}

/// The real thing, by hand: `KILN_ROOTFS_DEBS=<dir of .debs>` (for example
/// the closure in `recipes/debian/sid.lock.json`, downloaded by
/// `recipes/debian/fetch-debs.sh`) and, optionally, `KILN_ROOTFS_OUT=<new
/// dir>` to keep the result. Builds the root filesystem, prints its size
/// and time, and when run as root checks that `rustc --version` and a C
/// compile run inside it under `chroot`.
#[test]
#[ignore = "needs real .debs: set KILN_ROOTFS_DEBS"]
#[expect(clippy::print_stderr, reason = "a manual test reports its figures")]
fn real_debs_make_a_working_root() {
    let Some(dir) = std::env::var_os("KILN_ROOTFS_DEBS") else {
        eprintln!("note: KILN_ROOTFS_DEBS is not set; nothing to do");
        return;
    };
    let mut debs: Vec<Deb> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .map(|path| Deb {
            name: path.file_name().unwrap().to_string_lossy().into_owned(),
            path,
        })
        .collect();
    debs.sort_by(|a, b| a.name.cmp(&b.name));
    let scratch = tempfile::tempdir().unwrap();
    let out = std::env::var_os("KILN_ROOTFS_OUT")
        .map_or_else(|| scratch.path().join("root"), PathBuf::from);
    let exclude = [
        "usr/src/*/src/tools".to_owned(),
        "usr/src/*/src/doc".to_owned(),
    ];
    let start = std::time::Instant::now();
    let report = build(&debs, &exclude, &out).unwrap();
    let elapsed = start.elapsed();
    let du = std::process::Command::new("du")
        .args(["-sb"])
        .arg(&out)
        .output()
        .unwrap();
    eprintln!(
        "{} debs -> {} entries, {} dropped, links {:?} in {elapsed:.1?}; du: {}",
        report.debs,
        report.entries,
        report.dropped,
        report.links,
        String::from_utf8_lossy(&du.stdout).trim()
    );
    if !rustix::process::geteuid().is_root() {
        return;
    }
    let run = |script: &str| {
        let output = std::process::Command::new("/usr/sbin/chroot")
            .arg(&out)
            .args(["/bin/sh", "-c", script])
            .env_clear()
            .env("PATH", "/usr/bin")
            .env("HOME", "/tmp")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{script}: {text}");
        text
    };
    eprintln!(
        "{}",
        run("rustc --version && cargo --version && cc --version | head -1")
    );
    eprintln!(
        "{}",
        run("cd /tmp && printf 'fn main(){println!(\"hi\");}' > h.rs && rustc -o h h.rs && ./h")
    );
}
