//! Attribute sets: vectors of attributes sorted by name.
//!
//! Sorting by the bytes of the name gives lookups by binary search and the
//! lexicographic order Nix uses for `attrNames`, `attrValues`, printing and
//! JSON, without sorting again.

use super::symbol::Key;
use super::{Sym, Value};
use crate::syntax::Pos;

/// One attribute: its name, value and where it was defined.
#[derive(Clone)]
pub struct Attr {
    /// The name.
    pub name: Sym,
    /// The value (possibly a thunk).
    pub value: Value,
    /// Where the attribute was defined, if known.
    pub pos: Pos,
}

/// An attribute set.
#[derive(Clone, Default)]
pub struct Attrs {
    entries: Vec<Attr>,
}

impl Attrs {
    /// Returns an empty set.
    pub fn new() -> Attrs {
        Attrs {
            entries: Vec::new(),
        }
    }

    /// Builds a set from attributes in any order; for duplicate names the
    /// first one wins.
    pub fn from_unsorted(mut entries: Vec<Attr>) -> Attrs {
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        entries.dedup_by(|later, earlier| later.name == earlier.name);
        Attrs { entries }
    }

    /// Builds a set from attributes already sorted by name with no
    /// duplicates.
    pub fn from_sorted(entries: Vec<Attr>) -> Attrs {
        debug_assert!(entries.windows(2).all(|w| w[0].name < w[1].name));
        Attrs { entries }
    }

    /// Builds a set from `(name, value)` pairs without positions.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (Sym, Value)>) -> Attrs {
        let entries = pairs
            .into_iter()
            .map(|(name, value)| Attr {
                name,
                value,
                pos: Pos::NONE,
            })
            .collect();
        Attrs::from_unsorted(entries)
    }

    /// Returns the number of attributes.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Looks up an attribute by name.
    pub fn get_attr(&self, name: &str) -> Option<&Attr> {
        let key = Key::new(name);
        self.entries
            .binary_search_by(|a| a.name.cmp_key(&key))
            .ok()
            .and_then(|i| self.entries.get(i))
    }

    /// Looks up a value by name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.get_attr(name).map(|a| &a.value)
    }

    /// Looks up a value by symbol.
    pub fn get_sym(&self, name: &Sym) -> Option<&Value> {
        self.entries
            .binary_search_by(|a| a.name.cmp(name))
            .ok()
            .and_then(|i| self.entries.get(i))
            .map(|a| &a.value)
    }

    /// Iterates over the attributes in name order.
    pub fn iter(&self) -> std::slice::Iter<'_, Attr> {
        self.entries.iter()
    }

    /// Returns the attributes as a slice.
    pub fn entries(&self) -> &[Attr] {
        &self.entries
    }

    /// Returns `self // other`: the union, `other` winning on conflicts.
    pub fn update(&self, other: &Attrs) -> Attrs {
        if other.is_empty() {
            return self.clone();
        }
        if self.is_empty() {
            return other.clone();
        }
        let mut out = Vec::with_capacity(self.len() + other.len());
        let (mut i, mut j) = (0, 0);
        let (a, b) = (&self.entries, &other.entries);
        while i < a.len() && j < b.len() {
            match a[i].name.cmp(&b[j].name) {
                std::cmp::Ordering::Less => {
                    out.push(a[i].clone());
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    out.push(b[j].clone());
                    j += 1;
                }
                std::cmp::Ordering::Equal => {
                    out.push(b[j].clone());
                    i += 1;
                    j += 1;
                }
            }
        }
        out.extend_from_slice(&a[i..]);
        out.extend_from_slice(&b[j..]);
        Attrs { entries: out }
    }

    /// Returns the set without the given names.
    pub fn remove(&self, names: &[Sym]) -> Attrs {
        let entries = self
            .entries
            .iter()
            .filter(|a| !names.contains(&a.name))
            .cloned()
            .collect();
        Attrs { entries }
    }

    /// Returns the attributes whose names are in `other`.
    pub fn intersect(&self, other: &Attrs) -> Attrs {
        let entries = other
            .entries
            .iter()
            .filter_map(|b| self.get_sym(&b.name).map(|_| b.clone()))
            .collect();
        Attrs { entries }
    }
}
