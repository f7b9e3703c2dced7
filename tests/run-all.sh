#!/usr/bin/env bash
# The whole test suite: formatting, lints, docs, unit and end-to-end tests
# (differential against the real Nix when `nix-bin` is installed), and the
# Nix language conformance suite, and the toolchain built from an empty
# store into static hello binaries for x86_64 and aarch64 (downloads about
# 320 MB; set KILN_SKIP_TOOLCHAIN=1 to leave it out on a slow link).
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

# The `ci` profile is release without link-time optimisation of the whole
# program (see Cargo.toml): the same code, built once for every test binary.
step "cargo test (ci profile)"
cargo test --workspace --profile ci
kiln=${CARGO_TARGET_DIR:-$PWD/target}/ci/kiln

step "Nix language conformance"
bash tests/conformance.sh "$kiln"

if [ "${KILN_SKIP_TOOLCHAIN:-}" = 1 ]; then
  echo "toolchain test skipped (KILN_SKIP_TOOLCHAIN=1)" >&2
else
  step "toolchain: from an empty store to static binaries for both targets"
  KILN=$kiln bash tests/toolchain.sh
fi
