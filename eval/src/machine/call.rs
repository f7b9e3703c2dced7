//! Function application: lambdas (with formals, defaults, `...`, `@`),
//! primops with partial application, and functors (`__functor`).

use std::rc::Rc;

use super::{Machine, type_error};
use crate::error::{Error, ErrorKind, Result, pos_string};
use crate::lower::ir::{Formal, Param};
use crate::syntax::Pos;
use crate::value::{Attrs, Closure, Env, EnvFrame, PrimOpApp, Value};

impl Machine {
    /// Applies a (forced) function to one argument.
    pub fn call(&mut self, f: Value, arg: Value, pos: Pos) -> Result<Value> {
        self.call_multi(f, std::slice::from_ref(&arg), pos)
    }

    /// Applies a function to a value, forcing the function first.
    pub fn call_value(&mut self, f: &Value, args: &[Value], pos: Pos) -> Result<Value> {
        let f = self.force(f)?;
        self.call_multi(f, args, pos)
    }

    /// Applies a (forced) function to arguments, left to right.
    pub fn call_multi(&mut self, f: Value, args: &[Value], pos: Pos) -> Result<Value> {
        let mut f = f;
        let mut rest = args;
        while !rest.is_empty() {
            let (next, used) = self.call_step(f, rest, pos)?;
            f = next;
            rest = rest.get(used..).unwrap_or(&[]);
        }
        Ok(f)
    }

    /// Applies `f` to as many of `args` as it takes at once; returns the
    /// result and how many arguments were used.
    fn call_step(&mut self, f: Value, args: &[Value], pos: Pos) -> Result<(Value, usize)> {
        let Some(first) = args.first() else {
            return Ok((f, 0));
        };
        match f {
            Value::Lambda(c) => Ok((self.call_lambda(&c, first.clone(), pos)?, 1)),
            Value::PrimOp(op) => {
                if args.len() >= op.arity {
                    let taken = args.get(..op.arity).unwrap_or(args);
                    let r = (op.func)(self, taken).map_err(|e| e.at(pos))?;
                    Ok((self.force(&r)?, op.arity))
                } else {
                    Ok((
                        Value::PrimOpApp(Rc::new(PrimOpApp {
                            op,
                            args: args.to_vec(),
                        })),
                        args.len(),
                    ))
                }
            }
            Value::PrimOpApp(app) => self.call_partial(&app, args, pos),
            Value::Attrs(ref attrs) => self.call_functor(&f, attrs, first, pos),
            Value::Thunk(_) => {
                let forced = self.force(&f)?;
                self.call_step(forced, args, pos)
            }
            other => Err(not_a_function(&other, pos)),
        }
    }

    /// Applies a partially applied primop to more arguments; returns the
    /// result and how many arguments were used.
    #[inline(never)]
    fn call_partial(
        &mut self,
        app: &PrimOpApp,
        args: &[Value],
        pos: Pos,
    ) -> Result<(Value, usize)> {
        let need = app.op.arity - app.args.len();
        let mut all = app.args.clone();
        if args.len() >= need {
            all.extend_from_slice(args.get(..need).unwrap_or(args));
            let r = (app.op.func)(self, &all).map_err(|e| e.at(pos))?;
            Ok((self.force(&r)?, need))
        } else {
            all.extend_from_slice(args);
            let op = app.op.clone();
            Ok((
                Value::PrimOpApp(Rc::new(PrimOpApp { op, args: all })),
                args.len(),
            ))
        }
    }

    /// Applies a set with `__functor` to one argument.
    #[inline(never)]
    fn call_functor(
        &mut self,
        f: &Value,
        attrs: &Attrs,
        arg: &Value,
        pos: Pos,
    ) -> Result<(Value, usize)> {
        let Some(functor) = attrs
            .get_sym(&crate::value::symbol::known().functor)
            .cloned()
        else {
            return Err(not_a_function(f, pos));
        };
        let functor = self.force(&functor)?;
        let inner = self.call_multi(functor, std::slice::from_ref(f), pos)?;
        Ok((self.call_multi(inner, std::slice::from_ref(arg), pos)?, 1))
    }

    fn call_lambda(&mut self, c: &Closure, arg: Value, pos: Pos) -> Result<Value> {
        let lambda = &c.lambda;
        let env = match &lambda.param {
            Param::Ident(_) => EnvFrame::single(arg, Some(c.env.clone())),
            Param::Pattern {
                formals,
                ellipsis,
                bind,
            } => self.bind_formals(c, formals, *ellipsis, bind.is_some(), arg, pos)?,
        };
        self.eval(&lambda.body, &env).map_err(|e| {
            e.frame(
                || match &lambda.name {
                    Some(n) => format!("calling '{n}'"),
                    None => "calling an anonymous function".to_owned(),
                },
                pos,
            )
        })
    }

    /// Binds a pattern lambda's formals (defaults, `...`, `@`) to the
    /// attributes of `arg`. Kept out of [`Machine::call_lambda`], which
    /// stays on the stack while the body is evaluated.
    #[inline(never)]
    fn bind_formals(
        &mut self,
        c: &Closure,
        formals: &[Formal],
        ellipsis: bool,
        bind: bool,
        arg: Value,
        pos: Pos,
    ) -> Result<Env> {
        let lambda = &c.lambda;
        let attrs = match self.force(&arg)? {
            Value::Attrs(a) => a,
            other => return Err(type_error("a set", &other).at(pos)),
        };
        let frame = EnvFrame::empty(lambda.slot_count(), Some(c.env.clone()));
        let mut used = 0;
        for (i, formal) in formals.iter().enumerate() {
            let v = match attrs.get_sym(&formal.name) {
                Some(v) => {
                    used += 1;
                    v.clone()
                }
                None => match &formal.default {
                    Some(d) => self.thunk_rec(d, &frame)?,
                    None => {
                        let kind = ErrorKind::MissingArgument {
                            function: describe(c),
                            name: formal.name.to_string(),
                        };
                        return Err(Error::new(kind).at(pos));
                    }
                },
            };
            frame.set(i, v);
        }
        if !ellipsis && used < attrs.len() {
            let unexpected = attrs
                .iter()
                .find(|a| !formals.iter().any(|f| f.name == a.name));
            let name = unexpected.map_or(String::new(), |a| a.name.to_string());
            let kind = ErrorKind::UnexpectedArgument {
                function: describe(c),
                name,
            };
            return Err(Error::new(kind).at(pos));
        }
        if bind {
            frame.set(formals.len(), Value::Attrs(attrs));
        }
        Ok(frame)
    }
}

/// The error for applying something that is not a function.
#[cold]
fn not_a_function(v: &Value, pos: Pos) -> Error {
    Error::new(ErrorKind::NotAFunction { got: v.type_desc() }).at(pos)
}

/// Describes a lambda the way Nix 2.8 does in argument errors.
fn describe(c: &Closure) -> String {
    let at = pos_string(c.lambda.pos);
    match &c.lambda.name {
        Some(n) => format!("'{n}' at {at}"),
        None => format!("anonymous function at {at}"),
    }
}
