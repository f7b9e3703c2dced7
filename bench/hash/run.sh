#!/usr/bin/env bash
# Benchmark: `kiln hash path` vs `nix-hash --type sha256 --base32` on the
# same ~1 GiB tree of mixed file sizes, in the same run.
#
# Usage: bench/hash/run.sh [SIZE_MIB]   (from the repository root; needs nix-bin
# and hyperfine: apt-get install nix-bin hyperfine)
# Prints each tool's mean time (page cache warm, 5 runs after 1 warm-up) and
# the ratio nix-hash / kiln (above 1 means kiln is faster).
set -euo pipefail
size=${1:-1024}
root=$(cd "$(dirname "$0")/../.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin kiln
kiln=${CARGO_TARGET_DIR:-$root/target}/release/kiln
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$root/bench/hash/gen_tree.py" "$work/tree" "$size"
# Write the new tree back before timing: otherwise the kernel's writeback of
# 1 GiB of dirty pages runs during the first runs and takes CPU from both.
sync
export NIX_CONFIG=$'build-users-group =\nsubstituters =' XDG_CACHE_HOME="$work/cache"
a=$("$kiln" hash path --base32 "$work/tree")
b=$(nix-hash --type sha256 --base32 "$work/tree")
[ "$a" = "$b" ] || { echo "hashes differ: kiln $a, nix-hash $b" >&2; exit 1; }
echo "both: sha256:$a"
hyperfine --warmup 1 --runs 5 --export-json "$work/h.json" \
  -n kiln "$kiln hash path --base32 $work/tree" \
  -n nix-hash "nix-hash --type sha256 --base32 $work/tree" >&2
python3 - "$work/h.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
k, n = r["kiln"]["mean"], r["nix-hash"]["mean"]
print(f"kiln hash path: {k:.3f} s   nix-hash: {n:.3f} s   ratio nix-hash/kiln: {n / k:.2f}x")
PY
