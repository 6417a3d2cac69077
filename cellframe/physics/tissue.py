"""Known-truth tissue: nuclei packed in a 3D slab, cells that fill the space around them.

Pure functions on numpy arrays (pixels; ``z`` into the slab). Cells are the
Laguerre (power) partition of the slab around the nuclei with the nuclear
radius as weight: a point belongs to the cell minimising ``|p - c_i|^2 - rho_i^2``,
so two touching nuclei meet at their common tangent plane and a larger nucleus
claims a larger cell. The same partition is what the ``evidence`` objective
assumes when it estimates cell sizes from an image.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree


def smooth_regions(shape: tuple[int, int], fractions: list[float], scale: float, rng: np.random.Generator) -> list[np.ndarray]:
    """Disjoint smooth regions (e.g. stroma, lumen) covering the given fractions of ``shape`` (2D or 3D)."""
    from scipy.ndimage import gaussian_filter

    out, taken = [], np.zeros(shape, bool)
    for fraction in fractions:
        if fraction <= 0:
            out.append(np.zeros(shape, bool))
            continue
        # periodic in the plane (the patch tiles); in depth (a 3D shape's first axis) the slab ends
        modes = ["wrap"] * len(shape) if len(shape) == 2 else ["reflect"] + ["wrap"] * (len(shape) - 1)
        field = gaussian_filter(rng.standard_normal(shape), scale, mode=modes)
        field[taken] = -np.inf
        threshold = np.quantile(field[~taken], 1 - min(fraction / max((~taken).mean(), 1e-9), 1.0))
        region = field >= threshold
        out.append(region)
        taken |= region
    return out


def pack_nuclei(box: tuple[float, float, float], n_target: int, radii: np.ndarray, spacing: np.ndarray,
                allowed, rng: np.random.Generator, max_tries: int = 40) -> np.ndarray:
    """Random sequential addition of spheres that never interpenetrate.

    :param box: slab size ``(width, height, depth)``; centres are drawn uniformly inside it.
    :param n_target: how many to place at most.
    :param radii: the nuclear radius of each candidate (one per candidate, in order).
    :param spacing: each candidate's exclusion radius (>= its nuclear radius): two centres stay
        at least ``spacing_i + spacing_j`` apart, which spreads cells as tissue does.
    :param allowed: ``allowed(x, y, z) -> bool array``, where nuclei may sit (not in stroma or lumen).
    :return: indices into ``radii`` of the placed nuclei and their centres, ``(k, 3)``.
    """
    W, H, D = box
    placed_idx, centres = [], np.empty((0, 3))
    smax = float(np.max(spacing))
    tree, since_rebuild = None, []
    candidate, misses = 0, 0
    while len(placed_idx) < n_target and candidate < len(radii) and misses < max_tries * max(n_target, 1):
        p = rng.uniform([0, 0, 0], [W, H, D])
        if not allowed(p[:1], p[1:2], p[2:])[0]:
            misses += 1
            continue
        s = spacing[candidate]
        clash = False
        if tree is not None:
            for j in tree.query_ball_point(p, s + smax):
                if np.sum((centres[j] - p) ** 2) < (s + spacing[placed_idx[j]]) ** 2:
                    clash = True
                    break
        if not clash:
            for j in since_rebuild:
                if np.sum((centres[j] - p) ** 2) < (s + spacing[placed_idx[j]]) ** 2:
                    clash = True
                    break
        if clash:
            misses += 1
            candidate += 1  # a fresh size too, so large nuclei are not favoured or starved
            continue
        placed_idx.append(candidate)
        centres = np.vstack([centres, p])
        since_rebuild.append(len(centres) - 1)
        candidate += 1
        if len(since_rebuild) >= 64:
            tree, since_rebuild = cKDTree(centres), []
    return np.asarray(placed_idx, int), centres


def power_labels(points: np.ndarray, centres: np.ndarray, weights: np.ndarray, k: int = 1):
    """Laguerre partition: for each point the ``k`` nearest sites in power distance ``|p - c|^2 - w``.

    Lifts the sites to one more dimension (``sqrt(M - w)``) so a Euclidean k-d tree answers.
    :return: power distances ``(n, k)`` and site indices ``(n, k)`` (``k = 1``: 1-D arrays).
    """
    M = float(np.max(weights)) if len(weights) else 0.0
    lifted = np.column_stack([centres, np.sqrt(np.maximum(M - weights, 0.0))])
    tree = cKDTree(lifted, leafsize=32)  # large leaves: queries come cell by cell, 15-25% faster than 8 or 16
    query = np.column_stack([points, np.zeros(len(points))])
    d, idx = tree.query(query, k=k)
    return d**2 - M, idx


def partition_grid(centres: np.ndarray, rho: np.ndarray, shape_zyx: tuple[int, int, int], step: float, z0: float,
                   outside_2d: np.ndarray | None, extracellular: float) -> np.ndarray:
    """Label every voxel of a ZYX grid with its cell (index + 1), 0 for extracellular space.

    Voxel centres are at ``((k + 0.5) * step + z0, (j + 0.5) * step, (i + 0.5) * step)``.
    :param outside_2d: voxels with no cells (stroma, lumen): ``(nz, ny, nx)``, or ``(ny, nx)`` columns, or None.
    :param extracellular: share of the cellular voxels left between cells: the ones
        closest to a cell boundary (smallest power-distance margin to the runner-up).
    """
    nz, ny, nx = shape_zyx
    zz, yy, xx = np.meshgrid((np.arange(nz) + 0.5) * step + z0, (np.arange(ny) + 0.5) * step,
                             (np.arange(nx) + 0.5) * step, indexing="ij")
    pts = np.column_stack([xx.ravel(), yy.ravel(), zz.ravel()])
    labels = np.zeros(len(pts), np.int32)
    inside = np.ones(len(pts), bool) if outside_2d is None else ~np.broadcast_to(outside_2d, shape_zyx).ravel()
    dist, idx = power_labels(pts[inside], centres, rho**2, k=2)
    lab = idx[:, 0].astype(np.int32) + 1
    if extracellular > 0 and len(lab):
        margin = dist[:, 1] - dist[:, 0]
        lab[margin <= np.quantile(margin, extracellular)] = 0
    labels[inside] = lab
    return labels.reshape(shape_zyx)
