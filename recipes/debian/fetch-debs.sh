#!/bin/sh
# Downloads every .deb of a Debian lock into a directory and checks its
# SHA-256, for testing the root-filesystem builder by hand (recipes fetch
# them with builtin:fetchurl instead):
#
#   recipes/debian/fetch-debs.sh recipes/debian/sid.lock.json /tmp/debs
#   KILN_ROOTFS_DEBS=/tmp/debs cargo test -p kiln-store --lib \
#     builtins::rootfs::tests::real -- --ignored --nocapture
set -eu
lock=$1
dir=$2
mkdir -p "$dir"
python3 - "$lock" <<'PY' | while read -r sha256 url file; do
import json, sys
for p in json.load(open(sys.argv[1]))["packages"]:
    print(p["sha256"], p["urls"][0], p["filename"].rsplit("/", 1)[1])
PY
    [ -f "$dir/$file" ] || curl -sSf -o "$dir/$file" "$url"
    echo "$sha256  $dir/$file" | sha256sum -c --quiet
done
echo "$(ls "$dir" | wc -l) files in $dir"
