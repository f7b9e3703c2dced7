//! Interned attribute and variable names.
//!
//! A [`Sym`] is a reference-counted string shared by every occurrence of the
//! same name, so equality is usually a pointer comparison. Ordering is by the
//! bytes of the name, which is the order Nix uses for `attrNames` and printing.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::fmt;
use std::rc::Rc;

use rustc_hash::FxHashSet;

thread_local! {
    // FxHash: names are short, and hashing them is on the path of every
    // dynamic attribute (`a.${k}`, `listToAttrs`).
    static INTERNER: RefCell<FxHashSet<Rc<str>>> = RefCell::new(FxHashSet::default());
}

/// An interned name.
#[derive(Clone)]
pub struct Sym(Rc<str>);

impl Sym {
    /// Returns the interned symbol for `name`.
    pub fn new(name: &str) -> Sym {
        INTERNER.with(|set| {
            let mut set = set.borrow_mut();
            if let Some(existing) = set.get(name) {
                return Sym(existing.clone());
            }
            let rc: Rc<str> = Rc::from(name);
            set.insert(rc.clone());
            Sym(rc)
        })
    }

    /// Returns the name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PartialEq for Sym {
    fn eq(&self, other: &Sym) -> bool {
        Rc::ptr_eq(&self.0, &other.0) || *self.0 == *other.0
    }
}

impl Eq for Sym {}

impl PartialOrd for Sym {
    fn partial_cmp(&self, other: &Sym) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Sym {
    fn cmp(&self, other: &Sym) -> Ordering {
        if Rc::ptr_eq(&self.0, &other.0) {
            Ordering::Equal
        } else {
            self.0.as_bytes().cmp(other.0.as_bytes())
        }
    }
}

impl std::hash::Hash for Sym {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl fmt::Display for Sym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Sym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", &*self.0)
    }
}
