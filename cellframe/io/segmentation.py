"""Classical H&E nucleus segmentation with no model weights (pure functions on arrays)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.color import rgb2hed
from skimage.feature import peak_local_max
from skimage.filters import gaussian, threshold_otsu
from skimage.measure import label as label_components
from skimage.morphology import disk, opening, remove_small_holes, remove_small_objects
from skimage.segmentation import watershed


def haematoxylin_density(image: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """Haematoxylin optical density of an RGB image (colour deconvolution), smoothed."""
    h = rgb2hed(np.asarray(image)[..., :3])[..., 0]
    return gaussian(h, sigma=sigma) if sigma > 0 else h


def segment_nuclei(image: np.ndarray, mpp: float = 0.25, threshold: float | None = None, sigma: float = 1.0,
                   min_area_um2: float = 8.0, max_area_um2: float = 250.0, min_distance_um: float = 2.0,
                   opening_um: float = 0.5, threshold_scale: float = 1.0) -> np.ndarray:
    """Label nuclei in an H&E image: haematoxylin channel, threshold, cleanup, watershed split.

    Parameters
    ----------
    image : (H, W, 3) RGB array.
    mpp : microns per pixel; every size below is in microns and converted with it.
    threshold : haematoxylin density above which a pixel is nucleus; None = Otsu's threshold
        times ``threshold_scale`` (below 1 keeps paler nuclei).
    sigma : Gaussian smoothing of the density, pixels.
    min_area_um2, max_area_um2 : nuclei outside this area range are dropped.
    min_distance_um : smallest distance between the centres of touching nuclei.
    opening_um : radius of the morphological opening that removes specks and thin bridges.

    Returns
    -------
    labels : (H, W) int32, 0 = background.
    """
    px = 1.0 / mpp
    density = haematoxylin_density(image, sigma)
    if threshold is None:
        threshold = threshold_scale * threshold_otsu(density)
    fg = density > threshold
    radius = max(int(round(opening_um * px)), 1)
    fg = opening(fg, disk(radius))
    fg = remove_small_holes(fg, max_size=int(min_area_um2 * px * px))
    fg = remove_small_objects(fg, max_size=int(min_area_um2 * px * px))
    if not fg.any():
        return np.zeros(fg.shape, np.int32)
    distance = ndi.distance_transform_edt(fg)
    comps = label_components(fg)
    peaks = peak_local_max(distance, min_distance=max(int(round(min_distance_um * px)), 1), labels=comps,
                           exclude_border=False)
    markers = np.zeros(fg.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    labels = watershed(-distance, markers, mask=fg)
    areas = np.bincount(labels.ravel())
    lo, hi = min_area_um2 * px * px, max_area_um2 * px * px
    bad = np.flatnonzero((areas < lo) | (areas > hi))
    labels[np.isin(labels, bad[bad > 0])] = 0
    return _compact(labels)


def _compact(labels: np.ndarray) -> np.ndarray:
    """Renumber labels 1..N (0 stays background)."""
    values = np.unique(labels)
    lookup = np.zeros(labels.max() + 1, np.int32)
    lookup[values[values > 0]] = np.arange(1, (values > 0).sum() + 1)
    return lookup[labels]
