"""Exporter ``ply``: all cells as one mesh (MeshLab, Blender), coloured by depth, with the
cell's depth z as each vertex's ``quality``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cellframe import hookimpl
from cellframe.io.files import write_bytes
from cellframe.stages import Stage


@dataclass
class PlySettings:
    name: str = "ply"
    filename: str = "cells.ply"
    #: colour each cell's vertices by its depth z (viridis)
    color_by_depth: bool = True


def export_ply(reconstruction, path, color_by_depth: bool = True):
    """Write the cells' mesh as binary PLY."""
    import trimesh
    from matplotlib import colormaps

    mesh = reconstruction.geometry.mesh(reconstruction.x)
    if color_by_depth and len(mesh.faces):
        z = reconstruction.cells["z"].to_numpy()
        zmax = float(reconstruction.geometry.model.z_max)
        cell_of_vertex = np.repeat(np.arange(len(z)), len(mesh.vertices) // max(len(z), 1))
        rgba = colormaps["viridis"](np.clip(z / zmax, 0, 1))[cell_of_vertex]
        mesh.visual = trimesh.visual.ColorVisuals(mesh, vertex_colors=(rgba * 255).astype(np.uint8))
    if len(mesh.faces):
        z = reconstruction.cells["z"].to_numpy()
        per_cell = len(mesh.vertices) // max(len(z), 1)
        mesh.vertex_attributes["quality"] = np.repeat(z, per_cell).astype(np.float32)  # MeshLab's scalar
    return write_bytes(path, trimesh.exchange.ply.export_ply(mesh, encoding="binary"))


@hookimpl
def cellframe_stages():
    return [Stage("exporter", "ply", PlySettings, "cells as a PLY mesh")]


@hookimpl
def cellframe_export(reconstruction, outdir, settings):
    return [export_ply(reconstruction, outdir / settings.filename, settings.color_by_depth)]
