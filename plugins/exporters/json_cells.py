"""Exporter ``json``: the cells as JSON (schema: ``cellframe/schemas/cells.schema.json``)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from cellframe import __version__, hookimpl
from cellframe.io.files import write_text
from cellframe.stages import Stage


@dataclass
class JsonSettings:
    name: str = "json"
    filename: str = "cells.json"
    #: decimals kept for boundaries, volumes and cell radii; centres and nuclear radii are written
    #: exactly, so reading them back keeps the run's zero interpenetration
    precision: int = 3

    def __post_init__(self) -> None:
        if self.precision < 0:
            raise ValueError(f"precision={self.precision} must be >= 0")


def cells_document(rec, precision: int = 3) -> dict:
    """The JSON document of a reconstruction: metadata and a list of cells."""
    cells = rec.cells
    geometry = rec.geometry
    rnd = lambda v: round(float(v), precision)  # noqa: E731
    radius_col = "R" if "R" in cells else None
    semi_axes = None if radius_col else geometry.semi_axes(rec.x)
    items = []
    for row, polygon in zip(cells.itertuples(index=False), rec.sections):
        item = {
            "id": int(row.cell_id),
            "label": int(row.label),
            "center": [float(row.x), float(row.y), float(row.z)],
            "nuc_radius": float(row.r),
            "volume": rnd(row.volume),
            "boundary": [[rnd(px), rnd(py)] for px, py in polygon],
        }
        if radius_col:
            item["radius"] = rnd(getattr(row, radius_col))
        if semi_axes is not None:
            item["semi_axes"] = [rnd(v) for v in semi_axes[row.cell_id]]
            item["angle"] = rnd(getattr(row, "angle", 0.0))
        if rec.region is not None:  # a slide patch's own cell, or its halo's (the neighbour patch's too)
            item["owned"] = bool(row.owned)
        items.append(item)
    return {
        "cellframe_version": __version__,
        "sample_id": rec.sample_id,
        "geometry": type(geometry).__name__.lower(),
        "units": "px",
        "plane_z": rec.plane_z,
        "image": rec.source.get("image"),
        "image_shape": list(rec.image_shape),
        "n_violations": rec.n_violations,
        "penalties": rec.penalties,
        "slide": rec.region.describe() if rec.region is not None else None,
        "cells": items,
    }


@hookimpl
def cellframe_stages():
    return [Stage("exporter", "json", JsonSettings, "cells as JSON: center, radius, nuc_radius, boundary")]


@hookimpl
def cellframe_export(reconstruction, outdir, settings):
    doc = cells_document(reconstruction, settings.precision)
    return [write_text(outdir / settings.filename, json.dumps(doc))]
