"""Segmentation quality against a reference (pure functions on label images).

* pixel Dice of the foregrounds;
* object F1 at IoU >= 0.5 (one-to-one matches, which are unique at that threshold);
* aggregated Jaccard index (AJI, Kumar et al. 2017).
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix


def pixel_dice(reference: np.ndarray, prediction: np.ndarray) -> float:
    """Dice of the foregrounds (non-zero pixels); 1.0 when both are empty."""
    a, b = np.asarray(reference) > 0, np.asarray(prediction) > 0
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else float(2 * np.logical_and(a, b).sum() / total)


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Labels 1..N in order, with 0 kept as background."""
    labels = np.asarray(labels)
    values = np.unique(labels)
    values = values[values != 0]
    lookup = np.zeros(labels.max() + 1 if labels.size else 1, np.int64)
    lookup[values] = np.arange(1, len(values) + 1)
    return lookup[labels]


def iou_matrix(reference: np.ndarray, prediction: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IoU, intersection and union of every reference object (rows) with every predicted one (columns)."""
    ref, pred = _relabel(reference).ravel(), _relabel(prediction).ravel()
    n_ref, n_pred = ref.max(), pred.max()
    inter = coo_matrix((np.ones(ref.size), (ref, pred)), shape=(n_ref + 1, n_pred + 1)).toarray()
    area_ref, area_pred = inter.sum(axis=1), inter.sum(axis=0)
    inter = inter[1:, 1:]
    union = area_ref[1:, None] + area_pred[None, 1:] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0), inter, union


def object_f1(reference: np.ndarray, prediction: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Precision, recall and F1 of objects matched at IoU >= ``threshold`` (>= 0.5 makes matches unique)."""
    iou, _, _ = iou_matrix(reference, prediction)
    n_ref, n_pred = iou.shape
    tp = int((iou >= threshold).any(axis=1).sum()) if iou.size else 0
    precision = tp / n_pred if n_pred else float(n_ref == 0)
    recall = tp / n_ref if n_ref else float(n_pred == 0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "n_reference": n_ref, "n_predicted": n_pred}


def aggregated_jaccard(reference: np.ndarray, prediction: np.ndarray) -> float:
    """AJI: each reference object with its best-IoU prediction; unused predictions add to the union."""
    iou, inter, union = iou_matrix(reference, prediction)
    n_ref, n_pred = iou.shape
    if n_ref == 0:
        return 1.0 if n_pred == 0 else 0.0
    area_pred = np.bincount(_relabel(prediction).ravel(), minlength=n_pred + 1)[1:]
    C = U = 0.0
    used = np.zeros(n_pred, bool)
    area_ref = np.bincount(_relabel(reference).ravel(), minlength=n_ref + 1)[1:]
    for i in range(n_ref):
        if n_pred and iou[i].max() > 0:
            j = int(iou[i].argmax())
            C += inter[i, j]
            U += union[i, j]
            used[j] = True
        else:
            U += area_ref[i]
    U += area_pred[~used].sum()
    return float(C / U) if U else 0.0
