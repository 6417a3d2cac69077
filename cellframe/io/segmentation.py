"""Classical H&E nucleus segmentation with no model weights (pure functions on arrays)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.color import rgb2hed
from skimage.feature import peak_local_max
from skimage.filters import gaussian, threshold_otsu
from skimage.measure import label as label_components
from skimage.measure import regionprops
from skimage.morphology import dilation, disk, opening, remove_small_holes, remove_small_objects
from skimage.segmentation import watershed

from cellframe.io.files import full_scale


def haematoxylin_density(image: np.ndarray, sigma: float = 1.0, hed: np.ndarray | None = None) -> np.ndarray:
    """Haematoxylin optical density of an RGB image (colour deconvolution, or ``hed`` when the caller
    has it), smoothed."""
    h = (rgb2hed(np.asarray(image)[..., :3]) if hed is None else hed)[..., 0]
    return gaussian(h, sigma=sigma) if sigma > 0 else h


def drawn_inverted(mask: np.ndarray, image: np.ndarray) -> tuple[bool, float, float]:
    """Whether a binary mask draws nuclei as its zero pixels (black on white, as ImageJ saves a mask
    without "black background"): its non-zero pixels paler in haematoxylin than the rest, which
    nuclei never are in bright-field. Also the two mean densities (non-zero, zero pixels). An image
    darker than mid-grey (fluorescence: nuclei bright on black) is not judged."""
    on = np.asarray(mask) != 0
    rgb = np.asarray(image)[..., :3]
    if on.all() or not on.any() or np.median(rgb.mean(axis=-1)) < 0.5 * full_scale(rgb.dtype):
        return False, float("nan"), float("nan")
    h = haematoxylin_density(image, 0.0)
    inside, outside = float(h[on].mean()), float(h[~on].mean())
    return inside < outside, inside, outside


def segment_nuclei(image: np.ndarray, mpp: float = 0.25, threshold: float | None = None, sigma: float = 1.0,
                   min_area_um2: float = 8.0, max_area_um2: float = 250.0, min_distance_um: float = 2.0,
                   opening_um: float = 0.5, threshold_scale: float = 1.0, hed: np.ndarray | None = None,
                   density: np.ndarray | None = None) -> np.ndarray:
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
    hed : the image's colour deconvolution (``skimage.color.rgb2hed``), if already computed.
    density : :func:`haematoxylin_density` of the image with ``sigma``, if already computed.

    Returns
    -------
    labels : (H, W) int32, 0 = background.
    """
    px = 1.0 / mpp
    if density is None:
        density = haematoxylin_density(image, sigma, hed)
    if threshold is None:
        threshold = threshold_scale * threshold_otsu(density)
    fg = density > threshold
    radius = max(int(round(opening_um * px)), 1)
    fg = opening(fg, disk(radius))
    fg = remove_small_holes(fg, max_size=int(min_area_um2 * px * px))
    fg = remove_small_objects(fg, max_size=int(min_area_um2 * px * px))
    if not fg.any():
        return np.zeros(fg.shape, np.int32)
    return _split_touching(fg, px, min_distance_um, min_area_um2, max_area_um2)


def _split_touching(fg: np.ndarray, px: float, min_distance_um: float, min_area_um2: float,
                    max_area_um2: float) -> np.ndarray:
    """Touching nuclei of a foreground split by a distance-transform watershed; objects outside the
    area range dropped."""
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


#: pale nuclei are held to a stricter convexity than the first pass's: at a low threshold, stroma and
#: cytoplasm make irregular shapes
PALE_MIN_SOLIDITY = 0.85


def pale_nuclei(found: np.ndarray, hed: np.ndarray, threshold: float, mpp: float = 0.25, scale: float = 0.4,
                contrast: float = 2.5, sigma_um: float = 0.375, min_area_um2: float = 8.0,
                max_area_um2: float = 250.0, min_distance_um: float = 2.0, opening_um: float = 0.5,
                ring_um: float = 0.75, **reject) -> np.ndarray:
    """Nuclei paler than a threshold finds (vesicular nuclei, clumped chromatin, shallow caps), by a second
    threshold at ``scale`` times the first, away from the nuclei already ``found``.

    A candidate is kept only if it looks like a nucleus (:func:`reject_non_nuclei`, with ``reject``'s
    criteria and a solidity of at least :data:`PALE_MIN_SOLIDITY`) and stands out from what surrounds it:
    its mean haematoxylin density at least ``contrast`` times that of a ring ``ring_um`` wide around it
    (pale stroma and cytoplasm pass a low threshold too, but do not stand out from their surround).

    Parameters
    ----------
    found : (H, W) labels of the nuclei the first threshold kept.
    hed : the image's colour deconvolution (``skimage.color.rgb2hed``).
    threshold : the first pass's haematoxylin density threshold.
    scale : the second threshold as a share of the first.
    sigma_um : Gaussian smoothing before the second threshold, microns (joins clumped chromatin).

    Returns
    -------
    labels : (H, W) int32 of the pale nuclei alone, 1..N.
    """
    px = 1.0 / mpp
    density = gaussian(hed[..., 0], sigma=sigma_um * px)
    footprint = disk(max(int(round(opening_um * px)), 1))
    free = ~dilation(found > 0, footprint)
    fg = ndi.binary_fill_holes((density > scale * threshold) & free)
    fg = opening(fg, footprint)
    fg = remove_small_objects(fg, max_size=int(min_area_um2 * px * px))
    if not fg.any():
        return np.zeros(fg.shape, np.int32)
    ring_px = max(int(round(ring_um * px)), 1)
    # the surround test on whole candidate regions first (cheap), then on each nucleus split from them
    regions = _standing_out(label_components(fg), found, density, contrast, ring_px)
    if not regions.any():
        return np.zeros(fg.shape, np.int32)
    labels = _standing_out(_split_touching(regions > 0, px, min_distance_um, min_area_um2, max_area_um2),
                           found, density, contrast, ring_px)
    reject = {**reject, "min_solidity": max(reject.get("min_solidity") or 0.0, PALE_MIN_SOLIDITY)}
    return reject_non_nuclei(labels, hed=hed, image=None, mpp=mpp, **reject)[0]


def _standing_out(labels: np.ndarray, found: np.ndarray, density: np.ndarray, contrast: float,
                  ring_px: int) -> np.ndarray:
    """``labels`` without the objects whose mean density is under ``contrast`` times that of the ring
    ``ring_px`` wide around them (the ring leaves out every object and the nuclei ``found``; where two
    objects' rings meet, the pixel goes to the larger label)."""
    if not labels.any():
        return labels
    ring = ndi.grey_dilation(labels, footprint=disk(ring_px))
    ring[(labels > 0) | (found > 0)] = 0
    n = int(labels.max()) + 1
    inside, around = _label_means(labels.ravel(), density.ravel(), n), _label_means(ring.ravel(), density.ravel(), n)
    dim = inside < contrast * np.maximum(around, 1e-6)
    dim[0] = False
    out = labels.copy()
    out[dim[labels]] = 0
    return out


def darker_than_surround(labels: np.ndarray, density: np.ndarray, ring_px: int,
                         min_contrast: float) -> tuple[np.ndarray, int]:
    """``labels`` without the objects whose mean ``density`` is under ``min_contrast`` times that of the
    ring ``ring_px`` wide around them, neighbouring objects' pixels included, and how many were dropped.

    A nucleus is darker than whatever touches it, cytoplasm or another nucleus' rim; a stained mass a
    threshold takes whole and the watershed cuts into nucleus-sized tiles (keratin, a fold) is not
    darker than its own other tiles. Each ring pixel counts for the largest and the smallest label
    within ``ring_px`` of it, so a tile's ring holds its neighbours on every side.
    """
    present = np.bincount(labels.ravel(), minlength=int(labels.max()) + 1) > 0
    present[0] = False
    if not present.any():
        return labels, 0
    n = len(present)
    footprint = disk(ring_px)
    high = ndi.grey_dilation(labels, footprint=footprint)
    low = ndi.grey_erosion(np.where(labels > 0, labels, n), footprint=footprint)
    low[low == n] = 0
    first = (high > 0) & (high != labels)
    second = (low > 0) & (low != labels) & (low != high)
    ring = np.concatenate([high[first], low[second]])
    around = _label_means(ring, np.concatenate([density[first], density[second]]), n)
    inside = _label_means(labels.ravel(), density.ravel(), n)
    dim = present & (inside < min_contrast * np.maximum(around, 1e-6))
    if not dim.any():
        return labels, 0
    return _compact(np.where(dim[labels], 0, labels)), int(dim.sum())


def _label_means(labels: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """The mean of ``values`` over the pixels of each label ``0..n-1`` (0 where a label has none)."""
    return np.bincount(labels, values, n) / np.maximum(np.bincount(labels, None, n), 1)


def reject_non_nuclei(labels: np.ndarray, image: np.ndarray, mpp: float = 0.25, max_diameter_um: float | None = 18.0,
                      min_solidity: float | None = 0.75, max_eccentricity: float | None = 0.99,
                      min_haematoxylin_share: float | None = 0.5,
                      hed: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, int]]:
    """Drop objects that do not look like nuclei: keratin, debris, folds, stroma fibres.

    Parameters
    ----------
    labels : (H, W) instance labels.
    image : (H, W, 3) RGB image they were found in.
    mpp : microns per pixel.
    max_diameter_um : objects whose equivalent diameter is larger are dropped (folds, clumps).
    min_solidity : area over convex-hull area; nuclei are nearly convex, debris and folds are not.
    max_eccentricity : of the fitted ellipse; fibres and fold edges are lines.
    min_haematoxylin_share : mean haematoxylin over haematoxylin + eosin optical density inside
        the object; keratin and red cells are eosinophilic.
    Each criterion given as None is not applied.
    hed : the image's colour deconvolution (``skimage.color.rgb2hed``), if already computed.

    Returns
    -------
    labels : (H, W) int32, renumbered 1..N.
    rejected : how many objects each criterion dropped (an object failing several counts once,
        under the first), and ``kept``.
    """
    if not labels.any():
        return labels.astype(np.int32), {"kept": 0}
    hed = rgb2hed(np.asarray(image)[..., :3]) if hed is None else hed
    m = region_measures(labels, hed[..., 0], np.maximum(hed[..., 1], 0))
    share = m["haematoxylin"] / np.maximum(m["haematoxylin"] + m["eosin"], 1e-9)
    too_large = None if max_diameter_um is None else m["equivalent_diameter"] * mpp > max_diameter_um
    not_convex = None
    if min_solidity is not None:
        # the convex hull lies in the bounding box: objects that fill enough of theirs are convex enough,
        # and only the others' hulls are computed (the objects already too large need none)
        unsure = m["area"] < min_solidity * m["bbox_area"]
        if too_large is not None:
            unsure &= ~too_large
        not_convex = np.zeros(len(m["label"]), bool)
        if unsure.any():
            props = regionprops(np.where(np.isin(labels, m["label"][unsure]), labels, 0))
            not_convex[unsure] = [p.solidity < min_solidity for p in props]  # both in label order
    tests = {"too_large": too_large, "not_convex": not_convex,
             "too_elongated": None if max_eccentricity is None else m["eccentricity"] > max_eccentricity,
             "not_haematoxylin": None if min_haematoxylin_share is None else share < min_haematoxylin_share}
    bad = np.zeros(len(m["label"]), bool)
    rejected = {}
    for reason, fails in tests.items():
        if fails is None:
            continue
        rejected[reason] = int((fails & ~bad).sum())
        bad |= fails
    out = labels.copy()
    out[np.isin(out, m["label"][bad])] = 0
    rejected["kept"] = int((~bad).sum())
    return _compact(out), rejected


def region_measures(labels: np.ndarray, *intensities: np.ndarray) -> dict[str, np.ndarray]:
    """Per object of a label image, at once (sums over pixels, not a loop over regions): ``label``,
    ``area`` (pixels), ``bbox_area``, ``equivalent_diameter`` (px), ``eccentricity`` (of the ellipse with
    the same second moments, as :func:`skimage.measure.regionprops`), and the mean of each intensity
    image (``haematoxylin`` and ``eosin`` for the first two, else ``mean_0``, ``mean_1``...)."""
    from scipy.ndimage import find_objects

    from cellframe.io.nuclei import principal_variances, region_moments

    m = region_moments(labels)
    where, flat, n = m["where"], m["flat"], int(m["label"].max()) if len(m["label"]) else 0
    boxes = find_objects(np.asarray(labels), max_label=n)
    box = np.array([(b[0].stop - b[0].start) * (b[1].stop - b[1].start) for b in (boxes[k - 1] for k in m["label"])],
                   float)
    l1, l2 = principal_variances(m)  # the inertia tensor's eigenvalues, as regionprops takes them
    eccentricity = np.sqrt(1 - np.divide(l2, l1, out=np.ones_like(l1), where=l1 > 0))
    area = m["area"]
    out = {"label": m["label"], "area": area, "bbox_area": box, "equivalent_diameter": np.sqrt(4 * area / np.pi),
           "eccentricity": eccentricity}
    names = ("haematoxylin", "eosin") if len(intensities) == 2 else [f"mean_{k}" for k in range(len(intensities))]
    for name, image in zip(names, intensities):
        out[name] = np.bincount(flat, np.asarray(image, float).ravel()[where], minlength=n + 1)[m["label"]] / area
    return out


def _compact(labels: np.ndarray) -> np.ndarray:
    """Renumber labels 1..N (0 stays background)."""
    values = np.unique(labels)
    lookup = np.zeros(labels.max() + 1, np.int32)
    lookup[values[values > 0]] = np.arange(1, (values > 0).sum() + 1)
    return lookup[labels]
