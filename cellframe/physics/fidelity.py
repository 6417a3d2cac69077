"""Reconstructions against known truth: matching and the metrics of the fidelity study (pure functions).

Depths are compared as distances from each section's mid-plane (what one
section can tell); depth order of nuclei whose profiles overlap is scored as
is and up to a mirror flip of each cluster (which face is up is not visible in
transmitted light).
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from scipy.stats import ks_2samp, spearmanr


def match(ours_xy: np.ndarray, truth_xy: np.ndarray, truth_r: np.ndarray, tolerance: float = 0.5):
    """Pairs ``(i_ours, i_truth)`` of nuclei whose centres lie within ``tolerance * r`` (at least 3 px), one-to-one."""
    if not len(ours_xy) or not len(truth_xy):
        return np.zeros(0, int), np.zeros(0, int)
    d, j = cKDTree(truth_xy).query(ours_xy)
    ok = d <= np.maximum(tolerance * truth_r[j], 3.0)
    i, j, d = np.flatnonzero(ok), j[ok], d[ok]
    order = np.argsort(d)  # nearest first, so each truth nucleus keeps its best match
    _, first = np.unique(j[order], return_index=True)
    keep = order[first]
    return i[keep], j[keep]


def rank_correlation(a, b) -> float:
    """Spearman's rank correlation (NaN with fewer than 3 finite pairs)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    return float(spearmanr(a[ok], b[ok]).statistic) if ok.sum() >= 3 else float("nan")


def overlap_pairs(xy: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``(m, 2)`` index pairs whose discs overlap in 2D."""
    if len(xy) < 2:
        return np.zeros((0, 2), int)
    pairs = cKDTree(xy).query_pairs(2 * float(r.max()), output_type="ndarray")
    d = np.linalg.norm(xy[pairs[:, 0]] - xy[pairs[:, 1]], axis=1)
    return pairs[d < r[pairs[:, 0]] + r[pairs[:, 1]]]


def order_accuracy(pairs: np.ndarray, truth_z: np.ndarray, ours_z: np.ndarray) -> tuple[float, float]:
    """Share of overlapping pairs stacked in the true order, and the same with each cluster's best mirror flip."""
    if not len(pairs):
        return float("nan"), float("nan")
    agree = np.sign(truth_z[pairs[:, 0]] - truth_z[pairs[:, 1]]) == np.sign(ours_z[pairs[:, 0]] - ours_z[pairs[:, 1]])
    n = len(truth_z)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    cluster = comp[pairs[:, 0]]
    right = np.bincount(cluster, weights=agree, minlength=comp.max() + 1)
    total = np.bincount(cluster, minlength=comp.max() + 1)
    return float(agree.mean()), float(np.maximum(right, total - right).sum() / total.sum())


def ks_distance(a, b) -> float:
    """Two-sample Kolmogorov-Smirnov distance of two distributions (NaN ignored)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    return float(ks_2samp(a, b).statistic) if len(a) and len(b) else float("nan")


def cell_overlap(ours: np.ndarray, truth: np.ndarray, ours_labels: np.ndarray, truth_labels: np.ndarray):
    """Per matched cell, Jaccard and Dice of its voxels in two label volumes of the same grid."""
    a, b = ours.ravel().astype(np.int64), truth.ravel().astype(np.int64)
    either = (a > 0) | (b > 0)
    a, b = a[either], b[either]
    width = int(b.max()) + 1 if len(b) else 1
    codes, counts = np.unique(a * width + b, return_counts=True)
    joint = dict(zip(codes.tolist(), counts.tolist()))
    size_a = np.bincount(a, minlength=int(max(ours_labels.max(initial=0), a.max(initial=0))) + 1)
    size_b = np.bincount(b, minlength=int(max(truth_labels.max(initial=0), b.max(initial=0))) + 1)
    inter = np.array([joint.get(int(o) * width + int(t), 0) for o, t in zip(ours_labels, truth_labels)], float)
    union = size_a[ours_labels] + size_b[truth_labels] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / union, 2 * inter / (size_a[ours_labels] + size_b[truth_labels])


def coverage(truth, lo, hi) -> float:
    """Share of cells whose true value lies in ``[lo, hi]``."""
    truth, lo, hi = (np.asarray(v, float) for v in (truth, lo, hi))
    return float(np.mean((truth >= lo) & (truth <= hi))) if len(truth) else float("nan")
