"""Student-t noise: the heavy tails the depth evidence gives any measurement that can be badly off
(an overlapping neighbour, an odd shape, a segmentation error), in the fits and in the energies alike."""

from __future__ import annotations

import numpy as np

#: degrees of freedom
NU = 4.0


def neg_log_kernel(u: np.ndarray, nu: float = NU) -> np.ndarray:
    """``-log`` of the unnormalised density at ``u`` scale units from the centre: ``(nu + 1)/2 log(1 + u^2/nu)``."""
    return 0.5 * (nu + 1) * np.log1p(u * u / nu)


def inverse_kernel(a: np.ndarray) -> np.ndarray:
    """``a ** ((NU + 1) / 2)`` in place, ``a = 1 + u^2 / NU``: one over the unnormalised density.

    Its tails are too heavy to underflow or overflow for any measurement here, so mixtures can sum
    densities directly instead of shifting logs by each row's largest term; for NU = 4 by a square root,
    several times faster than a power.
    """
    if NU != 4.0:
        return np.power(a, a.dtype.type(0.5 * (NU + 1)), out=a)
    root = np.sqrt(a)
    a *= a
    a *= root
    return a
