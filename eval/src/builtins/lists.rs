//! List functions: `map`, `filter`, `foldl'`, `genList`, `sort`, ….

use std::rc::Rc;

use super::{Entry, R, arity, fail};
use crate::error::Result;
use crate::machine::Machine;
use crate::syntax::Pos;
use crate::value::{Attrs, Sym, Value};

pub(crate) const PRIMOPS: &[Entry] = &[
    ("map", 2, map),
    ("filter", 2, filter),
    ("foldl'", 3, foldl),
    ("genList", 2, gen_list),
    ("elemAt", 2, elem_at),
    ("head", 1, head),
    ("tail", 1, tail),
    ("length", 1, length),
    ("concatLists", 1, concat_lists),
    ("concatMap", 2, concat_map),
    ("sort", 2, sort),
    ("partition", 2, partition),
    ("groupBy", 2, group_by),
    ("any", 2, any),
    ("all", 2, all),
    ("elem", 2, elem),
];

fn list(m: &mut Machine, v: &Value) -> Result<Rc<Vec<Value>>> {
    m.force_list(v, Pos::NONE)
}

fn map(m: &mut Machine, args: &[Value]) -> R {
    let [f, l] = args else { return Err(arity()) };
    let items = list(m, l)?;
    Ok(Value::list(
        items
            .iter()
            .map(|x| Value::call_lazy(f.clone(), x.clone()))
            .collect(),
    ))
}

fn call_bool(m: &mut Machine, f: &Value, x: &Value) -> Result<bool> {
    let r = m.call_value(f, std::slice::from_ref(x), Pos::NONE)?;
    m.expect_bool(&r, Pos::NONE)
}

fn filter(m: &mut Machine, args: &[Value]) -> R {
    let [f, l] = args else { return Err(arity()) };
    let items = list(m, l)?;
    let f = m.force_function(f, Pos::NONE)?;
    let mut out = Vec::new();
    for x in items.iter() {
        if call_bool(m, &f, x)? {
            out.push(x.clone());
        }
    }
    if out.len() == items.len() {
        return Ok(Value::List(items));
    }
    Ok(Value::list(out))
}

fn foldl(m: &mut Machine, args: &[Value]) -> R {
    let [f, init, l] = args else {
        return Err(arity());
    };
    let items = list(m, l)?;
    if items.is_empty() {
        return m.force(init);
    }
    let f = m.force_function(f, Pos::NONE)?;
    let mut acc = init.clone();
    for x in items.iter() {
        acc = m.call_multi(f.clone(), &[acc, x.clone()], Pos::NONE)?;
    }
    Ok(acc)
}

fn gen_list(m: &mut Machine, args: &[Value]) -> R {
    let [f, n] = args else { return Err(arity()) };
    let n = m.force_int(n, Pos::NONE)?;
    if n < 0 {
        return Err(fail(format!("cannot create list of size {n}")));
    }
    let f = m.force_function(f, Pos::NONE)?;
    m.charge(usize::try_from(n).unwrap_or(usize::MAX))?;
    Ok(Value::list(
        (0..n)
            .map(|i| Value::call_lazy(f.clone(), Value::Int(i)))
            .collect(),
    ))
}

fn elem_at(m: &mut Machine, args: &[Value]) -> R {
    let [l, n] = args else { return Err(arity()) };
    let items = list(m, l)?;
    let n = m.force_int(n, Pos::NONE)?;
    let item = usize::try_from(n).ok().and_then(|i| items.get(i)).cloned();
    match item {
        Some(v) => m.force(&v),
        None => Err(fail(format!("list index {n} is out of bounds"))),
    }
}

fn head(m: &mut Machine, args: &[Value]) -> R {
    let [l] = args else { return Err(arity()) };
    let items = list(m, l)?;
    match items.first().cloned() {
        Some(v) => m.force(&v),
        None => Err(fail("list index 0 is out of bounds")),
    }
}

fn tail(m: &mut Machine, args: &[Value]) -> R {
    let [l] = args else { return Err(arity()) };
    let items = list(m, l)?;
    match items.get(1..) {
        Some(rest) if !items.is_empty() => Ok(Value::list(rest.to_vec())),
        _ => Err(fail("'tail' called on an empty list")),
    }
}

fn length(m: &mut Machine, args: &[Value]) -> R {
    let [l] = args else { return Err(arity()) };
    Ok(Value::Int(list(m, l)?.len() as i64))
}

fn concat_lists(m: &mut Machine, args: &[Value]) -> R {
    let [l] = args else { return Err(arity()) };
    let items = list(m, l)?;
    let mut out = Vec::new();
    for x in items.iter() {
        let x = list(m, x)?;
        m.charge(x.len())?;
        out.extend(x.iter().cloned());
    }
    Ok(Value::list(out))
}

fn concat_map(m: &mut Machine, args: &[Value]) -> R {
    let [f, l] = args else { return Err(arity()) };
    let items = list(m, l)?;
    let f = m.force_function(f, Pos::NONE)?;
    let mut out = Vec::new();
    for x in items.iter() {
        let r = m.call_value(&f, std::slice::from_ref(x), Pos::NONE)?;
        let r = list(m, &r)?;
        m.charge(r.len())?;
        out.extend(r.iter().cloned());
    }
    Ok(Value::list(out))
}

/// A stable merge sort that calls the Nix comparator and never panics,
/// whatever the comparator does.
fn sort(m: &mut Machine, args: &[Value]) -> R {
    let [f, l] = args else { return Err(arity()) };
    let items = list(m, l)?;
    let f = m.force_function(f, Pos::NONE)?;
    let mut v: Vec<Value> = items.iter().cloned().collect();
    for x in &mut v {
        *x = m.force(x)?;
    }
    // As in Nix, `lessThan` is compared directly rather than called: the
    // same order and errors, without a function call per comparison.
    let order = match &f {
        Value::PrimOp(op) if op.name == "lessThan" => Order::LessThan,
        _ => Order::Function(f),
    };
    if matches!(order, Order::LessThan) && sort_plain(&mut v) {
        return Ok(Value::list(v));
    }
    let mut buf = v.clone();
    merge_sort(m, &order, &mut v, &mut buf)?;
    Ok(Value::list(v))
}

/// Sorts by `lessThan` a list that is all integers or all strings, whose
/// order is total: any stable sort then gives the merge sort's result.
/// Returns false, leaving the list alone, for anything else.
fn sort_plain(v: &mut [Value]) -> bool {
    if v.iter().all(|x| matches!(x, Value::Int(_))) {
        v.sort_by_key(|x| match x {
            Value::Int(i) => *i,
            _ => 0,
        });
        return true;
    }
    if v.iter().all(|x| matches!(x, Value::String(_))) {
        v.sort_by(|a, b| match (a, b) {
            (Value::String(a), Value::String(b)) => {
                a.as_str().as_bytes().cmp(b.as_str().as_bytes())
            }
            _ => std::cmp::Ordering::Equal,
        });
        return true;
    }
    false
}

/// How `sort` orders its items.
enum Order {
    /// `builtins.lessThan`.
    LessThan,
    /// Any other function, called on each pair.
    Function(Value),
}

fn merge_sort(m: &mut Machine, f: &Order, v: &mut [Value], buf: &mut [Value]) -> Result<()> {
    let n = v.len();
    if n <= 8 {
        return insertion_sort(m, f, v);
    }
    let mid = n / 2;
    {
        let (lo, hi) = v.split_at_mut(mid);
        let (blo, bhi) = buf.split_at_mut(mid);
        merge_sort(m, f, lo, blo)?;
        merge_sort(m, f, hi, bhi)?;
    }
    let (mut i, mut j, mut k) = (0, mid, 0);
    while i < mid && j < n {
        // Take from the right only if it is strictly less (stability).
        if less(m, f, &v[j], &v[i])? {
            buf[k] = v[j].clone();
            j += 1;
        } else {
            buf[k] = v[i].clone();
            i += 1;
        }
        k += 1;
    }
    while i < mid {
        buf[k] = v[i].clone();
        i += 1;
        k += 1;
    }
    while j < n {
        buf[k] = v[j].clone();
        j += 1;
        k += 1;
    }
    v.clone_from_slice(&buf[..n]);
    Ok(())
}

fn insertion_sort(m: &mut Machine, f: &Order, v: &mut [Value]) -> Result<()> {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && less(m, f, &v[j], &v[j - 1])? {
            v.swap(j, j - 1);
            j -= 1;
        }
    }
    Ok(())
}

fn less(m: &mut Machine, order: &Order, a: &Value, b: &Value) -> Result<bool> {
    match order {
        Order::LessThan => match (a, b) {
            (Value::Int(x), Value::Int(y)) => Ok(x < y),
            _ => m.less_than(a, b, Pos::NONE),
        },
        Order::Function(f) => {
            let r = m.call_multi(f.clone(), &[a.clone(), b.clone()], Pos::NONE)?;
            m.expect_bool(&r, Pos::NONE)
        }
    }
}

fn partition(m: &mut Machine, args: &[Value]) -> R {
    let [f, l] = args else { return Err(arity()) };
    let items = list(m, l)?;
    let f = m.force_function(f, Pos::NONE)?;
    let (mut right, mut wrong) = (Vec::new(), Vec::new());
    for x in items.iter() {
        if call_bool(m, &f, x)? {
            right.push(x.clone());
        } else {
            wrong.push(x.clone());
        }
    }
    Ok(Value::attrs(Attrs::from_pairs([
        (Sym::new("right"), Value::list(right)),
        (Sym::new("wrong"), Value::list(wrong)),
    ])))
}

fn group_by(m: &mut Machine, args: &[Value]) -> R {
    let [f, l] = args else { return Err(arity()) };
    let items = list(m, l)?;
    let f = m.force_function(f, Pos::NONE)?;
    let mut groups: Vec<(Sym, Vec<Value>)> = Vec::new();
    let mut index: std::collections::HashMap<Sym, usize> = std::collections::HashMap::new();
    for x in items.iter() {
        let k = m.call_value(&f, std::slice::from_ref(x), Pos::NONE)?;
        let k = m.force_string_no_context(&k, Pos::NONE)?;
        let sym = Sym::new(&k);
        match index.get(&sym) {
            Some(&i) => {
                if let Some((_, g)) = groups.get_mut(i) {
                    g.push(x.clone());
                }
            }
            None => {
                index.insert(sym.clone(), groups.len());
                groups.push((sym, vec![x.clone()]));
            }
        }
    }
    Ok(Value::attrs(Attrs::from_pairs(
        groups.into_iter().map(|(k, v)| (k, Value::list(v))),
    )))
}

fn any(m: &mut Machine, args: &[Value]) -> R {
    let [f, l] = args else { return Err(arity()) };
    let items = list(m, l)?;
    let f = m.force_function(f, Pos::NONE)?;
    for x in items.iter() {
        if call_bool(m, &f, x)? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

fn all(m: &mut Machine, args: &[Value]) -> R {
    let [f, l] = args else { return Err(arity()) };
    let items = list(m, l)?;
    let f = m.force_function(f, Pos::NONE)?;
    for x in items.iter() {
        if !call_bool(m, &f, x)? {
            return Ok(Value::Bool(false));
        }
    }
    Ok(Value::Bool(true))
}

fn elem(m: &mut Machine, args: &[Value]) -> R {
    let [x, l] = args else { return Err(arity()) };
    let items = list(m, l)?;
    for y in items.iter() {
        if m.equal(x, y, false)? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}
