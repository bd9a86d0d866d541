"""Reference values of the notebook's image transform (dev-time only).

Run from the repo root in a venv with torchvision (which brings torch) and Pillow:

    python3 tools/preprocess_golden.py

Makes, seeded, the images of tests/fixtures/audit_images/: three synthetic JPEGs of CelebA's
size, 178 x 218 (smooth gradients, noise and a few edges: 000001.jpg RGB with 4:2:0 chroma,
000002.jpg RGB with 4:4:4, 000003.jpg grey), 000004.png (100 x 80 RGBA, downscaled) and
000005.png (40 x 50 grey, upscaled). Each goes through the notebook's transform,

    Compose([Resize(64), CenterCrop(64), ToTensor(), Normalize((0.5,)*3, (0.5,)*3)])

applied to Image.open(path).convert("RGB"). The float results are, by construction,
((v / 255) - 0.5) / 0.5 in float32 of the 8-bit pixels Resize and CenterCrop leave; the script
checks that torchvision's floats are exactly that, so it stores the pixels (u8, NHWC), not
the floats, plus a few float values and each image's float sum to check the formula again on
the Rust side.

It also stores the same transform of pictures made by an integer formula that the Rust test
repeats (`synthetic` below), at several sizes: these test the resampling to the bit without
any decoder in the way.

Writes tests/fixtures/audit_images/*.{jpg,png} and preprocess_golden.safetensors there.
"""

import json
import os
import struct

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms

SIDE = 64
DIR = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "audit_images")
SYNTHETIC_SIZES = [(178, 218), (218, 178), (67, 100), (30, 45), (64, 150), (300, 120)]
M32 = 0xFFFFFFFF

NOTEBOOK = transforms.Compose(
    [
        transforms.Resize(SIDE),
        transforms.CenterCrop(SIDE),
        transforms.ToTensor(),
        transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    ]
)
GEOMETRY = transforms.Compose([transforms.Resize(SIDE), transforms.CenterCrop(SIDE)])


def face(rng, w, h, channels, noise=3.0):
    """A smooth, face-like picture: gradients, an ellipse, a bar, a little noise."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    base = np.stack(
        [
            90 + 80 * x / w + 30 * np.sin(y / 17.0),
            70 + 60 * y / h + 20 * np.cos(x / 11.0),
            120 - 50 * x / w + 40 * y / h,
        ],
        axis=-1,
    )[..., :channels]
    ellipse = ((x - w * 0.5) / (w * 0.3)) ** 2 + ((y - h * 0.45) / (h * 0.32)) ** 2 < 1.0
    base[ellipse] += rng.uniform(30, 60, size=channels)
    bar = (np.abs(y - h * 0.4) < 4) & (np.abs(x - w * 0.5) < w * 0.25)
    base[bar] = 25
    base += rng.normal(0.0, noise, size=base.shape)
    return np.clip(np.rint(base), 0, 255).astype(np.uint8)


def make_images():
    rng = np.random.default_rng(20260417)
    os.makedirs(DIR, exist_ok=True)
    files = []

    def save(name, img, **kw):
        img.save(os.path.join(DIR, name), **kw)
        files.append(name)

    save("000001.jpg", Image.fromarray(face(rng, 178, 218, 3), "RGB"), quality=85)
    save("000002.jpg", Image.fromarray(face(rng, 178, 218, 3), "RGB"), quality=85, subsampling=0)
    save("000003.jpg", Image.fromarray(face(rng, 178, 218, 1)[..., 0], "L"), quality=85)
    # Alpha from 0 to 255 across the picture: convert("RGB") drops it, whatever its value.
    alpha = np.broadcast_to((np.arange(100) * 255 // 99).astype(np.uint8), (80, 100))[..., None]
    rgba = np.concatenate([face(rng, 100, 80, 3, noise=0.5), alpha], axis=-1)
    save("000004.png", Image.fromarray(rgba, "RGBA"), optimize=True)
    save("000005.png", Image.fromarray(face(rng, 40, 50, 1, noise=0.5)[..., 0], "L"), optimize=True)
    return files


def synthetic(w, h):
    """Pixels (h, w, 3) u8 from integer arithmetic alone (tests/preprocess_golden.rs repeats it)."""
    out = np.zeros((h, w, 3), dtype=np.uint8)
    for y in range(h):
        for x in range(w):
            for c in range(3):
                k = ((x * 73856093) ^ (y * 19349663) ^ (c * 83492791)) & M32
                k = ((k ^ (k >> 13)) * 0x5BD1E995) & M32
                k ^= k >> 15
                smooth = (x * 255 // (w - 1) + y * 128 // (h - 1) + c * 60) % 256
                edge = 40 if (x // 16 + y // 16) % 2 == 0 else 0
                out[y, x, c] = min(255, max(0, smooth + edge + k % 31 - 15))
    return out


def pixels(img):
    """The 8-bit pixels (64, 64, 3) the transform turns into floats, checked against torchvision."""
    kept = np.asarray(GEOMETRY(img), dtype=np.uint8)
    assert kept.shape == (SIDE, SIDE, 3), kept.shape
    floats = NOTEBOOK(img).numpy()
    again = ((torch.from_numpy(kept.copy()).permute(2, 0, 1).float() / 255 - 0.5) / 0.5).numpy()
    assert floats.dtype == np.float32 and np.array_equal(floats, again), "torchvision's floats are not the formula"
    return kept, floats


def write_safetensors(path, tensors, metadata):
    header, blobs, offset = {}, [], 0
    for name, arr in tensors.items():
        data = np.ascontiguousarray(arr).tobytes()
        header[name] = {"dtype": "U8", "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    files = make_images()
    kept, checks = [], {}
    for name in files:
        img = Image.open(os.path.join(DIR, name)).convert("RGB")
        px, floats = pixels(img)
        kept.append(px)
        flat = floats.reshape(-1)
        picks = [0, 1, 4095, 4096, 8191, 8192 + 64 * 31 + 17, flat.size - 1]
        checks[name] = {
            "source_size": list(img.size),
            "sum": float(flat.astype(np.float64).sum()),
            "values": [[i, float(flat[i])] for i in picks],
        }
        print(f"{name}: {img.size[0]}x{img.size[1]} -> sum {checks[name]['sum']:.6f}, {os.path.getsize(os.path.join(DIR, name))} bytes")
    tensors = {"images": np.stack(kept)}
    for w, h in SYNTHETIC_SIZES:
        tensors[f"synthetic_{w}x{h}"], _ = pixels(Image.fromarray(synthetic(w, h), "RGB"))
    meta = {
        "files": ",".join(files),
        "float_checks": json.dumps(checks),
        "made_by": "tools/preprocess_golden.py",
        "pillow": Image.__version__,
        "torchvision": torchvision.__version__,
    }
    out = os.path.join(DIR, "preprocess_golden.safetensors")
    write_safetensors(out, tensors, meta)
    print(f"wrote {out} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()
