"""Nucleus outlines from a label image (for GeoJSON export and drawings)."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import find_objects
from skimage.measure import find_contours

from cellframe.model.sections import circle_polygon


def nucleus_outlines(labels: np.ndarray | None, nuclei) -> list[np.ndarray]:
    """One ``(k, 2)`` x, y outline per nucleus row (closed: the last vertex repeats the first): traced
    half-way between pixel centres from ``labels`` when given (straight runs as one edge), else its circle."""
    outlines = {}
    if labels is not None:
        boxes = find_objects(labels)
        for label in {int(v) for v in nuclei["label"].tolist()}:
            if not 0 < label <= len(boxes) or boxes[label - 1] is None:
                continue
            rows, cols = boxes[label - 1]
            padded = np.pad(labels[rows, cols] == label, 1).astype(float)
            contours = find_contours(padded, 0.5)
            if contours:
                longest = drop_collinear(max(contours, key=len))
                outlines[label] = np.column_stack([longest[:, 1] + cols.start - 1, longest[:, 0] + rows.start - 1])
    return [outlines.get(row.label, circle_polygon((row.x, row.y), row.r, 32)) for row in nuclei.itertuples(index=False)]


def drop_collinear(ring: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """A closed ring (``(k, 2)``, last vertex equal to the first) without the vertices that lie on a
    straight line between their neighbours: the same outline, fewer vertices."""
    ring = np.asarray(ring, float)
    closed = len(ring) > 1 and np.array_equal(ring[0], ring[-1])
    points = ring[:-1] if closed else ring
    if len(points) < 4:
        return ring
    before = points - np.concatenate([points[-1:], points[:-1]])
    after = np.concatenate([before[1:], before[:1]])
    cross = before[:, 0] * after[:, 1] - before[:, 1] * after[:, 0]
    length = np.sqrt((before**2).sum(axis=1) * (after**2).sum(axis=1))
    straight = (np.abs(cross) <= tol * length) & ((before * after).sum(axis=1) > 0)
    if (~straight).sum() < 3:  # fewer than three corners: not a polygon to thin
        return ring
    kept = points[~straight]
    return np.vstack([kept, kept[:1]]) if closed else kept
