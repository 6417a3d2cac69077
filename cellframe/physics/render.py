"""Transmitted-light images of a tissue section: projection of the nuclei and Beer-Lambert colour.

Pure functions on numpy arrays. A nucleus is an ellipsoid with semi-axes ``a``
(in the image plane along ``angle``), ``b`` (in plane) and ``c`` (along depth)
centred at ``(x, y, z)``; the section spans depths ``[0, T]``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter

from cellframe.physics.stereology import clipped_chord

#: Ruifrok & Johnston's optical density vectors (as in scikit-image's ``rgb2hed``)
HAEMATOXYLIN = np.array([0.65, 0.70, 0.29])
EOSIN = np.array([0.07, 0.99, 0.11])


def nucleus_paths(nuclei: pd.DataFrame, shape: tuple[int, int], T: float):
    """Path length through each nucleus inside the section, pixel by pixel.

    :param nuclei: columns ``x, y, z, a, b, c, angle`` (pixels, radians).
    :return: a generator of ``(index, (rows, cols) slices, path)`` per nucleus that reaches the image.
    """
    H, W = shape
    for k, n in enumerate(nuclei.itertuples(index=False)):
        reach = n.a + 1
        r0, r1 = max(int(n.y - reach), 0), min(int(n.y + reach) + 2, H)
        c0, c1 = max(int(n.x - reach), 0), min(int(n.x + reach) + 2, W)
        if r0 >= r1 or c0 >= c1:
            continue
        yy, xx = np.mgrid[r0:r1, c0:c1]
        dx, dy = xx - n.x, yy - n.y
        ca, sa = np.cos(n.angle), np.sin(n.angle)
        u, v = dx * ca + dy * sa, -dx * sa + dy * ca
        q = 1.0 - (u / n.a) ** 2 - (v / n.b) ** 2
        path = clipped_chord(n.z, n.c * np.sqrt(np.maximum(q, 0.0)), T) * (q > 0)
        if path.any():
            yield k, (slice(r0, r1), slice(c0, c1)), path


def project(nuclei: pd.DataFrame, shape: tuple[int, int], T: float, weight: np.ndarray, blur: np.ndarray):
    """Stained and plain path length of all nuclei, and the label of the nucleus with the longest path.

    :param weight: each nucleus' stain concentration (multiplies its stained path).
    :param blur: each nucleus' defocus blur of the stained path (Gaussian sigma, px); grouped in 0.5 px steps.
    :return: ``(stain, path, labels)``: ``(H, W)`` floats (the stained path blurred, the plain path not)
        and int32 (``nuclei['label']``, 0 = none).
    """
    stain = np.zeros(shape)
    plain = np.zeros(shape)
    best = np.zeros(shape)
    labels = np.zeros(shape, np.int32)
    groups = np.round(np.asarray(blur, float) * 2) / 2
    layers: dict[float, np.ndarray] = {}
    label_of = nuclei["label"].to_numpy()
    for k, box, path in nucleus_paths(nuclei, shape, T):
        layer = layers.setdefault(groups[k], np.zeros(shape))
        layer[box] += weight[k] * path
        plain[box] += path
        take = path > best[box]
        best[box][take] = path[take]
        labels[box][take] = label_of[k]
    for sigma, layer in layers.items():
        stain += gaussian_filter(layer, sigma) if sigma > 0 else layer
    return stain, plain, labels


def beer_lambert(h_od: np.ndarray, e_od: np.ndarray, background: float = 245.0, noise: float = 0.0,
                 rng: np.random.Generator | None = None) -> np.ndarray:
    """RGB uint8 of haematoxylin and eosin optical densities (base 10) over a bright background."""
    h = HAEMATOXYLIN / np.linalg.norm(HAEMATOXYLIN)
    e = EOSIN / np.linalg.norm(EOSIN)
    od = h_od[..., None] * h + e_od[..., None] * e
    rgb = background * 10.0 ** (-od)
    if noise > 0:
        rgb = rgb + (rng or np.random.default_rng(0)).normal(0.0, noise, rgb.shape)
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)
