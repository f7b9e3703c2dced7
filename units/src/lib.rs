//! Per-crate build plans for kiln (issue: per-crate derivations).
//!
//! A planning build (`recipes/rust/package.nix` with `plan = true`) runs
//! the very cargo command of a package build, in the same sandbox and
//! environment, with a RUSTC_WRAPPER that records each rustc call and
//! build-script run instead of compiling ([`record`]). Joined with cargo's
//! own unit graph ([`graph`]) and checked against it edge by edge, those
//! records become a [`plan::Plan`]: one entry per unit, with cargo's exact
//! arguments (`-C metadata`, features, profile flags, `--extern`s) and
//! environment, every path a placeholder the recipe fills with store paths.

pub mod graph;
pub mod plan;
pub mod record;

use std::path::PathBuf;

use thiserror::Error;

pub use plan::{Plan, Unit, plan};
pub use record::Records;

/// Why a plan could not be made.
#[derive(Debug, Error)]
pub enum PlanError {
    /// A record is missing or malformed.
    #[error("`{}`: {reason}", path.display())]
    Record {
        /// The record.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A call matches no unit of cargo's unit graph.
    #[error("`{}`: {what} matches no unit of cargo's unit graph", record.display())]
    Unmatched {
        /// The record.
        record: PathBuf,
        /// The call.
        what: String,
    },
    /// The calls and the unit graph disagree.
    #[error("the recorded calls disagree with cargo's unit graph: {0}")]
    Graph(String),
}
