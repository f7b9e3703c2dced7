//! Strings with context.
//!
//! Nix strings remember which store paths they were built from (their
//! *context*), so that a derivation using a string also depends on those
//! paths. Context elements use Nix's own encoding:
//! - `/nix/store/…` a plain store path (a source or `toFile` output),
//! - `=/nix/store/….drv` a derivation and all its outputs (`drvPath`),
//! - `!out!/nix/store/….drv` one output of a derivation (`outPath`).

use std::collections::BTreeSet;

/// A set of context elements, in Nix's string encoding.
pub type Context = BTreeSet<String>;

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

    /// Adds this string's context into `into`.
    pub fn merge_context_into(&self, into: &mut Context) {
        if let Some(ctx) = &self.context {
            into.extend(ctx.iter().cloned());
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
        self.context.extend(ctx.iter().cloned());
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
