//! Printing values exactly as `nix-instantiate --eval` 2.8 does, plus
//! `toJSON` ([`json`]) and `toXML` ([`xml`]).
//!
//! Unevaluated thunks print as `<CODE>`, functions as `<LAMBDA>`,
//! `<PRIMOP>` or `<PRIMOP-APP>`; a list or set met a second time prints as
//! `«repeated»`; floats use C++'s default stream format (`%g`, 6
//! significant digits); attribute names are quoted unless they are plain
//! identifiers (only the keyword `if` is quoted, as 2.8 does).

pub mod json;
pub mod xml;

use std::collections::HashSet;

use crate::error::Result;
use crate::machine::Machine;
use crate::value::{ThunkState, Value};

/// Prints a value; with `strict` it is deeply forced first.
pub fn print_value(machine: &mut Machine, v: &Value, strict: bool) -> Result<String> {
    let v = machine.force(v)?;
    if strict {
        machine.deep_force(&v)?;
    }
    let mut out = String::new();
    let mut seen = HashSet::new();
    print(&mut out, &v, &mut seen);
    Ok(out)
}

/// The value behind a thunk, if it has been evaluated.
fn settled(v: &Value) -> Option<Value> {
    match v {
        Value::Thunk(t) => match &*t.0.borrow() {
            ThunkState::Done(v) => Some(v.clone()),
            _ => None,
        },
        other => Some(other.clone()),
    }
}

fn print(out: &mut String, v: &Value, seen: &mut HashSet<usize>) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&format_float(*f)),
        Value::String(s) => escape_string(out, s.as_str()),
        Value::Path(p) => out.push_str(p),
        Value::Attrs(attrs) => {
            seen.insert(std::rc::Rc::as_ptr(attrs) as *const u8 as usize);
            out.push_str("{ ");
            for a in attrs.iter() {
                print_attr_name(out, a.name.as_str());
                out.push_str(" = ");
                print_child(out, &a.value, seen);
                out.push_str("; ");
            }
            out.push('}');
        }
        Value::List(items) => {
            seen.insert(std::rc::Rc::as_ptr(items) as *const u8 as usize);
            out.push_str("[ ");
            for item in items.iter() {
                print_child(out, item, seen);
                out.push(' ');
            }
            out.push(']');
        }
        Value::Lambda(_) => out.push_str("<LAMBDA>"),
        Value::PrimOp(_) => out.push_str("<PRIMOP>"),
        Value::PrimOpApp(_) => out.push_str("<PRIMOP-APP>"),
        Value::Thunk(_) => match settled(v) {
            Some(inner) => print(out, &inner, seen),
            None => out.push_str("<CODE>"),
        },
    }
}

/// Prints a list element or attribute value, checking for repeats the way
/// Nix does (by the identity of the value).
fn print_child(out: &mut String, v: &Value, seen: &mut HashSet<usize>) {
    let Some(inner) = settled(v) else {
        out.push_str("<CODE>");
        return;
    };
    let id = match &inner {
        Value::Attrs(a) => Some(std::rc::Rc::as_ptr(a) as *const u8 as usize),
        Value::List(l) => Some(std::rc::Rc::as_ptr(l) as *const u8 as usize),
        _ => None,
    };
    if let Some(id) = id
        && seen.contains(&id)
    {
        out.push_str("«repeated»");
        return;
    }
    print(out, &inner, seen);
}

/// Prints an attribute name, quoted unless it is a plain identifier.
pub fn print_attr_name(out: &mut String, name: &str) {
    if is_plain_identifier(name) && name != "if" {
        out.push_str(name);
    } else {
        escape_string(out, name);
    }
}

/// Whether a name prints without quotes: `[a-zA-Z_][a-zA-Z0-9_'-]*`.
pub fn is_plain_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '\'' | '-'))
}

/// Writes a string literal with Nix's escapes.
pub fn escape_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    // Every byte escaped is ASCII, so each run between them is whole UTF-8.
    let bytes = s.as_bytes();
    let mut plain = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            b'$' if bytes.get(i + 1) == Some(&b'{') => "\\$",
            _ => continue,
        };
        out.push_str(s.get(plain..i).unwrap_or_default());
        out.push_str(escape);
        plain = i + 1;
    }
    out.push_str(s.get(plain..).unwrap_or_default());
    out.push('"');
}

/// Formats a float as C++'s `std::ostream << double` does (like `%g`).
pub fn format_float(f: f64) -> String {
    format_g(f, 6)
}

/// `printf("%.{precision}g", f)`.
pub fn format_g(f: f64, precision: usize) -> String {
    if f.is_nan() {
        return if f.is_sign_negative() {
            "-nan".to_owned()
        } else {
            "nan".to_owned()
        };
    }
    if f.is_infinite() {
        return if f < 0.0 {
            "-inf".to_owned()
        } else {
            "inf".to_owned()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".to_owned()
        } else {
            "0".to_owned()
        };
    }
    let p = precision.max(1);
    let sci = format!("{:.*e}", p - 1, f);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= p as i32 {
        let mantissa = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{f:.decimals$}")).to_owned()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nix's escapes, a character at a time.
    fn escape_reference(s: &str) -> String {
        let mut out = String::from("\"");
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '$' if chars.peek() == Some(&'{') => out.push_str("\\$"),
                other => out.push(other),
            }
        }
        out.push('"');
        out
    }

    #[test]
    fn strings_escape_like_a_char_at_a_time_reference() {
        let pieces = [
            "", "a", "$", "{", "${", "$$", "\"", "\\", "\n", "\r", "\t", "é", "€", "𝄞", "x}",
        ];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let s = format!("{a}{b}{c}");
                    let mut out = String::new();
                    escape_string(&mut out, &s);
                    assert_eq!(out, escape_reference(&s), "{s:?}");
                }
            }
        }
    }

    #[test]
    fn floats_like_printf_g() {
        assert_eq!(format_float(1.5), "1.5");
        assert_eq!(format_float(1e20), "1e+20");
        assert_eq!(format_float(123456789.0), "1.23457e+08");
        assert_eq!(format_float(0.1 + 0.2), "0.3");
        assert_eq!(format_float(1e-5), "1e-05");
        assert_eq!(format_float(100000.0), "100000");
        assert_eq!(format_float(1000000.0), "1e+06");
        assert_eq!(format_float(0.0001), "0.0001");
        assert_eq!(format_float(1.23456789), "1.23457");
    }

    #[test]
    fn attr_names() {
        let mut s = String::new();
        print_attr_name(&mut s, "if");
        print_attr_name(&mut s, "a-b'");
        print_attr_name(&mut s, "1a");
        assert_eq!(s, "\"if\"a-b'\"1a\"");
    }
}
