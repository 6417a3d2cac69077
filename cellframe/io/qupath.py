"""QuPath GeoJSON: cells as features, in QuPath's pixel convention.

cellframe's coordinates are pixel centres (pixel ``(row i, column j)`` is at
``x = j, y = i``, as scikit-image measures). QuPath's pixel ``(i, j)`` is the
square ``[j, j + 1] x [i, i + 1]``, so a point goes to QuPath by adding half a
pixel (:data:`PIXEL_EDGE`) and comes back by taking it away; outlines traced
half-way between pixel centres then cover exactly their mask's pixels.

Every cell's geometry contains its nucleus: the cell's region at the plane
joined with the nucleus outline (the outline alone for a cell that does not
reach the plane; ``Cell reaches plane`` says which).
"""

from __future__ import annotations

import uuid
from typing import Callable

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

#: add to a cellframe coordinate to get QuPath's (subtract to come back)
PIXEL_EDGE = 0.5


#: decimals of exported coordinates (QuPath's pixels), and how far (cellframe pixels) a cell region's
#: outline may move when its vertices are thinned (nucleus outlines come without their collinear
#: vertices from :func:`cellframe.io.outlines.nucleus_outlines`)
DECIMALS = 3
CELL_TOLERANCE = 0.25


def _thin(points: np.ndarray, tolerance: float) -> np.ndarray:
    """``points`` with the vertices that move the outline by less than ``tolerance`` removed."""
    ring = Polygon(points)
    if len(points) < 4 or not ring.is_valid:
        return np.asarray(points, float)
    # Douglas-Peucker, 5x faster and always valid for convex regions; topology-preserving where it is not
    thinned = ring.simplify(tolerance, preserve_topology=False)
    if not thinned.is_valid or thinned.is_empty:
        thinned = ring.simplify(tolerance, preserve_topology=True)
    return shapely.get_coordinates(thinned.exterior)


def _geometry(polygon: Polygon) -> dict:
    """GeoJSON of a polygon (what ``shapely.geometry.mapping`` gives, built from the coordinate arrays)."""
    rings = [polygon.exterior, *polygon.interiors]
    return {"type": "Polygon", "coordinates": [shapely.get_coordinates(ring).tolist() for ring in rings]}


def _polygon(points: np.ndarray) -> Polygon:
    polygon = Polygon(np.round(np.asarray(points, float), DECIMALS))
    if not polygon.is_valid:
        polygon = polygon.buffer(0)
    if isinstance(polygon, MultiPolygon):
        polygon = max(polygon.geoms, key=lambda g: g.area)
    return polygon


def colour(name: str) -> list[int]:
    """A stable RGB colour for a class name."""
    digest = uuid.uuid5(uuid.NAMESPACE_URL, name).bytes
    return [int(b) for b in digest[:3]]


def cell_feature(feature_id: str, section: np.ndarray, outline: np.ndarray, measurements: dict,
                 cell_type=None, to_qupath: Callable[[np.ndarray], np.ndarray] | None = None) -> dict:
    """One QuPath cell: ``section`` and ``outline`` are ``(k, 2)`` x, y arrays in cellframe's
    coordinates; ``to_qupath`` maps them to QuPath's (default: add :data:`PIXEL_EDGE`)."""
    to_qupath = to_qupath or (lambda points: np.asarray(points, float) + PIXEL_EDGE)
    nucleus = _polygon(to_qupath(outline))
    reaches = len(section) >= 3
    cell = nucleus
    if reaches:
        cell = _polygon(to_qupath(_thin(section, CELL_TOLERANCE))).union(nucleus)
        if isinstance(cell, MultiPolygon):  # a nucleus poking out of a thin cut: keep one piece
            cell = cell.convex_hull
    feature = {
        "type": "Feature",
        "id": feature_id,
        "geometry": _geometry(cell),
        "nucleusGeometry": _geometry(nucleus),
        "properties": {"objectType": "cell",
                       "measurements": {**measurements, "Cell reaches plane": 1.0 if reaches else 0.0}},
    }
    if cell_type is not None and cell_type == cell_type:  # not NaN
        feature["properties"]["classification"] = {"name": str(cell_type), "color": colour(str(cell_type))}
    return feature


def feature_id(*parts) -> str:
    """A stable UUID for a cell (the same cell gets the same id in every export)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "cellframe/" + "/".join(str(p) for p in parts)))


def collection(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}


def write_collection(path, features) -> None:
    """Write features (any iterable: each is encoded as it comes; a string is features already encoded,
    comma-separated) as one GeoJSON FeatureCollection, atomically; a slide's million cells are never
    held as one document."""
    import json

    from cellframe.io.files import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as out:
        out.write('{"type": "FeatureCollection", "features": [')
        first = True
        for feature in features:
            text = feature if isinstance(feature, str) else json.dumps(feature)
            if text:
                out.write(("\n" if first else ",\n") + text)
                first = False
        out.write("\n]}\n")
