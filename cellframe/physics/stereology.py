"""What a section of thickness ``T`` shows of a nucleus: chords, profiles and lost caps.

Depth ``z`` is measured into the section, whose faces are ``z = 0`` and ``z = T``
(pixels). A nucleus is a sphere of radius ``rho`` (or an ellipsoid whose axis
along ``z`` is ``c``) centred at depth ``zc``; its centre may lie outside the
section, and the section then holds only a cap of it (Wicksell's corpuscle
problem; Keiding, Jensen & Ranek 1972). In transmitted light the image shows
the projection of the part inside the section: at each pixel the absorbance is
proportional to the path length through stained material (Beer-Lambert).

Pure functions on numpy arrays; the simulator and the ``evidence`` objective
both use them, so the physics is written once.
"""

from __future__ import annotations

import numpy as np


def clipped_chord(zc, half, T: float):
    """Length of the chord ``[zc - half, zc + half]`` inside ``[0, T]`` (0 where ``half <= 0``)."""
    half = np.maximum(half, 0.0)  # a chord of length 0 comes out 0 (min(zc, T) - max(zc, 0) <= 0)
    top, bottom = np.add(zc, half), np.subtract(zc, half)
    if np.ndim(top) == 0 or np.broadcast_shapes(top.shape, np.shape(T)) != top.shape:
        return np.maximum(np.minimum(top, T) - np.maximum(bottom, 0.0), 0.0)
    # in place: on the lost-caps grids (nuclei x depths x rings) each temporary is tens of MB
    np.minimum(top, T, out=top)
    np.maximum(bottom, 0.0, out=bottom)
    np.subtract(top, bottom, out=top)
    return np.maximum(top, 0.0, out=top)


def face_distance(zc, T: float):
    """How far a centre lies outside the section (0 inside ``[0, T]``)."""
    zc = np.asarray(zc, float)
    return np.maximum(np.maximum(-zc, zc - T), 0.0)


def profile_radius(rho, zc, T: float):
    """Radius of the projected profile: ``rho`` when the centre is inside the section,
    the cap's ``sqrt(rho^2 - h^2)`` when it lies ``h`` outside (0 if the nucleus misses it)."""
    h = face_distance(zc, T)
    return np.sqrt(np.maximum(np.asarray(rho, float) ** 2 - h**2, 0.0))


def edge_offset(zc, T: float, edge: float = 0.0):
    """How far below a nucleus' centre (along depth) its visible outline is cut: its profile radius is
    ``sqrt(rho^2 - e^2)``.

    ``edge`` is the chromatin path (px) a profile's rim needs to be seen (segmented): 0 takes the
    geometric cut. A cap whose centre lies ``h`` outside the section shows out to where it reaches
    ``edge`` into it (``e = h + edge``); a nucleus centred inside shows out to where its chord is ``edge``
    long (``e = edge / 2``, up to ``edge`` at a face).
    """
    zc = np.asarray(zc, float)
    h = face_distance(zc, T)
    if np.all(np.asarray(edge) <= 0):
        return h
    inside = np.minimum(np.abs(zc), np.abs(T - zc))
    return np.where(h > 0, h + edge, np.maximum(edge - inside, edge / 2))


def radius_from_profile(r_obs, zc, T: float, edge: float = 0.0, q=1.0):
    """The true radius (in the plane) of a nucleus whose profile has radius ``r_obs`` with its centre at
    ``zc`` (``edge``: see :func:`edge_offset`).

    :param q: the nucleus' semi-axis along depth over its radius in the plane (a spheroid; 1: a sphere).
        Depth scaled by ``1 / q`` makes it a sphere in a section ``T / q`` thick.
    """
    q = np.asarray(q, float)
    return np.sqrt(np.asarray(r_obs, float) ** 2 + edge_offset(np.asarray(zc, float) / q, T / q, edge / q) ** 2)


def seen_depths(rho, T: float, r_min: float, edge: float = 0.0, q=1.0):
    """Thickness of the slab a centre can lie in for a nucleus of radius ``rho`` to show a profile of at
    least ``r_min`` (:func:`edge_offset`); ``T + 2 sqrt(rho^2 - r_min^2)`` for the geometric cut.

    :param q: semi-axis along depth over ``rho`` (:func:`radius_from_profile`).
    """
    q = np.asarray(q, float)
    T, edge = T / q, edge / q  # the sphere's section (radius_from_profile), its slab scaled back by q
    reach = np.sqrt(np.maximum(np.asarray(rho, float) ** 2 - r_min**2, 0.0))
    if np.all(edge <= 0):
        return q * (T * (np.asarray(rho) >= r_min) + 2 * reach)
    return q * (np.maximum(T - edge, 0.0) * (reach >= edge / 2) + 2 * np.clip(reach - edge / 2, 0.0, edge / 2)
                + 2 * np.maximum(reach - edge, 0.0))


#: for nuclei turned at random in 3D, the spread of log(semi-axis along depth / profile's equivalent radius)
#: over the mean of half the log aspect ratio of their profiles: 1.2-1.4 for prolate, oblate and triaxial
#: ellipsoids of aspect ratios 1.1-2.5 (Monte Carlo over random rotations)
DEPTH_AXIS_PER_ELONGATION = 1.3


def depth_axis_spread(axis_a, axis_b, r, min_r: float = 4.0) -> float:
    """How much a nucleus' semi-axis along depth may differ from its profile's radius (log scale), from
    how elongated the profiles are: ``DEPTH_AXIS_PER_ELONGATION`` times the mean of ``log(a / b) / 2``.

    A profile shows a nucleus' extent in the plane only. Nuclei turned at random in 3D are as
    elongated along depth as across the plane, so their profiles' elongation tells how far depth's
    semi-axis spreads; round profiles say spheres (0). Profiles under ``min_r`` px are left out
    (pixels make small ones look elongated) unless fewer than 30 remain.
    """
    a, b, r = (np.asarray(v, float) for v in (axis_a, axis_b, r))
    ok = np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0)
    big = ok & (r >= min_r)
    use = big if big.sum() >= 30 else ok
    if not use.any():
        return 0.0
    return float(DEPTH_AXIS_PER_ELONGATION * np.mean(0.5 * np.log(a[use] / b[use])))


def volume_density(seen, area: float) -> float:
    """Nuclei per px^3 of tissue from the profiles in ``area`` px^2 of it, each seen over ``seen`` px of
    depth (:func:`seen_depths`): Horvitz-Thompson, each profile standing for ``1 / seen`` nuclei per px^2.

    Not the count over the mean seen depth: large nuclei show over a deeper slab, so the profiles
    over-sample them and their mean seen depth is the population's inflated by its spread.
    """
    return float(np.sum(1.0 / np.maximum(np.asarray(seen, float), 1.0))) / max(float(area), 1.0)


def mean_path(rho, zc, T: float, r_in, n: int = 16, q=1.0):
    """Mean path length through the nucleus inside the section, over the central disc of radius ``r_in``.

    Broadcasts over ``rho``, ``zc``, ``r_in`` and ``q`` (semi-axis along depth over ``rho``:
    :func:`radius_from_profile`); midpoint rule over rings of equal area.
    """
    q, T = np.asarray(q, float), np.asarray(T, float)
    rho, zc, r_in = np.asarray(rho, float), np.asarray(zc, float) / q, np.asarray(r_in, float)
    arrays = (rho, zc, r_in, q, T)
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    rows = max(int(2**16 // max(n * int(np.prod(shape[1:])), 1)), 1) if len(shape) > 1 else 0
    if not rows or rows >= shape[0]:
        return _mean_path(*arrays, n)
    # blocks of rows, so that each (rows, ..., rings) temporary stays in cache (the same sums)
    out = np.empty(shape)
    for start in range(0, shape[0], rows):
        block = slice(start, start + rows)
        out[block] = _mean_path(*(a[block] if a.ndim == len(shape) and a.shape[0] > 1 else a for a in arrays), n)
    return out


def _mean_path(rho, zc, r_in, q, T, n: int):
    u = (np.arange(n) + 0.5) / n  # equal-area rings: s = r_in * sqrt(u)
    s = r_in[..., None] * np.sqrt(u)  # each array on its own shape; they broadcast only where they meet
    half = rho[..., None] ** 2 - s**2  # a fresh array of the full shape: the rest in place
    np.sqrt(np.maximum(half, 0.0, out=half), out=half)
    return q * clipped_chord(zc[..., None], half, (T / q)[..., None]).mean(axis=-1)


def volume_in_section(rho, zc, T: float):
    """Volume of a sphere's part inside ``[0, T]`` (exact: the spherical segment between two planes)."""
    rho, zc = np.broadcast_arrays(np.asarray(rho, float), np.asarray(zc, float))
    lo = np.clip(0.0 - zc, -rho, rho)
    hi = np.clip(T - zc, -rho, rho)

    def primitive(u):  # integral of pi (rho^2 - u^2) du
        return np.pi * (rho**2 * u - u**3 / 3.0)

    return np.maximum(primitive(hi) - primitive(lo), 0.0)


def ellipse_outline(x: float, y: float, a: float, b: float, angle: float, n: int = 32) -> np.ndarray:
    """``(n, 2)`` x, y vertices of an ellipse with semi-axes ``a`` (along ``angle``) and ``b``."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    u, v = a * np.cos(t), b * np.sin(t)
    ca, sa = np.cos(angle), np.sin(angle)
    return np.column_stack([x + u * ca - v * sa, y + u * sa + v * ca])
