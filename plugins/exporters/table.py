"""Exporter ``table``: the cell table as CSV and/or Parquet."""

from __future__ import annotations

from dataclasses import dataclass, field

from cellframe import hookimpl
from cellframe.io.files import atomic_path
from cellframe.stages import Stage

FORMATS = ("csv", "parquet")


@dataclass
class TableSettings:
    name: str = "table"
    stem: str = "cells"
    formats: list[str] = field(default_factory=lambda: ["csv", "parquet"])
    #: add volume, surface and mean curvature measured on each cell's mesh (slower)
    mesh_measurements: bool = False

    def __post_init__(self) -> None:
        unknown = sorted(set(self.formats) - set(FORMATS))
        if unknown:
            raise ValueError(f"formats: unknown {unknown}; choose from {list(FORMATS)}")


def cell_mesh_measurements(reconstruction):
    """Mesh-based volume, surface and mean curvature of every cell (see :mod:`cellframe.model.measure`)."""
    import numpy as np

    from cellframe.model.measure import mesh_measurements

    mesh = reconstruction.geometry.mesh(reconstruction.x)
    n = reconstruction.geometry.n
    return mesh_measurements(mesh, np.repeat(np.arange(n), len(mesh.faces) // max(n, 1)), n)


@hookimpl
def cellframe_stages():
    return [Stage("exporter", "table", TableSettings, "the cell table as CSV / Parquet")]


@hookimpl
def cellframe_export(reconstruction, outdir, settings):
    table = reconstruction.cells
    if settings.mesh_measurements:
        table = table.join(cell_mesh_measurements(reconstruction))
    written = []
    for fmt in settings.formats:
        path = outdir / f"{settings.stem}.{fmt}"
        with atomic_path(path) as tmp:
            if fmt == "csv":
                table.to_csv(tmp, index=False)
            else:
                table.to_parquet(tmp, index=False)
        written.append(path)
    return written
