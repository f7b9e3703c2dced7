//! Coercion to strings, as Nix's `coerceToString`: strings as they are,
//! paths (copied to the store when interpolated into a string), sets via
//! `__toString` or `outPath`, and with `toString` also numbers, Booleans,
//! `null` and lists.

use std::rc::Rc;

use super::Machine;
use crate::error::{Error, ErrorKind, Result};
use crate::io::IngestMethod;
use crate::syntax::Pos;
use crate::value::{Context, NixString, StringBuilder, Value};

/// How far to go when turning a value into a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoerceMode {
    /// As `"${…}"`: strings, paths (copied to the store if `copy`), sets.
    Interpolate {
        /// Whether a path becomes a store path.
        copy: bool,
    },
    /// As `toString`: also numbers, Booleans, null and lists.
    ToString,
    /// As `toString`, with paths copied to the store (a derivation's
    /// attributes).
    ToStringCopy,
}

impl CoerceMode {
    fn copies(self) -> bool {
        matches!(
            self,
            CoerceMode::Interpolate { copy: true } | CoerceMode::ToStringCopy
        )
    }

    fn coerces_more(self) -> bool {
        matches!(self, CoerceMode::ToString | CoerceMode::ToStringCopy)
    }
}

impl Machine {
    /// Coerces a value to a string.
    pub fn coerce_to_string(
        &mut self,
        v: &Value,
        mode: CoerceMode,
        pos: Pos,
    ) -> Result<Rc<NixString>> {
        let v = self.force(v)?;
        match v {
            Value::String(s) => Ok(s),
            Value::Path(ref p) => {
                if mode.copies() {
                    let store_path = self.copy_path_to_store(p, pos)?;
                    let mut ctx = Context::new();
                    ctx.insert(store_path.clone());
                    Ok(Rc::new(NixString::with_context(store_path, ctx)))
                } else {
                    Ok(Rc::new(NixString::plain(p.as_str())))
                }
            }
            Value::Attrs(ref attrs) => {
                // Borrowed from `v`, which this call owns: no reference
                // counts change on the way to `outPath`.
                let known = crate::value::symbol::known();
                if let Some(f) = attrs.get_sym(&known.to_string) {
                    let r = self.call_value(f, std::slice::from_ref(&v), pos)?;
                    return self.coerce_to_string(&r, mode, pos);
                }
                match attrs.get_sym(&known.out_path) {
                    Some(out) => self.coerce_to_string(out, mode, pos),
                    None => Err(Error::new(ErrorKind::CannotCoerce { got: "a set" }).at(pos)),
                }
            }
            ref other if mode.coerces_more() => self.coerce_more(other, mode, pos),
            other => Err(Error::new(ErrorKind::CannotCoerce {
                got: other.type_desc(),
            })
            .at(pos)),
        }
    }

    fn coerce_more(&mut self, v: &Value, mode: CoerceMode, pos: Pos) -> Result<Rc<NixString>> {
        let text = match v {
            Value::Bool(true) => "1".to_owned(),
            Value::Bool(false) | Value::Null => String::new(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => format!("{f:.6}"),
            Value::List(items) => {
                let mut b = StringBuilder::new();
                let n = items.len();
                for (i, item) in items.iter().enumerate() {
                    let s = self.coerce_to_string(item, mode, pos)?;
                    b.push(&s);
                    let item = self.force(item)?;
                    let empty_list = matches!(&item, Value::List(l) if l.is_empty());
                    if i + 1 < n && !empty_list {
                        b.push_str(" ");
                    }
                }
                return Ok(Rc::new(b.finish()));
            }
            other => {
                return Err(Error::new(ErrorKind::CannotCoerce {
                    got: other.type_desc(),
                })
                .at(pos));
            }
        };
        Ok(Rc::new(NixString::plain(text)))
    }

    /// Coerces to a string that must not refer to store paths.
    pub fn coerce_to_plain_string(
        &mut self,
        v: &Value,
        mode: CoerceMode,
        pos: Pos,
    ) -> Result<String> {
        let s = self.coerce_to_string(v, mode, pos)?;
        Ok(s.as_str().to_owned())
    }

    /// Forces a value to a string and rejects any context (as Nix's
    /// `forceStringNoCtx`).
    pub fn force_string_no_context(&mut self, v: &Value, pos: Pos) -> Result<String> {
        let s = self.force_string(v, pos)?;
        if s.has_context() {
            return Err(Error::new(ErrorKind::NotAllowedContext {
                text: s.as_str().to_owned(),
            })
            .at(pos));
        }
        Ok(s.as_str().to_owned())
    }

    /// Coerces a value to an absolute path (as Nix's `coerceToPath`).
    pub fn coerce_to_path(&mut self, v: &Value, pos: Pos) -> Result<(String, Context)> {
        let s = self.coerce_to_string(v, CoerceMode::Interpolate { copy: false }, pos)?;
        if !s.as_str().starts_with('/') {
            return Err(Error::new(ErrorKind::NotAbsolute {
                path: s.as_str().to_owned(),
            })
            .at(pos));
        }
        Ok((
            s.as_str().to_owned(),
            s.context().cloned().unwrap_or_default(),
        ))
    }

    /// Copies a source path to the store (through the [`Io`](crate::io::Io))
    /// and returns its store path; results are cached per evaluation.
    pub fn copy_path_to_store(&mut self, path: &str, pos: Pos) -> Result<String> {
        if let Some(sp) = self.store_cache.get(path) {
            return Ok(sp.clone());
        }
        let name = path.rsplit('/').next().unwrap_or("").to_owned();
        let io = self.io.clone();
        let sp = io
            .add_to_store(path, &name, IngestMethod::Recursive, &|_| true)
            .map_err(|e| e.into_error().at(pos))?;
        self.store_cache.insert(path.to_owned(), sp.clone());
        Ok(sp)
    }
}
