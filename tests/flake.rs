//! Flakes end to end, without building (CI builds the fixture workspace
//! in tests/toolchain.sh): `kiln init`, `kiln lock` against registries
//! served on loopback, `kiln show`, a stale lock, path inputs honouring
//! .gitignore, and the fetch phase listing every missing download.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use kiln_store::hash::Hash;
use serde_json::Value;

use crate::build::fetch::{Route, serve};
use crate::util::{kiln, run};

fn write(root: &Path, file: &str, text: &str) {
    let path = root.join(file);
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(path, text).unwrap();
}

fn route(body: &[u8]) -> Route {
    Route {
        body: Arc::new(body.to_vec()),
        delay: None,
    }
}

/// A Cargo project with no dependencies.
fn cargo_project(root: &Path) {
    write(
        root,
        "Cargo.toml",
        "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    write(
        root,
        "Cargo.lock",
        "version = 4\n\n[[package]]\nname = \"demo\"\nversion = \"0.1.0\"\n",
    );
    write(root, "src/main.rs", "fn main() { println!(\"demo\"); }\n");
}

/// `kiln` run in `dir` with a store of its own and the registries at `base`.
fn kiln_in(dir: &Path, store: &Path, base: &str) -> Command {
    let mut cmd = kiln();
    cmd.current_dir(dir)
        .env("KILN_STORE", store)
        .env_remove("KILN_STORE_DIR")
        .env("KILN_CRATES_INDEX", format!("{base}/index"))
        .env("KILN_CRATES_DOWNLOAD", format!("{base}/crates"))
        .env("KILN_PYPI_URL", format!("{base}/pypi"))
        .env("KILN_FETCH_TRIES", "1");
    cmd
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn init_lock_show_and_a_stale_lock() {
    let archive = b"not really a tarball".to_vec();
    let crate_sum = Hash::sha256(b"foo 1.2.0");
    let wheel_sum = Hash::sha256(b"demo wheel");
    let sdist_sum = Hash::sha256(b"demo sdist");
    let index = [
        format!(
            r#"{{"name":"foo","vers":"1.0.0","cksum":"{}","yanked":false}}"#,
            Hash::sha256(b"1.0.0").encode(kiln_store::hash::Encoding::Base16)
        ),
        format!(
            r#"{{"name":"foo","vers":"1.2.0","cksum":"{}","yanked":false}}"#,
            crate_sum.encode(kiln_store::hash::Encoding::Base16)
        ),
        format!(
            r#"{{"name":"foo","vers":"1.5.0","cksum":"{}","yanked":true}}"#,
            Hash::sha256(b"y").encode(kiln_store::hash::Encoding::Base16)
        ),
        format!(
            r#"{{"name":"foo","vers":"2.0.0-beta.1","cksum":"{}","yanked":false}}"#,
            Hash::sha256(b"b").encode(kiln_store::hash::Encoding::Base16)
        ),
    ]
    .join("\n");
    let simple = serde_json::json!({
        "meta": {"api-version": "1.1"},
        "name": "demo",
        "files": [
            {"filename": "demo-0.2.0-py3-none-any.whl", "url": "https://files.example/demo-0.2.0-py3-none-any.whl",
             "hashes": {"sha256": wheel_sum.encode(kiln_store::hash::Encoding::Base16)}},
            {"filename": "demo-0.2.0.tar.gz", "url": "https://files.example/demo-0.2.0.tar.gz",
             "hashes": {"sha256": sdist_sum.encode(kiln_store::hash::Encoding::Base16)}},
        ]
    });
    let mut routes = HashMap::new();
    routes.insert("/index/3/f/foo".to_owned(), route(index.as_bytes()));
    routes.insert(
        "/pypi/pypi/demo/json".to_owned(),
        route(br#"{"info":{"version":"0.2.0"}}"#),
    );
    routes.insert(
        "/pypi/simple/demo/".to_owned(),
        route(simple.to_string().as_bytes()),
    );
    routes.insert("/files/z-1.0.tar.gz".to_owned(), route(&archive));
    let base = serve(routes);

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("proj");
    let store = dir.path().join("store");
    cargo_project(&root);
    let out = run(kiln_in(&root, &store, &base).arg("init"));
    assert!(out.status.success(), "{}", stderr(&out));
    let again = run(kiln_in(&root, &store, &base).arg("init"));
    assert!(!again.status.success() && stderr(&again).contains("exists already"));

    let mut toml = fs_err::read_to_string(root.join("flake.toml")).unwrap();
    toml.push_str(&format!(
        "\n[inputs.foo]\ncrate = \"foo\"\n\n[inputs.demo]\npypi = \"demo\"\n\n[inputs.z]\nurl = \"{base}/files/z-1.0.tar.gz\"\n"
    ));
    write(&root, "flake.toml", &toml);

    let stale = run(kiln_in(&root, &store, &base).args(["build", "--dry-run"]));
    let text = stderr(&stale);
    assert!(!stale.status.success());
    assert!(text.contains("flake.lock is out of date"), "{text}");
    for input in ["`foo`", "`demo`", "`z`"] {
        assert!(text.contains(input), "{input} not named:\n{text}");
    }

    let out = run(kiln_in(&root, &store, &base).arg("lock"));
    assert!(out.status.success(), "{}", stderr(&out));
    let lock: Value =
        serde_json::from_str(&fs_err::read_to_string(root.join("flake.lock")).unwrap()).unwrap();
    let foo = &lock["inputs"]["foo"];
    assert_eq!(foo["version"], "1.2.0", "the newest non-yanked release");
    assert_eq!(foo["url"], format!("{base}/crates/foo/foo-1.2.0.crate"));
    assert_eq!(foo["hash"], crate_sum.to_sri());
    assert_eq!(
        lock["inputs"]["demo"]["file"], "demo-0.2.0.tar.gz",
        "the sdist"
    );
    assert_eq!(lock["inputs"]["demo"]["hash"], sdist_sum.to_sri());
    assert_eq!(lock["inputs"]["z"]["hash"], Hash::sha256(&archive).to_sri());
    assert!(
        lock["inputs"].get("self").is_none(),
        "path inputs are not locked"
    );

    let up = run(kiln_in(&root, &store, &base).arg("lock"));
    assert!(stderr(&up).contains("up to date"), "{}", stderr(&up));

    let show = run(kiln_in(&root, &store, &base).args(["show", "--json"]));
    assert!(show.status.success(), "{}", stderr(&show));
    let shown: Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(
        shown["packages"]["demo"]["targets"]["aarch64"]["address"],
        ".#demo.aarch64"
    );
    assert_eq!(shown["inputs"]["foo"]["locked"]["version"], "1.2.0");

    // A pinned version is a new request: stale until locked again.
    write(
        &root,
        "flake.toml",
        &toml.replace("crate = \"foo\"", "crate = \"foo\"\nversion = \"1.0.0\""),
    );
    let stale = run(kiln_in(&root, &store, &base).args(["build", "--dry-run"]));
    assert!(
        stderr(&stale).contains("`foo` was locked for `crate foo newest`"),
        "{}",
        stderr(&stale)
    );
    let out = run(kiln_in(&root, &store, &base).arg("lock"));
    assert!(out.status.success(), "{}", stderr(&out));
    let lock: Value =
        serde_json::from_str(&fs_err::read_to_string(root.join("flake.lock")).unwrap()).unwrap();
    assert_eq!(lock["inputs"]["foo"]["version"], "1.0.0");

    // What the registry does not have is named, and the lock is untouched.
    write(
        &root,
        "flake.toml",
        &toml.replace("crate = \"foo\"", "crate = \"foo\"\nversion = \"9.9.9\""),
    );
    let missing = run(kiln_in(&root, &store, &base).arg("lock"));
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("no version 9.9.9 of `foo`"),
        "{}",
        stderr(&missing)
    );
    let after: Value =
        serde_json::from_str(&fs_err::read_to_string(root.join("flake.lock")).unwrap()).unwrap();
    assert_eq!(after, lock);
}

/// The `.drv` path `kiln build --dry-run` prints for the flake in `root`.
fn dry_run_drv(root: &Path, store: &Path) -> String {
    let out = run(kiln_in(root, store, "http://127.0.0.1:1").args([
        "build",
        "--dry-run",
        ".#demo.x86_64",
    ]));
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn path_inputs_honour_gitignore() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("proj");
    let store = dir.path().join("store");
    cargo_project(&root);
    write(&root, ".gitignore", "*.log\n");
    write(&root, "flake.toml", "[packages.demo]\n");
    let first = dry_run_drv(&root, &store);
    assert!(
        first.ends_with("-demo-x86_64-unknown-linux-musl.drv"),
        "{first}"
    );
    write(&root, "build.log", "ignored");
    write(&root, "target/release/junk", "ignored");
    std::os::unix::fs::symlink("/nowhere", root.join("result-x86_64")).unwrap();
    std::os::unix::fs::symlink(
        store.join("store/0c3k02s7zal4sca0rln6d9macl14lavl-demo-x86_64"),
        root.join("src/out-x86_64"),
    )
    .unwrap();
    assert_eq!(
        dry_run_drv(&root, &store),
        first,
        "ignored files changed the source"
    );
    write(
        &root,
        "src/main.rs",
        "fn main() { println!(\"changed\"); }\n",
    );
    assert_ne!(dry_run_drv(&root, &store), first, "a source change did not");
}

#[test]
fn targets_evaluated_side_by_side_give_the_same_derivations() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("proj");
    let store = dir.path().join("store");
    cargo_project(&root);
    write(&root, "flake.toml", "[packages.demo]\n");
    let drv = |reference: &str| {
        let out = run(kiln_in(&root, &store, "http://127.0.0.1:1").args([
            "build",
            "--dry-run",
            "--json",
            reference,
        ]));
        assert!(out.status.success(), "{}", stderr(&out));
        let evaluated: Vec<Value> = stderr(&out)
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|event| event["event"] == "evaluated")
            .collect();
        assert_eq!(evaluated.len(), 1, "{}", stderr(&out));
        assert!(evaluated[0]["elapsed"].as_f64().unwrap() > 0.0);
        let outputs = evaluated[0]["outputs"].clone();
        let drvs = String::from_utf8(out.stdout).unwrap();
        (drvs.lines().map(str::to_owned).collect::<Vec<_>>(), outputs)
    };
    // Both targets (each on its own evaluator when there are two CPUs).
    let (both, outputs) = drv(".#demo");
    assert_eq!(outputs, serde_json::json!(["demo.x86_64", "demo.aarch64"]));
    let (x86_64, _) = drv(".#demo.x86_64");
    let (aarch64, _) = drv(".#demo.aarch64");
    assert_eq!(both, [x86_64, aarch64].concat());
    assert!(
        both[0].ends_with("-demo-x86_64-unknown-linux-musl.drv"),
        "{both:?}"
    );
}

#[test]
fn outputs_are_addressed_and_mistakes_named() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("proj");
    let store = dir.path().join("store");
    cargo_project(&root);
    write(
        &root,
        "flake.toml",
        "[packages.demo]\ntargets = [\"x86_64\"]\n[images.img]\n",
    );
    let cases = [
        (".#nope", "no package or image `nope` (it has: demo, img)"),
        (
            ".#img.x86_64",
            "`img` is an image, which holds every target",
        ),
        (
            ".#demo.aarch64",
            "package `demo` is not built for `aarch64`",
        ),
    ];
    for (reference, message) in cases {
        let out = run(kiln_in(&root, &store, "http://127.0.0.1:1").args([
            "build",
            "--dry-run",
            reference,
        ]));
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains(message),
            "{reference}: {}",
            stderr(&out)
        );
    }
    write(&root, "flake.toml", "[packages.demo]\nfeatures = \"x\"\n");
    let out = run(kiln_in(&root, &store, "http://127.0.0.1:1").args(["build", "--dry-run"]));
    assert!(
        stderr(&out).contains("flake.toml") && stderr(&out).contains("features"),
        "{}",
        stderr(&out)
    );
}

/// `kiln ARGS…` on the fixture workspace with an empty store and every
/// download going through a proxy on loopback that answers 404 to all.
fn fixture_behind_a_404_proxy(args: &[&str]) -> (bool, String) {
    let proxy = serve(HashMap::new());
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let fixture = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/workspace"
    ));
    let mut cmd = kiln_in(fixture, &store, "http://127.0.0.1:1");
    for var in ["no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"] {
        cmd.env_remove(var);
    }
    for var in ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"] {
        cmd.env(var, &proxy);
    }
    let out = run(cmd.args(args));
    (out.status.success(), stderr(&out))
}

/// Every download fails (the proxy on loopback answers 404 to all): the
/// fetch phase tries them all, lists every crate with its URL, and builds
/// nothing.
#[test]
fn the_fetch_phase_lists_every_missing_download() {
    let (ok, text) = fixture_behind_a_404_proxy(&["build", "--no-link", "-j", "4", ".#app.x86_64"]);
    assert!(!ok);
    assert!(
        text.contains("downloads failed; nothing was built"),
        "{text}"
    );
    for krate in ["cc-1.11.3", "shlex-2.0.1", "find-msvc-tools-0.1.15"] {
        let line = format!("{krate}.crate  https://static.crates.io/crates/");
        assert!(text.contains(&line), "{krate} not listed:\n{text}");
    }
    assert!(!text.contains("building `"), "something was built:\n{text}");
}

/// `--offline` with nothing in the store: nothing is fetched or built,
/// and every missing download is listed with its URL and pinned hash.
#[test]
fn offline_lists_every_missing_download_and_fetches_nothing() {
    let (ok, text) = fixture_behind_a_404_proxy(&["build", "--offline", "--no-link", ".#app"]);
    assert!(!ok);
    assert!(text.contains("offline, and"), "{text}");
    let cc = "cc-1.11.3.crate  https://static.crates.io/crates/cc/cc-1.11.3.crate  sha256-";
    assert!(text.contains(cc), "{text}");
    assert!(
        !text.contains("fetching `") && !text.contains("building `"),
        "{text}"
    );
}
