//! Type predicates and `typeOf`.

use super::{Entry, R, arity};
use crate::machine::Machine;
use crate::value::Value;

pub(crate) const PRIMOPS: &[Entry] = &[
    ("isNull", 1, is_null),
    ("isAttrs", 1, is_attrs),
    ("isBool", 1, is_bool),
    ("isFloat", 1, is_float),
    ("isFunction", 1, is_function),
    ("isInt", 1, is_int),
    ("isList", 1, is_list),
    ("isPath", 1, is_path),
    ("isString", 1, is_string),
    ("typeOf", 1, type_of),
];

fn check(m: &mut Machine, args: &[Value], pred: fn(&Value) -> bool) -> R {
    let [v] = args else { return Err(arity()) };
    let v = m.force(v)?;
    Ok(Value::Bool(pred(&v)))
}

fn is_null(m: &mut Machine, a: &[Value]) -> R {
    check(m, a, |v| matches!(v, Value::Null))
}
fn is_attrs(m: &mut Machine, a: &[Value]) -> R {
    check(m, a, |v| matches!(v, Value::Attrs(_)))
}
fn is_bool(m: &mut Machine, a: &[Value]) -> R {
    check(m, a, |v| matches!(v, Value::Bool(_)))
}
fn is_float(m: &mut Machine, a: &[Value]) -> R {
    check(m, a, |v| matches!(v, Value::Float(_)))
}
fn is_function(m: &mut Machine, a: &[Value]) -> R {
    check(m, a, Value::is_function)
}
fn is_int(m: &mut Machine, a: &[Value]) -> R {
    check(m, a, |v| matches!(v, Value::Int(_)))
}
fn is_list(m: &mut Machine, a: &[Value]) -> R {
    check(m, a, |v| matches!(v, Value::List(_)))
}
fn is_path(m: &mut Machine, a: &[Value]) -> R {
    check(m, a, |v| matches!(v, Value::Path(_)))
}
fn is_string(m: &mut Machine, a: &[Value]) -> R {
    check(m, a, |v| matches!(v, Value::String(_)))
}

fn type_of(m: &mut Machine, args: &[Value]) -> R {
    let [v] = args else { return Err(arity()) };
    let v = m.force(v)?;
    Ok(Value::string(v.type_of()))
}
