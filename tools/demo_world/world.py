"""The demo world's statistics: a latent-factor model of the 40 CelebA labels.

A latent code z ~ N(0, I_64) determines one face completely:

    z[0:3]    the three planted factors: sex (male +), age (old +), expression (smile +)
    z[3:43]   one private noise per attribute, in FEATURES order
    z[43:64]  nuisances that no label mentions: colours, position, hair length, ...

Each attribute has a standard-normal score u = sum_k L[a, k] f_k + sqrt(1 - |L[a]|^2) e_a, a
label u > threshold (so its prevalence is chosen), and a drawn intensity
sigmoid(GAIN * (u - threshold)) in (0, 1) that the renderer turns into pixels. The label is a
deterministic function of the intensity, so an ideal observer of the picture knows it.

Hair colour is one choice among black, blond, brown and an unnamed auburn, taken by the
largest score; gray hair (driven by age) overrides it, as CelebA's annotators would say.
NoBeard is the absence of goatee, mustache and stubble. A bald head has no bangs, receding
hairline, waves or hair colour: those labels are 0 on it, since the picture shows none. Attractive, PointyNose and
StraightHair are labels with no visual cue and no factor: a classifier can only learn
nothing from them.
"""

import math
import os
import sys

import numpy as np

# The 40 CelebA attributes in the notebook classifier's order (shared with the other tools).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from gan_models import FEATURE_NAMES as FEATURES  # noqa: E402

F = {name: i for i, name in enumerate(FEATURES)}

FACTORS = ["sex", "age", "expression"]
Z_DIM = 64
N_FACTORS = len(FACTORS)
OWN = N_FACTORS  # z index of the first private noise
NUISANCE = OWN + len(FEATURES)  # z index of the first nuisance
N_NUISANCE = Z_DIM - NUISANCE

# Loadings after CelebA's well-known biases. Every feature loads on one factor at most: a
# feature on two would let a classifier that uses it as a cue for one factor's targets drag
# the other factor along, which is a bias of the classifier, not of the world.
LOADINGS = {
    # sex: a core of five strong partners (with NoBeard, which the beards make), then a clear
    # step down to the rest, so that every target's five strongest planted partners stand
    # apart from the sixth and later ones instead of ending in a near tie
    "Male": {"sex": 0.95},
    "WearingLipstick": {"sex": -0.85},
    "HeavyMakeup": {"sex": -0.8},
    "Goatee": {"sex": 0.8},
    "Mustache": {"sex": 0.8},
    # baldness loads as strongly as the beards but is rare (PREVALENCE), as in CelebA: its label
    # correlations stay below the core's, and a probe on Bald moves the sex factor more than
    # the hair a bald head hides
    "Bald": {"sex": 0.8},
    # the rest
    "5oClockShadow": {"sex": 0.55},
    "Sideburn": {"sex": 0.5},
    "WearingNecktie": {"sex": 0.5},
    "WearingEarrings": {"sex": -0.5},
    "ArchedEyebrows": {"sex": -0.45},
    "Bangs": {"sex": -0.45},
    "BushyEyebrows": {"sex": 0.45},
    "WavyHair": {"sex": -0.45},
    "WearingNecklace": {"sex": -0.45},
    "BlondHair": {"sex": -0.4},
    # age
    "Young": {"age": -0.9},
    "BagsUnderEyes": {"age": 0.65},
    "Chubby": {"age": 0.55},
    "DoubleChin": {"age": 0.65},
    "GrayHair": {"age": 0.8},
    "RecedingHairline": {"age": 0.7},
    # expression
    "Smiling": {"expression": 0.9},
    "HighCheekbones": {"expression": 0.75},
    "MouthSlightlyOpen": {"expression": 0.75},
    "NarrowEyes": {"expression": 0.55},
    "RosyCheeks": {"expression": 0.6},
}

# Prevalence of each score's label (before the hair-colour choice and NoBeard's rule).
PREVALENCE = {
    "5oClockShadow": 0.2, "ArchedEyebrows": 0.3, "Attractive": 0.5, "BagsUnderEyes": 0.25,
    "Bald": 0.1, "Bangs": 0.25, "BigLips": 0.3, "BigNose": 0.3, "Blurry": 0.15,
    "BushyEyebrows": 0.25, "Chubby": 0.2, "DoubleChin": 0.2, "Eyeglasses": 0.2, "Goatee": 0.2,
    "GrayHair": 0.2, "HeavyMakeup": 0.35, "HighCheekbones": 0.45, "Male": 0.45,
    "MouthSlightlyOpen": 0.45, "Mustache": 0.2, "NarrowEyes": 0.2, "OvalFace": 0.3,
    "PaleSkin": 0.2, "PointyNose": 0.3, "RecedingHairline": 0.2, "RosyCheeks": 0.25,
    "Sideburn": 0.2, "Smiling": 0.5, "StraightHair": 0.4, "WavyHair": 0.35,
    "WearingEarrings": 0.25, "WearingHat": 0.15, "WearingLipstick": 0.45,
    "WearingNecklace": 0.2, "WearingNecktie": 0.15, "Young": 0.7,
    # hair colour scores compete; these are only their offsets' prevalences
    "BlackHair": 0.5, "BlondHair": 0.5, "BrownHair": 0.5,
}
NOT_DRAWN = ["Attractive", "PointyNose", "StraightHair"]
HAIR = ["BlackHair", "BlondHair", "BrownHair"]
HIDDEN_BY_BALDNESS = ["Bangs", "RecedingHairline", "WavyHair"] + HAIR
GAIN = 4.0  # intensity = sigmoid(GAIN * (u - threshold))


def loading_matrix():
    m = np.zeros((len(FEATURES), N_FACTORS))
    for name, row in LOADINGS.items():
        for factor, value in row.items():
            m[F[name], FACTORS.index(factor)] = value
    assert np.all((m**2).sum(1) < 1.0)
    return m


def _ppf(p):
    """Standard normal quantile (bisection on erf; exact enough for thresholds)."""
    lo, hi = -8.0, 8.0
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < p:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


THRESHOLDS = np.array([_ppf(1 - PREVALENCE.get(n, 0.5)) for n in FEATURES])


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def attributes(z):
    """z: (n, 64) -> (intensity (n, 40) in (0, 1), labels (n, 40) in {0, 1}, nuisance (n, 20))."""
    z = np.asarray(z, dtype=np.float64)
    load = loading_matrix()
    own = np.sqrt(1 - (load**2).sum(1))
    u = z[:, :N_FACTORS] @ load.T + own * z[:, OWN:NUISANCE]
    excess = u - THRESHOLDS
    intensity = sigmoid(GAIN * excess)
    labels = (excess > 0).astype(np.float64)

    # Hair colour: the largest of the three scores, or auburn (score 0.3) if all are below it.
    hair = np.stack([u[:, F[h]] for h in HAIR] + [np.full(len(u), 0.3)], 1)
    weights = np.exp(4 * hair)
    weights /= weights.sum(1, keepdims=True)
    choice = hair.argmax(1)
    gray = labels[:, F["GrayHair"]]
    for k, h in enumerate(HAIR):
        intensity[:, F[h]] = weights[:, k]
        labels[:, F[h]] = (choice == k) * (1 - gray)

    # A bald head shows no fringe, no hairline, no waves and no hair colour (the renderer draws
    # none), so those labels are 0 on it, as an annotator would mark them. A label the picture
    # cannot show would teach the classifier to guess it from its partners' cues instead.
    bald = labels[:, F["Bald"]]
    for h in HIDDEN_BY_BALDNESS:
        labels[:, F[h]] *= 1 - bald

    beards = [F["Goatee"], F["Mustache"], F["5oClockShadow"]]
    intensity[:, F["NoBeard"]] = 1 - intensity[:, beards].max(1)
    labels[:, F["NoBeard"]] = 1 - labels[:, beards].max(1)
    return intensity, labels, z[:, NUISANCE:]


def shown(intensity):
    """How strongly a picture shows each attribute, in (0, 1): the drawn intensity with the
    label rules applied softly, as the renderer applies them. Gray hair covers the hair colour
    and a bald head shows no fringe, hairline, waves or colour. For an attribute drawn alone
    the label is this above 1/2; for the hair colours and what baldness hides, whose labels
    come from several scores, it is close to that, not equal.
    """
    s = intensity.copy()
    for h in HAIR:
        s[:, F[h]] *= 1 - intensity[:, F["GrayHair"]]
    for h in HIDDEN_BY_BALDNESS:
        s[:, F[h]] *= 1 - intensity[:, F["Bald"]]
    return s


def planted_correlation(labels):
    """Pearson correlation of the label columns (constant columns get 0 off the diagonal)."""
    x = labels - labels.mean(0)
    sd = np.sqrt((x**2).mean(0))
    sd[sd == 0] = np.inf
    c = (x.T @ x) / len(x) / np.outer(sd, sd)
    np.fill_diagonal(c, 1.0)
    return c
