#!/usr/bin/env bash
# Benchmark: `kiln eval --strict` vs `nix-instantiate --eval --strict` 2.8 on
# the same files, in the same run:
#   graph.nix  (a) 3,000 crates x 2 targets as derivations (6,000 builds
#              with string-context dependencies, 3,000 fixed-output sources)
#   fib.nix    (b) naive fib 27
#   sort.nix   (c) sorting 100,000 integers
#   merge.nix  (d) repeated recursive attrset merging
#
# Usage: bench/eval/run.sh [RUNS]   (from anywhere; needs nix-bin:
# apt-get install nix-bin)
# For each file it checks that both print the same value, then runs kiln
# and nix alternately RUNS times each (default 21, after 2 warm-ups each),
# so that both see the same machine: a burst of load elsewhere slows both,
# not just whichever was running. It prints the median wall time of each
# (and the fastest run), the peak resident memory (GNU time's %M, the
# largest of 3 runs), and the ratios nix/kiln (above 1 means kiln is
# faster or smaller), of the medians and of the fastest runs.
set -euo pipefail
runs=${1:-21}
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

printf '%-6s %9s %9s %7s %7s %10s %10s %7s\n' bench kiln-s nix-s speed best kiln-MiB nix-MiB memory
for name in graph fib sort merge; do
  file="$here/$name.nix"
  "$kiln" eval --strict "$file" > "$work/kiln.out"
  nix-instantiate --eval --strict "$file" > "$work/nix.out"
  cmp -s "$work/kiln.out" "$work/nix.out" || { echo "$name: kiln and nix print different values" >&2; exit 1; }
  km=$(peak_kib "$kiln" eval --strict "$file")
  nm=$(peak_kib nix-instantiate --eval --strict "$file")
  python3 - "$name" "$runs" "$km" "$nm" "$kiln" "$file" <<'PY'
import statistics, subprocess, sys, time
name, runs, km, nm, kiln, file = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
commands = {
    "kiln": [kiln, "eval", "--strict", file],
    "nix": ["nix-instantiate", "--eval", "--strict", file],
}
times = {k: [] for k in commands}
def once(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t
for i in range(runs + 2):
    # Alternate which goes first, too.
    order = ["kiln", "nix"] if i % 2 == 0 else ["nix", "kiln"]
    for k in order:
        t = once(commands[k])
        if i >= 2:
            times[k].append(t)
k, n = statistics.median(times["kiln"]), statistics.median(times["nix"])
kb, nb = min(times["kiln"]), min(times["nix"])
print(f"{name:<6} {k:9.3f} {n:9.3f} {n / k:6.2f}x {nb / kb:6.2f}x {km / 1024:10.1f} {nm / 1024:10.1f} {nm / km:6.2f}x")
PY
done
