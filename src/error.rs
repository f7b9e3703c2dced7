//! Rendering errors for people, and the mapping from error kind to exit code.
//!
//! Exit codes: 0 success (also when stdout is a closed pipe), 1 the command failed (bad input, evaluation error,
//! build failure), 2 usage errors (clap's own), 101 is never produced on
//! purpose (it means a panic, which is a bug).

use std::io::Write;
use std::process::ExitCode;

/// A hint attached to an error: printed after the causes, after a blank line.
#[derive(Debug)]
pub struct Hint(pub String);

impl std::fmt::Display for Hint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Hint {}

/// An error whose message has already been printed in full (for example an
/// evaluation error rendered with its code frame); only the exit code remains.
#[derive(Debug)]
pub struct AlreadyReported;

impl std::fmt::Display for AlreadyReported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("error already reported")
    }
}

impl std::error::Error for AlreadyReported {}

/// Prints `error: …`, one `Caused by:` line per source, then any hint, and
/// returns the exit code for the error.
pub fn report(err: &anyhow::Error) -> ExitCode {
    if err.downcast_ref::<AlreadyReported>().is_some() {
        return ExitCode::from(1);
    }
    // A closed pipe (`kiln … | head`) is how the reader says it has enough.
    let broken_pipe = err
        .chain()
        .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe);
    if broken_pipe {
        return ExitCode::SUCCESS;
    }
    let mut stderr = std::io::stderr().lock();
    let mut hints = Vec::new();
    let mut chain = err.chain().filter(|cause| {
        if let Some(hint) = cause.downcast_ref::<Hint>() {
            hints.push(hint.0.clone());
            false
        } else {
            true
        }
    });
    if let Some(top) = chain.next() {
        let _ = writeln!(stderr, "error: {top}");
    }
    for cause in chain {
        let _ = writeln!(stderr, "  Caused by: {cause}");
    }
    for hint in hints {
        let _ = writeln!(stderr, "\nhint: {hint}");
    }
    ExitCode::from(1)
}

/// Prints `warning: …` on stderr, for what does not stop the command.
pub fn warn(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "warning: {message}");
}
