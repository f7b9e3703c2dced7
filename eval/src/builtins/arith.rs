//! Arithmetic, comparison and bit operations.

use super::{Entry, R, arity};
use crate::lower::ir::BinOp;
use crate::machine::{Machine, type_error};
use crate::syntax::Pos;
use crate::value::Value;

pub(crate) const PRIMOPS: &[Entry] = &[
    ("add", 2, add),
    ("sub", 2, sub),
    ("mul", 2, mul),
    ("div", 2, div),
    ("lessThan", 2, less_than),
    ("bitAnd", 2, bit_and),
    ("bitOr", 2, bit_or),
    ("bitXor", 2, bit_xor),
    ("ceil", 1, ceil),
    ("floor", 1, floor),
];

fn numbers(m: &mut Machine, args: &[Value]) -> Result<(Value, Value), crate::error::Error> {
    let [a, b] = args else { return Err(arity()) };
    let a = m.force(a)?;
    let b = m.force(b)?;
    for v in [&a, &b] {
        if !matches!(v, Value::Int(_) | Value::Float(_)) {
            return Err(type_error("an integer", v));
        }
    }
    Ok((a, b))
}

fn add(m: &mut Machine, args: &[Value]) -> R {
    let (a, b) = numbers(m, args)?;
    m.binop_values(BinOp::Add, a, b, Pos::NONE)
}

fn sub(m: &mut Machine, args: &[Value]) -> R {
    let (a, b) = numbers(m, args)?;
    crate::machine::arith(BinOp::Sub, &a, &b)
}

fn mul(m: &mut Machine, args: &[Value]) -> R {
    let (a, b) = numbers(m, args)?;
    crate::machine::arith(BinOp::Mul, &a, &b)
}

fn div(m: &mut Machine, args: &[Value]) -> R {
    let (a, b) = numbers(m, args)?;
    crate::machine::arith(BinOp::Div, &a, &b)
}

fn less_than(m: &mut Machine, args: &[Value]) -> R {
    let [a, b] = args else { return Err(arity()) };
    Ok(Value::Bool(m.less_than(a, b, Pos::NONE)?))
}

fn ints(m: &mut Machine, args: &[Value]) -> Result<(i64, i64), crate::error::Error> {
    let [a, b] = args else { return Err(arity()) };
    Ok((m.force_int(a, Pos::NONE)?, m.force_int(b, Pos::NONE)?))
}

fn bit_and(m: &mut Machine, args: &[Value]) -> R {
    let (a, b) = ints(m, args)?;
    Ok(Value::Int(a & b))
}

fn bit_or(m: &mut Machine, args: &[Value]) -> R {
    let (a, b) = ints(m, args)?;
    Ok(Value::Int(a | b))
}

fn bit_xor(m: &mut Machine, args: &[Value]) -> R {
    let (a, b) = ints(m, args)?;
    Ok(Value::Int(a ^ b))
}

fn float_arg(m: &mut Machine, args: &[Value]) -> Result<f64, crate::error::Error> {
    let [v] = args else { return Err(arity()) };
    match m.force(v)? {
        Value::Int(i) => Ok(i as f64),
        Value::Float(f) => Ok(f),
        other => Err(type_error("a float", &other)),
    }
}

fn ceil(m: &mut Machine, args: &[Value]) -> R {
    Ok(Value::Int(float_arg(m, args)?.ceil() as i64))
}

fn floor(m: &mut Machine, args: &[Value]) -> R {
    Ok(Value::Int(float_arg(m, args)?.floor() as i64))
}
