"""Copies the ONNX package's PyTorch conformance cases that gan-bias runs into
tests/fixtures/onnx/conformance/ (dev-time; needs onnx, numpy, safetensors and a built
gan-bias). Every case of onnx/backend/test/data/pytorch-converted and pytorch-operator (a
model.onnx and test_data_set_0 with its input_*.pb and output_*.pb, many at opset 6) is run
through `gan-bias forward` on the CPU backend and on the Vulkan backend (lavapipe where no GPU
is present) against the case's own expected outputs. A case that runs and matches on both
(rtol 1e-4, atol 1e-5) is copied as <case>/model.onnx, input.safetensors (one tensor per
graph input, named like it) and expected.safetensors (named like the graph outputs); a case
gan-bias refuses is listed with the one line it printed (the model's path written model.onnx,
the list of supported ops left off). cases.txt lists every case of both
folders: `<folder>/<case> <run|refused> <ops, or the refusal>`; a case gan-bias runs but
gets wrong is listed `wrong`, and the script then fails; one that runs and matches but whose
single row would pass LIMIT is listed `large` and not copied. A case whose files would pass
LIMIT (240 kB) keeps only its first rows of the batch (each row is computed alone by every op
gan-bias runs, so the rows kept are still the reference's); the line says so. A few refused
models are also kept (REFUSED_KEPT) for tests/onnx_conformance.rs to check the refusal, and
variants.txt lists, in the same format, copies of cases with one old-opset attribute changed
(VARIANTS) that the reader must refuse.

The ONNX test data is the onnx project's, under the Apache License 2.0.

    python3 tools/onnx/conformance.py [GAN_BIAS_BINARY]

GAN_BIAS_BINARY defaults to $GAN_BIAS, else target/release/gan-bias of this checkout.
"""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper
from safetensors.numpy import load_file, save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "onnx", "conformance")
DATA = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")
FOLDERS = ["pytorch-converted", "pytorch-operator"]
LIMIT = 240_000
RTOL, ATOL = 1e-4, 1e-5
BACKENDS = ["cpu", "vulkan"]
# Refused models kept beside the ones run, for the refusal test: a 1-D convolution, a
# Softmax, a MaxPool and a model of two inputs.
REFUSED_KEPT = [
    "pytorch-converted/test_Conv1d",
    "pytorch-converted/test_Softmax",
    "pytorch-converted/test_MaxPool3d",
    "pytorch-operator/test_operator_concat2",
]

# (name, case, node attribute set to a value): models the reader must refuse, per the spec of
# their opset (6): BatchNormalization without is_test trains; spatial=0 normalises per
# activation; Gemm without broadcast takes C of shape (M, N), not one row.
VARIANTS = [
    ("variant_BatchNorm2d_is_test0", "pytorch-converted/test_BatchNorm2d_eval", "is_test", 0),
    ("variant_BatchNorm2d_spatial0", "pytorch-converted/test_BatchNorm2d_eval", "spatial", 0),
    ("variant_Linear_broadcast0", "pytorch-converted/test_Linear", "broadcast", 0),
]


def read_pb(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def graph_inputs(model):
    inits = {i.name for i in model.graph.initializer}
    return [i.name for i in model.graph.input if i.name not in inits]


def load_case(folder, case):
    d = os.path.join(DATA, folder, case)
    model = onnx.load(os.path.join(d, "model.onnx"))
    data = os.path.join(d, "test_data_set_0")
    ins = graph_inputs(model)
    outs = [o.name for o in model.graph.output]
    inputs = {n: read_pb(os.path.join(data, f"input_{i}.pb")) for i, n in enumerate(ins)}
    expected = {n: read_pb(os.path.join(data, f"output_{i}.pb")) for i, n in enumerate(outs)}
    return d, model, inputs, expected


def trimmed(inputs, expected, budget):
    """The first rows of the batch whose input and expected files fit `budget` bytes, and how
    many of how many when that is fewer than all."""
    batch = min(v.shape[0] for v in list(inputs.values()) + list(expected.values()) if v.ndim > 0)
    size = lambda arrays, n: sum(v[:n].nbytes for v in arrays.values())  # noqa: E731
    rows = batch
    while rows > 1 and size(inputs, rows) + size(expected, rows) > budget:
        rows -= 1
    if rows == batch:
        return inputs, expected, None
    cut = lambda arrays: {k: np.ascontiguousarray(v[:rows]) for k, v in arrays.items()}  # noqa: E731
    return cut(inputs), cut(expected), (rows, batch)


def worst(got, want):
    """(passes, worst index, its got and want) under RTOL/ATOL."""
    if got.shape != want.shape:
        return False, f"shape {list(got.shape)} != {list(want.shape)}"
    err = np.abs(got.astype(np.float64) - want.astype(np.float64)) - RTOL * np.abs(want.astype(np.float64))
    i = int(np.argmax(err)) if err.size else 0
    ok = bool(np.all(np.isfinite(got))) and (err.size == 0 or err.flat[i] <= ATOL)
    return ok, f"worst at {i}: {got.flat[i] if got.size else '-'} vs {want.flat[i] if want.size else '-'}"


def forward(binary, model_path, input_path, out_path, backend):
    """(one-line error or None, output tensors)."""
    if os.path.exists(out_path):
        os.remove(out_path)
    r = subprocess.run([binary, "forward", model_path, "--input", input_path, "-o", out_path, "--backend", backend],
                       capture_output=True, text=True)
    if r.returncode != 0:
        lines = [ln for ln in r.stderr.splitlines() if ln.strip() and "XDG_RUNTIME_DIR" not in ln]
        return (lines[0] if lines else f"exit {r.returncode}"), None
    return None, load_file(out_path)


def one_line(message, model_path):
    """gan-bias's message with the model's path written model.onnx (no machine paths) and the
    list of supported ops left off."""
    return message.replace(model_path, "model.onnx").split("; supported ops:")[0]


def variant(binary, tmp, name, case, attr, value):
    """Writes the variant's model and input; returns its line of variants.txt."""
    folder, case = case.split("/")
    d, model, inputs, _ = load_case(folder, case)
    node = model.graph.node[0]
    kept = [a for a in node.attribute if a.name != attr]
    del node.attribute[:]
    node.attribute.extend(kept + [onnx.helper.make_attribute(attr, value)])
    dst = os.path.join(OUT, name)
    os.makedirs(dst)
    model_path = os.path.join(dst, "model.onnx")
    onnx.save(model, model_path)
    save_file(inputs, os.path.join(dst, "input.safetensors"))
    err, _ = forward(binary, model_path, os.path.join(dst, "input.safetensors"), os.path.join(tmp, "out.safetensors"), "cpu")
    assert err is not None, f"{name} is not refused"
    return f"{name} refused {one_line(err, model_path)}"


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("GAN_BIAS", os.path.join(ROOT, "target", "release", "gan-bias"))
    binary = os.path.abspath(binary)
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    lines = []
    counts = {}
    with tempfile.TemporaryDirectory() as tmp:
        for folder in FOLDERS:
            for case in sorted(os.listdir(os.path.join(DATA, folder))):
                name = f"{folder}/{case}"
                d, model, inputs, expected = load_case(folder, case)
                model_path = os.path.join(d, "model.onnx")
                inputs, expected, cut = trimmed(inputs, expected, LIMIT - 1000 - os.path.getsize(model_path))
                in_path = os.path.join(tmp, "input.safetensors")
                save_file(inputs, in_path)
                ops = ",".join(sorted({n.op_type for n in model.graph.node}))
                verdict, reason = "run", ops
                for backend in BACKENDS:
                    err, got = forward(binary, model_path, in_path, os.path.join(tmp, "out.safetensors"), backend)
                    if err is not None:
                        verdict, reason = "refused", one_line(err, model_path)
                        break
                    for k, want in expected.items():
                        if k not in got:
                            verdict, reason = "wrong", f"{backend}: no output named {k} (wrote {sorted(got)})"
                            break
                        ok, where = worst(got[k], want)
                        if not ok:
                            verdict, reason = "wrong", f"{backend}: {k} {where}"
                            break
                    if verdict != "run":
                        break
                if verdict == "run" and cut:
                    reason += f" (first {cut[0]} of {cut[1]} rows)"
                total = os.path.getsize(model_path) + sum(v.nbytes for v in list(inputs.values()) + list(expected.values()))
                if verdict == "run" and total > LIMIT - 1000:
                    verdict, reason = "large", f"{ops} (runs and matches on both backends; {total} bytes for one row, too large to commit)"
                if verdict == "wrong":
                    print(f"{name}: runs but does not match: {reason}", file=sys.stderr)
                counts[verdict] = counts.get(verdict, 0) + 1
                lines.append(f"{name} {verdict} {reason}")
                keep = verdict == "run" or name in REFUSED_KEPT
                if keep:
                    dst = os.path.join(OUT, case)
                    os.makedirs(dst)
                    shutil.copyfile(model_path, os.path.join(dst, "model.onnx"))
                    save_file(inputs, os.path.join(dst, "input.safetensors"))
                    if verdict == "run":
                        save_file(expected, os.path.join(dst, "expected.safetensors"))
                    size = sum(os.path.getsize(os.path.join(dst, f)) for f in os.listdir(dst))
                    assert size <= LIMIT, f"{name}: {size} bytes"
        variants = [variant(binary, tmp, *v) for v in VARIANTS]
    assert all(os.path.isdir(os.path.join(OUT, n.split("/")[1])) for n in REFUSED_KEPT)
    for file, rows in [("cases.txt", lines), ("variants.txt", variants)]:
        with open(os.path.join(OUT, file), "w") as f:
            f.write("".join(row + "\n" for row in rows))
    print(" ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 1 if counts.get("wrong") else 0


if __name__ == "__main__":
    sys.exit(main())
