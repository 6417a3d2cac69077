"""Nuclei from masks: instance splitting and the nuclei table (pure functions on arrays)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage as ndi
from skimage.feature import peak_local_max
from skimage.measure import label as label_components
from skimage.segmentation import watershed

from cellframe.io.files import InputError, full_scale
from cellframe.stages import StageError

log = logging.getLogger("cellframe")

#: Columns every segmenter must return; segmenters may add more (e.g. ``cell_type``).
NUCLEI_COLUMNS = ("label", "x", "y", "r", "area")

#: Ways to turn a nucleus' pixels into a radius.
RADII = ("equivalent", "enclosing")


def check_radius(radius: str) -> None:
    """For segmenter settings: raise a one-line ValueError unless ``radius`` is one of :data:`RADII`."""
    if radius not in RADII:
        raise ValueError(f"radius={radius!r} must be one of {list(RADII)}")


def is_binary(mask: np.ndarray) -> bool:
    """True when a mask holds at most two values (background and foreground)."""
    return np.unique(mask).size <= 2


def mask_plane(mask: np.ndarray, path) -> np.ndarray:
    """A mask file's pixels as one 2D plane: grey as it is; colour (alpha dropped) as labels, one per
    connected piece of one colour, the background black where the mask has black, else white, else
    its commonest colour (two colours: a binary mask, red on white as well as white on black). A
    JPEG's lossy edges make colours of their own: it is read as binary, its brightness thresholded at
    half, with a warning."""
    mask = np.asarray(mask)
    lossy = Path(str(path)).suffix.lower() in (".jpg", ".jpeg")
    if mask.ndim == 3:
        rgb = mask[..., :3]
        if lossy or (rgb == rgb[..., :1]).all():
            mask = rgb.max(axis=2)
        else:
            packed = sum(rgb[..., k].astype(np.uint64) << np.uint64(16 * (2 - k)) for k in range(rgb.shape[2]))
            colours, index, counts = np.unique(packed.ravel(), return_inverse=True, return_counts=True)
            top = np.uint64(full_scale(rgb.dtype))
            white = sum(top << np.uint64(16 * (2 - k)) for k in range(rgb.shape[2]))
            background = (0 if colours[0] == 0 else int(np.flatnonzero(colours == white)[0]) if white in colours
                          else int(np.argmax(counts)))
            index = index.reshape(rgb.shape[:2])
            if len(colours) <= 2:
                return (index != background).astype(np.uint8)
            # each colour's connected pieces: a palette that cycles its colours gives several nuclei one
            return label_components(index, background=background, connectivity=1).astype(np.int32)
    if lossy and mask.ndim == 2 and np.unique(mask).size > 2:
        log.warning("mask %s is a JPEG: its lossy edges are read as binary (brightness over half); save masks as "
                    "PNG or TIFF", path)
        mask = (mask > full_scale(mask.dtype) / 2).astype(np.uint8)
    return mask


def integer_labels(labels: np.ndarray, path) -> np.ndarray:
    """A 2D label image as integers: float labels with whole values (ImageJ, napari and MATLAB save
    labels as float32) are taken as they are; anything else is a one-line InputError."""
    if labels.ndim == 2 and np.issubdtype(labels.dtype, np.floating) and labels.size:
        finite = bool(np.isfinite(labels).all())
        if finite and labels.min() >= 0 and labels.max() < 2**31 and bool((labels == np.round(labels)).all()):
            return labels.astype(np.int32)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise InputError(f"label image {path} must be a 2D integer image (0 background, 1..N; whole-valued floats "
                         f"too), not {labels.ndim}D {labels.dtype}")
    return labels


def split_instances(mask: np.ndarray, min_distance: int = 5) -> np.ndarray:
    """Split a binary nuclei mask into instances (distance transform + watershed).

    Parameters
    ----------
    mask : (H, W) array
        Non-zero pixels are nuclei. Touching nuclei may form one component.
    min_distance : int
        Minimum distance in pixels between two nucleus centres (watershed seeds).

    Returns
    -------
    labels : (H, W) int32 array, 0 = background, 1..N nuclei.
    """
    fg = np.asarray(mask) > 0
    if not fg.any():
        return np.zeros(fg.shape, np.int32)
    distance = ndi.distance_transform_edt(fg)
    components = label_components(fg)
    peaks = peak_local_max(distance, min_distance=min_distance, labels=components, exclude_border=False)
    markers = np.zeros(fg.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    # components too small or flat to have a peak still become one nucleus each
    missing = np.setdiff1d(np.unique(components[fg]), np.unique(components[tuple(peaks.T)]))
    for offset, comp in enumerate(missing, start=len(peaks) + 1):
        rows, cols = np.nonzero(components == comp)
        markers[rows[len(rows) // 2], cols[len(cols) // 2]] = offset
    labels = watershed(-distance, markers, mask=fg)
    return labels.astype(np.int32)


#: optional shape columns a segmenter may add: semi-axes (px) and the major axis' angle to x (radians)
SHAPE_COLUMNS = ("axis_a", "axis_b", "angle")


def region_moments(labels: np.ndarray) -> dict[str, np.ndarray]:
    """Per object of a label image, at once (sums over its pixels, not a loop over regions): ``label``,
    ``area`` (pixels), centroid ``row`` and ``col``, and the central second moments over the area
    (``var_row``, ``var_col``, ``cov``), as :func:`skimage.measure.regionprops` has them. Also ``where``
    (the objects' flat pixel indices) and ``flat`` (their labels), for further sums."""
    labels = np.asarray(labels)
    where = np.flatnonzero(labels)
    flat = labels.ravel()[where]
    n = int(flat.max()) if len(flat) else 0
    count = np.bincount(flat, minlength=n + 1)[1:].astype(float)
    per = np.maximum(count, 1)
    rows, cols = np.divmod(where, labels.shape[1])
    row, col = np.bincount(flat, rows, minlength=n + 1)[1:] / per, np.bincount(flat, cols, minlength=n + 1)[1:] / per
    dr, dc = rows - row[flat - 1], cols - col[flat - 1]
    var_row, var_col, cov = (np.bincount(flat, w, minlength=n + 1)[1:] / per for w in (dr * dr, dc * dc, dr * dc))
    present = np.flatnonzero(count > 0)
    return {"label": present + 1, "area": count[present], "row": row[present], "col": col[present],
            "var_row": var_row[present], "var_col": var_col[present], "cov": cov[present], "where": where, "flat": flat}


def principal_variances(moments: dict) -> tuple[np.ndarray, np.ndarray]:
    """The largest and smallest variance of each object's pixels along any direction: the eigenvalues
    of its second-moment matrix (:func:`region_moments`), in the cancellation-free form."""
    half_sum = (moments["var_row"] + moments["var_col"]) / 2
    root = np.sqrt(((moments["var_row"] - moments["var_col"]) / 2) ** 2 + moments["cov"] ** 2)
    return np.clip(half_sum + root, 0, None), np.clip(half_sum - root, 0, None)


def shape_axes(labels: np.ndarray, table: pd.DataFrame, moments: dict | None = None) -> pd.DataFrame:
    """Equivalent-ellipse semi-axes and orientation of each labelled nucleus, from second moments
    (:func:`region_moments`, or ``moments`` already taken).

    ``angle`` is the major axis' direction in the image's x (column), y (row) frame.
    For a filled ellipse the variance along an axis is (semi-axis)^2 / 4.
    """
    m = region_moments(labels) if moments is None else moments
    l1, l2 = principal_variances(m)
    angle = 0.5 * np.arctan2(2 * m["cov"], m["var_col"] - m["var_row"])
    shape = pd.DataFrame({"label": m["label"], "axis_a": 2 * np.sqrt(l1), "axis_b": 2 * np.sqrt(np.maximum(l2, 0.25)),
                          "angle": angle})
    return table[["label"]].merge(shape, on="label", how="left")[list(SHAPE_COLUMNS)].set_index(table.index)


def enclosing_radii(labels: np.ndarray, table: pd.DataFrame) -> np.ndarray:
    """Distance from each nucleus' centroid to its farthest pixel (+0.5 px for the pixel's extent)."""
    rows, cols = np.nonzero(labels)
    lab = labels[rows, cols]
    centre = table.set_index("label")[["y", "x"]].reindex(lab).to_numpy()
    dist = np.hypot(rows - centre[:, 0], cols - centre[:, 1])
    far = pd.Series(dist).groupby(lab).max()
    return far.reindex(table["label"]).to_numpy() + 0.5


def nuclei_table(labels: np.ndarray, min_area: float = 0.0, radius: str = "equivalent") -> pd.DataFrame:
    """Measure each labelled nucleus: centroid and radius.

    Parameters
    ----------
    labels : (H, W) int array
        0 = background, each positive value one nucleus.
    min_area : float
        Nuclei smaller than this many pixels are dropped.
    radius : {"equivalent", "enclosing"}
        ``r = sqrt(area / pi)``, or the distance to the farthest pixel.

    Returns
    -------
    DataFrame with :data:`NUCLEI_COLUMNS`: ``x`` is the column and ``y`` the row
    of the centroid.
    """
    moments = region_moments(labels)
    table = pd.DataFrame({"label": moments["label"].astype(np.int64), "x": moments["col"], "y": moments["row"],
                          "area": moments["area"]})
    table = table[table["area"] >= min_area].reset_index(drop=True)
    if radius == "enclosing":
        table["r"] = enclosing_radii(np.asarray(labels), table) if len(table) else []
    else:
        table["r"] = np.sqrt(table["area"] / np.pi)
    table = table[list(NUCLEI_COLUMNS)]
    if len(table):
        table = pd.concat([table, shape_axes(labels, table, moments)], axis=1)
    return table


def check_nuclei_table(table: pd.DataFrame, source: str) -> pd.DataFrame:
    """Raise a one-line ValueError unless ``table`` is a usable nuclei table."""
    missing = [c for c in NUCLEI_COLUMNS if c not in table.columns]
    if missing:
        raise StageError(f"{source}: nuclei table lacks columns {missing}")
    values = table[["x", "y", "r"]].to_numpy(float)
    if not np.isfinite(values).all() or (table["r"] <= 0).any():
        raise StageError(f"{source}: nuclei table has non-finite coordinates or non-positive radii")
    return table.reset_index(drop=True)


def nuclei_from_polygons(polygons: list[np.ndarray], shape: tuple[int, int], ids: list[int] | None = None,
                         cell_types: list | None = None, radius: str = "equivalent") -> tuple[pd.DataFrame, np.ndarray]:
    """Nuclei table and label image from nucleus outlines (e.g. HoVer-Net or QuPath exports).

    Parameters
    ----------
    polygons : list of (k, 2) arrays of x, y vertices.
    shape : (H, W) of the image the outlines belong to.
    ids : label of each nucleus (default 1..N).
    cell_types : class of each nucleus, carried as the ``cell_type`` column.
    radius : "equivalent" (circle of the polygon's area) or "enclosing" (farthest vertex from the centroid).
    """
    from shapely import make_valid
    from shapely.geometry import Polygon
    from skimage.draw import polygon as draw_polygon

    ids = list(range(1, len(polygons) + 1)) if ids is None else [int(i) for i in ids]
    labels = np.zeros(shape, np.int32)
    rows = []
    largest = 0.25 * float(shape[0]) * float(shape[1])  # a nucleus is never a quarter of the patch
    counts = {"outside": 0, "huge": 0, "repaired": 0, "empty": 0}
    for label, outline in zip(ids, polygons):
        outline = np.asarray(outline, float)
        if outline.ndim != 2 or outline.shape[1] != 2 or len(outline) < 3 or not np.isfinite(outline).all():
            counts["empty"] += 1
            continue
        shape_ = Polygon(outline)
        if not shape_.is_valid:  # self-intersecting: the valid pieces, the largest kept
            counts["repaired"] += 1
            pieces = [g for g in getattr(make_valid(shape_), "geoms", [make_valid(shape_)]) if g.geom_type == "Polygon"]
            shape_ = max(pieces, key=lambda g: g.area) if pieces else Polygon()
            if not shape_.is_empty:
                outline = np.asarray(shape_.exterior.coords)[:-1]
        if shape_.is_empty or shape_.area <= 0:
            counts["empty"] += 1
            continue
        c = shape_.centroid
        if not (0 <= c.x < shape[1] and 0 <= c.y < shape[0]):
            counts["outside"] += 1
            continue
        if shape_.area > largest:
            counts["huge"] += 1
            continue
        r = np.sqrt(shape_.area / np.pi) if radius == "equivalent" else float(np.hypot(*(outline - [c.x, c.y]).T).max())
        rows.append({"label": label, "x": c.x, "y": c.y, "r": r, "area": shape_.area})
        rr, cc = draw_polygon(outline[:, 1], outline[:, 0], shape)
        labels[rr, cc] = label
    said = {"outside": "centred outside the {w} x {h} px image: dropped",
            "huge": "larger than a quarter of the image: dropped (not nuclei)",
            "repaired": "self-intersecting: repaired, the largest piece kept",
            "empty": "empty or degenerate: dropped"}
    for key, count in counts.items():
        if count:
            log.warning("%d of %d nucleus outlines %s", count, len(polygons),
                        said[key].format(w=shape[1], h=shape[0]))
    table = pd.DataFrame(rows, columns=list(NUCLEI_COLUMNS))
    if len(table):
        table = pd.concat([table, shape_axes(labels, table)], axis=1)
    if cell_types is not None:
        kinds = dict(zip(ids, cell_types))
        table["cell_type"] = [kinds[label] for label in table["label"]]
    table.attrs["labels"] = labels
    return table, labels
