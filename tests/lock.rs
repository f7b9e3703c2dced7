//! `kiln lock debian` end to end, on a synthetic archive: read from a
//! local copy (`--packages-from`) and from a loopback HTTP mirror; a
//! tampered index and an unsatisfiable root are refused. Never the real
//! network.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use crate::util::{kiln, run, run_ok};

const PACKAGES: &str = "Package: rustc
Version: 1.97.1+dfsg1-1
Architecture: amd64
Depends: libc6 (>= 2.34), libstd-rust-dev (= 1.97.1+dfsg1-1), gcc | clang, libc-dev
Recommends: cargo
Filename: pool/main/r/rustc/rustc_1.97.1+dfsg1-1_amd64.deb
Size: 4494600
SHA256: 831790b9b8a19bfa4f750cafda6829193e29c66c3f82ff55bcba6df9533fd7b1

Package: libstd-rust-dev
Version: 1.97.1+dfsg1-1
Architecture: amd64
Pre-Depends: libc6 (>= 2.30)
Filename: pool/main/r/rustc/libstd-rust-dev_1.97.1+dfsg1-1_amd64.deb
Size: 100
SHA256: 1111111111111111111111111111111111111111111111111111111111111111

Package: libc6
Version: 2.41-12
Architecture: amd64
Filename: pool/main/g/glibc/libc6_2.41-12_amd64.deb
Size: 200
SHA256: 2222222222222222222222222222222222222222222222222222222222222222

Package: libc6-dev
Version: 2.41-12
Architecture: amd64
Provides: libc-dev (= 2.41-12)
Filename: pool/main/g/glibc/libc6-dev_2.41-12_amd64.deb
Size: 300
SHA256: 3333333333333333333333333333333333333333333333333333333333333333

Package: gcc
Version: 4:16.1.0-3
Architecture: amd64
Filename: pool/main/g/gcc-defaults/gcc_16.1.0-3_amd64.deb
Size: 400
SHA256: 4444444444444444444444444444444444444444444444444444444444444444

Package: rust-doc
Version: 1.97.1+dfsg1-1
Architecture: all
Depends: nonesuch (>= 2)
Filename: pool/main/r/rustc/rust-doc_1.97.1+dfsg1-1_all.deb
Size: 500
SHA256: 5555555555555555555555555555555555555555555555555555555555555555
";

/// Returns the SHA-256 of `path` in hex, by `sha256sum`.
fn sha256(path: &Path) -> String {
    let out = String::from_utf8(run_ok(std::process::Command::new("sha256sum").arg(path))).unwrap();
    out.split_whitespace().next().unwrap().to_owned()
}

/// Writes a copy of `dists/sid/`: a clear-signed `InRelease` (with a
/// signature block that is not checked) listing `main/binary-amd64/Packages`.
fn write_suite(dir: &Path) -> PathBuf {
    let suite = dir.join("dists/sid");
    let index = suite.join("main/binary-amd64/Packages");
    std::fs::create_dir_all(index.parent().unwrap()).unwrap();
    std::fs::write(&index, PACKAGES).unwrap();
    let release = format!(
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nOrigin: Debian\nSuite: unstable\nCodename: sid\n\
         Date: Fri, 30 Oct 2026 08:08:01 UTC\nValid-Until: Fri, 06 Nov 2026 08:08:01 UTC\n\
         Architectures: all amd64\nComponents: main\nSHA256:\n {} {} main/binary-amd64/Packages\n\
         -----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n",
        sha256(&index),
        PACKAGES.len()
    );
    std::fs::write(suite.join("InRelease"), release).unwrap();
    suite
}

fn read_lock(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn names(lock: &serde_json::Value) -> Vec<String> {
    lock["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{}={}",
                p["name"].as_str().unwrap(),
                p["version"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn lock_debian_from_a_local_copy() {
    let dir = tempfile::tempdir().unwrap();
    let suite = write_suite(dir.path());
    let out = dir.path().join("sid.lock.json");
    run_ok(
        kiln()
            .args(["lock", "debian", "--no-verify", "--packages-from"])
            .arg(&suite)
            .arg("-o")
            .arg(&out)
            .args(["--mirror", "http://mirror.invalid/debian/", "rustc"]),
    );
    let lock = read_lock(&out);
    assert_eq!(
        names(&lock),
        [
            "gcc=4:16.1.0-3",
            "libc6=2.41-12",
            "libc6-dev=2.41-12",
            "libstd-rust-dev=1.97.1+dfsg1-1",
            "rustc=1.97.1+dfsg1-1"
        ]
    );
    assert_eq!(lock["snapshot"], "20261030T080801Z");
    assert_eq!(
        lock["inRelease"]["sha256"].as_str().unwrap(),
        sha256(&suite.join("InRelease"))
    );
    assert_eq!(
        lock["inRelease"]["url"],
        "http://mirror.invalid/debian/dists/sid/InRelease"
    );
    assert_eq!(lock["roots"], serde_json::json!(["rustc"]));
    let rustc = &lock["packages"][4];
    assert_eq!(
        rustc["urls"],
        serde_json::json!([
            "http://mirror.invalid/debian/pool/main/r/rustc/rustc_1.97.1+dfsg1-1_amd64.deb",
            "https://snapshot.debian.org/archive/debian/20261030T080801Z/pool/main/r/rustc/rustc_1.97.1+dfsg1-1_amd64.deb"
        ])
    );
    assert_eq!(rustc["size"], 4_494_600);
    // The same inputs give the same bytes.
    let again = dir.path().join("again.json");
    run_ok(
        kiln()
            .args(["lock", "debian", "--no-verify", "--packages-from"])
            .arg(&suite)
            .arg("-o")
            .arg(&again)
            .args(["--mirror", "http://mirror.invalid/debian", "rustc", "rustc"]),
    );
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&again).unwrap());
}

#[test]
fn lock_debian_refuses_a_tampered_index_and_an_unsatisfiable_root() {
    let dir = tempfile::tempdir().unwrap();
    let suite = write_suite(dir.path());
    let out = dir.path().join("lock.json");
    let unsatisfiable = run(kiln()
        .args(["lock", "debian", "--no-verify", "--packages-from"])
        .arg(&suite)
        .arg("-o")
        .arg(&out)
        .arg("rust-doc"));
    assert!(!unsatisfiable.status.success());
    let stderr = String::from_utf8_lossy(&unsatisfiable.stderr);
    assert!(
        stderr.contains("cannot satisfy `nonesuch (>= 2)` (needed by rust-doc 1.97.1+dfsg1-1)"),
        "{stderr}"
    );
    assert!(!out.exists());
    let index = suite.join("main/binary-amd64/Packages");
    std::fs::write(&index, PACKAGES.replace("Size: 500", "Size: 501")).unwrap();
    let tampered = run(kiln()
        .args(["lock", "debian", "--no-verify", "--packages-from"])
        .arg(&suite)
        .arg("-o")
        .arg(&out)
        .arg("rustc"));
    assert!(!tampered.status.success());
    let stderr = String::from_utf8_lossy(&tampered.stderr);
    assert!(stderr.contains("does not match `InRelease`"), "{stderr}");
}

/// Serves the files below `root` over HTTP on a loopback port, one
/// request per connection, until the test ends; returns the base URL.
fn serve(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = String::new();
            let mut reader = BufReader::new(&stream);
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/');
            let response = match std::fs::read(root.join(path)) {
                Ok(body) => {
                    let mut head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    head.extend(body);
                    head
                }
                Err(_) => {
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_vec()
                }
            };
            let _ = stream.write_all(&response);
        }
    });
    url
}

#[test]
fn lock_debian_over_http() {
    let dir = tempfile::tempdir().unwrap();
    write_suite(dir.path());
    let mirror = serve(dir.path().to_owned());
    let out = dir.path().join("lock.json");
    let output = run(kiln()
        .args(["lock", "debian", "--no-verify", "--mirror", &mirror, "-o"])
        .arg(&out)
        .args(["libc6", "gcc | clang"]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("reading {mirror}/dists/sid/InRelease")),
        "{stderr}"
    );
    assert!(stderr.contains("locked 2 packages"), "{stderr}");
    let lock = read_lock(&out);
    assert_eq!(names(&lock), ["gcc=4:16.1.0-3", "libc6=2.41-12"]);
    assert_eq!(lock["roots"], serde_json::json!(["gcc | clang", "libc6"]));
    let missing = run(kiln()
        .args([
            "lock", "debian", "--suite", "bookworm", "--mirror", &mirror, "-o",
        ])
        .arg(&out)
        .arg("libc6"));
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("dists/bookworm/InRelease"), "{stderr}");
}

/// The recipe over both real locks gives the same `.drv` paths with kiln
/// and with `nix-instantiate` (the root filesystem and every fetch).
#[test]
fn debian_recipe_instantiates_like_nix() {
    if !crate::util::have_nix() {
        return;
    }
    let recipes = Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes/debian");
    for lock in ["sid.lock.json", "sid-extra.lock.json"] {
        let expr = format!(
            "let d = import {} {{ lock = builtins.fromJSON (builtins.readFile {}); }}; in [ d.rootfs d.packages.rustc ] ++ d.debs",
            recipes.display(),
            recipes.join(lock).display()
        );
        let ours = run_ok(
            kiln()
                .args(["instantiate", "--expr", &expr])
                .env_remove("NIX_PATH"),
        );
        let theirs = run_ok(crate::util::nix("nix-instantiate").args(["--expr", &expr]));
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs),
            "{lock}"
        );
        assert!(String::from_utf8_lossy(&ours).contains("-rootfs.drv"));
    }
}

/// `--keyring`: with the `openpgp` feature, signatures that the keyring
/// did not make are refused; without it, asking for a check is an error.
#[test]
fn lock_debian_keyring() {
    let dir = tempfile::tempdir().unwrap();
    let suite = write_suite(dir.path());
    let keyring =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("debian/tests/fixtures/test-keyring.gpg");
    let out = dir.path().join("lock.json");
    let output = run(kiln()
        .args(["lock", "debian", "--packages-from"])
        .arg(&suite)
        .arg("--keyring")
        .arg(&keyring)
        .arg("-o")
        .arg(&out)
        .arg("rustc"));
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expected = if cfg!(feature = "openpgp") {
        "do not verify"
    } else {
        "built without the `openpgp` feature"
    };
    assert!(stderr.contains(expected), "{stderr}");
    assert!(!out.exists());
}

/// The real thing, through the network (ignored by default): builds the
/// root filesystem of `recipes/debian/sid.lock.json` with `kiln build`
/// (90 fetches from deb.debian.org, then `builtin:debian-rootfs-v1`) and a
/// derivation that runs in it through `__kilnRootfs`: `rustc --version`,
/// and a hello-world compiled and linked by rustc and gcc there. Set
/// `KILN_STORE` to reuse a store between runs.
#[test]
#[ignore = "downloads 240 MB from deb.debian.org and unpacks 900 MB"]
fn real_rootfs_runs_rustc_in_the_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let recipes = Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes/debian");
    let file = dir.path().join("smoke.nix");
    let script = "set -e; { rustc --version; readlink /bin/sh; } > $out; \
                  printf 'fn main() { println!(\"hello from the sandbox\"); }' > h.rs; \
                  rustc -o h h.rs; ./h >> $out; test ! -e /usr/share/doc";
    std::fs::write(
        &file,
        format!(
            "let debian = import {} {{ lock = builtins.fromJSON (builtins.readFile {}); }}; in\n\
             derivation {{ name = \"rootfs-smoke\"; system = \"x86_64-linux\"; builder = \"/bin/sh\";\n\
             __kilnRootfs = debian.rootfs; PATH = \"/usr/bin\"; HOME = \"/build\";\n\
             args = [ \"-c\" {script:?} ]; }}\n",
            recipes.display(),
            recipes.join("sid.lock.json").display()
        ),
    )
    .unwrap();
    let mut build = kiln();
    build
        .arg("build")
        .arg(&file)
        .arg("-o")
        .arg(dir.path().join("result"));
    if std::env::var_os("KILN_STORE").is_none() {
        build.env("KILN_STORE", dir.path().join("store"));
    }
    run_ok(&mut build);
    let out = std::fs::read_to_string(dir.path().join("result")).unwrap();
    assert!(out.starts_with("rustc 1.97.1"), "{out}");
    assert!(out.contains("\ndash\nhello from the sandbox\n"), "{out}");
}
