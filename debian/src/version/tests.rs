//! Version order: fixed cases from Debian policy and dpkg's own tests, and
//! a differential run against `dpkg --compare-versions` (skipped, with a
//! note, where dpkg is not installed).

use std::cmp::Ordering;
use std::process::Command;

use super::*;

fn v(text: &str) -> Version {
    Version::parse(text).unwrap()
}

#[test]
fn parts() {
    let version = v("2:1.97.1+dfsg1-1~exp2");
    assert_eq!(version.epoch(), 2);
    assert_eq!(version.upstream(), "1.97.1+dfsg1");
    assert_eq!(version.revision(), "1~exp2");
    let version = v("1.2-3-4");
    assert_eq!(version.upstream(), "1.2-3");
    assert_eq!(version.revision(), "4");
    let version = v("7");
    assert_eq!(
        (version.epoch(), version.upstream(), version.revision()),
        (0, "7", "")
    );
}

#[test]
fn invalid() {
    assert!(matches!(
        Version::parse(""),
        Err(VersionError::Empty { .. })
    ));
    assert!(matches!(
        Version::parse("1:-2"),
        Err(VersionError::Empty { .. })
    ));
    assert!(matches!(
        Version::parse("x:1"),
        Err(VersionError::BadEpoch { .. })
    ));
    assert!(matches!(
        Version::parse("1.0 beta"),
        Err(VersionError::BadCharacter { character: ' ', .. })
    ));
}

#[test]
fn known_orders() {
    let less = [
        ("1.0~rc1", "1.0"),
        ("1.0~~", "1.0~"),
        ("1.0~~a", "1.0~"),
        ("1.0", "1.0a"),
        ("1.0a", "1.0+"),
        ("1.0", "1.0.1"),
        ("1.9", "1.10"),
        ("1:0.1", "2:0.0"),
        ("9", "1:1"),
        ("1.0-1", "1.0-2"),
        ("1.0-9", "1.0-10"),
        ("1.0-1", "1.0.1-1"),
        ("2.0~beta-1", "2.0-1"),
        ("1.97.1+dfsg1-1", "1.97.1+dfsg1-1+b1"),
        ("1.25.0+dfsg1-2~~", "1.25.0+dfsg1-2~"),
        ("a", "b"),
        ("1.0-", "1.0-a"),
    ];
    for (a, b) in less {
        assert_eq!(v(a).cmp(&v(b)), Ordering::Less, "{a} < {b}");
        assert_eq!(v(b).cmp(&v(a)), Ordering::Greater, "{b} > {a}");
    }
    let equal = [
        ("1.0", "0:1.0"),
        ("1.0", "1.0-0"),
        ("1.0", "1.00"),
        ("1.001", "1.1"),
        ("0:1-0", "1"),
    ];
    for (a, b) in equal {
        assert_eq!(v(a), v(b), "{a} = {b}");
    }
}

/// A small deterministic generator (xorshift), so the differential run
/// needs no random-number crate and fails the same way every time.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick(&mut self, from: &[u8]) -> char {
        char::from(from[(self.next() % from.len() as u64) as usize])
    }

    fn part(&mut self, first_digit: bool) -> String {
        const CHARS: &[u8] = b"0123456789000111~~~..++ab";
        let len = 1 + self.next() % 6;
        let mut text = String::new();
        if first_digit {
            text.push(self.pick(b"0123456789"));
        }
        for _ in 0..len {
            text.push(self.pick(CHARS));
        }
        text
    }

    fn version(&mut self) -> String {
        let mut text = String::new();
        if self.next().is_multiple_of(4) {
            text.push_str(&format!("{}:", self.next() % 3));
        }
        text.push_str(&self.part(true));
        if self.next().is_multiple_of(2) {
            text.push('-');
            text.push_str(&self.part(false));
        }
        text
    }
}

fn dpkg_says(a: &str, op: &str, b: &str) -> Option<bool> {
    let out = Command::new("dpkg")
        .args(["--compare-versions", a, op, b])
        .output()
        .ok()?;
    Some(out.status.success())
}

#[test]
#[expect(
    clippy::print_stderr,
    reason = "a skipped differential test must say so"
)]
fn differential_against_dpkg() {
    if dpkg_says("1", "lt", "2") != Some(true) {
        eprintln!("note: dpkg not found; skipping the differential version test");
        return;
    }
    let mut generator = Gen(0x9e37_79b9_7f4a_7c15);
    let mut pairs: Vec<(String, String)> = Vec::new();
    for _ in 0..300 {
        let a = generator.version();
        // Often compare with a near neighbour: the interesting cases.
        let b = if generator.next().is_multiple_of(3) {
            let mut b = a.clone();
            b.push(generator.pick(b"~0a.+1"));
            b
        } else {
            generator.version()
        };
        pairs.push((a, b));
    }
    for (a, b) in &pairs {
        let ours = v(a).cmp(&v(b));
        let lt = dpkg_says(a, "lt", b).unwrap_or_default();
        let eq = dpkg_says(a, "eq", b).unwrap_or_default();
        let theirs = match (lt, eq) {
            (true, _) => Ordering::Less,
            (false, true) => Ordering::Equal,
            (false, false) => Ordering::Greater,
        };
        assert_eq!(ours, theirs, "comparing `{a}` with `{b}`");
    }
}
