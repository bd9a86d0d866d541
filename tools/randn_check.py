"""Pure-numpy re-implementation of torch's CPU `torch.manual_seed(s); torch.randn(n, d)`
(float32), checked against torch. Dev-time tool; see tools/NOTES-randn.md.

Run from the repo root, in a venv with numpy (and torch + safetensors for the check):

    python3 tools/randn_check.py            # compare with torch directly
    python3 tools/randn_check.py --write    # also write tests/fixtures/randn.safetensors

The re-implementation (`randn`) uses only numpy; torch is used only to compare and to
produce the fixture.
"""

import argparse
import os

import numpy as np

# (seed, rows, cols) cases shared with the Rust tests.
CASES = [(0, 256, 100), (0, 256, 64), (1, 3, 5), (42, 7, 9), (0, 1, 16), (123, 2, 8),
         (0, 4, 100)]


class MT19937:
    """The textbook 32-bit Mersenne Twister as at::mt19937 implements it."""

    N, M = 624, 397
    MATRIX_A, UPPER, LOWER = 0x9908B0DF, 0x80000000, 0x7FFFFFFF

    def __init__(self, seed):
        # init_genrand: the seed is truncated to 32 bits.
        s = [0] * self.N
        s[0] = seed & 0xFFFFFFFF
        for j in range(1, self.N):
            s[j] = (1812433253 * (s[j - 1] ^ (s[j - 1] >> 30)) + j) & 0xFFFFFFFF
        self.state = s
        self.index = self.N  # twist before the first output

    def _twist(self):
        s, N, M = self.state, self.N, self.M
        for k in range(N):
            y = (s[k] & self.UPPER) | (s[(k + 1) % N] & self.LOWER)
            s[k] = s[(k + M) % N] ^ (y >> 1) ^ (self.MATRIX_A if y & 1 else 0)
        self.index = 0

    def next_u32(self, count):
        """`count` successive tempered 32-bit outputs as a uint32 numpy array."""
        out = np.empty(count, dtype=np.uint32)
        i = 0
        while i < count:
            if self.index >= self.N:
                self._twist()
            take = min(count - i, self.N - self.index)
            out[i:i + take] = self.state[self.index:self.index + take]
            self.index += take
            i += take
        y = out.astype(np.uint64)
        y ^= y >> np.uint64(11)
        y ^= (y << np.uint64(7)) & np.uint64(0x9D2C5680)
        y ^= (y << np.uint64(15)) & np.uint64(0xEFC60000)
        y &= np.uint64(0xFFFFFFFF)
        y ^= y >> np.uint64(18)
        return y.astype(np.uint32)


def uniform_f32(gen, count):
    """at::uniform_real_distribution<float>(0, 1): low 24 bits of one 32-bit draw * 2^-24."""
    u = gen.next_u32(count) & np.uint32(0xFFFFFF)
    return u.astype(np.float32) * np.float32(2.0 ** -24)


# ---- float32 helpers: every operation rounds to float32; `fma` rounds once -------------
F32 = np.float32


def r32(a):
    return np.asarray(a).astype(F32)


def fma(a, b, c):
    """Fused multiply-add rounded once to float32 (a*b is exact in float64 for f32 a, b)."""
    return r32(np.asarray(a, np.float64) * np.asarray(b, np.float64) + np.asarray(c, np.float64))


def log256_ps(x):
    """avx_mathfun.h log256_ps (Cephes logf), as GCC compiles it for torch's AVX2 kernel:
    mul+add pairs are contracted into FMAs (GCC's default -ffp-contract=fast)."""
    x = np.maximum(r32(x), np.array([0x00800000], np.int32).view(F32)[0])
    bits = x.view(np.int32)
    exponent = (bits.view(np.uint32) >> 23).astype(np.int32) - 0x7F
    m = ((bits & ~0x7F800000) | np.array([0.5], F32).view(np.int32)[0]).view(F32)  # [0.5, 1)
    e = r32(exponent.astype(F32) + F32(1))
    mask = m < F32(0.707106781186547524)                  # SQRTHF
    x = r32(m - F32(1))
    e = r32(e - np.where(mask, F32(1), F32(0)))
    x = r32(x + np.where(mask, m, F32(0)))                # x = 2m - 1 when m < sqrt(1/2)
    z = r32(x * x)
    y = np.full_like(x, F32(7.0376836292e-2))
    for p in (-1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
              -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1):
        y = fma(y, x, F32(p))
    y = fma(r32(y * x), z, r32(e * F32(-2.12194440e-4)))   # (y*x)*z + e*q1, fused
    y = r32(y - r32(z * F32(0.5)))
    x = r32(x + y)
    return r32(x + r32(e * F32(0.693359375)))             # + e*q2 (exact product)


def sincos256_ps(x):
    """avx_mathfun.h sincos256_ps (Cephes sinf/cosf), FMA-contracted like log256_ps."""
    x = r32(x)
    sign_sin = np.signbit(x)
    x = np.abs(x)
    j = r32(x * F32(1.27323954473516)).astype(np.int32)   # 4/pi, truncate
    j = (j + 1) & ~1
    y = j.astype(F32)
    sign_sin = sign_sin ^ ((j & 4) != 0)
    use_sin_poly = (j & 2) == 0
    sign_cos = (~(j - 2) & 4) != 0
    # extended-precision range reduction x - y*pi/4 (DP1, DP2 products are exact)
    x = r32(x + r32(y * F32(-0.78515625)))
    x = r32(x + r32(y * F32(-2.4187564849853515625e-4)))
    x = fma(y, F32(-3.77489497744594108e-8), x)
    z = r32(x * x)
    c = np.full_like(z, F32(2.443315711809948e-5))
    c = fma(c, z, F32(-1.388731625493765e-3))
    c = fma(c, z, F32(4.166664568298827e-2))
    c = r32(c * z)
    c = fma(c, z, -r32(z * F32(0.5)))                     # c*z*z - z/2, fused
    c = r32(c + F32(1))
    s = np.full_like(z, F32(-1.9515295891e-4))
    s = fma(s, z, F32(8.3321608736e-3))
    s = fma(s, z, F32(-1.6666654611e-1))
    s = r32(s * z)
    s = fma(s, x, x)
    sin_v = np.where(use_sin_poly, s, c)
    cos_v = np.where(use_sin_poly, c, s)
    return np.where(sign_sin, -sin_v, sin_v), np.where(sign_cos, -cos_v, cos_v)


def normal_fill_16(block):
    """Box-Muller on 16 uniforms in place, in float32: pairs (j, j+8) for j in 0..8.

    Emulates torch's NormalFill16<float> AVX2 specialisation (DistributionTemplates.h),
    which is what x86-64 CPUs with AVX2 or AVX-512 run."""
    u1 = F32(1.0) - block[:8]                     # [0, 1) -> (0, 1] for the log
    u2 = block[8:]
    radius = np.sqrt(r32(F32(-2.0) * log256_ps(u1)))
    theta = r32(F32(2.0 * np.pi) * u2)            # _mm256_set1_ps(2*pi) * u2, float32
    sin_t, cos_t = sincos256_ps(theta)
    block[:8] = r32(radius * cos_t)               # fmadd(n, std=1, mean=0) == n
    block[8:] = r32(radius * sin_t)


def randn_small(gen, size):
    """size < 16: at::normal_distribution<double> per element, Box-Muller in double with a
    cached second value (sin) used for the next element; the result is cast to float32."""
    out = np.empty(size, dtype=np.float32)
    cached = None
    for i in range(size):
        if cached is not None:
            out[i] = np.float32(cached)
            cached = None
            continue
        w = gen.next_u32(4).astype(np.uint64)
        # random64 = (first draw << 32) | second draw; uniform double uses the low 53 bits.
        r64 = [(w[0] << np.uint64(32)) | w[1], (w[2] << np.uint64(32)) | w[3]]
        u1, u2 = [float(int(r) & ((1 << 53) - 1)) * 2.0 ** -53 for r in r64]
        r = np.sqrt(-2.0 * np.log1p(-u2))
        theta = 2.0 * np.pi * u1
        cached = r * np.sin(theta)
        out[i] = np.float32(r * np.cos(theta))
    return out


def randn(seed, rows, cols):
    """numpy equivalent of torch.manual_seed(seed); torch.randn(rows, cols) on CPU."""
    gen = MT19937(seed)
    size = rows * cols
    if size < 16:
        return randn_small(gen, size).reshape(rows, cols)
    data = uniform_f32(gen, size)                      # all `size` uniforms first
    for i in range(0, size - 15, 16):                  # every full block of 16
        block = data[i:i + 16]
        normal_fill_16(block)
    if size % 16 != 0:                                 # tail: redo the LAST 16 elements
        tail = uniform_f32(gen, 16)                    # with 16 fresh uniforms
        normal_fill_16(tail)
        data[size - 16:] = tail
    return data.reshape(rows, cols)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true",
                    help="write tests/fixtures/randn.safetensors from torch")
    args = ap.parse_args()

    import torch  # only for the comparison

    tensors = {}
    worst = 0.0
    for seed, rows, cols in CASES:
        torch.manual_seed(seed)
        ref = torch.randn(rows, cols)
        tensors[f"seed{seed}_n{rows}_d{cols}"] = ref.contiguous()
        mine = randn(seed, rows, cols)
        diff = np.abs(mine - ref.numpy())
        n_exact = int((diff == 0).sum())
        worst = max(worst, float(diff.max()))
        print(f"seed {seed:3d} shape ({rows},{cols}): max |diff| = {diff.max():.3e}, "
              f"bit-identical {n_exact}/{diff.size}")
    print(f"worst max |diff| over all cases: {worst:.3e}")
    assert worst < 1e-6, "re-implementation does not match torch"

    if args.write:
        from safetensors.torch import save_file
        path = os.path.join("tests", "fixtures", "randn.safetensors")
        save_file(tensors, path, metadata={
            "what": "torch.manual_seed(S); torch.randn(N, D), float32, CPU",
            "torch": torch.__version__})
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
