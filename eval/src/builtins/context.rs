//! String context introspection: `getContext`, `hasContext`,
//! `appendContext`, `unsafeDiscardStringContext`,
//! `unsafeDiscardOutputDependency`.

use std::collections::BTreeMap;

use super::{Entry, R, arity, fail};
use crate::machine::Machine;
use crate::syntax::Pos;
use crate::value::{Attrs, Context, NixString, Sym, Value};

pub(crate) const PRIMOPS: &[Entry] = &[
    ("getContext", 1, get_context),
    ("hasContext", 1, has_context),
    ("appendContext", 2, append_context),
    ("unsafeDiscardStringContext", 1, discard_context),
    (
        "unsafeDiscardOutputDependency",
        1,
        discard_output_dependency,
    ),
];

/// One store path's entry in a decoded context.
#[derive(Default)]
struct PathInfo {
    path: bool,
    all_outputs: bool,
    outputs: Vec<String>,
}

fn decode(ctx: &Context) -> BTreeMap<String, PathInfo> {
    let mut map: BTreeMap<String, PathInfo> = BTreeMap::new();
    for elem in ctx.iter() {
        if let Some(drv) = elem.strip_prefix('=') {
            map.entry(drv.to_owned()).or_default().all_outputs = true;
        } else if let Some(rest) = elem.strip_prefix('!') {
            if let Some((output, drv)) = rest.split_once('!') {
                map.entry(drv.to_owned())
                    .or_default()
                    .outputs
                    .push(output.to_owned());
            }
        } else {
            map.entry(elem.to_owned()).or_default().path = true;
        }
    }
    map
}

fn get_context(m: &mut Machine, args: &[Value]) -> R {
    let [s] = args else { return Err(arity()) };
    let s = m.force_string(s, Pos::NONE)?;
    let ctx = s.context().cloned().unwrap_or_default();
    let pairs = decode(&ctx).into_iter().map(|(path, info)| {
        let mut fields = Vec::new();
        if info.path {
            fields.push((Sym::new("path"), Value::Bool(true)));
        }
        if info.all_outputs {
            fields.push((Sym::new("allOutputs"), Value::Bool(true)));
        }
        if !info.outputs.is_empty() {
            let mut outs = info.outputs;
            outs.sort();
            fields.push((
                Sym::new("outputs"),
                Value::list(outs.into_iter().map(Value::string).collect()),
            ));
        }
        (Sym::new(&path), Value::attrs(Attrs::from_pairs(fields)))
    });
    Ok(Value::attrs(Attrs::from_pairs(pairs)))
}

fn has_context(m: &mut Machine, args: &[Value]) -> R {
    let [s] = args else { return Err(arity()) };
    let s = m.force_string(s, Pos::NONE)?;
    Ok(Value::Bool(s.has_context()))
}

fn discard_context(m: &mut Machine, args: &[Value]) -> R {
    let [s] = args else { return Err(arity()) };
    let s = m.coerce_to_string(
        s,
        crate::machine::CoerceMode::Interpolate { copy: true },
        Pos::NONE,
    )?;
    Ok(Value::string(s.as_str()))
}

fn discard_output_dependency(m: &mut Machine, args: &[Value]) -> R {
    let [s] = args else { return Err(arity()) };
    let s = m.coerce_to_string(
        s,
        crate::machine::CoerceMode::Interpolate { copy: true },
        Pos::NONE,
    )?;
    let ctx: Context = s
        .context()
        .map(|c| {
            c.iter()
                .map(|e| e.strip_prefix('=').unwrap_or(e).to_owned())
                .collect()
        })
        .unwrap_or_default();
    Ok(Value::from_nix_string(NixString::with_context(
        s.as_str(),
        ctx,
    )))
}

fn append_context(m: &mut Machine, args: &[Value]) -> R {
    let [s, c] = args else { return Err(arity()) };
    let s = m.force_string(s, Pos::NONE)?;
    let attrs = m.force_attrs(c, Pos::NONE)?;
    let mut ctx = s.context().cloned().unwrap_or_default();
    let store_dir = m.options.store_dir.clone();
    for a in attrs.iter() {
        let path = a.name.as_str();
        if !path.starts_with(&format!("{store_dir}/")) {
            return Err(fail(format!("context key '{path}' is not a store path")));
        }
        let info = m.force_attrs(&a.value, Pos::NONE)?;
        if let Some(p) = info.get("path")
            && m.expect_bool(p, Pos::NONE)?
        {
            ctx.insert(path.to_owned());
        }
        if let Some(all) = info.get("allOutputs")
            && m.expect_bool(all, Pos::NONE)?
        {
            {
                if !path.ends_with(".drv") {
                    return Err(fail(format!(
                        "tried to add all-outputs context of {path}, which is not a derivation, to a string"
                    )));
                }
                ctx.insert(format!("={path}"));
            }
        }
        if let Some(outs) = info.get("outputs") {
            let outs = m.force_list(outs, Pos::NONE)?;
            for o in outs.iter() {
                let o = m.force_string_no_context(o, Pos::NONE)?;
                ctx.insert(format!("!{o}!{path}"));
            }
        }
    }
    Ok(Value::from_nix_string(NixString::with_context(
        s.as_str(),
        ctx,
    )))
}
