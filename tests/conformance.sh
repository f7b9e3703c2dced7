#!/usr/bin/env bash
# Runs the Nix language conformance suite (NixOS/nix 2.8 tests/lang, public
# set in ../shared/conformance/nix-lang) against the release `kiln` binary.
# Requires 100% of the parse tests and at least 95% of the eval tests, and
# prints the harness's summary line.
#
# Usage: tests/conformance.sh [path/to/kiln]   (default: $CARGO_TARGET_DIR or
# target, release profile; build it first with `cargo build --release`)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kiln="${1:-${CARGO_TARGET_DIR:-$root/target}/release/kiln}"
suite="${KILN_CONFORMANCE_SUITE:-$root/../shared/conformance/nix-lang}"
results="$(mktemp)"
trap 'rm -f "$results"' EXIT

if [[ ! -x "$kiln" ]]; then
    echo "conformance: $kiln not found; run cargo build --release first" >&2
    exit 1
fi
if [[ ! -f "$suite/run.py" ]]; then
    echo "conformance: suite not found at $suite" >&2
    exit 1
fi

kiln="$(cd "$(dirname "$kiln")" && pwd)/$(basename "$kiln")"
summary="$(cd "$suite" && python3 run.py --cmd "$kiln eval --strict {file}" \
    --parse-cmd "$kiln parse {file}" --results "$results" --list-failures --exit-zero)"
echo "$summary" | grep -E '^(parse|eval)-|FAIL' || true

count() { grep -c "^$1 $2 " "$results" || true; }
parse_fail=$(( $(count FAIL parse-okay) + $(count FAIL parse-fail) ))
eval_pass=$(( $(count PASS eval-okay) + $(count PASS eval-fail) ))
eval_fail=$(( $(count FAIL eval-okay) + $(count FAIL eval-fail) ))
eval_total=$(( eval_pass + eval_fail ))

echo "$summary" | tail -n 1
if (( parse_fail > 0 )); then
    echo "conformance: $parse_fail parse tests failed (100% required)" >&2
    exit 1
fi
if (( eval_total == 0 || eval_pass * 100 < eval_total * 95 )); then
    echo "conformance: eval tests $eval_pass/$eval_total passed (95% required)" >&2
    exit 1
fi
echo "conformance: parse 100%, eval $eval_pass/$eval_total"
