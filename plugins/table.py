"""Exporter ``table``: the cell table as CSV and/or Parquet."""

from __future__ import annotations

from dataclasses import dataclass, field

from cellframe import hookimpl
from cellframe.io import atomic_path
from cellframe.stages import Stage

FORMATS = ("csv", "parquet")


@dataclass
class TableSettings:
    name: str = "table"
    stem: str = "cells"
    formats: list[str] = field(default_factory=lambda: ["csv", "parquet"])

    def __post_init__(self) -> None:
        unknown = sorted(set(self.formats) - set(FORMATS))
        if unknown:
            raise ValueError(f"formats: unknown {unknown}; choose from {list(FORMATS)}")


@hookimpl
def cellframe_stages():
    return [Stage("exporter", "table", TableSettings, "the cell table as CSV / Parquet")]


@hookimpl
def cellframe_export(name, reconstruction, outdir, settings):
    if name != "table":
        return None
    table = reconstruction.cells
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
