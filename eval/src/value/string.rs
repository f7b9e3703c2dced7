//! Strings with context.
//!
//! Nix strings remember which store paths they were built from (their
//! *context*), so that a derivation using a string also depends on those
//! paths. Context elements use Nix's own encoding:
//! - `/nix/store/…` a plain store path (a source or `toFile` output),
//! - `=/nix/store/….drv` a derivation and all its outputs (`drvPath`),
//! - `!out!/nix/store/….drv` one output of a derivation (`outPath`).

use std::rc::Rc;

/// A set of context elements, in Nix's string encoding, kept sorted.
///
/// Elements are shared (`Rc<str>`): a string built from others copies
/// their contexts without copying the elements, and most contexts hold one
/// or two, so a sorted vector is smaller and faster than a tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    elems: Vec<Rc<str>>,
}

impl Context {
    /// Returns an empty context.
    pub fn new() -> Context {
        Context::default()
    }

    /// Adds an element; returns whether it was new.
    pub fn insert(&mut self, elem: impl Into<Rc<str>>) -> bool {
        let elem = elem.into();
        match self.elems.binary_search(&elem) {
            Ok(_) => false,
            Err(at) => {
                self.elems.insert(at, elem);
                true
            }
        }
    }

    /// Adds every element of `other`.
    pub fn merge(&mut self, other: &Context) {
        if other.elems.is_empty() {
            return;
        }
        if self.elems.is_empty() {
            self.elems.clone_from(&other.elems);
            return;
        }
        if other.elems.len() == 1 {
            if let Some(e) = other.elems.first() {
                self.insert(e.clone());
            }
            return;
        }
        let mut merged = Vec::with_capacity(self.elems.len() + other.elems.len());
        let (mut a, mut b) = (self.elems.iter().peekable(), other.elems.iter().peekable());
        while let (Some(x), Some(y)) = (a.peek(), b.peek()) {
            match x.cmp(y) {
                std::cmp::Ordering::Less => merged.extend(a.next().cloned()),
                std::cmp::Ordering::Greater => merged.extend(b.next().cloned()),
                std::cmp::Ordering::Equal => {
                    merged.extend(a.next().cloned());
                    b.next();
                }
            }
        }
        merged.extend(a.cloned());
        merged.extend(b.cloned());
        self.elems = merged;
    }

    /// The elements, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.elems.iter().map(|e| &**e)
    }

    /// Whether it has no elements.
    pub fn is_empty(&self) -> bool {
        self.elems.is_empty()
    }

    /// How many elements it has.
    pub fn len(&self) -> usize {
        self.elems.len()
    }

    /// Whether `elem` is one of its elements.
    pub fn contains(&self, elem: &str) -> bool {
        self.elems.binary_search_by(|e| (**e).cmp(elem)).is_ok()
    }
}

impl<S: Into<Rc<str>>> FromIterator<S> for Context {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Context {
        let mut elems: Vec<Rc<str>> = iter.into_iter().map(Into::into).collect();
        elems.sort();
        elems.dedup();
        Context { elems }
    }
}

impl<S: Into<Rc<str>>> Extend<S> for Context {
    fn extend<I: IntoIterator<Item = S>>(&mut self, iter: I) {
        for e in iter {
            self.insert(e);
        }
    }
}

/// A Nix string: its text and its (usually empty) context.
#[derive(Debug, Clone, PartialEq)]
pub struct NixString {
    text: Box<str>,
    context: Option<Box<Context>>,
}

impl NixString {
    /// Returns a string without context.
    pub fn plain(text: impl Into<Box<str>>) -> NixString {
        NixString {
            text: text.into(),
            context: None,
        }
    }

    /// Returns a string with the given context (dropped if empty).
    pub fn with_context(text: impl Into<Box<str>>, context: Context) -> NixString {
        let context = if context.is_empty() {
            None
        } else {
            Some(Box::new(context))
        };
        NixString {
            text: text.into(),
            context,
        }
    }

    /// Returns the text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Returns the context, if any.
    pub fn context(&self) -> Option<&Context> {
        self.context.as_deref()
    }

    /// Whether the string has a non-empty context.
    pub fn has_context(&self) -> bool {
        self.context.is_some()
    }

    /// Takes the text out of a string no one else holds, or copies it.
    pub fn into_text(this: Rc<NixString>) -> String {
        match Rc::try_unwrap(this) {
            Ok(owned) => owned.text.into_string(),
            Err(shared) => shared.text.to_string(),
        }
    }

    /// Adds this string's context into `into`.
    pub fn merge_context_into(&self, into: &mut Context) {
        if let Some(ctx) = &self.context {
            into.merge(ctx);
        }
    }
}

/// Builds a string from pieces, accumulating their contexts.
#[derive(Debug, Default)]
pub struct StringBuilder {
    text: String,
    context: Context,
}

impl StringBuilder {
    /// Returns an empty builder.
    pub fn new() -> StringBuilder {
        StringBuilder::default()
    }

    /// Appends a string and its context.
    pub fn push(&mut self, s: &NixString) {
        self.text.push_str(s.as_str());
        s.merge_context_into(&mut self.context);
    }

    /// Appends plain text.
    pub fn push_str(&mut self, s: &str) {
        self.text.push_str(s);
    }

    /// Adds context elements.
    pub fn add_context(&mut self, ctx: &Context) {
        self.context.merge(ctx);
    }

    /// Finishes the string.
    pub fn finish(self) -> NixString {
        NixString::with_context(self.text, self.context)
    }

    /// Returns the text built so far.
    pub fn text(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::Context;

    #[test]
    fn context_stays_sorted_and_unique() {
        let mut a: Context = ["=/s/b.drv", "/s/a", "/s/a"].into_iter().collect();
        assert_eq!(a.iter().collect::<Vec<_>>(), ["/s/a", "=/s/b.drv"]);
        assert!(!a.insert("/s/a"));
        assert!(a.insert("!out!/s/c.drv"));
        let b: Context = ["/s/a", "/s/z", "!dev!/s/c.drv"].into_iter().collect();
        a.merge(&b);
        assert_eq!(
            a.iter().collect::<Vec<_>>(),
            [
                "!dev!/s/c.drv",
                "!out!/s/c.drv",
                "/s/a",
                "/s/z",
                "=/s/b.drv"
            ]
        );
        assert!(a.contains("/s/z") && !a.contains("/s/y"));
        let mut empty = Context::new();
        empty.merge(&b);
        assert_eq!(empty, b);
    }
}
