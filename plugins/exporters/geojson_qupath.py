"""Exporter ``geojson``: cells as a QuPath GeoJSON FeatureCollection.

Each cell is a feature with ``properties.objectType = "cell"``: its region at
the plane as ``geometry`` (the nucleus outline when the cell does not reach the
plane), the nucleus outline as ``nucleusGeometry``, a stable UUID, the cell
type as ``classification`` when known, and ``measurements`` (z, R, N/C ratio,
volume). QuPath 0.5 / 0.6 import it with File > Import objects.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import numpy as np
from shapely.geometry import Polygon, mapping

from cellframe import hookimpl
from cellframe.io import write_text
from cellframe.outlines import nucleus_outlines
from cellframe.stages import Stage


@dataclass
class GeojsonSettings:
    name: str = "geojson"
    filename: str = "cells.geojson"


def _polygon(points: np.ndarray) -> dict:
    polygon = Polygon(points)
    if not polygon.is_valid:
        polygon = polygon.buffer(0)
    return mapping(polygon)


def _colour(name: str) -> list[int]:
    digest = uuid.uuid5(uuid.NAMESPACE_URL, name).bytes
    return [int(b) for b in digest[:3]]


def cells_geojson(rec) -> dict:
    """The QuPath FeatureCollection of a reconstruction (ids are UUIDs derived from sample and label)."""
    cells = rec.cells
    nc = rec.nc_ratios
    outlines = nucleus_outlines(rec.labels, rec.nuclei)
    features = []
    for k, (row, section, outline) in enumerate(zip(cells.itertuples(index=False), rec.sections, outlines)):
        measurements = {"z (px)": float(row.z), "Nucleus radius (px)": float(row.r), "Volume (px^3)": float(row.volume),
                        "Section area (px^2)": float(row.section_area)}
        if "R" in cells:
            measurements |= {"R (px)": float(row.R), "N/C ratio (radius)": float(nc["radius"].iloc[k]),
                             "N/C ratio (volume)": float(nc["volume"].iloc[k])}
        if np.isfinite(nc["area"].iloc[k]):
            measurements["N/C ratio (area)"] = float(nc["area"].iloc[k])
        feature = {
            "type": "Feature",
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"cellframe/{rec.sample_id}/{int(row.label)}")),
            "geometry": _polygon(section if len(section) >= 3 else outline),
            "nucleusGeometry": _polygon(outline),
            "properties": {"objectType": "cell", "measurements": measurements},
        }
        cell_type = getattr(row, "cell_type", None)
        if cell_type is not None and cell_type == cell_type:
            feature["properties"]["classification"] = {"name": str(cell_type), "color": _colour(str(cell_type))}
        features.append(feature)
    return {"type": "FeatureCollection", "features": features}


@hookimpl
def cellframe_stages():
    return [Stage("exporter", "geojson", GeojsonSettings, "QuPath GeoJSON cells (cell region + nucleus, measurements)")]


@hookimpl
def cellframe_export(reconstruction, outdir, settings):
    return [write_text(outdir / settings.filename, json.dumps(cells_geojson(reconstruction)))]
