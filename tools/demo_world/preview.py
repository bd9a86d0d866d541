"""Write a PNG grid of rendered faces (dev-time look at the world): preview.py OUT.png [N] [SEED]."""

import struct
import sys
import zlib

import numpy as np

from render import render


def write_png(path, rgb):
    """rgb: (H, W, 3) uint8."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def grid(images, cols, scale=2, border=2):
    """images: (n, 3, 64, 64) in [-1, 1] -> uint8 grid."""
    n = len(images)
    rows = (n + cols - 1) // cols
    s = images.shape[-1]
    out = np.full((rows * (s + border) + border, cols * (s + border) + border, 3), 255, np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        px = np.round((im.transpose(1, 2, 0) + 1) * 127.5).clip(0, 255).astype(np.uint8)
        out[border + r * (s + border):border + r * (s + border) + s, border + c * (s + border):border + c * (s + border) + s] = px
    return out.repeat(scale, 0).repeat(scale, 1)


if __name__ == "__main__":
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 48
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    z = np.random.default_rng(seed).standard_normal((n, 64))
    write_png(sys.argv[1], grid(render(z), 8))
