//! Fetching from a loopback HTTP server started by each test; no other
//! host is contacted (except by the one `#[ignore]`d test of the real
//! crates.io through the system's CA store).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::hash::Encoding;

/// A request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    path: String,
    range: Option<u64>,
}

/// What the server answers.
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    /// The announced length, when it differs from what is sent.
    content_length: Option<usize>,
}

impl Reply {
    fn ok(body: &[u8]) -> Reply {
        Reply {
            status: 200,
            headers: Vec::new(),
            body: body.to_vec(),
            content_length: None,
        }
    }

    fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: b"no".to_vec(),
            content_length: None,
        }
    }

    /// Announces all of `body` but sends only `sent` bytes of it.
    fn truncated(body: &[u8], sent: usize) -> Reply {
        Reply {
            status: 200,
            headers: Vec::new(),
            body: body[..sent].to_vec(),
            content_length: Some(body.len()),
        }
    }

    /// Answers a range request from `start` with the rest of `body`.
    fn rest(body: &[u8], start: usize) -> Reply {
        let range = format!("bytes {start}-{}/{}", body.len() - 1, body.len());
        Reply {
            status: 206,
            headers: vec![("Content-Range", range)],
            body: body[start..].to_vec(),
            content_length: None,
        }
    }
}

type Handler = Box<dyn Fn(&Seen, usize) -> Reply + Send>;

/// A tiny HTTP/1.1 server on 127.0.0.1: one connection at a time, one
/// request per connection. The handler gets the request and how many
/// requests for the same path came before it.
struct Server {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    fn start(handler: impl Fn(&Seen, usize) -> Reply + Send + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let handler: Handler = Box::new(handler);
        std::thread::spawn(move || {
            let mut counts: HashMap<String, usize> = HashMap::new();
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let Some(request) = read_request(&stream) else {
                    continue;
                };
                let count = counts.entry(request.path.clone()).or_default();
                let reply = handler(&request, *count);
                *count += 1;
                log.lock().unwrap().push(request);
                write_reply(stream, &reply);
            }
        });
        Server { addr, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn read_request(stream: &TcpStream) -> Option<Seen> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_owned();
    let mut range = None;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some(value) = header
            .strip_prefix("range: bytes=")
            .or_else(|| header.strip_prefix("Range: bytes="))
        {
            range = value.trim_end_matches('-').parse().ok();
        }
    }
    Some(Seen { path, range })
}

fn write_reply(mut stream: TcpStream, reply: &Reply) {
    let length = reply.content_length.unwrap_or(reply.body.len());
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Length: {length}\r\nConnection: close\r\n",
        reply.status
    );
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    // The client may hang up early (a 404 body it does not read).
    let _ = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(&reply.body));
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

fn fetcher() -> Fetcher {
    let config = FetchConfig {
        connect_timeout: Duration::from_secs(5),
        stall_timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            tries: 4,
            initial_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            retry_after_cap: Duration::from_millis(50),
        },
        proxy_from_env: false,
        ca_files: Vec::new(),
    };
    Fetcher::new(&config).unwrap()
}

fn flat(data: &[u8]) -> FixedOutputHash {
    FixedOutputHash {
        method: FileIngestionMethod::Flat,
        hash: Hash::sha256(data),
    }
}

fn request(urls: &[String], expected: FixedOutputHash) -> FetchRequest {
    FetchRequest {
        urls: urls.to_vec(),
        expected,
        executable: false,
    }
}

/// Asserts that `dir` is empty: no output, no temporary.
fn assert_empty(dir: &Path) {
    let left: Vec<_> = fs_err::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

const DATA: &[u8] = b"the pinned contents of a file, long enough to be cut in two";

#[test]
fn correct_hash_writes_the_output() {
    let server = Server::start(|_, _| Reply::ok(DATA));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let hash = fetcher()
        .fetch(&request(&[server.url("/f")], flat(DATA)), &out, &NoReporter)
        .unwrap();
    assert_eq!(hash, Hash::sha256(DATA));
    assert_eq!(fs_err::read(&out).unwrap(), DATA);
    assert_eq!(
        fs_err::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o644
    );
    assert_eq!(
        fs_err::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary is left"
    );
}

#[test]
fn wrong_hash_is_a_clear_error_and_leaves_nothing() {
    let server = Server::start(|_, _| Reply::ok(b"something else"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let url = server.url("/f");
    let error = fetcher()
        .fetch(
            &request(std::slice::from_ref(&url), flat(DATA)),
            &out,
            &NoReporter,
        )
        .unwrap_err();
    let mismatch = error.mismatch().expect("a mismatch");
    assert_eq!(mismatch.wanted, Hash::sha256(DATA));
    assert_eq!(mismatch.got, Hash::sha256(b"something else"));
    assert_eq!(mismatch.url, url);
    let message = error.to_string();
    for hash in [mismatch.wanted, mismatch.got] {
        assert!(message.contains(&hash.to_sri()), "{message}");
        assert!(
            message.contains(&hash.encode_with_algo(Encoding::Nixbase32)),
            "{message}"
        );
    }
    let wanted = message.lines().find(|l| l.contains("wanted:")).unwrap();
    let got = message.lines().find(|l| l.contains("got:")).unwrap();
    assert_eq!(
        wanted.find("sha256-"),
        got.find("sha256-"),
        "aligned:\n{message}"
    );
    assert_empty(dir.path());
    assert_eq!(server.seen().len(), 1, "a mismatch is not retried");
}

#[test]
fn a_missing_mirror_moves_on_to_the_next() {
    let server = Server::start(|seen, _| {
        if seen.path == "/gone" {
            Reply::status(404)
        } else {
            Reply::ok(DATA)
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let urls = [server.url("/gone"), server.url("/good")];
    fetcher()
        .fetch(&request(&urls, flat(DATA)), &out, &NoReporter)
        .unwrap();
    assert_eq!(fs_err::read(&out).unwrap(), DATA);
    let paths: Vec<_> = server.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(paths, ["/gone", "/good"], "a 404 is not retried");
}

#[test]
fn server_errors_are_retried() {
    let server = Server::start(|_, count| {
        if count < 2 {
            Reply::status(500)
        } else {
            Reply::ok(DATA)
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    fetcher()
        .fetch(&request(&[server.url("/f")], flat(DATA)), &out, &NoReporter)
        .unwrap();
    assert_eq!(fs_err::read(&out).unwrap(), DATA);
    assert_eq!(server.seen().len(), 3);
}

#[test]
fn retry_after_is_honoured() {
    let server = Server::start(|_, count| {
        if count == 0 {
            let mut reply = Reply::status(429);
            reply.headers.push(("Retry-After", "0".to_owned()));
            reply
        } else {
            Reply::ok(DATA)
        }
    });
    let dir = tempfile::tempdir().unwrap();
    fetcher()
        .fetch(
            &request(&[server.url("/f")], flat(DATA)),
            &dir.path().join("out"),
            &NoReporter,
        )
        .unwrap();
    assert_eq!(server.seen().len(), 2);
}

#[test]
fn a_broken_off_body_is_resumed_with_a_range() {
    let server = Server::start(|seen, _| match seen.range {
        None => Reply::truncated(DATA, 20),
        Some(start) => Reply::rest(DATA, start as usize),
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    fetcher()
        .fetch(&request(&[server.url("/f")], flat(DATA)), &out, &NoReporter)
        .unwrap();
    assert_eq!(fs_err::read(&out).unwrap(), DATA);
    let ranges: Vec<_> = server.seen().into_iter().map(|s| s.range).collect();
    assert_eq!(ranges, [None, Some(20)]);
}

#[test]
fn a_body_that_always_breaks_off_fails_cleanly() {
    // The server ignores ranges and always sends half.
    let server = Server::start(|_, _| Reply::truncated(DATA, 20));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let error = fetcher()
        .fetch(&request(&[server.url("/f")], flat(DATA)), &out, &NoReporter)
        .unwrap_err();
    let FetchError::AllFailed { failures } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].tries, 4);
    assert!(
        matches!(
            failures[0].failure,
            Failure::Body { .. } | Failure::Truncated { .. }
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("(after 4 tries)") && message.contains("/f"),
        "{message}"
    );
    assert_empty(dir.path());
    assert_eq!(server.seen().len(), 4);
}

#[test]
fn every_failure_is_listed() {
    let server = Server::start(|seen, _| match seen.path.as_str() {
        "/busy" => Reply::status(503),
        "/gone" => Reply::status(410),
        _ => Reply::ok(b"wrong"),
    });
    // A port nobody listens on: connection refused.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let urls = [
        server.url("/busy"),
        server.url("/gone"),
        format!("http://{closed}/x"),
        server.url("/bad"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let error = fetcher()
        .fetch(
            &request(&urls, flat(DATA)),
            &dir.path().join("out"),
            &NoReporter,
        )
        .unwrap_err();
    let message = error.to_string();
    let lines: Vec<_> = message.lines().collect();
    assert!(lines[0].contains("every URL failed"), "{message}");
    assert!(
        lines[1].contains("/busy")
            && lines[1].contains("after 4 tries")
            && lines[1].contains("503"),
        "{message}"
    );
    assert!(
        lines[2].contains("/gone") && lines[2].contains("not found (HTTP 410)"),
        "{message}"
    );
    assert!(
        lines[3].contains(&closed.to_string()) && lines[3].contains("after 4 tries"),
        "{message}"
    );
    assert!(
        lines[4].contains("/bad") && lines[4].contains("hash mismatch"),
        "{message}"
    );
    assert!(
        lines[5].contains("wanted:") && lines[6].contains("got:"),
        "{message}"
    );
    assert_empty(dir.path());
}

#[test]
fn recursive_hashes_cover_the_executable_bit() {
    let server = Server::start(|_, _| Reply::ok(DATA));
    let mut nar = Vec::new();
    crate::nar::dump_regular(true, DATA.len() as u64, DATA, &mut nar).unwrap();
    let expected = FixedOutputHash {
        method: FileIngestionMethod::Recursive,
        hash: Hash::sha256(&nar),
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut request = request(&[server.url("/f")], expected.clone());
    // Without the executable bit the NAR differs.
    let error = fetcher().fetch(&request, &out, &NoReporter).unwrap_err();
    assert!(error.mismatch().is_some(), "{error:?}");
    request.executable = true;
    fetcher().fetch(&request, &out, &NoReporter).unwrap();
    assert_eq!(
        fs_err::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o755
    );
}

#[test]
fn progress_is_reported() {
    #[derive(Default)]
    struct Log(Mutex<Vec<String>>);
    impl FetchReporter for Log {
        fn on_start(&self, _: &str, total: Option<u64>) {
            self.0.lock().unwrap().push(format!("start {total:?}"));
        }
        fn on_done(&self, _: &str, bytes: u64) {
            self.0.lock().unwrap().push(format!("done {bytes}"));
        }
    }
    let server = Server::start(|_, _| Reply::ok(DATA));
    let dir = tempfile::tempdir().unwrap();
    let log = Log::default();
    fetcher()
        .fetch(
            &request(&[server.url("/f")], flat(DATA)),
            &dir.path().join("out"),
            &log,
        )
        .unwrap();
    let len = DATA.len();
    assert_eq!(
        *log.0.lock().unwrap(),
        [format!("start Some({len})"), format!("done {len}")]
    );
}

/// Downloads a real crate from static.crates.io through the system's CA
/// store (a TLS-intercepting CA on the development machines), checking it
/// against the sha256 that index.crates.io publishes.
#[test]
#[cfg(feature = "unpack")]
#[ignore = "needs the network: cargo test -p kiln-store fetch::tests::real -- --ignored"]
fn real_crate_from_crates_io() {
    let config = FetchConfig::from_env();
    let client = http::client(&config).unwrap();
    let index = client
        .get("https://index.crates.io/it/oa/itoa")
        .send()
        .unwrap()
        .text()
        .unwrap();
    let value = index
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|value| value["vers"] == "1.0.11")
        .expect("itoa 1.0.11 in the index");
    let cksum = value["cksum"].as_str().unwrap();
    let hash = Hash::parse(cksum, Some(crate::hash::HashAlgo::Sha256)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("itoa-1.0.11.crate");
    let urls = ["https://static.crates.io/crates/itoa/itoa-1.0.11.crate".to_owned()];
    let expected = FixedOutputHash {
        method: FileIngestionMethod::Flat,
        hash,
    };
    Fetcher::new(&config)
        .unwrap()
        .fetch(&request(&urls, expected), &out, &NoReporter)
        .unwrap();
    let unpacked = dir.path().join("itoa");
    crate::unpack::unpack(&out, "itoa-1.0.11.crate", &unpacked, &Default::default()).unwrap();
    assert!(unpacked.join("Cargo.toml").is_file() && unpacked.join("src/lib.rs").is_file());
}
