//! Version strings: `splitVersion`, `compareVersions`, `parseDrvName`,
//! with Nix's component rules (digits vs. non-digits, `pre` sorts first).

use std::cmp::Ordering;

use super::{Entry, R, arity};
use crate::machine::Machine;
use crate::syntax::Pos;
use crate::value::{Attrs, Sym, Value};

pub(crate) const PRIMOPS: &[Entry] = &[
    ("splitVersion", 1, split_version),
    ("compareVersions", 2, compare_versions),
    ("parseDrvName", 1, parse_drv_name),
];

/// Returns the next version component at `*p`, skipping separators.
fn next_component<'a>(s: &'a str, p: &mut usize) -> &'a str {
    let b = s.as_bytes();
    while b.get(*p).is_some_and(|&c| c == b'.' || c == b'-') {
        *p += 1;
    }
    let start = *p;
    match b.get(*p) {
        None => return "",
        Some(c) if c.is_ascii_digit() => {
            while b.get(*p).is_some_and(u8::is_ascii_digit) {
                *p += 1;
            }
        }
        Some(_) => {
            while b
                .get(*p)
                .is_some_and(|&c| !c.is_ascii_digit() && c != b'.' && c != b'-')
            {
                *p += 1;
            }
        }
    }
    s.get(start..*p).unwrap_or("")
}

fn as_int(c: &str) -> Option<i32> {
    if c.is_empty() || !c.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    c.parse().ok()
}

fn components_lt(c1: &str, c2: &str) -> bool {
    let (n1, n2) = (as_int(c1), as_int(c2));
    match (n1, n2) {
        (Some(a), Some(b)) => a < b,
        _ if c1.is_empty() && n2.is_some() => true,
        _ if c1 == "pre" && c2 != "pre" => true,
        _ if c2 == "pre" => false,
        (_, Some(_)) => true,
        (Some(_), _) => false,
        _ => c1.as_bytes() < c2.as_bytes(),
    }
}

/// Compares two version strings as Nix does.
pub fn compare(v1: &str, v2: &str) -> Ordering {
    let (mut p1, mut p2) = (0, 0);
    while p1 < v1.len() || p2 < v2.len() {
        let c1 = next_component(v1, &mut p1);
        let c2 = next_component(v2, &mut p2);
        if components_lt(c1, c2) {
            return Ordering::Less;
        }
        if components_lt(c2, c1) {
            return Ordering::Greater;
        }
    }
    Ordering::Equal
}

fn split_version(m: &mut Machine, args: &[Value]) -> R {
    let [v] = args else { return Err(arity()) };
    let s = m.coerce_to_plain_string(
        v,
        crate::machine::CoerceMode::Interpolate { copy: true },
        Pos::NONE,
    )?;
    let mut p = 0;
    let mut out = Vec::new();
    while p < s.len() {
        let c = next_component(&s, &mut p);
        if c.is_empty() {
            break;
        }
        out.push(Value::string(c));
    }
    Ok(Value::list(out))
}

fn compare_versions(m: &mut Machine, args: &[Value]) -> R {
    let [a, b] = args else { return Err(arity()) };
    let a = m.force_string_no_context(a, Pos::NONE)?;
    let b = m.force_string_no_context(b, Pos::NONE)?;
    Ok(Value::Int(match compare(&a, &b) {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }))
}

/// Splits `name-version` at the first `-` not followed by a letter.
pub fn split_drv_name(s: &str) -> (&str, &str) {
    let b = s.as_bytes();
    for i in 0..b.len() {
        if b[i] == b'-' && b.get(i + 1).is_some_and(|c| !c.is_ascii_alphabetic()) {
            return (s.get(..i).unwrap_or(s), s.get(i + 1..).unwrap_or(""));
        }
    }
    (s, "")
}

fn parse_drv_name(m: &mut Machine, args: &[Value]) -> R {
    let [v] = args else { return Err(arity()) };
    let s = m.coerce_to_plain_string(
        v,
        crate::machine::CoerceMode::Interpolate { copy: true },
        Pos::NONE,
    )?;
    let (name, version) = parse_drv_name_str(&s);
    Ok(Value::attrs(Attrs::from_pairs([
        (Sym::new("name"), Value::string(name)),
        (Sym::new("version"), Value::string(version)),
    ])))
}

fn parse_drv_name_str(s: &str) -> (&str, &str) {
    split_drv_name(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(compare("1.0", "1.0.1"), Ordering::Less);
        assert_eq!(compare("2.3a", "2.3.1"), Ordering::Less);
        assert_eq!(compare("1.0pre1", "1.0"), Ordering::Less);
        assert_eq!(split_drv_name("nix-0.12pre12876"), ("nix", "0.12pre12876"));
    }
}
