#!/usr/bin/env bash
# Benchmark: a dependency bump in a per-crate build (units = true) against
# the whole-project build, on ripgrep 15.2.0 (x86_64).
#
# Usage (from the repository's root; needs curl):
#   bash bench/units-bump/run.sh            # ~15 min on 2 cores
#
# KILN_STORE (default: target/bench-store) keeps the toolchain between runs;
# KILN=PATH runs that kiln binary instead of building this checkout's.
#
# Steps, each timed:
#   1. ripgrep's crate unpacked into a scratch flake with two packages:
#      `rg` (units = true) and `rg-whole` (the whole-project build);
#   2. `kiln lock` (plans), then a cold per-unit build of `rg.x86_64`;
#   3. the bump: itoa 1.0.18 -> 1.0.19 in Cargo.lock (a leaf crate: only
#      serde_json, grep-printer, grep and rg depend on it), `kiln lock`,
#      and the per-unit rebuild with --explain;
#   4. the whole-project build of the bumped lock.
# Prints which units the bump rebuilt and which were reused (early
# cutoff), the rebuild's time against the cold build (goal: <= 0.2) and
# against the sum of the rebuilt units' own times in the cold build (goal:
# <= 1.1), against the whole-project build, and checks that the per-unit
# and whole-project binaries of the bumped lock are byte-identical.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export KILN_STORE=${KILN_STORE:-$root/target/bench-store}
if [ -z "${KILN:-}" ]; then
  cargo build --release --quiet --manifest-path "$root/Cargo.toml"
fi
kiln=${KILN:-${CARGO_TARGET_DIR:-$root/target}/release/kiln}
work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-units-bump.XXXXXX")
cd "$work"

curl -sSfL https://static.crates.io/crates/ripgrep/ripgrep-15.2.0.crate | tar -xz
mv ripgrep-15.2.0 src
cat > flake.toml <<'TOML'
description = "ripgrep 15.2.0, one cargo unit at a time and as one cargo build"

[inputs.ripgrep]
path = "src"

[packages.rg]
src = "ripgrep"
bins = ["rg"]
units = true

[packages.rg-whole]
src = "ripgrep"
bins = ["rg"]
TOML
grep -q '^version = "1.0.18"$' src/Cargo.lock || { echo "ripgrep's Cargo.lock has no itoa 1.0.18" >&2; exit 1; }

timed() { local start; start=$(date +%s.%N); "$@"; echo "$(date +%s.%N) - $start" | bc; }
"$kiln" lock >lock1.log 2>&1
cold=$(timed "$kiln" build --json -o units .#rg.x86_64 2>cold.jsonl >/dev/null)
sed -i 's/^version = "1.0.18"$/version = "1.0.19"/; s/8f42a60cbdf9a97f5d2305f08a87dc4e09308d1276d28c869c684d7777685682/3bd1574e617a9a6c1f8f8181bd7e841e1f20e4277607ef28945765188d6284d4/' src/Cargo.lock
"$kiln" lock >lock2.log 2>&1
bump=$(timed "$kiln" build --json --explain -o bumped .#rg.x86_64 2>bump.jsonl >/dev/null)
whole=$(timed "$kiln" build --json -o whole .#rg-whole.x86_64 2>whole.jsonl >/dev/null)

python3 - "$cold" "$bump" "$whole" <<'PY'
import json, re, sys
cold_s, bump_s, whole_s = map(float, sys.argv[1:])
def events(f):
    return [json.loads(l) for l in open(f) if l.startswith("{")]
def name(d):
    return re.sub(r"^/nix/store/[a-z0-9]{32}-", "", d).removesuffix(".drv")
cold = {name(e["drv"]): e["elapsed"] for e in events("cold.jsonl")
        if e["event"] == "finish" and e["kind"] == "build"}
built, reused = [], []
for e in events("bump.jsonl"):
    if e["event"] == "finish" and e["kind"] == "build":
        (reused if e.get("reusedFrom") else built).append((name(e["drv"]), e["elapsed"]))
own = sum(cold.get(n, t) for n, t in built)
print(f"cold per-unit build (rg.x86_64, {len(cold)} derivations): {cold_s:.1f} s")
print(f"after the itoa bump: {len(built)} built, {len(reused)} reused (same inputs' bytes), {bump_s:.1f} s")
for n, t in built:
    print(f"  built  {n}: {t:.1f} s (cold: {cold.get(n, float('nan')):.1f} s)")
for n, _ in reused:
    print(f"  reused {n}")
print(f"whole-project build of the bumped lock: {whole_s:.1f} s")
print(f"ratio bump rebuild / cold per-unit build: {bump_s / cold_s:.2f} (goal <= 0.2)")
print(f"ratio bump rebuild / rebuilt units' own cold times ({own:.1f} s): {bump_s / own:.2f} (goal <= 1.1)")
print(f"ratio bump rebuild / whole-project build: {bump_s / whole_s:.2f}")
PY
if cmp -s bumped-x86_64/bin/rg whole-x86_64/bin/rg; then
  echo "per-unit and whole-project rg of the bumped lock: byte-identical ($(sha256sum < whole-x86_64/bin/rg | cut -c1-16)…)"
else
  echo "per-unit and whole-project rg of the bumped lock DIFFER" >&2
  exit 1
fi
echo "(scratch flake: $work)"
