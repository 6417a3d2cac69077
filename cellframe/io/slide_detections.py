"""Slide-level detections (HoVer-Net's WSI JSON, a QuPath GeoJSON of the whole slide) cut into patch files.

A segmenter run on the whole slide elsewhere (where its weights are) writes its nuclei in level-0
slide coordinates. The driver reads that file once and writes, for every patch, the nuclei whose
centre lies in what the patch reads (the patch and its halo) in the patch's own pixels, in the same
format, so the ``hovernet`` and ``qupath`` importers read each patch as they read any patch file.

Coordinates: QuPath's are pixel edges, HoVer-Net's pixel centres (:mod:`cellframe.io.qupath`); both
map to a patch as :meth:`cellframe.io.slides.SlideRegion.to_slide` and the slide GeoJSON map back,
so a slide's cells exported and imported again land where they were.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cellframe.io.files import InputError, write_text
from cellframe.io.qupath import PIXEL_EDGE
from cellframe.io.slides import SlideRegion

#: the importer that reads each file suffix
FORMATS = {".json": "hovernet", ".geojson": "qupath"}


def detection_format(path: Path) -> str:
    """``hovernet`` or ``qupath``, from the file's suffix, or an InputError."""
    kind = FORMATS.get(Path(path).suffix.lower())
    if kind is None:
        raise InputError(f"slide detections {path} must be a HoVer-Net .json or a QuPath .geojson")
    return kind


def _load(path: Path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"slide detections {path} are not readable JSON ({type(exc).__name__})") from None


def _windows(regions: list[SlideRegion]) -> np.ndarray:
    """``(regions, 4)`` level-0 edge coordinates each patch reads: x from, x to, y from, y to."""
    return np.array([[r.x0 - r.halo * r.downsample, r.x0 + (r.size + r.halo) * r.downsample,
                      r.y0 - r.halo * r.downsample, r.y0 + (r.size + r.halo) * r.downsample] for r in regions], float)


def _assign(centres: np.ndarray, regions: list[SlideRegion]) -> list[np.ndarray]:
    """For each region, the indices of the ``(n, 2)`` level-0 edge-coordinate ``centres`` in its window.

    The windows are binned on a grid of the largest one's size, so each centre is tested against the
    regions of its own bin and its eight neighbours only (a slide of thousands of patches and a million
    nuclei is one pass, not their product).
    """
    win = _windows(regions)
    if not len(centres):
        return [np.zeros(0, int) for _ in regions]
    step = float(max((win[:, 1] - win[:, 0]).max(), (win[:, 3] - win[:, 2]).max()))
    bins: dict[tuple[int, int], list[int]] = {}
    for k, (x0, _, y0, _) in enumerate(win):
        bins.setdefault((int(np.floor(x0 / step)), int(np.floor(y0 / step))), []).append(k)
    cx, cy = np.floor(centres[:, 0] / step).astype(int), np.floor(centres[:, 1] / step).astype(int)
    out = [[] for _ in regions]
    for (bx, by), members in bins.items():
        near = np.flatnonzero((np.abs(cx - bx) <= 1) & (np.abs(cy - by) <= 1))
        if not len(near):
            continue
        x, y = centres[near, 0], centres[near, 1]
        for k in members:
            a, b, c, d = win[k]
            out[k].append(near[(x >= a) & (x < b) & (y >= c) & (y < d)])
    return [np.sort(np.concatenate(parts)) if parts else np.zeros(0, int) for parts in out]


def _to_patch(region: SlideRegion):
    """Level-0 edge coordinates -> the patch's edge coordinates (pixels at the read level, halo included)."""
    scale = 1.0 / region.downsample
    return scale, region.halo - region.x0 * scale, region.halo - region.y0 * scale


def split_hovernet(doc: dict, path: Path, regions: list[SlideRegion]) -> list[dict]:
    """One HoVer-Net document per region (its ``nuc`` entries in the region's pixels, same ids)."""
    nuc = doc.get("nuc") if isinstance(doc, dict) else None
    if not isinstance(nuc, dict):
        raise InputError(f"HoVer-Net file {path} has no 'nuc' object")
    keys, centres = [], []
    for key, item in nuc.items():
        contour = item.get("contour") if isinstance(item, dict) else None
        if not contour:
            continue
        try:
            points = np.asarray(contour, float).reshape(-1, 2)
        except (TypeError, ValueError):
            raise InputError(f"{path}: nucleus {key!r} contour is not a list of [x, y] points") from None
        keys.append(key)
        centres.append(points.mean(axis=0) + PIXEL_EDGE)  # centre convention -> edges
    centres = np.asarray(centres, float).reshape(-1, 2)
    docs = []
    for region, idx in zip(regions, _assign(centres, regions)):
        scale, dx, dy = _to_patch(region)
        shift = np.array([dx, dy]) - PIXEL_EDGE + PIXEL_EDGE * scale  # centres -> edges, map, edges -> centres
        out = {}
        for k in idx:
            item = dict(nuc[keys[k]])
            item["contour"] = (np.asarray(item["contour"], float) * scale + shift).round(3).tolist()
            if item.get("centroid") is not None:
                item["centroid"] = (np.asarray(item["centroid"], float) * scale + shift).round(3).tolist()
            item.pop("bbox", None)  # row, col at level 0: not read, and no longer true
            out[keys[k]] = item
        docs.append({"mag": doc.get("mag"), "nuc": out})
    return docs


def split_qupath(doc, path: Path, regions: list[SlideRegion]) -> list[dict]:
    """One QuPath FeatureCollection per region (geometry and nucleus geometry in the region's pixels)."""
    from shapely.affinity import affine_transform
    from shapely.geometry import mapping, shape

    features = doc.get("features", []) if isinstance(doc, dict) else doc
    if not isinstance(features, list):
        raise InputError(f"QuPath GeoJSON {path} holds no features")
    kept, centres = [], []
    for feature in features:
        if not isinstance(feature, dict):
            continue
        props = feature.get("properties") or {}
        geometry = feature.get("nucleusGeometry") or (props.get("nucleusGeometry") if isinstance(props, dict) else None)
        geometry = geometry or feature.get("geometry")
        if not geometry:
            continue
        try:
            centroid = shape(geometry).centroid
        except Exception:
            raise InputError(f"QuPath GeoJSON {path}: a feature has an unreadable geometry") from None
        if centroid.is_empty:
            continue
        kept.append(feature)
        centres.append((centroid.x, centroid.y))
    centres = np.asarray(centres, float).reshape(-1, 2)
    docs = []
    for region, idx in zip(regions, _assign(centres, regions)):
        scale, dx, dy = _to_patch(region)
        matrix = [scale, 0.0, 0.0, scale, dx, dy]

        def moved(geometry):
            return mapping(affine_transform(shape(geometry), matrix)) if geometry else geometry

        out = []
        for k in idx:
            feature = dict(kept[k])
            feature["geometry"] = moved(feature.get("geometry"))
            if feature.get("nucleusGeometry"):
                feature["nucleusGeometry"] = moved(feature["nucleusGeometry"])
            props = feature.get("properties")
            if isinstance(props, dict) and props.get("nucleusGeometry"):
                feature["properties"] = {**props, "nucleusGeometry": moved(props["nucleusGeometry"])}
            out.append(feature)
        docs.append({"type": "FeatureCollection", "features": out})
    return docs


def write_patch_detections(path: Path, regions: list[SlideRegion], folders: list[Path]) -> list[Path]:
    """Read the slide-level detections ``path`` once and write each region's share into its folder
    (``detections.json`` or ``detections.geojson``, atomically); returns the files, in region order."""
    kind = detection_format(path)
    doc = _load(path)
    docs = (split_hovernet if kind == "hovernet" else split_qupath)(doc, path, regions)
    files = []
    for folder, part in zip(folders, docs):
        folder.mkdir(parents=True, exist_ok=True)
        files.append(write_text(folder / f"detections{Path(path).suffix.lower()}", json.dumps(part)))
    return files
