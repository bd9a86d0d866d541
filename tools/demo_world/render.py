"""A procedural renderer of 64x64 cartoon faces, vectorised over a batch with numpy.

Every shape has a soft, one-pixel edge and every attribute an opacity or a size driven by
its intensity, so the picture is a smooth function of the latent code (the generator learns
that function). `render(z)` returns float32 images (n, 3, 64, 64) in [-1, 1], the range of a
Tanh generator.
"""

import numpy as np

from world import F, attributes

SIZE = 64
_Y, _X = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) + 0.5


def _col(*rgb):
    return np.array(rgb, dtype=np.float32) / 255.0


def _p(a):
    """A per-image parameter as (n, 1, 1) for broadcasting against the pixel grid."""
    return np.asarray(a, dtype=np.float32).reshape(-1, 1, 1)


def _edge(d):
    """Opacity of a shape from a signed distance in pixels (negative inside)."""
    return np.clip(0.5 - d, 0.0, 1.0)


def ellipse(cx, cy, rx, ry):
    q = np.sqrt(((_X - cx) / rx) ** 2 + ((_Y - cy) / ry) ** 2)
    return _edge((q - 1) * np.minimum(rx, ry))


def ring(cx, cy, rx, ry, width):
    q = np.sqrt(((_X - cx) / rx) ** 2 + ((_Y - cy) / ry) ** 2)
    return _edge(np.abs(q - 1) * np.minimum(rx, ry) - width / 2)


def curve(cx, cy, half_width, bend, thickness):
    """y = cy - bend * (1 - ((x - cx) / half_width)^2) for |x - cx| < half_width: a parabola arc."""
    t = (_X - cx) / half_width
    yc = cy - bend * (1 - t**2)
    inside = _edge((np.abs(t) - 1) * half_width)
    return _edge(np.abs(_Y - yc) - thickness / 2) * inside


def band(x0, x1, y0, y1):
    return _edge(np.maximum(np.maximum(x0 - _X, _X - x1), np.maximum(y0 - _Y, _Y - y1)))


def over(img, alpha, colour):
    """Paint colour (n, 3) or (3,) with opacity alpha (n, H, W) over img (n, H, W, 3)."""
    colour = np.asarray(colour, dtype=np.float32)
    if colour.ndim == 2:
        colour = colour[:, None, None, :]
    a = alpha[..., None]
    return img * (1 - a) + colour * a


def _mix(a, b, t):
    return a * (1 - t[:, None]) + b * t[:, None]


def _blur(img, sigma):
    """Separable Gaussian blur with a per-image sigma (n,), edges clamped."""
    r = 4
    taps = np.arange(-r, r + 1, dtype=np.float32)
    k = np.exp(-0.5 * (taps[None, :] / np.maximum(sigma, 1e-3)[:, None]) ** 2)
    k /= k.sum(1, keepdims=True)
    for axis in (1, 2):
        padded = np.pad(img, [(0, 0)] + [(r, r) if a == axis else (0, 0) for a in (1, 2)] + [(0, 0)], mode="edge")
        out = np.zeros_like(img)
        for j in range(2 * r + 1):
            sl = [slice(None)] * 4
            sl[axis] = slice(j, j + SIZE)
            out += padded[tuple(sl)] * k[:, j, None, None, None]
        img = out
    return img


HAIR_COLOURS = np.stack([_col(30, 25, 25), _col(230, 200, 110), _col(120, 75, 40), _col(160, 60, 30)])
GRAY = _col(185, 185, 190)


def render(z):
    inten, _, nu = attributes(z)
    n = len(z)
    a = {name: inten[:, i].astype(np.float32) for name, i in F.items()}
    nu = nu.astype(np.float32)
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731

    bg = 0.25 + 0.5 * sig(nu[:, 0:3])
    shirt = 0.15 + 0.6 * sig(1.5 * nu[:, 3:6])
    tone = sig(nu[:, 6])
    skin = _mix(_mix(_col(225, 180, 140), _col(150, 100, 70), tone), _col(250, 230, 225), a["PaleSkin"])
    dx, dy = 1.5 * np.tanh(nu[:, 7]), 1.0 * np.tanh(nu[:, 8])
    male = a["Male"]
    long_hair = sig(2.0 * nu[:, 9] - 4.0 * (male - 0.5)) * (1 - a["Bald"])
    hat = _col(200, 40, 40) * sig(nu[:, 10])[:, None] + _col(40, 60, 190) * (1 - sig(nu[:, 10]))[:, None]
    tie = _col(170, 20, 40) * sig(nu[:, 11])[:, None] + _col(30, 50, 140) * (1 - sig(nu[:, 11]))[:, None]
    iris = _mix(_col(60, 40, 20), _col(40, 110, 160), sig(nu[:, 12]))
    hw = np.stack([a[h] for h in ("BlackHair", "BlondHair", "BrownHair")], 1)
    hw = np.concatenate([hw, 1 - hw.sum(1, keepdims=True)], 1)
    hair = _mix(hw @ HAIR_COLOURS, GRAY, a["GrayHair"])
    brow = hair * 0.6

    cx, cy = _p(32 + dx), _p(31 + dy)
    rx = _p(13.0 + 2.5 * a["Chubby"] - 1.2 * a["OvalFace"])
    ry = _p(15.0 + 1.8 * a["OvalFace"])
    img = np.broadcast_to(bg[:, None, None, :], (n, SIZE, SIZE, 3)).copy()

    # long hair behind the head, shoulders, neck
    img = over(img, _p(long_hair) * ellipse(cx, cy + 7, rx + 5, ry + 11) * (_Y < cy + 20), hair)
    img = over(img, ellipse(_p(32.0), _p(70.0), _p(27.0), _p(16.0)), shirt)
    neck = _p(4.2 + 2.0 * male)
    img = over(img, band(cx - neck, cx + neck, cy + 8, _p(60.0)), skin * 0.9)
    collar = ellipse(cx, _p(56.0), _p(8.0), _p(4.0)) * (_Y > 55)
    img = over(img, collar, skin * 0.9)
    # necktie: a knot and a blade
    t = _p(a["WearingNecktie"])
    knot = ellipse(cx, _p(58.2), _p(2.0), _p(1.5))
    blade = _edge(np.abs(_X - cx) - (0.8 + 0.28 * (_Y - 59))) * (_Y > 59)
    img = over(img, t * np.maximum(knot, blade), tie)
    # necklace: a gold arc of beads
    beads = (np.sin(_X * 1.6) > 0).astype(np.float32) * 0.5 + 0.5
    img = over(img, _p(a["WearingNecklace"]) * curve(cx, _p(52.0), _p(7.5), _p(-2.8), _p(1.6)) * beads, _col(240, 200, 50))

    # ears and earrings, face, double chin
    for side in (-1, 1):
        img = over(img, ellipse(cx + side * rx, cy + 1, _p(2.2), _p(3.5)), skin * 0.92)
        img = over(img, _p(a["WearingEarrings"]) * ellipse(cx + side * (rx + 0.3), cy + 6.8, _p(1.5), _p(1.5)), _col(250, 215, 40))
    img = over(img, ellipse(cx, cy, rx, ry), skin)
    img = over(img, _p(a["DoubleChin"]) * curve(cx, cy + ry + 0.6, rx * 0.55, _p(-1.8), _p(1.2)), skin * 0.72)

    # stubble, sideburns, goatee
    jaw = ellipse(cx, cy, rx, ry) * np.clip((_Y - (cy + 2)) / 3, 0, 1)
    img = over(img, _p(0.55 * a["5oClockShadow"]) * jaw, _col(70, 75, 95))
    for side in (-1, 1):
        sb = band(cx + side * rx - 1.6 - (side > 0) * 1.0, cx + side * rx + 1.6 - (side > 0) * 2.2, cy - 6, cy + 4.5)
        img = over(img, _p(a["Sideburn"]) * sb * ellipse(cx, cy, rx, ry), brow)
    mouth_y = cy + 6.6
    img = over(img, _p(a["Goatee"]) * ellipse(cx, cy + ry - 2.2, _p(3.4), _p(2.4)), brow)

    # mouth: opening, lips (bent by the smile, thick with BigLips, red with lipstick), mustache
    smile = _p(2.1 * a["Smiling"] - 0.5)
    img = over(img, ellipse(cx, mouth_y - smile * 0.35, _p(3.6), _p(0.3 + 1.8 * a["MouthSlightlyOpen"])), _col(60, 20, 25))
    lip = _mix(skin * np.array([0.8, 0.55, 0.55], dtype=np.float32), _col(215, 20, 50), a["WearingLipstick"])
    lw = _p(1.0 + 1.4 * a["BigLips"])
    img = over(img, curve(cx, mouth_y - smile, _p(4.8), -smile, lw), lip)
    img = over(img, _p(a["Mustache"]) * curve(cx, mouth_y - 3.3, _p(4.6), _p(0.8), _p(1.6)), brow)

    # nose, cheeks
    big = a["BigNose"]
    img = over(img, ellipse(cx, cy + 3.2, _p(1.0 + 1.1 * big), _p(1.6 + 1.0 * big)), skin * 0.78)
    for side in (-1, 1):
        img = over(img, _p(0.8 * a["RosyCheeks"]) * ellipse(cx + side * 6.5, cy + 5.0, _p(2.3), _p(1.8)), _col(240, 100, 120))
        img = over(img, _p(a["HighCheekbones"]) * ellipse(cx + side * 10.0, cy + 1.4, _p(1.8), _p(0.8)), _col(255, 240, 230))

    # eyes: makeup, whites, iris, bags, eyebrows, wrinkles
    eye_y = cy - 2.0
    eye_h = _p(1.9 * (1 - 0.6 * a["NarrowEyes"]))
    for side in (-1, 1):
        ex = cx + side * 5.5
        img = over(img, _p(0.85 * a["HeavyMakeup"]) * ellipse(ex, eye_y - 1.6, _p(3.4), _p(1.8)), _col(120, 50, 140))
        img = over(img, ellipse(ex, eye_y, _p(2.8), eye_h), _col(250, 250, 250))
        img = over(img, ellipse(ex, eye_y, _p(1.2), _p(1.2)) * ellipse(ex, eye_y, _p(2.8), eye_h), iris * 0.6)
        img = over(img, _p(0.8 * a["BagsUnderEyes"]) * curve(ex, eye_y + 2.2, _p(2.3), _p(-0.6), _p(0.9)), skin * 0.6)
        arch = _p(0.3 + 1.8 * a["ArchedEyebrows"])
        img = over(img, curve(ex, eye_y - 3.9, _p(3.2), arch, _p(0.7 + 1.4 * a["BushyEyebrows"])), brow)
    old = 1 - a["Young"]
    for side in (-1, 1):
        for k in (-1, 1):
            x0 = cx + side * 9.6
            line = _edge(np.abs((_Y - eye_y) - k * 0.55 * side * (_X - x0) * side) - 0.35) * _edge(np.abs(_X - x0 - side * 1.3) - 1.3)
            img = over(img, _p(0.7 * old) * line, skin * 0.62)

    # hair on top: hairline raised at the temples by RecedingHairline, all gone when Bald
    recede = _p(a["RecedingHairline"])
    wave = _p(a["WavyHair"]) * 1.3 * np.sin(_X * 1.1 + _Y * 0.4)
    outer = ellipse(cx, cy - 3, rx + 2.2 + wave * 0.6, ry + 1.8 + wave)
    hairline = cy - 9.5 - recede * 4.5 * np.clip(((_X - cx) / (rx * 0.7)) ** 2, 0, 1.5)
    cap = outer * _edge(_Y - hairline) * (1 - ellipse(cx, cy + 1, rx, ry) * (_Y > hairline + 1))
    img = over(img, _p(1 - a["Bald"]) * cap, hair)
    fringe = ellipse(cx, cy - 9.5, rx * 0.85, _p(4.5)) * (_Y < cy - 7.6 + 0.7 * np.sin(_X * 1.3))
    img = over(img, _p(a["Bangs"] * (1 - a["Bald"])) * fringe, hair)

    # hat on the crown, eyeglasses on the eyes
    crown = ellipse(cx, cy - 18.0, rx + 1.0, _p(6.0)) * (_Y < cy - 16.0)
    brim = band(cx - rx - 3.5, cx + rx + 3.5, cy - 17.0, cy - 15.4)
    img = over(img, _p(a["WearingHat"]) * np.maximum(crown, brim), hat)
    g = _p(a["Eyeglasses"])
    for side in (-1, 1):
        img = over(img, g * ring(cx + side * 5.5, eye_y, _p(3.6), _p(2.5), _p(1.0)), _col(20, 20, 20))
    img = over(img, g * band(cx - 1.8, cx + 1.8, eye_y - 1.0, eye_y - 0.2), _col(20, 20, 20))

    img = _blur(img, 0.25 + 0.95 * a["Blurry"])
    return np.clip(img * 2 - 1, -1, 1).transpose(0, 3, 1, 2).astype(np.float32)
