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
    # A package's library and binary units share a name (uv's `uv`): the
    # cold build's times are matched to the bump's in the order they
    # finished, the library first.
    cold_times = {}
    for e in events("cold.jsonl"):
        if e["event"] == "finish" and e["kind"] == "build":
            cold_times.setdefault(name(e["drv"]), []).append(e["elapsed"])
    built, reused, cold = [], [], {}
    for e in events("bump.jsonl"):
        if e["event"] == "finish" and e["kind"] == "build":
            n = name(e["drv"])
            earlier = cold_times.get(n, [])
            if len(earlier) > 1 or any(b[0] == n for b in built + reused):
                n = f"{n} #{sum(b[0].startswith(n) for b in built + reused) + 1}"
            if earlier:
                cold[n] = earlier.pop(0)
            entry = (n, e["elapsed"])
            (reused if e.get("reusedFrom") else built).append(entry)
    own = sum(cold.get(n, t) for n, t in built)
    spent = sum(t for _, t in built)
    count = sum(len(t) for t in cold_times.values()) + len(cold)
    print(f"cold per-unit build ({label}, {count} derivations): {cold_s:.1f} s")
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
    if not (cold_s and own):
        print("nothing was rebuilt, so there is no ratio: was the cold build cold?")
        return
    print(f"ratio bump rebuild / cold per-unit build: {bump_s / cold_s:.2f} (goal for ripgrep: <= 0.2)")
    print(
        f"ratio bump rebuild / rebuilt units' own cold times ({own:.1f} s): "
        f"{bump_s / own:.2f} (goal <= 1.1)"
    )
    if whole_s:
        print(f"ratio bump rebuild / whole-project build: {bump_s / whole_s:.2f}")


main()
