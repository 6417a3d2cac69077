"""Nucleus outlines from a label image (for GeoJSON export and drawings)."""

from __future__ import annotations

import numpy as np
from skimage.measure import find_contours, regionprops

from cellframe.model.sections import circle_polygon


def nucleus_outlines(labels: np.ndarray | None, nuclei) -> list[np.ndarray]:
    """One ``(k, 2)`` x, y outline per nucleus row: traced from ``labels`` when given, else its circle."""
    outlines = {}
    if labels is not None:
        for region in regionprops(labels):
            r0, c0, r1, c1 = region.bbox
            padded = np.pad(region.image, 1).astype(float)
            contours = find_contours(padded, 0.5)
            if contours:
                longest = max(contours, key=len)
                outlines[region.label] = np.column_stack([longest[:, 1] + c0 - 1, longest[:, 0] + r0 - 1])
    return [outlines.get(row.label, circle_polygon((row.x, row.y), row.r, 32)) for row in nuclei.itertuples(index=False)]
