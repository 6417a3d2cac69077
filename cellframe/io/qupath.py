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


def _rings(outlines: list[np.ndarray]) -> np.ndarray:
    """Polygons (shapely, an array) of ``(k, 2)`` outlines, each closed if it is not."""
    if not len(outlines):
        return np.empty(0, object)
    sizes = np.array([len(o) for o in outlines])
    flat = np.concatenate([np.asarray(o, float).reshape(-1, 2) for o in outlines])
    return shapely.polygons(shapely.linearrings(flat, indices=np.repeat(np.arange(len(outlines)), sizes)))


def _thin(points: list[np.ndarray], tolerance: float) -> list[np.ndarray]:
    """Each outline with the vertices that move it by less than ``tolerance`` removed."""
    out = [np.asarray(p, float) for p in points]
    todo = [i for i, p in enumerate(out) if len(p) >= 4]
    if not todo:
        return out
    rings = _rings([out[i] for i in todo])
    valid = shapely.is_valid(rings)
    # Douglas-Peucker, 5x faster and always valid for convex regions; topology-preserving where it is not
    thinned = shapely.simplify(rings, tolerance, preserve_topology=False)
    redo = ~shapely.is_valid(thinned) | shapely.is_empty(thinned)
    thinned[redo] = shapely.simplify(rings[redo], tolerance, preserve_topology=True)
    for i, ring, ok in zip(todo, thinned, valid):
        if ok:
            out[i] = shapely.get_coordinates(ring.exterior)
    return out


def _polygons(points: list[np.ndarray]) -> np.ndarray:
    """Valid polygons (an array) of outlines, at :data:`DECIMALS`: an invalid one repaired, its largest piece."""
    polygons = _rings([np.round(np.asarray(p, float), DECIMALS) for p in points])
    invalid = np.flatnonzero(~shapely.is_valid(polygons))
    for i in invalid:
        repaired = polygons[i].buffer(0)
        polygons[i] = max(repaired.geoms, key=lambda g: g.area) if isinstance(repaired, MultiPolygon) else repaired
    return polygons


def _geometry(polygon: Polygon) -> dict:
    """GeoJSON of a polygon (what ``shapely.geometry.mapping`` gives, built from the coordinate arrays)."""
    rings = [polygon.exterior, *polygon.interiors]
    return {"type": "Polygon", "coordinates": [shapely.get_coordinates(ring).tolist() for ring in rings]}


def colour(name: str) -> list[int]:
    """A stable RGB colour for a class name."""
    digest = uuid.uuid5(uuid.NAMESPACE_URL, name).bytes
    return [int(b) for b in digest[:3]]


def cell_features(feature_ids: list[str], sections: list[np.ndarray], outlines: list[np.ndarray],
                  measurements: list[dict], cell_types=None,
                  to_qupath: Callable[[np.ndarray], np.ndarray] | None = None) -> list[dict]:
    """QuPath cells, all at once: ``sections`` and ``outlines`` are ``(k, 2)`` x, y arrays in cellframe's
    coordinates, one of each per cell; ``to_qupath`` maps them to QuPath's (default: add :data:`PIXEL_EDGE`)."""
    to_qupath = to_qupath or (lambda points: np.asarray(points, float) + PIXEL_EDGE)
    nuclei = _polygons([to_qupath(o) for o in outlines])
    reaches = np.array([len(s) >= 3 for s in sections], bool)
    cells = nuclei.copy()
    if reaches.any():
        regions = _polygons([to_qupath(t) for t in _thin([sections[i] for i in np.flatnonzero(reaches)], CELL_TOLERANCE)])
        joined = shapely.union(regions, nuclei[reaches])
        pieces = shapely.get_type_id(joined) == shapely.GeometryType.MULTIPOLYGON
        joined[pieces] = shapely.convex_hull(joined[pieces])  # a nucleus poking out of a thin cut: one piece
        cells[reaches] = joined
    types = [None] * len(cells) if cell_types is None else list(cell_types)
    features = []
    for fid, cell, nucleus, reach, values, cell_type in zip(feature_ids, cells, nuclei, reaches, measurements, types):
        feature = {
            "type": "Feature",
            "id": fid,
            "geometry": _geometry(cell),
            "nucleusGeometry": _geometry(nucleus),
            "properties": {"objectType": "cell",
                           "measurements": {**values, "Cell reaches plane": 1.0 if reach else 0.0}},
        }
        if cell_type is not None and cell_type == cell_type:  # not NaN
            feature["properties"]["classification"] = {"name": str(cell_type), "color": colour(str(cell_type))}
        features.append(feature)
    return features


def cell_feature(feature_id: str, section: np.ndarray, outline: np.ndarray, measurements: dict,
                 cell_type=None, to_qupath: Callable[[np.ndarray], np.ndarray] | None = None) -> dict:
    """One QuPath cell (:func:`cell_features`)."""
    return cell_features([feature_id], [section], [outline], [measurements], [cell_type], to_qupath)[0]


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


def class_name(classification) -> str | None:
    """A QuPath classification's name; a derived class (``"names": ["Tumor", "Positive"]``) as
    QuPath shows it, ``Tumor: Positive``."""
    if not isinstance(classification, dict):
        return None
    if classification.get("name"):
        return str(classification["name"])
    names = classification.get("names")
    return ": ".join(str(n) for n in names) if isinstance(names, list) and names else None
