//! The file system and the store: `import`, `scopedImport`, `readFile`,
//! `readDir`, `pathExists`, `path`, `filterSource`, `storePath`, `toPath`,
//! `findFile`, `getEnv`, `placeholder`, `toFile`; the fetchers are not
//! implemented yet.

use std::collections::{BTreeSet, HashSet};

use super::{Entry, R, arity, fail};
use crate::error::{Error, ErrorKind, Result};
use crate::io::{FileType, IngestMethod};
use crate::machine::{CoerceMode, Machine};
use crate::syntax::Pos;
use crate::value::{Attrs, Context, NixString, Sym, Value};

pub(crate) const PRIMOPS: &[Entry] = &[
    ("import", 1, import),
    ("scopedImport", 2, scoped_import),
    ("readFile", 1, read_file),
    ("readDir", 1, read_dir),
    ("pathExists", 1, path_exists),
    ("path", 1, path),
    ("filterSource", 2, filter_source),
    ("storePath", 1, store_path),
    ("toPath", 1, to_path),
    ("findFile", 2, find_file),
    ("getEnv", 1, get_env),
    ("placeholder", 1, placeholder),
    ("toFile", 2, to_file),
    ("fetchurl", 1, fetch_url),
    ("fetchTarball", 1, fetch_tarball),
    ("fetchGit", 1, fetch_git),
    ("fetchMercurial", 1, fetch_mercurial),
    ("fetchTree", 1, fetch_tree),
];

fn import(m: &mut Machine, args: &[Value]) -> R {
    let [p] = args else { return Err(arity()) };
    let (path, _) = m.coerce_to_path(p, Pos::NONE)?;
    m.import_file(&path, Pos::NONE)
}

fn scoped_import(m: &mut Machine, args: &[Value]) -> R {
    let [scope, p] = args else {
        return Err(arity());
    };
    let scope = m.force_attrs(scope, Pos::NONE)?;
    let (path, _) = m.coerce_to_path(p, Pos::NONE)?;
    m.scoped_import(&scope, &path, Pos::NONE)
}

fn read_file(m: &mut Machine, args: &[Value]) -> R {
    let [p] = args else { return Err(arity()) };
    let (path, _) = m.coerce_to_path(p, Pos::NONE)?;
    let bytes = m.io.read_file(&path).map_err(|e| e.into_error())?;
    Ok(Value::string(String::from_utf8_lossy(&bytes).into_owned()))
}

fn read_dir(m: &mut Machine, args: &[Value]) -> R {
    let [p] = args else { return Err(arity()) };
    let (path, _) = m.coerce_to_path(p, Pos::NONE)?;
    let entries = m.io.read_dir(&path).map_err(|e| e.into_error())?;
    let pairs = entries
        .into_iter()
        .map(|(name, ty)| (Sym::new(&name), Value::string(ty.nix_name())));
    Ok(Value::attrs(Attrs::from_pairs(pairs)))
}

fn path_exists(m: &mut Machine, args: &[Value]) -> R {
    let [p] = args else { return Err(arity()) };
    let (path, _) = m.coerce_to_path(p, Pos::NONE)?;
    let exists = m.io.path_type(&path).map_err(|e| e.into_error())?.is_some();
    Ok(Value::Bool(exists))
}

/// Walks `root` and asks the Nix `filter` about every entry below it;
/// returns the excluded paths (their subtrees are not visited).
fn run_filter(m: &mut Machine, filter: &Value, root: &str) -> Result<HashSet<String>> {
    let mut excluded = HashSet::new();
    let mut stack = vec![root.to_owned()];
    let io = m.io.clone();
    while let Some(dir) = stack.pop() {
        if io.path_type(&dir).map_err(|e| e.into_error())? != Some(FileType::Directory) {
            continue;
        }
        for (name, ty) in io.read_dir(&dir).map_err(|e| e.into_error())? {
            let child = format!("{}/{name}", dir.trim_end_matches('/'));
            let args = [Value::string(child.as_str()), Value::string(ty.nix_name())];
            let keep = m.call_value(filter, &args, Pos::NONE)?;
            if m.expect_bool(&keep, Pos::NONE)? {
                if ty == FileType::Directory {
                    stack.push(child);
                }
            } else {
                excluded.insert(child);
            }
        }
    }
    Ok(excluded)
}

fn add_filtered(
    m: &mut Machine,
    path: &str,
    name: &str,
    method: IngestMethod,
    filter: Option<&Value>,
) -> R {
    let excluded = match filter {
        Some(f) => run_filter(m, f, path)?,
        None => HashSet::new(),
    };
    let io = m.io.clone();
    let sp = io
        .add_to_store(path, name, method, &|p| !excluded.contains(p))
        .map_err(|e| e.into_error())?;
    let mut ctx = Context::new();
    ctx.insert(sp.clone());
    Ok(Value::from_nix_string(NixString::with_context(sp, ctx)))
}

fn path(m: &mut Machine, args: &[Value]) -> R {
    let [a] = args else { return Err(arity()) };
    let attrs = m.force_attrs(a, Pos::NONE)?;
    let p = attrs.get("path").cloned().ok_or_else(|| {
        fail("missing required 'path' attribute in the first argument to builtins.path")
    })?;
    let (path, _) = m.coerce_to_path(&p, Pos::NONE)?;
    let name = match attrs.get("name") {
        Some(n) => m.force_string_no_context(n, Pos::NONE)?,
        None => super::strings::base_name(&path).to_owned(),
    };
    let recursive = match attrs.get("recursive") {
        Some(r) => m.expect_bool(r, Pos::NONE)?,
        None => true,
    };
    let filter = match attrs.get("filter") {
        Some(f) => Some(m.force_function(f, Pos::NONE)?),
        None => None,
    };
    let method = if recursive {
        IngestMethod::Recursive
    } else {
        IngestMethod::Flat
    };
    add_filtered(m, &path, &name, method, filter.as_ref())
}

fn filter_source(m: &mut Machine, args: &[Value]) -> R {
    let [f, p] = args else { return Err(arity()) };
    let f = m.force_function(f, Pos::NONE)?;
    let (path, _) = m.coerce_to_path(p, Pos::NONE)?;
    let name = super::strings::base_name(&path).to_owned();
    add_filtered(m, &path, &name, IngestMethod::Recursive, Some(&f))
}

fn store_path(m: &mut Machine, args: &[Value]) -> R {
    let [p] = args else { return Err(arity()) };
    let (path, mut ctx) = m.coerce_to_path(p, Pos::NONE)?;
    let prefix = format!("{}/", m.options.store_dir);
    let Some(rest) = path.strip_prefix(&prefix) else {
        return Err(fail(format!("path '{path}' is not in the Nix store")));
    };
    let base = rest.split('/').next().unwrap_or("");
    let sp = format!("{prefix}{base}");
    ctx.insert(sp);
    Ok(Value::from_nix_string(NixString::with_context(path, ctx)))
}

fn to_path(m: &mut Machine, args: &[Value]) -> R {
    let [p] = args else { return Err(arity()) };
    let (path, ctx) = m.coerce_to_path(p, Pos::NONE)?;
    Ok(Value::from_nix_string(NixString::with_context(
        crate::lower::canon_path(&path),
        ctx,
    )))
}

fn find_file(m: &mut Machine, args: &[Value]) -> R {
    let [list, name] = args else {
        return Err(arity());
    };
    let items = m.force_list(list, Pos::NONE)?;
    let mut entries = Vec::with_capacity(items.len());
    for item in items.iter() {
        let attrs = m.force_attrs(item, Pos::NONE)?;
        let prefix = match attrs.get("prefix") {
            Some(p) => m.force_string_no_context(p, Pos::NONE)?,
            None => String::new(),
        };
        let path = attrs.get("path").cloned().ok_or_else(|| {
            Error::new(ErrorKind::MissingAttr {
                name: "path".to_owned(),
            })
        })?;
        let path =
            m.coerce_to_plain_string(&path, CoerceMode::Interpolate { copy: false }, Pos::NONE)?;
        entries.push((prefix, path));
    }
    let name = m.force_string_no_context(name, Pos::NONE)?;
    m.find_file(&entries, &name, Pos::NONE)
}

fn get_env(m: &mut Machine, args: &[Value]) -> R {
    let [n] = args else { return Err(arity()) };
    let name = m.force_string_no_context(n, Pos::NONE)?;
    if m.options.pure {
        return Ok(Value::string(""));
    }
    Ok(Value::string(m.io.get_env(&name).unwrap_or_default()))
}

fn placeholder(m: &mut Machine, args: &[Value]) -> R {
    let [o] = args else { return Err(arity()) };
    let output = m.force_string_no_context(o, Pos::NONE)?;
    Ok(Value::string(super::hash::placeholder(&output)))
}

fn to_file(m: &mut Machine, args: &[Value]) -> R {
    let [n, c] = args else { return Err(arity()) };
    let name = m.force_string_no_context(n, Pos::NONE)?;
    let contents = m.force_string(c, Pos::NONE)?;
    let mut refs = BTreeSet::new();
    if let Some(ctx) = contents.context() {
        for elem in ctx.iter() {
            if !elem.starts_with('/') {
                return Err(fail(format!(
                    "in 'toFile': the file named '{name}' must not contain a reference to a derivation output ({elem})"
                )));
            }
            refs.insert(elem.to_owned());
        }
    }
    let sp =
        m.io.add_text_to_store(&name, contents.as_str(), &refs)
            .map_err(|e| e.into_error())?;
    m.derivations.record_text(sp.clone(), refs);
    let mut ctx = Context::new();
    ctx.insert(sp.clone());
    Ok(Value::from_nix_string(NixString::with_context(sp, ctx)))
}

fn not_implemented(what: &'static str) -> R {
    Err(Error::new(ErrorKind::NotImplemented { what }))
}

fn fetch_url(_m: &mut Machine, _args: &[Value]) -> R {
    not_implemented("builtins.fetchurl")
}

fn fetch_tarball(_m: &mut Machine, _args: &[Value]) -> R {
    not_implemented("fetchTarball")
}

fn fetch_git(_m: &mut Machine, _args: &[Value]) -> R {
    not_implemented("fetchGit")
}

fn fetch_mercurial(_m: &mut Machine, _args: &[Value]) -> R {
    not_implemented("fetchMercurial")
}

fn fetch_tree(_m: &mut Machine, _args: &[Value]) -> R {
    not_implemented("fetchTree")
}
