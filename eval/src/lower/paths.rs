//! Path literals: absolute, relative (to the file's directory), `~/…`,
//! `<search>` (desugared to `__findFile __nixPath "…"`), with or without
//! interpolation.

use std::rc::Rc;

use rnix::ast;
use rowan::ast::AstNode;

use super::Lowerer;
use super::ir::Expr;
use crate::error::Result;
use crate::value::Value;

impl Lowerer {
    /// Lowers a path literal.
    pub(super) fn path(&mut self, node: &ast::Expr) -> Result<Rc<Expr>> {
        let syntax = node.syntax();
        let pos = self.pos(syntax);
        let parts = match node {
            ast::Expr::PathSearch(p) => {
                let text = p.content().map(|c| c.text().to_owned()).unwrap_or_default();
                let name = text
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned();
                let find = self.var("__findFile", pos)?;
                let nix_path = self.var("__nixPath", pos)?;
                let arg = Rc::new(Expr::Const(Value::string(name)));
                return Ok(Rc::new(Expr::Apply {
                    func: find,
                    args: vec![nix_path, arg],
                    pos,
                }));
            }
            ast::Expr::PathAbs(p) => p.parts(),
            ast::Expr::PathRel(p) => p.parts(),
            ast::Expr::PathHome(p) => p.parts(),
            _ => return Err(self.missing(syntax)),
        };
        let mut out = Vec::with_capacity(parts.len());
        for (i, part) in parts.into_iter().enumerate() {
            match part {
                ast::InterpolPart::Literal(lit) if i == 0 => {
                    out.push(Rc::new(Expr::Const(self.first_segment(lit.text()))));
                }
                ast::InterpolPart::Literal(lit) => {
                    out.push(Rc::new(Expr::Const(Value::string(lit.text()))));
                }
                ast::InterpolPart::Interpolation(interp) => {
                    out.push(self.child(interp.expr(), interp.syntax())?);
                }
            }
        }
        if out.len() == 1 {
            return Ok(out.swap_remove(0));
        }
        Ok(Rc::new(Expr::Interpolate {
            parts: out,
            is_path: true,
            pos,
        }))
    }

    /// Resolves the first literal segment of a path to an absolute path,
    /// keeping a trailing `/` (it is followed by an interpolation).
    fn first_segment(&self, text: &str) -> Value {
        let absolute = if let Some(rest) = text.strip_prefix('~') {
            format!("{}{rest}", self.ctx.home)
        } else if text.starts_with('/') {
            text.to_owned()
        } else {
            format!("{}/{text}", self.ctx.base_dir)
        };
        let mut path = canon_path(&absolute);
        if text.ends_with('/') && text.len() > 1 && path != "/" {
            path.push('/');
        }
        Value::Path(Rc::new(path))
    }
}

/// Canonicalises an absolute path the way Nix's `canonPath` does: removes
/// `.`, empty components and trailing slashes, and applies `..` lexically.
pub fn canon_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        return "/".to_owned();
    }
    let mut out = String::with_capacity(path.len());
    for p in parts {
        out.push('/');
        out.push_str(p);
    }
    out
}
