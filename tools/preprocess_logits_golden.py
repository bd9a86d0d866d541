"""Reference logits of the bundled classifier on the committed audit images (dev-time only).

Run from the repo root in a venv with torchvision (which brings torch) and Pillow:

    python3 tools/preprocess_logits_golden.py

For every image that tests/fixtures/audit_images/list_attr_celeba.txt lists (the JPEGs and
PNGs tools/preprocess_golden.py made: CelebA's 178 x 218 JPEGs with 4:2:0 and 4:4:4 chroma
and in grey, an RGBA PNG to downscale, a grey PNG to upscale), in the file's order: the
notebook's transform

    Compose([Resize(64), CenterCrop(64), ToTensor(), Normalize((0.5,)*3, (0.5,)*3)])

of Image.open(path).convert("RGB"), then the bundled classifier
(weights/demo_classifier.safetensors, its f16 weights as float32) in PyTorch, eval mode.

Writes tests/fixtures/audit_images/logits_golden.json, {file: [40 logits]} in the
classifier's feature order, which tests/dataset/logits.rs compares with gan-bias reading the
same files (the transform, then the classifier on the CPU and GPU backends).
"""

import json
import os
import sys

import torch
from PIL import Image
from torchvision import transforms

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from gan_models import bundled_classifier  # noqa: E402

DIR = os.path.join(ROOT, "tests", "fixtures", "audit_images")
NOTEBOOK = transforms.Compose(
    [
        transforms.Resize(64),
        transforms.CenterCrop(64),
        transforms.ToTensor(),
        transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    ]
)


def listed_files():
    with open(os.path.join(DIR, "list_attr_celeba.txt")) as f:
        lines = [line.split() for line in f if line.strip()]
    files = [row[0] for row in lines[2:]]
    assert len(files) == int(lines[0][0]), "the count line is the number of images"
    return files


def main():
    torch.set_num_threads(2)
    files = listed_files()
    x = torch.stack([NOTEBOOK(Image.open(os.path.join(DIR, name)).convert("RGB")) for name in files])
    clf = bundled_classifier(os.path.join(ROOT, "weights", "demo_classifier.safetensors"))
    with torch.no_grad():
        logits = clf(x).view(len(files), -1)
    out = {name: [float(v) for v in row] for name, row in zip(files, logits)}
    path = os.path.join(DIR, "logits_golden.json")
    with open(path, "w") as f:
        f.write("{\n" + ",\n".join(f" {json.dumps(k)}: {json.dumps(v)}" for k, v in out.items()) + "\n}\n")
    for name, row in out.items():
        print(f"{name}: min |logit| {min(abs(v) for v in row):.4f}, max |logit| {max(abs(v) for v in row):.3f}")
    print("wrote", os.path.relpath(path, ROOT))


if __name__ == "__main__":
    main()
