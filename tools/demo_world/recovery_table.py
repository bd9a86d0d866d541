"""Run `gan-bias probe` on the bundled weights for every feature a planted factor loads on and
print a markdown table of how well each run recovered the planted correlations.

    python tools/demo_world/recovery_table.py [--images N] [--steps S] [--binary PATH]

Reads only the binary's printed verdict line; the grading itself is the binary's.
"""

import argparse
import json
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "gan-bias"))
    args = ap.parse_args()
    with open(os.path.join(ROOT, "weights", "demo-world.json")) as f:
        world = json.load(f)
    loaded = [n for n in world["features"] if any(n in fa["loadings"] for fa in world["factors"])]
    print(f"`gan-bias probe --feature F --images {args.images} --steps {args.steps}` on the bundled weights:\n")
    print("| target | factors | Pearson | signs right (|planted| >= 0.2) | planted top 5 in the top 10 |")
    print("|---|---|---|---|---|")
    ok = 0
    for name in loaded:
        out = subprocess.run([args.binary, "probe", "--feature", name, "--images", str(args.images), "--steps", str(args.steps), "-q"],
                             capture_output=True, text=True, check=True).stdout
        line = next(l for l in out.splitlines() if l.startswith("# planted world"))
        pearson = re.search(r"Pearson (-?[0-9.]+)", line).group(1)
        signs = re.search(r"signs right for (\d+/\d+)", line).group(1)
        top = re.search(r"measured top 10: ([^;]+);", line).group(1)
        factors = ", ".join(f"{fa['name']} {fa['loadings'][name]:+.2f}" for fa in world["factors"] if name in fa["loadings"])
        ok += line.endswith("; recovered")
        print(f"| {name} | {factors} | {pearson} | {signs} | {top} |", flush=True)
    print(f"\n{ok} of {len(loaded)} recovered.")


if __name__ == "__main__":
    main()
