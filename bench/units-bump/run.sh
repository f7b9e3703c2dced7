#!/usr/bin/env bash
# Benchmark: the cold per-crate build (units = true) against the cold
# whole-project build of the same lock, in the same run; then a
# patch-version bump of one leaf dependency in Cargo.lock, in the per-crate
# build, against both.
#
# Usage (from the repository's root; needs curl):
#   bash bench/units-bump/run.sh            # ripgrep 15.2.0, x86_64: ~20 min on 2 cores
#   bash bench/units-bump/run.sh uv         # uv 0.13.7 (its PyPI sdist): ~3 h
#   TARGET=x86_64 WHOLE=0 bash bench/units-bump/run.sh uv
#   TARGET=x86_64 BUMP=0 bash bench/units-bump/run.sh uv   # cold builds only: ~1 h 30 min
#
# KILN_STORE (default: target/bench-store) keeps the toolchain between runs;
# KILN=PATH runs that kiln binary instead of building this checkout's;
# TARGET (x86_64 or aarch64; ripgrep: x86_64, uv: aarch64) picks the
# target; COLD_WHOLE=0 skips the cold whole-project build of the
# unbumped lock, WHOLE=0 that of the bumped lock (uv's take about 50
# minutes each), BUMP=0 stops after the cold builds. GC=0 skips the
# collection before the cold builds (it waits for every other kiln on the
# store); they are then cold only if the store holds nothing of them yet,
# which the dry-run count shows.
#
# Steps, each timed:
#   1. the project's sources unpacked into a scratch flake with two
#      packages: `units` (units = true) and `whole` (the whole-project
#      build); the toolchain built and kept as a root, the store
#      collected, every download fetched (none of that is measured);
#   2. `kiln lock` (plans), then a cold per-unit build, then a cold
#      whole-project build of the same lock: their ratio (goal: <= 1.15)
#      and a byte comparison of the two binaries;
#   3. the bump, `kiln lock`, and the per-unit rebuild with --explain:
#      ripgrep: itoa 1.0.18 -> 1.0.19 (only serde_json, grep-printer, grep
#      and rg depend on it); uv: fixedbitset 0.5.7 -> 0.5.9 (petgraph and
#      the uv crates above it);
#   4. the whole-project build of the bumped lock (unless WHOLE=0).
# Prints which units the bump rebuilt and which were reused (early
# cutoff), where the rebuild's time went, its ratio to the cold build
# (goal for ripgrep: <= 0.2) and to the sum of the rebuilt units' own times
# in the cold build (goal: <= 1.1), and to the whole-project build, and
# checks that the per-unit and whole-project binaries of the bumped lock
# are byte-identical.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
project=${1:-ripgrep}
export KILN_STORE=${KILN_STORE:-$root/target/bench-store}
if [ -z "${KILN:-}" ]; then
  cargo build --release --quiet --manifest-path "$root/Cargo.toml"
fi
kiln=${KILN:-${CARGO_TARGET_DIR:-$root/target}/release/kiln}
work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-units-bump.XXXXXX")
cd "$work"

case $project in
  ripgrep)
    target=${TARGET:-x86_64} bin=rg package=ripgrep
    url=https://static.crates.io/crates/ripgrep/ripgrep-15.2.0.crate
    crate=itoa old=1.0.18 new=1.0.19
    old_sum=8f42a60cbdf9a97f5d2305f08a87dc4e09308d1276d28c869c684d7777685682
    new_sum=3bd1574e617a9a6c1f8f8181bd7e841e1f20e4277607ef28945765188d6284d4
    ;;
  uv)
    target=${TARGET:-aarch64} bin=uv package=uv
    url=https://files.pythonhosted.org/packages/71/73/0021f6679b1b686f2fdb7cb9914a9d953428644e3057b173edc181d1590c/uv-0.13.7.tar.gz
    crate=fixedbitset old=0.5.7 new=0.5.9
    old_sum=1d674e81391d1e1ab681a28d99df07927c6d4aa5b027d7da16ba32d1d21ecd99
    new_sum=5905ec755cc8386d7928353e4d356d2be3e89e81e5ca01fe630a1ca4d08dc175
    ;;
  *)
    echo "unknown project \`$project\` (ripgrep or uv)" >&2
    exit 2
    ;;
esac

mkdir src
curl -sSfL "$url" | tar -xz --strip-components=1 -C src
cat > flake.toml <<TOML
description = "$project, one cargo unit at a time and as one cargo build"

[inputs.source]
path = "src"

[packages.units]
src = "source"
package = "$package"
bins = ["$bin"]
units = true

[packages.whole]
src = "source"
package = "$package"
bins = ["$bin"]
TOML
# The lock names the crate once, at the old version.
[ "$(grep -A1 "^name = \"$crate\"$" src/Cargo.lock)" = "name = \"$crate\"
version = \"$old\"" ] || { echo "$project's Cargo.lock has no single $crate $old" >&2; exit 1; }

same_bin() { # LABEL A B
  if cmp -s "$2/bin/$bin" "$3/bin/$bin"; then
    echo "per-unit and whole-project $bin $1: byte-identical ($(sha256sum < "$3/bin/$bin" | cut -c1-16)…)"
  else
    echo "per-unit and whole-project $bin $1 DIFFER" >&2
    exit 1
  fi
}
# timed EVENTS COMMAND…: runs COMMAND with its stderr (kiln's --json
# events) in EVENTS and its stdout discarded; prints its wall time.
timed() {
  local events=$1 start
  shift
  start=$(date +%s.%N)
  "$@" 2>"$events" >/dev/null
  python3 -c 'import sys, time; print(f"{time.time() - float(sys.argv[1]):.1f}")' "$start"
}
ratio() { python3 -c 'import sys; print(f"{float(sys.argv[1]) / float(sys.argv[2]):.2f}")' "$1" "$2"; }
# The toolchain is not what is measured: build it and keep it as a root.
for attr in rust.toolchain rootfs zig; do
  "$kiln" build --quiet -o "keep-$attr" -E "(import <kiln> { }).$attr" >/dev/null
done
"$kiln" lock >lock1.log 2>&1
if [ "${GC:-1}" != 0 ]; then
  "$kiln" gc >gc.log
fi
"$kiln" fetch --quiet ".#units.$target" ".#whole.$target"
pending=$("$kiln" build --dry-run ".#units.$target" 2>&1 >/dev/null | grep -m1 'would be' || true)
echo "before the cold builds: ${pending:-nothing would be built} (per-unit)," \
  "$("$kiln" build --dry-run ".#whole.$target" 2>&1 >/dev/null | grep -m1 'would be' || true) (whole-project)"
if [ -z "$pending" ] || [ "${pending%% *}" = 0 ]; then
  # A previous run's result links (in its scratch flake) keep its builds.
  echo "the store already holds these builds, so nothing is cold: remove the earlier" \
    "${TMPDIR:-/tmp}/kiln-units-bump.* scratch flakes, or use another KILN_STORE" >&2
  exit 1
fi
cold=$(timed cold.jsonl "$kiln" build --json -o result-units ".#units.$target")
echo "cold per-unit build: $cold s"
if [ "${COLD_WHOLE:-1}" != 0 ]; then
  cold_whole=$(timed cold-whole.jsonl "$kiln" build --json -o result-whole0 ".#whole.$target")
  echo "cold whole-project build of the same lock: $cold_whole s"
  echo "ratio cold per-unit / cold whole-project, same run: $(ratio "$cold" "$cold_whole") (goal <= 1.15)"
  same_bin "of the same lock" "result-units-$target" "result-whole0-$target"
fi
if [ "${BUMP:-1}" = 0 ]; then
  echo "(scratch flake: $work)"
  exit 0
fi
sed -i "/^name = \"$crate\"$/{n;s/^version = \"$old\"$/version = \"$new\"/}; s/$old_sum/$new_sum/" src/Cargo.lock
"$kiln" lock >lock2.log 2>&1
bump=$(timed bump.jsonl "$kiln" build --json --explain -o result-bumped ".#units.$target")
whole=0
if [ "${WHOLE:-1}" != 0 ]; then
  whole=$(timed whole.jsonl "$kiln" build --json -o result-whole ".#whole.$target")
fi

python3 "$root/bench/units-bump/summary.py" "$cold" "$bump" "$whole" "$project.$target"
if [ "$whole" != 0 ]; then
  same_bin "of the bumped lock" "result-bumped-$target" "result-whole-$target"
fi
echo "(scratch flake: $work)"
