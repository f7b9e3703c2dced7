//! The build sandbox: a fresh root filesystem in Linux namespaces, holding
//! only what a derivation may see.
//!
//! A build is planned first and carried out second:
//!
//! - [`mod@plan`] ([`plan::plan`]) is pure. From a [`SandboxSpec`] (inputs with
//!   their host paths, outputs, builder, environment, optional root
//!   filesystem, network flag, ids) it computes a [`SandboxPlan`]: the
//!   ordered mount [`Step`]s, the builder's exact environment, host names,
//!   and the files to create. Unit tests cover it without root.
//! - [`prepare`] expands the plan into system calls with their arguments
//!   allocated in advance, and [`linux`] holds all of the crate's `unsafe`:
//!   it starts the sandbox with
//!   `std::process::Command` and a `pre_exec` hook that creates the user,
//!   mount, pid, network, ipc and uts namespaces, assembles the root and
//!   `pivot_root`s into it.
//! - [`child`] is what runs inside: the namespace-creating process and the
//!   sandbox's pid 1, a small reaper whose exit takes every other process
//!   in the sandbox with it.
//!
//! [`crate::build`] drives one build through this module: log streaming,
//! timeouts, cancellation and the exit status. `docs/sandbox.md` describes
//! what a builder sees and why; this module does not canonicalise, scan or
//! register outputs (that is `realise`'s job).

pub mod child;
pub mod disorder;
pub mod linux;
pub mod plan;
pub mod prepare;
pub mod variation;

pub use linux::{SetupError, Started, start};
pub use plan::{
    Access, BuildFile, IdMap, PlanError, PlannedOutput, SandboxDirs, SandboxPlan, SandboxSpec,
    Step, plan,
};
pub use variation::{Aspect, Variation};
