#!/usr/bin/env bash
# Benchmark: a patch-version bump of one leaf dependency in Cargo.lock, in a
# per-crate build (units = true), against the cold per-crate build and the
# whole-project build.
#
# Usage (from the repository's root; needs curl):
#   bash bench/units-bump/run.sh            # ripgrep 15.2.0, x86_64: ~15 min on 2 cores
#   bash bench/units-bump/run.sh uv         # uv 0.13.7 (its PyPI sdist): ~2.5 h
#   TARGET=x86_64 WHOLE=0 bash bench/units-bump/run.sh uv
#
# KILN_STORE (default: target/bench-store) keeps the toolchain between runs;
# KILN=PATH runs that kiln binary instead of building this checkout's;
# TARGET (x86_64 or aarch64; ripgrep: x86_64, uv: aarch64) picks the
# target; WHOLE=0 skips the whole-project build of the bumped lock (uv's
# takes about 50 minutes).
#
# Steps, each timed:
#   1. the project's sources unpacked into a scratch flake with two
#      packages: `units` (units = true) and `whole` (the whole-project
#      build);
#   2. `kiln lock` (plans), then a cold per-unit build;
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

timed() { local start; start=$(date +%s.%N); "$@"; echo "$(date +%s.%N) - $start" | bc; }
"$kiln" lock >lock1.log 2>&1
cold=$(timed "$kiln" build --json -o result-units ".#units.$target" 2>cold.jsonl >/dev/null)
sed -i "/^name = \"$crate\"$/{n;s/^version = \"$old\"$/version = \"$new\"/}; s/$old_sum/$new_sum/" src/Cargo.lock
"$kiln" lock >lock2.log 2>&1
bump=$(timed "$kiln" build --json --explain -o result-bumped ".#units.$target" 2>bump.jsonl >/dev/null)
whole=0
if [ "${WHOLE:-1}" != 0 ]; then
  whole=$(timed "$kiln" build --json -o result-whole ".#whole.$target" 2>whole.jsonl >/dev/null)
fi

python3 "$root/bench/units-bump/summary.py" "$cold" "$bump" "$whole" "$project.$target"
if [ "$whole" != 0 ]; then
  if cmp -s "result-bumped-$target/bin/$bin" "result-whole-$target/bin/$bin"; then
    echo "per-unit and whole-project $bin of the bumped lock: byte-identical ($(sha256sum < "result-whole-$target/bin/$bin" | cut -c1-16)…)"
  else
    echo "per-unit and whole-project $bin of the bumped lock DIFFER" >&2
    exit 1
  fi
fi
echo "(scratch flake: $work)"
