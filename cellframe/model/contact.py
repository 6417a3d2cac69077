"""Perram-Wertheim contact function of ellipsoids whose third axis is vertical.

For ellipsoids A, B with shape matrices ``M = R diag(1/a^2, 1/b^2, 1/c^2) R^T``
and centre offset ``r``,

    F(lambda) = lambda (1 - lambda) r^T [(1 - lambda) M_A^-1 + lambda M_B^-1]^-1 r,

and ``F = max over lambda in [0, 1]``: F < 1 overlap, F = 1 touch, F > 1 apart
(Perram & Wertheim 1985). With the third axis vertical the matrix is block
diagonal (a 2x2 in-plane block and a scalar), so everything is closed form and
evaluated for all pairs and particles at once; F(lambda) is concave, so its
maximum is found by a vectorized golden-section search.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0


def inplane_covariance(a: np.ndarray, b: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """``R diag(a^2, b^2) R^T`` of each in-plane ellipse, as ``(..., 3)``: xx, xy, yy."""
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([a * a * c * c + b * b * s * s, (a * a - b * b) * c * s, a * a * s * s + b * b * c * c], axis=-1)


def contact_function(dxy: np.ndarray, dz: np.ndarray, cov_a: np.ndarray, cov_b: np.ndarray, ca: np.ndarray,
                     cb: np.ndarray, iterations: int = 24) -> np.ndarray:
    """Perram-Wertheim F for pairs of vertical-axis ellipsoids (broadcasting over leading axes).

    :param dxy: ``(..., 2)`` in-plane centre offsets; :param dz: ``(...)`` depth offsets.
    :param cov_a, cov_b: ``(..., 3)`` in-plane covariances (:func:`inplane_covariance`).
    :param ca, cb: vertical semi-axes.
    """
    dx, dy = dxy[..., 0], dxy[..., 1]

    def F(lam):
        m = 1.0 - lam
        sxx = m * cov_a[..., 0] + lam * cov_b[..., 0]
        sxy = m * cov_a[..., 1] + lam * cov_b[..., 1]
        syy = m * cov_a[..., 2] + lam * cov_b[..., 2]
        det = sxx * syy - sxy * sxy
        q = (syy * dx * dx - 2 * sxy * dx * dy + sxx * dy * dy) / det
        return lam * m * (q + dz * dz / (m * ca * ca + lam * cb * cb))

    shape = np.broadcast_shapes(dz.shape, ca.shape, cb.shape, dx.shape)
    lo, hi = np.zeros(shape), np.ones(shape)
    x1, x2 = hi - _GOLDEN * (hi - lo), lo + _GOLDEN * (hi - lo)
    f1, f2 = F(x1), F(x2)
    for _ in range(iterations):
        left = f1 < f2  # the maximum lies right of x1
        lo = np.where(left, x1, lo)
        hi = np.where(left, hi, x2)
        x1, x2 = np.where(left, x2, hi - _GOLDEN * (hi - lo)), np.where(left, lo + _GOLDEN * (hi - lo), x1)
        new = F(np.where(left, x2, x1))
        f1, f2 = np.where(left, f2, new), np.where(left, new, f1)
    return np.maximum(f1, f2)
