//! The evaluation machine: a tree-walking evaluator over the lowered IR.
//!
//! [`Machine::eval`] evaluates an expression in an environment to weak head
//! normal form; sub-expressions are suspended as thunks ([`Machine::thunk`])
//! and forced on demand ([`Machine::force`]). Recursion depth is counted so
//! that runaway recursion becomes a clean "stack overflow" error instead of
//! a crash (the CLI runs the machine on a thread with a large stack).

mod call;
mod coerce;
mod deep;
mod import;
mod ops;

pub use coerce::CoerceMode;
pub use import::SearchPathEntry;
pub use ops::arith;

use std::collections::HashMap;
use std::rc::Rc;

use smallvec::SmallVec;

use crate::error::{Error, ErrorKind, Result};
use crate::io::Io;
use crate::lower::ir::{AttrKey, AttrsDef, Expr};
use crate::lower::scope::StaticScope;
use crate::syntax::Pos;
use crate::value::{Attr, Attrs, Closure, Env, EnvFrame, NixString, Sym, Thunk, ThunkState, Value};

/// Settings of one evaluation.
#[derive(Clone, Debug)]
pub struct EvalOptions {
    /// Pure mode: no environment, no clock.
    pub pure: bool,
    /// `builtins.currentSystem`.
    pub system: String,
    /// `builtins.storeDir`.
    pub store_dir: String,
    /// The search path (`-I` entries, then `NIX_PATH`).
    pub search_path: Vec<SearchPathEntry>,
    /// Entries the tool itself provides (kiln's `<kiln>` recipes), looked
    /// up after `search_path` and not part of `builtins.nixPath`.
    pub builtin_search_path: Vec<SearchPathEntry>,
    /// The home directory for `~/` paths.
    pub home: String,
    /// The directory `-E` expressions are relative to.
    pub cwd: String,
    /// The deepest evaluation nesting allowed.
    pub max_depth: usize,
    /// `builtins.currentTime` (seconds since the epoch; fixed per run).
    pub current_time: i64,
    /// How many bytes of stack evaluation may use, measured from where
    /// the machine was created (it must run on that thread).
    pub stack_budget: usize,
    /// The most work one evaluation may do (0: unlimited): each evaluation
    /// step costs 1, and building a list or string costs its length, so
    /// runaway or exponentially growing programs stop with an error
    /// (the fuzzer relies on this).
    pub max_work: u64,
    /// Whether integer arithmetic on values already known may be done when
    /// it is suspended rather than when it is forced (see `speculate`).
    /// Only a printer of unevaluated values (`<CODE>`) can tell the
    /// difference, so lazy printing turns this off.
    pub speculate: bool,
}

impl Default for EvalOptions {
    fn default() -> EvalOptions {
        EvalOptions {
            pure: false,
            system: "x86_64-linux".to_owned(),
            store_dir: "/nix/store".to_owned(),
            search_path: Vec::new(),
            builtin_search_path: Vec::new(),
            home: "/homeless-shelter".to_owned(),
            cwd: "/".to_owned(),
            max_depth: 10_000_000,
            current_time: 0,
            stack_budget: 1 << 20,
            max_work: 0,
            speculate: true,
        }
    }
}

/// The evaluator's state.
pub struct Machine {
    pub(crate) io: Rc<dyn Io>,
    pub(crate) options: EvalOptions,
    depth: usize,
    work: u64,
    stack_base: usize,
    pub(crate) base_env: Env,
    pub(crate) base_scope: Rc<StaticScope>,
    pub(crate) import_cache: HashMap<String, Value>,
    pub(crate) store_cache: HashMap<String, String>,
    /// The derivations and texts this evaluation wrote.
    pub(crate) derivations: crate::builtins::derivation::strict::DrvState,
}

impl Drop for Machine {
    /// The base environment refers to itself (`builtins.builtins`, the
    /// `derivation` wrapper's closure); emptying its slots breaks those
    /// cycles so that a dropped machine frees its builtins.
    fn drop(&mut self) {
        for slot in &self.base_env.slots {
            slot.replace(Value::Null);
        }
        self.import_cache.clear();
    }
}

impl Machine {
    /// Returns a machine with the builtins installed.
    pub fn new(io: Rc<dyn Io>, options: EvalOptions) -> Machine {
        let placeholder_env = EnvFrame::new(Vec::new(), None);
        let mut machine = Machine {
            io,
            options,
            depth: 0,
            work: 0,
            stack_base: stack_address(),
            base_env: placeholder_env,
            base_scope: Rc::new(StaticScope::default()),
            import_cache: HashMap::new(),
            store_cache: HashMap::new(),
            derivations: Default::default(),
        };
        crate::builtins::install(&mut machine);
        machine
    }

    /// Counts one level of nesting; errors when too deep.
    pub fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > self.options.max_depth || self.stack_exhausted() {
            self.depth -= 1;
            return Err(Error::new(ErrorKind::StackOverflow));
        }
        Ok(())
    }

    /// Leaves a level entered with [`Machine::enter`].
    pub fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Charges `units` of work against [`EvalOptions::max_work`].
    pub fn charge(&mut self, units: usize) -> Result<()> {
        self.work = self.work.saturating_add(units as u64);
        let budget = self.options.max_work;
        if budget != 0 && self.work > budget {
            return Err(Error::new(ErrorKind::WorkBudget { budget }));
        }
        Ok(())
    }

    /// Evaluates an expression to weak head normal form.
    pub fn eval(&mut self, expr: &Expr, env: &Env) -> Result<Value> {
        self.charge(1)?;
        self.depth += 1;
        if self.depth > self.options.max_depth || self.stack_exhausted() {
            self.depth -= 1;
            return Err(Error::new(ErrorKind::StackOverflow));
        }
        let result = self.eval_inner(expr, env);
        self.depth -= 1;
        result
    }

    #[inline(always)]
    fn eval_inner(&mut self, expr: &Expr, env: &Env) -> Result<Value> {
        match expr {
            Expr::Const(v) => Ok(v.clone()),
            Expr::Var { depth, index } => self.eval_var(env, *depth, *index),
            Expr::Apply { func, args, pos } => self.eval_apply(func, args, *pos, env),
            Expr::If {
                cond,
                then,
                otherwise,
                pos,
            } => {
                let c = self.eval_leaf(cond, env)?;
                let c = self.expect_bool(&c, *pos)?;
                self.eval(if c { then } else { otherwise }, env)
            }
            Expr::BinOp { op, lhs, rhs, pos } => self.binop(*op, lhs, rhs, *pos, env),
            _ => self.eval_other(expr, env),
        }
    }

    /// Evaluates an operand: constants and variables directly (reading a
    /// variable nests no deeper unless it forces a thunk, which goes
    /// through [`Machine::eval`]), anything else with [`Machine::eval`].
    #[inline(always)]
    pub(crate) fn eval_leaf(&mut self, expr: &Expr, env: &Env) -> Result<Value> {
        match expr {
            Expr::Const(v) => Ok(v.clone()),
            Expr::Var { depth, index } => self.eval_var(env, *depth, *index),
            _ => self.eval(expr, env),
        }
    }

    /// Reads a variable's slot, forcing it.
    #[inline]
    fn eval_var(&mut self, env: &Env, depth: u32, index: u32) -> Result<Value> {
        let frame = walk(env, depth)?;
        #[expect(
            clippy::unnecessary_lazy_evaluations,
            reason = "`ok_or` builds and drops an error on every variable read"
        )]
        let slot = frame
            .slots
            .get(index as usize)
            .ok_or_else(|| ErrorKind::Internal {
                what: "slot out of range",
            })?;
        let thunk = match &*slot.borrow() {
            Value::Thunk(t) => {
                if let ThunkState::Done(v) = &*t.0.borrow() {
                    return Ok(v.clone());
                }
                t.clone()
            }
            other => return Ok(other.clone()),
        };
        self.force_thunk(&thunk)
    }

    /// `f a b …`.
    #[inline(never)]
    fn eval_apply(&mut self, func: &Expr, args: &[Rc<Expr>], pos: Pos, env: &Env) -> Result<Value> {
        let f = self.eval_leaf(func, env)?;
        if let [arg] = args {
            let value = self.thunk(arg, env)?;
            return self.call_multi(f, std::slice::from_ref(&value), pos);
        }
        self.apply_many(f, args, pos, env)
    }

    /// `f a b …` with more than one argument, out of [`Machine::eval_apply`]'s
    /// stack frame.
    #[inline(never)]
    fn apply_many(&mut self, f: Value, args: &[Rc<Expr>], pos: Pos, env: &Env) -> Result<Value> {
        let mut values: SmallVec<[Value; 4]> = SmallVec::with_capacity(args.len());
        for a in args {
            values.push(self.thunk(a, env)?);
        }
        self.call_multi(f, &values, pos)
    }

    /// The expressions evaluated less often than those of [`Machine::eval_inner`],
    /// kept out of its stack frame.
    #[inline(never)]
    fn eval_other(&mut self, expr: &Expr, env: &Env) -> Result<Value> {
        match expr {
            Expr::Const(_)
            | Expr::Var { .. }
            | Expr::Apply { .. }
            | Expr::If { .. }
            | Expr::BinOp { .. } => self.eval_inner(expr, env),
            Expr::WithVar { name, depth, pos } => {
                let v = self.lookup_with(env, name, *depth, *pos)?;
                self.force(&v)
            }
            Expr::Lambda(lambda) => Ok(Value::Lambda(Rc::new(Closure {
                lambda: lambda.clone(),
                env: env.clone(),
            }))),
            Expr::Select {
                expr,
                path,
                default,
                pos,
            } => self.select(expr, path, default.as_ref(), *pos, env),
            Expr::HasAttr { expr, path } => self.has_attr(expr, path, env),
            Expr::Attrs(def) => self.attrs(def, env),
            Expr::RecAttrs(def) => self.rec_attrs(def, env),
            Expr::Let { bindings, body } => {
                let frame = EnvFrame::empty(bindings.len(), Some(env.clone()));
                for (i, b) in bindings.iter().enumerate() {
                    let v = self.thunk_rec(b, &frame)?;
                    frame.set(i, v);
                }
                self.eval(body, &frame)
            }
            Expr::List(items) => {
                let items = items
                    .iter()
                    .map(|e| self.thunk(e, env))
                    .collect::<Result<_>>()?;
                Ok(Value::list(items))
            }
            Expr::With { namespace, body } => {
                let ns = self.thunk(namespace, env)?;
                let frame = EnvFrame::with(ns, env.clone());
                self.eval(body, &frame)
            }
            Expr::Assert {
                cond,
                body,
                text,
                pos,
            } => {
                let c = self.eval(cond, env)?;
                if self.expect_bool(&c, *pos)? {
                    self.eval(body, env)
                } else {
                    Err(Error::new(ErrorKind::Assert {
                        condition: text.to_string(),
                    })
                    .at(*pos))
                }
            }
            Expr::Not(e, pos) => {
                let v = self.eval(e, env)?;
                Ok(Value::Bool(!self.expect_bool(&v, *pos)?))
            }
            Expr::Interpolate {
                parts,
                is_path,
                pos,
            } => self.interpolate(parts, *is_path, *pos, env),
        }
    }

    /// Suspends an expression: constants and variables need no thunk, and
    /// integer arithmetic on values already known is done at once.
    pub fn thunk(&mut self, expr: &Rc<Expr>, env: &Env) -> Result<Value> {
        match &**expr {
            Expr::Const(v) => Ok(v.clone()),
            Expr::Var { depth, index } => lookup(env, *depth, *index),
            Expr::BinOp { .. } => Ok(self.suspend_binop(expr, env, Frames::All)),
            _ => Ok(Thunk::pending(expr.clone(), env.clone())),
        }
    }

    /// Suspends an expression of a frame that is still being filled (`let`,
    /// `rec`, defaults): its own slots (depth 0) must be read later.
    pub fn thunk_rec(&mut self, expr: &Rc<Expr>, env: &Env) -> Result<Value> {
        match &**expr {
            Expr::Var { depth: 0, .. } => Ok(Thunk::pending(expr.clone(), env.clone())),
            Expr::BinOp { .. } => Ok(self.suspend_binop(expr, env, Frames::Outer)),
            _ => self.thunk(expr, env),
        }
    }

    /// Suspends an operator expression, or computes it now when
    /// [`speculate`] can (reading only `frames`).
    fn suspend_binop(&self, expr: &Rc<Expr>, env: &Env, frames: Frames) -> Value {
        let known = if self.options.speculate {
            speculate(expr, env, frames)
        } else {
            None
        };
        known.unwrap_or_else(|| Thunk::pending(expr.clone(), env.clone()))
    }

    /// Forces a value to weak head normal form.
    pub fn force(&mut self, v: &Value) -> Result<Value> {
        match v {
            Value::Thunk(t) => self.force_thunk(t),
            other => Ok(other.clone()),
        }
    }

    fn force_thunk(&mut self, t: &Rc<Thunk>) -> Result<Value> {
        if let ThunkState::Done(v) = &*t.0.borrow() {
            return Ok(v.clone());
        }
        let state = std::mem::replace(&mut *t.0.borrow_mut(), ThunkState::Blackhole);
        let result = match &state {
            ThunkState::Done(v) => {
                let v = v.clone();
                *t.0.borrow_mut() = state;
                return Ok(v);
            }
            ThunkState::Blackhole => return Err(Error::new(ErrorKind::InfiniteRecursion)),
            ThunkState::Pending(expr, env) => self.eval(expr, env),
            ThunkState::Apply(f, args) => self.force_apply(f, args),
            ThunkState::Call(f, x) => self.force_apply(f, std::slice::from_ref(x)),
        };
        // On an error the thunk gets its computation back, so that forcing
        // it again raises the error again, not an infinite recursion.
        *t.0.borrow_mut() = match &result {
            Ok(v) => ThunkState::Done(v.clone()),
            Err(_) => state,
        };
        result
    }

    /// Forces a suspended application (see [`ThunkState::Apply`] and
    /// [`ThunkState::Call`]), out of [`Machine::force_thunk`]'s stack frame.
    #[inline(never)]
    fn force_apply(&mut self, f: &Value, args: &[Value]) -> Result<Value> {
        let f = self.force(f)?;
        self.call_multi(f, args, Pos::NONE)
    }

    /// Looks a name up in the `with` frames, innermost first.
    fn lookup_with(&mut self, env: &Env, name: &Sym, depth: u32, pos: Pos) -> Result<Value> {
        let mut frame = walk(env, depth)?.clone();
        loop {
            if frame.is_with {
                let ns = frame.get(0).unwrap_or(Value::Null);
                let ns = self.force(&ns)?;
                let Value::Attrs(attrs) = &ns else {
                    return Err(type_error("a set", &ns).at(pos));
                };
                if let Some(v) = attrs.get_sym(name) {
                    return Ok(v.clone());
                }
            }
            match &frame.parent {
                Some(p) => frame = p.clone(),
                None => {
                    let kind = ErrorKind::UndefinedVar {
                        name: name.to_string(),
                    };
                    return Err(Error::new(kind).at(pos));
                }
            }
        }
    }

    /// Evaluates an attribute key to its name (`None` for a `null` key).
    fn attr_name(&mut self, key: &AttrKey, env: &Env, pos: Pos) -> Result<Option<Sym>> {
        match key {
            AttrKey::Static(s) => Ok(Some(s.clone())),
            AttrKey::Dynamic(e) => {
                let v = self.eval(e, env)?;
                match &v {
                    Value::Null => Ok(None),
                    Value::String(s) => Ok(Some(Sym::new(s.as_str()))),
                    other => Err(type_error("a string", other).at(pos)),
                }
            }
        }
    }

    #[inline(never)]
    fn select(
        &mut self,
        expr: &Expr,
        path: &[AttrKey],
        default: Option<&Rc<Expr>>,
        pos: Pos,
        env: &Env,
    ) -> Result<Value> {
        let mut v = self.eval(expr, env)?;
        for key in path {
            let name = self.attr_name(key, env, pos)?;
            let found = match (&v, &name) {
                (Value::Attrs(attrs), Some(name)) => attrs.get_sym(name).cloned(),
                _ => None,
            };
            match found {
                Some(next) => {
                    v = self.force(&next).map_err(|e| {
                        e.frame(
                            || {
                                format!(
                                    "evaluating the attribute '{}'",
                                    name.as_ref().map_or("", |n| n.as_str())
                                )
                            },
                            pos,
                        )
                    })?;
                }
                None => {
                    if let Some(d) = default {
                        return self.eval(d, env);
                    }
                    return Err(match (&v, name) {
                        (Value::Attrs(_), Some(name)) => Error::new(ErrorKind::MissingAttr {
                            name: name.to_string(),
                        })
                        .at(pos),
                        (Value::Attrs(_), None) => Error::new(ErrorKind::Type {
                            expected: "a string",
                            got: "null",
                        })
                        .at(pos),
                        (other, _) => type_error("a set", other).at(pos),
                    });
                }
            }
        }
        Ok(v)
    }

    #[inline(never)]
    fn has_attr(&mut self, expr: &Expr, path: &[AttrKey], env: &Env) -> Result<Value> {
        let mut v = self.eval(expr, env)?;
        for key in path {
            let name = self.attr_name(key, env, Pos::NONE)?;
            let next = match (&v, name) {
                (Value::Attrs(attrs), Some(name)) => attrs.get_sym(&name).cloned(),
                _ => None,
            };
            match next {
                Some(n) => v = self.force(&n)?,
                None => return Ok(Value::Bool(false)),
            }
        }
        Ok(Value::Bool(true))
    }

    #[inline(never)]
    fn attrs(&mut self, def: &AttrsDef, env: &Env) -> Result<Value> {
        let mut entries = Vec::with_capacity(def.attrs.len() + def.dynamic.len());
        for a in &def.attrs {
            entries.push(Attr {
                name: a.name.clone(),
                value: self.thunk(&a.value, env)?,
                pos: a.pos,
            });
        }
        if def.dynamic.is_empty() {
            return Ok(Value::attrs(Attrs::from_sorted(entries)));
        }
        self.add_dynamic(def, entries, env)
    }

    fn add_dynamic(&mut self, def: &AttrsDef, mut entries: Vec<Attr>, env: &Env) -> Result<Value> {
        for d in &def.dynamic {
            let key = self.eval(&d.key, env)?;
            let name = match &key {
                Value::Null => continue,
                Value::String(s) => Sym::new(s.as_str()),
                other => return Err(type_error("a string", other).at(d.pos)),
            };
            if let Some(existing) = entries.iter().find(|e| e.name == name) {
                let message = format!(
                    "dynamic attribute '{name}' already defined at {}",
                    crate::error::pos_string(existing.pos)
                );
                return Err(Error::new(ErrorKind::Builtin { message }).at(d.pos));
            }
            entries.push(Attr {
                name,
                value: self.thunk(&d.value, env)?,
                pos: d.pos,
            });
        }
        Ok(Value::attrs(Attrs::from_unsorted(entries)))
    }

    #[inline(never)]
    fn rec_attrs(&mut self, def: &AttrsDef, env: &Env) -> Result<Value> {
        let frame = EnvFrame::empty(def.attrs.len(), Some(env.clone()));
        let mut entries = Vec::with_capacity(def.attrs.len());
        for (i, a) in def.attrs.iter().enumerate() {
            let v = self.thunk_rec(&a.value, &frame)?;
            frame.set(i, v.clone());
            entries.push(Attr {
                name: a.name.clone(),
                value: v,
                pos: a.pos,
            });
        }
        let overrides = entries
            .iter()
            .position(|e| e.name.as_str() == "__overrides");
        if let Some(oi) = overrides {
            self.apply_overrides(&mut entries, oi, &frame)?;
        }
        if def.dynamic.is_empty() {
            return Ok(Value::attrs(Attrs::from_sorted(entries)));
        }
        self.add_dynamic(def, entries, &frame)
    }

    /// Nix's `__overrides`: its attributes replace those of the `rec` set,
    /// also for the other attributes' references to them.
    fn apply_overrides(&mut self, entries: &mut Vec<Attr>, oi: usize, frame: &Env) -> Result<()> {
        let ov = entries
            .get(oi)
            .map(|e| e.value.clone())
            .unwrap_or(Value::Null);
        // Until the overrides are in, this frame's slots are not final:
        // nothing made while forcing them may read a slot early.
        let speculate = std::mem::replace(&mut self.options.speculate, false);
        let ov = self.force(&ov);
        self.options.speculate = speculate;
        let ov = ov?;
        let Value::Attrs(ov) = ov else {
            return Err(type_error("a set", &ov));
        };
        for o in ov.iter() {
            match entries.iter().position(|e| e.name == o.name) {
                Some(i) => {
                    frame.set(i, o.value.clone());
                    if let Some(e) = entries.get_mut(i) {
                        e.value = o.value.clone();
                    }
                }
                None => entries.push(o.clone()),
            }
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(())
    }

    /// Forces a value and requires a Boolean.
    pub fn expect_bool(&mut self, v: &Value, pos: Pos) -> Result<bool> {
        if let Value::Bool(b) = v {
            return Ok(*b);
        }
        match self.force(v)? {
            Value::Bool(b) => Ok(b),
            other => Err(type_error("a Boolean", &other).at(pos)),
        }
    }

    /// Forces a value and requires a set.
    pub fn force_attrs(&mut self, v: &Value, pos: Pos) -> Result<Rc<Attrs>> {
        match self.force(v)? {
            Value::Attrs(a) => Ok(a),
            other => Err(type_error("a set", &other).at(pos)),
        }
    }

    /// Forces a value and requires a list.
    pub fn force_list(&mut self, v: &Value, pos: Pos) -> Result<Rc<Vec<Value>>> {
        match self.force(v)? {
            Value::List(l) => Ok(l),
            other => Err(type_error("a list", &other).at(pos)),
        }
    }

    /// Forces a value and requires an integer.
    pub fn force_int(&mut self, v: &Value, pos: Pos) -> Result<i64> {
        match self.force(v)? {
            Value::Int(i) => Ok(i),
            other => Err(type_error("an integer", &other).at(pos)),
        }
    }

    /// Forces a value and requires a string (keeping its context).
    pub fn force_string(&mut self, v: &Value, pos: Pos) -> Result<Rc<NixString>> {
        match self.force(v)? {
            Value::String(s) => Ok(s),
            other => Err(type_error("a string", &other).at(pos)),
        }
    }

    /// Forces a value and requires a function.
    pub fn force_function(&mut self, v: &Value, pos: Pos) -> Result<Value> {
        let f = self.force(v)?;
        if f.is_function() {
            return Ok(f);
        }
        if let Value::Attrs(a) = &f
            && a.get("__functor").is_some()
        {
            return Ok(f);
        }
        Err(type_error("a function", &f).at(pos))
    }

    /// Returns the base environment (the builtins frame).
    pub fn base_env(&self) -> &Env {
        &self.base_env
    }

    /// Returns the current evaluation depth.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Returns the options.
    pub fn options(&self) -> &EvalOptions {
        &self.options
    }
}

impl Machine {
    /// Whether evaluation has used up its stack budget (frame sizes differ
    /// between builds, so the depth counter alone cannot tell).
    /// Whether the stack is nearly used up. Measured every 16 levels of
    /// nesting only: one level uses far less than the slack the budget
    /// leaves.
    fn stack_exhausted(&self) -> bool {
        self.depth.is_multiple_of(16)
            && self.stack_base.abs_diff(stack_address()) > self.options.stack_budget
    }
}

/// Returns the address of a local variable: where the stack is now.
#[inline(never)]
fn stack_address() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

/// Returns a "value is X while Y was expected" error.
pub fn type_error(expected: &'static str, got: &Value) -> Error {
    Error::new(ErrorKind::Type {
        expected,
        got: got.type_desc(),
    })
}

/// Which frames [`speculate`] may read.
#[derive(Clone, Copy, PartialEq)]
enum Frames {
    /// Every frame.
    All,
    /// All but the innermost, which is still being filled (and whose slots
    /// `__overrides` may yet replace).
    Outer,
}

/// How deeply nested an expression [`speculate`] evaluates.
const SPECULATION_DEPTH: u8 = 4;

/// Evaluates integer arithmetic (`+ - * /` and comparisons) over constants
/// and variables that already hold integers, when that cannot fail: the
/// result is what the thunk would give, so no thunk is needed. Anything
/// else (an operand not yet evaluated, another type, a division that is an
/// error, a deeper expression) gives `None`.
fn speculate(expr: &Expr, env: &Env, frames: Frames) -> Option<Value> {
    let Expr::BinOp { op, lhs, rhs, .. } = expr else {
        return None;
    };
    let a = known_int(lhs, env, frames, SPECULATION_DEPTH)?;
    let b = known_int(rhs, env, frames, SPECULATION_DEPTH)?;
    ops::int_binop(*op, a, b)
}

/// The integer an expression certainly evaluates to, if [`speculate`] can
/// tell without forcing anything.
fn known_int(expr: &Expr, env: &Env, frames: Frames, budget: u8) -> Option<i64> {
    match expr {
        Expr::Const(Value::Int(i)) => Some(*i),
        Expr::Var { depth, index } => {
            if *depth == 0 && frames == Frames::Outer {
                return None;
            }
            let slot = walk(env, *depth).ok()?.slots.get(*index as usize)?;
            let v = slot.try_borrow().ok()?;
            match &*v {
                Value::Int(i) => Some(*i),
                Value::Thunk(t) => match &*t.0.try_borrow().ok()? {
                    ThunkState::Done(Value::Int(i)) => Some(*i),
                    _ => None,
                },
                _ => None,
            }
        }
        Expr::BinOp { op, lhs, rhs, .. } if budget > 0 => {
            let a = known_int(lhs, env, frames, budget - 1)?;
            let b = known_int(rhs, env, frames, budget - 1)?;
            match ops::int_binop(*op, a, b)? {
                Value::Int(i) => Some(i),
                _ => None,
            }
        }
        _ => None,
    }
}

#[expect(
    clippy::unnecessary_lazy_evaluations,
    reason = "`ok_or` builds and drops an error on every step of every variable read"
)]
fn walk(env: &Env, depth: u32) -> Result<&Env> {
    let mut e = env;
    for _ in 0..depth {
        e = e.parent.as_ref().ok_or_else(|| ErrorKind::Internal {
            what: "environment too shallow",
        })?;
    }
    Ok(e)
}

/// Reads a variable's slot.
fn lookup(env: &Env, depth: u32, index: u32) -> Result<Value> {
    walk(env, depth)?.get(index as usize).ok_or_else(|| {
        Error::new(ErrorKind::Internal {
            what: "slot out of range",
        })
    })
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use crate::io::MemoryIo;
    use crate::{EvalOptions, Evaluator, OutputFormat};

    fn eval_with_budget(source: &str, max_work: u64) -> Result<String, String> {
        let options = EvalOptions {
            max_work,
            ..EvalOptions::default()
        };
        let mut ev = Evaluator::new(Rc::new(MemoryIo::default()), options);
        let v = ev.eval_expr(source, "/").map_err(|e| e.render())?;
        ev.render(&v, OutputFormat::Nix, true)
            .map_err(|e| e.render())
    }

    #[test]
    fn work_budget_stops_exponential_growth() {
        let doubling = "let d = n: s: if n == 0 then s else d (n - 1) (s + s); in builtins.stringLength (d 64 \"x\")";
        let err = eval_with_budget(doubling, 1_000_000).unwrap_err();
        assert!(err.contains("work budget"), "{err}");
        let lists = "let d = n: l: if n == 0 then l else d (n - 1) (l ++ l); in builtins.length (d 64 [ 1 ])";
        assert!(eval_with_budget(lists, 1_000_000).is_err());
        let big = "builtins.length (builtins.genList (x: x) 100000000000)";
        assert!(eval_with_budget(big, 1_000_000).is_err());
    }

    #[test]
    fn speculated_arithmetic_keeps_lazy_semantics() {
        let cases = [
            // `__overrides` replaces `a` after `b` was suspended.
            (
                "(rec { a = 1; b = a + 1; __overrides = { a = 5; }; }).b",
                "6",
            ),
            // Division by zero is never speculated: unused, it is no error.
            ("let z = 0; s = { x = 1 / z; y = 2; }; in s.y", "2"),
            (
                "let n = 7; in [ (n - 1) (n * n) (n / 2) (n < 8) (n - (n / 3) * 3) ]",
                "[ 6 49 3 true 1 ]",
            ),
            // An operand that is not yet evaluated stays lazy.
            ("let n = throw \"no\"; in builtins.length [ (n + 1) ]", "1"),
            ("let s = \"a\"; in [ (s + \"b\") ]", "[ \"ab\" ]"),
        ];
        for (source, expected) in cases {
            assert_eq!(
                eval_with_budget(source, 0).as_deref(),
                Ok(expected),
                "{source}"
            );
        }
    }

    #[test]
    fn work_budget_allows_ordinary_programs() {
        let fib = "let fib = n: if n < 2 then n else fib (n - 1) + fib (n - 2); in fib 15";
        assert_eq!(eval_with_budget(fib, 1_000_000).as_deref(), Ok("610"));
        assert_eq!(eval_with_budget(fib, 0).as_deref(), Ok("610"));
    }
}
