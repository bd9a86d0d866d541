#!/usr/bin/env python3
"""How often one noise seed's interval holds another seed's estimate, on the bundled weights.

For every target a planted factor loads on, runs `gan-bias probe --rank-by correlation` with
noise seeds 0 and 1 (128 images x 10 steps, as tests/demo_world.rs), and counts, over every
other feature, whether seed 1's pooled correlation lies inside seed 0's 95% interval.

Two independent estimates with the same standard error s differ by a normal of standard
error s * sqrt(2), so a 95% interval (+-1.96 s) holds the other estimate with probability
P(|Z| < 1.96 / sqrt(2)) = 0.834, not 0.95: that is the fraction to expect if the intervals are
right. Much less means the intervals are too narrow; much more, too wide.

    cargo build --release && python3 tools/seed_agreement.py [--images 128 --steps 10]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=128)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "gan-bias"))
    a = ap.parse_args()
    world = json.load(open(os.path.join(ROOT, "weights", "demo-world.json")))
    features = world["features"]
    loaded = sorted({name for f in world["factors"] for name, l in f["loadings"].items() if l != 0.0})
    inside = total = 0
    per_target = []
    with tempfile.TemporaryDirectory() as tmp:
        for target in loaded:
            runs = []
            for seed in (0, 1):
                out = os.path.join(tmp, f"{target}-{seed}.json")
                subprocess.run(
                    [a.binary, "probe", "--feature", target, "--images", str(a.images), "--steps", str(a.steps),
                     "--rank-by", "correlation", "--seed", str(seed), "--json", out, "-q"],
                    check=True, stdout=subprocess.DEVNULL)
                runs.append(json.load(open(out))["statistics"]["pooled"]["features"])
            t = features.index(target)
            hits = n = 0
            for i in range(len(features)):
                if i == t:
                    continue
                interval = runs[0][i]["correlation"]["interval"]
                estimate = runs[1][i]["correlation"]["estimate"]
                if interval is None or estimate is None:
                    continue
                n += 1
                hits += interval["low"] <= estimate <= interval["high"]
            per_target.append((target, hits, n))
            inside += hits
            total += n
            print(f"{target:18s} {hits:3d} of {n:3d} ({hits / max(n, 1):.3f})", flush=True)
    print(f"all targets: seed 1's correlation inside seed 0's 95% interval for {inside} of {total} "
          f"(target, feature) pairs: {inside / total:.3f} (0.834 expected for right intervals)")


if __name__ == "__main__":
    sys.exit(main())
