//! The built-in functions and constants, by topic, and the base
//! environment they live in.
//!
//! Like Nix, every builtin is reachable as `builtins.<name>`; most are also
//! bound as `__<name>` in the base scope, and a few (`map`, `import`,
//! `toString`, `throw`, …) under their plain name.

mod arith;
mod attrs;
mod context;
mod debug;
pub mod derivation;
mod hash;
mod lists;
mod paths;
mod regex;
mod serial;
mod strings;
mod types;
mod versions;

use std::cell::RefCell;
use std::rc::Rc;

use crate::error::{Error, ErrorKind, Result};
use crate::lower::scope::StaticScope;
use crate::machine::Machine;
use crate::value::{Attr, Attrs, EnvFrame, PrimFn, PrimOp, Sym, Thunk, ThunkState, Value};

/// Names bound without the `__` prefix in the base scope.
const GLOBAL: &[&str] = &[
    "abort",
    "baseNameOf",
    "derivation",
    "derivationStrict",
    "dirOf",
    "fetchGit",
    "fetchMercurial",
    "fetchTarball",
    "fetchTree",
    "fromTOML",
    "import",
    "isNull",
    "map",
    "placeholder",
    "removeAttrs",
    "scopedImport",
    "throw",
    "toString",
    "true",
    "false",
    "null",
    "builtins",
];

/// A primop's table entry: name, arity, implementation.
pub(crate) type Entry = (&'static str, usize, PrimFn);

fn all_primops() -> Vec<Entry> {
    let mut v = Vec::new();
    v.extend_from_slice(arith::PRIMOPS);
    v.extend_from_slice(attrs::PRIMOPS);
    v.extend_from_slice(context::PRIMOPS);
    v.extend_from_slice(debug::PRIMOPS);
    v.extend_from_slice(derivation::PRIMOPS);
    v.extend_from_slice(hash::PRIMOPS);
    v.extend_from_slice(lists::PRIMOPS);
    v.extend_from_slice(paths::PRIMOPS);
    v.extend_from_slice(regex::PRIMOPS);
    v.extend_from_slice(serial::PRIMOPS);
    v.extend_from_slice(strings::PRIMOPS);
    v.extend_from_slice(types::PRIMOPS);
    v.extend_from_slice(versions::PRIMOPS);
    v
}

/// Builds the base environment and scope and installs them in the machine.
pub fn install(machine: &mut Machine) {
    let mut named: Vec<(&'static str, Value)> = all_primops()
        .into_iter()
        .map(|(name, arity, func)| (name, Value::PrimOp(Rc::new(PrimOp { name, arity, func }))))
        .collect();
    let opts = machine.options.clone();
    named.extend([
        ("true", Value::Bool(true)),
        ("false", Value::Bool(false)),
        ("null", Value::Null),
        ("currentSystem", Value::string(opts.system.as_str())),
        ("currentTime", Value::Int(opts.current_time)),
        ("nixVersion", Value::string("2.8.0")),
        ("langVersion", Value::Int(6)),
        ("storeDir", Value::string(opts.store_dir.as_str())),
        ("nixPath", machine.nix_path_value()),
        ("derivation", Value::Null),
        ("builtins", Value::Null),
    ]);
    let scope_names: Vec<Sym> = named
        .iter()
        .map(|(n, _)| {
            if GLOBAL.contains(n) {
                Sym::new(n)
            } else {
                Sym::new(&format!("__{n}"))
            }
        })
        .collect();
    let values: Vec<Value> = named.iter().map(|(_, v)| v.clone()).collect();
    let frame = EnvFrame::new(values, None);
    machine.base_scope = Rc::new(StaticScope::new(scope_names));
    machine.base_env = frame.clone();
    let slot = |name: &str| named.iter().position(|(n, _)| *n == name);
    if let (Some(i), Ok(derivation)) = (slot("derivation"), derivation::compile(machine, &frame)) {
        frame.set(i, derivation);
    }
    // `builtins.builtins` is the set itself: a thunk settled afterwards.
    let itself = Rc::new(Thunk(RefCell::new(ThunkState::Blackhole)));
    let entries: Vec<Attr> = named
        .iter()
        .enumerate()
        .map(|(i, (n, _))| Attr {
            name: Sym::new(n),
            value: if *n == "builtins" {
                Value::Thunk(itself.clone())
            } else {
                frame.get(i).unwrap_or(Value::Null)
            },
            pos: crate::syntax::Pos::NONE,
        })
        .collect();
    let builtins = Value::attrs(Attrs::from_unsorted(entries));
    *itself.0.borrow_mut() = ThunkState::Done(builtins.clone());
    if let Some(i) = slot("builtins") {
        frame.set(i, builtins);
    }
}

/// The error for a primop called with the wrong number of arguments (an
/// invariant of the machine, never reached from user input).
pub(crate) fn arity() -> Error {
    Error::new(ErrorKind::Internal {
        what: "primop arity",
    })
}

/// An error with a message in Nix's words.
pub(crate) fn fail(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Builtin {
        message: message.into(),
    })
}

/// Shorthand result type for primops.
pub(crate) type R = Result<Value>;
