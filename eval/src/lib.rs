/*!
kiln's evaluator: the Nix language, evaluated lazily.

Source is parsed with `rnix` ([`syntax`]), lowered to a compact IR with
every variable resolved to an environment slot ([`lower`]), and run by a
tree-walking machine with memoised thunks ([`machine`]). Values
([`value`]) are cheap to clone; strings carry Nix's string context. The
built-in functions live in [`builtins`], printing in [`mod@print`].

The main entry point is [`Evaluator`]: evaluate a file or an expression,
apply `--arg`s and an attribute path, and print the result exactly as
`nix-instantiate --eval` 2.8 does.

The evaluator knows nothing about building: everything it needs from the
world goes through the [`io::Io`] trait: `derivationStrict` writes `.drv`
files through it, and [`drvs`] finds the derivations a value names.
*/

#![forbid(unsafe_code)]

pub mod builtins;
pub mod drvs;
pub mod error;
pub mod io;
pub mod lower;
pub mod machine;
pub mod print;
pub mod syntax;
pub mod value;

use std::rc::Rc;

pub use error::{Error, ErrorKind};
pub use machine::{EvalOptions, Machine, SearchPathEntry};
pub use value::Value;

use crate::syntax::{Origin, Pos};
use crate::value::{Attrs, Sym};

/// An automatic argument for the top-level function (`--arg`, `--argstr`).
#[derive(Clone, Debug)]
pub enum AutoArg {
    /// `--arg name expr`: a Nix expression.
    Expr(String),
    /// `--argstr name value`: a string.
    Str(String),
}

/// How to print the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// Nix's value syntax.
    Nix,
    /// JSON.
    Json,
    /// XML, with or without source locations.
    Xml {
        /// Whether to include locations.
        location: bool,
    },
}

/// A whole evaluation: a machine plus the conveniences of `nix-instantiate`.
pub struct Evaluator {
    machine: Machine,
}

impl Evaluator {
    /// Returns an evaluator using `io` for the outside world.
    pub fn new(io: Rc<dyn io::Io>, options: EvalOptions) -> Evaluator {
        Evaluator {
            machine: Machine::new(io, options),
        }
    }

    /// Returns the machine.
    pub fn machine(&mut self) -> &mut Machine {
        &mut self.machine
    }

    /// Parses and lowers a file, reporting syntax errors and undefined
    /// variables without evaluating anything.
    pub fn parse_file(&mut self, path: &str) -> Result<(), Error> {
        self.machine.compile_file(path, None).map(|_| ())
    }

    /// Evaluates a file (a directory means its `default.nix`).
    pub fn eval_file(&mut self, path: &str) -> Result<Value, Error> {
        self.machine.import_file(path, Pos::NONE)
    }

    /// Evaluates an expression relative to `base_dir`.
    pub fn eval_expr(&mut self, text: &str, base_dir: &str) -> Result<Value, Error> {
        self.machine.eval_string(text, base_dir)
    }

    /// Builds the automatic arguments' set (values are lazy).
    pub fn auto_args(&mut self, args: &[(String, AutoArg)]) -> Result<Attrs, Error> {
        let cwd = self.machine.options().cwd.clone();
        let mut pairs = Vec::with_capacity(args.len());
        for (name, arg) in args {
            let v = match arg {
                AutoArg::Str(s) => Value::string(s.as_str()),
                AutoArg::Expr(e) => {
                    let expr = self.machine.compile(e, Origin::String, &cwd, None)?;
                    let env = self.machine.base_env().clone();
                    self.machine.thunk(&expr, &env)?
                }
            };
            pairs.push((Sym::new(name), v));
        }
        Ok(Attrs::from_pairs(pairs))
    }

    /// Calls a top-level function with the automatic arguments it accepts,
    /// as Nix's `autoCallFunction` does.
    pub fn auto_call(&mut self, v: &Value, args: &Rc<Attrs>) -> Result<Value, Error> {
        let m = &mut self.machine;
        let f = m.force(v)?;
        if let Value::Attrs(a) = &f
            && let Some(functor) = a.get("__functor").cloned()
        {
            let inner = m.call_value(&functor, std::slice::from_ref(&f), Pos::NONE)?;
            return self.auto_call(&inner, args);
        }
        let Value::Lambda(c) = &f else { return Ok(f) };
        let lower::ir::Param::Pattern {
            formals, ellipsis, ..
        } = &c.lambda.param
        else {
            return Ok(f);
        };
        let arg = if *ellipsis {
            (**args).clone()
        } else {
            let mut pairs = Vec::new();
            for formal in formals {
                match args.get_sym(&formal.name) {
                    Some(v) => pairs.push((formal.name.clone(), v.clone())),
                    None if formal.default.is_some() => {}
                    None => {
                        let message = format!(
                            "cannot evaluate a function that has an argument without a value ('{}')",
                            formal.name
                        );
                        return Err(Error::new(ErrorKind::Builtin { message }).at(formal.pos));
                    }
                }
            }
            Attrs::from_pairs(pairs)
        };
        m.call(f.clone(), Value::attrs(arg), Pos::NONE)
    }

    /// Follows an attribute path (`-A a.b.0`), auto-calling functions on the
    /// way as `nix-instantiate` does.
    pub fn select_path(&mut self, v: &Value, path: &str, args: &Rc<Attrs>) -> Result<Value, Error> {
        let mut v = self.machine.force(v)?;
        for component in path.split('.').filter(|c| !c.is_empty()) {
            v = self.auto_call(&v, args)?;
            v = match (&v, component.parse::<usize>()) {
                (Value::List(items), Ok(i)) => match items.get(i) {
                    Some(item) => self.machine.force(item)?,
                    None => {
                        let message =
                            format!("list index {i} in selection path '{path}' is out of range");
                        return Err(Error::new(ErrorKind::Builtin { message }));
                    }
                },
                (Value::Attrs(attrs), _) => match attrs.get(component) {
                    Some(item) => self.machine.force(item)?,
                    None => {
                        let message =
                            format!("attribute '{component}' in selection path '{path}' not found");
                        return Err(Error::new(ErrorKind::Builtin { message }));
                    }
                },
                (other, _) => {
                    let message = format!(
                        "the expression selected by the selection path '{path}' should be a set but is {}",
                        other.type_of()
                    );
                    return Err(Error::new(ErrorKind::Builtin { message }));
                }
            };
        }
        Ok(v)
    }

    /// Renders a value in the requested format.
    pub fn render(
        &mut self,
        v: &Value,
        format: OutputFormat,
        strict: bool,
    ) -> Result<String, Error> {
        match format {
            OutputFormat::Nix => print::print_value(&mut self.machine, v, strict),
            OutputFormat::Json => {
                let mut ctx = value::Context::new();
                print::json::to_json(&mut self.machine, v, &mut ctx, Pos::NONE)
            }
            OutputFormat::Xml { location } => {
                let mut ctx = value::Context::new();
                let options = print::xml::XmlOptions { strict, location };
                let v = self.machine.force(v)?;
                print::xml::to_xml(&mut self.machine, &v, options, &mut ctx)
            }
        }
    }
}

/// Runs `f` on a thread with a large stack (deep but legitimate recursion
/// needs it; runaway recursion is stopped by the depth limit first).
pub fn with_big_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    std::thread::Builder::new()
        .name("kiln-eval".to_owned())
        .stack_size(STACK_SIZE)
        .spawn(f)
        .ok()?
        .join()
        .ok()
}

/// The evaluation thread's stack size.
pub const STACK_SIZE: usize = 1 << 30;
