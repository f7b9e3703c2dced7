//! Fixed-output fetches through `kiln build`, from an HTTP server on
//! loopback: a correct hash registers the file, a wrong one registers
//! nothing and shows both hashes, a 404 mirror falls through to the next,
//! and `builtin:unpack-v1` rejects a tarball that escapes its output.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use kiln_store::hash::Hash;

use super::{Env, describe, need_sandbox};
use crate::util::run;

/// What the server answers for one path.
#[derive(Clone)]
pub struct Route {
    pub body: Arc<Vec<u8>>,
    /// A pause after each 64 KiB, to make a download slow.
    pub delay: Option<Duration>,
}

/// Serves `routes` on 127.0.0.1 (404 for anything else) from background
/// threads, forever; returns the base URL.
pub fn serve(routes: HashMap<String, Route>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let routes = Arc::new(routes);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let routes = Arc::clone(&routes);
            std::thread::spawn(move || answer(stream, &routes));
        }
    });
    format!("http://127.0.0.1:{port}")
}

/// A server from [`serve_stoppable`]; dropping it closes its port.
pub struct Server {
    pub base: String,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Like [`serve`], until the returned [`Server`] is dropped: then nothing
/// listens on its port any more.
pub fn serve_stoppable(routes: HashMap<String, Route>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let routes = Arc::new(routes);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    let thread = std::thread::spawn(move || {
        while !stopped.load(std::sync::atomic::Ordering::SeqCst) {
            match listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false).unwrap();
                    let routes = Arc::clone(&routes);
                    std::thread::spawn(move || answer(stream, &routes));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    Server {
        base: format!("http://127.0.0.1:{port}"),
        stop,
        thread: Some(thread),
    }
}

fn answer(mut stream: std::net::TcpStream, routes: &HashMap<String, Route>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => return,
            Ok(_) if header == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let Some(route) = routes.get(&path) else {
        let _ = stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        route.body.len()
    );
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    for chunk in route.body.chunks(64 * 1024) {
        if stream.write_all(chunk).is_err() {
            return;
        }
        if let Some(delay) = route.delay {
            std::thread::sleep(delay);
        }
    }
}

/// The Nix function `fetch name urls hash` (a flat SHA-256 fixed output).
pub const FETCH: &str = r#"fetch = name: urls: hash: derivation {
    inherit name urls;
    system = "builtin";
    builder = "builtin:fetchurl";
    outputHash = hash;
    outputHashAlgo = "sha256";
    outputHashMode = "flat";
  };"#;

pub fn route(body: &[u8]) -> Route {
    Route {
        body: Arc::new(body.to_vec()),
        delay: None,
    }
}

#[test]
fn fetches_register_good_downloads_and_nothing_else() {
    need_sandbox!();
    let env = Env::new();
    let good = b"the file the recipe pinned\n".to_vec();
    let base = serve(HashMap::from([("/file".to_owned(), route(&good))]));
    let hash = Hash::sha256(&good).to_sri();
    let wrong = Hash::sha256(b"something else").to_sri();
    env.nix(
        "fetch.nix",
        &format!(
            r#"let {FETCH} in {{
  good = fetch "good" [ "{base}/file" ] "{hash}";
  mirrors = fetch "mirrors" [ "{base}/missing" "{base}/file" ] "{hash}";
  wrong = fetch "wrong" [ "{base}/file" ] "{wrong}";
}}"#
        ),
    );
    for attr in ["good", "mirrors"] {
        let (paths, _) = env.build_ok("fetch.nix", &["-A", attr]);
        assert_eq!(fs_err::read(env.physical(&paths[0])).unwrap(), good);
        let info = run(env.kiln().args(["path-info", "--json", &paths[0]]));
        let info = String::from_utf8_lossy(&info.stdout);
        assert!(info.contains(r#""ca":"fixed:sha256:"#), "{info}");
    }
    let out = env.build("fetch.nix", &["-A", "wrong"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&wrong), "{stderr}");
    assert!(stderr.contains(&hash), "{stderr}");
    assert!(
        stderr.contains("wanted") && stderr.contains("got"),
        "{stderr}"
    );
    assert!(!env.valid(&env.out_path("fetch.nix", Some("wrong"))));
    env.assert_verified();
}

/// Returns a ustar archive of `(name, type, link target, contents)`.
fn tar(entries: &[(&str, u8, &str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, kind, link, contents) in entries {
        let mut header = [0u8; 512];
        let put = |header: &mut [u8; 512], at: usize, bytes: &[u8]| {
            header[at..at + bytes.len()].copy_from_slice(bytes);
        };
        put(&mut header, 0, name.as_bytes());
        put(&mut header, 100, b"0000644\0");
        put(&mut header, 108, b"0000000\0");
        put(&mut header, 116, b"0000000\0");
        put(
            &mut header,
            124,
            format!("{:011o}\0", contents.len()).as_bytes(),
        );
        put(&mut header, 136, b"00000000000\0");
        put(&mut header, 148, b"        ");
        header[156] = *kind;
        put(&mut header, 157, link.as_bytes());
        put(&mut header, 257, b"ustar\0");
        put(&mut header, 263, b"00");
        let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
        put(&mut header, 148, format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(contents);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

#[test]
fn unpack_rejects_a_tarball_that_escapes_its_output() {
    need_sandbox!();
    let env = Env::new();
    fs_err::write(
        env.path().join("fine.tar"),
        tar(&[("dir/file", b'0', "", b"ok\n")]),
    )
    .unwrap();
    fs_err::write(
        env.path().join("dotdot.tar"),
        tar(&[("dir/../../escape", b'0', "", b"out!\n")]),
    )
    .unwrap();
    fs_err::write(
        env.path().join("link.tar"),
        tar(&[
            ("up", b'2', "../..", b""),
            ("up/escape", b'0', "", b"out!\n"),
        ]),
    )
    .unwrap();
    env.nix(
        "unpack.nix",
        r#"let unpack = name: src: derivation {
    inherit name src;
    system = "builtin";
    builder = "builtin:unpack-v1";
  }; in {
  fine = unpack "fine" ./fine.tar;
  dotdot = unpack "dotdot" ./dotdot.tar;
  link = unpack "link" ./link.tar;
}"#,
    );
    let (paths, _) = env.build_ok("unpack.nix", &["-A", "fine"]);
    assert_eq!(
        fs_err::read(env.physical(&paths[0]).join("dir/file")).unwrap(),
        b"ok\n"
    );
    for attr in ["dotdot", "link"] {
        let out = env.build("unpack.nix", &["-A", attr]);
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        let failures = super::events(&out.stderr)
            .into_iter()
            .filter(|e| e["event"] == "fail")
            .map(|e| e["error"].as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>();
        assert_eq!(failures.len(), 1, "{}", describe(&out));
        assert!(
            failures[0].contains("`..`") || failures[0].contains("leads out of"),
            "{failures:?}"
        );
        assert!(!env.valid(&env.out_path("unpack.nix", Some(attr))));
    }
    assert!(!env.path().join("escape").exists());
    env.assert_verified();
}
