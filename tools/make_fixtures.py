"""Generate the small golden fixtures for gan-bias's Rust tests (dev-time tool, run by hand).

Run from the repo root, in a venv with torch, numpy and safetensors:

    python3 tools/make_fixtures.py

Deterministic (fixed seeds, one CPU thread). Writes into tests/fixtures/:

  Tiny random models, state dicts with the exact PyTorch key names (no metadata, so the
  Rust side must recognise the architecture from names/shapes), f32 plus the int64 []
  `num_batches_tracked` scalars:
    tiny_coursera_gen.safetensors   notebook generator, z_dim 8, hidden 4 (8->32->16->8->4->3)
    tiny_dcgan_gen.safetensors      DCGAN-tutorial generator, nz 10, ngf 4
    tiny_classifier.safetensors     notebook classifier, hidden 4, 40 classes
    tiny_classifier_f16.safetensors / tiny_classifier_bf16.safetensors
                                    the same classifier with float tensors stored as
                                    f16 / bf16, metadata {"gan_bias.arch": "classifier"}

  Goldens (float32 unless noted), metadata {"target": "20", "steps": "4", "images": "3", ...}:
    golden_coursera.safetensors, golden_dcgan.safetensors  (generator paired with the f32
    tiny classifier; t = 20 "Male", n = 3, S = 4; noise = torch.manual_seed(NOISE_SEED);
    torch.randn(3, z_dim)):
      noise (n,z)  images (n,3,64,64)  logits (n,40)
      grad_noise  = d/dz0 logits[:, t].mean()          (n,z)
      grad_images = d/dimages C(images)[:, t].mean()   (n,3,64,64)
      history_{A} (2S,n,40)  changes_{A} (2S,n,40)  cov_{A} (40,40)  cov_{A}_f64 (float64)
      top_idx_{A} (int64, 10)  top_cov_{A} (10)     for A in {notebook, sgd}
      start_mean, end_mean_plus, end_mean_minus, last_mean_plus, last_mean_minus   ([1])
      (notebook algorithm) and end_mean_plus_sgd, ..., last_mean_minus_sgd (plain step)
    golden_classifier_f16.safetensors, golden_classifier_bf16.safetensors:
      images (the coursera golden images), logits = C(images) with the f16/bf16 weights
      converted back to float32 (f32 arithmetic on rounded weights).

The algorithms are those of ../shared/docs/probe-spec.md (see gan_models.py).
"""

import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gan_models as gm  # noqa: E402

OUT_DIR = os.path.join("tests", "fixtures")
TARGET = 20      # "Male"
N_IMAGES = 3
STEPS = 4
# Noise seed for the goldens. Chosen (among a handful tried) so that in all four probes
# the 11 largest |cov[t, i]|, i != t, differ pairwise by more than 1e-3 relative: the top-10
# ORDER is then robust to float32 differences between PyTorch and the Rust/WGSL code.
# main() asserts this (MIN_REL_GAP) so a regenerated fixture cannot silently be fragile.
NOISE_SEED = 13
MIN_REL_GAP = 1e-3

# Tiny sizes.
CO_ZDIM, CO_HIDDEN = 8, 4
DC_NZ, DC_NGF = 10, 4
CL_HIDDEN, CL_CLASSES = 4, 40
CL_LOGIT_STD = 3.0  # std of the tiny classifier's logits on the calibration images


# --------------------------------------------------------------------------------------
# Random but well-scaled weights
# --------------------------------------------------------------------------------------

def randomize_batchnorm(bn):
    """Non-trivial eval-mode BatchNorm parameters and statistics."""
    c = bn.num_features
    with torch.no_grad():
        bn.weight.copy_(torch.rand(c) + 0.5)                 # uniform 0.5 .. 1.5
        bn.bias.copy_(torch.randn(c) * 0.1)
        bn.running_mean.copy_(torch.randn(c) * 0.1)
        bn.running_var.copy_(torch.rand(c) * 1.5 + 0.5)      # uniform 0.5 .. 2
        bn.num_batches_tracked.fill_(int(torch.randint(100, 100000, ()).item()))


def calibrate(model, x, final_std=1.0):
    """Data-dependent init (LSUV-like) so activations stay O(1) through the tiny net.

    Walks the leaf modules in forward order (true for these purely sequential models):
    each (transposed) convolution's weight is rescaled so that its output, without bias,
    has standard deviation 1 on the calibration batch `x`, and then gets a small random
    bias (if it has one); each BatchNorm gets random parameters. Everything is evaluated
    in eval mode, exactly as the probe will run. The last convolution is scaled to
    `final_std` instead (the classifier uses a larger value so that the probe moves the
    logits clearly above float32 noise).
    """
    model.eval()
    convs = [m for m in model.modules()
             if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    with torch.no_grad():
        for m in model.modules():
            if len(list(m.children())) > 0:
                continue  # containers
            if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                if m.bias is not None:
                    m.bias.zero_()
                s = m(x).std().item()
                m.weight.div_(s)
                if m is convs[-1]:
                    m.weight.mul_(final_std)
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape) * 0.1)
                x = m(x)
            elif isinstance(m, torch.nn.BatchNorm2d):
                randomize_batchnorm(m)
                x = m(x)
            else:
                x = m(x.clone())  # ReLU / LeakyReLU are in-place; keep x independent
    return model


def gen_input(model, noise):
    """The calibration walk bypasses forward(), so view the noise as (n, z, 1, 1) here."""
    return noise.view(len(noise), -1, 1, 1)


def state_dict_f32(model):
    """Contiguous state dict; float tensors f32, num_batches_tracked int64 []."""
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}


def convert_floats(sd, dtype):
    return {k: (v.to(dtype) if v.is_floating_point() else v).contiguous()
            for k, v in sd.items()}


# --------------------------------------------------------------------------------------
# Goldens
# --------------------------------------------------------------------------------------

def f32(a):
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def scalar(v):
    return torch.tensor([v], dtype=torch.float32)


def golden_for(gen, clf, z_dim, name):
    torch.manual_seed(NOISE_SEED)
    noise = torch.randn(N_IMAGES, z_dim)

    # Plain forward and the two input gradients.
    z = noise.clone().requires_grad_()
    images = gen(z)
    logits = clf(images)
    logits[:, TARGET].mean().backward()
    grad_noise = z.grad.detach().clone()

    img = images.detach().clone().requires_grad_()
    clf(img)[:, TARGET].mean().backward()
    grad_images = img.grad.detach().clone()

    tensors = {
        "noise": noise.contiguous(),
        "images": images.detach().contiguous(),
        "logits": logits.detach().contiguous(),
        "grad_noise": grad_noise.contiguous(),
        "grad_images": grad_images.contiguous(),
    }
    report = {}
    for algo, fn in (("notebook", gm.probe_notebook), ("sgd", gm.probe_sgd)):
        res = fn(gen, clf, noise, TARGET, STEPS)
        changes, cov, top_idx, top_cov = gm.covariance_and_top(
            res["history"], res["start"], TARGET)
        tensors[f"history_{algo}"] = f32(res["history"])
        tensors[f"changes_{algo}"] = f32(changes)
        tensors[f"cov_{algo}"] = f32(cov)
        tensors[f"cov_{algo}_f64"] = torch.from_numpy(np.ascontiguousarray(cov))
        tensors[f"top_idx_{algo}"] = torch.from_numpy(top_idx)
        tensors[f"top_cov_{algo}"] = f32(top_cov)
        means = gm.summarize_means(res, TARGET, STEPS)
        suffix = "" if algo == "notebook" else "_sgd"
        for k, v in means.items():
            if k == "start_mean" and algo != "notebook":
                continue  # identical for both algorithms
            tensors[k + suffix] = scalar(v)
        report[algo] = (top_idx, top_cov, cov, means)

    meta = {"target": str(TARGET), "steps": str(STEPS), "images": str(N_IMAGES),
            "noise_seed": str(NOISE_SEED), "generator": f"tiny_{name}_gen.safetensors",
            "classifier": "tiny_classifier.safetensors"}
    save_file(tensors, os.path.join(OUT_DIR, f"golden_{name}.safetensors"), metadata=meta)

    # Sanity report: image range, and how well separated the top-N ranking is.
    print(f"golden_{name}: images in [{images.min():.3f}, {images.max():.3f}], "
          f"std {images.std():.3f}; logits std {logits.std():.3f}")
    for algo, (top_idx, top_cov, cov, means) in report.items():
        mags = np.sort(np.abs(np.delete(cov[TARGET], TARGET)))[::-1][:11]
        gap = np.min(np.diff(mags[::-1])) / mags[0]
        print(f"  {algo}: top {top_idx.tolist()} cov[t,t]={cov[TARGET, TARGET]:.4g} "
              f"min rel gap in top-11 |cov| = {gap:.2e}; means {means}")
        assert gap > MIN_REL_GAP, f"top-N ranking of golden_{name}/{algo} is fragile"
    return tensors["images"]


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(OUT_DIR, exist_ok=True)

    # Generators.
    torch.manual_seed(1)
    co = gm.CourseraGenerator(z_dim=CO_ZDIM, hidden_dim=CO_HIDDEN)
    calibrate(co, gen_input(co, torch.randn(64, CO_ZDIM)))
    torch.manual_seed(2)
    dc = gm.DcganGenerator(nz=DC_NZ, ngf=DC_NGF)
    calibrate(dc, gen_input(dc, torch.randn(64, DC_NZ)))

    # Classifier, calibrated on images from both tiny generators.
    torch.manual_seed(3)
    clf = gm.Classifier(n_classes=CL_CLASSES, hidden_dim=CL_HIDDEN)
    with torch.no_grad():
        calib = torch.cat([co(torch.randn(32, CO_ZDIM)), dc(torch.randn(32, DC_NZ))])
    calibrate(clf, calib, final_std=CL_LOGIT_STD)

    for model in (co, dc, clf):
        model.eval()

    # Model files.
    sd_co, sd_dc, sd_cl = state_dict_f32(co), state_dict_f32(dc), state_dict_f32(clf)
    save_file(sd_co, os.path.join(OUT_DIR, "tiny_coursera_gen.safetensors"))
    save_file(sd_dc, os.path.join(OUT_DIR, "tiny_dcgan_gen.safetensors"))
    save_file(sd_cl, os.path.join(OUT_DIR, "tiny_classifier.safetensors"))
    arch_meta = {"gan_bias.arch": "classifier"}
    sd_f16 = convert_floats(sd_cl, torch.float16)
    sd_bf16 = convert_floats(sd_cl, torch.bfloat16)
    save_file(sd_f16, os.path.join(OUT_DIR, "tiny_classifier_f16.safetensors"), metadata=arch_meta)
    save_file(sd_bf16, os.path.join(OUT_DIR, "tiny_classifier_bf16.safetensors"), metadata=arch_meta)

    # Goldens for both generators with the f32 classifier.
    images = golden_for(co, clf, CO_ZDIM, "coursera")
    golden_for(dc, clf, DC_NZ, "dcgan")

    # Reduced-precision classifier goldens: rounded weights, f32 arithmetic.
    for tag, sd in (("f16", sd_f16), ("bf16", sd_bf16)):
        c = gm.Classifier(n_classes=CL_CLASSES, hidden_dim=CL_HIDDEN)
        c.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in sd.items()})
        c.eval()
        with torch.no_grad():
            logits = c(images)
            ref = clf(images)
        save_file({"images": images.contiguous(), "logits": logits.contiguous()},
                  os.path.join(OUT_DIR, f"golden_classifier_{tag}.safetensors"),
                  metadata={"weights": f"tiny_classifier_{tag}.safetensors",
                            "images_from": "golden_coursera.safetensors"})
        print(f"golden_classifier_{tag}: max |logits - f32 logits| = "
              f"{(logits - ref).abs().max():.3e}")


if __name__ == "__main__":
    main()
