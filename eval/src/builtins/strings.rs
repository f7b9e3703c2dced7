//! String functions: `substring`, `stringLength`, `replaceStrings`,
//! `concatStringsSep`, `toString`, `baseNameOf`, `dirOf`.

use std::rc::Rc;

use super::{Entry, R, arity, fail};
use crate::machine::{CoerceMode, Machine};
use crate::syntax::Pos;
use crate::value::{Context, NixString, StringBuilder, Value};

pub(crate) const PRIMOPS: &[Entry] = &[
    ("substring", 3, substring),
    ("stringLength", 1, string_length),
    ("replaceStrings", 3, replace_strings),
    ("concatStringsSep", 2, concat_strings_sep),
    ("toString", 1, to_string),
    ("baseNameOf", 1, base_name_of),
    ("dirOf", 1, dir_of),
];

const COPY: CoerceMode = CoerceMode::Interpolate { copy: true };
const NO_COPY: CoerceMode = CoerceMode::Interpolate { copy: false };

/// Returns a byte range of a string, repairing any split UTF-8 sequence.
pub(crate) fn byte_slice(s: &str, start: usize, end: usize) -> String {
    let bytes = s.as_bytes();
    let end = end.min(bytes.len());
    let start = start.min(end);
    match s.get(start..end) {
        Some(t) => t.to_owned(),
        None => String::from_utf8_lossy(bytes.get(start..end).unwrap_or(&[])).into_owned(),
    }
}

fn substring(m: &mut Machine, args: &[Value]) -> R {
    let [start, len, s] = args else {
        return Err(arity());
    };
    // Nix 2.8 reads both as C `int`.
    let start = m.force_int(start, Pos::NONE)? as i32;
    let len = m.force_int(len, Pos::NONE)? as i32;
    let s = m.coerce_to_string(s, COPY, Pos::NONE)?;
    if start < 0 {
        return Err(fail("negative start position in 'substring'"));
    }
    let start = start as usize;
    let text = s.as_str();
    let out = if start >= text.len() {
        String::new()
    } else if len < 0 {
        byte_slice(text, start, text.len())
    } else {
        byte_slice(text, start, start.saturating_add(len as usize))
    };
    Ok(Value::from_nix_string(NixString::with_context(
        out,
        s.context().cloned().unwrap_or_default(),
    )))
}

fn string_length(m: &mut Machine, args: &[Value]) -> R {
    let [s] = args else { return Err(arity()) };
    let s = m.coerce_to_string(s, COPY, Pos::NONE)?;
    Ok(Value::Int(s.as_str().len() as i64))
}

fn replace_strings(m: &mut Machine, args: &[Value]) -> R {
    let [from, to, s] = args else {
        return Err(arity());
    };
    let from = m.force_list(from, Pos::NONE)?;
    let to = m.force_list(to, Pos::NONE)?;
    if from.len() != to.len() {
        return Err(fail(
            "'from' and 'to' arguments to 'replaceStrings' have different lengths",
        ));
    }
    let mut froms = Vec::with_capacity(from.len());
    for f in from.iter() {
        froms.push(m.force_string(f, Pos::NONE)?);
    }
    let mut tos: Vec<Rc<NixString>> = Vec::with_capacity(to.len());
    for t in to.iter() {
        tos.push(m.force_string(t, Pos::NONE)?);
    }
    let s = m.force_string(s, Pos::NONE)?;
    let mut ctx = Context::new();
    s.merge_context_into(&mut ctx);
    let text = s.as_str().as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(text.len());
    // Without an empty pattern, only a byte that starts some pattern can
    // start a match: the bytes between are copied in one go.
    let any_empty = froms.iter().any(|f| f.as_str().is_empty());
    let mut starts = [false; 256];
    for f in &froms {
        if let Some(&b) = f.as_str().as_bytes().first() {
            starts[usize::from(b)] = true;
        }
    }
    let mut p = 0;
    while p <= text.len() {
        if !any_empty {
            let rest = text.get(p..).unwrap_or_default();
            let skip = rest
                .iter()
                .position(|&b| starts[usize::from(b)])
                .unwrap_or(rest.len());
            out.extend_from_slice(&rest[..skip]);
            p += skip;
            if p == text.len() {
                break;
            }
        }
        let hit = froms.iter().zip(tos.iter()).find(|(f, _)| {
            text.get(p..)
                .is_some_and(|rest| rest.starts_with(f.as_str().as_bytes()))
        });
        match hit {
            Some((f, t)) => {
                out.extend_from_slice(t.as_str().as_bytes());
                t.merge_context_into(&mut ctx);
                if f.as_str().is_empty() {
                    if let Some(&b) = text.get(p) {
                        out.push(b);
                    }
                    p += 1;
                } else {
                    p += f.as_str().len();
                }
            }
            None => {
                if let Some(&b) = text.get(p) {
                    out.push(b);
                }
                p += 1;
            }
        }
    }
    m.charge(out.len())?;
    let out = String::from_utf8(out)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    Ok(Value::from_nix_string(NixString::with_context(out, ctx)))
}

fn concat_strings_sep(m: &mut Machine, args: &[Value]) -> R {
    let [sep, l] = args else { return Err(arity()) };
    let sep = m.force_string(sep, Pos::NONE)?;
    let items = m.force_list(l, Pos::NONE)?;
    let mut b = StringBuilder::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            b.push(&sep);
        }
        let s = m.coerce_to_string(item, COPY, Pos::NONE)?;
        m.charge(s.as_str().len() + sep.as_str().len())?;
        b.push(&s);
    }
    Ok(Value::from_nix_string(b.finish()))
}

fn to_string(m: &mut Machine, args: &[Value]) -> R {
    let [v] = args else { return Err(arity()) };
    Ok(Value::String(m.coerce_to_string(
        v,
        CoerceMode::ToString,
        Pos::NONE,
    )?))
}

/// Nix's `baseNameOf` on text: the last component, ignoring one trailing
/// slash.
pub(crate) fn base_name(path: &str) -> &str {
    if path.is_empty() {
        return "";
    }
    let mut last = path.len() - 1;
    if path.as_bytes().get(last) == Some(&b'/') && last > 0 {
        last -= 1;
    }
    let head = path.get(..=last).unwrap_or(path);
    let start = head.rfind('/').map_or(0, |p| p + 1);
    head.get(start..).unwrap_or("")
}

fn base_name_of(m: &mut Machine, args: &[Value]) -> R {
    let [v] = args else { return Err(arity()) };
    let s = m.coerce_to_string(v, NO_COPY, Pos::NONE)?;
    let out = base_name(s.as_str()).to_owned();
    Ok(Value::from_nix_string(NixString::with_context(
        out,
        s.context().cloned().unwrap_or_default(),
    )))
}

fn dir_of(m: &mut Machine, args: &[Value]) -> R {
    let [v] = args else { return Err(arity()) };
    let v = m.force(v)?;
    let is_path = matches!(v, Value::Path(_));
    let s = m.coerce_to_string(&v, NO_COPY, Pos::NONE)?;
    let text = s.as_str();
    let dir = match text.rfind('/') {
        None => ".".to_owned(),
        Some(0) => "/".to_owned(),
        Some(p) => text.get(..p).unwrap_or("").to_owned(),
    };
    if is_path {
        return Ok(Value::Path(Rc::new(dir)));
    }
    Ok(Value::from_nix_string(NixString::with_context(
        dir,
        s.context().cloned().unwrap_or_default(),
    )))
}
