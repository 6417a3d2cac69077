"""Slide-level detections (HoVer-Net's WSI JSON, a QuPath GeoJSON of the whole slide) cut into patch files.

A segmenter run on the whole slide elsewhere (where its weights are) writes its nuclei in level-0
slide coordinates. The driver reads that file and writes, for every patch, the nuclei whose centre
lies in what the patch reads (the patch and its halo) in the patch's own pixels, in the same format,
so the ``hovernet`` and ``qupath`` importers read each patch as they read any patch file.

The file is streamed (ijson), twice: once for each nucleus' centre, once to write it where it
belongs; memory holds the centres and a bounded buffer, not the file (a 40x slide's HoVer-Net JSON
runs to gigabytes).

Coordinates: QuPath's are pixel edges, HoVer-Net's pixel centres (:mod:`cellframe.io.qupath`); both
map to a patch as :meth:`cellframe.io.slides.SlideRegion.to_slide` and the slide GeoJSON map back,
so a slide's cells exported and imported again land where they were.
"""

from __future__ import annotations

import json
import os
from array import array
from pathlib import Path
from typing import Iterator

import numpy as np

from cellframe.io.files import InputError, atomic_path
from cellframe.io.qupath import PIXEL_EDGE
from cellframe.io.slides import SlideRegion

#: the importer that reads each file suffix
FORMATS = {".json": "hovernet", ".geojson": "qupath"}
#: text held for the patch files before it is written out, characters
BUFFER_CHARS = 32 * 2**20


def detection_format(path: Path) -> str:
    """``hovernet`` or ``qupath``, from the file's suffix, or an InputError."""
    kind = FORMATS.get(Path(path).suffix.lower())
    if kind is None:
        raise InputError(f"slide detections {path} must be a HoVer-Net .json or a QuPath .geojson")
    return kind


def patch_file(folder: Path, path: Path) -> Path:
    """Where a patch's share of the slide detections ``path`` is written, in its ``folder``."""
    return folder / f"detections{Path(path).suffix.lower()}"


def stream_items(path: Path, kind: str) -> Iterator[tuple[str | None, dict]]:
    """The file's nuclei one at a time: HoVer-Net's ``nuc`` entries ``(id, item)``, QuPath's features
    ``(None, feature)`` (a FeatureCollection or a bare list of features)."""
    import ijson

    try:
        with open(path, "rb") as handle:
            if kind == "hovernet":
                yield from ijson.kvitems(handle, "nuc", use_float=True)
                return
            first = handle.read(1)
            while first.isspace():
                first = handle.read(1)
            handle.seek(0)
            prefix = "item" if first == b"[" else "features.item"
            for feature in ijson.items(handle, prefix, use_float=True):
                yield None, feature
    except ijson.JSONError as exc:
        raise InputError(f"slide detections {path} are not readable JSON ({str(exc).splitlines()[0][:80]})") from None


def outline_coordinates(kind: str, item) -> list | None:
    """The coordinates a nucleus' centre is taken from: HoVer-Net's contour, QuPath's nucleus geometry
    (else its geometry); None for what holds no outline."""
    if not isinstance(item, dict):
        return None
    if kind == "hovernet":
        return item.get("contour") or None
    props = item.get("properties") if isinstance(item.get("properties"), dict) else {}
    geometry = item.get("nucleusGeometry") or props.get("nucleusGeometry") or item.get("geometry")
    return geometry.get("coordinates") if isinstance(geometry, dict) else None


def _first_ring(coords) -> np.ndarray:
    """The first run of ``[x, y]`` points in nested GeoJSON-style coordinates."""
    while isinstance(coords, list) and coords and isinstance(coords[0], list) and isinstance(coords[0][0], list):
        coords = coords[0]
    return np.asarray(coords, float).reshape(-1, 2)


def _moved(coords, scale: float, shift: np.ndarray):
    """Nested coordinates with every ``[x, y]`` point mapped to ``point * scale + shift`` (3 decimals)."""
    if not isinstance(coords, list) or not coords:
        return coords
    if not isinstance(coords[0], list):  # one point
        return (np.asarray(coords[:2], float) * scale + shift).round(3).tolist()
    if not isinstance(coords[0][0], list):  # a run of points
        return (np.asarray(coords, float)[:, :2] * scale + shift).round(3).tolist()
    return [_moved(part, scale, shift) for part in coords]


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


def _in_patch(kind: str, key: str | None, item: dict, region: SlideRegion) -> str:
    """One nucleus in a patch's pixels, as the text of its entry in the patch file."""
    scale = 1.0 / region.downsample
    edges = np.array([region.halo - region.x0 * scale, region.halo - region.y0 * scale])  # level-0 edges -> patch's
    if kind == "hovernet":  # centres -> edges, mapped, edges -> centres
        shift = edges - PIXEL_EDGE + PIXEL_EDGE * scale
        moved = {k: v for k, v in item.items() if k != "bbox"}  # row, col at level 0: not read, and no longer true
        moved["contour"] = _moved(item["contour"], scale, shift)
        if item.get("centroid") is not None:
            moved["centroid"] = _moved(item["centroid"], scale, shift)
        return f"{json.dumps(str(key))}: {json.dumps(moved)}"
    moved = dict(item)
    for field in ("geometry", "nucleusGeometry"):
        if isinstance(item.get(field), dict) and "coordinates" in item[field]:
            moved[field] = {**item[field], "coordinates": _moved(item[field]["coordinates"], scale, edges)}
    props = item.get("properties")
    if isinstance(props, dict) and isinstance(props.get("nucleusGeometry"), dict):
        geometry = props["nucleusGeometry"]
        moved["properties"] = {**props, "nucleusGeometry": {**geometry, "coordinates": _moved(
            geometry.get("coordinates"), scale, edges)}}
    return json.dumps(moved)


def write_patch_detections(path: Path, regions: list[SlideRegion], folders: list[Path]) -> list[Path]:
    """Stream the slide-level detections ``path`` and write each region's share into its folder
    (``detections.json`` or ``detections.geojson``, each written under a temporary name, then renamed);
    returns the files, in region order."""
    kind = detection_format(path)
    centres = array("d")  # x, y of each nucleus in turn: 16 bytes a nucleus
    for _, item in stream_items(path, kind):  # pass 1: where each nucleus is
        coords = outline_coordinates(kind, item)
        if coords is None:
            centres.extend((np.nan, np.nan))
            continue
        try:
            ring = _first_ring(coords)
        except (TypeError, ValueError):
            raise InputError(f"slide detections {path}: a nucleus outline is not a list of [x, y] points") from None
        centre = ring.mean(axis=0) if len(ring) else np.full(2, np.nan)
        centres.extend(centre + (PIXEL_EDGE if kind == "hovernet" else 0.0))  # as pixel edges
    if not centres:
        where = "a 'nuc' object" if kind == "hovernet" else "features"
        raise InputError(f"slide detections {path} hold no nuclei (no {where})")
    centres = np.frombuffer(centres, float).reshape(-1, 2)
    assigned = _assign(np.nan_to_num(centres, nan=-np.inf), regions)
    del centres
    # (nucleus, region) pairs in file order, walked alongside the second pass
    nucleus = np.concatenate([idx for idx in assigned] + [np.zeros(0, int)])
    region = np.concatenate([np.full(len(idx), k) for k, idx in enumerate(assigned)] + [np.zeros(0, int)])
    order = np.argsort(nucleus, kind="stable")
    nucleus, region = nucleus[order], region[order]
    del assigned, order

    parts = [folder / f".detections{path.suffix.lower()}.body.part" for folder in folders]  # a killed run's are removed
    for folder, part in zip(folders, parts):
        folder.mkdir(parents=True, exist_ok=True)
        part.write_text("")
    pending: dict[int, list[str]] = {}
    held = 0

    def flush() -> None:
        nonlocal held
        for k, texts in pending.items():
            with open(parts[k], "a") as handle:
                handle.write(",\n".join(texts) + ",\n")
        pending.clear()
        held = 0

    at = 0
    for i, (key, item) in enumerate(stream_items(path, kind)):  # pass 2: each nucleus where it belongs
        while at < len(nucleus) and nucleus[at] == i:
            k = int(region[at])
            text = _in_patch(kind, key, item, regions[k])
            pending.setdefault(k, []).append(text)
            held += len(text)
            at += 1
        if held > BUFFER_CHARS:
            flush()
    flush()
    head, tail = ('{"nuc": {', "}}") if kind == "hovernet" else ('{"type": "FeatureCollection", "features": [', "]}")
    files = []
    for folder, part in zip(folders, parts):
        target = patch_file(folder, path)
        body = part.read_text().rstrip().rstrip(",")
        with atomic_path(target) as tmp:
            Path(tmp).write_text(f"{head}\n{body}\n{tail}\n")
        os.unlink(part)
        files.append(target)
    return files
