#!/usr/bin/env bash
# Benchmark: an OCI image of a flake's static binaries (both targets), built
# by `builtin:oci-image-v1` through the recipe library's `ociImage`.
# Prints the image node's build time (best of 5 rebuilds by `--check`,
# each compared bit for bit with the first build), and the image's size
# (every blob) against the binaries' size (the overhead bytes), then the
# time and requests of pushing it to a loopback registry against skopeo's.
#
# Usage (from the repository's root): bash bench/oci/run.sh [FLAKE PACKAGE BIN]
#   default: examples/hello hello hello. KILN_STORE defaults to
#   target/bench-store; KILN=PATH runs that kiln binary.
set -euo pipefail
flake=${1:-examples/hello}
package=${2:-hello}
bin=${3:-hello}
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${KILN:-}" ]; then
  cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin kiln
fi
kiln=${KILN:-${CARGO_TARGET_DIR:-$root/target}/release/kiln}
export KILN_STORE=${KILN_STORE:-$root/target/bench-store}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$kiln" build --quiet -o "$work/bin" "$flake#$package" >/dev/null
x86=$(readlink -f "$work/bin-x86_64")
arm=$(readlink -f "$work/bin-aarch64")
logical() { echo "/nix/store/$(basename "$1")"; }
cat > "$work/image.nix" <<NIX
(import <kiln> { }).ociImage {
  name = "$package";
  entrypoint = [ "/$bin" ];
  workingDir = "/io";
  platforms = {
    amd64 = [ { source = "\${builtins.storePath "$(logical "$x86")"}/bin/$bin"; target = "/$bin"; } ];
    arm64 = [ { source = "\${builtins.storePath "$(logical "$arm")"}/bin/$bin"; target = "/$bin"; } ];
  };
}
NIX
"$kiln" build --quiet -o "$work/image" "$work/image.nix" >/dev/null
best=
for _ in 1 2 3 4 5; do
  start=$(date +%s.%N)
  "$kiln" build --quiet --check --no-link "$work/image.nix" >/dev/null
  took=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$start" "$(date +%s.%N)")
  if [ -z "$best" ] || python3 -c "import sys; sys.exit(not float(sys.argv[1]) < float(sys.argv[2]))" "$took" "$best"; then best=$took; fi
done
image_bytes=$(find -L "$work/image/blobs" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
bin_bytes=$(( $(stat -c %s "$x86/bin/$bin") + $(stat -c %s "$arm/bin/$bin") ))
echo "image node build time (kiln build --check of the image alone, identical each time; best of 5): $best s"
echo "binaries: $bin_bytes bytes; image blobs: $image_bytes bytes; overhead: $(( image_bytes - bin_bytes )) bytes (gzip makes the layers smaller than the binaries)"
python3 - "$work/image/blobs/sha256" "$bin_bytes" <<'PY'
import gzip, os, sys
blobs, binaries = sys.argv[1], int(sys.argv[2])
layers = meta = tar = 0
for name in os.listdir(blobs):
    data = open(os.path.join(blobs, name), "rb").read()
    if data[:2] == b"\x1f\x8b":
        layers += len(data)
        tar += len(gzip.decompress(data))
    else:
        meta += len(data)
print(f"layers: {layers} bytes gzipped, {tar} bytes as tar ({tar - binaries} bytes of tar headers and padding over the binaries); "
      f"configs, manifests and index: {meta} bytes")
PY
echo "index digest: $(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['manifests'][0]['digest'])" "$work/image/index.json")"

# Pushing: kiln image push against skopeo copy --all (the peer), each to a
# docker-registry of its own on loopback (fresh storage, answered one
# request first), cold (every blob goes up) and again (nothing should).
# Needs docker-registry and skopeo.
if command -v docker-registry >/dev/null && command -v skopeo >/dev/null; then
  # start_registry runs in a command substitution: its pids go to files.
  trap 'kill $(cat "$work"/*.pid 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT
  start_registry() { # name; prints the port
    local port
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    printf 'version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' "$work/$1" "$port" > "$work/$1.yml"
    docker-registry serve "$work/$1.yml" > "$work/$1.log" 2>&1 &
    echo $! > "$work/$1.pid"
    for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/v2/").read()' "$port"
    echo "$port"
  }
  kiln_port=$(start_registry kiln-registry)
  skopeo_port=$(start_registry skopeo-registry)
  timed() { local start; start=$(date +%s.%N); "$@" >/dev/null 2>&1; python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$start" "$(date +%s.%N)"; }
  count() { grep -cE "\"$2 /v2/" "$work/$1.log" || true; }
  row() { # label, registry name, then the command
    local label=$1 log=$2 w r took; shift 2
    w=$(count "$log" '(POST|PUT|PATCH)'); r=$(count "$log" '[A-Z]+')
    took=$(timed "$@")
    echo "$label: $took s, $(( $(count "$log" '[A-Z]+') - r )) requests, $(( $(count "$log" '(POST|PUT|PATCH)') - w )) writes" >&2
    echo "$took"
  }
  k1=$(row "kiln image push, cold" kiln-registry "$kiln" image push --insecure "$work/image" "127.0.0.1:$kiln_port/$package")
  k2=$(row "kiln image push, again" kiln-registry "$kiln" image push --insecure "$work/image" "127.0.0.1:$kiln_port/$package")
  s1=$(row "skopeo copy --all, cold" skopeo-registry skopeo copy --all --dest-tls-verify=false "oci:$work/image:latest" "docker://127.0.0.1:$skopeo_port/$package:latest")
  s2=$(row "skopeo copy --all, again" skopeo-registry skopeo copy --all --dest-tls-verify=false "oci:$work/image:latest" "docker://127.0.0.1:$skopeo_port/$package:latest")
  python3 -c "import sys; k1, k2, s1, s2 = map(float, sys.argv[1:]); print(f'push ratio kiln / skopeo: cold {k1 / s1:.2f}, again {k2 / s2:.2f}')" "$k1" "$k2" "$s1" "$s2"
fi
