"""Writes the ONNX fixtures of tests/fixtures/onnx/ (dev-time; needs torch, onnx, onnxscript,
onnxruntime): a tiny DCGAN-shaped generator exported by both PyTorch exporters, its
onnxruntime forward on seeded noise as the reference, and hostile files built with the onnx
package that the reader must refuse. With `ops`, only the op models' files (tiny_mix,
tiny_convs, tiny_bilinear, tiny_pool, tiny_mobile, or those NAMEs), leaving the others as they are.

    python3 tools/onnx/make_fixtures.py [ops [NAME...]]
"""
import os
import shutil
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from gan_models import Classifier, CourseraGenerator, covariance_and_top, probe_notebook  # noqa: E402
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import save_file
from safetensors.torch import load_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "onnx")


class TinyGen(torch.nn.Module):
    """ConvTranspose2d, BatchNorm2d, ReLU twice, then ConvTranspose2d and Tanh: 8 -> 3x8x8."""

    def __init__(self):
        super().__init__()
        self.main = torch.nn.Sequential(
            torch.nn.ConvTranspose2d(8, 12, 4, 1, 0, bias=False),
            torch.nn.BatchNorm2d(12),
            torch.nn.ReLU(True),
            torch.nn.ConvTranspose2d(12, 3, 4, 2, 1, bias=True),
            torch.nn.Tanh(),
        )

    def forward(self, z):
        return self.main(z)


class TinyAffine(torch.nn.Module):
    """A classifier of 3x8x8 images whose BatchNorm follows no convolution, then products,
    sums and quotients with constants (scalars and per-channel), smooth activations, a
    convolution to 5 logits: every op of the per-channel affine kernel."""

    def __init__(self):
        super().__init__()
        self.bn = torch.nn.BatchNorm2d(3)
        self.w = torch.nn.Parameter(torch.randn(1, 3, 1, 1))
        self.conv = torch.nn.Conv2d(3, 5, 8)

    def forward(self, x):
        x = torch.tanh(self.bn(x))
        x = (x - 0.25) / 1.5 * self.w + torch.tensor([0.1, -0.2, 0.3]).view(3, 1, 1)
        x = torch.nn.functional.leaky_relu(2.0 - x, 0.1)
        return self.conv(x).flatten(1)


class TinyLinear(torch.nn.Module):
    """A classifier of 3x8x8 images made of Linear layers: Flatten, Linear, BatchNorm1d,
    ReLU, Linear to 5 logits, and a product of two Linears' worth of MatMul + Add."""

    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(192, 16)
        self.bn = torch.nn.BatchNorm1d(16)
        self.w = torch.nn.Parameter(torch.randn(16, 7) * 0.3)
        self.b = torch.nn.Parameter(torch.randn(7) * 0.1)
        self.fc2 = torch.nn.Linear(7, 5, bias=False)

    def forward(self, x):
        x = torch.relu(self.bn(self.fc1(x.flatten(1))))
        x = torch.tanh(x @ self.w + self.b)
        return self.fc2(x)


def tiny_linear():
    torch.manual_seed(6)
    m = TinyLinear()
    with torch.no_grad():
        m.bn.running_mean.copy_(torch.randn(16) * 0.2)
        m.bn.running_var.copy_(torch.rand(16) + 0.5)
        m.bn.weight.copy_(torch.rand(16) + 0.5)
        m.bn.bias.copy_(torch.randn(16) * 0.1)
    return m.eval()


def with_golden(make, name, target):
    """Exports `make()` both ways and saves PyTorch's forward and input-gradient of
    mean(logits[:, target]) (float64 autograd) on seeded 3x8x8 images."""
    images = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(9))
    files = export_both(make(), images, name, names=("image", "logits"))
    with torch.no_grad():
        want = make()(images).numpy()
    for path in files:
        sess = ort.InferenceSession(path)
        got = sess.run(None, {sess.get_inputs()[0].name: images.numpy()})[0]
        assert np.abs(got - want).max() < 1e-4, (path, np.abs(got - want).max())
    m64 = make().double()
    x64 = images.double().requires_grad_(True)
    logits = m64(x64)
    logits[:, target].mean().backward()
    save_file({"images": images.numpy(), "logits": logits.detach().float().numpy(), "grad": x64.grad.float().numpy()},
              os.path.join(OUT, f"{name}_golden.safetensors"))


class TinyWgan(torch.nn.Module):
    """A WGAN-GP-style generator: Linear, a reshape, BatchNorm, ReLU, nearest upsampling and
    3x3 convolutions, Tanh; noise 8 -> 3x16x16."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(8, 6 * 4 * 4)
        self.net = torch.nn.Sequential(
            torch.nn.BatchNorm2d(6), torch.nn.ReLU(),
            torch.nn.Upsample(scale_factor=2, mode="nearest"),
            torch.nn.Conv2d(6, 4, 3, 1, 1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
            torch.nn.Upsample(scale_factor=2, mode="nearest"),
            torch.nn.Conv2d(4, 3, 3, 1, 1), torch.nn.Tanh(),
        )

    def forward(self, z):
        return self.net(self.fc(z).view(-1, 6, 4, 4))


class TinyJudge(torch.nn.Module):
    """A classifier of 3x16x16 images to 5 logits: one convolution and a LeakyReLU, then one
    over the whole image."""

    def __init__(self):
        super().__init__()
        self.a = torch.nn.Conv2d(3, 6, 4, 2, 1)
        self.b = torch.nn.Conv2d(6, 5, 8)

    def forward(self, x):
        return self.b(torch.nn.functional.leaky_relu(self.a(x), 0.2)).flatten(1)


class TinySngan(torch.nn.Module):
    """An SNGAN-style residual generator: Linear and a reshape, then a residual block whose
    input goes down two branches (BatchNorm, ReLU, nearest upsampling, 3x3 convolutions; and
    upsampling, a 1x1 convolution) added back, BatchNorm, ReLU, a 3x3 convolution, Tanh;
    noise 8 -> 3x8x8."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(8, 6 * 4 * 4)
        self.block = torch.nn.Sequential(
            torch.nn.BatchNorm2d(6), torch.nn.ReLU(), torch.nn.Upsample(scale_factor=2, mode="nearest"),
            torch.nn.Conv2d(6, 6, 3, 1, 1), torch.nn.BatchNorm2d(6), torch.nn.ReLU(), torch.nn.Conv2d(6, 6, 3, 1, 1),
        )
        self.shortcut = torch.nn.Sequential(torch.nn.Upsample(scale_factor=2, mode="nearest"), torch.nn.Conv2d(6, 6, 1))
        self.out = torch.nn.Sequential(torch.nn.BatchNorm2d(6), torch.nn.ReLU(), torch.nn.Conv2d(6, 3, 3, 1, 1), torch.nn.Tanh())

    def forward(self, z):
        x = self.fc(z).view(-1, 6, 4, 4)
        return self.out(self.block(x) + self.shortcut(x))


class TinyJudge8(torch.nn.Module):
    """A classifier of 3x8x8 images to 5 logits."""

    def __init__(self):
        super().__init__()
        self.a = torch.nn.Conv2d(3, 6, 4, 2, 1)
        self.b = torch.nn.Conv2d(6, 5, 4)

    def forward(self, x):
        return self.b(torch.nn.functional.leaky_relu(self.a(x), 0.2)).flatten(1)


class TinySigmoidJudge8(TinyJudge8):
    """TinyJudge8 ending in a Sigmoid, as attribute classifiers trained with BCELoss often do."""

    def forward(self, x):
        return torch.sigmoid(super().forward(x))


def seeded(cls, seed):
    torch.manual_seed(seed)
    m = cls()
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                randomize_bn(mod)
    return m.eval()


def randomize_bn(bn):
    c = bn.num_features
    bn.running_mean.copy_(torch.randn(c) * 0.2)
    bn.running_var.copy_(torch.rand(c) + 0.5)
    bn.weight.copy_(torch.rand(c) + 0.5)
    bn.bias.copy_(torch.randn(c) * 0.1)


def gan_probe(gen_cls, judge_cls, name, judge_name):
    """A generator and its judge, exported both ways, with the notebook's probe of them in
    PyTorch (float64) on seeded noise: 6 images, 4 steps each way, target 1."""
    gen, judge = seeded(gen_cls, 21), seeded(judge_cls, 22)
    z = torch.randn(6, 8, generator=torch.Generator().manual_seed(23))
    export_both(gen, z, name)
    with torch.no_grad():
        images = gen(z)
    export_both(judge, images, judge_name, names=("image", "logits"))
    g64, j64 = seeded(gen_cls, 21).double(), seeded(judge_cls, 22).double()
    r = probe_notebook(g64, j64, z.double(), 1, 4)
    _, cov, _, _ = covariance_and_top(r["history"], r["start"], 1)
    save_file({"noise": z.numpy(), "start": r["start"].astype(np.float32), "covariance": cov.astype(np.float32),
               "images": g64(z.double()).detach().float().numpy()},
              os.path.join(OUT, f"{name}_probe.safetensors"))


def tiny_affine():
    torch.manual_seed(5)
    m = TinyAffine()
    with torch.no_grad():
        m.bn.running_mean.copy_(torch.randn(3) * 0.2)
        m.bn.running_var.copy_(torch.rand(3) + 0.5)
        m.bn.weight.copy_(torch.rand(3) + 0.5)
        m.bn.bias.copy_(torch.randn(3) * 0.1)
    return m.eval()


def tiny_gen():
    torch.manual_seed(7)
    g = TinyGen()
    with torch.no_grad():
        bn = g.main[1]
        bn.running_mean.copy_(torch.randn(12) * 0.1)
        bn.running_var.copy_(torch.rand(12) + 0.5)
        bn.weight.copy_(torch.rand(12) + 0.5)
        bn.bias.copy_(torch.randn(12) * 0.1)
    return g.eval()


def tiny_preset(cls, file, **kw):
    """A preset module with the weights of tests/fixtures/`file`, in eval mode."""
    m = cls(**kw)
    missing, unexpected = m.load_state_dict({k: v.float() for k, v in load_file(os.path.join(OUT, "..", file)).items()}, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
    return m.eval()


def export_both(model, x, name, names=("z", "image")):
    """`name`_ts.onnx (TorchScript exporter, opset 17, weights inside) and `name`_dynamo.onnx
    (+ .onnx.data: the dynamo exporter, weights beside it)."""
    ts = os.path.join(OUT, f"{name}_ts.onnx")
    i, o = names
    torch.onnx.export(model, (x,), ts, dynamo=False, opset_version=17, input_names=[i], output_names=[o],
                      dynamic_axes={i: {0: "batch"}, o: {0: "batch"}})
    dy = os.path.join(OUT, f"{name}_dynamo.onnx")
    prog = torch.onnx.export(model, (x,), dynamic_shapes=({0: torch.export.Dim("batch")},), dynamo=True)
    prog.save(dy, external_data=True)
    strip_metadata(dy)
    return ts, dy


def strip_metadata(path):
    """Drops the dynamo exporter's per-node and per-value metadata (stack traces naming the
    files of the machine that exported), keeping the weights where they are."""
    m = onnx.load(path, load_external_data=False)
    for node in m.graph.node:
        del node.metadata_props[:]
    for v in list(m.graph.value_info) + list(m.graph.input) + list(m.graph.output):
        del v.metadata_props[:]
    for t in m.graph.initializer:
        del t.metadata_props[:]
    del m.metadata_props[:]
    onnx.save(m, path)


def hostile(base_model_path):
    """Files the reader must refuse, each derived from the TorchScript export."""
    m = onnx.load(base_model_path)
    weight = m.graph.initializer[0]

    def external(location, length=None):
        mm = onnx.load(base_model_path)
        t = mm.graph.initializer[0]
        n = len(t.raw_data) if t.raw_data else 4 * int(np.prod(t.dims))
        t.ClearField("raw_data")
        t.data_location = TensorProto.EXTERNAL
        del t.external_data[:]
        for k, v in [("location", location), ("offset", "0"), ("length", str(length or n))]:
            e = t.external_data.add()
            e.key, e.value = k, v
        return mm

    onnx.save(external("/etc/passwd"), os.path.join(OUT, "hostile_absolute.onnx"))
    onnx.save(external("../outside.bin"), os.path.join(OUT, "hostile_dotdot.onnx"))
    # A declared length larger than the data file holds.
    with open(os.path.join(OUT, "hostile_short.bin"), "wb") as f:
        f.write(b"\0" * 16)
    onnx.save(external("hostile_short.bin"), os.path.join(OUT, "hostile_short.onnx"))
    # An op outside the supported set.
    mm = onnx.load(base_model_path)
    for node in mm.graph.node:
        if node.op_type == "Tanh":
            node.op_type = "Softsign"
    onnx.save(mm, os.path.join(OUT, "hostile_op.onnx"))
    del weight


class TinyMix(torch.nn.Module):
    """A classifier of 3x8x8 images through products, differences and quotients of two
    computed tensors, a Concat along channels (the image itself among its inputs), a
    constant Pad of 0.5 and a zero one, to 5 logits."""

    def __init__(self):
        super().__init__()
        self.a = torch.nn.Conv2d(3, 4, 3, 1, 1)
        self.b = torch.nn.Conv2d(3, 4, 1)
        self.pad = torch.nn.ZeroPad2d((2, 0, 1, 0))
        self.head = torch.nn.Conv2d(15, 5, (10, 13))

    def forward(self, x):
        a, b = torch.tanh(self.a(x)), self.b(x)
        c = torch.cat([a * b, x, a - b, a / (b * b + 1.0)], dim=1)
        c = torch.nn.functional.pad(c, (1, 2, 0, 1), value=0.5)
        return self.head(self.pad(torch.tanh(c))).flatten(1)


class TinyConvs(torch.nn.Module):
    """A classifier of 3x8x8 images through convolutions the tiled kernels do not serve: a
    3x2 kernel with strides (2, 1), pads (1, 0) and dilations (1, 2); a grouped, dilated 3x3;
    a grouped transposed 3x4 with strides (2, 3), output padding (1, 2) and dilations (2, 1);
    then a head to 5 logits."""

    def __init__(self):
        super().__init__()
        self.a = torch.nn.Conv2d(3, 6, (3, 2), (2, 1), (1, 0), (1, 2))
        self.b = torch.nn.Conv2d(6, 6, 3, 1, 2, 2, groups=3)
        self.c = torch.nn.ConvTranspose2d(6, 4, (3, 4), (2, 3), (1, 1), (1, 2), groups=2, dilation=(2, 1))
        self.head = torch.nn.Conv2d(4, 5, (10, 19), bias=False)

    def forward(self, x):
        x = torch.relu(self.a(x))
        x = torch.nn.functional.leaky_relu(self.b(x), 0.1)
        return self.head(torch.tanh(self.c(x))).flatten(1)


class TinyBilinear(torch.nn.Module):
    """A classifier of 3x8x8 images through bilinear resizing: up by a scale of 2 (half-pixel
    coordinates), to 5x7 with align_corners, to 11x6 by size (down in width), then a head to
    5 logits."""

    def __init__(self):
        super().__init__()
        self.a = torch.nn.Conv2d(3, 4, 3, 2, 1)
        self.head = torch.nn.Conv2d(4, 5, (11, 6))

    def forward(self, x):
        f = torch.nn.functional.interpolate
        x = f(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = torch.relu(self.a(x))
        x = f(x, size=(5, 7), mode="bilinear", align_corners=True)
        x = f(torch.tanh(x), size=(11, 6), mode="bilinear", align_corners=False)
        return self.head(x).flatten(1)


class TinyPool(torch.nn.Module):
    """A classifier of 3x8x8 images through max pooling (3x3 stride 2 pad 1; 2x2 dilated by
    2 with ceil_mode), average pooling (with ceil_mode without padded positions counted, and
    with them counted), a global average pool and means over the image, to 5 logits."""

    def __init__(self):
        super().__init__()
        self.a = torch.nn.Conv2d(3, 6, 3, 1, 1)
        self.b = torch.nn.Conv2d(6, 6, 3, 1, 1)
        self.fc = torch.nn.Linear(18, 5)

    def forward(self, x):
        nn = torch.nn.functional
        a = nn.leaky_relu(self.a(x), 0.1)
        m = nn.max_pool2d(a, 3, 2, 1)
        d = nn.max_pool2d(a, 2, 1, 0, dilation=2, ceil_mode=True)
        b = torch.tanh(self.b(m))
        v = nn.avg_pool2d(b, 3, 2, 1, ceil_mode=True, count_include_pad=False)
        w = nn.avg_pool2d(b, 2, 2, 1, count_include_pad=True)
        g = torch.cat([v.mean((2, 3)), nn.adaptive_avg_pool2d(w, 1).flatten(1), d.mean((2, 3), keepdim=True).flatten(1)], 1)
        return self.fc(g)


class TinyMobile(torch.nn.Module):
    """A MobileNet-shaped classifier of 3x8x8 images: ReLU6, a depthwise convolution and
    HardSwish, a pointwise one and HardSigmoid, a residual Add followed by ReLU, global
    average pooling and a Linear head to 5 logits."""

    def __init__(self):
        super().__init__()
        self.a = torch.nn.Conv2d(3, 6, 3, 1, 1)
        self.dw = torch.nn.Conv2d(6, 6, 3, 1, 1, groups=6)
        self.pw = torch.nn.Conv2d(6, 6, 1)
        self.fc = torch.nn.Linear(6, 5)

    def forward(self, x):
        nn = torch.nn.functional
        a = nn.relu6(self.a(x) * 3.0)
        b = nn.hardswish(self.dw(a))
        c = nn.hardsigmoid(self.pw(b) * 2.0)
        d = torch.relu(c + a)
        return self.fc(nn.adaptive_avg_pool2d(d, 1).flatten(1))


def op_models(only=()):
    """The op models' files; with `only`, just those named."""
    for cls, seed, name, target in [(TinyMix, 31, "tiny_mix", 3), (TinyConvs, 32, "tiny_convs", 1),
                                    (TinyBilinear, 33, "tiny_bilinear", 4), (TinyPool, 34, "tiny_pool", 0),
                                    (TinyMobile, 35, "tiny_mobile", 2)]:
        if not only or name in only:
            with_golden(lambda: seeded(cls, seed), name, target)


def main():
    if sys.argv[1:2] == ["ops"]:
        return op_models(sys.argv[2:])
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    g = tiny_gen()
    x = torch.randn(5, 8, 1, 1, generator=torch.Generator().manual_seed(3))
    ts, dy = export_both(g, x, "tiny_gen")
    with torch.no_grad():
        want = g(x).numpy()
    for path in [ts, dy]:
        got = ort.InferenceSession(path).run(None, {ort.InferenceSession(path).get_inputs()[0].name: x.numpy()})[0]
        err = np.abs(got - want).max()
        assert err < 1e-5, (path, err)
    save_file({"z": x.numpy(), "image": want}, os.path.join(OUT, "tiny_gen_io.safetensors"))
    hostile(ts)
    # The affine kernel's ops and Linear layers, with PyTorch's forward and input-gradient (in
    # float64) on seeded images, for target logit 2.
    with_golden(tiny_affine, "tiny_affine", 2)
    with_golden(tiny_linear, "tiny_linear", 2)
    op_models()
    gan_probe(TinyWgan, TinyJudge, "tiny_wgan", "tiny_judge")
    gan_probe(TinySngan, TinyJudge8, "tiny_sngan", "tiny_judge8")
    # The same judge ending in a Sigmoid: read without it, it gives the same probe.
    images = seeded(TinySngan, 21)(torch.randn(2, 8)).detach()
    export_both(seeded(TinySigmoidJudge8, 22), images, "tiny_judge8_sigmoid", names=("image", "probabilities"))
    # The tiny notebook presets of tests/fixtures (their forward views (n, z) as (n, z, 1, 1),
    # and the classifier's logits (n, 40, 1, 1) as (n, 40)): the same probe as their
    # safetensors files.
    gen = tiny_preset(CourseraGenerator, "tiny_coursera_gen.safetensors", z_dim=8, hidden_dim=4)
    clf = tiny_preset(Classifier, "tiny_classifier.safetensors", hidden_dim=4)
    z = torch.randn(3, 8, generator=torch.Generator().manual_seed(11))
    export_both(gen, z, "tiny_coursera")
    with torch.no_grad():
        images = gen(z)
    export_both(clf, images, "tiny_classifier", names=("image", "logits"))
    # Exported with a fixed batch of 1 (no dynamic axes): its reshape keeps each row whole,
    # so it runs at any batch; and a copy whose reshape mixes rows, which must be refused.
    fixed = os.path.join(OUT, "tiny_coursera_fixed1.onnx")
    torch.onnx.export(gen, (z[:1],), fixed, dynamo=False, opset_version=17, input_names=["z"], output_names=["image"])
    m = onnx.load(fixed)
    for node in m.graph.node:
        if node.op_type == "Constant":
            node.attribute[0].t.CopyFrom(numpy_helper.from_array(np.array([8, 1, 1, 1], dtype=np.int64), node.attribute[0].t.name))
    onnx.save(m, os.path.join(OUT, "hostile_fixed1_mixing.onnx"))
    for f in sorted(os.listdir(OUT)):
        print(f, os.path.getsize(os.path.join(OUT, f)))


if __name__ == "__main__":
    sys.exit(main())
