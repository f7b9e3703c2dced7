//! Interned attribute and variable names.
//!
//! A [`Sym`] points at text shared by every occurrence of the same name,
//! so equality is usually a pointer comparison. Ordering is by the
//! bytes of the name, which is the order Nix uses for `attrNames` and printing.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::fmt;

use rustc_hash::FxHashMap;

/// An interned name's text.
struct Name {
    text: Box<str>,
}

thread_local! {
    // FxHash: names are short, and hashing them is on the path of every
    // dynamic attribute (`a.${k}`, `listToAttrs`).
    static INTERNER: RefCell<FxHashMap<&'static str, &'static Name>> =
        RefCell::new(FxHashMap::default());
}

/// An interned name: a thin pointer to text that lives as long as the
/// process (names are few and shared by every evaluation on the thread),
/// so a symbol costs 8 bytes in every attribute and copying it touches no
/// reference count.
#[derive(Clone)]
pub struct Sym(&'static Name);

impl Sym {
    /// Returns the interned symbol for `name`.
    pub fn new(name: &str) -> Sym {
        INTERNER.with(|table| {
            let mut table = table.borrow_mut();
            if let Some(existing) = table.get(name) {
                return Sym(existing);
            }
            let interned: &'static Name = Box::leak(Box::new(Name { text: name.into() }));
            table.insert(&interned.text, interned);
            Sym(interned)
        })
    }

    /// Returns the name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0.text
    }
}

impl PartialEq for Sym {
    fn eq(&self, other: &Sym) -> bool {
        std::ptr::eq(self.0, other.0) || self.0.text == other.0.text
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
        if std::ptr::eq(self.0, other.0) {
            Ordering::Equal
        } else {
            self.0.text.as_bytes().cmp(other.0.text.as_bytes())
        }
    }
}

impl std::hash::Hash for Sym {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.text.hash(state);
    }
}

impl fmt::Display for Sym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.text)
    }
}

impl fmt::Debug for Sym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", &*self.0.text)
    }
}
