"""Segmenter ``hed_watershed``: nuclei from the H&E image alone, no model weights.

Colour deconvolution to the haematoxylin channel (scikit-image), threshold
(Otsu's, scaled by ``threshold_scale``, by default), opening and small-object cleanup, then a distance-transform
watershed splits touching nuclei; objects that do not look like nuclei (too large, not convex,
line-like, eosinophilic: keratin, debris, folds) are dropped and counted (``segment_*`` in
``summary.csv`` and MLflow). A second, lower threshold then finds nuclei paler than the first
(vesicular nuclei, clumped chromatin, shallow caps) away from those already found, kept only where
they stand out from their surround (``pale_*``; counted as ``segment_pale``). Last, every object
must be darker than the ring around it, its neighbours included (``min_contrast``; dropped ones
counted as ``segment_low_contrast``): watershed tiles of keratin or a fold are not. Sizes are in
microns, converted with ``input.mpp``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from skimage.color import rgb2hed
from skimage.filters import threshold_otsu

from cellframe import hookimpl
from cellframe.io.nuclei import check_radius, nuclei_table
from cellframe.io.segmentation import (darker_than_surround, haematoxylin_density, pale_nuclei, reject_non_nuclei,
                                       segment_nuclei)
from cellframe.stages import Stage, StageError


@dataclass
class HedWatershedSettings:
    name: str = "hed_watershed"
    #: haematoxylin density threshold; None = Otsu's, times threshold_scale
    threshold: Optional[float] = None
    #: below 1 keeps paler nuclei (0.85 was best on the demo patches)
    threshold_scale: float = 0.85
    #: Gaussian smoothing of the density, pixels
    sigma: float = 1.0
    min_area_um2: float = 8.0
    max_area_um2: float = 250.0
    min_distance_um: float = 2.0
    opening_um: float = 0.5
    radius: str = "equivalent"
    #: objects kept only if they look like nuclei (cellframe.io.segmentation.reject_non_nuclei);
    #: None switches a criterion off
    max_diameter_um: Optional[float] = 18.0
    min_solidity: Optional[float] = 0.75
    max_eccentricity: Optional[float] = 0.99
    min_haematoxylin_share: Optional[float] = 0.5
    #: second pass for pale nuclei: its threshold as a share of the first; None switches it off
    pale_threshold_scale: Optional[float] = 0.4
    #: a pale nucleus' mean haematoxylin density over that of the ring around it, at least
    pale_contrast: float = 2.5
    #: smoothing before the second threshold, microns (joins clumped chromatin)
    pale_sigma_um: float = 0.375
    #: every object's mean haematoxylin density over that of the ring contrast_ring_um wide around it,
    #: neighbours included, at least this (a nucleus is darker than whatever touches it; tiles the
    #: watershed cuts from keratin or a fold are not); None switches the test off
    min_contrast: Optional[float] = 1.4
    contrast_ring_um: float = 0.75

    def __post_init__(self) -> None:
        if not 0 < self.min_area_um2 < self.max_area_um2:
            raise ValueError(f"min_area_um2={self.min_area_um2} and max_area_um2={self.max_area_um2} "
                             "must satisfy 0 < min < max")
        if not 0 < self.threshold_scale:
            raise ValueError(f"threshold_scale={self.threshold_scale} must be > 0")
        if self.pale_threshold_scale is not None and not 0 < self.pale_threshold_scale < 1:
            raise ValueError(f"pale_threshold_scale={self.pale_threshold_scale} must be in (0, 1), or null")
        if not self.pale_contrast >= 1:
            raise ValueError(f"pale_contrast={self.pale_contrast} must be >= 1")
        if not self.pale_sigma_um >= 0:
            raise ValueError(f"pale_sigma_um={self.pale_sigma_um} must be >= 0")
        if self.min_contrast is not None and not self.min_contrast > 0:
            raise ValueError(f"min_contrast={self.min_contrast} must be > 0, or null")
        if not self.contrast_ring_um > 0:
            raise ValueError(f"contrast_ring_um={self.contrast_ring_um} must be > 0")
        check_radius(self.radius)


@hookimpl
def cellframe_stages():
    return [Stage("segmenter", "hed_watershed", HedWatershedSettings,
                  "haematoxylin deconvolution + threshold + watershed (no weights)")]


@hookimpl
def cellframe_segment(image, mpp, settings):
    if image is None:
        raise StageError("segmenter 'hed_watershed' needs input.image")
    hed = rgb2hed(np.asarray(image)[..., :3])  # once, for both steps
    density = haematoxylin_density(image, settings.sigma, hed)
    threshold = settings.threshold
    if threshold is None:  # the second pass's threshold is a share of this one
        threshold = settings.threshold_scale * threshold_otsu(density)
    labels = segment_nuclei(image, mpp, threshold, settings.sigma, settings.min_area_um2, settings.max_area_um2,
                            settings.min_distance_um, settings.opening_um, hed=hed, density=density)
    reject = dict(max_diameter_um=settings.max_diameter_um, min_solidity=settings.min_solidity,
                  max_eccentricity=settings.max_eccentricity, min_haematoxylin_share=settings.min_haematoxylin_share)
    labels, counts = reject_non_nuclei(labels, image, mpp, hed=hed, **reject)
    if settings.pale_threshold_scale is not None:
        pale = pale_nuclei(labels, hed, threshold, mpp, settings.pale_threshold_scale, settings.pale_contrast,
                           settings.pale_sigma_um, settings.min_area_um2, settings.max_area_um2,
                           settings.min_distance_um, settings.opening_um, **reject)
        counts["pale"] = int(pale.max())
        counts["kept"] += counts["pale"]
        labels = np.where(pale > 0, pale + labels.max(), labels).astype(np.int32)
    if settings.min_contrast is not None:  # on both passes' nuclei together: each one's ring holds the others
        labels, counts["low_contrast"] = darker_than_surround(
            labels, density, max(int(round(settings.contrast_ring_um / mpp)), 1), settings.min_contrast)
        counts["kept"] -= counts["low_contrast"]
    table = nuclei_table(labels, radius=settings.radius)
    table.attrs["labels"] = labels
    table.attrs["counts"] = {f"segment_{key}": value for key, value in counts.items()}
    return table
