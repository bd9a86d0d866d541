"""The notebook's probe on the world itself, with an ideal classifier and generator: numpy only,
seconds instead of a training run. A design aid for the loadings in `world.py`.

    python tools/demo_world/ideal_probe.py [--images N] [--steps S] [--seeds K]

The ideal generator is the renderer, so the probe can move z directly; the ideal classifier's
logit for each attribute is the logit of how strongly the picture shows it (`world.shown`,
clipped to [EPS, 1 - EPS] as a real classifier saturates). The gradient of the target's logit
is taken by central differences. For every factor-loaded target the script grades the run
as `probe` does (Pearson of the correlation rows, strong signs, planted top 5 in the top 10
by covariance) and prints the margin: the weakest planted top-5 partner's covariance over the
11th largest. A margin near 1 means the verdict hangs on noise; a trained classifier adds
noise of its own, so a world worth training has margins well above 1 for every target.
"""

import argparse

import numpy as np

import world

EPS = 1e-3
N_LABELS = 40000  # codes for the planted correlation, as many as the training set


def ideal_logits(z):
    s = np.clip(world.shown(world.attributes(z)[0]), EPS, 1 - EPS)
    return np.log(s / (1 - s))


def target_gradient(z, target, h=1e-4):
    """d/dz of the mean over images of the target's ideal logit (the notebook's 1/n included)."""
    g = np.zeros_like(z)
    for k in range(z.shape[1]):
        step = np.zeros(z.shape[1])
        step[k] = h
        g[:, k] = (ideal_logits(z + step)[:, target] - ideal_logits(z - step)[:, target]) / (2 * h)
    return g / len(z)


def probe_covariance(z0, target, steps):
    """The notebook's probe (accumulating update, both directions) on the ideal models."""
    start = ideal_logits(z0)
    history = []
    for d in (1, -1):
        z, acc = z0.copy(), 0
        for _ in range(steps):
            history.append(ideal_logits(z))
            acc = acc + target_gradient(z, target)
            z = z + d * acc / steps
    changes = (np.stack(history) - start[None]).reshape(-1, len(world.FEATURES))
    return np.cov(changes.T)


def grade(cov, planted, t):
    """`probe`'s verdict on a covariance matrix for target t: the Pearson correlation of the
    correlation rows, the wrong strong signs, the planted top 5 (entries of at least 0.1) with
    their ranks by covariance, and the margin (see the module's doc)."""
    others = [i for i in range(len(planted)) if i != t]
    sd = np.sqrt(np.maximum(np.diag(cov), 1e-30))
    row = cov[t] / (sd[t] * sd)
    r = np.corrcoef(row[others], planted[t, others])[0, 1]
    wrong = [world.FEATURES[i] for i in others if abs(planted[t, i]) >= 0.2 and np.sign(row[i]) != np.sign(planted[t, i])]
    top5 = [i for i in sorted(others, key=lambda i: -abs(planted[t, i]))[:5] if abs(planted[t, i]) >= 0.1]
    by_cov = sorted(others, key=lambda i: -abs(cov[t, i]))
    ranks = [by_cov.index(i) + 1 for i in top5]
    eleventh = abs(cov[t, by_cov[10]])
    margin = min(abs(cov[t, i]) for i in top5) / eleventh if eleventh > 1e-9 * abs(cov[t, by_cov[0]]) else np.inf
    return r, wrong, list(zip(top5, ranks)), margin


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--seeds", type=int, default=2)
    args = ap.parse_args()
    codes = np.random.default_rng(0).standard_normal((N_LABELS, world.Z_DIM))
    planted = world.planted_correlation(world.attributes(codes)[1])
    loaded = [n for n in world.FEATURES if n in world.LOADINGS]
    print(f"{'target':>18}  seed  Pearson  margin  planted top 5 ranked (by covariance)  wrong signs")
    worst = []
    for seed in range(args.seeds):
        z0 = np.random.default_rng(100 + seed).standard_normal((args.images, world.Z_DIM))
        for name in loaded:
            t = world.F[name]
            r, wrong, top5, margin = grade(probe_covariance(z0, t, args.steps), planted, t)
            ranks = [rank for _, rank in top5]
            worst.append((margin, r, name))
            print(f"{name:>18}  {seed:4d}  {r:7.3f}  {margin:6.2f}  {str(ranks):38}  {wrong}")
    print(f"smallest margin {min(worst)[0]:.2f} ({min(worst)[2]}); smallest Pearson {min(w[1] for w in worst):.3f}")


if __name__ == "__main__":
    main()
