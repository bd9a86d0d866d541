"""Write tests/fixtures/real_pth_tensors.json: a byte-level manifest of the two real .pth
checkpoints, so the Rust .pth importer can be checked against torch.load without torch.
Dev-time tool, run by hand.

Run from the repo root, in a venv with torch (numpy for .numpy()):

    python3 tools/pth_manifest.py [--fixtures ../shared/fixtures]

For each checkpoint it records:
  * format: "zip" (torch.save >= 1.6) or "legacy" (pre-1.6 pickle stream), the wrapper key
    ({"classifier": ...}, {"netG_state_dict": ...}) and the file's sha256;
  * for every tensor of the unwrapped state dict, as torch.load(weights_only=True) gives
    it: name, dtype, shape, and the sha256 of tensor.contiguous().numpy().tobytes() (its
    contiguous little-endian raw bytes; x86 is little-endian);
  * from the pickle itself (read with a recording unpickler that builds no tensors): each
    tensor's storage key, storage type, device location string (e.g. "cpu", "cuda:0"),
    storage numel, storage offset and stride, so the importer's view logic can be checked.
"""

import argparse
import collections
import hashlib
import io
import json
import os
import pickle
import sys
import zipfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gan_models as gm  # noqa: E402

FILES = ["coursera_celeba40_classifier.pth", "dcgan_tutorial_digiface_generator.pth"]
OUT = os.path.join("tests", "fixtures", "real_pth_tensors.json")


# --------------------------------------------------------------------------------------
# A recording unpickler: it resolves only what a state-dict pickle needs and returns plain
# records instead of tensors, so we can see storage keys and device locations.
# --------------------------------------------------------------------------------------

class _StorageType:
    def __init__(self, name):
        self.name = name


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    return {"storage": storage, "storage_offset": storage_offset,
            "shape": list(size), "stride": list(stride)}


class RecordingUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name.endswith("Storage"):
            return _StorageType(name)
        raise pickle.UnpicklingError(f"unexpected global {module}.{name}")

    def persistent_load(self, pid):
        # zip:    ('storage', storage_type, key, location, numel)
        # legacy: ('storage', storage_type, root_key, location, numel, view_metadata)
        assert pid[0] == "storage", pid
        rec = {"storage_type": pid[1].name, "key": str(pid[2]), "location": pid[3],
               "numel": int(pid[4])}
        if len(pid) > 5 and pid[5] is not None:
            rec["view_metadata"] = list(pid[5])
        return rec


def pickle_records(path):
    """Return (format, {tensor name: record}) by reading the checkpoint's pickle."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            name = next(n for n in zf.namelist() if n.endswith("/data.pkl") or n == "data.pkl")
            obj = RecordingUnpickler(io.BytesIO(zf.read(name))).load()
        fmt = "zip"
    else:
        with open(path, "rb") as f:
            pickle.load(f)  # magic number
            pickle.load(f)  # protocol version
            pickle.load(f)  # sys_info
            obj = RecordingUnpickler(f).load()
        fmt = "legacy"
    sd, _ = gm.unwrap_state_dict(obj)
    return fmt, sd


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def describe(path):
    sd, wrapper, used_weights_only = gm.load_pth(path)
    fmt, records = pickle_records(path)
    tensors = []
    for name, t in sd.items():
        raw = t.detach().contiguous().numpy().tobytes()
        rec = records[name]
        tensors.append({
            "name": name,
            "dtype": str(t.dtype).replace("torch.", ""),
            "shape": list(t.shape),
            "sha256": hashlib.sha256(raw).hexdigest(),
            "nbytes": len(raw),
            "storage_key": rec["storage"]["key"],
            "storage_type": rec["storage"]["storage_type"],
            "location": rec["storage"]["location"],
            "storage_numel": rec["storage"]["numel"],
            "storage_offset": rec["storage_offset"],
            "stride": rec["stride"],
            **({"view_metadata": rec["storage"]["view_metadata"]}
               if "view_metadata" in rec["storage"] else {}),
        })
    locations = collections.Counter(x["location"] for x in tensors)
    return {
        "file": os.path.basename(path),
        "file_sha256": sha256_file(path),
        "format": fmt,
        "wrapper": wrapper,
        "loaded_with_weights_only": used_weights_only,
        "arch": gm.detect_arch(sd),
        "storage_locations": dict(locations),
        "tensors": tensors,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fixtures", default=os.path.join("..", "shared", "fixtures"))
    args = ap.parse_args()
    if not os.path.isdir(args.fixtures):
        sys.exit(f"real checkpoints not found: {args.fixtures}")
    out = {"torch": torch.__version__,
           "note": "sha256 is of tensor.contiguous().numpy().tobytes() (little-endian)",
           "files": [describe(os.path.join(args.fixtures, f)) for f in FILES]}
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    for d in out["files"]:
        print(f"{d['file']}: {d['format']}, {len(d['tensors'])} tensors, "
              f"locations {d['storage_locations']}")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
