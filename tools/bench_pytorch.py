"""Times the notebook's probe in PyTorch, written as a `gan-bias bench --json` file.

Dev-time tool (PyTorch is never a build or test dependency). Run from the repo root, in a
venv with torch, numpy and safetensors:

    python3 tools/bench_pytorch.py --images 8 --repeats 3 --json pytorch.json \\
        --generator ../shared/fixtures/dcgan_tutorial_digiface_generator.pth \\
        --classifier ../shared/fixtures/coursera_celeba40_classifier.pth
    target/release/gan-bias bench --images 8 --repeats 3 --json gan-bias.json ...
    target/release/gan-bias bench compare gan-bias.json pytorch.json

What is timed, on the same weights and sizes as `gan-bias bench`:
  * every stage (conv + BatchNorm + activation, named by its conv like gan-bias: `main.3`,
    `classifier.1.0`) forward, and its input-gradient (autograd.grad of the stage's output
    with respect to its input, the graph kept so only the backward is timed), on the inputs
    a forward pass of the doubled batch gives it;
  * one probe step as gan-bias runs it: both directions as one batch of 2 x images rows,
    forward through generator and classifier, the history recorded, the gradient of the
    target's mean logit back to the noise, the noise updated;
  * the whole probe (`probe_seconds`): tools/gan_models.py's literal port of the notebook,
    `--steps` steps each way on `--images` images, and the covariance.
The models' weights do not require gradients (gan-bias computes none); `--param-grads` keeps
them, as the notebook does, so every backward also computes the weights' gradients.

Times are medians of `--repeats` runs after `--warmup` runs: wall clock on the CPU; on CUDA,
CUDA events around the work (reported as `gpu-timestamps`), with the wall clock beside them.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gan_models as gm  # noqa: E402

FORMAT, VERSION = "gan-bias-bench", 1
CONVS = (nn.Conv2d, nn.ConvTranspose2d)


# --------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------

def load_state_dict(path):
    """A state dict from a .pth (through gan_models.load_pth) or a .safetensors file."""
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file
        sd, _ = gm.unwrap_state_dict(load_file(path))
        return sd
    sd, _, _ = gm.load_pth(path)
    return sd


def build(path):
    """(model in eval mode, arch name) from a checkpoint; channel counts from weight shapes."""
    sd = load_state_dict(path)
    arch = gm.detect_arch(sd)
    if arch == "dcgan":
        w = sd["main.0.weight"]
        model = gm.DcganGenerator(nz=w.shape[0], ngf=w.shape[1] // 8, nc=sd["main.12.weight"].shape[1])
    elif arch == "coursera":
        w = sd["gen.0.0.weight"]
        model = gm.CourseraGenerator(z_dim=w.shape[0], im_chan=sd["gen.4.0.weight"].shape[1], hidden_dim=w.shape[1] // 8)
    else:
        w = sd["classifier.0.0.weight"]
        model = gm.Classifier(im_chan=w.shape[1], n_classes=sd["classifier.3.0.weight"].shape[0], hidden_dim=w.shape[0])
    model.load_state_dict({k: v.float() for k, v in sd.items()})
    return model.eval(), arch


def z_dim(gen):
    return gen.nz if hasattr(gen, "nz") else gen.z_dim


def stages(model):
    """[(label, nn.Sequential)]: each conv with the BatchNorm and activation after it."""
    out = []
    for name, m in model.named_modules():
        if len(list(m.children())) > 0:
            continue
        if isinstance(m, CONVS):
            out.append((name, [m]))
        elif out:
            out[-1][1].append(m)
    return [(label, nn.Sequential(*mods)) for label, mods in out]


def macs(conv, x, y):
    """Multiply-adds for one image, counted as gan-bias counts them."""
    k = conv.kernel_size[0] * conv.kernel_size[1]
    if isinstance(conv, nn.ConvTranspose2d):
        return x[0].numel() * conv.out_channels * k
    return y[0].numel() * conv.in_channels * k


# --------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------

class Timer:
    """Median / min / max of `repeats` runs after `warmup`; CUDA events on a GPU."""

    def __init__(self, device, warmup, repeats):
        self.cuda = device.type == "cuda"
        self.warmup, self.repeats = warmup, repeats

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()

    def once(self, f):
        self.sync()
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            t0 = time.perf_counter()
            start.record()
            f()
            end.record()
            self.sync()
            return time.perf_counter() - t0, start.elapsed_time(end) / 1e3
        t0 = time.perf_counter()
        f()
        return time.perf_counter() - t0, None

    def time(self, f):
        for _ in range(self.warmup):
            self.once(f)
        return [self.once(f) for _ in range(self.repeats)]


def summarise(name, kernel, samples, flop, bytes_):
    wall = sorted(s[0] for s in samples)
    device = [s[1] for s in samples]
    timed = all(d is not None for d in device)
    secs = sorted(device) if timed else wall
    median = secs[len(secs) // 2]
    row = {
        "name": name, "kernel": kernel, "timing": "gpu-timestamps" if timed else "wall-clock",
        "median_ms": median * 1e3, "min_ms": secs[0] * 1e3, "max_ms": secs[-1] * 1e3,
        "gflop": flop / 1e9, "gflop_per_s": flop / 1e9 / max(median, 1e-9),
    }
    if timed:
        row["wall_median_ms"] = wall[len(wall) // 2] * 1e3
    if bytes_ is not None:
        row["gb_per_s"] = bytes_ / 1e9 / max(median, 1e-9)
    return row


# --------------------------------------------------------------------------------------
# Host
# --------------------------------------------------------------------------------------

def proc_field(path, key, sep=":"):
    try:
        with open(path) as f:
            for line in f:
                k, _, v = line.partition(sep)
                if k.strip() == key:
                    return v.strip()
    except OSError:
        pass
    return None


def peak_rss_bytes():
    v = proc_field("/proc/self/status", "VmHWM")
    if v and v.endswith("kB"):
        return int(v.split()[0]) * 1024
    return None


def reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def identity(device):
    version = torch.__version__
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return {
            "name": f"pytorch {version} {device}", "backend": "pytorch", "device_type": "Cuda",
            "vendor_id": 0x10DE, "vendor_name": "NVIDIA", "device_id": 0,
            "driver": f"CUDA {torch.version.cuda}", "driver_info": props.name,
        }
    model = proc_field("/proc/cpuinfo", "model name") or platform.processor() or "cpu"
    return {
        "name": f"pytorch {version} {device}", "backend": "pytorch", "device_type": "Cpu",
        "vendor_id": 0, "vendor_name": proc_field("/proc/cpuinfo", "vendor_id") or "", "device_id": 0,
        "driver": f"torch {version}", "driver_info": f"{model}, {torch.get_num_threads()} thread(s), {platform.machine()}",
    }


# --------------------------------------------------------------------------------------
# The bench
# --------------------------------------------------------------------------------------

def model_info(model, path, stage_list, x):
    """The `workload` entry of one model, and each stage's input, output and macs."""
    total, per_stage = 0, []
    with torch.no_grad():
        for label, stage in stage_list:
            y = stage(x)
            m = macs(stage[0], x, y)
            per_stage.append((label, stage, x, y, m))
            total += m
            x = y
    first, last = per_stage[0], per_stage[-1]
    info = {
        "arch": None, "file": os.path.basename(path),
        "input": list(first[2].shape[1:]), "output": list(last[3].shape[1:]), "macs": total,
    }
    return info, per_stage


def stage_rows(per_stage, timer, forward):
    rows = []
    for label, stage, x, y, m in per_stage:
        n = x.shape[0]
        flop = 2.0 * m * n
        weights = sum(p.numel() for p in stage.parameters())
        bytes_ = 4.0 * (x.numel() + y.numel() + weights)
        kind = "conv_transpose2d" if isinstance(stage[0], nn.ConvTranspose2d) else "conv2d"
        if forward:
            def f(stage=stage, x=x):
                with torch.no_grad():
                    stage(x)
            rows.append(summarise(f"{label} forward", f"torch {kind}", timer.time(f), flop, bytes_))
        else:
            xi = x.detach().clone().requires_grad_()
            out = stage(xi)
            g = torch.ones_like(out)

            def b(out=out, xi=xi, g=g):
                torch.autograd.grad(out, xi, g, retain_graph=True)
            rows.append(summarise(f"{label} input-gradient", "torch autograd", timer.time(b), flop, bytes_))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    fixtures = os.path.join("..", "shared", "fixtures")
    ap.add_argument("--generator", default=os.path.join(fixtures, "dcgan_tutorial_digiface_generator.pth"))
    ap.add_argument("--classifier", default=os.path.join(fixtures, "coursera_celeba40_classifier.pth"))
    ap.add_argument("--images", type=int, default=256, help="images per direction (the notebook: 256)")
    ap.add_argument("--steps", type=int, default=30, help="steps each way of the whole probe")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--probe-repeats", type=int, default=1, help="runs of the whole probe (0: skip it)")
    ap.add_argument("--feature", default="Male")
    ap.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:1, ...")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--param-grads", action="store_true", help="keep the weights' gradients, as the notebook does")
    ap.add_argument("--json", help="write the report here (default: stdout)")
    args = ap.parse_args()
    if args.images < 1 or args.repeats < 1 or args.steps < 1:
        ap.error("--images, --repeats and --steps must be at least 1")

    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else torch.device(args.device)
    gen, gen_arch = build(args.generator)
    clf, clf_arch = build(args.classifier)
    if gen_arch == "classifier" or clf_arch != "classifier":
        sys.exit(f"error: {args.generator} must hold a generator and {args.classifier} a classifier")
    gen, clf = gen.to(device), clf.to(device)
    for p in list(gen.parameters()) + list(clf.parameters()):
        p.requires_grad_(args.param_grads)
    target = gm.FEATURE_NAMES.index(args.feature)
    timer = Timer(device, args.warmup, args.repeats)
    reset_peak_rss()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    # Both directions as one batch, the noise gan-bias bench uses (seed 0).
    rows = 2 * args.images
    torch.manual_seed(0)
    z0 = torch.randn(rows, z_dim(gen)).to(device)
    gen_stages, clf_stages = stages(gen), stages(clf)
    gen_info, gen_per = model_info(gen, args.generator, gen_stages, z0.view(rows, -1, 1, 1))
    clf_info, clf_per = model_info(clf, args.classifier, clf_stages, gen_per[-1][3])
    gen_info["arch"], clf_info["arch"] = gen_arch, clf_arch

    kernels = stage_rows(gen_per, timer, True) + stage_rows(clf_per, timer, True)
    kernels += stage_rows(list(reversed(clf_per)), timer, False) + stage_rows(list(reversed(gen_per)), timer, False)

    sign = torch.cat([torch.ones(args.images), -torch.ones(args.images)]).to(device)[:, None]
    z = z0.clone().requires_grad_()
    history = []

    def step():
        z.grad = None
        y = clf(gen(z))
        history.append(y.detach())
        if len(history) > 4:
            history.pop(0)
        (y[:, target].sum() / args.images).backward()
        with torch.no_grad():
            z.add_(sign * z.grad / args.steps)

    flop = sum(k["gflop"] for k in kernels) * 1e9
    step_row = summarise("probe step", "torch", timer.time(step), flop, None)

    probe = []
    for _ in range(args.probe_repeats):
        torch.manual_seed(0)
        noise = torch.randn(args.images, z_dim(gen)).to(device)

        def whole():
            res = gm.probe_notebook(gen, clf, noise, target, args.steps)
            gm.covariance_and_top(res["history"], res["start"], target)
        probe.append(timer.once(whole)[0])

    run = {
        "adapter": identity(device),
        "timing": step_row["timing"],
        "timing_detail": ("CUDA events around the work; wall ms: with synchronisation" if device.type == "cuda"
                          else "wall clock around each call") + (", weights' gradients too" if args.param_grads else ""),
        "workload": {"generator": gen_info, "classifier": clf_info, "images": args.images, "rows": rows},
        "warmup": args.warmup,
        "repeats": args.repeats,
        "kernels": kernels,
        "step": step_row,
        "image_steps_per_s": rows / (step_row["median_ms"] / 1e3),
    }
    if device.type == "cuda":
        run["buffer_bytes"] = torch.cuda.max_memory_allocated(device)
    rss = peak_rss_bytes()
    if rss is not None:
        run["peak_rss_bytes"] = rss
    if probe:
        run["probe_seconds"] = statistics.median(probe)
    text = json.dumps({"format": FORMAT, "version": VERSION, "runs": [run], "failures": []}, indent=2) + "\n"
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, args.json)
        print(f"{run['adapter']['name']}: step {step_row['median_ms']:.2f} ms, {run['image_steps_per_s']:.1f} image-steps/s"
              + (f", whole probe {run['probe_seconds']:.2f} s" if probe else "") + f"; wrote {args.json}")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
