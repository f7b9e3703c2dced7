//! Derivations: `derivation` (a Nix-language wrapper, embedded below) and
//! `derivationStrict` (`strict.rs`: the attributes become a `.drv` written
//! through the `Io`; it returns the `drvPath` and the output paths).
//! [`context`] reads string contexts as derivation inputs.

pub mod context;
pub(crate) mod strict;

pub use context::{ContextElem, decode_context};

use std::rc::Rc;

use std::cell::RefCell;

use super::{Entry, R, arity};
use crate::error::Result;
use crate::machine::Machine;
use crate::syntax::Origin;
use crate::syntax::Pos;
use crate::value::{Attr, Attrs, Env, PrimFn, PrimOp, Sym, Thunk, ThunkState, Value};

pub(crate) const PRIMOPS: &[Entry] = &[("derivationStrict", 1, derivation_strict)];

/// The `derivation` function, in the Nix language, as a function of the
/// native single-output builder (`derivation_out`), so that `derivation`
/// itself is a lambda with Nix's formals. A derivation without an
/// `outputs` attribute (nearly all) is built natively. Otherwise it calls
/// `derivationStrict` once and builds, for each output, a set that extends
/// the attributes with `outPath`, `drvPath`, `outputName`, `type`, `all`
/// and `drvAttrs`; the result is the first output's set.
const DERIVATION_NIX: &str = r#"
derivationOut:
attrs @ { outputs ? [ "out" ], ... }:
if !(attrs ? outputs) then derivationOut attrs else
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

/// Compiles the `derivation` wrapper in the base scope and returns the
/// (unevaluated) `derivation` value for the base environment `env`.
pub(crate) fn compile(machine: &mut Machine, env: &Env) -> Result<Value> {
    let maker = machine.compile(
        DERIVATION_NIX,
        Origin::File("<nix/derivation-internal.nix>".to_owned()),
        "/",
        None,
    )?;
    let native = primop("derivation", 1, derivation_out);
    Ok(Value::call_lazy(Thunk::pending(maker, env.clone()), native))
}

fn primop(name: &'static str, arity: usize, func: PrimFn) -> Value {
    Value::PrimOp(Rc::new(PrimOp { name, arity, func }))
}

/// `derivation` for one output, `out`: the set the Nix wrapper would build
/// (the attributes and `out`, `all`, `drvAttrs`, `outPath`, `drvPath`,
/// `type` and `outputName`), without its intermediate sets and thunks.
/// `out` is the set itself and `all` (lazily) the list of it; `derivationStrict`
/// runs when `outPath` or `drvPath` is first forced.
fn derivation_out(m: &mut Machine, args: &[Value]) -> R {
    let [arg] = args else { return Err(arity()) };
    let attrs = m.force_attrs(arg, Pos::NONE)?;
    let shared = SHARED.with(Shared::clone);
    let built = Value::call_lazy(shared.strict, Value::Attrs(attrs.clone()));
    let select =
        |name: &Value| Value::apply_lazy(shared.select.clone(), vec![name.clone(), built.clone()]);
    let itself = Rc::new(Thunk(RefCell::new(ThunkState::Blackhole)));
    // As lazy as the wrapper's `map (o: o.value) outputSets`: a thunk, whose
    // list holds a thunk.
    let all = Value::call_lazy(shared.all.clone(), Value::Thunk(itself.clone()));
    // In the order of their names.
    let extra = Attrs::from_sorted(
        [
            (&shared.names.all, all),
            (&shared.names.drv_attrs, Value::Attrs(attrs.clone())),
            (&shared.names.drv_path, select(&shared.drv_path)),
            (&shared.names.out, Value::Thunk(itself.clone())),
            (&shared.names.out_path, select(&shared.out)),
            (&shared.names.output_name, shared.out.clone()),
            (&shared.names.type_, shared.derivation.clone()),
        ]
        .into_iter()
        .map(|(name, value)| Attr {
            name: name.clone(),
            value,
            pos: Pos::NONE,
        })
        .collect(),
    );
    let set = Value::attrs(attrs.update(&extra));
    *itself.0.borrow_mut() = ThunkState::Done(set.clone());
    Ok(set)
}

/// The `all` of a native derivation: the list of its one output's set.
fn all_outputs(_: &mut Machine, args: &[Value]) -> R {
    let [set] = args else { return Err(arity()) };
    let identity = SHARED.with(|shared| shared.identity.clone());
    Ok(Value::list(vec![Value::call_lazy(identity, set.clone())]))
}

fn identity(m: &mut Machine, args: &[Value]) -> R {
    let [x] = args else { return Err(arity()) };
    m.force(x)
}

/// The values every native `derivation` uses, made once per thread.
#[derive(Clone)]
struct Shared {
    strict: Value,
    select: Value,
    all: Value,
    identity: Value,
    out: Value,
    drv_path: Value,
    derivation: Value,
    names: Names,
}

/// The names of the attributes a native `derivation` adds.
#[derive(Clone)]
struct Names {
    all: Sym,
    drv_attrs: Sym,
    drv_path: Sym,
    out: Sym,
    out_path: Sym,
    output_name: Sym,
    type_: Sym,
}

thread_local! {
    static SHARED: Shared = Shared {
        strict: primop("derivationStrict", 1, derivation_strict),
        select: primop("getAttr", 2, super::attrs::get_attr),
        all: primop("map", 1, all_outputs),
        identity: primop("value", 1, identity),
        out: Value::string("out"),
        drv_path: Value::string("drvPath"),
        derivation: Value::string("derivation"),
        names: Names {
            all: Sym::new("all"),
            drv_attrs: Sym::new("drvAttrs"),
            drv_path: Sym::new("drvPath"),
            out: Sym::new("out"),
            out_path: Sym::new("outPath"),
            output_name: Sym::new("outputName"),
            type_: Sym::new("type"),
        },
    };
}

fn derivation_strict(m: &mut Machine, args: &[Value]) -> R {
    let [attrs] = args else { return Err(arity()) };
    let attrs = m.force_attrs(attrs, Pos::NONE)?;
    strict::derivation_strict(m, &attrs)
}
