//! Derivations: `derivation` (a Nix-language wrapper, embedded below) and
//! `derivationStrict` (`strict.rs`: the attributes become a `.drv` written
//! through the `Io`; it returns the `drvPath` and the output paths).
//! [`context`] reads string contexts as derivation inputs.

pub mod context;
pub(crate) mod strict;

pub use context::{ContextElem, decode_context};

use std::rc::Rc;

use super::{Entry, R, arity};
use crate::error::Result;
use crate::lower::ir::Expr;
use crate::machine::Machine;
use crate::syntax::Origin;
use crate::syntax::Pos;
use crate::value::Value;

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

fn derivation_strict(m: &mut Machine, args: &[Value]) -> R {
    let [attrs] = args else { return Err(arity()) };
    let attrs = m.force_attrs(attrs, Pos::NONE)?;
    strict::derivation_strict(m, &attrs)
}
