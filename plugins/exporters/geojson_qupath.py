"""Exporter ``geojson``: cells as a QuPath GeoJSON FeatureCollection.

Each cell is a feature with ``properties.objectType = "cell"``: its region at
the plane joined with its nucleus as ``geometry`` (so QuPath draws every
nucleus inside its cell; ``Cell reaches plane`` says which cells the plane
cuts), the nucleus outline as ``nucleusGeometry``, a stable UUID, the cell
type as ``classification`` when known, and ``measurements`` (z, R, N/C ratio,
volume). Coordinates follow QuPath's pixel convention (:mod:`cellframe.io.qupath`);
a patch cut from a slide is written in the slide's level-0 coordinates, so it
lands on the slide. QuPath 0.5 / 0.6 import it with File > Import objects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from cellframe import hookimpl
from cellframe.io.files import write_text
from cellframe.io.outlines import nucleus_outlines
from cellframe.io.qupath import PIXEL_EDGE, cell_features, collection, feature_id
from cellframe.stages import Stage


@dataclass
class GeojsonSettings:
    name: str = "geojson"
    filename: str = "cells.geojson"


def cells_geojson(rec) -> dict:
    """The QuPath FeatureCollection of a reconstruction (ids are UUIDs derived from sample and label)."""
    cells = rec.cells
    nc = rec.nc_ratios
    outlines = nucleus_outlines(rec.labels, rec.nuclei)
    region = rec.region

    def to_qupath(points):
        points = np.asarray(points, float) + PIXEL_EDGE
        if region is None:
            return points
        return np.column_stack(region.to_slide(points[:, 0], points[:, 1]))

    ids, values = [], []
    for k, row in enumerate(cells.itertuples(index=False)):
        measurements = {"z (px)": float(row.z), "Nucleus radius (px)": float(row.r), "Volume (px^3)": float(row.volume),
                        "Section area (px^2)": float(row.section_area)}
        if "R" in cells:
            measurements |= {"R (px)": float(row.R), "N/C ratio (radius)": float(nc["radius"].iloc[k]),
                             "N/C ratio (volume)": float(nc["volume"].iloc[k])}
        if np.isfinite(nc["area"].iloc[k]):
            measurements["N/C ratio (area)"] = float(nc["area"].iloc[k])
        if region is not None:  # a halo's cells are the neighbour patch's too: the slide GeoJSON has each once
            measurements["Patch's own"] = float(row.owned)
        ids.append(feature_id(rec.sample_id, int(row.label)))
        values.append(measurements)
    types = cells["cell_type"].tolist() if "cell_type" in cells else None
    features = cell_features(ids, rec.sections, outlines, values, types, to_qupath)
    return collection(features)


@hookimpl
def cellframe_stages():
    return [Stage("exporter", "geojson", GeojsonSettings, "QuPath GeoJSON cells (cell region + nucleus, measurements)")]


@hookimpl
def cellframe_export(reconstruction, outdir, settings):
    return [write_text(outdir / settings.filename, json.dumps(cells_geojson(reconstruction)))]
