//! Control and debugging: `seq`, `deepSeq`, `tryEval`, `throw`, `abort`,
//! `trace`, `addErrorContext`.

use super::{Entry, R, arity};
use crate::error::{Error, ErrorKind};
use crate::machine::{CoerceMode, Machine};
use crate::syntax::Pos;
use crate::value::{Attrs, Sym, Value};

pub(crate) const PRIMOPS: &[Entry] = &[
    ("seq", 2, seq),
    ("deepSeq", 2, deep_seq),
    ("tryEval", 1, try_eval),
    ("throw", 1, throw),
    ("abort", 1, abort),
    ("trace", 2, trace),
    ("addErrorContext", 2, add_error_context),
];

fn seq(m: &mut Machine, args: &[Value]) -> R {
    let [a, b] = args else { return Err(arity()) };
    m.force(a)?;
    m.force(b)
}

fn deep_seq(m: &mut Machine, args: &[Value]) -> R {
    let [a, b] = args else { return Err(arity()) };
    m.deep_force(a)?;
    m.force(b)
}

fn try_eval(m: &mut Machine, args: &[Value]) -> R {
    let [v] = args else { return Err(arity()) };
    let (success, value) = match m.force(v) {
        Ok(v) => (true, v),
        Err(e) if e.kind().is_catchable() => (false, Value::Bool(false)),
        Err(e) => return Err(e),
    };
    Ok(Value::attrs(Attrs::from_pairs([
        (Sym::new("success"), Value::Bool(success)),
        (Sym::new("value"), value),
    ])))
}

fn throw(m: &mut Machine, args: &[Value]) -> R {
    let [msg] = args else { return Err(arity()) };
    let message =
        m.coerce_to_plain_string(msg, CoerceMode::Interpolate { copy: true }, Pos::NONE)?;
    Err(Error::new(ErrorKind::Throw { message }))
}

fn abort(m: &mut Machine, args: &[Value]) -> R {
    let [msg] = args else { return Err(arity()) };
    let message =
        m.coerce_to_plain_string(msg, CoerceMode::Interpolate { copy: true }, Pos::NONE)?;
    Err(Error::new(ErrorKind::Abort { message }))
}

fn trace(m: &mut Machine, args: &[Value]) -> R {
    let [msg, v] = args else { return Err(arity()) };
    let msg = m.force(msg)?;
    let text = match &msg {
        Value::String(s) => s.as_str().to_owned(),
        other => crate::print::print_value(m, other, false)?,
    };
    m.io.trace(&text);
    m.force(v)
}

fn add_error_context(m: &mut Machine, args: &[Value]) -> R {
    let [ctx, v] = args else { return Err(arity()) };
    match m.force(v) {
        Ok(v) => Ok(v),
        Err(e) => {
            let what = m
                .coerce_to_plain_string(ctx, CoerceMode::Interpolate { copy: false }, Pos::NONE)
                .unwrap_or_default();
            Err(e.frame(|| what, Pos::NONE))
        }
    }
}
