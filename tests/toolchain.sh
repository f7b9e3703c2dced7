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
# (`CMD | grep PATTERN >/dev/null`, not `grep -q`: grep -q stops reading at
# the first match, and CMD writing on gets SIGPIPE, which pipefail turns
# into a failure.)
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
  file -L "$bin" | grep "statically linked\|static-pie linked" >/dev/null || fail "not static: $(file -L "$bin")"
  if grep -q -a "/nix/store" "$bin"; then fail "$bin contains a /nix/store path"; fi
done
file -L "$arm" | grep "ARM aarch64" >/dev/null || fail "not an aarch64 binary: $(file -L "$arm")"
"$x86" | grep "hello from a static x86_64 binary: 42" >/dev/null || fail "the x86_64 binary did not run"
qemu-aarch64-static "$arm" | grep "hello from a static aarch64 binary: 42" >/dev/null || fail "the aarch64 binary did not run"

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

# zig's cache starts from the seed (recipes/zig: libcCache): a rustc link
# for each target and way of linking seeds the cache, builds no libc,
# libunwind or compiler-rt after it, and gives the bytes of a link from an
# empty cache (the probe fails otherwise).
"$kiln" build --quiet -o "$links/zigcache" -E "(import $root/tests/fixtures/zig-cache/probe.nix { kiln = $r; })" >/dev/null \
  || fail "the seeded zig cache probe failed (kiln log shows why)"
echo "rustc links, seeded cache against an empty one: $(tr '\n' ' ' < "$links/zigcache/times")"

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
  file -L "$bin" | grep "statically linked\|static-pie linked" >/dev/null || fail "not static: $(file -L "$bin")"
  if grep -q -a "/nix/store" "$bin"; then fail "$bin contains a /nix/store path"; fi
done
want="HELLO FROM A PROC-MACRO; csum(kiln)=9756647; target=%s-unknown-linux-musl; profile=release"
[ "$("$links/app-x86_64/bin/app")" = "$(printf "$want" x86_64)" ] || fail "the x86_64 app printed: $("$links/app-x86_64/bin/app")"
[ "$(qemu-aarch64-static "$links/app-aarch64/bin/app")" = "$(printf "$want" aarch64)" ] || fail "the aarch64 app did not run as expected"

# Rebuilt, the fixture's binaries are bit for bit the same, even with every
# variation of the surroundings at once (--vary implies --check: another
# build directory, moved clocks, time zone, locale, umask, host name, one
# core instead of all).
start=$(date +%s)
"$kiln" build --quiet --vary all --no-link "$fx#app" >/dev/null 2>"$links/check.log" || { cat "$links/check.log" >&2; fail "--vary all: the fixture's rebuild differs"; }
echo "checked the fixture's binaries (rebuilt with every variation, identical) in $(( $(date +%s) - start )) s"

# One derivation per cargo unit (units = true): `kiln lock` records cargo's
# own calls in a planning build and checks them against cargo's unit graph;
# the per-unit build's binaries are byte-identical to the whole-project
# build's, on both targets; an edit of one member reuses the others' units
# (early cutoff). A changed manifest makes the plan stale.
start=$(date +%s)
fxu=$links/units-flake
rm -rf "$fxu" && cp -r "$fx" "$fxu"
cat >> "$fxu/flake.toml" <<'TOML'

[packages.app-units]
package = "app"
bins = ["app"]
features = ["shout"]
panic = "abort"
lto = "fat"
units = true
TOML
"$kiln" lock "$fxu" 2>"$links/units-lock.log" || { cat "$links/units-lock.log" >&2; fail "kiln lock could not plan the per-unit build"; }
grep -q "planned app-units.aarch64: 10 units (8 rustc calls, 2 build-script runs), 10 dependency edges, all as in cargo's unit graph" "$links/units-lock.log" || fail "the plan is not what cargo's unit graph says: $(cat "$links/units-lock.log")"
"$kiln" build --quiet -o "$links/units" "$fxu#app-units" >/dev/null || fail "the per-unit build of the fixture failed"
for target in x86_64 aarch64; do
  [ "$(sha256sum < "$links/units-$target/bin/app")" = "$(sha256sum < "$links/app-$target/bin/app")" ] || fail "the per-unit $target app differs from the whole-project build's"
done
# The fixture units (`NAME-0.1.0-….drv`, store hash dropped) a --json
# event log says were built (`unit_names "" LOG`) or reused (`unit_names -v
# LOG`), sorted, each followed by a space.
unit_names() {
  grep '"event":"finish"' "$2" | grep ${1:+"$1"} '"reusedFrom":null' | grep -o '[a-z0-9]*-[a-z_-]*-0.1.0-[a-z0-9_-]*\.drv' | sed 's/^[a-z0-9]*-//' | LC_ALL=C sort -u | tr '\n' ' '
}
# Early cutoff: after an edit of app's source, app's units are built again
# and every unit of the other members (csum-sys's build script, its run,
# its library; the proc-macro) is reused, not built; the binary is the
# same.
echo "// an edit of app alone" >> "$fxu/app/src/main.rs"
"$kiln" build --json --explain -o "$links/units" "$fxu#app-units.x86_64" >/dev/null 2>"$links/units-edit.jsonl" || { cat "$links/units-edit.jsonl" >&2; fail "the per-unit build after an edit failed"; }
reused=$(unit_names -v "$links/units-edit.jsonl")
[ "$reused" = "csum-sys-0.1.0-build-script-run-x86_64.drv csum-sys-0.1.0-build_script_build-host.drv csum-sys-0.1.0-csum_sys-x86_64.drv macros-0.1.0-macros-host.drv " ] || fail "after an edit of app, the other members' units were not all reused: $reused"
grep '"event":"finish"' "$links/units-edit.jsonl" | grep 'app-0.1.0-app-x86_64.drv.*"reusedFrom":null' >/dev/null || fail "app's binary unit was not built after its edit"
grep -q 'csum_sys-x86_64`: .*not built: its inputs have the same contents' "$links/units-edit.jsonl" || fail "--explain does not say csum_sys was reused"
[ "$(sha256sum < "$links/units-x86_64/bin/app")" = "$(sha256sum < "$links/app-x86_64/bin/app")" ] || fail "after an edit of a comment, the per-unit app differs"
# A comment in csum-sys's C source: csum-sys's units are built again (their
# source tree changed), give the same outputs (the object's name and the
# build script's output name no store path of the tree), and nothing below
# them is built: app's units and the package are reused.
echo "/* a comment, no code */" >> "$fxu/csum-sys/csum.c"
"$kiln" build --json --explain -o "$links/units" "$fxu#app-units.x86_64" >/dev/null 2>"$links/units-c-edit.jsonl" || { cat "$links/units-c-edit.jsonl" >&2; fail "the per-unit build after a C comment failed"; }
built=$(unit_names "" "$links/units-c-edit.jsonl")
[ "$built" = "csum-sys-0.1.0-build-script-run-x86_64.drv csum-sys-0.1.0-build_script_build-host.drv csum-sys-0.1.0-csum_sys-x86_64.drv " ] || fail "after a comment in csum.c, other units than csum-sys's were built: $built"
grep '"event":"finish"' "$links/units-c-edit.jsonl" | grep 'app-0.1.0-app-x86_64.drv.*"reusedFrom":"' >/dev/null || fail "app's binary unit was built again after a comment in csum.c"
[ "$(sha256sum < "$links/units-x86_64/bin/app")" = "$(sha256sum < "$links/app-x86_64/bin/app")" ] || fail "after a comment in csum.c, the per-unit app differs"
echo "# an edit" >> "$fxu/app/Cargo.toml"
if out=$("$kiln" build --dry-run "$fxu#app-units" 2>&1); then fail "a stale plan was used"; fi
echo "$out" | grep "app-units.[a-z0-9_]*.json is stale (app/Cargo.toml changed): run \`kiln lock\`" >/dev/null || fail "the stale plan's error: $out"
echo "built the fixture one cargo unit at a time (plans checked against cargo's unit graph; binaries identical to the whole-project build's; an edit of app reused the other members' units; a C comment rebuilt only csum-sys's) in $(( $(date +%s) - start )) s"

# A build that fails shows the compiler's error for the failing crate.
if broken=$("$kiln" build --no-link "$fx#broken" 2>&1); then fail "the broken package built"; fi
echo "$broken" | grep "error: the fixture's \`broken\` feature is on" >/dev/null || fail "the compiler's error is not shown: $broken"
echo "$broken" | grep "could not compile \`app\`" >/dev/null || fail "cargo's verdict is not shown: $broken"

# Offline and air-gapped: `kiln fetch --all` fetches every download of the
# fixture's build graph; its sources-only bundle (every .drv, source and
# download the build needs, no other build output) goes into a fresh,
# empty store; there the whole graph (root filesystem, zig, both std
# builds, the fixture) is built `--offline` in a network namespace with
# nothing but loopback, and gives the same binaries.
sums=$(sha256sum "$links"/app-*/bin/app | awk '{print $1}')
"$kiln" fetch --quiet --all "$fx#app" || fail "kiln fetch --all failed"
start=$(date +%s)
"$kiln" export --sources-only -o "$links/sources.kiln" "$links"/app-x86_64 "$links"/app-aarch64 2>/dev/null || fail "kiln export --sources-only failed"
bundle_size=$(stat -c %s "$links/sources.kiln")
echo "exported the fixture's sources ($(( bundle_size / 1048576 )) MiB) in $(( $(date +%s) - start )) s"
fresh="$links/fresh-store"
start=$(date +%s)
KILN_STORE=$fresh "$kiln" import "$links/sources.kiln" >/dev/null 2>&1 || fail "kiln import into a fresh store failed"
echo "imported them into a fresh store in $(( $(date +%s) - start )) s"
start=$(date +%s)
KILN_STORE=$fresh unshare --net "$kiln" build --quiet --offline -o "$links/airgapped" "$fx#app" >/dev/null 2>"$links/airgapped.log" \
  || { tail -n 30 "$links/airgapped.log" >&2; fail "the offline build from the bundle failed"; }
echo "built everything from the bundle offline in a network namespace in $(( $(date +%s) - start )) s"
[ "$(sha256sum "$links"/airgapped-*/bin/app | awk '{print $1}')" = "$sums" ] || fail "the build from the bundle gave other binaries"
[ "$("$links/airgapped-x86_64/bin/app")" = "$(printf "$want" x86_64)" ] || fail "the offline x86_64 app printed something else"
rm -rf "$fresh"

# Verification: the built binary verifies against the flake (offline, from
# the store), also downloaded from a loopback server with its digest; one
# flipped byte fails and says where.
art=$links/artifacts
mkdir -p "$art/flipped"
cp "$links/app-x86_64/bin/app" "$art/app"
python3 -c "import sys; b = bytearray(open(sys.argv[1], 'rb').read()); b[1000] ^= 1; open(sys.argv[2], 'wb').write(b)" "$art/app" "$art/flipped/app"
out=$("$kiln" verify --offline "$art/app" --flake "$fx#app") || fail "kiln verify refused the built binary"
echo "$out" | grep "^identical: .* is \`bin/app\` of app.x86_64" >/dev/null || fail "kiln verify said: $out"
if out=$("$kiln" verify --offline "$art/flipped/app" --flake "$fx#app" 2>&1); then fail "kiln verify accepted a flipped byte"; fi
echo "$out" | grep "first difference at byte 1000" >/dev/null || fail "kiln verify did not say where the flipped byte is: $out"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$art" "$port" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$links"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/app" -o /dev/null && break; sleep 0.1; done
sri=$(python3 -c "import base64, hashlib, sys; print('sha256-' + base64.b64encode(hashlib.sha256(open(sys.argv[1], 'rb').read()).digest()).decode())" "$art/app")
"$kiln" verify --offline "http://127.0.0.1:$port/app" --hash "$sri" --flake "$fx#app" >/dev/null || fail "kiln verify refused the downloaded binary"
if "$kiln" verify --offline "http://127.0.0.1:$port/flipped/app" --hash "$sri" --flake "$fx#app" 2>/dev/null; then fail "kiln verify accepted a download with another digest"; fi

# Provenance: an in-toto statement with a SLSA v1 predicate that validates
# against the schemas (tests/data/schemas), lists every crate of the lock
# among its downloads, and verifies the binary; a flipped byte is no subject.
"$kiln" provenance "$links/app-x86_64" "$links/app-aarch64" --flake "$fx#app" -o "$art/provenance.json" || fail "kiln provenance failed"
/usr/bin/python3 "$root/tests/data/schemas/validate.py" "$art/provenance.json" || fail "the provenance does not validate"
python3 - "$art/provenance.json" "$fx/Cargo.lock" <<'PY' || fail "the provenance misses inputs"
import json, sys, tomllib
statement = json.load(open(sys.argv[1]))
deps = statement["predicate"]["buildDefinition"]["resolvedDependencies"]
uris = {d.get("uri") for d in deps if d["annotations"]["kind"] == "download"}
lock = tomllib.load(open(sys.argv[2], "rb"))
crates = [p for p in lock["package"] if p.get("source", "").startswith("registry+")]
missing = [p["name"] for p in crates
           if f"https://static.crates.io/crates/{p['name']}/{p['name']}-{p['version']}.crate" not in uris]
assert crates and not missing, f"crates missing from the provenance: {missing}"
assert any(u and u.endswith(".deb") for u in uris), "no Debian package listed"
assert any(u and "ziglang" in u for u in uris), "zig is not listed"
assert len(statement["subject"]) == 2, statement["subject"]
print(f"provenance: {len(deps)} inputs, every one of the lock's {len(crates)} crates")
PY
"$kiln" verify --offline --provenance "$art/provenance.json" "$art/app" >/dev/null || fail "kiln verify --provenance refused the binary"
if out=$("$kiln" verify --offline --provenance "$art/provenance.json" "$art/flipped/app" 2>&1); then fail "kiln verify --provenance accepted a flipped byte"; fi
echo "$out" | grep "is not a subject of the provenance" >/dev/null || fail "kiln verify --provenance said: $out"
echo "verified the fixture's binary (file, URL, provenance) and refused a flipped byte"

# The fixture's OCI image (flake.toml's [images.image]): built twice (the
# second time after collecting the first) to the same index digest; umoci
# unpacks each platform, whose binary runs (arm64 under qemu); kiln verify
# accepts the layout and refuses one built with another label.
"$kiln" build --quiet -o "$links/oci" "$fx#image" >/dev/null || fail "building the fixture's image failed"
digest() { python3 -c "import json, sys; print(json.load(open(sys.argv[1] + '/index.json'))['manifests'][0]['digest'])" "$1"; }
first=$(digest "$links/oci-image")
cp -rL "$links/oci-image" "$art/image"
rm -f "$links/oci-image"
"$kiln" gc >/dev/null || fail "gc failed"
"$kiln" build --quiet -o "$links/oci" "$fx#image" >/dev/null || fail "rebuilding the fixture's image failed"
[ "$(digest "$links/oci-image")" = "$first" ] || fail "the rebuilt image has another digest"
for platform in amd64 arm64; do
  umoci unpack --rootless --image "$links/oci-image:latest-$platform" "$art/unpacked-$platform" >/dev/null || fail "umoci cannot unpack $platform"
done
[ "$("$art/unpacked-amd64/rootfs/app")" = "$(printf "$want" x86_64)" ] || fail "the image's amd64 app printed something else"
[ "$(qemu-aarch64-static "$art/unpacked-arm64/rootfs/app")" = "$(printf "$want" aarch64)" ] || fail "the image's arm64 app printed something else"
"$kiln" verify --offline "$art/image" --flake "$fx#image" >/dev/null || fail "kiln verify refused the image"
cp -r "$fx" "$art/relabelled"
sed -i 's/"org.opencontainers.image.version" = "0.1.0"/"org.opencontainers.image.version" = "0.1.1"/' "$art/relabelled/flake.toml"
"$kiln" build --quiet -o "$art/relabelled/result" "$art/relabelled#image" >/dev/null || fail "building the relabelled image failed"
if out=$("$kiln" verify --offline "$art/relabelled/result-image" --flake "$fx#image" 2>&1); then fail "kiln verify accepted an image with another label"; fi
echo "$out" | grep "image: the build.s is $first, the other.s sha256:" >/dev/null || fail "kiln verify did not name the image digests: $out"
echo "built the fixture's image reproducibly, unpacked and ran both platforms, verified it and refused a relabelled one"

# The same image pushed by kiln to Debian's docker-registry on loopback:
# skopeo sees the same index digest, a second push writes nothing (the
# registry's access log counts the requests), and podman (with runc) pulls
# and runs it. `kiln image export` gives an archive podman loads and runs.
regdir="$art/registry"
mkdir -p "$regdir"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' "$regdir/data" "$port" > "$regdir/config.yml"
docker-registry serve "$regdir/config.yml" > "$regdir/log" 2>&1 &
registry_pid=$!
trap 'kill $server $registry_pid 2>/dev/null || true; rm -rf "$links"' EXIT
for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
ref="127.0.0.1:$port/kiln/app"
pushed=$("$kiln" image push --quiet --insecure "$links/oci-image" "$ref") || fail "kiln image push failed"
[ "$pushed" = "$ref@$first" ] || fail "kiln image push printed $pushed, not $ref@$first"
raw_digest=$(skopeo inspect --raw --tls-verify=false "docker://$ref:latest" | sha256sum | cut -d' ' -f1)
[ "sha256:$raw_digest" = "$first" ] || fail "the registry's image index is sha256:$raw_digest, not $first"
writes() { grep -cE '"(POST|PUT|PATCH) /v2/' "$regdir/log" || true; }
before=$(writes)
"$kiln" image push --quiet --insecure "$links/oci-image" "$ref" >/dev/null || fail "the second kiln image push failed"
[ "$(writes)" = "$before" ] || fail "the second push wrote $(( $(writes) - before )) times"
"$kiln" verify --offline --insecure "docker://$ref:latest" --flake "$fx#image" >/dev/null 2>&1 || fail "kiln verify refused the pushed image"
"$kiln" verify --offline --insecure "docker://$ref@$first" --flake "$fx#image" >/dev/null 2>&1 || fail "kiln verify refused the pushed image by digest"
"$kiln" image push --quiet --insecure "$art/relabelled/result-image" "$ref:relabelled" >/dev/null || fail "pushing the relabelled image failed"
if out=$("$kiln" verify --offline --insecure "docker://$ref:relabelled" --flake "$fx#image" 2>&1); then fail "kiln verify accepted the relabelled image from the registry"; fi
echo "$out" | grep 'config.Labels.org.opencontainers.image.version: "0.1.0" vs "0.1.1"' >/dev/null || fail "kiln verify did not name the changed label: $out"
podman_dir="$art/podman"
mkdir -p "$podman_dir"
printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' > "$podman_dir/containers.conf"
podman() { CONTAINERS_CONF="$podman_dir/containers.conf" command podman --root "$podman_dir/root" --runroot "$podman_dir/run" --storage-driver vfs "$@"; }
version=$(podman run --rm --network none --tls-verify=false "$ref:latest" --version 2>"$podman_dir/pull.log") \
  || { cat "$podman_dir/pull.log" >&2; fail "podman could not run the pushed image"; }
[ "$version" = "app 0.1.0" ] || fail "podman ran the pushed image and it printed $version"
"$kiln" image export --platform linux/amd64 --tag localhost/kiln-app:exported -o "$art/app.tar" "$links/oci-image" 2>/dev/null || fail "kiln image export failed"
podman load -q -i "$art/app.tar" >/dev/null || fail "podman could not load the exported archive"
[ "$(podman run --rm --network none localhost/kiln-app:exported)" = "$(printf "$want" x86_64)" ] || fail "the exported image's app printed something else"
echo "pushed the image to docker-registry (same digest, nothing written the second time, verified from the registry, a relabelled one refused); podman ran it (app --version) and the exported docker archive"

# Git dependencies (tests/fixtures/git-dep): the app depends on greet,
# which depends on greet-core (a workspace in one repository, its members
# inheriting from it) and greet-core on a crates.io crate. The repository
# is served by `git daemon` on loopback. Without hashes, evaluation names
# each git crate and the lines to add; with a wrong hash, the fetch fails
# and names the right one; with the fixture's hashes, both targets build,
# run and rebuild identically, also one cargo unit at a time.
gd=$links/git-dep
commit=$(bash "$root/tests/fixtures/git-dep/make-repo.sh" "$gd/served")
[ "$commit" = 233e6e3db0d38a372e3d8348afa4ef05afd370f0 ] || fail "the fixture repository's commit is $commit, not the one its Cargo.lock names"
gitport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
git daemon --export-all --reuseaddr --base-path="$gd/served" --listen=127.0.0.1 --port="$gitport" 2>"$gd/daemon.log" &
gitd=$!
trap 'kill $server $registry_pid $gitd 2>/dev/null || true; rm -rf "$links"' EXIT
for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$gitport") 2>/dev/null && break; sleep 0.1; done
cp -r "$root/tests/fixtures/git-dep/app" "$gd/app"
sed -i "s/@PORT@/$gitport/" "$gd/app/Cargo.toml" "$gd/app/Cargo.lock"
cp "$gd/app/flake.toml" "$gd/flake.toml"
sed -i '/^\[packages.git-app.git-hashes\]/,$d' "$gd/app/flake.toml"
if out=$("$kiln" build --no-link "$gd/app" 2>&1); then fail "git dependencies without hashes were built"; fi
echo "$out" | grep "git-app: Cargo.lock names git dependencies that have no hash:" >/dev/null || fail "no error for the missing git hashes: $out"
echo "$out" | grep "greet-core 0.3.0 from git+git://127.0.0.1:$gitport/greet?rev=233e6e3db0d3#$commit" >/dev/null || fail "the error does not name greet-core: $out"
echo "$out" | grep '^  "greet-0.3.0" = "sha256-' >/dev/null || fail "the error does not say what to add: $out"
sed 's|^"greet-0.3.0" = .*|"greet-0.3.0" = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="|' "$gd/flake.toml" > "$gd/app/flake.toml"
if out=$("$kiln" build --no-link "$gd/app" 2>&1); then fail "a git dependency with a wrong hash was built"; fi
right=$(grep '^"greet-0.3.0"' "$gd/flake.toml" | cut -d'"' -f4)
echo "$out" | grep "hash mismatch in fixed output \`/nix/store/[a-z0-9]*-greet-0.3.0-git\`" >/dev/null || fail "no hash mismatch for greet: $out"
echo "$out" | grep -F "got:    $right" >/dev/null || fail "the mismatch does not name the right hash ($right): $out"
cp "$gd/flake.toml" "$gd/app/flake.toml"
start=$(date +%s)
"$kiln" build --quiet -o "$links/git-app" "$gd/app" >/dev/null 2>"$gd/build.log" || { tail -n 30 "$gd/build.log" >&2; fail "the fixture with git dependencies did not build"; }
for target in x86_64 aarch64; do
  bin=$links/git-app-$target/bin/git-app
  file -L "$bin" | grep "statically linked\|static-pie linked" >/dev/null || fail "not static: $(file -L "$bin")"
  if grep -q -a "/nix/store" "$bin"; then fail "$bin contains a /nix/store path"; fi
done
[ "$("$links/git-app-x86_64/bin/git-app")" = "hello kiln from git (4 letters)!" ] || fail "the x86_64 git-app printed: $("$links/git-app-x86_64/bin/git-app")"
[ "$(qemu-aarch64-static "$links/git-app-aarch64/bin/git-app")" = "hello kiln from git (4 letters)!" ] || fail "the aarch64 git-app did not run as expected"
"$kiln" build --quiet --check --no-link "$gd/app" >/dev/null 2>"$gd/check.log" || { cat "$gd/check.log" >&2; fail "--check: the git fixture's rebuild differs"; }
"$kiln" provenance "$links/git-app-x86_64" --flake "$gd/app#git-app" -o "$gd/provenance.json" || fail "kiln provenance failed for the git fixture"
python3 - "$gd/provenance.json" "git://127.0.0.1:$gitport/greet" "$commit" <<'PY' || fail "the provenance does not list the git crates"
import json, sys
deps = json.load(open(sys.argv[1]))["predicate"]["buildDefinition"]["resolvedDependencies"]
git = sorted(d["name"] for d in deps
             if d.get("uri") == sys.argv[2] and d["digest"].get("gitCommit") == sys.argv[3])
assert git == ["greet-0.3.0-git", "greet-core-0.3.0-git"], git
PY
cat >> "$gd/app/flake.toml" <<'TOML'

[packages.git-app-units]
bins = ["git-app"]
units = true
TOML
sed -n '/^\[packages.git-app.git-hashes\]/,$p' "$gd/flake.toml" | sed 's/packages.git-app.git-hashes/packages.git-app-units.git-hashes/' >> "$gd/app/flake.toml"
"$kiln" lock "$gd/app" 2>"$gd/lock.log" || { cat "$gd/lock.log" >&2; fail "kiln lock could not plan the git fixture"; }
"$kiln" build --quiet -o "$links/git-units" "$gd/app#git-app-units.x86_64" >/dev/null 2>"$gd/units.log" || { tail -n 30 "$gd/units.log" >&2; fail "the per-unit build of the git fixture failed"; }
cmp "$links/git-units-x86_64/bin/git-app" "$links/git-app-x86_64/bin/git-app" || fail "the per-unit git-app differs from the whole-project build's"
echo "built the fixture with git dependencies (a missing hash named, a wrong one refused; both targets, --check, provenance, per unit) in $(( $(date +%s) - start )) s"

echo "toolchain test: hello and the fixture workspace static, reference-free, running and reproducible (--vary all) for both targets, and the same when built one cargo unit at a time; git dependencies pinned by a hash; an offline rebuild of everything from a sources-only bundle in a fresh store, in a network namespace; verify and provenance; an OCI image, pushed to a registry and run by podman; a failing build shows the compiler's error; the sandbox shows the root filesystem's /usr; zig compiles C for the host"
