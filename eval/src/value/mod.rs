//! Runtime values: the things expressions evaluate to.
//!
//! Every [`Value`] is cheap to clone: compound values sit behind `Rc`.
//! A value may be an unevaluated [`Thunk`]; the machine forces thunks to
//! weak head normal form on demand and memoises the result in place, so a
//! shared thunk is evaluated at most once.

mod attrs;
mod string;
pub(crate) mod symbol;

pub use attrs::{Attr, Attrs};
pub use string::{Context, NixString, StringBuilder};
pub use symbol::Sym;

use std::cell::RefCell;
use std::rc::Rc;

use smallvec::SmallVec;

use crate::error::Error;
use crate::lower::ir::{Expr, Lambda};
use crate::machine::Machine;

/// A Nix value (possibly an unevaluated thunk).
#[derive(Clone)]
pub enum Value {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A 64-bit signed integer (arithmetic wraps, as in Nix 2.8).
    Int(i64),
    /// A double-precision float.
    Float(f64),
    /// A string with context.
    String(Rc<NixString>),
    /// An absolute, canonical path.
    Path(Rc<String>),
    /// An attribute set.
    Attrs(Rc<Attrs>),
    /// A list.
    List(Rc<Vec<Value>>),
    /// A user-defined function with its environment.
    Lambda(Rc<Closure>),
    /// A built-in function.
    PrimOp(Rc<PrimOp>),
    /// A built-in function applied to fewer arguments than it takes.
    PrimOpApp(Rc<PrimOpApp>),
    /// A suspended computation.
    Thunk(Rc<Thunk>),
}

impl Value {
    /// Returns a string value without context.
    pub fn string(s: impl Into<Box<str>>) -> Value {
        Value::String(Rc::new(NixString::plain(s)))
    }

    /// Returns a string value from a [`NixString`].
    pub fn from_nix_string(s: NixString) -> Value {
        Value::String(Rc::new(s))
    }

    /// Returns a list value.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Rc::new(items))
    }

    /// Returns an attribute set value.
    pub fn attrs(attrs: Attrs) -> Value {
        Value::Attrs(Rc::new(attrs))
    }

    /// Returns a lazy application `f args…`.
    pub fn apply_lazy(f: Value, args: Vec<Value>) -> Value {
        Value::Thunk(Rc::new(Thunk(RefCell::new(ThunkState::Apply(
            f,
            args.into(),
        )))))
    }

    /// Returns a lazy application `f x` to one argument (no list to
    /// allocate).
    pub fn call_lazy(f: Value, x: Value) -> Value {
        Value::Thunk(Rc::new(Thunk(RefCell::new(ThunkState::Call(f, x)))))
    }

    /// Returns the type name Nix uses in messages ("an integer", "a set", …).
    pub fn type_desc(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a Boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::String(_) => "a string",
            Value::Path(_) => "a path",
            Value::Attrs(_) => "a set",
            Value::List(_) => "a list",
            Value::Lambda(_) => "a function",
            Value::PrimOp(_) => "a built-in function",
            Value::PrimOpApp(_) => "a partially applied built-in function",
            Value::Thunk(_) => "a thunk",
        }
    }

    /// Returns the name `builtins.typeOf` gives.
    pub fn type_of(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::String(_) => "string",
            Value::Path(_) => "path",
            Value::Attrs(_) => "set",
            Value::List(_) => "list",
            Value::Lambda(_) | Value::PrimOp(_) | Value::PrimOpApp(_) => "lambda",
            Value::Thunk(_) => "thunk",
        }
    }

    /// An identity for the value, as Nix's `Value*` would be: used for the
    /// printer's `«repeated»` and for the pointer-equality shortcut of `==`.
    pub fn identity(&self) -> Option<usize> {
        match self {
            Value::Thunk(t) => Some(Rc::as_ptr(t) as *const u8 as usize),
            Value::Attrs(a) => Some(Rc::as_ptr(a) as *const u8 as usize),
            Value::List(l) => Some(Rc::as_ptr(l) as *const u8 as usize),
            Value::Lambda(l) => Some(Rc::as_ptr(l) as *const u8 as usize),
            Value::PrimOp(p) => Some(Rc::as_ptr(p) as *const u8 as usize),
            Value::PrimOpApp(p) => Some(Rc::as_ptr(p) as *const u8 as usize),
            _ => None,
        }
    }

    /// Whether this is a function of any kind (not counting functors).
    pub fn is_function(&self) -> bool {
        matches!(
            self,
            Value::Lambda(_) | Value::PrimOp(_) | Value::PrimOpApp(_)
        )
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::String(s) => write!(f, "{:?}", s.as_str()),
            Value::Path(p) => f.write_str(p),
            other => f.write_str(other.type_of()),
        }
    }
}

/// A lexical environment: one frame of variable slots and its parent.
pub type Env = Rc<EnvFrame>;

/// One frame of an [`Env`].
pub struct EnvFrame {
    /// The slots (recursive bindings are filled after the frame exists,
    /// so their thunks can point at it; `__overrides` replaces some).
    pub slots: SmallVec<[RefCell<Value>; 2]>,
    /// The enclosing frame.
    pub parent: Option<Env>,
    /// Whether this frame belongs to a `with` (slot 0 is its namespace).
    pub is_with: bool,
}

impl EnvFrame {
    /// Sets a slot.
    pub fn set(&self, index: usize, value: Value) {
        if let Some(slot) = self.slots.get(index) {
            *slot.borrow_mut() = value;
        }
    }

    /// Returns a slot's value.
    pub fn get(&self, index: usize) -> Option<Value> {
        self.slots.get(index).map(|s| s.borrow().clone())
    }

    /// Returns a frame of one slot (a plain lambda's argument).
    pub fn single(value: Value, parent: Option<Env>) -> Env {
        let mut slots = SmallVec::new();
        slots.push(RefCell::new(value));
        Rc::new(EnvFrame {
            slots,
            parent,
            is_with: false,
        })
    }

    /// Returns a frame with the given slot values.
    pub fn new(values: Vec<Value>, parent: Option<Env>) -> Env {
        let slots = values.into_iter().map(RefCell::new).collect();
        Rc::new(EnvFrame {
            slots,
            parent,
            is_with: false,
        })
    }

    /// Returns a frame of `n` slots (holding `null` until filled).
    pub fn empty(n: usize, parent: Option<Env>) -> Env {
        let slots = (0..n).map(|_| RefCell::new(Value::Null)).collect();
        Rc::new(EnvFrame {
            slots,
            parent,
            is_with: false,
        })
    }

    /// Returns a `with` frame holding its namespace.
    pub fn with(namespace: Value, parent: Env) -> Env {
        let mut slots = SmallVec::new();
        slots.push(RefCell::new(namespace));
        Rc::new(EnvFrame {
            slots,
            parent: Some(parent),
            is_with: true,
        })
    }
}

/// A suspended computation, evaluated at most once.
pub struct Thunk(pub RefCell<ThunkState>);

/// The state of a [`Thunk`].
pub enum ThunkState {
    /// An expression waiting to be evaluated in an environment.
    Pending(Rc<Expr>, Env),
    /// A function application waiting to happen.
    Apply(Value, Box<[Value]>),
    /// An application to one argument waiting to happen.
    Call(Value, Value),
    /// Being evaluated right now: forcing it again is infinite recursion.
    Blackhole,
    /// Evaluated, in weak head normal form.
    Done(Value),
}

impl Thunk {
    /// Returns a pending thunk.
    pub fn pending(expr: Rc<Expr>, env: Env) -> Value {
        Value::Thunk(Rc::new(Thunk(RefCell::new(ThunkState::Pending(expr, env)))))
    }

    /// Returns the value if the thunk has been evaluated.
    pub fn value(&self) -> Option<Value> {
        match &*self.0.borrow() {
            ThunkState::Done(v) => Some(v.clone()),
            _ => None,
        }
    }
}

/// A lambda together with the environment it closes over.
pub struct Closure {
    /// The lambda's code.
    pub lambda: Rc<Lambda>,
    /// The environment at its definition.
    pub env: Env,
}

/// The Rust function behind a primop: it receives exactly `arity` unforced
/// arguments.
pub type PrimFn = fn(&mut Machine, &[Value]) -> Result<Value, Error>;

/// A built-in function.
pub struct PrimOp {
    /// Its name (without `__`).
    pub name: &'static str,
    /// How many arguments it takes.
    pub arity: usize,
    /// Its implementation.
    pub func: PrimFn,
}

/// A primop applied to some, but not all, of its arguments.
pub struct PrimOpApp {
    /// The primop.
    pub op: Rc<PrimOp>,
    /// The arguments so far.
    pub args: Vec<Value>,
}

// Values are copied and stored everywhere (lists, attributes, thunks): a
// tag and one pointer, no more.
const _: () = assert!(std::mem::size_of::<Value>() == 16);
