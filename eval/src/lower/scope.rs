//! Static scopes for resolving variables while lowering.
//!
//! Each scope corresponds to exactly one environment frame at run time
//! (`let`, `rec`, a lambda, a `with`, the builtins), so a variable becomes
//! `(frames up, slot)`. A name bound by no static scope falls back to the
//! innermost `with`, or is an "undefined variable" error right away, as in
//! Nix.

use std::collections::HashMap;
use std::rc::Rc;

use crate::value::Sym;

/// The names of one frame, mapped to their slots.
#[derive(Default, Clone)]
pub struct StaticScope {
    names: HashMap<Sym, u32>,
}

impl StaticScope {
    /// Returns a scope binding `names` to slots 0, 1, ….
    pub fn new(names: impl IntoIterator<Item = Sym>) -> StaticScope {
        let names = names
            .into_iter()
            .enumerate()
            .map(|(i, n)| (n, u32::try_from(i).unwrap_or(u32::MAX)))
            .collect();
        StaticScope { names }
    }

    /// Returns the slot of a name.
    pub fn get(&self, name: &Sym) -> Option<u32> {
        self.names.get(name).copied()
    }
}

/// One scope on the lowering stack.
#[derive(Clone)]
pub enum Scope {
    /// A frame of named slots.
    Static(Rc<StaticScope>),
    /// A `with` frame.
    With,
}

/// What a name resolves to.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolved {
    /// A slot, `depth` frames up.
    Slot {
        /// Frames up.
        depth: u32,
        /// Slot index.
        index: u32,
    },
    /// Looked up in the `with` frame `depth` frames up (and further ones).
    With {
        /// Frames up to the innermost `with`.
        depth: u32,
    },
    /// Not bound at all.
    Undefined,
}

/// The stack of scopes, innermost last.
#[derive(Clone, Default)]
pub struct Scopes {
    stack: Vec<Scope>,
}

impl Scopes {
    /// Returns a stack starting with the given outer scopes.
    pub fn new(outer: Vec<Scope>) -> Scopes {
        Scopes { stack: outer }
    }

    /// Pushes a scope.
    pub fn push(&mut self, scope: Scope) {
        self.stack.push(scope);
    }

    /// Pops the innermost scope.
    pub fn pop(&mut self) {
        self.stack.pop();
    }

    /// How many scopes there are (the outermost holds the builtins).
    pub fn count(&self) -> usize {
        self.stack.len()
    }

    /// Resolves a name, ignoring the innermost `skip` scopes (but counting
    /// their frames).
    pub fn resolve(&self, name: &Sym, skip: usize) -> Resolved {
        let mut with_depth = None;
        for (depth, scope) in self.stack.iter().rev().enumerate() {
            if depth < skip {
                continue;
            }
            let depth = u32::try_from(depth).unwrap_or(u32::MAX);
            match scope {
                Scope::With => {
                    with_depth.get_or_insert(depth);
                }
                Scope::Static(s) => {
                    if let Some(index) = s.get(name) {
                        return Resolved::Slot { depth, index };
                    }
                }
            }
        }
        match with_depth {
            Some(depth) => Resolved::With { depth },
            None => Resolved::Undefined,
        }
    }
}
