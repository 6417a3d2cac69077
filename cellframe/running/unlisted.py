"""Nuclei an imported segmentation leaves out: the objects ``hed_watershed`` takes for nuclei outside
every given outline. Space filling shares the tissue among the nuclei it is given, so each one missing
makes its neighbours' cells too large (``experiments/missed_nuclei``)."""

from __future__ import annotations

import logging

import numpy as np

from cellframe.registry import Registry

log = logging.getLogger("cellframe")

#: an object counts as left out when at most this share of it lies inside the given outlines
MAX_OVERLAP = 0.2
#: the share of left-out nuclei (of given and left out) from which a patch warns
WARN_SHARE = 0.05


def unlisted_objects(registry: Registry, image: np.ndarray, labels: np.ndarray, mpp: float) -> np.ndarray:
    """``(k, 3)`` x, y, r (px) of the objects ``hed_watershed`` (its defaults) finds in ``image`` that the
    label image ``labels`` (the given outlines) leaves out."""
    settings = registry.stage("segmenter", "hed_watershed").schema()
    table = registry.call("segmenter", "hed_watershed", image=image, mask=None, mask_path=None, mpp=mpp,
                          settings=settings)
    found = table.attrs.get("labels")
    if found is None or not len(table):
        return np.zeros((0, 3))
    area = np.bincount(found.ravel())
    inside = np.bincount(found.ravel(), weights=(np.asarray(labels) > 0).ravel(), minlength=len(area))
    ids = table["label"].to_numpy(int)
    out = inside[ids] <= MAX_OVERLAP * area[ids]
    return table.loc[out, ["x", "y", "r"]].to_numpy(float)


def check_outlines(registry: Registry, image: np.ndarray, labels: np.ndarray | None, n_given: int, mpp: float,
                   sample_id: str = "", filled: bool = True) -> tuple[dict[str, int], np.ndarray | None]:
    """``{"unlisted": count}`` for the patch's summary and the objects (:func:`unlisted_objects`), with a
    warning where the left-out share is at least :data:`WARN_SHARE` (``filled``: whether the run lets them
    take their space); nothing where no label image was kept."""
    if labels is None or image is None:
        return {}, None
    objects = unlisted_objects(registry, image, labels, mpp)
    count = len(objects)
    share = count / max(count + n_given, 1)
    if share >= WARN_SHARE:
        then = ("they take their space as nuclei here (reconstruction.fill_unlisted), or the cells around them "
                "would come out too large" if filled else
                "if they are nuclei, the cells around them come out too large; reconstruction.fill_unlisted=true "
                "lets them take their space")
        log.warning("%s%d objects that hed_watershed takes for nuclei lie outside the given outlines (%.0f %% of "
                    "all): %s (R about 3 %% larger for every 10 %% missing; experiments/missed_nuclei)",
                    f"{sample_id}: " if sample_id else "", count, 100 * share, then)
    return {"unlisted": count}, objects
