"""Segmenters that import other tools' output: ``labels``, ``hovernet``, ``qupath``.

``input.mask`` names the file: a label image (StarDist / Cellpose style:
0 background, 1..N instances), a HoVer-Net JSON (``nuc`` -> centroid and
contour in x, y; its ``bbox`` is row, col and is not used), or a QuPath
GeoJSON of detections or cells (a cell's nucleus is its ``nucleusGeometry``).
Cell types come along as the ``cell_type`` column. A JSON file larger than
:data:`STREAM_BYTES` (a whole slide's detections, read for one region with
``offset``) is streamed, and only the nuclei that reach the image are kept.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cellframe import hookimpl
from cellframe.io.files import InputError, read_image
from cellframe.io.nuclei import check_radius, integer_labels, nuclei_from_polygons, nuclei_table
from cellframe.io.qupath import PIXEL_EDGE, class_name
from cellframe.stages import Stage, StageError

log = logging.getLogger("cellframe")

#: the class names of HoVer-Net's published checkpoints, by the dataset they were trained on
TYPE_PRESETS = {
    "pannuke": {0: "unlabelled", 1: "neoplastic", 2: "inflammatory", 3: "connective", 4: "dead", 5: "epithelial"},
    "consep": {0: "unlabelled", 1: "other", 2: "inflammatory", 3: "epithelial", 4: "spindle-shaped"},
    "monusac": {0: "unlabelled", 1: "epithelial", 2: "lymphocyte", 3: "macrophage", 4: "neutrophil"},
    "none": {},
}


@dataclass
class LabelsSettings:
    name: str = "labels"
    min_area: float = 0.0
    radius: str = "equivalent"

    def __post_init__(self) -> None:
        check_radius(self.radius)


@dataclass
class HovernetSettings:
    name: str = "hovernet"
    #: the checkpoint's classes (pannuke, consep, monusac; none = type ids as they are)
    types: str = "pannuke"
    #: type id -> name, over the preset's (on the command line: '++segmenter.type_names={1:tumour,2:immune}')
    type_names: dict[int, str] = field(default_factory=dict)
    radius: str = "equivalent"
    #: subtracted from every coordinate (x, y px): detections in slide coordinates, imported into a region
    offset: list[float] = field(default_factory=lambda: [0.0, 0.0])

    def __post_init__(self) -> None:
        check_radius(self.radius)
        if self.types not in TYPE_PRESETS:
            raise ValueError(f"types={self.types!r} must be one of {', '.join(TYPE_PRESETS)}")
        check_offset(self.offset)

    @property
    def names(self) -> dict[int, str]:
        return {**TYPE_PRESETS[self.types], **{int(k): v for k, v in self.type_names.items()}}


@dataclass
class QupathSettings:
    name: str = "qupath"
    radius: str = "equivalent"
    #: subtracted from every coordinate (x, y px): objects in slide coordinates, imported into a region
    offset: list[float] = field(default_factory=lambda: [0.0, 0.0])

    def __post_init__(self) -> None:
        check_radius(self.radius)
        check_offset(self.offset)


def check_offset(offset) -> None:
    if len(offset) != 2 or not all(np.isfinite(float(v)) for v in offset):
        raise ValueError(f"offset={list(offset)} must be two finite numbers (x, y)")


#: files larger than this are streamed, and only the nuclei that reach the image are kept: a slide's
#: detections (gigabytes at 40x) imported into one region are never held whole
STREAM_BYTES = 64 * 2**20


def _load_json(path: Path, what: str):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{what} {path} is not readable JSON ({type(exc).__name__})") from None


def _streamed(path: Path) -> bool:
    try:
        return Path(path).stat().st_size > STREAM_BYTES
    except OSError:
        return False  # the whole read says what is wrong


def _extent(coords) -> np.ndarray | None:
    """``[[x min, y min], [x max, y max]]`` of nested GeoJSON-style coordinates (None: no points)."""
    if not isinstance(coords, list) or not coords:
        return None
    if not isinstance(coords[0], list):
        point = np.asarray(coords[:2], float)
        return np.stack([point, point])
    if not isinstance(coords[0][0], list):
        points = np.asarray(coords, float)[:, :2]
        return np.stack([points.min(axis=0), points.max(axis=0)])
    parts = [e for e in (_extent(part) for part in coords) if e is not None]
    return np.stack([np.min([e[0] for e in parts], axis=0), np.max([e[1] for e in parts], axis=0)]) if parts else None


def _over_image(entries, kind: str, shape, offset, path: Path):
    """The numbered entries whose outline's bounding box meets the image (``shape`` rows, cols, at
    ``offset`` x, y), and those without an outline (the caller skips or rejects them as for a whole read)."""
    from cellframe.io.slide_detections import outline_coordinates

    H, W = shape
    for number, (key, item) in enumerate(entries):
        try:
            extent = _extent(outline_coordinates(kind, item))
        except (TypeError, ValueError, IndexError):
            raise InputError(f"{path}: nucleus {number} has an outline that is not a list of [x, y] points") from None
        if extent is not None:
            (low_x, low_y), (high_x, high_y) = extent - np.asarray(offset, float)
            if high_x < -1 or high_y < -1 or low_x > W or low_y > H:
                continue
        yield number, key, item


def _entries(path: Path, kind: str, shape, offset):
    """``(number, key, item)``: every nucleus entry of a HoVer-Net JSON (key: its id) or QuPath GeoJSON
    (key: None) with its place in the file; a file over :data:`STREAM_BYTES` is streamed, and only the
    entries that reach the image are kept."""
    from cellframe.io.slide_detections import stream_items

    if _streamed(path):
        return _over_image(_stream_checked(path, kind), kind, shape, offset, path)
    if kind == "hovernet":
        doc = _load_json(path, "HoVer-Net file")
        nuc = doc.get("nuc") if isinstance(doc, dict) else None
        if not isinstance(nuc, dict):
            raise InputError(f"HoVer-Net file {path} has no 'nuc' object")
        return ((number, key, item) for number, (key, item) in enumerate(nuc.items()))
    doc = _load_json(path, "QuPath GeoJSON")
    features = doc.get("features", []) if isinstance(doc, dict) else doc
    if not isinstance(features, list):
        raise InputError(f"QuPath GeoJSON {path} holds no features")
    return ((number, None, feature) for number, feature in enumerate(features))


def _stream_checked(path: Path, kind: str):
    """:func:`stream_items`, and a one-line InputError where the file holds no nuclei at all (a file of
    another format: not "no nuclei found" in the region, as if the region were empty)."""
    from cellframe.io.slide_detections import stream_items

    empty = True
    for entry in stream_items(path, kind):
        empty = False
        yield entry
    if empty:
        what, where = (("HoVer-Net file", "entries in a 'nuc' object") if kind == "hovernet"
                       else ("QuPath GeoJSON", "features"))
        raise InputError(f"{what} {path} holds no nuclei (no {where})")


def read_hovernet(path: Path, shape, type_names: dict, radius: str = "equivalent", offset=(0.0, 0.0)):
    """Nuclei from a HoVer-Net JSON: contours and centroids are x, y (minus ``offset``)."""
    ids, polygons, types = [], [], []
    for _, key, item in _entries(path, "hovernet", shape, offset):
        if not isinstance(item, dict):
            raise InputError(f"HoVer-Net file {path}: nucleus {key!r} is a {type(item).__name__}, not an object")
        contour = item.get("contour")
        if not contour:
            continue
        try:
            ids.append(int(key))
        except ValueError:
            raise InputError(f"HoVer-Net file {path}: nucleus id {key!r} is not an integer") from None
        polygons.append(_points(contour, path, f"nucleus {key!r} contour") - np.asarray(offset, float))
        kind = item.get("type")
        types.append(_type_name(kind, type_names) if kind is not None else None)
    with_types = any(t is not None for t in types)
    return nuclei_from_polygons(polygons, shape, ids, types if with_types else None, radius)[0]


def _type_name(kind, names: dict) -> str:
    try:
        return names.get(int(kind), str(kind))
    except (TypeError, ValueError):
        return str(kind)


def _points(value, path: Path, what: str) -> np.ndarray:
    """``value`` as an ``(k, 2)`` array of x, y, or a one-line InputError naming the file and item."""
    try:
        points = np.asarray(value, float)
    except (TypeError, ValueError):
        raise InputError(f"{path}: {what} is not a list of [x, y] points") from None
    if points.ndim != 2 or points.shape[1] != 2:
        raise InputError(f"{path}: {what} is not a list of [x, y] points")
    return points


def read_qupath(path: Path, shape, radius: str = "equivalent", offset=(0.0, 0.0)):
    """Nuclei from a QuPath GeoJSON (FeatureCollection or list of features).

    Coordinates are QuPath's (pixel edges: half a pixel off cellframe's pixel centres).
    Detections and cells are read (a cell's nucleus is its ``nucleusGeometry``); annotations,
    including QuPath's legacy ``"id": "PathAnnotationObject"``, are not nuclei. Geometries that
    are not polygons are dropped, with a warning that counts them.
    """
    from shapely.errors import GEOSException
    from shapely.geometry import shape as to_shape

    polygons, types, dropped, no_nucleus = [], [], {}, 0
    for number, _, feature in _entries(path, "qupath", shape, offset):
        if not isinstance(feature, dict):
            raise InputError(f"QuPath GeoJSON {path}: feature {number} is a {type(feature).__name__}, not an object")
        props = feature.get("properties") or {}
        if not isinstance(props, dict):
            raise InputError(f"QuPath GeoJSON {path}: feature {number} has properties that are not an object")
        kind = props.get("objectType") or {"PathAnnotationObject": "annotation", "PathCellObject": "cell"}.get(
            feature.get("id"), "detection")
        if kind not in ("detection", "cell"):
            continue
        geometry = (feature.get("nucleusGeometry") or props.get("nucleusGeometry")) if kind == "cell" else None
        if kind == "cell" and not geometry:
            no_nucleus += 1
            continue
        geometry = geometry or feature.get("geometry")
        if not geometry:
            continue
        try:
            polygon = to_shape(geometry)
        except (GEOSException, ValueError, TypeError, KeyError, AttributeError, IndexError):
            raise InputError(f"QuPath GeoJSON {path}: feature {number} has an unreadable geometry") from None
        if polygon.geom_type == "MultiPolygon":
            polygon = max(polygon.geoms, key=lambda g: g.area)
        if polygon.geom_type != "Polygon":
            dropped[polygon.geom_type] = dropped.get(polygon.geom_type, 0) + 1
            continue
        # QuPath's pixel edges -> cellframe's pixel centres, and slide coordinates -> the region's
        polygons.append(np.asarray(polygon.exterior.coords)[:-1] - PIXEL_EDGE - np.asarray(offset, float))
        types.append(class_name(props.get("classification")))
    for geom_type, count in dropped.items():
        log.warning("%s: %d %s geometries are not nucleus outlines: dropped", path, count, geom_type)
    if no_nucleus:
        log.warning("%s: %d cells have no nucleusGeometry: dropped (their cell outline is not a nucleus)",
                    path, no_nucleus)
    with_types = any(t is not None for t in types)
    return nuclei_from_polygons(polygons, shape, None, types if with_types else None, radius)[0]


@hookimpl
def cellframe_stages():
    return [
        Stage("segmenter", "labels", LabelsSettings, "a label image (StarDist / Cellpose): 0 background, 1..N",
              needs_mask=True),
        Stage("segmenter", "hovernet", HovernetSettings, "HoVer-Net JSON (contours, types)", needs_mask=True),
        Stage("segmenter", "qupath", QupathSettings, "QuPath GeoJSON detections or cells", needs_mask=True),
    ]


@hookimpl
def cellframe_segment(name, image, mask, mask_path, settings):
    if mask_path is None:
        raise StageError(f"segmenter {name!r} needs input.mask=FILE")
    shape = image.shape[:2] if image is not None else None
    if name == "labels":
        labels = integer_labels(mask if mask is not None else read_image(mask_path, "label image"), mask_path)
        table = nuclei_table(labels, settings.min_area, radius=settings.radius)
        table.attrs["labels"] = labels
        return table
    if shape is None:
        raise StageError(f"segmenter {name!r} needs input.image for the image size")
    if name == "hovernet":
        return read_hovernet(mask_path, shape, settings.names, settings.radius, settings.offset)
    return read_qupath(mask_path, shape, settings.radius, settings.offset)
