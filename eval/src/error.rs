//! Evaluation errors: a typed kind, the position it happened at, and the
//! stack of "while evaluating …" frames it passed through.
//!
//! `throw` and failed `assert`s are *catchable* (`builtins.tryEval` catches
//! them and nothing else), as in Nix.

use std::fmt;

use crate::syntax::{self, Origin, Pos};

/// What went wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ErrorKind {
    /// The source does not parse.
    #[error("syntax error, {message}")]
    Syntax {
        /// rnix's description of the problem.
        message: String,
    },
    /// A variable that no scope binds.
    #[error("undefined variable '{name}'")]
    UndefinedVar {
        /// The variable.
        name: String,
    },
    /// An attribute defined twice in one set or `let`.
    #[error("attribute '{path}' already defined at {first}")]
    DuplicateAttr {
        /// The attribute path, dotted.
        path: String,
        /// Where it was first defined.
        first: String,
    },
    /// A formal argument named twice.
    #[error("duplicate formal function argument '{name}'")]
    DuplicateFormal {
        /// The argument.
        name: String,
    },
    /// `${…}` attribute names are not allowed in `let`.
    #[error("dynamic attributes not allowed in let")]
    DynamicInLet,
    /// A value of the wrong type.
    #[error("value is {got} while {expected} was expected")]
    Type {
        /// What was wanted ("a set", "a string", …).
        expected: &'static str,
        /// What was found.
        got: &'static str,
    },
    /// `e.name` where the set has no `name`.
    #[error("attribute '{name}' missing")]
    MissingAttr {
        /// The attribute.
        name: String,
    },
    /// Applying a non-function.
    #[error("attempt to call something which is not a function but {got}")]
    NotAFunction {
        /// What was applied.
        got: &'static str,
    },
    /// A lambda with formals called without one of them.
    #[error("{function} called without required argument '{name}'")]
    MissingArgument {
        /// The function's description.
        function: String,
        /// The missing argument.
        name: String,
    },
    /// A lambda with formals (and no `...`) called with an extra argument.
    #[error("{function} called with unexpected argument '{name}'")]
    UnexpectedArgument {
        /// The function's description.
        function: String,
        /// The unexpected argument.
        name: String,
    },
    /// `throw msg`.
    #[error("{message}")]
    Throw {
        /// The message.
        message: String,
    },
    /// A failed `assert`.
    #[error("assertion '{condition}' failed")]
    Assert {
        /// The condition's source text.
        condition: String,
    },
    /// `abort msg`.
    #[error("evaluation aborted with the following error message: '{message}'")]
    Abort {
        /// The message.
        message: String,
    },
    /// A thunk forced while it was being evaluated.
    #[error("infinite recursion encountered")]
    InfiniteRecursion,
    /// Evaluation nested too deeply.
    #[error("stack overflow (possible infinite recursion)")]
    StackOverflow,
    /// The evaluation used up its budget of work (`EvalOptions::max_work`).
    #[error("evaluation stopped: it exceeded its work budget of {budget} units")]
    WorkBudget {
        /// The budget.
        budget: u64,
    },
    /// Integer division by zero.
    #[error("division by zero")]
    DivisionByZero,
    /// A value that cannot become a string.
    #[error("cannot coerce {got} to a string")]
    CannotCoerce {
        /// What was found.
        got: &'static str,
    },
    /// A string with context where none is allowed.
    #[error("the string '{text}' is not allowed to refer to a store path")]
    NotAllowedContext {
        /// The string.
        text: String,
    },
    /// Values that `<` cannot order.
    #[error("cannot compare {left} with {right}")]
    CannotCompare {
        /// The left operand's type.
        left: &'static str,
        /// The right operand's type.
        right: &'static str,
    },
    /// A path that must be absolute is not.
    #[error("string '{path}' doesn't represent an absolute path")]
    NotAbsolute {
        /// The string.
        path: String,
    },
    /// A search path entry not found (`<name>`).
    #[error("file '{name}' was not found in the Nix search path (add it using $NIX_PATH or -I)")]
    NotInSearchPath {
        /// The name looked up.
        name: String,
    },
    /// A file-system access failed.
    #[error("{action} '{path}': {reason}")]
    Io {
        /// What was being done ("opening file", "reading directory", …).
        action: &'static str,
        /// The path.
        path: String,
        /// The underlying error.
        reason: String,
    },
    /// Access denied in pure mode.
    #[error("access to path '{path}' is forbidden in restricted mode")]
    Forbidden {
        /// The path.
        path: String,
    },
    /// A built-in function rejected its arguments.
    #[error("{message}")]
    Builtin {
        /// The description, in Nix's words.
        message: String,
    },
    /// A feature not implemented yet.
    #[error("{what} is not implemented yet")]
    NotImplemented {
        /// The missing feature.
        what: &'static str,
    },
    /// An invariant of the evaluator was violated (a bug).
    #[error("internal error: {what}")]
    Internal {
        /// What went wrong.
        what: &'static str,
    },
}

impl ErrorKind {
    /// Whether `builtins.tryEval` catches this error.
    pub fn is_catchable(&self) -> bool {
        matches!(
            self,
            ErrorKind::Throw { .. } | ErrorKind::Assert { .. } | ErrorKind::NotInSearchPath { .. }
        )
    }
}

/// One "while evaluating …" frame of an error's trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// What was being evaluated.
    pub what: String,
    /// Where.
    pub pos: Pos,
}

/// An evaluation error.
#[derive(Debug, Clone, PartialEq)]
pub struct Error(Box<ErrorInner>);

#[derive(Debug, Clone, PartialEq)]
struct ErrorInner {
    kind: ErrorKind,
    pos: Pos,
    trace: Vec<Frame>,
}

/// The most frames an error keeps (deep recursion would otherwise build
/// enormous traces).
const MAX_FRAMES: usize = 32;

impl Error {
    /// Returns an error without a position.
    pub fn new(kind: ErrorKind) -> Error {
        Error(Box::new(ErrorInner {
            kind,
            pos: Pos::NONE,
            trace: Vec::new(),
        }))
    }

    /// Sets the position if none is known yet.
    pub fn at(mut self, pos: Pos) -> Error {
        if !self.0.pos.is_some() {
            self.0.pos = pos;
        }
        self
    }

    /// Adds a "while evaluating …" frame.
    pub fn frame(mut self, what: impl FnOnce() -> String, pos: Pos) -> Error {
        if self.0.trace.len() < MAX_FRAMES {
            self.0.trace.push(Frame { what: what(), pos });
        }
        self
    }

    /// Returns the kind.
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// Returns the position.
    pub fn pos(&self) -> Pos {
        self.0.pos
    }

    /// Returns the trace, innermost first.
    pub fn trace(&self) -> &[Frame] {
        &self.0.trace
    }

    /// Renders the error the way Nix prints it: `error: …`, the location,
    /// a code frame, then the trace.
    pub fn render(&self) -> String {
        let mut out = format!("error: {}\n", self.0.kind);
        render_location(&mut out, self.0.pos);
        let mut previous: Option<&Frame> = None;
        let mut repeats = 0;
        for frame in &self.0.trace {
            if previous == Some(frame) {
                repeats += 1;
                continue;
            }
            if repeats > 0 {
                out.push_str(&format!("\n       ({repeats} duplicate frames omitted)\n"));
                repeats = 0;
            }
            out.push_str(&format!("\n       … while {}\n", frame.what));
            render_location(&mut out, frame.pos);
            previous = Some(frame);
        }
        if repeats > 0 {
            out.push_str(&format!("\n       ({repeats} duplicate frames omitted)\n"));
        }
        out
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.kind)?;
        if let Some(loc) = syntax::locate(self.0.pos) {
            write!(
                f,
                " at {}:{}:{}",
                origin_name(&loc.origin),
                loc.line,
                loc.column
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Error {
        Error::new(kind)
    }
}

/// Returns how Nix names a source in messages.
pub fn origin_name(origin: &Origin) -> &str {
    match origin {
        Origin::File(path) => path,
        Origin::String => "«string»",
    }
}

/// Returns `file:line:col` for a position, as Nix shows it in messages.
pub fn pos_string(pos: Pos) -> String {
    match syntax::locate(pos) {
        Some(loc) => {
            let name = match &loc.origin {
                Origin::File(p) => p.as_str(),
                Origin::String => "(string)",
            };
            format!("{name}:{}:{}", loc.line, loc.column)
        }
        None => "undefined position".to_owned(),
    }
}

fn render_location(out: &mut String, pos: Pos) {
    let Some(src) = syntax::source(pos.file) else {
        return;
    };
    let (line, col) = src.line_col(pos.offset);
    out.push_str(&format!(
        "\n       at {}:{line}:{col}:\n\n",
        origin_name(&src.origin)
    ));
    let first = line.saturating_sub(1).max(1);
    for l in first..=line + 1 {
        if l > line && src.line_text(l).is_empty() {
            break;
        }
        if l < line && src.line_text(l).is_empty() {
            continue;
        }
        out.push_str(&format!("       {l:>5}| {}\n", src.line_text(l)));
        if l == line {
            out.push_str(&format!("       {:>5}| {}^\n", "", " ".repeat(col - 1)));
        }
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
