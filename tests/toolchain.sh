#!/usr/bin/env bash
# The toolchain, end to end, from an empty store: the Debian root
# filesystem, zig, the musl std for x86_64 and aarch64, the toolchain
# sysroot, then examples/hello (one crates.io dependency) for both targets.
# Checks that both binaries are static, that the x86_64 one runs here and
# the aarch64 one under qemu-aarch64-static, that neither holds a store
# path, and that the toolchain's builds saw the root filesystem's /usr, not
# the host's.
#
# Usage: bash tests/toolchain.sh [STORE]   (downloads ~350 MB the first time:
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

# One build of the whole graph (the two std builds and the two hello builds
# run side by side), with the JSON event stream kept for the timings.
start=$(date +%s)
"$kiln" build --json -o "$links/hello" examples/hello 2> "$links/events.json" >/dev/null \
  || { tail -n 40 "$links/events.json" >&2; fail "building examples/hello failed"; }
echo "built examples/hello (both targets) in $(( $(date +%s) - start )) s"
# examples/hello is a flake: its links are named for the targets.

# Each node: the time its builder ran (JSON "finish" events) and its size.
python3 - "$links/events.json" "$store" <<'PY'
import json, os, sys
events, store = sys.argv[1], sys.argv[2]
interesting = ("rootfs", "zig-", "rust-std-", "rust-toolchain", "hello-")
print(f"{'node':<48} {'seconds':>8} {'MiB':>8}")
for line in open(events):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("event") != "finish" or e.get("kind") == "fetch":
        continue
    name = e["drv"].rsplit("/", 1)[-1].split("-", 1)[1].removesuffix(".drv")
    if not name.startswith(interesting) and "rootfs" not in name:
        continue
    out = [d for d in os.listdir(os.path.join(store, "store")) if d.endswith("-" + name)]
    size = 0
    for d in out:
        for root, _, files in os.walk(os.path.join(store, "store", d)):
            for f in files:
                p = os.path.join(root, f)
                if not os.path.islink(p):
                    size += os.path.getsize(p)
    print(f"{name:<48} {e['elapsed']:8.1f} {size / 2**20:8.1f}")
PY

r='(import ./recipes { })'
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

# zig is also the host's C compiler and archiver where a build script
# wants one: compile, archive and run a C program for x86_64-linux-gnu.
hostcc="derivation { name = \"host-cc-probe\"; system = \"x86_64-linux\"; builder = \"/bin/sh\"; __kilnRootfs = $r.rootfs; zig = $r.zig; args = [ \"-euc\" \"export PATH=/usr/bin:/bin; printf 'int main(void){return 0;}' > /build/h.c; \$zig/bin/x86_64-linux-gnu-cc -o /build/h /build/h.c; \$zig/bin/x86_64-linux-gnu-ar rc /build/libh.a /build/h; /build/h; echo host c ok > \$out\" ]; }"
"$kiln" build --quiet -o "$links/hostcc" -E "$hostcc" >/dev/null || fail "zig as the host's C compiler failed"
grep -q "host c ok" "$links/hostcc" || fail "the host C program printed: $(cat "$links/hostcc")"

# The fixture workspace from its flake.toml (tests/fixtures/workspace): a
# binary with a build script and features, a proc-macro built for the host,
# and a -sys crate whose C the cc crate compiles with zig; both targets.
fx=$root/tests/fixtures/workspace
start=$(date +%s)
"$kiln" build --quiet -o "$links/app" "$fx#app" >/dev/null || fail "building the fixture workspace failed"
echo "built the fixture workspace (both targets) in $(( $(date +%s) - start )) s"
for target in x86_64 aarch64; do
  bin=$links/app-$target/bin/app
  [ -x "$bin" ] || fail "$bin is missing"
  file -L "$bin" | grep -q "statically linked\|static-pie linked" || fail "not static: $(file -L "$bin")"
  if grep -q -a "/nix/store" "$bin"; then fail "$bin contains a /nix/store path"; fi
done
want="HELLO FROM A PROC-MACRO; csum(kiln)=9756647; target=%s-unknown-linux-musl; profile=release"
[ "$("$links/app-x86_64/bin/app")" = "$(printf "$want" x86_64)" ] || fail "the x86_64 app printed: $("$links/app-x86_64/bin/app")"
[ "$(qemu-aarch64-static "$links/app-aarch64/bin/app")" = "$(printf "$want" aarch64)" ] || fail "the aarch64 app did not run as expected"

# Rebuilt, the fixture's binaries are bit for bit the same.
start=$(date +%s)
"$kiln" build --quiet --check --no-link "$fx#app" >/dev/null 2>"$links/check.log" || { cat "$links/check.log" >&2; fail "--check: the fixture's rebuild differs"; }
echo "checked the fixture's binaries (rebuilt, identical) in $(( $(date +%s) - start )) s"

# A build that fails shows the compiler's error for the failing crate.
if broken=$("$kiln" build --no-link "$fx#broken" 2>&1); then fail "the broken package built"; fi
echo "$broken" | grep -q "error: the fixture's \`broken\` feature is on" || fail "the compiler's error is not shown: $broken"
echo "$broken" | grep -q "could not compile \`app\`" || fail "cargo's verdict is not shown: $broken"

# Offline: with the toolchain kept (rooted) and everything else of the
# fixture collected, `kiln fetch` fetches its crates; then the build runs in
# a network namespace with nothing but loopback, `--offline`, and gives
# the same binaries.
for attr in rust.toolchain rootfs zig; do
  "$kiln" build --quiet -o "$links/keep-$attr" -E "(import <kiln> { }).$attr" >/dev/null || fail "cannot root $attr"
done
before=$(readlink -f "$links/app-x86_64")
sums=$(sha256sum "$links"/app-*/bin/app | awk '{print $1}')
rm -f "$links"/app-*
"$kiln" gc >/dev/null || fail "gc failed"
[ ! -e "$before" ] || fail "gc kept the fixture's output"
"$kiln" fetch --quiet "$fx#app" || fail "kiln fetch failed"
start=$(date +%s)
unshare --net "$kiln" build --quiet --offline -o "$links/app" "$fx#app" >/dev/null || fail "the offline build in a network namespace failed"
echo "rebuilt the fixture offline in a network namespace in $(( $(date +%s) - start )) s"
[ "$(sha256sum "$links"/app-*/bin/app | awk '{print $1}')" = "$sums" ] || fail "the offline build gave other binaries"
[ "$("$links/app-x86_64/bin/app")" = "$(printf "$want" x86_64)" ] || fail "the offline x86_64 app printed something else"

echo "toolchain test: hello and the fixture workspace static, reference-free, running and reproducible (--check) for both targets; offline rebuild in a network namespace; a failing build shows the compiler's error; the sandbox shows the root filesystem's /usr; zig compiles C for the host"
