//! Attribute set functions.

use std::collections::HashMap;

use super::{Entry, R, arity, fail};
use crate::error::{Error, ErrorKind, Result};
use crate::lower::ir::Param;
use crate::machine::Machine;
use crate::syntax::{Pos, locate};
use crate::value::{Attr, Attrs, Sym, Value};

pub(crate) const PRIMOPS: &[Entry] = &[
    ("attrNames", 1, attr_names),
    ("attrValues", 1, attr_values),
    ("getAttr", 2, get_attr),
    ("hasAttr", 2, has_attr),
    ("removeAttrs", 2, remove_attrs),
    ("intersectAttrs", 2, intersect_attrs),
    ("listToAttrs", 1, list_to_attrs),
    ("mapAttrs", 2, map_attrs),
    ("catAttrs", 2, cat_attrs),
    ("zipAttrsWith", 2, zip_attrs_with),
    ("functionArgs", 1, function_args),
    ("unsafeGetAttrPos", 2, unsafe_get_attr_pos),
    ("genericClosure", 1, generic_closure),
];

fn attr_names(m: &mut Machine, args: &[Value]) -> R {
    let [s] = args else { return Err(arity()) };
    let attrs = m.force_attrs(s, Pos::NONE)?;
    Ok(Value::list(
        attrs
            .iter()
            .map(|a| Value::string(a.name.as_str()))
            .collect(),
    ))
}

fn attr_values(m: &mut Machine, args: &[Value]) -> R {
    let [s] = args else { return Err(arity()) };
    let attrs = m.force_attrs(s, Pos::NONE)?;
    Ok(Value::list(attrs.iter().map(|a| a.value.clone()).collect()))
}

pub(crate) fn get_attr(m: &mut Machine, args: &[Value]) -> R {
    let [name, s] = args else { return Err(arity()) };
    let name = m.force_string_no_context(name, Pos::NONE)?;
    let attrs = m.force_attrs(s, Pos::NONE)?;
    match attrs.get(&name) {
        Some(v) => m.force(v),
        None => Err(Error::new(ErrorKind::MissingAttr { name })),
    }
}

fn has_attr(m: &mut Machine, args: &[Value]) -> R {
    let [name, s] = args else { return Err(arity()) };
    let name = m.force_string_no_context(name, Pos::NONE)?;
    let attrs = m.force_attrs(s, Pos::NONE)?;
    Ok(Value::Bool(attrs.get(&name).is_some()))
}

fn remove_attrs(m: &mut Machine, args: &[Value]) -> R {
    let [s, names] = args else {
        return Err(arity());
    };
    let attrs = m.force_attrs(s, Pos::NONE)?;
    let names = m.force_list(names, Pos::NONE)?;
    let mut syms = Vec::with_capacity(names.len());
    for n in names.iter() {
        syms.push(Sym::new(&m.force_string_no_context(n, Pos::NONE)?));
    }
    Ok(Value::attrs(attrs.remove(&syms)))
}

fn intersect_attrs(m: &mut Machine, args: &[Value]) -> R {
    let [a, b] = args else { return Err(arity()) };
    let a = m.force_attrs(a, Pos::NONE)?;
    let b = m.force_attrs(b, Pos::NONE)?;
    Ok(Value::attrs(a.intersect(&b)))
}

fn list_to_attrs(m: &mut Machine, args: &[Value]) -> R {
    let [l] = args else { return Err(arity()) };
    let items = m.force_list(l, Pos::NONE)?;
    let mut entries: Vec<Attr> = Vec::with_capacity(items.len());
    for item in items.iter() {
        let item = m.force_attrs(item, Pos::NONE)?;
        let name = item.get("name").cloned().ok_or_else(|| {
            Error::new(ErrorKind::MissingAttr {
                name: "name".to_owned(),
            })
        })?;
        let name = m.force_string_no_context(&name, Pos::NONE)?;
        let value = item.get_attr("value").ok_or_else(|| {
            Error::new(ErrorKind::MissingAttr {
                name: "value".to_owned(),
            })
        })?;
        entries.push(Attr {
            name: Sym::new(&name),
            value: value.value.clone(),
            pos: value.pos,
        });
    }
    // `from_unsorted` keeps the first of duplicate names, as Nix does.
    Ok(Value::attrs(Attrs::from_unsorted(entries)))
}

fn map_attrs(m: &mut Machine, args: &[Value]) -> R {
    let [f, s] = args else { return Err(arity()) };
    let attrs = m.force_attrs(s, Pos::NONE)?;
    let entries = attrs
        .iter()
        .map(|a| Attr {
            name: a.name.clone(),
            value: Value::apply_lazy(
                f.clone(),
                vec![Value::string(a.name.as_str()), a.value.clone()],
            ),
            pos: a.pos,
        })
        .collect();
    Ok(Value::attrs(Attrs::from_sorted(entries)))
}

fn cat_attrs(m: &mut Machine, args: &[Value]) -> R {
    let [name, l] = args else { return Err(arity()) };
    let name = m.force_string_no_context(name, Pos::NONE)?;
    let items = m.force_list(l, Pos::NONE)?;
    let mut out = Vec::new();
    for item in items.iter() {
        let attrs = m.force_attrs(item, Pos::NONE)?;
        if let Some(v) = attrs.get(&name) {
            out.push(v.clone());
        }
    }
    Ok(Value::list(out))
}

fn zip_attrs_with(m: &mut Machine, args: &[Value]) -> R {
    let [f, l] = args else { return Err(arity()) };
    let items = m.force_list(l, Pos::NONE)?;
    let mut order: Vec<Sym> = Vec::new();
    let mut groups: HashMap<Sym, Vec<Value>> = HashMap::new();
    for item in items.iter() {
        let attrs = m.force_attrs(item, Pos::NONE)?;
        for a in attrs.iter() {
            groups
                .entry(a.name.clone())
                .or_insert_with(|| {
                    order.push(a.name.clone());
                    Vec::new()
                })
                .push(a.value.clone());
        }
    }
    let pairs = order.into_iter().map(|name| {
        let values = groups.remove(&name).unwrap_or_default();
        let v = Value::apply_lazy(
            f.clone(),
            vec![Value::string(name.as_str()), Value::list(values)],
        );
        (name, v)
    });
    Ok(Value::attrs(Attrs::from_pairs(pairs)))
}

fn function_args(m: &mut Machine, args: &[Value]) -> R {
    let [f] = args else { return Err(arity()) };
    match m.force(f)? {
        Value::Lambda(c) => match &c.lambda.param {
            Param::Ident(_) => Ok(Value::attrs(Attrs::new())),
            Param::Pattern { formals, .. } => {
                let entries = formals
                    .iter()
                    .map(|fm| Attr {
                        name: fm.name.clone(),
                        value: Value::Bool(fm.default.is_some()),
                        pos: fm.pos,
                    })
                    .collect();
                Ok(Value::attrs(Attrs::from_unsorted(entries)))
            }
        },
        Value::PrimOp(_) | Value::PrimOpApp(_) => Ok(Value::attrs(Attrs::new())),
        other => Err(crate::machine::type_error("a function", &other)),
    }
}

fn unsafe_get_attr_pos(m: &mut Machine, args: &[Value]) -> R {
    let [name, s] = args else { return Err(arity()) };
    let name = m.force_string_no_context(name, Pos::NONE)?;
    let attrs = m.force_attrs(s, Pos::NONE)?;
    let Some(attr) = attrs.get_attr(&name) else {
        return Ok(Value::Null);
    };
    match locate(attr.pos) {
        Some(loc) => Ok(Value::attrs(crate::lower::pos_attrs(&loc))),
        None => Ok(Value::Null),
    }
}

fn generic_closure(m: &mut Machine, args: &[Value]) -> R {
    let [arg] = args else { return Err(arity()) };
    let arg = m.force_attrs(arg, Pos::NONE)?;
    let start = arg
        .get("startSet")
        .cloned()
        .ok_or_else(|| fail("attribute 'startSet' required"))?;
    let op = arg
        .get("operator")
        .cloned()
        .ok_or_else(|| fail("attribute 'operator' required"))?;
    let mut queue: std::collections::VecDeque<Value> =
        m.force_list(&start, Pos::NONE)?.iter().cloned().collect();
    let mut keys: Vec<Value> = Vec::new();
    let mut out = Vec::new();
    while let Some(item) = queue.pop_front() {
        let attrs = m.force_attrs(&item, Pos::NONE)?;
        let key = attrs
            .get("key")
            .cloned()
            .ok_or_else(|| fail("attribute 'key' required"))?;
        let key = m.force(&key)?;
        if !insert_key(m, &mut keys, key)? {
            continue;
        }
        out.push(item.clone());
        let next = m.call_value(&op, std::slice::from_ref(&item), Pos::NONE)?;
        queue.extend(m.force_list(&next, Pos::NONE)?.iter().cloned());
    }
    Ok(Value::list(out))
}

/// Inserts a key into a sorted vector; false if it was already there.
fn insert_key(m: &mut Machine, keys: &mut Vec<Value>, key: Value) -> Result<bool> {
    let (mut lo, mut hi) = (0, keys.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        let probe = keys.get(mid).cloned().unwrap_or(Value::Null);
        match m.compare(&probe, &key, Pos::NONE)? {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return Ok(false),
        }
    }
    keys.insert(lo, key);
    Ok(true)
}
