#!/usr/bin/env bash
# The whole test suite: formatting, lints, docs, unit and end-to-end tests
# (differential against the real Nix when `nix-bin` is installed), and the
# Nix language conformance suite.
#
# Usage: bash tests/run-all.sh   (from anywhere; set KILN_REQUIRE_NIX=1 to
# fail instead of skipping when Nix is missing, as CI does)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s\n' "$*" >&2; }

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet

step "cargo test (release)"
cargo test --workspace --release

if [ -x tests/conformance.sh ] || [ -f tests/conformance.sh ]; then
  step "Nix language conformance"
  bash tests/conformance.sh
fi
