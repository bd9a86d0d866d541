"""Dev-time check, in PyTorch, of how well the trained demo weights recover the planted
correlations: check_recovery.py [--work DIR] [--generator FILE] [--classifier FILE] [--images N] [--steps S].

Runs the notebook's probe for every feature a factor loads on and prints, per target, the
Pearson correlation of the measured correlation row with the planted one, the wrong signs
(|planted| >= 0.2) and the planted top 5 (entries of at least 0.1) missing from the measured
top 10, ranked by covariance with the target as `gan-bias probe` reports them.
"""

import argparse
import os

import numpy as np
import torch

import train
import world
from ideal_probe import grade
from gan_models import Classifier, CourseraGenerator, probe_notebook


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default=os.path.join(train.ROOT, "target", "demo_world"))
    ap.add_argument("--generator", default="generator.pt")
    ap.add_argument("--classifier", default="classifier_tuned.pt")
    ap.add_argument("--images", type=int, default=24)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", default=None, help="comma-separated targets; print their full rows")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    _, labels, _ = train.load_data(args.work)
    planted = world.planted_correlation(labels[:train.N_TRAIN])
    g = CourseraGenerator(z_dim=world.Z_DIM)
    g.load_state_dict(torch.load(os.path.join(args.work, args.generator)))
    g.eval()
    c = Classifier(n_classes=40)
    c.load_state_dict(torch.load(os.path.join(args.work, args.classifier)))
    c.eval()
    torch.manual_seed(0)
    noise = torch.randn(args.images, world.Z_DIM)
    load = world.loading_matrix()
    passed = 0
    targets = [i for i in range(40) if np.any(load[i] != 0)]
    if args.only:
        targets = [world.F[n] for n in args.only.split(",")]
    for t in targets:
        r = probe_notebook(g, c, noise, t, args.steps)
        changes = (r["history"] - r["start"][None]).reshape(-1, 40)
        cov = np.cov(changes.T)
        p, wrong, top5, _ = grade(cov, planted, t)
        missing = [world.FEATURES[i] for i, rank in top5 if rank > 10]
        if args.only:
            sd = np.sqrt(np.diag(cov))
            row = cov[t] / (sd[t] * sd)
            for i in sorted((i for i in range(40) if i != t), key=lambda i: -abs(row[i])):
                print(f"    {world.FEATURES[i]:>18} measured {row[i]:+.3f} planted {planted[t, i]:+.3f} cov {cov[t, i]:+.4f} var {cov[i, i]:.4f}")
        ok = p >= 0.8 and not wrong and not missing
        passed += ok
        print(f"{world.FEATURES[t]:>18} {'ok ' if ok else 'BAD'} pearson {p:.3f} wrong {wrong} missing {missing} "
              f"logit {r['start'][:, t].mean():.2f}->{r['history'][args.steps - 1][:, t].mean():.2f}/{r['history'][-1][:, t].mean():.2f}", flush=True)
    print(f"{passed}/{len(targets)} recovered")


if __name__ == "__main__":
    main()
