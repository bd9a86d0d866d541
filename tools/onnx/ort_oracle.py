"""The forward oracle: every ONNX model of tests/fixtures/onnx/ (not the hostile ones, nor
the conformance cases, which carry their own expected outputs) through onnxruntime and
through `gan-bias forward` on seeded inputs of batch 3, compared element by element.

Dev-time tool (needs onnxruntime, numpy, safetensors). Run from the repo root after
`cargo build --release`:

    python3 tools/onnx/ort_oracle.py [--backend cpu] [--binary target/release/gan-bias]

Prints one line per model (largest absolute difference, relative to the output's largest
magnitude) and exits non-zero when any model differs by more than 1e-4 of it.
"""

import argparse
import glob
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort
from safetensors.numpy import load_file, save_file

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "onnx")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join("target", "release", "gan-bias"))
    ap.add_argument("--backend", default="cpu")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    args = ap.parse_args()
    models = sorted(m for m in glob.glob(os.path.join(FIXTURES, "*.onnx")) if not os.path.basename(m).startswith("hostile"))
    rng = np.random.default_rng(0)
    worst_all, failed = 0.0, []
    for model in models:
        sess = ort.InferenceSession(model)
        inp = sess.get_inputs()[0]
        shape = [3] + [int(d) for d in inp.shape[1:]]
        if isinstance(inp.shape[0], int) and inp.shape[0] != 3:
            shape[0] = inp.shape[0]
        x = rng.standard_normal(shape).astype(np.float32)
        want = sess.run(None, {inp.name: x})[0]
        with tempfile.TemporaryDirectory() as d:
            i, o = os.path.join(d, "in.safetensors"), os.path.join(d, "out.safetensors")
            save_file({inp.name: x}, i)
            run = subprocess.run([args.binary, "forward", model, "--input", i, "--output", o, "--backend", args.backend],
                                 capture_output=True, text=True)
            if run.returncode != 0:
                print(f"{os.path.basename(model)}: gan-bias refused it: {run.stderr.strip()}")
                failed.append(model)
                continue
            got = next(iter(load_file(o).values()))
        scale = max(float(np.abs(want).max()), 1e-12)
        diff = float(np.abs(got.reshape(want.shape) - want).max()) / scale
        worst_all = max(worst_all, diff)
        print(f"{os.path.basename(model)}: batch {shape[0]}, output {list(want.shape)}, max |difference| / max |output| {diff:.2e}")
        if diff > args.tolerance:
            failed.append(model)
    print(f"{len(models)} models, worst {worst_all:.2e}, {len(failed)} over {args.tolerance}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
