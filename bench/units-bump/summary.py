"""The dependency-bump benchmark's report (bench/units-bump/run.sh).

Usage: summary.py COLD_S BUMP_S WHOLE_S LABEL, in the scratch flake that
holds cold.jsonl and bump.jsonl (kiln's --json events). WHOLE_S is 0 when
the whole-project build was skipped.
"""

import json
import re
import sys


def events(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.startswith("{")]


def name(drv):
    return re.sub(r"^/nix/store/[a-z0-9]{32}-", "", drv).removesuffix(".drv")


def main():
    cold_s, bump_s, whole_s = map(float, sys.argv[1:4])
    label = sys.argv[4]
    cold = {
        name(e["drv"]): e["elapsed"]
        for e in events("cold.jsonl")
        if e["event"] == "finish" and e["kind"] == "build"
    }
    built, reused = [], []
    for e in events("bump.jsonl"):
        if e["event"] == "finish" and e["kind"] == "build":
            entry = (name(e["drv"]), e["elapsed"])
            (reused if e.get("reusedFrom") else built).append(entry)
    own = sum(cold.get(n, t) for n, t in built)
    spent = sum(t for _, t in built)
    print(f"cold per-unit build ({label}, {len(cold)} derivations): {cold_s:.1f} s")
    print(
        f"after the bump: {len(built)} built, {len(reused)} reused "
        f"(same inputs' bytes), {bump_s:.1f} s"
    )
    print(f"where the rebuild's time went (the builders' own times add to {spent:.1f} s):")
    for n, t in sorted(built, key=lambda b: -b[1]):
        share = 100 * t / spent if spent else 0
        was = f"cold: {cold[n]:.1f} s" if n in cold else "not in the cold build"
        print(f"  built  {n}: {t:.1f} s ({share:.0f}%; {was})")
    for n, _ in reused:
        print(f"  reused {n}")
    if whole_s:
        print(f"whole-project build of the bumped lock: {whole_s:.1f} s")
    print(f"ratio bump rebuild / cold per-unit build: {bump_s / cold_s:.2f} (goal for ripgrep: <= 0.2)")
    print(
        f"ratio bump rebuild / rebuilt units' own cold times ({own:.1f} s): "
        f"{bump_s / own:.2f} (goal <= 1.1)"
    )
    if whole_s:
        print(f"ratio bump rebuild / whole-project build: {bump_s / whole_s:.2f}")


main()
