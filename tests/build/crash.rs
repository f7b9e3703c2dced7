//! Crash safety: SIGKILL `kiln build` at 20 random moments while it
//! downloads (a slow loopback server), builds and registers; after each
//! kill `kiln store verify --check-contents` finds nothing wrong, and a
//! final run finishes the job with the output paths evaluation predicts.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use kiln_store::hash::Hash;

use super::fetch::{FETCH, Route, serve};
use super::{Env, describe, need_sandbox};

/// A small deterministic generator (no `rand` in the test dependencies).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound
    }
}

#[test]
fn sigkill_at_random_moments_leaves_a_consistent_store() {
    need_sandbox!();
    let env = Env::new();
    // 4 MiB at 64 KiB per 10 ms: about 0.7 s of download.
    let big: Vec<u8> = (0..4 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let hash = Hash::sha256(&big).to_sri();
    let base = serve(HashMap::from([(
        "/big".to_owned(),
        Route {
            body: Arc::new(big),
            delay: Some(Duration::from_millis(10)),
        },
    )]));
    env.nix(
        "crash.nix",
        &format!(
            r#"let {FETCH} in rec {{
  big = fetch "big" [ "{base}/big" ] "{hash}";
  parts = builtins.genList (i: mk {{
    name = "part-${{toString i}}";
    script = "mkdir $out; head -c 2000000 /dev/zero > $out/zeros; cat $deps > $out/copy; echo $deps > $out/src; echo ${{toString i}} > $out/n";
    deps = [ big ];
  }}) 4;
  top = mk {{ name = "top"; script = "echo $deps > $out"; deps = parts; }};
}}"#
        ),
    );
    let top = env.out_path("crash.nix", Some("top"));
    env.instantiate("crash.nix", &["-A", "top"]);
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    let mut random = Lcg(seed);
    let started = Instant::now();
    let mut kills = Vec::new();
    for round in 0..20 {
        // The first rounds kill early (downloading), later ones anywhere.
        let delay = Duration::from_millis(random.below(if round < 8 { 900 } else { 1800 }));
        let mut child = env
            .kiln()
            .args(["build", "--no-link", "-j2", "crash.nix", "-A", "top"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let finished = child.try_wait().unwrap().is_some();
        let _ = child.kill();
        let _ = child.wait();
        kills.push((delay.as_millis(), finished));
        env.assert_verified();
        if started.elapsed() > Duration::from_secs(60) {
            break;
        }
    }
    let (paths, _) = env.build_ok("crash.nix", &["-A", "top"]);
    assert_eq!(paths, [top], "seed {seed}, kills {kills:?}");
    env.assert_verified();
    let out = crate::util::run(env.kiln().args(["path-info", "-r", &paths[0]]));
    assert!(out.status.success(), "{}", describe(&out));
    // top, 4 parts, big.
    assert_eq!(super::lines(&out.stdout).len(), 6, "seed {seed}");
}
