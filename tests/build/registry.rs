//! `kiln image push` against Debian's `docker-registry` on loopback (its
//! access log counts what a push sends), with basic authentication from
//! htpasswd, and against a small registry in this file that demands a
//! bearer token; `kiln image export` read back by skopeo.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::image::{IMAGE, have, index_digest};
use super::{Env, describe, need_sandbox};
use crate::util::run;

/// A `docker-registry` serving a temporary directory on 127.0.0.1.
struct LocalRegistry {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl LocalRegistry {
    /// Starts one; `htpasswd` (bcrypt lines) turns on basic authentication.
    fn start(htpasswd: Option<&str>) -> LocalRegistry {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        if let Some(lines) = htpasswd {
            let file = dir.path().join("htpasswd");
            fs_err::write(&file, lines).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: kiln-test\n    path: {}\n",
                file.display()
            ));
        }
        let config_file = dir.path().join("config.yml");
        fs_err::write(&config_file, config).unwrap();
        let log = fs_err::File::create(dir.path().join("log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_file)
            .stdout(Stdio::from(log.try_clone().unwrap().into_parts().0))
            .stderr(Stdio::from(log.into_parts().0))
            .spawn()
            .expect("cannot start docker-registry");
        wait_for_port(port);
        LocalRegistry { child, dir, port }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The methods of the requests logged so far, in order.
    fn requests(&self) -> Vec<String> {
        let log = fs_err::read_to_string(self.dir.path().join("log")).unwrap();
        log.lines()
            .filter_map(|line| {
                let request = line.split('"').nth(1)?;
                let (method, rest) = request.split_once(' ')?;
                rest.starts_with("/v2/").then(|| method.to_owned())
            })
            .collect()
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the registry did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn count(methods: &[String], method: &str) -> usize {
    methods.iter().filter(|m| *m == method).count()
}

/// The test image, built; returns its layout.
fn built_image(env: &Env) -> (PathBuf, String) {
    env.nix("image.nix", IMAGE);
    let (paths, _) = env.build_ok("image.nix", &[]);
    (env.physical(&paths[0]), index_digest(env, &paths[0]))
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn push(env: &Env, layout: &Path, reference: &str, extra: &[&str]) -> std::process::Output {
    run(env
        .kiln()
        .args(["image", "push", "--insecure"])
        .args(extra)
        .arg(layout)
        .arg(reference))
}

#[test]
fn a_push_reaches_a_real_registry_and_a_second_push_sends_nothing() {
    need_sandbox!();
    if !(have("docker-registry") && have("skopeo")) {
        eprintln!("note: docker-registry or skopeo missing; skipping");
        return;
    }
    let env = Env::new();
    let (layout, index) = built_image(&env);
    let registry = LocalRegistry::start(None);
    let repo = format!("{}/team/app", registry.host());

    // Chunks of 64 bytes: every layer goes up in several PATCHes. No tag:
    // the image goes up under both of its tags.
    let out = push(&env, &layout, &repo, &["--chunk-size", "64"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{repo}@{index}")
    );
    let first = registry.requests();
    assert_eq!(count(&first, "POST"), 4, "{first:?}"); // 2 configs, 2 layers
    assert!(count(&first, "PATCH") > 4, "{first:?}");
    // 4 blob completions, 2 manifests, the index under 2 tags.
    assert_eq!(count(&first, "PUT"), 4 + 2 + 2, "{first:?}");

    for tag in ["latest", "1.0"] {
        let raw = run(Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{repo}:{tag}")));
        assert!(raw.status.success(), "{}", describe(&raw));
        assert_eq!(sha256(&raw.stdout), index, "{tag}");
        let list: Value = serde_json::from_slice(&raw.stdout).unwrap();
        let arches: Vec<&str> = list["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["platform"]["architecture"].as_str().unwrap())
            .collect();
        assert_eq!(arches, ["amd64", "arm64"]);
    }
    let out = run(Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--override-arch", "arm64"])
        .arg(format!("docker://{repo}:latest")));
    assert!(out.status.success(), "{}", describe(&out));
    let inspected: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(inspected["Architecture"], "arm64");
    assert_eq!(
        inspected["Labels"]["org.opencontainers.image.version"],
        "1.0"
    );

    // Again: existence checks only, nothing written.
    let out = push(&env, &layout, &repo, &[]);
    assert!(out.status.success(), "{}", describe(&out));
    let second: Vec<String> = registry.requests()[first.len()..].to_vec();
    assert!(
        second.iter().all(|m| m == "HEAD" || m == "GET"),
        "the second push wrote: {second:?}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("0 blob(s) uploaded"), "{stderr}");

    // Monolithic uploads (the default chunk size) to another repository.
    let before = registry.requests().len();
    let out = push(&env, &layout, &format!("{}/mono:v2", registry.host()), &[]);
    assert!(out.status.success(), "{}", describe(&out));
    let mono = registry.requests()[before..].to_vec();
    assert_eq!(count(&mono, "PATCH"), 0, "{mono:?}");
    assert_eq!(count(&mono, "PUT"), 4 + 2 + 1, "{mono:?}");
}

#[test]
fn a_push_refuses_what_it_must_not_do() {
    let env = Env::new();
    let dir = env.path().join("not-a-layout");
    fs_err::create_dir_all(&dir).unwrap();
    for (args, says) in [
        (
            vec!["push", "--insecure", "x", "example.com/app"],
            "only for a registry on this machine",
        ),
        (vec!["push", "x", "127.0.0.1:1/App"], "lowercase"),
        (
            vec!["push", "not-a-layout", "127.0.0.1:1/app"],
            "is not an OCI image layout",
        ),
        (
            vec![
                "push",
                "x",
                &format!("127.0.0.1:1/app@sha256:{}", "0".repeat(64)),
            ],
            "names a digest",
        ),
        (
            vec!["export", "not-a-layout", "-o", "x.tar"],
            "is not an OCI image layout",
        ),
    ] {
        let out = run(env.kiln().arg("image").args(&args));
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", describe(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

/// A bcrypt htpasswd line, by Python's `crypt` (Debian 12's Python has it).
fn htpasswd(user: &str, password: &str) -> Option<String> {
    let out = Command::new("python3")
        .args([
            "-W",
            "ignore",
            "-c",
            "import crypt, sys; print(sys.argv[1] + ':' + crypt.crypt(sys.argv[2], crypt.mksalt(crypt.METHOD_BLOWFISH)))",
            user,
            password,
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn basic_authentication_from_flags_or_the_docker_configuration() {
    need_sandbox!();
    if !have("docker-registry") {
        eprintln!("note: docker-registry missing; skipping");
        return;
    }
    let Some(lines) = htpasswd("kiln", "s3cret") else {
        eprintln!("note: python3 with crypt missing; skipping");
        return;
    };
    let env = Env::new();
    let (layout, index) = built_image(&env);
    let registry = LocalRegistry::start(Some(&lines));
    let repo = format!("{}/app", registry.host());
    let empty = env.path().join("no-docker-config");

    let out = run(env
        .kiln()
        .env("DOCKER_CONFIG", &empty)
        .args(["image", "push", "--insecure"])
        .arg(&layout)
        .arg(&repo));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refused access"), "{stderr}");
    assert!(stderr.contains("--password-stdin"), "{stderr}");

    let with_password = |password: &str| {
        let mut child = env
            .kiln()
            .env("DOCKER_CONFIG", &empty)
            .args([
                "image",
                "push",
                "--insecure",
                "--username",
                "kiln",
                "--password-stdin",
            ])
            .arg(&layout)
            .arg(&repo)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        child.wait_with_output().unwrap()
    };
    let out = with_password("wrong");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("check the user name and password"),
        "{}",
        describe(&out)
    );
    let out = with_password("s3cret");
    assert!(out.status.success(), "{}", describe(&out));

    // The docker client's configuration, as `docker login` writes it.
    let config = env.path().join("docker");
    fs_err::create_dir_all(&config).unwrap();
    fs_err::write(
        config.join("config.json"),
        format!(
            r#"{{"auths": {{"{}": {{"auth": "{}"}}}}}}"#,
            registry.host(),
            base64_encode("kiln:s3cret")
        ),
    )
    .unwrap();
    let out = run(env
        .kiln()
        .env("DOCKER_CONFIG", &config)
        .args(["image", "push", "--insecure"])
        .arg(&layout)
        .arg(format!("{repo}:from-config")));
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{repo}@{index}")
    );
}

fn base64_encode(text: &str) -> String {
    let out = run(Command::new("sh").args(["-c", "printf %s \"$1\" | base64 -w0", "sh", text]));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What the bearer registry holds and saw.
#[derive(Default)]
struct Fake {
    blobs: HashMap<String, Vec<u8>>,
    uploads: HashMap<String, Vec<u8>>,
    manifests: HashMap<String, (String, Vec<u8>)>,
    token_requests: Vec<String>,
    unauthorized: usize,
}

/// A registry that answers everything under /v2/ with 401 and a Bearer
/// challenge unless the request carries the token its realm hands out
/// for the right basic credentials and a push scope.
fn start_bearer_registry() -> (u16, Arc<Mutex<Fake>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let state = Arc::new(Mutex::new(Fake::default()));
    let shared = Arc::clone(&state);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let state = Arc::clone(&shared);
            std::thread::spawn(move || {
                let _ = serve(stream, port, &state);
            });
        }
    });
    (port, state)
}

fn serve(stream: TcpStream, port: u16, state: &Mutex<Fake>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (method, target) = (
            parts.next().unwrap_or("").to_owned(),
            parts.next().unwrap_or("").to_owned(),
        );
        let mut headers = HashMap::new();
        loop {
            let mut header = String::new();
            reader.read_line(&mut header)?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((k, v)) = header.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let length: usize = headers
            .get("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let (status, extra, reply) = answer(
            &method,
            &target,
            &headers,
            body,
            port,
            &mut state.lock().unwrap(),
        );
        let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", reply.len());
        for (k, v) in extra {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        if method != "HEAD" {
            stream.write_all(&reply)?;
        }
    }
}

const TOKEN: &str = "kiln-test-token";

fn answer(
    method: &str,
    target: &str,
    headers: &HashMap<String, String>,
    body: Vec<u8>,
    port: u16,
    fake: &mut Fake,
) -> (&'static str, Vec<(String, String)>, Vec<u8>) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path == "/token" {
        fake.token_requests.push(query.to_owned());
        let basic = format!("Basic {}", base64_encode("kiln:t0ken-pw"));
        if headers.get("authorization") != Some(&basic) || !query.contains("push") {
            return (
                "401 Unauthorized",
                vec![],
                br#"{"errors":[{"code":"DENIED","message":"bad credentials"}]}"#.to_vec(),
            );
        }
        return (
            "200 OK",
            vec![],
            format!(r#"{{"token":"{TOKEN}"}}"#).into_bytes(),
        );
    }
    if headers.get("authorization").map(String::as_str) != Some(&format!("Bearer {TOKEN}")) {
        fake.unauthorized += 1;
        let challenge = format!(
            r#"Bearer realm="http://127.0.0.1:{port}/token",service="fake-registry",scope="repository:app:pull""#
        );
        return (
            "401 Unauthorized",
            vec![("WWW-Authenticate".into(), challenge)],
            br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#.to_vec(),
        );
    }
    let digest_param = query
        .split('&')
        .find_map(|p| p.strip_prefix("digest="))
        .map(|d| d.replace("%3A", ":"));
    let segments: Vec<&str> = path.split('/').collect();
    match (method, segments.as_slice()) {
        ("GET", ["", "v2", ""]) => ("200 OK", vec![], b"{}".to_vec()),
        ("HEAD", ["", "v2", "app", "blobs", digest]) => {
            if fake.blobs.contains_key(*digest) {
                ("200 OK", vec![], vec![])
            } else {
                ("404 Not Found", vec![], vec![])
            }
        }
        ("POST", ["", "v2", "app", "blobs", "uploads", ""]) => {
            let id = format!("u{}", fake.uploads.len() + fake.blobs.len());
            fake.uploads.insert(id.clone(), Vec::new());
            (
                "202 Accepted",
                vec![("Location".into(), format!("/upload/{id}"))],
                vec![],
            )
        }
        ("PATCH", ["", "upload", id]) => {
            let upload = fake.uploads.get_mut(*id).expect("unknown upload");
            upload.extend(body);
            (
                "202 Accepted",
                vec![("Location".into(), format!("/upload/{id}"))],
                vec![],
            )
        }
        ("PUT", ["", "upload", id]) => {
            let mut bytes = fake.uploads.remove(*id).expect("unknown upload");
            bytes.extend(body);
            let digest = digest_param.expect("no digest");
            assert_eq!(sha256(&bytes), digest, "the blob's digest");
            fake.blobs.insert(digest.clone(), bytes);
            (
                "201 Created",
                vec![("Docker-Content-Digest".into(), digest)],
                vec![],
            )
        }
        ("HEAD", ["", "v2", "app", "manifests", reference]) => match fake.manifests.get(*reference)
        {
            Some((_, bytes)) => (
                "200 OK",
                vec![("Docker-Content-Digest".into(), sha256(bytes))],
                vec![],
            ),
            None => ("404 Not Found", vec![], vec![]),
        },
        ("PUT", ["", "v2", "app", "manifests", reference]) => {
            let media_type = headers.get("content-type").cloned().unwrap_or_default();
            let digest = sha256(&body);
            fake.manifests
                .insert((*reference).to_owned(), (media_type.clone(), body.clone()));
            fake.manifests.insert(digest.clone(), (media_type, body));
            (
                "201 Created",
                vec![("Docker-Content-Digest".into(), digest)],
                vec![],
            )
        }
        _ => ("404 Not Found", vec![], vec![]),
    }
}

#[test]
fn bearer_tokens_from_the_challenge_realm() {
    need_sandbox!();
    let env = Env::new();
    let (layout, index) = built_image(&env);
    let (port, fake) = start_bearer_registry();
    let repo = format!("127.0.0.1:{port}/app");
    let config = env.path().join("docker");
    fs_err::create_dir_all(&config).unwrap();
    let write_config = |password: &str| {
        fs_err::write(
            config.join("config.json"),
            format!(
                r#"{{"auths": {{"http://127.0.0.1:{port}": {{"username": "kiln", "password": "{password}"}}}}}}"#
            ),
        )
        .unwrap();
    };
    write_config("wrong");
    let out = run(env
        .kiln()
        .env("DOCKER_CONFIG", &config)
        .args(["image", "push", "--insecure"])
        .arg(&layout)
        .arg(&repo));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refused access (DENIED: bad credentials)"),
        "{stderr}"
    );

    write_config("t0ken-pw");
    let out = run(env
        .kiln()
        .env("DOCKER_CONFIG", &config)
        .args(["image", "push", "--insecure", "--chunk-size", "100"])
        .arg(&layout)
        .arg(&repo));
    assert!(out.status.success(), "{}", describe(&out));
    let fake = fake.lock().unwrap();
    assert_eq!(fake.blobs.len(), 4);
    let (media_type, bytes) = &fake.manifests["latest"];
    assert_eq!(media_type, "application/vnd.oci.image.index.v1+json");
    assert_eq!(sha256(bytes), index);
    assert!(fake.manifests.contains_key("1.0"));
    let scope = fake.token_requests.last().unwrap();
    assert!(
        scope.contains("scope=repository%3Aapp%3Apull%2Cpush"),
        "{scope}"
    );
    assert!(scope.contains("service=fake-registry"), "{scope}");
}

#[test]
fn an_export_is_a_docker_archive_skopeo_reads() {
    need_sandbox!();
    let env = Env::new();
    let (layout, index) = built_image(&env);
    let index: Value = serde_json::from_slice(
        &fs_err::read(
            layout
                .join("blobs/sha256")
                .join(index.trim_start_matches("sha256:")),
        )
        .unwrap(),
    )
    .unwrap();
    for (platform, position) in [("linux/amd64", 0), ("linux/arm64", 1)] {
        let archive = env
            .path()
            .join(format!("{}.tar", platform.replace('/', "-")));
        let export = |to: &Path| {
            let out = run(env
                .kiln()
                .args(["image", "export", "--platform", platform])
                .args(["--tag", "localhost/app:exported", "-o"])
                .arg(to)
                .arg(&layout));
            assert!(out.status.success(), "{}", describe(&out));
        };
        export(&archive);
        // The same image gives the same archive.
        let again = env.path().join("again.tar");
        export(&again);
        assert_eq!(
            fs_err::read(&archive).unwrap(),
            fs_err::read(&again).unwrap()
        );
        let out = run(Command::new("tar")
            .arg("-xOf")
            .arg(&archive)
            .arg("manifest.json"));
        let archived: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(archived[0]["RepoTags"][0], "localhost/app:exported");
        if have("skopeo") {
            let out = run(Command::new("skopeo")
                .arg("inspect")
                .arg(format!("docker-archive:{}", archive.display())));
            assert!(out.status.success(), "{}", describe(&out));
            let inspected: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(
                inspected["Architecture"],
                platform.rsplit('/').next().unwrap()
            );
            let manifest_digest = index["manifests"][position]["digest"].as_str().unwrap();
            let manifest: Value = serde_json::from_slice(
                &fs_err::read(
                    layout
                        .join("blobs/sha256")
                        .join(manifest_digest.trim_start_matches("sha256:")),
                )
                .unwrap(),
            )
            .unwrap();
            // The archive carries the very config the layout has.
            let config_digest = manifest["config"]["digest"].as_str().unwrap();
            let name = format!("{}.json", config_digest.trim_start_matches("sha256:"));
            let out = run(Command::new("tar").arg("-xOf").arg(&archive).arg(&name));
            assert!(out.status.success(), "{}", describe(&out));
            assert_eq!(sha256(&out.stdout), config_digest);
            assert_eq!(archived[0]["Config"], name);
        }
    }
    let out = run(env
        .kiln()
        .args([
            "image",
            "export",
            "--platform",
            "linux/s390x",
            "-o",
            "x.tar",
        ])
        .arg(&layout));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("has no `linux/s390x` manifest; it has linux/amd64, linux/arm64/v8"),
        "{stderr}"
    );
    assert!(!env.path().join("x.tar").exists());
}
