//! Attribute sets and `let`: collecting bindings (nested paths, merges,
//! `inherit`), checking duplicates, and lowering them.
//!
//! Bindings are first gathered into a [`Pending`] tree following Nix 2.8's
//! `addAttr`: `a.b = 1; a.c = 2;` builds one nested set, and a path may
//! extend a set literal (`a = { b = 1; }; a.c = 2;`); anything else defined
//! twice is an error. Then the tree is lowered with the right scopes: a
//! `rec` set or `let` gets a frame whose slots are its names in sorted
//! order, and `inherit x;` inside it looks `x` up outside that frame.

use std::collections::HashMap;
use std::rc::Rc;

use rnix::ast::{self, HasEntry};
use rowan::ast::AstNode;

use super::ir::{AttrDef, AttrKey, AttrsDef, DynamicAttr, Expr};
use super::scope::{Scope, StaticScope};
use super::{Lowerer, static_attr_name};
use crate::error::{Error, ErrorKind, Result, pos_string};
use crate::syntax::Pos;
use crate::value::Sym;

/// A set (or `let`) being collected.
struct Pending {
    rec: bool,
    statics: Vec<(Sym, Binding)>,
    index: HashMap<Sym, usize>,
    dynamics: Vec<(ast::Attr, Binding)>,
    inherit_froms: Vec<ast::Expr>,
}

enum Binding {
    Expr { expr: ast::Expr, pos: Pos },
    Nested { attrs: Pending, pos: Pos },
    Inherit { pos: Pos },
    InheritFrom { from: usize, pos: Pos },
}

impl Binding {
    fn pos(&self) -> Pos {
        match self {
            Binding::Expr { pos, .. }
            | Binding::Nested { pos, .. }
            | Binding::Inherit { pos }
            | Binding::InheritFrom { pos, .. } => *pos,
        }
    }
}

impl Pending {
    fn new(rec: bool) -> Pending {
        Pending {
            rec,
            statics: Vec::new(),
            index: HashMap::new(),
            dynamics: Vec::new(),
            inherit_froms: Vec::new(),
        }
    }

    fn insert(&mut self, name: Sym, binding: Binding) {
        self.index.insert(name.clone(), self.statics.len());
        self.statics.push((name, binding));
    }
}

/// Strips parentheses, as Nix's parser has no node for them.
fn unparen(mut e: ast::Expr) -> ast::Expr {
    while let ast::Expr::Paren(p) = &e {
        match p.expr() {
            Some(inner) => e = inner,
            None => break,
        }
    }
    e
}

impl Lowerer {
    /// Lowers a set literal.
    pub(super) fn attrset(&mut self, set: &ast::AttrSet) -> Result<Rc<Expr>> {
        let pending = self.collect(set, set.rec_token().is_some())?;
        self.lower_pending(pending)
    }

    /// Lowers `let … in body`.
    pub(super) fn let_in(&mut self, l: &ast::LetIn) -> Result<Rc<Expr>> {
        let pending = self.collect(l, true)?;
        if !pending.dynamics.is_empty() {
            return Err(Error::new(ErrorKind::DynamicInLet).at(self.pos(l.syntax())));
        }
        let (names, bindings) = sorted(pending.statics);
        self.scopes
            .push(Scope::Static(Rc::new(StaticScope::new(names.clone()))));
        let result = self.let_body(l, names, bindings, &pending.inherit_froms);
        self.scopes.pop();
        result
    }

    fn let_body(
        &mut self,
        l: &ast::LetIn,
        names: Vec<Sym>,
        bindings: Vec<Binding>,
        froms: &[ast::Expr],
    ) -> Result<Rc<Expr>> {
        let froms = self.lower_froms(froms)?;
        let mut slots = Vec::with_capacity(bindings.len());
        for (name, binding) in names.into_iter().zip(bindings) {
            slots.push(self.lower_binding(&name, binding, true, &froms)?);
        }
        let body = self.child(l.body(), l.syntax())?;
        Ok(Rc::new(Expr::Let {
            bindings: slots,
            body,
        }))
    }

    /// Lowers `let { …; body = …; }`.
    pub(super) fn legacy_let(&mut self, l: &ast::LegacyLet) -> Result<Rc<Expr>> {
        let pending = self.collect(l, true)?;
        let set = self.lower_pending(pending)?;
        let pos = self.pos(l.syntax());
        let path = vec![AttrKey::Static(Sym::new("body"))];
        Ok(Rc::new(Expr::Select {
            expr: set,
            path,
            default: None,
            pos,
        }))
    }

    fn collect(&mut self, node: &impl HasEntry, rec: bool) -> Result<Pending> {
        let mut pending = Pending::new(rec);
        for entry in node.entries() {
            match entry {
                ast::Entry::Inherit(inherit) => self.collect_inherit(&mut pending, &inherit)?,
                ast::Entry::AttrpathValue(apv) => {
                    let pos = self.pos(apv.syntax());
                    let path = apv.attrpath().ok_or_else(|| self.missing(apv.syntax()))?;
                    let value = apv.value().ok_or_else(|| self.missing(apv.syntax()))?;
                    let attrs: Vec<ast::Attr> = path.attrs().collect();
                    self.add_path(&mut pending, &attrs, unparen(value), pos)?;
                }
            }
        }
        Ok(pending)
    }

    fn collect_inherit(&mut self, pending: &mut Pending, inherit: &ast::Inherit) -> Result<()> {
        let from = match inherit.from() {
            Some(f) => {
                let e = f.expr().ok_or_else(|| self.missing(f.syntax()))?;
                pending.inherit_froms.push(e);
                Some(pending.inherit_froms.len() - 1)
            }
            None => None,
        };
        for attr in inherit.attrs() {
            let pos = self.pos(attr.syntax());
            let Some(name) = static_attr_name(&attr) else {
                return Err(
                    self.syntax_error(attr.syntax(), "dynamic attributes not allowed in inherit")
                );
            };
            let name = Sym::new(&name);
            if let Some(&i) = pending.index.get(&name) {
                let first = pending.statics.get(i).map_or(Pos::NONE, |(_, b)| b.pos());
                return Err(dup_error(name.as_str(), first, pos));
            }
            let binding = match from {
                Some(from) => Binding::InheritFrom { from, pos },
                None => Binding::Inherit { pos },
            };
            pending.insert(name, binding);
        }
        Ok(())
    }

    /// Adds `path = value` to a pending set, following Nix's `addAttr`.
    fn add_path(
        &mut self,
        target: &mut Pending,
        path: &[ast::Attr],
        value: ast::Expr,
        pos: Pos,
    ) -> Result<()> {
        let Some((last, init)) = path.split_last() else {
            return Ok(());
        };
        let mut cur = target;
        let mut dotted = String::new();
        for attr in init {
            match static_attr_name(attr) {
                Some(name) => {
                    push_dotted(&mut dotted, &name);
                    let sym = Sym::new(&name);
                    let idx = match cur.index.get(&sym) {
                        Some(&i) => i,
                        None => {
                            cur.insert(
                                sym,
                                Binding::Nested {
                                    attrs: Pending::new(false),
                                    pos,
                                },
                            );
                            cur.statics.len() - 1
                        }
                    };
                    cur = match cur.statics.get_mut(idx) {
                        Some((_, Binding::Nested { attrs, .. })) => attrs,
                        Some((_, other)) => return Err(dup_error(&dotted, other.pos(), pos)),
                        None => return Err(Error::new(ErrorKind::Internal { what: "attr index" })),
                    };
                }
                None => {
                    cur.dynamics.push((
                        attr.clone(),
                        Binding::Nested {
                            attrs: Pending::new(false),
                            pos,
                        },
                    ));
                    cur = match cur.dynamics.last_mut() {
                        Some((_, Binding::Nested { attrs, .. })) => attrs,
                        _ => {
                            return Err(Error::new(ErrorKind::Internal {
                                what: "dynamic attr",
                            }));
                        }
                    };
                }
            }
        }
        let binding = match &value {
            ast::Expr::AttrSet(set) => Binding::Nested {
                attrs: self.collect(set, set.rec_token().is_some())?,
                pos,
            },
            _ => Binding::Expr { expr: value, pos },
        };
        let Some(name) = static_attr_name(last) else {
            cur.dynamics.push((last.clone(), binding));
            return Ok(());
        };
        push_dotted(&mut dotted, &name);
        let sym = Sym::new(&name);
        match cur.index.get(&sym).copied() {
            None => cur.insert(sym, binding),
            Some(i) => merge_into(cur, i, binding, &dotted, pos)?,
        }
        Ok(())
    }

    /// Lowers a collected set.
    fn lower_pending(&mut self, pending: Pending) -> Result<Rc<Expr>> {
        let rec = pending.rec;
        let (names, bindings) = sorted(pending.statics);
        if rec {
            self.scopes
                .push(Scope::Static(Rc::new(StaticScope::new(names.clone()))));
        }
        let result = self.lower_set_body(
            names,
            bindings,
            pending.dynamics,
            &pending.inherit_froms,
            rec,
        );
        if rec {
            self.scopes.pop();
        }
        let def = Rc::new(result?);
        Ok(Rc::new(if rec {
            Expr::RecAttrs(def)
        } else {
            Expr::Attrs(def)
        }))
    }

    fn lower_set_body(
        &mut self,
        names: Vec<Sym>,
        bindings: Vec<Binding>,
        dynamics: Vec<(ast::Attr, Binding)>,
        froms: &[ast::Expr],
        rec: bool,
    ) -> Result<AttrsDef> {
        let froms = self.lower_froms(froms)?;
        let mut attrs = Vec::with_capacity(names.len());
        for (name, binding) in names.into_iter().zip(bindings) {
            let pos = binding.pos();
            let value = self.lower_binding(&name, binding, rec, &froms)?;
            attrs.push(AttrDef { name, value, pos });
        }
        let mut dynamic = Vec::with_capacity(dynamics.len());
        for (attr, binding) in dynamics {
            let pos = binding.pos();
            let key = match self.attr_key(&attr)? {
                AttrKey::Dynamic(e) => e,
                AttrKey::Static(s) => Rc::new(Expr::Const(crate::value::Value::string(s.as_str()))),
            };
            let value = self.lower_binding(&Sym::new(""), binding, rec, &froms)?;
            dynamic.push(DynamicAttr { key, value, pos });
        }
        Ok(AttrsDef { attrs, dynamic })
    }

    fn lower_froms(&mut self, froms: &[ast::Expr]) -> Result<Vec<Rc<Expr>>> {
        froms.iter().map(|f| self.expr(f)).collect()
    }

    /// Lowers one binding's value; `in_frame` says whether the innermost
    /// scope is the binding's own frame (so `inherit x` skips it).
    fn lower_binding(
        &mut self,
        name: &Sym,
        binding: Binding,
        in_frame: bool,
        froms: &[Rc<Expr>],
    ) -> Result<Rc<Expr>> {
        match binding {
            Binding::Expr {
                expr: ast::Expr::Lambda(l),
                ..
            } => Ok(Rc::new(Expr::Lambda(self.lambda(&l, Some(name.clone()))?))),
            Binding::Expr { expr, .. } => self.expr(&expr),
            Binding::Nested { attrs, .. } => self.lower_pending(attrs),
            Binding::Inherit { pos } => self.var_skip(name.as_str(), pos, usize::from(in_frame)),
            Binding::InheritFrom { from, pos } => {
                let expr = froms.get(from).cloned().ok_or(ErrorKind::Internal {
                    what: "inherit from",
                })?;
                let path = vec![AttrKey::Static(name.clone())];
                Ok(Rc::new(Expr::Select {
                    expr,
                    path,
                    default: None,
                    pos,
                }))
            }
        }
    }
}

/// Merges a new binding into an existing one of the same name, as Nix does
/// when both are set literals; anything else is a duplicate.
fn merge_into(cur: &mut Pending, i: usize, binding: Binding, dotted: &str, pos: Pos) -> Result<()> {
    let Some((_, existing)) = cur.statics.get_mut(i) else {
        return Err(Error::new(ErrorKind::Internal { what: "attr index" }));
    };
    let (Binding::Nested { attrs: target, .. }, Binding::Nested { attrs: source, .. }) =
        (existing, binding)
    else {
        let first = cur.statics.get(i).map_or(Pos::NONE, |(_, b)| b.pos());
        return Err(dup_error(dotted, first, pos));
    };
    let offset = target.inherit_froms.len();
    target.inherit_froms.extend(source.inherit_froms);
    for (name, b) in source.statics {
        if let Some(&j) = target.index.get(&name) {
            let first = target.statics.get(j).map_or(Pos::NONE, |(_, b)| b.pos());
            return Err(dup_error(&format!("{dotted}.{name}"), first, b.pos()));
        }
        let b = match b {
            Binding::InheritFrom { from, pos } => Binding::InheritFrom {
                from: from + offset,
                pos,
            },
            other => other,
        };
        target.insert(name, b);
    }
    Ok(())
}

fn push_dotted(dotted: &mut String, name: &str) {
    if !dotted.is_empty() {
        dotted.push('.');
    }
    dotted.push_str(name);
}

fn dup_error(path: &str, first: Pos, pos: Pos) -> Error {
    let kind = ErrorKind::DuplicateAttr {
        path: path.to_owned(),
        first: pos_string(first),
    };
    Error::new(kind).at(pos)
}

fn sorted(mut statics: Vec<(Sym, Binding)>) -> (Vec<Sym>, Vec<Binding>) {
    statics.sort_by(|a, b| a.0.cmp(&b.0));
    statics.into_iter().unzip()
}
