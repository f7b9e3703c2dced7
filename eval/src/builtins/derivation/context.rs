//! String contexts as derivation inputs.
//!
//! A derivation's inputs come from the contexts of the strings in its
//! attributes: a plain store path is an input source, `=<drv>` means the
//! derivation itself with all its outputs (a `drvPath`), and
//! `!<out>!<drv>` one output of it (an `outPath`).

use crate::value::Context;

/// The kinds of element a string context holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextElem {
    /// A plain store path (a source, a `toFile` output).
    Opaque(String),
    /// A derivation and all its outputs (`=<drv>`).
    AllOutputs(String),
    /// One output of a derivation (`!<output>!<drv>`).
    Output {
        /// The output's name.
        output: String,
        /// The derivation's store path.
        drv: String,
    },
}

/// A context element borrowed from its string form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextRef<'a> {
    /// A plain store path.
    Opaque(&'a str),
    /// A derivation and all its outputs (`=<drv>`).
    AllOutputs(&'a str),
    /// One output of a derivation (`!<output>!<drv>`).
    Output {
        /// The output's name.
        output: &'a str,
        /// The derivation's store path.
        drv: &'a str,
    },
}

impl<'a> ContextRef<'a> {
    /// Reads Nix's string form of a context element without copying it.
    pub fn parse(elem: &'a str) -> ContextRef<'a> {
        if let Some(drv) = elem.strip_prefix('=') {
            return ContextRef::AllOutputs(drv);
        }
        if let Some((output, drv)) = elem.strip_prefix('!').and_then(|r| r.split_once('!')) {
            return ContextRef::Output { output, drv };
        }
        ContextRef::Opaque(elem)
    }
}

impl ContextElem {
    /// Decodes Nix's string form of a context element.
    pub fn parse(elem: &str) -> ContextElem {
        match ContextRef::parse(elem) {
            ContextRef::Opaque(p) => ContextElem::Opaque(p.to_owned()),
            ContextRef::AllOutputs(d) => ContextElem::AllOutputs(d.to_owned()),
            ContextRef::Output { output, drv } => ContextElem::Output {
                output: output.to_owned(),
                drv: drv.to_owned(),
            },
        }
    }

    /// Encodes the element in Nix's string form.
    pub fn encode(&self) -> String {
        match self {
            ContextElem::Opaque(p) => p.clone(),
            ContextElem::AllOutputs(d) => format!("={d}"),
            ContextElem::Output { output, drv } => format!("!{output}!{drv}"),
        }
    }
}

/// Decodes a whole context.
pub fn decode_context(ctx: &Context) -> Vec<ContextElem> {
    ctx.iter().map(ContextElem::parse).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_kind() {
        for text in [
            "/nix/store/aaaa-src",
            "=/nix/store/bbbb-x.drv",
            "!dev!/nix/store/cccc-y.drv",
        ] {
            assert_eq!(ContextElem::parse(text).encode(), text);
        }
        assert_eq!(
            ContextElem::parse("!out!/nix/store/d.drv"),
            ContextElem::Output {
                output: "out".into(),
                drv: "/nix/store/d.drv".into()
            }
        );
    }
}
