//! The intermediate representation the machine runs.
//!
//! Variables are already resolved: [`Expr::Var`] names a slot by how many
//! frames up it lives and its index there; only names bound by no static
//! scope become [`Expr::WithVar`], looked up in the enclosing `with`s at run
//! time. Sub-expressions that may be suspended as thunks are `Rc<Expr>`.

use std::rc::Rc;

use crate::syntax::Pos;
use crate::value::{Sym, Value};

/// An expression.
pub enum Expr {
    /// A constant (number, string without interpolation, path, `__curPos`).
    Const(Value),
    /// A statically resolved variable.
    Var {
        /// Frames to walk up.
        depth: u32,
        /// Slot index in that frame.
        index: u32,
    },
    /// A variable looked up in the enclosing `with` namespaces.
    WithVar {
        /// The name.
        name: Sym,
        /// Frames to walk up to the innermost `with` frame.
        depth: u32,
        /// Where it was used.
        pos: Pos,
    },
    /// A function.
    Lambda(Rc<Lambda>),
    /// `f a b …`.
    Apply {
        /// The function.
        func: Rc<Expr>,
        /// The arguments, applied left to right.
        args: Vec<Rc<Expr>>,
        /// Where the application is.
        pos: Pos,
    },
    /// `e.a.b or d`.
    Select {
        /// The set.
        expr: Rc<Expr>,
        /// The attribute path.
        path: Vec<AttrKey>,
        /// The `or` default.
        default: Option<Rc<Expr>>,
        /// Where the selection is.
        pos: Pos,
    },
    /// `e ? a.b`.
    HasAttr {
        /// The set.
        expr: Rc<Expr>,
        /// The attribute path.
        path: Vec<AttrKey>,
    },
    /// A set literal (non-recursive: no frame of its own).
    Attrs(Rc<AttrsDef>),
    /// A `rec` set: its attributes live in a frame of their own.
    RecAttrs(Rc<AttrsDef>),
    /// `let … in body`: a frame of bindings, then the body.
    Let {
        /// The bindings, one slot each.
        bindings: Vec<Rc<Expr>>,
        /// The body.
        body: Rc<Expr>,
    },
    /// A list literal.
    List(Vec<Rc<Expr>>),
    /// `with ns; body`.
    With {
        /// The namespace.
        namespace: Rc<Expr>,
        /// The body (in a `with` frame).
        body: Rc<Expr>,
    },
    /// `if c then a else b`.
    If {
        /// The condition.
        cond: Rc<Expr>,
        /// The `then` branch.
        then: Rc<Expr>,
        /// The `else` branch.
        otherwise: Rc<Expr>,
        /// Where the condition is.
        pos: Pos,
    },
    /// `assert c; body`.
    Assert {
        /// The condition.
        cond: Rc<Expr>,
        /// The body.
        body: Rc<Expr>,
        /// The condition's text, for the message.
        text: Rc<str>,
        /// Where the assertion is.
        pos: Pos,
    },
    /// `!e`.
    Not(Rc<Expr>, Pos),
    /// A binary operator.
    BinOp {
        /// The operator.
        op: BinOp,
        /// Left operand.
        lhs: Rc<Expr>,
        /// Right operand.
        rhs: Rc<Expr>,
        /// Where the operator is.
        pos: Pos,
    },
    /// String or path interpolation: the parts concatenated.
    Interpolate {
        /// The parts.
        parts: Vec<Rc<Expr>>,
        /// Whether the result is a path (the first part is a path literal).
        is_path: bool,
        /// Where the string is.
        pos: Pos,
    },
}

/// A binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `++`
    Concat,
    /// `//`
    Update,
    /// `==`
    Eq,
    /// `!=`
    NotEq,
    /// `<`
    Less,
    /// `<=`
    LessEq,
    /// `>`
    More,
    /// `>=`
    MoreEq,
    /// `&&`
    And,
    /// `||`
    Or,
    /// `->`
    Implies,
}

/// A key in an attribute path.
pub enum AttrKey {
    /// A static name.
    Static(Sym),
    /// `${e}` or `"…${e}…"`.
    Dynamic(Rc<Expr>),
}

/// A set's definition.
pub struct AttrsDef {
    /// Static attributes, sorted by name.
    pub attrs: Vec<AttrDef>,
    /// Dynamic attributes, in source order.
    pub dynamic: Vec<DynamicAttr>,
}

/// A statically named attribute.
pub struct AttrDef {
    /// The name.
    pub name: Sym,
    /// The value.
    pub value: Rc<Expr>,
    /// Where it is defined.
    pub pos: Pos,
}

/// An attribute whose name is computed.
pub struct DynamicAttr {
    /// The name expression.
    pub key: Rc<Expr>,
    /// The value.
    pub value: Rc<Expr>,
    /// Where it is defined.
    pub pos: Pos,
}

/// A function.
pub struct Lambda {
    /// The name it was bound to, for messages.
    pub name: Option<Sym>,
    /// Its parameter.
    pub param: Param,
    /// Its body.
    pub body: Rc<Expr>,
    /// Where it starts.
    pub pos: Pos,
}

/// A function's parameter.
pub enum Param {
    /// `x: …` (slot 0).
    Ident(Sym),
    /// `{ a, b ? d, … } @ x: …`: slots are the formals in order, then the
    /// `@` name if any.
    Pattern {
        /// The formals.
        formals: Vec<Formal>,
        /// Whether `...` allows other attributes.
        ellipsis: bool,
        /// The `@` name.
        bind: Option<Sym>,
    },
}

/// One formal argument.
pub struct Formal {
    /// Its name.
    pub name: Sym,
    /// Its default.
    pub default: Option<Rc<Expr>>,
    /// Where it is declared.
    pub pos: Pos,
}

impl Lambda {
    /// Returns how many slots the lambda's frame has.
    pub fn slot_count(&self) -> usize {
        match &self.param {
            Param::Ident(_) => 1,
            Param::Pattern { formals, bind, .. } => formals.len() + usize::from(bind.is_some()),
        }
    }
}
