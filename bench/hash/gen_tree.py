#!/usr/bin/env python3
"""Writes a deterministic tree of about SIZE_MIB MiB of mixed file sizes.

Usage: gen_tree.py DIR [SIZE_MIB]

Mix (by bytes): a quarter in 20,000-ish small files (256 B – 16 KiB), a
quarter in 1–4 MiB files, half in 64–128 MiB files; a few symlinks and
executables; directories 3 levels deep. Contents come from a seeded PRNG so
every run writes the same tree.
"""
import os
import random
import sys

def write(path, size, rng, block):
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, len(block))
            off = rng.randrange(0, len(block) - n + 1)
            f.write(block[off:off + n])
            left -= n

def main():
    root = sys.argv[1]
    total = int(sys.argv[2]) * 1024 * 1024 if len(sys.argv) > 2 else 1024 * 1024 * 1024
    rng = random.Random(42)
    block = rng.randbytes(4 * 1024 * 1024)
    os.makedirs(root, exist_ok=False)
    budgets = [("small", total // 4, 256, 16 * 1024), ("medium", total // 4, 1 << 20, 4 << 20),
               ("large", total // 2, 64 << 20, 128 << 20)]
    count = 0
    for kind, budget, lo, hi in budgets:
        while budget > 0:
            size = min(budget, rng.randint(lo, hi))
            d = os.path.join(root, kind, f"d{count % 17}", f"e{count % 5}")
            os.makedirs(d, exist_ok=True)
            path = os.path.join(d, f"f{count}")
            write(path, size, rng, block)
            if count % 50 == 0:
                os.chmod(path, 0o755)
            if count % 97 == 0:
                os.symlink(f"f{count}", os.path.join(d, f"link{count}"))
            budget -= size
            count += 1
    print(f"{count} files, {total // (1024 * 1024)} MiB in {root}")

main()
