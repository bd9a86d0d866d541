"""Convert a PyTorch .pth checkpoint to safetensors (dev-time tool, run by hand).

Run from the repo root, in a venv with torch, numpy and safetensors:

    python3 tools/convert_pth.py IN.pth OUT.safetensors

e.g. for the two real checkpoints beside the project (keep the outputs out of the repo):

    python3 tools/convert_pth.py ../shared/fixtures/dcgan_tutorial_digiface_generator.pth \\
        /tmp/real/dcgan_generator.safetensors
    python3 tools/convert_pth.py ../shared/fixtures/coursera_celeba40_classifier.pth \\
        /tmp/real/classifier.safetensors

What it does:
  * torch.load(map_location="cpu", weights_only=True); only if that fails it retries with
    weights_only=False and says so on stderr (that unpickles arbitrary code: trusted files
    only);
  * unwraps {"gen": sd}, {"classifier": sd}, {"netG_state_dict": sd}, {"state_dict": sd};
  * strips a leading `module.` (DataParallel) from every key;
  * saves every tensor, made contiguous, dtype unchanged (so `num_batches_tracked` stays an
    int64 scalar), with metadata `gan_bias.arch` = coursera | dcgan | classifier recognised
    from the key names (`gen.*`, `main.*`, `classifier.*`), plus `gan_bias.source` (the
    input file name) and `gan_bias.wrapper` (the unwrapped dict key, or "none").
"""

import argparse
import os
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gan_models as gm  # noqa: E402


def convert(src, dst):
    sd, wrapper, used_weights_only = gm.load_pth(src)
    arch = gm.detect_arch(sd)
    tensors = {}
    for name, value in sd.items():
        if not isinstance(value, torch.Tensor):
            print(f"skipping non-tensor entry {name!r} ({type(value).__name__})",
                  file=sys.stderr)
            continue
        tensors[name] = value.detach().contiguous()
    meta = {"gan_bias.arch": arch,
            "gan_bias.source": os.path.basename(src),
            "gan_bias.wrapper": wrapper or "none"}
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    save_file(tensors, dst, metadata=meta)
    print(f"{src} -> {dst}: arch {arch}, {len(tensors)} tensors, wrapper {wrapper!r}, "
          f"weights_only={used_weights_only}")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", help="input .pth")
    ap.add_argument("dst", help="output .safetensors")
    args = ap.parse_args()
    convert(args.src, args.dst)


if __name__ == "__main__":
    main()
