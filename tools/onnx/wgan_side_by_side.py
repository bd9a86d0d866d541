"""Times the notebook-sized probe of a WGAN-GP-style generator exported to ONNX in gan-bias,
and of the same module in PyTorch eager, on the same machine, alternated.

Dev-time tool (PyTorch is never a build or test dependency). Run from the repo root, after
`cargo build --release`, in a venv with torch, onnx, numpy and safetensors:

    python3 tools/onnx/wgan_side_by_side.py --reps 3 --out wgan_side_by_side.json

The generator (seeded, random weights and BatchNorm statistics): Linear(64 -> 256 x 4 x 4),
BatchNorm, ReLU, then four times nearest upsampling by 2, a 3x3 convolution, BatchNorm and
ReLU (256 -> 128 -> 64 -> 32 channels), the last 3x3 convolution to RGB and Tanh: 64 x 64
images. It is exported with the TorchScript exporter (a dynamic batch) into a temporary
folder. The classifier is the notebook's (`../shared/fixtures`, or `--classifier`), a .pth
both tools read. Noise `torch.manual_seed(0); torch.randn(256, 64)` (gan-bias `--seed 0`
draws the same); target Male; 30 steps each way; the notebook's accumulating update. Each
timing covers the probe and the covariance with the models loaded (gan-bias's own
`probe_seconds`).
"""

import argparse
import os
import sys
import tempfile

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from bench_pytorch import build  # noqa: E402
from real_reference import CLF_FILE  # noqa: E402
from side_by_side import alternate  # noqa: E402


class WganGenerator(nn.Module):
    def __init__(self, z=64, base=256):
        super().__init__()
        self.base = base
        self.fc = nn.Linear(z, base * 16)
        layers = [nn.BatchNorm2d(base), nn.ReLU()]
        ch = base
        for _ in range(3):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(ch, ch // 2, 3, 1, 1), nn.BatchNorm2d(ch // 2), nn.ReLU()]
            ch //= 2
        layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(ch, 3, 3, 1, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.z_dim = z

    def forward(self, z):
        return self.net(self.fc(z).view(-1, self.base, 4, 4))


def wgan_generator():
    torch.manual_seed(5)
    g = WganGenerator()
    with torch.no_grad():
        for m in g.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn_like(m.running_mean) * 0.1)
                m.running_var.copy_(torch.rand_like(m.running_var) + 0.5)
    return g.eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--classifier", default=os.path.join("..", "shared", "fixtures", CLF_FILE))
    ap.add_argument("--binary", default=os.path.join("target", "release", "gan-bias"))
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--out")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    gen = wgan_generator()
    clf, _ = build(args.classifier)
    with tempfile.TemporaryDirectory() as d:
        onnx_path = os.path.join(d, "wgan.onnx")
        torch.onnx.export(gen, (torch.randn(2, 64),), onnx_path, dynamo=False, opset_version=17, input_names=["z"],
                          output_names=["image"], dynamic_axes={"z": {0: "batch"}, "image": {0: "batch"}})
        alternate(args, gen, clf, onnx_path, args.classifier, {"generator": "WganGenerator (tools/onnx/wgan_side_by_side.py)", "classifier": args.classifier})

if __name__ == "__main__":
    main()
