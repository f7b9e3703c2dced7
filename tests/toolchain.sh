#!/usr/bin/env bash
# The toolchain, end to end, from an empty store: the Debian root
# filesystem, zig, the musl std for x86_64 and aarch64, the toolchain
# sysroot, then examples/hello (one crates.io dependency) for both targets.
# Checks that both binaries are static, that the x86_64 one runs here and
# the aarch64 one under qemu-aarch64-static, that neither holds a store
# path, and that the toolchain's builds saw the root filesystem's /usr, not
# the host's.
#
# Usage: bash tests/toolchain.sh [STORE]   (downloads ~320 MB the first time:
# the .debs, the zig wheel, the std's crates; needs `file` and
# qemu-user-static). STORE defaults to a fresh directory under target/.
# Prints each node's build time and size.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
kiln=${KILN:-${CARGO_TARGET_DIR:-$root/target}/release/kiln}
store=${1:-$root/target/toolchain-test-store}
links=$(mktemp -d)
trap 'rm -rf "$links"' EXIT
[ -n "${1:-}" ] || rm -rf "$store"
export KILN_STORE=$store

fail() { echo "toolchain test: $*" >&2; exit 1; }

build() {  # build NAME EXPR: builds, links $links/NAME, reports time and size
  local name=$1 expr=$2 start end
  start=$(date +%s.%N)
  "$kiln" build --quiet -o "$links/$name" -E "$expr" >/dev/null || fail "building $name failed"
  end=$(date +%s.%N)
  printf '%-28s %7.1f s %8s\n' "$name" "$(awk "BEGIN { print $end - $start }")" "$(du -sh --apparent-size "$(readlink -f "$links/$name")" | cut -f1)"
}

r='(import ./recipes { })'
printf '%-28s %9s %8s\n' node time size
build rootfs "$r.rootfs"
build zig "$r.zig"
build std-x86_64 "$r.rust.std.x86_64-unknown-linux-musl"
build std-aarch64 "$r.rust.std.aarch64-unknown-linux-musl"
build toolchain "$r.rust.toolchain"
build hello-x86_64 "(import ./examples/hello { }).x86_64"
build hello-aarch64 "(import ./examples/hello { }).aarch64"

x86=$links/hello-x86_64/bin/hello
arm=$links/hello-aarch64/bin/hello
for bin in "$x86" "$arm"; do
  [ -x "$bin" ] || fail "$bin is missing"
  file -L "$bin" | grep -q "statically linked\|static-pie linked" || fail "not static: $(file -L "$bin")"
  if grep -q -a "/nix/store" "$bin"; then fail "$bin contains a /nix/store path"; fi
done
file -L "$arm" | grep -q "ARM aarch64" || fail "not an aarch64 binary: $(file -L "$arm")"
"$x86" | grep -q "hello from a static x86_64 binary: 42" || fail "the x86_64 binary did not run"
qemu-aarch64-static "$arm" | grep -q "hello from a static aarch64 binary: 42" || fail "the aarch64 binary did not run"

# The sandbox holds for toolchain builds: /usr inside is the root
# filesystem's (Debian sid's rustc is there), not the host's.
probe="derivation { name = \"usr-probe\"; system = \"x86_64-linux\"; builder = \"/bin/sh\"; __kilnRootfs = $r.rootfs; args = [ \"-c\" \"/usr/bin/rustc --version > \$out; test ! -e /usr/bin/nix-instantiate; test ! -e $root\" ]; }"
"$kiln" build --quiet -o "$links/probe" -E "$probe" >/dev/null || fail "the /usr probe failed: host paths are visible"
grep -q "rustc 1.97" "$links/probe" || fail "/usr/bin/rustc inside is not the root filesystem's: $(cat "$links/probe")"

echo "toolchain test: both binaries static, reference-free, and running; the sandbox shows the root filesystem's /usr"
