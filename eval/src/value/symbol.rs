//! Interned attribute and variable names.
//!
//! A [`Sym`] points at text shared by every occurrence of the same name,
//! so equality is usually a pointer comparison. Ordering is by the
//! bytes of the name, which is the order Nix uses for `attrNames` and printing.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::fmt;

use rustc_hash::FxHashMap;

/// An interned name's text, with its first eight bytes as a number so
/// that most comparisons of different names need no `memcmp`.
struct Name {
    /// The first eight bytes, big-endian, padded with zeros: ordering by
    /// it agrees with ordering by the bytes, except that equal prefixes
    /// need the full comparison.
    prefix: u64,
    text: Box<str>,
}

impl Name {
    fn new(text: &str) -> Name {
        Name {
            prefix: prefix_of(text),
            text: text.into(),
        }
    }
}

/// The first eight bytes of `text`, big-endian, padded with zeros.
fn prefix_of(text: &str) -> u64 {
    let mut bytes = [0u8; 8];
    for (b, t) in bytes.iter_mut().zip(text.bytes()) {
        *b = t;
    }
    u64::from_be_bytes(bytes)
}

/// A name being looked up without interning it, its prefix computed once
/// for all the comparisons of a search.
pub struct Key<'a> {
    prefix: u64,
    text: &'a str,
}

impl<'a> Key<'a> {
    /// Prepares `text` for comparisons with symbols.
    pub fn new(text: &'a str) -> Key<'a> {
        Key {
            prefix: prefix_of(text),
            text,
        }
    }
}

thread_local! {
    // FxHash: names are short, and hashing them is on the path of every
    // dynamic attribute (`a.${k}`, `listToAttrs`).
    static INTERNER: RefCell<FxHashMap<&'static str, &'static Name>> =
        RefCell::new(FxHashMap::default());
}

/// Names the evaluator itself looks up, interned once per thread: a
/// lookup by symbol finds its attribute by pointer, without comparing text.
#[derive(Clone)]
pub struct Known {
    /// `outPath`
    pub out_path: Sym,
    /// `__toString`
    pub to_string: Sym,
    /// `__functor`
    pub functor: Sym,
}

thread_local! {
    static KNOWN: Known = Known {
        out_path: Sym::new("outPath"),
        to_string: Sym::new("__toString"),
        functor: Sym::new("__functor"),
    };
}

/// The [`Known`] names.
pub fn known() -> Known {
    KNOWN.with(Known::clone)
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
            let interned: &'static Name = Box::leak(Box::new(Name::new(name)));
            table.insert(&interned.text, interned);
            Sym(interned)
        })
    }

    /// Compares the symbol's name with a looked-up name, by bytes.
    pub fn cmp_key(&self, key: &Key<'_>) -> Ordering {
        match self.0.prefix.cmp(&key.prefix) {
            Ordering::Equal => self.0.text.as_bytes().cmp(key.text.as_bytes()),
            unequal => unequal,
        }
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
            return Ordering::Equal;
        }
        self.cmp_key(&Key {
            prefix: other.0.prefix,
            text: &other.0.text,
        })
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

#[cfg(test)]
mod tests {
    use super::{Key, Sym};

    #[test]
    fn order_is_the_order_of_the_bytes() {
        let names = [
            "",
            "a",
            "a\u{0}",
            "a\u{1}",
            "ab",
            "abcdefgh",
            "abcdefgh\u{0}",
            "abcdefghi",
            "abcdefgi",
            "b",
            "k10",
            "k9",
            "\u{e9}t\u{e9}",
            "Z",
            "_x",
        ];
        for x in names {
            for y in names {
                assert_eq!(
                    Sym::new(x).cmp(&Sym::new(y)),
                    x.as_bytes().cmp(y.as_bytes()),
                    "{x:?} {y:?}"
                );
                assert_eq!(Sym::new(x) == Sym::new(y), x == y);
                assert_eq!(
                    Sym::new(x).cmp_key(&Key::new(y)),
                    x.as_bytes().cmp(y.as_bytes()),
                    "{x:?} {y:?}"
                );
            }
        }
    }
}
