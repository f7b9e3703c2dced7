//! End-to-end tests of the `kiln` binary, all linked into one test binary.
//!
//! Differential tests compare kiln with the real Nix 2.8 (`nix-bin`); they
//! are skipped with a printed notice when Nix is not installed, and fail
//! when `KILN_REQUIRE_NIX=1` is set (as `.ci/run` does), so CI can never
//! pass them silently.

mod build;
mod eval;
mod flake;
mod formats;
mod instantiate;
mod lock;
mod nar;
mod sandbox;
mod store;
mod util;
