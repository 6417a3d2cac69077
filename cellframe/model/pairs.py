"""The fixed structure of the problem: which nuclei can ever touch, and how they cluster.

x and y never move, so two nuclei can interpenetrate in 3D only if their 2D
discs overlap (distance < r_i + r_j). That set of pairs is known before the
first iteration, and the objective is a sum over connected components of the
pair graph.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree


def overlapping_pairs(xy: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Pairs ``(i, j)``, ``i < j``, whose discs overlap: ``|xy_i - xy_j| < r_i + r_j``.

    Returns an ``(m, 2)`` int64 array sorted by ``i`` then ``j``.
    """
    xy = np.asarray(xy, float)
    r = np.asarray(r, float)
    if len(xy) < 2:
        return np.empty((0, 2), np.int64)
    candidates = cKDTree(xy).query_pairs(2.0 * r.max(), output_type="ndarray")
    if len(candidates) == 0:
        return np.empty((0, 2), np.int64)
    i, j = candidates[:, 0], candidates[:, 1]
    keep = np.linalg.norm(xy[i] - xy[j], axis=1) < r[i] + r[j]
    pairs = np.sort(candidates[keep], axis=1).astype(np.int64)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]


def required_separation(xy: np.ndarray, r: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Depth gap ``sqrt((r_i + r_j)^2 - d_ij^2)`` each pair needs to stop touching."""
    i, j = pairs[:, 0], pairs[:, 1]
    d2 = np.sum((xy[i] - xy[j]) ** 2, axis=1)
    return np.sqrt(np.maximum((r[i] + r[j]) ** 2 - d2, 0.0))


def components(n: int, pairs: np.ndarray) -> np.ndarray:
    """Connected-component index of each of ``n`` nuclei in the pair graph."""
    if n == 0:
        return np.empty(0, np.int64)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    return comp.astype(np.int64)


def interpenetrating(centers: np.ndarray, radii: np.ndarray, pairs: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    """Boolean mask of pairs whose spheres (centres, nuclear radii) overlap by more than ``tol``."""
    i, j = pairs[:, 0], pairs[:, 1]
    dist = np.linalg.norm(centers[i] - centers[j], axis=1)
    return (radii[i] + radii[j]) - dist > tol
