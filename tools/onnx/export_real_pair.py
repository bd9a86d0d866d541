"""Exports the real checkpoint pair of ../shared/fixtures to ONNX with both PyTorch exporters,
into a folder outside the repository (dev-time; needs torch, onnx, onnxscript), for the
comparison in BENCHMARKS.md: the probe from the .onnx files against the probe from the .pth.

    python3 tools/onnx/export_real_pair.py OUT_DIR
"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from gan_models import Classifier, DcganGenerator, load_pth  # noqa: E402

SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "fixtures")


def loaded(module, file):
    sd, _, _ = load_pth(os.path.join(SHARED, file))
    missing, unexpected = module.load_state_dict(sd, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
    return module.eval()


def main(out):
    os.makedirs(out, exist_ok=True)
    gen = loaded(DcganGenerator(nz=100), "dcgan_tutorial_digiface_generator.pth")
    clf = loaded(Classifier(n_classes=40), "coursera_celeba40_classifier.pth")
    z = torch.randn(2, 100)
    with torch.no_grad():
        images = gen(z)
    for name, model, x, (i, o) in [("gen", gen, z, ("z", "image")), ("clf", clf, images, ("image", "logits"))]:
        torch.onnx.export(model, (x,), os.path.join(out, f"{name}_ts.onnx"), dynamo=False, opset_version=17,
                          input_names=[i], output_names=[o], dynamic_axes={i: {0: "batch"}, o: {0: "batch"}})
        prog = torch.onnx.export(model, (x,), dynamic_shapes=({0: torch.export.Dim("batch")},), dynamo=True)
        prog.save(os.path.join(out, f"{name}_dynamo.onnx"), external_data=True)


if __name__ == "__main__":
    main(sys.argv[1])
