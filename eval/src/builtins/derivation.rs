//! Derivations: `derivation` (a Nix-language wrapper, embedded below) and
//! `derivationStrict` (not implemented yet: it will build the derivation
//! from its attributes, write it through the `Io`, and return its
//! `drvPath` and output paths).
//!
//! The string-context plumbing the implementation needs is here already:
//! a derivation's inputs come from the contexts of the strings in its
//! attributes, where a plain store path is an input source, `=<drv>` means
//! the derivation itself with all its outputs (`drvPath`), and
//! `!<out>!<drv>` one output of it (`outPath`).

use std::rc::Rc;

use super::{Entry, R};
use crate::error::{Error, ErrorKind, Result};
use crate::lower::ir::Expr;
use crate::machine::Machine;
use crate::syntax::Origin;
use crate::value::{Context, Value};

pub(crate) const PRIMOPS: &[Entry] = &[("derivationStrict", 1, derivation_strict)];

/// The `derivation` function, in the Nix language. It calls
/// `derivationStrict` once and builds, for each output, a set that extends
/// the attributes with `outPath`, `drvPath`, `outputName`, `type`, `all`
/// and `drvAttrs`; the result is the first output's set.
const DERIVATION_NIX: &str = r#"
attrs @ { outputs ? [ "out" ], ... }:
let
  built = derivationStrict attrs;
  forOutput = name: {
    inherit name;
    value = shared // {
      outPath = built.${name};
      drvPath = built.drvPath;
      type = "derivation";
      outputName = name;
    };
  };
  outputSets = map forOutput outputs;
  shared = attrs // builtins.listToAttrs outputSets // {
    all = map (o: o.value) outputSets;
    drvAttrs = attrs;
  };
in (builtins.head outputSets).value
"#;

/// Compiles the `derivation` wrapper in the base scope.
pub(crate) fn compile(machine: &mut Machine) -> Result<Rc<Expr>> {
    machine.compile(
        DERIVATION_NIX,
        Origin::File("<nix/derivation-internal.nix>".to_owned()),
        "/",
        None,
    )
}

fn derivation_strict(_m: &mut Machine, _args: &[Value]) -> R {
    Err(Error::new(ErrorKind::NotImplemented {
        what: "derivationStrict (building derivations)",
    }))
}

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

impl ContextElem {
    /// Decodes Nix's string form of a context element.
    pub fn parse(elem: &str) -> ContextElem {
        if let Some(drv) = elem.strip_prefix('=') {
            return ContextElem::AllOutputs(drv.to_owned());
        }
        if let Some((output, drv)) = elem.strip_prefix('!').and_then(|r| r.split_once('!')) {
            return ContextElem::Output {
                output: output.to_owned(),
                drv: drv.to_owned(),
            };
        }
        ContextElem::Opaque(elem.to_owned())
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
    ctx.iter().map(|e| ContextElem::parse(e)).collect()
}
