//! Lowering: from rnix's syntax tree to the [`ir`] the machine runs.
//!
//! Lowering resolves every variable to a frame slot (see [`scope`]),
//! desugars `<path>` lookups, `inherit`, nested attribute paths and `-x`,
//! strips the indentation of `''…''` strings, turns relative paths absolute,
//! and reports what Nix reports at parse time: undefined variables,
//! duplicate attributes and formals, dynamic attributes in `let`.

mod attrs;
pub mod ir;
mod paths;
pub mod scope;
mod strings;

use std::rc::Rc;

use rnix::ast::{self, AstToken};
use rowan::ast::AstNode;

use crate::error::{Error, ErrorKind, Result};
use crate::syntax::Pos;
use crate::value::{Attrs, Sym, Value};
use ir::{AttrKey, BinOp, Expr, Formal, Lambda, Param};
use scope::{Resolved, Scope, Scopes, StaticScope};
use strings::Piece;

pub use paths::canon_path;

/// What lowering needs to know about the file.
pub struct LowerContext {
    /// The source's file id.
    pub file: u32,
    /// The directory relative paths are resolved against.
    pub base_dir: String,
    /// The home directory for `~/…` paths.
    pub home: String,
}

/// The lowerer's state.
pub struct Lowerer {
    ctx: LowerContext,
    scopes: Scopes,
}

/// Lowers a parsed file with the given outer scopes (the builtins, and for
/// `scopedImport` the extra scope).
pub fn lower(root: &rnix::Root, ctx: LowerContext, outer: Vec<Scope>) -> Result<Rc<Expr>> {
    let mut lowerer = Lowerer {
        ctx,
        scopes: Scopes::new(outer),
    };
    let expr = root
        .expr()
        .ok_or_else(|| lowerer.syntax_error(root.syntax(), "empty file"))?;
    lowerer.expr(&expr)
}

impl Lowerer {
    fn pos(&self, node: &rnix::SyntaxNode) -> Pos {
        Pos {
            file: self.ctx.file,
            offset: u32::from(node.text_range().start()),
        }
    }

    fn syntax_error(&self, node: &rnix::SyntaxNode, message: &str) -> Error {
        Error::new(ErrorKind::Syntax {
            message: message.to_owned(),
        })
        .at(self.pos(node))
    }

    fn missing(&self, node: &rnix::SyntaxNode) -> Error {
        self.syntax_error(node, "incomplete expression")
    }

    /// Lowers one expression.
    fn expr(&mut self, node: &ast::Expr) -> Result<Rc<Expr>> {
        use ast::Expr as E;
        let syntax = node.syntax();
        let pos = self.pos(syntax);
        let expr = match node {
            E::Paren(p) => return self.child(p.expr(), syntax),
            E::Root(r) => return self.child(r.expr(), syntax),
            E::Literal(lit) => Expr::Const(self.literal(lit)?),
            E::Str(s) => return self.string(s),
            E::PathAbs(_) | E::PathRel(_) | E::PathHome(_) | E::PathSearch(_) => {
                return self.path(node);
            }
            E::Ident(ident) => return self.ident(ident),
            E::CurPos(_) => Expr::Const(cur_pos(pos)),
            E::Apply(app) => self.apply(app)?,
            E::Lambda(lambda) => Expr::Lambda(self.lambda(lambda, None)?),
            E::IfElse(i) => Expr::If {
                cond: self.child(i.condition(), syntax)?,
                then: self.child(i.body(), syntax)?,
                otherwise: self.child(i.else_body(), syntax)?,
                pos,
            },
            E::Assert(a) => {
                let cond_node = a.condition().ok_or_else(|| self.missing(syntax))?;
                Expr::Assert {
                    text: Rc::from(cond_node.syntax().text().to_string()),
                    cond: self.expr(&cond_node)?,
                    body: self.child(a.body(), syntax)?,
                    pos,
                }
            }
            E::With(w) => {
                let namespace = self.child(w.namespace(), syntax)?;
                self.scopes.push(Scope::With);
                let body = self.child(w.body(), syntax);
                self.scopes.pop();
                Expr::With {
                    namespace,
                    body: body?,
                }
            }
            E::List(list) => {
                let items = list.items().map(|e| self.expr(&e)).collect::<Result<_>>()?;
                Expr::List(items)
            }
            E::UnaryOp(u) => self.unary(u)?,
            E::BinOp(b) => self.binop(b)?,
            E::Select(s) => self.select(s)?,
            E::HasAttr(h) => Expr::HasAttr {
                expr: self.child(h.expr(), syntax)?,
                path: self.attrpath(h.attrpath(), syntax)?,
            },
            E::AttrSet(set) => return self.attrset(set),
            E::LetIn(l) => return self.let_in(l),
            E::LegacyLet(l) => return self.legacy_let(l),
            E::Error(_) => return Err(self.syntax_error(syntax, "unexpected token")),
        };
        Ok(Rc::new(expr))
    }

    fn child(&mut self, node: Option<ast::Expr>, parent: &rnix::SyntaxNode) -> Result<Rc<Expr>> {
        match node {
            Some(n) => self.expr(&n),
            None => Err(self.missing(parent)),
        }
    }

    fn literal(&self, lit: &ast::Literal) -> Result<Value> {
        match lit.kind() {
            ast::LiteralKind::Integer(i) => match i.value() {
                Ok(v) => Ok(Value::Int(v)),
                Err(_) => Err(self.syntax_error(lit.syntax(), "invalid integer")),
            },
            ast::LiteralKind::Float(f) => {
                let text = f.syntax().text();
                let text = if text.starts_with('.') {
                    format!("0{text}")
                } else {
                    text.to_owned()
                };
                text.parse::<f64>()
                    .map(Value::Float)
                    .map_err(|_| self.syntax_error(lit.syntax(), "invalid float"))
            }
            ast::LiteralKind::Uri(u) => Ok(Value::string(u.syntax().text())),
        }
    }

    fn ident(&mut self, ident: &ast::Ident) -> Result<Rc<Expr>> {
        let name = ident_name(ident);
        let pos = self.pos(ident.syntax());
        self.var(&name, pos)
    }

    /// Returns the expression for a variable reference.
    fn var(&mut self, name: &str, pos: Pos) -> Result<Rc<Expr>> {
        self.var_skip(name, pos, 0)
    }

    fn var_skip(&mut self, name: &str, pos: Pos, skip: usize) -> Result<Rc<Expr>> {
        let sym = Sym::new(name);
        let expr = match self.scopes.resolve(&sym, skip) {
            Resolved::Slot { depth, index } => Expr::Var { depth, index },
            Resolved::With { depth } => Expr::WithVar {
                name: sym,
                depth,
                pos,
            },
            Resolved::Undefined => {
                return Err(Error::new(ErrorKind::UndefinedVar {
                    name: name.to_owned(),
                })
                .at(pos));
            }
        };
        Ok(Rc::new(expr))
    }

    fn apply(&mut self, app: &ast::Apply) -> Result<Expr> {
        let mut args = Vec::new();
        let mut current = app.clone();
        let pos = self.pos(app.syntax());
        let func = loop {
            let arg = current
                .argument()
                .ok_or_else(|| self.missing(current.syntax()))?;
            args.push(arg);
            match current.lambda() {
                Some(ast::Expr::Apply(inner)) => current = inner,
                Some(other) => break other,
                None => return Err(self.missing(current.syntax())),
            }
        };
        let func = self.expr(&func)?;
        let args = args
            .iter()
            .rev()
            .map(|a| self.expr(a))
            .collect::<Result<_>>()?;
        Ok(Expr::Apply { func, args, pos })
    }

    fn lambda(&mut self, lambda: &ast::Lambda, name: Option<Sym>) -> Result<Rc<Lambda>> {
        let syntax = lambda.syntax();
        let pos = self.pos(syntax);
        let param = lambda.param().ok_or_else(|| self.missing(syntax))?;
        let (names, param) = match param {
            ast::Param::IdentParam(p) => {
                let ident = p.ident().ok_or_else(|| self.missing(syntax))?;
                let name = Sym::new(&ident_name(&ident));
                (vec![name.clone()], ParamSyntax::Ident(name))
            }
            ast::Param::Pattern(p) => self.pattern_names(&p)?,
        };
        self.scopes
            .push(Scope::Static(Rc::new(StaticScope::new(names))));
        let result = self.lambda_body(lambda, param, name, pos);
        self.scopes.pop();
        result
    }

    fn pattern_names(&mut self, p: &ast::Pattern) -> Result<(Vec<Sym>, ParamSyntax)> {
        let mut names: Vec<Sym> = Vec::new();
        let mut entries = Vec::new();
        for entry in p.pat_entries() {
            let ident = entry.ident().ok_or_else(|| self.missing(entry.syntax()))?;
            let name = Sym::new(&ident_name(&ident));
            if names.contains(&name) {
                let kind = ErrorKind::DuplicateFormal {
                    name: name.to_string(),
                };
                return Err(Error::new(kind).at(self.pos(entry.syntax())));
            }
            names.push(name.clone());
            entries.push((name, entry.default(), self.pos(entry.syntax())));
        }
        let bind = match p.pat_bind().and_then(|b| b.ident()) {
            Some(ident) => {
                let name = Sym::new(&ident_name(&ident));
                if names.contains(&name) {
                    let kind = ErrorKind::DuplicateFormal {
                        name: name.to_string(),
                    };
                    return Err(Error::new(kind).at(self.pos(p.syntax())));
                }
                names.push(name.clone());
                Some(name)
            }
            None => None,
        };
        let ellipsis = p.ellipsis_token().is_some();
        Ok((
            names,
            ParamSyntax::Pattern {
                entries,
                ellipsis,
                bind,
            },
        ))
    }

    fn lambda_body(
        &mut self,
        lambda: &ast::Lambda,
        param: ParamSyntax,
        name: Option<Sym>,
        pos: Pos,
    ) -> Result<Rc<Lambda>> {
        let param = match param {
            ParamSyntax::Ident(name) => Param::Ident(name),
            ParamSyntax::Pattern {
                entries,
                ellipsis,
                bind,
            } => {
                let mut formals = Vec::with_capacity(entries.len());
                for (name, default, pos) in entries {
                    let default = match default {
                        Some(d) => Some(self.expr(&d)?),
                        None => None,
                    };
                    formals.push(Formal { name, default, pos });
                }
                Param::Pattern {
                    formals,
                    ellipsis,
                    bind,
                }
            }
        };
        let body = self.child(lambda.body(), lambda.syntax())?;
        Ok(Rc::new(Lambda {
            name,
            param,
            body,
            pos,
        }))
    }

    fn unary(&mut self, u: &ast::UnaryOp) -> Result<Expr> {
        let syntax = u.syntax();
        let pos = self.pos(syntax);
        let operand = self.child(u.expr(), syntax)?;
        match u.operator() {
            Some(ast::UnaryOpKind::Invert) => Ok(Expr::Not(operand, pos)),
            Some(ast::UnaryOpKind::Negate) => {
                let zero = Rc::new(Expr::Const(Value::Int(0)));
                Ok(self.arith_op(BinOp::Sub, zero, operand, pos))
            }
            None => Err(self.missing(syntax)),
        }
    }

    fn binop(&mut self, b: &ast::BinOp) -> Result<Expr> {
        use ast::BinOpKind as K;
        let syntax = b.syntax();
        let op = match b.operator() {
            Some(K::Concat) => BinOp::Concat,
            Some(K::Update) => BinOp::Update,
            Some(K::Add) => BinOp::Add,
            Some(K::Sub) => BinOp::Sub,
            Some(K::Mul) => BinOp::Mul,
            Some(K::Div) => BinOp::Div,
            Some(K::And) => BinOp::And,
            Some(K::Equal) => BinOp::Eq,
            Some(K::Implication) => BinOp::Implies,
            Some(K::Less) => BinOp::Less,
            Some(K::LessOrEq) => BinOp::LessEq,
            Some(K::More) => BinOp::More,
            Some(K::MoreOrEq) => BinOp::MoreEq,
            Some(K::NotEqual) => BinOp::NotEq,
            Some(K::Or) => BinOp::Or,
            Some(K::PipeLeft | K::PipeRight) | None => {
                return Err(self.syntax_error(syntax, "unexpected operator"));
            }
        };
        let lhs = self.child(b.lhs(), syntax)?;
        let rhs = self.child(b.rhs(), syntax)?;
        let pos = operator_pos(self, b);
        Ok(self.arith_op(op, lhs, rhs, pos))
    }

    /// Nix parses `a - b` as `__sub a b`, `*` and `/` as `__mul` and
    /// `__div`, and `<`, `<=`, `>`, `>=` as calls of `__lessThan` (swapped
    /// or negated): a binding of one of those names shadows the builtin,
    /// and the operator then calls it. Otherwise the operator is built in.
    fn arith_op(&mut self, op: BinOp, lhs: Rc<Expr>, rhs: Rc<Expr>, pos: Pos) -> Expr {
        let name = match op {
            BinOp::Sub => "__sub",
            BinOp::Mul => "__mul",
            BinOp::Div => "__div",
            BinOp::Less | BinOp::LessEq | BinOp::More | BinOp::MoreEq => "__lessThan",
            _ => return Expr::BinOp { op, lhs, rhs, pos },
        };
        let func = match self.scopes.resolve(&Sym::new(name), 0) {
            Resolved::Slot { depth, index } if (depth as usize) + 1 < self.scopes.count() => {
                Rc::new(Expr::Var { depth, index })
            }
            _ => return Expr::BinOp { op, lhs, rhs, pos },
        };
        let call = |args: Vec<Rc<Expr>>| Expr::Apply {
            func: func.clone(),
            args,
            pos,
        };
        match op {
            BinOp::More => call(vec![rhs, lhs]),
            BinOp::LessEq => Expr::Not(Rc::new(call(vec![rhs, lhs])), pos),
            BinOp::MoreEq => Expr::Not(Rc::new(call(vec![lhs, rhs])), pos),
            _ => call(vec![lhs, rhs]),
        }
    }

    fn select(&mut self, s: &ast::Select) -> Result<Expr> {
        let syntax = s.syntax();
        let expr = self.child(s.expr(), syntax)?;
        let path = self.attrpath(s.attrpath(), syntax)?;
        let default = match s.default_expr() {
            Some(d) => Some(self.expr(&d)?),
            None => None,
        };
        Ok(Expr::Select {
            expr,
            path,
            default,
            pos: self.pos(syntax),
        })
    }

    fn attrpath(
        &mut self,
        path: Option<ast::Attrpath>,
        parent: &rnix::SyntaxNode,
    ) -> Result<Vec<AttrKey>> {
        let path = path.ok_or_else(|| self.missing(parent))?;
        path.attrs().map(|a| self.attr_key(&a)).collect()
    }

    /// Lowers one attribute-path element: a static name when it is one.
    fn attr_key(&mut self, attr: &ast::Attr) -> Result<AttrKey> {
        match static_attr_name(attr) {
            Some(name) => Ok(AttrKey::Static(Sym::new(&name))),
            None => match attr {
                ast::Attr::Dynamic(d) => Ok(AttrKey::Dynamic(self.child(d.expr(), d.syntax())?)),
                ast::Attr::Str(s) => Ok(AttrKey::Dynamic(self.string(s)?)),
                ast::Attr::Ident(i) => Ok(AttrKey::Static(Sym::new(&ident_name(i)))),
            },
        }
    }

    /// Lowers a string literal.
    fn string(&mut self, s: &ast::Str) -> Result<Rc<Expr>> {
        let pieces = self.string_pieces(s)?;
        let pos = self.pos(s.syntax());
        let mut parts = Vec::with_capacity(pieces.len());
        for piece in pieces {
            match piece {
                Piece::Text { text, .. } => parts.push(Rc::new(Expr::Const(Value::string(text)))),
                Piece::Interp(e) => parts.push(e),
            }
        }
        if parts.is_empty() {
            return Ok(Rc::new(Expr::Const(Value::string(""))));
        }
        if parts.len() == 1 && matches!(&*parts[0], Expr::Const(Value::String(_))) {
            return Ok(parts.swap_remove(0));
        }
        Ok(Rc::new(Expr::Interpolate {
            parts,
            is_path: false,
            pos,
        }))
    }

    fn string_pieces(&mut self, s: &ast::Str) -> Result<Vec<Piece<Rc<Expr>>>> {
        let indented = s.syntax().first_token().is_some_and(|t| t.text() == "''");
        let mut pieces = Vec::new();
        let mut raw = String::new();
        let mut first = true;
        for part in s.parts() {
            match part {
                ast::InterpolPart::Literal(lit) => raw.push_str(lit.syntax().text()),
                ast::InterpolPart::Interpolation(i) => {
                    self.flush_raw(&mut raw, indented, first, &mut pieces);
                    first = false;
                    let e = self.child(i.expr(), i.syntax())?;
                    pieces.push(Piece::Interp(e));
                }
            }
        }
        self.flush_raw(&mut raw, indented, first, &mut pieces);
        if indented {
            pieces = strings::strip_indentation(pieces);
        }
        Ok(pieces)
    }

    fn flush_raw(
        &self,
        raw: &mut String,
        indented: bool,
        first: bool,
        out: &mut Vec<Piece<Rc<Expr>>>,
    ) {
        if indented {
            let mut text: &str = raw;
            if first {
                let spaces = text.bytes().take_while(|&b| b == b' ').count();
                if text.as_bytes().get(spaces) == Some(&b'\n') {
                    text = &text[spaces + 1..];
                }
            }
            strings::lex_indented(text, out);
        } else if !raw.is_empty() {
            out.push(Piece::Text {
                text: strings::unescape_double(raw),
                indented: false,
            });
        }
        raw.clear();
    }
}

enum ParamSyntax {
    Ident(Sym),
    Pattern {
        entries: Vec<(Sym, Option<ast::Expr>, Pos)>,
        ellipsis: bool,
        bind: Option<Sym>,
    },
}

/// Returns an identifier's name.
fn ident_name(ident: &ast::Ident) -> String {
    ident.syntax().text().to_string()
}

/// Returns the name of an attribute-path element when it is static: an
/// identifier, a string without interpolation, or `${"literal"}`.
fn static_attr_name(attr: &ast::Attr) -> Option<String> {
    match attr {
        ast::Attr::Ident(i) => Some(ident_name(i)),
        ast::Attr::Str(s) => static_string(s),
        ast::Attr::Dynamic(d) => match d.expr() {
            Some(ast::Expr::Str(s)) => static_string(&s),
            _ => None,
        },
    }
}

fn static_string(s: &ast::Str) -> Option<String> {
    let indented = s.syntax().first_token().is_some_and(|t| t.text() == "''");
    if indented {
        return None;
    }
    let mut raw = String::new();
    for part in s.parts() {
        match part {
            ast::InterpolPart::Literal(lit) => raw.push_str(lit.syntax().text()),
            ast::InterpolPart::Interpolation(_) => return None,
        }
    }
    Some(strings::unescape_double(&raw))
}

fn operator_pos(lowerer: &Lowerer, b: &ast::BinOp) -> Pos {
    let offset = b
        .syntax()
        .children_with_tokens()
        .filter_map(|c| c.into_token())
        .find(|t| ast::BinOpKind::from_kind(t.kind()).is_some())
        .map_or_else(
            || b.syntax().text_range().start(),
            |t| t.text_range().start(),
        );
    Pos {
        file: lowerer.ctx.file,
        offset: u32::from(offset),
    }
}

/// Returns the value of `__curPos` at a position.
fn cur_pos(pos: Pos) -> Value {
    match crate::syntax::locate(pos) {
        Some(loc) => Value::attrs(pos_attrs(&loc)),
        None => Value::Null,
    }
}

/// Returns `{ file, line, column }` for a location.
pub fn pos_attrs(loc: &crate::syntax::Location) -> Attrs {
    let file = match &loc.origin {
        crate::syntax::Origin::File(p) => p.clone(),
        crate::syntax::Origin::String => "«string»".to_owned(),
    };
    Attrs::from_pairs([
        (Sym::new("file"), Value::string(file)),
        (
            Sym::new("line"),
            Value::Int(i64::try_from(loc.line).unwrap_or(0)),
        ),
        (
            Sym::new("column"),
            Value::Int(i64::try_from(loc.column).unwrap_or(0)),
        ),
    ])
}

#[cfg(test)]
mod tests;
