#!/usr/bin/env bash
# Benchmark: realising a graph of 1,000 trivial sandboxed derivations
# (busybox `echo > $out`, a few layers of fan-in: bench/realise/graph.nix)
# with kiln vs `nix-store --realise` (Nix 2.8, sandbox on), in the same run,
# both with 2 jobs; then the no-op rebuild of the graph (everything valid).
#
# Usage: bench/realise/run.sh [COUNT]   (from the repository root; needs
# nix-bin and busybox-static, and root or user namespaces)
#
# Each run uses a fresh nonce so that both tools really build. Evaluation
# and writing the .drv files (kiln build --dry-run, nix-instantiate) are
# timed apart from realisation. Prints per-derivation overhead of each,
# the ratio, and the no-op times.
set -euo pipefail
count=${1:-1000}
root=$(cd "$(dirname "$0")/../.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin kiln
kiln=${CARGO_TARGET_DIR:-$root/target}/release/kiln
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bb/bin"
cp /bin/busybox "$work/bb/bin/"
cp "$root/bench/realise/graph.nix" "$work/"
cd "$work"
export KILN_STORE="$work/kiln-store"
export NIX_CONFIG=$'build-users-group =\nsubstituters =\nsandbox = true\nmax-jobs = 2'
export XDG_CACHE_HOME="$work/cache"
nonce="$(date +%s%N)"
args=(--argstr nonce "$nonce" --arg count "$count")

now() { date +%s.%N; }
secs() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$1" "$2"; }

t0=$(now)
kdrv=$("$kiln" build --dry-run graph.nix "${args[@]}" 2>/dev/null)
t1=$(now)
"$kiln" realise -j2 --quiet "$kdrv" >/dev/null
t2=$(now)
ndrv=$(nix-instantiate graph.nix "${args[@]}" 2>/dev/null)
t3=$(now)
nix-store --realise --max-jobs 2 --quiet "$ndrv" >/dev/null 2>&1
t4=$(now)
[ "$kdrv" = "$ndrv" ] || { echo "derivations differ: kiln $kdrv, nix $ndrv" >&2; exit 1; }

# No-op: everything valid. `realise` checks the root; `build` also evaluates.
t5=$(now)
"$kiln" realise --quiet "$kdrv" >/dev/null
t6=$(now)
"$kiln" build --no-link --quiet graph.nix "${args[@]}" >/dev/null
t7=$(now)
nix-store --realise --quiet "$ndrv" >/dev/null 2>&1
t8=$(now)

kr=$(secs "$t1" "$t2"); nr=$(secs "$t3" "$t4")
python3 - "$count" "$(secs "$t0" "$t1")" "$kr" "$(secs "$t2" "$t3")" "$nr" \
  "$(secs "$t5" "$t6")" "$(secs "$t6" "$t7")" "$(secs "$t7" "$t8")" <<'PY'
import sys
n = int(sys.argv[1])
ke, kr, ne, nr, knoop, kbuild, nnoop = map(float, sys.argv[2:])
print(f"graph: {n} derivations, 2 jobs, sandbox on for both")
print(f"evaluate + write .drv files: kiln {ke:.2f} s, nix-instantiate {ne:.2f} s")
print(f"realise: kiln {kr:.2f} s ({kr / n * 1000:.1f} ms/drv), "
      f"nix-store --realise {nr:.2f} s ({nr / n * 1000:.1f} ms/drv); "
      f"ratio nix/kiln {nr / kr:.2f}x")
print(f"no-op: kiln realise {knoop * 1000:.0f} ms, kiln build (with evaluation) "
      f"{kbuild * 1000:.0f} ms, nix-store --realise {nnoop * 1000:.0f} ms")
PY
