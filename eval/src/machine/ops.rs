//! Operators: arithmetic with Nix's int/float rules, string and path
//! concatenation, `++`, `//`, equality and ordering, the logical operators.

use std::cmp::Ordering;
use std::rc::Rc;

use super::{CoerceMode, Machine, type_error};
use crate::error::{Error, ErrorKind, Result};
use crate::lower::ir::{BinOp, Expr};
use crate::syntax::Pos;
use crate::value::{Env, StringBuilder, Value};

impl Machine {
    pub(super) fn binop(
        &mut self,
        op: BinOp,
        lhs: &Expr,
        rhs: &Expr,
        pos: Pos,
        env: &Env,
    ) -> Result<Value> {
        match op {
            BinOp::And => {
                let l = self.eval(lhs, env)?;
                if !self.expect_bool(&l, pos)? {
                    return Ok(Value::Bool(false));
                }
                let r = self.eval(rhs, env)?;
                Ok(Value::Bool(self.expect_bool(&r, pos)?))
            }
            BinOp::Or => {
                let l = self.eval(lhs, env)?;
                if self.expect_bool(&l, pos)? {
                    return Ok(Value::Bool(true));
                }
                let r = self.eval(rhs, env)?;
                Ok(Value::Bool(self.expect_bool(&r, pos)?))
            }
            BinOp::Implies => {
                let l = self.eval(lhs, env)?;
                if !self.expect_bool(&l, pos)? {
                    return Ok(Value::Bool(true));
                }
                let r = self.eval(rhs, env)?;
                Ok(Value::Bool(self.expect_bool(&r, pos)?))
            }
            _ => {
                // Nix parses `a > b` and `a <= b` as `__lessThan b a`, so
                // `b` is evaluated first.
                let (l, r) = if matches!(op, BinOp::More | BinOp::LessEq) {
                    let r = self.eval_leaf(rhs, env)?;
                    (self.eval_leaf(lhs, env)?, r)
                } else {
                    let l = self.eval_leaf(lhs, env)?;
                    (l, self.eval_leaf(rhs, env)?)
                };
                if let (Value::Int(a), Value::Int(b)) = (&l, &r)
                    && let Some(v) = int_binop(op, *a, *b)
                {
                    return Ok(v);
                }
                self.binop_values(op, l, r, pos)
            }
        }
    }

    /// Applies a strict binary operator to two forced values.
    pub fn binop_values(&mut self, op: BinOp, l: Value, r: Value, pos: Pos) -> Result<Value> {
        match op {
            BinOp::Add => self.add(l, r, pos),
            BinOp::Sub | BinOp::Mul | BinOp::Div => arith(op, &l, &r).map_err(|e| e.at(pos)),
            BinOp::Concat => {
                let a = self.force_list(&l, pos)?;
                let b = self.force_list(&r, pos)?;
                if b.is_empty() {
                    return Ok(Value::List(a));
                }
                if a.is_empty() {
                    return Ok(Value::List(b));
                }
                self.charge(a.len() + b.len())?;
                let mut out = Vec::with_capacity(a.len() + b.len());
                out.extend(a.iter().cloned());
                out.extend(b.iter().cloned());
                Ok(Value::list(out))
            }
            BinOp::Update => {
                let a = self.force_attrs(&l, pos)?;
                let b = self.force_attrs(&r, pos)?;
                Ok(Value::attrs(a.update(&b)))
            }
            BinOp::Eq => Ok(Value::Bool(self.equal(&l, &r, false)?)),
            BinOp::NotEq => Ok(Value::Bool(!self.equal(&l, &r, false)?)),
            BinOp::Less => Ok(Value::Bool(self.less_than(&l, &r, pos)?)),
            BinOp::More => Ok(Value::Bool(self.less_than(&r, &l, pos)?)),
            BinOp::LessEq => Ok(Value::Bool(!self.less_than(&r, &l, pos)?)),
            BinOp::MoreEq => Ok(Value::Bool(!self.less_than(&l, &r, pos)?)),
            BinOp::And | BinOp::Or | BinOp::Implies => Err(Error::new(ErrorKind::Internal {
                what: "lazy operator",
            })),
        }
    }

    fn add(&mut self, l: Value, r: Value, pos: Pos) -> Result<Value> {
        match (&l, &r) {
            (Value::Int(a), Value::Int(b)) => Ok(Value::Int(a.wrapping_add(*b))),
            (Value::Int(a), Value::Float(b)) => Ok(Value::Float(*a as f64 + b)),
            (Value::Float(a), Value::Int(b)) => Ok(Value::Float(a + *b as f64)),
            (Value::Float(a), Value::Float(b)) => Ok(Value::Float(a + b)),
            (Value::Int(_), other) => Err(add_error(other, "an integer", pos)),
            (Value::Float(_), other) => Err(add_error(other, "a float", pos)),
            _ => self.concat_values(&[l, r], false, pos),
        }
    }

    #[inline(never)]
    pub(super) fn interpolate(
        &mut self,
        parts: &[Rc<Expr>],
        is_path: bool,
        pos: Pos,
        env: &Env,
    ) -> Result<Value> {
        let mut values = Vec::with_capacity(parts.len());
        for p in parts {
            values.push(self.eval(p, env)?);
        }
        self.concat_values(&values, !is_path, pos)
    }

    /// Nix's `ExprConcatStrings`: the first value decides whether the result
    /// is a path (no copying to the store) or a string (paths are copied).
    pub fn concat_values(
        &mut self,
        values: &[Value],
        force_string: bool,
        pos: Pos,
    ) -> Result<Value> {
        let first_is_path = !force_string && matches!(values.first(), Some(Value::Path(_)));
        let mode = if first_is_path {
            CoerceMode::Interpolate { copy: false }
        } else {
            CoerceMode::Interpolate { copy: true }
        };
        let mut b = StringBuilder::new();
        for v in values {
            let s = self.coerce_to_string(v, mode, pos)?;
            self.charge(s.as_str().len())?;
            b.push(&s);
        }
        let s = b.finish();
        if first_is_path {
            if s.has_context() {
                let message =
                    "a string that refers to a store path cannot be appended to a path".to_owned();
                return Err(Error::new(ErrorKind::Builtin { message }).at(pos));
            }
            return Ok(Value::Path(Rc::new(crate::lower::canon_path(s.as_str()))));
        }
        Ok(Value::from_nix_string(s))
    }

    /// Nix's `==` on two values (forcing them as needed). `nested` enables
    /// the identity shortcut Nix has for values inside lists and sets.
    pub fn equal(&mut self, a: &Value, b: &Value, nested: bool) -> Result<bool> {
        if nested
            && let (Some(x), Some(y)) = (a.identity(), b.identity())
            && x == y
        {
            return Ok(true);
        }
        let a = self.force(a)?;
        let b = self.force(b)?;
        Ok(match (&a, &b) {
            (Value::Int(x), Value::Int(y)) => x == y,
            (Value::Int(x), Value::Float(y)) => (*x as f64) == *y,
            (Value::Float(x), Value::Int(y)) => *x == (*y as f64),
            (Value::Float(x), Value::Float(y)) => x == y,
            (Value::Bool(x), Value::Bool(y)) => x == y,
            (Value::Null, Value::Null) => true,
            (Value::String(x), Value::String(y)) => x.as_str() == y.as_str(),
            (Value::Path(x), Value::Path(y)) => x == y,
            (Value::List(x), Value::List(y)) => {
                if x.len() != y.len() {
                    return Ok(false);
                }
                for (p, q) in x.iter().zip(y.iter()) {
                    if !self.equal(p, q, true)? {
                        return Ok(false);
                    }
                }
                true
            }
            (Value::Attrs(x), Value::Attrs(y)) => {
                if self.is_derivation(x)?
                    && self.is_derivation(y)?
                    && let (Some(p), Some(q)) = (x.get("outPath"), y.get("outPath"))
                {
                    let (p, q) = (p.clone(), q.clone());
                    return self.equal(&p, &q, true);
                }
                if x.len() != y.len() {
                    return Ok(false);
                }
                for (p, q) in x.iter().zip(y.iter()) {
                    if p.name != q.name || !self.equal(&p.value, &q.value, true)? {
                        return Ok(false);
                    }
                }
                true
            }
            _ => false,
        })
    }

    /// Whether a set is a derivation (`type = "derivation"`).
    pub fn is_derivation(&mut self, attrs: &crate::value::Attrs) -> Result<bool> {
        match attrs.get("type") {
            Some(t) => {
                let t = t.clone();
                Ok(matches!(self.force(&t)?, Value::String(s) if s.as_str() == "derivation"))
            }
            None => Ok(false),
        }
    }

    /// Nix's `<` (`builtins.lessThan`).
    pub fn less_than(&mut self, a: &Value, b: &Value, pos: Pos) -> Result<bool> {
        Ok(self.compare(a, b, pos)? == Ordering::Less)
    }

    /// Orders two values as Nix's `<` does (numbers, strings, paths,
    /// lists lexicographically); other types are errors.
    pub fn compare(&mut self, a: &Value, b: &Value, pos: Pos) -> Result<Ordering> {
        let a = self.force(a)?;
        let b = self.force(b)?;
        let ord = match (&a, &b) {
            (Value::Int(x), Value::Int(y)) => x.cmp(y),
            (Value::Int(x), Value::Float(y)) => float_cmp(*x as f64, *y),
            (Value::Float(x), Value::Int(y)) => float_cmp(*x, *y as f64),
            (Value::Float(x), Value::Float(y)) => float_cmp(*x, *y),
            (Value::String(x), Value::String(y)) => {
                x.as_str().as_bytes().cmp(y.as_str().as_bytes())
            }
            (Value::Path(x), Value::Path(y)) => x.as_bytes().cmp(y.as_bytes()),
            (Value::List(x), Value::List(y)) => {
                for (p, q) in x.iter().zip(y.iter()) {
                    if !self.equal(p, q, true)? {
                        return self.compare(p, q, pos);
                    }
                }
                x.len().cmp(&y.len())
            }
            _ => {
                let kind = ErrorKind::CannotCompare {
                    left: a.type_desc(),
                    right: b.type_desc(),
                };
                return Err(Error::new(kind).at(pos));
            }
        };
        Ok(ord)
    }
}

/// Orders floats the way C's `<` does for sorting purposes: NaN is never
/// less than anything.
fn float_cmp(x: f64, y: f64) -> Ordering {
    if x < y {
        Ordering::Less
    } else if x > y {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

/// A binary operator on two integers as Nix 2.8 computes it (`+ - *`
/// wrap), when that cannot fail: `None` for operators that are not
/// arithmetic or comparisons, and for the divisions that are errors (by
/// zero, `i64::MIN / -1`), which [`arith`] reports.
pub(super) fn int_binop(op: BinOp, a: i64, b: i64) -> Option<Value> {
    let v = match op {
        BinOp::Add => Value::Int(a.wrapping_add(b)),
        BinOp::Sub => Value::Int(a.wrapping_sub(b)),
        BinOp::Mul => Value::Int(a.wrapping_mul(b)),
        BinOp::Div => Value::Int(a.checked_div(b)?),
        BinOp::Less => Value::Bool(a < b),
        BinOp::LessEq => Value::Bool(a <= b),
        BinOp::More => Value::Bool(a > b),
        BinOp::MoreEq => Value::Bool(a >= b),
        BinOp::Eq => Value::Bool(a == b),
        BinOp::NotEq => Value::Bool(a != b),
        _ => return None,
    };
    Some(v)
}

fn add_error(other: &Value, to: &'static str, pos: Pos) -> Error {
    let message = format!("cannot add {} to {to}", other.type_desc());
    Error::new(ErrorKind::Builtin { message }).at(pos)
}

/// `-`, `*` and `/` on numbers.
pub fn arith(op: BinOp, l: &Value, r: &Value) -> Result<Value> {
    let as_float = |v: &Value| match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    };
    match (l, r) {
        (Value::Int(a), Value::Int(b)) => match op {
            BinOp::Sub => Ok(Value::Int(a.wrapping_sub(*b))),
            BinOp::Mul => Ok(Value::Int(a.wrapping_mul(*b))),
            _ => {
                if *b == 0 {
                    return Err(Error::new(ErrorKind::DivisionByZero));
                }
                if *a == i64::MIN && *b == -1 {
                    let message = "overflow in integer division".to_owned();
                    return Err(Error::new(ErrorKind::Builtin { message }));
                }
                Ok(Value::Int(a / b))
            }
        },
        _ => {
            let a = as_float(l).ok_or_else(|| type_error("an integer", l))?;
            let b = as_float(r).ok_or_else(|| type_error("an integer", r))?;
            match op {
                BinOp::Sub => Ok(Value::Float(a - b)),
                BinOp::Mul => Ok(Value::Float(a * b)),
                _ => {
                    if b == 0.0 {
                        return Err(Error::new(ErrorKind::DivisionByZero));
                    }
                    Ok(Value::Float(a / b))
                }
            }
        }
    }
}
