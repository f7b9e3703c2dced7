#!/usr/bin/env bash
# Benchmark: `kiln eval --strict` vs `nix-instantiate --eval --strict` 2.8 on
# the same files, in the same run:
#   graph.nix  (a) 3,000 crates x 2 targets as derivations (6,000 builds
#              with string-context dependencies, 3,000 fixed-output sources)
#   fib.nix    (b) naive fib 27
#   sort.nix   (c) sorting 100,000 integers
#   merge.nix  (d) repeated recursive attrset merging
#
# Usage: bench/eval/run.sh [RUNS]   (from anywhere; needs nix-bin and
# hyperfine: apt-get install nix-bin hyperfine)
# For each file it checks that both print the same value, then prints the
# mean wall time over RUNS runs (default 5, after 1 warm-up), the peak
# resident memory (GNU time's %M, the largest of 3 runs), and the ratios
# nix/kiln (above 1 means kiln is faster or smaller).
set -euo pipefail
runs=${1:-5}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin kiln
kiln=${CARGO_TARGET_DIR:-$root/target}/release/kiln
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export NIX_CONFIG=$'build-users-group =\nsubstituters =' XDG_CACHE_HOME="$work/cache"
unset NIX_PATH

peak_kib() {
  local best=0 kib
  for _ in 1 2 3; do
    /usr/bin/time -f %M -o "$work/mem" "$@" > /dev/null
    kib=$(tail -n 1 "$work/mem")
    (( kib > best )) && best=$kib
  done
  echo "$best"
}

printf '%-6s %10s %10s %7s %11s %11s %7s\n' bench kiln-s nix-s speed kiln-MiB nix-MiB memory
for name in graph fib sort merge; do
  file="$here/$name.nix"
  "$kiln" eval --strict "$file" > "$work/kiln.out"
  nix-instantiate --eval --strict "$file" > "$work/nix.out"
  cmp -s "$work/kiln.out" "$work/nix.out" || { echo "$name: kiln and nix print different values" >&2; exit 1; }
  hyperfine --style none --warmup 1 --runs "$runs" --export-json "$work/$name.json" \
    -n kiln "$kiln eval --strict $file" \
    -n nix "nix-instantiate --eval --strict $file" > /dev/null
  km=$(peak_kib "$kiln" eval --strict "$file")
  nm=$(peak_kib nix-instantiate --eval --strict "$file")
  python3 - "$work/$name.json" "$name" "$km" "$nm" <<'PY'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
name, km, nm = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
k, n = r["kiln"], r["nix"]
print(f"{name:<6} {k:10.3f} {n:10.3f} {n / k:6.2f}x {km / 1024:11.1f} {nm / 1024:11.1f} {nm / km:6.2f}x")
PY
done
