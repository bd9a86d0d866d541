#!/usr/bin/env python3
"""Makes the small .pth test inputs of tests/import_pth.rs, and the tensor hashes of
the two real checkpoints in ../shared/fixtures. Needs PyTorch; the Rust tests do not.

    python tools/make_hostile_pth.py                 # both, with the default paths
    python tools/make_hostile_pth.py --no-hashes     # only tests/fixtures/hostile/

Run from the repository root. The blobs are tiny; they are committed, so this only
needs re-running to change them.
"""
import argparse
import hashlib
import io
import json
import os
import zipfile

import torch


class CallsSystem:
    """Pickles as a call of os.system (which pickle names posix.system on Linux)."""

    def __reduce__(self):
        return (os.system, ("echo pwned",))


def save(obj, path, zip_format, **kw):
    torch.save(obj, path, _use_new_zipfile_serialization=zip_format, **kw)


def make_blobs(out):
    os.makedirs(out, exist_ok=True)
    x = torch.arange(12.0).reshape(3, 4)
    views = {"w": x.t(), "o": x[1:, 1:3]}
    save(views, f"{out}/view_zip.pth", True)
    save(views, f"{out}/view_legacy.pth", False)
    # The same archive with every record deflated (torch writes them stored).
    with zipfile.ZipFile(f"{out}/view_zip.pth") as src, zipfile.ZipFile(
        f"{out}/view_zip_deflated.pth", "w", zipfile.ZIP_DEFLATED
    ) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    # Every supported dtype, a Parameter, DataParallel names, protocol 4 opcodes.
    dtypes = [torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.int64,
              torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool]
    sd = {f"module.t{i}": (torch.arange(6).reshape(2, 3) - 2).to(d) for i, d in enumerate(dtypes)}
    sd["module.p"] = torch.nn.Parameter(torch.tensor([0.5, -2.0]))
    sd["module.n"] = torch.tensor(7)
    save({"model": sd, "epoch": 3, "opt": {"lr": 0.1}}, f"{out}/dtypes_p4.pth", True, pickle_protocol=4)
    save({"state_dict": sd}, f"{out}/dtypes_legacy.pth", False)
    # Real dtypes without a RawDtype: uint16 (pickled with _rebuild_tensor_v3) and complex64.
    save({"u": torch.zeros(2, dtype=torch.uint16)}, f"{out}/uint16_zip.pth", True)
    save({"c": torch.zeros(2, dtype=torch.complex64)}, f"{out}/complex64_legacy.pth", False)
    # A state dict one of whose values calls os.system when unpickled.
    evil = {"w": torch.ones(2), "x": CallsSystem()}
    save(evil, f"{out}/posix_system_zip.pth", True)
    save(evil, f"{out}/posix_system_legacy.pth", False)
    for name in sorted(os.listdir(out)):
        print(f"{out}/{name}: {os.path.getsize(f'{out}/{name}')} bytes")


def tensor_bytes(t):
    return t.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


DTYPE_NAMES = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16",
               torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32",
               torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}


def make_hashes(shared, out_json):
    result = {}
    for fname, key in [("coursera_celeba40_classifier.pth", "classifier"),
                       ("dcgan_tutorial_digiface_generator.pth", "netG_state_dict")]:
        path = os.path.join(shared, fname)
        with open(path, "rb") as f:
            file_sha = hashlib.sha256(f.read()).hexdigest()
        sd = torch.load(path, map_location="cpu", weights_only=True)[key]
        tensors = [{"name": n, "dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape),
                    "sha256": hashlib.sha256(tensor_bytes(t)).hexdigest()}
                   for n, t in sd.items()]
        result[fname] = {"file_sha256": file_sha, "key": key, "tensors": tensors}
    # One line per tensor keeps the file short and its diffs readable.
    lines = ["{"]
    for i, (fname, v) in enumerate(result.items()):
        lines.append(f' {json.dumps(fname)}: {{"file_sha256": {json.dumps(v["file_sha256"])}, '
                     f'"key": {json.dumps(v["key"])}, "tensors": [')
        lines += [f"  {json.dumps(t)}," for t in v["tensors"]]
        lines[-1] = lines[-1].rstrip(",")
        lines.append(" ]}" + ("," if i + 1 < len(result) else ""))
    lines.append("}")
    with open(out_json, "w") as f:
        f.write("\n".join(lines) + "\n")
    json.loads("\n".join(lines))
    print(f"{out_json}: {sum(len(v['tensors']) for v in result.values())} tensors")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="tests/fixtures/hostile")
    ap.add_argument("--shared", default="../shared/fixtures")
    ap.add_argument("--hashes", default="tests/fixtures/pth_tensor_hashes.json")
    ap.add_argument("--no-hashes", action="store_true")
    args = ap.parse_args()
    make_blobs(args.out)
    if not args.no_hashes:
        make_hashes(args.shared, args.hashes)


if __name__ == "__main__":
    main()
