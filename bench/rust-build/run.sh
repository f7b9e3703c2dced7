#!/usr/bin/env bash
# Benchmark: a flake package built by kiln for both targets, against plain
# cargo running the very same build script (same toolchain, zig, flags and
# vendored crates) in the same root filesystem, under bubblewrap, without
# kiln.
#
# Usage (from the repository's root; needs bubblewrap, file, qemu-user-static):
#   bash bench/rust-build/run.sh bench/ripgrep rg      # ripgrep from crates.io
#   bash bench/rust-build/run.sh bench/uv uv           # uv 0.13.7 (~2 h on 2 cores)
#   bash bench/rust-build/run.sh bench/uv uv.aarch64   # one target only (~2 × 1 h)
#   WHEELS="URL_X86 URL_ARM" bash bench/rust-build/run.sh …   # compare sizes with published binaries
#
# Run it on an otherwise idle machine: with scheduling autogroups (the
# default on most distributions), even a `chrt --idle` job in another
# session takes an equal share of the CPU from each build session.
#
# KILN_STORE (default: target/bench-store) keeps the toolchain between runs;
# KILN=PATH runs that kiln binary instead of building this checkout's.
# Prints, per target: kiln's cold build time (the package, its vendor
# directory and its crates deleted first; the toolchain kept), plain
# cargo's time for the same script, their ratio (goal: <= 1.1), then kiln's
# no-op rebuild time (goal: < 1 s), a check (a rebuild with every
# variation of `--vary all`, compared bit for bit; VARY=none checks
# without variations, VARY=skip leaves the check out), `BIN --version`
# (aarch64 under qemu) and the binaries' sizes.
set -euo pipefail
# Fail now, not after the kiln builds, when a tool the peer run needs is
# missing (bwrap is what runs plain cargo).
for tool in bwrap file python3; do
  command -v "$tool" >/dev/null || { echo "run.sh: needs $tool (apt-get install bubblewrap file python3)" >&2; exit 2; }
done
flake=${1:?usage: run.sh FLAKE_DIR PACKAGE}
package=${2:?usage: run.sh FLAKE_DIR PACKAGE}
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${KILN:-}" ]; then
  cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin kiln
fi
kiln=${KILN:-${CARGO_TARGET_DIR:-$root/target}/release/kiln}
export KILN_STORE=${KILN_STORE:-$root/target/bench-store}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }
# since START [DECIMALS]: seconds from START to now.
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.{sys.argv[3]}f}')" "$1" "$(now)" "${2:-1}"; }

# The toolchain is not what is measured: build it and keep it as a root.
"$kiln" build --quiet -o "$work/toolchain" -E '(import <kiln> { }).rust.toolchain' >/dev/null
"$kiln" build --quiet -o "$work/rootfs" -E '(import <kiln> { }).rootfs' >/dev/null
"$kiln" build --quiet -o "$work/zig" -E '(import <kiln> { }).zig' >/dev/null

# Cold: nothing of the package in the store (the gc keeps the roots above).
# GC=0 skips the collection (it waits for every other kiln on the store to
# finish); the build is then cold only if the store holds nothing of the
# package yet, which the count below shows.
if [ "${GC:-1}" = 0 ]; then
  echo "not collected (GC=0): $("$kiln" build --dry-run "$flake#$package" 2>&1 >/dev/null | grep -m1 'would be')"
else
  "$kiln" gc >/dev/null
fi
start=$(now)
"$kiln" build --json -o "$work/result" "$flake#$package" >/dev/null 2>"$work/cold.jsonl"
kiln_cold=$(since "$start")
echo "kiln cold build ($flake#$package, its targets side by side): $kiln_cold s"
# Where the time went, from the build's own events (in seconds since the
# build started, after evaluation): each kind of derivation.
python3 - "$work/cold.jsonl" "$kiln_cold" <<'PY'
import json, sys
events = []
for line in open(sys.argv[1]):
    try:
        events.append(json.loads(line))
    except ValueError:
        pass
spans = {}
for e in events:
    if e.get("event") in ("start", "finish"):
        spans.setdefault(e["drv"], {})[e["event"]] = e
def kind(drv):
    if spans[drv]["start"].get("kind") == "fetch":
        return "downloads"
    if drv.endswith("-vendor.drv"):
        return "vendor directory"
    if spans[drv]["start"].get("kind") == "builtin":
        return "unpacks"
    return "package builds"
groups = {}
for drv, span in spans.items():
    if "start" in span and "finish" in span:
        groups.setdefault(kind(drv), []).append((span["start"]["time"], span["finish"]["time"], drv))
last = max((e["time"] for e in events if "time" in e), default=0.0)
print(f"  outside the build's events (evaluation, links): {float(sys.argv[2]) - last:.1f} s")
for name in ("downloads", "unpacks", "vendor directory", "package builds"):
    group = groups.get(name, [])
    if group:
        first = min(a for a, _, _ in group)
        last = max(b for _, b, _ in group)
        print(f"  {name}: {len(group)}, from {first:.1f} s to {last:.1f} s")
for a, b, drv in sorted(groups.get("package builds", [])):
    print(f"    {drv.rsplit('/', 1)[-1]}: {a:.1f} s to {b:.1f} s ({b - a:.1f} s)")
PY

start=$(now)
"$kiln" build --quiet -o "$work/result" "$flake#$package" >/dev/null
echo "kiln no-op rebuild: $(since "$start" 2) s"

# The check varies every aspect at once (build directory, clocks, time
# zone, locale, umask, host name, cores); VARY=none checks without.
vary=${VARY:-all}
start=$(now)
if [ "$vary" = skip ]; then
  echo "kiln --check: skipped (VARY=skip)"
else
  if [ "$vary" = none ]; then check=(--check); else check=(--vary "$vary"); fi
  if "$kiln" build --quiet "${check[@]}" --no-link "$flake#$package" >/dev/null 2>"$work/check.log"; then
    echo "kiln --check (varying: $vary): identical ($(since "$start") s)"
  else
    echo "kiln --check (varying: $vary): DIFFERENT ($(since "$start") s)"; cat "$work/check.log"
  fi
fi

# Plain cargo: each target's derivation's own builder script, run by
# bubblewrap in the same root filesystem with the store mounted, the same
# environment, and $out in a scratch directory: both side by side, as kiln
# builds them (SEQUENTIAL=1 also times each alone first).
drvs=$("$kiln" build --dry-run "$flake#$package" 2>/dev/null)
store_dir=/nix/store
peer() {
  local drv=$1 dir=$2
  "$kiln" derivation show "$drv" > "$dir/drv.json"
  python3 - "$dir/drv.json" "$dir" <<'PY'
import json, os, shlex, sys
drv = next(iter(json.load(open(sys.argv[1])).values()))
env = dict(drv["env"], out="/build/out", TMPDIR="/build", HOME="/homeless-shelter",
           NIX_BUILD_TOP="/build", NIX_BUILD_CORES=str(os.cpu_count()))
with open(sys.argv[2] + "/env", "w") as f:
    for k, v in env.items():
        f.write(k + "\0" + v + "\0")
with open(sys.argv[2] + "/cmd", "w") as f:
    f.write(shlex.join([drv["builder"], *drv["args"]]))
PY
  local rootfs
  rootfs=$(python3 -c "import json,sys; d=next(iter(json.load(open(sys.argv[1])).values())); print(d['env']['__kilnRootfs'])" "$dir/drv.json")
  local args=()
  while IFS= read -r -d '' k && IFS= read -r -d '' v; do args+=(--setenv "$k" "$v"); done < "$dir/env"
  mkdir -p "$dir/build"
  # --new-session: kiln's builders each start a session, so each is a
  # scheduling autogroup of its own (man 7 sched); the peer does too, so
  # that anything else running on the machine weighs on both sides alike.
  bwrap --new-session --bind "$KILN_STORE/store/${rootfs#"$store_dir"/}" / \
    --ro-bind "$KILN_STORE/store" "$store_dir" --bind "$dir/build" /build \
    --proc /proc --dev /dev --clearenv "${args[@]}" --chdir /build \
    /bin/sh -c "$(cat "$dir/cmd")" > "$dir/log" 2>&1
}
i=0
for drv in $drvs; do
  [ "${SEQUENTIAL:-}" = 1 ] || break
  i=$((i + 1)); mkdir -p "$work/peer$i"
  start=$(now)
  peer "$drv" "$work/peer$i" || { tail -20 "$work/peer$i/log"; exit 1; }
  echo "plain cargo, $(basename "$drv" .drv | cut -d- -f2-): $(since "$start") s"
  rm -rf "$work/peer$i"
done
start=$(now)
i=0; pids=()
for drv in $drvs; do
  i=$((i + 1)); mkdir -p "$work/both$i"
  peer "$drv" "$work/both$i" & pids+=($!)
done
i=0
for pid in "${pids[@]}"; do
  i=$((i + 1))
  wait "$pid" || { echo "plain cargo failed ($work/both$i/log):" >&2; tail -20 "$work/both$i/log" >&2; for p in "${pids[@]}"; do wait "$p" || true; done; exit 1; }
done
cargo_both=$(since "$start")
echo "plain cargo, the same targets side by side: $cargo_both s"
python3 -c "import sys; print(f'ratio kiln cold / plain cargo: {float(sys.argv[1]) / float(sys.argv[2]):.2f} (goal <= 1.1)')" "$kiln_cold" "$cargo_both"

for link in "$work"/result-*; do
  target=${link##*-}
  for bin in "$link"/bin/*; do
    case $target in
      aarch64) version=$(qemu-aarch64-static "$bin" --version | head -1) ;;
      *) version=$("$bin" --version | head -1) ;;
    esac
    echo "$target $(basename "$bin"): $version; $(stat -c %s "$(readlink -f "$bin")") bytes; $(file -L "$bin" | grep -o 'static[a-z-]* linked')"
  done
done
for url in ${WHEELS:-}; do
  curl -sSLo "$work/wheel.zip" "$url"
  python3 - "$work/wheel.zip" "$url" <<'PY'
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
for i in z.infolist():
    if i.filename.endswith("/scripts/uv") or i.filename.endswith("bin/uv"):
        print(f"published {sys.argv[2].rsplit('/', 1)[-1]}: {i.filename} {i.file_size} bytes")
PY
done
