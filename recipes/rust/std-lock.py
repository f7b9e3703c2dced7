#!/usr/bin/env python3
"""Writes std-crates.json: the crates.io packages of the Rust standard
library's own Cargo.lock (library/Cargo.lock in Debian's rust-src), which
the std recipe vendors as fixed-output fetches.

Usage: recipes/rust/std-lock.py PATH/TO/library/Cargo.lock > recipes/rust/std-crates.json
"""
import json
import sys
import tomllib

with open(sys.argv[1], "rb") as f:
    lock = tomllib.load(f)
crates = [
    {"name": p["name"], "version": p["version"], "sha256": p["checksum"]}
    for p in lock["package"]
    if p.get("source", "").startswith("registry+") and "checksum" in p
]
crates.sort(key=lambda c: (c["name"], c["version"]))
json.dump({"rustSrc": sys.argv[2] if len(sys.argv) > 2 else None, "crates": crates}, sys.stdout, indent=2)
print()
