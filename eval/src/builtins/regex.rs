//! `match` and `split`: POSIX extended regular expressions, translated to
//! the `regex` crate's syntax (bracket expressions keep backslashes
//! literal, a leading `]` in a bracket is literal). Compiled expressions are
//! cached per thread.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::{Entry, R, arity, fail};
use crate::error::Result;
use crate::machine::Machine;
use crate::syntax::Pos;
use crate::value::{NixString, Value};

pub(crate) const PRIMOPS: &[Entry] = &[("match", 2, regex_match), ("split", 2, regex_split)];

thread_local! {
    static CACHE: RefCell<HashMap<(String, bool), Rc<regex::Regex>>> = RefCell::new(HashMap::new());
}

/// Translates a POSIX ERE to `regex` syntax.
fn translate(re: &str) -> String {
    let mut out = String::with_capacity(re.len() + 8);
    let chars: Vec<char> = re.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '[' {
            i = translate_bracket(&chars, i, &mut out);
            continue;
        }
        if c == '\\'
            && let Some(&n) = chars.get(i + 1)
        {
            out.push('\\');
            out.push(n);
            i += 2;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Translates a bracket expression starting at `chars[start] == '['`;
/// returns the index after it.
fn translate_bracket(chars: &[char], start: usize, out: &mut String) -> usize {
    let mut i = start + 1;
    out.push('[');
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    if chars.get(i) == Some(&']') {
        out.push_str("\\]");
        i += 1;
    }
    while let Some(&c) = chars.get(i) {
        match c {
            ']' => {
                out.push(']');
                return i + 1;
            }
            '[' if matches!(chars.get(i + 1), Some(':' | '.' | '=')) => {
                // A character class like [:alpha:]: copy through to its end.
                let close = chars
                    .get(i + 2..)
                    .and_then(|rest| rest.iter().position(|&x| x == ']'));
                match close {
                    Some(off) => {
                        for ch in chars.get(i..i + 3 + off).unwrap_or(&[]) {
                            out.push(*ch);
                        }
                        i += 3 + off;
                    }
                    None => {
                        out.push_str("\\[");
                        i += 1;
                    }
                }
            }
            '\\' | '[' | '&' | '~' | '|' => {
                out.push('\\');
                out.push(c);
                i += 1;
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                out.push_str("\\-");
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    i
}

fn compile(re: &str, anchored: bool) -> Result<Rc<regex::Regex>> {
    let key = (re.to_owned(), anchored);
    if let Some(r) = CACHE.with(|c| c.borrow().get(&key).cloned()) {
        return Ok(r);
    }
    let translated = translate(re);
    let pattern = if anchored {
        format!("^(?:{translated})$")
    } else {
        translated
    };
    let compiled = regex::Regex::new(&pattern)
        .map_err(|_| fail(format!("invalid regular expression '{re}'")))?;
    let rc = Rc::new(compiled);
    CACHE.with(|c| c.borrow_mut().insert(key, rc.clone()));
    Ok(rc)
}

fn captures_list(caps: &regex::Captures<'_>) -> Value {
    let groups = caps
        .iter()
        .skip(1)
        .map(|g| match g {
            Some(m) => Value::string(m.as_str()),
            None => Value::Null,
        })
        .collect();
    Value::list(groups)
}

fn regex_match(m: &mut Machine, args: &[Value]) -> R {
    let [re, s] = args else { return Err(arity()) };
    let re = m.force_string_no_context(re, Pos::NONE)?;
    let s = m.force_string(s, Pos::NONE)?;
    let compiled = compile(&re, true)?;
    match compiled.captures(s.as_str()) {
        Some(caps) => Ok(captures_list(&caps)),
        None => Ok(Value::Null),
    }
}

fn regex_split(m: &mut Machine, args: &[Value]) -> R {
    let [re, s] = args else { return Err(arity()) };
    let re = m.force_string_no_context(re, Pos::NONE)?;
    let s = m.force_string(s, Pos::NONE)?;
    let compiled = compile(&re, false)?;
    let text = s.as_str();
    let ctx = s.context().cloned().unwrap_or_default();
    let mut out = Vec::new();
    let mut last = 0;
    for caps in compiled.captures_iter(text) {
        let Some(whole) = caps.get(0) else { continue };
        out.push(Value::from_nix_string(NixString::with_context(
            text.get(last..whole.start()).unwrap_or(""),
            ctx.clone(),
        )));
        out.push(captures_list(&caps));
        last = whole.end();
    }
    out.push(Value::from_nix_string(NixString::with_context(
        text.get(last..).unwrap_or(""),
        ctx,
    )));
    Ok(Value::list(out))
}
