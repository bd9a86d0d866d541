"""Shared PyTorch definitions for the gan-bias dev-time tools (not a build dependency).

This module is imported by `tools/make_fixtures.py` and `tools/real_reference.py`; it is
not meant to be run by itself. It needs a Python environment with torch, numpy and
safetensors, and must be imported with `tools/` on sys.path (the scripts do that).

It holds:
  * the three architectures of `../shared/docs/probe-spec.md`, with module names chosen
    so that `state_dict()` keys are exactly the PyTorch ones users have:
      - CourseraGenerator  -> `gen.{i}.0.weight|bias`, `gen.{i}.1.*`        (notebook)
      - DcganGenerator     -> `main.{0,1,3,4,6,7,9,10,12}.*`                (DCGAN tutorial)
      - Classifier         -> `classifier.{0,1,2}.{0,1}.*`, `classifier.3.0.*` (notebook)
  * the probe, written as literally as the notebook writes it (`probe_notebook`), plus the
    plain-step variant (`probe_sgd`);
  * the covariance / top-N post-processing of the notebook.
"""

import numpy as np
import torch
from torch import nn

# The classifier's 40 CelebA output features, in order (probe-spec.md).
FEATURE_NAMES = [
    "5oClockShadow", "ArchedEyebrows", "Attractive", "BagsUnderEyes", "Bald", "Bangs",
    "BigLips", "BigNose", "BlackHair", "BlondHair", "Blurry", "BrownHair", "BushyEyebrows",
    "Chubby", "DoubleChin", "Eyeglasses", "Goatee", "GrayHair", "HeavyMakeup",
    "HighCheekbones", "Male", "MouthSlightlyOpen", "Mustache", "NarrowEyes", "NoBeard",
    "OvalFace", "PaleSkin", "PointyNose", "RecedingHairline", "RosyCheeks", "Sideburn",
    "Smiling", "StraightHair", "WavyHair", "WearingEarrings", "WearingHat",
    "WearingLipstick", "WearingNecklace", "WearingNecktie", "Young",
]


# --------------------------------------------------------------------------------------
# Architectures
# --------------------------------------------------------------------------------------

class CourseraGenerator(nn.Module):
    """The notebook's Generator (spatial 1 -> 3 -> 7 -> 15 -> 31 -> 64).

    gen.0..3: ConvTranspose2d(k3, s2, p0, bias) + BatchNorm2d + ReLU,
    gen.4:    ConvTranspose2d(k4, s2, p0, bias) + Tanh.
    Channels z_dim -> 8h -> 4h -> 2h -> h -> im_chan.
    """

    def __init__(self, z_dim=64, im_chan=3, hidden_dim=64):
        super().__init__()
        self.z_dim = z_dim
        h = hidden_dim

        def block(cin, cout, k=3, s=2, final=False):
            if not final:
                return nn.Sequential(
                    nn.ConvTranspose2d(cin, cout, k, s),
                    nn.BatchNorm2d(cout),
                    nn.ReLU(inplace=True),
                )
            return nn.Sequential(nn.ConvTranspose2d(cin, cout, k, s), nn.Tanh())

        self.gen = nn.Sequential(
            block(z_dim, h * 8),
            block(h * 8, h * 4),
            block(h * 4, h * 2),
            block(h * 2, h),
            block(h, im_chan, k=4, final=True),
        )

    def forward(self, noise):
        return self.gen(noise.view(len(noise), self.z_dim, 1, 1))


class DcganGenerator(nn.Module):
    """The PyTorch DCGAN-tutorial generator (spatial 1 -> 4 -> 8 -> 16 -> 32 -> 64).

    `main` indices 0..13 exactly as in the tutorial; every ConvTranspose2d has bias=False.
    """

    def __init__(self, nz=100, ngf=64, nc=3):
        super().__init__()
        self.nz = nz
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),       # main.0
            nn.BatchNorm2d(ngf * 8),                                    # main.1
            nn.ReLU(True),                                              # main.2
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),  # main.3
            nn.BatchNorm2d(ngf * 4),                                    # main.4
            nn.ReLU(True),                                              # main.5
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),  # main.6
            nn.BatchNorm2d(ngf * 2),                                    # main.7
            nn.ReLU(True),                                              # main.8
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),      # main.9
            nn.BatchNorm2d(ngf),                                        # main.10
            nn.ReLU(True),                                              # main.11
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),           # main.12
            nn.Tanh(),                                                  # main.13
        )

    def forward(self, noise):
        # The tutorial feeds (n, nz, 1, 1) directly; accept (n, nz) like the notebook does.
        return self.main(noise.view(len(noise), self.nz, 1, 1))


class Classifier(nn.Module):
    """The notebook's Classifier (spatial 64 -> 31 -> 14 -> 4 -> 1).

    classifier.0..2: Conv2d(k4; strides 2, 2, 3; p0, bias) + BatchNorm2d + LeakyReLU(0.2),
    classifier.3:    Conv2d(k4, s2) -> n_classes logits.
    """

    def __init__(self, im_chan=3, n_classes=40, hidden_dim=64):
        super().__init__()
        h = hidden_dim

        def block(cin, cout, k=4, s=2, final=False):
            if not final:
                return nn.Sequential(
                    nn.Conv2d(cin, cout, k, s),
                    nn.BatchNorm2d(cout),
                    nn.LeakyReLU(0.2, inplace=True),
                )
            return nn.Sequential(nn.Conv2d(cin, cout, k, s))

        self.classifier = nn.Sequential(
            block(im_chan, h),
            block(h, h * 2),
            block(h * 2, h * 4, s=3),
            block(h * 4, n_classes, final=True),
        )

    def forward(self, image):
        pred = self.classifier(image)
        return pred.view(len(pred), -1)


# --------------------------------------------------------------------------------------
# Probe
# --------------------------------------------------------------------------------------

def probe_notebook(gen, classifier, noise, target, steps):
    """The probe exactly as the notebook runs it (accumulating noise gradient).

    Literal transcription of the notebook's "Feature Correlation" cell: an Adam optimiser
    over the classifier's parameters exists only so that `opt.zero_grad()` can be called
    like the notebook does -- it zeroes the classifier's gradients, never the noise's, so
    `new_noise.grad` accumulates across the steps of one direction. The second direction
    starts from a fresh clone (grad None).

    Returns a dict with numpy arrays:
      start (n, F), history (2S, n, F), end_plus/end_minus (n, F) = C(G(z)) after all S
      updates of each direction (the notebook never computes these; we do, for reporting).
    """
    opt = torch.optim.Adam(classifier.parameters(), lr=0.01)
    classification_history = []

    new_noise = noise.clone().requires_grad_()
    starting_classifications = classifier(gen(new_noise)).cpu().detach()

    # Additive direction (more of a feature)
    for _ in range(steps):
        opt.zero_grad()
        fake = gen(new_noise)
        classifications = classifier(fake)
        classification_history += [classifications.cpu().detach()]
        fake_classes = classifications[:, target].mean()
        fake_classes.backward()
        new_noise.data += new_noise.grad / steps
    with torch.no_grad():
        end_plus = classifier(gen(new_noise)).cpu()

    # Subtractive direction (less of a feature)
    new_noise = noise.clone().requires_grad_()
    for _ in range(steps):
        opt.zero_grad()
        fake = gen(new_noise)
        classifications = classifier(fake)
        classification_history += [classifications.cpu().detach()]
        fake_classes = classifications[:, target].mean()
        fake_classes.backward()
        new_noise.data -= new_noise.grad / steps
    with torch.no_grad():
        end_minus = classifier(gen(new_noise)).cpu()

    return {
        "start": starting_classifications.numpy(),
        "history": torch.stack(classification_history).numpy(),
        "end_plus": end_plus.numpy(),
        "end_minus": end_minus.numpy(),
    }


def probe_sgd(gen, classifier, noise, target, steps):
    """The plain-step variant: z += d * g / S with the noise gradient zeroed every step.

    Same outputs as `probe_notebook`.
    """
    with torch.no_grad():
        start = classifier(gen(noise)).cpu()
    history = []
    ends = {}
    for d in (+1.0, -1.0):
        z = noise.clone().requires_grad_()
        for _ in range(steps):
            z.grad = None  # no accumulation
            y = classifier(gen(z))
            history.append(y.detach().cpu())
            y[:, target].mean().backward()
            with torch.no_grad():
                z += d * z.grad / steps
        with torch.no_grad():
            ends[d] = classifier(gen(z)).cpu()
    return {
        "start": start.numpy(),
        "history": torch.stack(history).numpy(),
        "end_plus": ends[1.0].numpy(),
        "end_minus": ends[-1.0].numpy(),
    }


def covariance_and_top(history, start, target, top_n=10):
    """The notebook's post-processing, with the target excluded explicitly (probe-spec.md).

    changes = history - start[None]          (2S, n, F), float32 like the notebook
    cov     = np.cov(changes.reshape(-1, F).T)  -> float64, ddof 1
    top     = the top_n indices i != target by |cov[target, i]|, largest first (stable
              order on ties), and the signed cov[target, i].
    """
    changes = history - start[None, :, :]
    n_features = changes.shape[-1]
    cov = np.cov(changes.reshape(-1, n_features).T)  # float64
    mags = np.abs(cov[target]).copy()
    order = np.argsort(-mags, kind="stable")
    top_idx = np.array([i for i in order if i != target][:top_n], dtype=np.int64)
    top_cov = cov[target, top_idx]
    return changes, cov, top_idx, top_cov


def summarize_means(result, target, steps):
    """Start / end / last-recorded means of the target logit, as Python floats.

    end_*  : mean over images of C(G(z))[:, t] after all S updates of that direction.
    last_* : mean over images of the last RECORDED logits[:, t] of that direction
             (history[S-1] for +, history[2S-1] for -), i.e. after S-1 updates.
    """
    h = result["history"]
    return {
        "start_mean": float(result["start"][:, target].mean()),
        "end_mean_plus": float(result["end_plus"][:, target].mean()),
        "end_mean_minus": float(result["end_minus"][:, target].mean()),
        "last_mean_plus": float(h[steps - 1][:, target].mean()),
        "last_mean_minus": float(h[2 * steps - 1][:, target].mean()),
    }


# --------------------------------------------------------------------------------------
# Checkpoint loading helpers
# --------------------------------------------------------------------------------------

WRAPPER_KEYS = ("gen", "classifier", "netG_state_dict", "state_dict")


def unwrap_state_dict(obj):
    """Unwrap {"gen": sd}, {"classifier": sd}, {"netG_state_dict": sd}, {"state_dict": sd}
    and strip a leading `module.` (DataParallel) from every key. Returns (state_dict, wrapper
    key or None)."""
    wrapper = None
    if isinstance(obj, dict):
        for k in WRAPPER_KEYS:
            if k in obj and isinstance(obj[k], dict):
                obj, wrapper = obj[k], k
                break
    sd = {}
    for k, v in obj.items():
        if k.startswith("module."):
            k = k[len("module."):]
        sd[k] = v
    return sd, wrapper


def detect_arch(state_dict):
    """Recognise the architecture from key names: coursera | dcgan | classifier."""
    keys = set(state_dict)
    if any(k.startswith("classifier.") for k in keys):
        return "classifier"
    if any(k.startswith("gen.") for k in keys):
        return "coursera"
    if any(k.startswith("main.") for k in keys):
        return "dcgan"
    raise ValueError("unrecognised architecture; first keys: %s" % sorted(keys)[:5])


def load_pth(path):
    """torch.load a checkpoint on CPU, weights_only=True first (safe unpickler).

    Returns (state_dict, wrapper key, used_weights_only: bool)."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
        used_weights_only = True
    except Exception as e:  # pragma: no cover - only for odd legacy pickles
        print(f"warning: weights_only=True failed for {path} ({e}); "
              "falling back to weights_only=False (trusted file only)")
        obj = torch.load(path, map_location="cpu", weights_only=False)
        used_weights_only = False
    sd, wrapper = unwrap_state_dict(obj)
    return sd, wrapper, used_weights_only


SAFETENSORS_DTYPES = {"F16": "<f2", "BF16": None, "F32": "<f4", "F64": "<f8"}


def load_safetensors_float(path):
    """The floating-point tensors of a safetensors file as float32 torch tensors, read with
    json and numpy alone (no safetensors package): an 8-byte little-endian header length, a
    JSON header of name -> dtype, shape, data_offsets, then the data."""
    import json

    with open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    body = raw[8 + n:]
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        start, end = t["data_offsets"]
        if t["dtype"] == "BF16":
            bits = np.frombuffer(body[start:end], dtype="<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32)
        else:
            arr = np.frombuffer(body[start:end], dtype=SAFETENSORS_DTYPES[t["dtype"]]).astype(np.float32)
        out[name] = torch.from_numpy(arr.reshape(t["shape"]).copy())
    return out


def bundled_classifier(path):
    """The notebook's Classifier (40 outputs) with the f16/f32 weights of a safetensors file
    (e.g. weights/demo_classifier.safetensors) as float32, in eval mode."""
    clf = Classifier(n_classes=40)
    missing, unexpected = clf.load_state_dict(load_safetensors_float(path), strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
    return clf.eval()
