"""3D shape measurements of cells: closed forms, and the same measured on meshes (trimesh)."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Knud Thomsen's exponent: ellipsoid surface within 1.061 % (exact for spheres)
_THOMSEN_P = 1.6075


def ellipsoid_surface(axes: np.ndarray) -> np.ndarray:
    """Surface area of ellipsoids with semi-axes ``(n, 3)`` (Knud Thomsen's formula)."""
    a, b, c = (np.asarray(axes, float) ** _THOMSEN_P).T
    return 4.0 * np.pi * ((a * b + a * c + b * c) / 3.0) ** (1.0 / _THOMSEN_P)


def sphericity(volume: np.ndarray, surface: np.ndarray) -> np.ndarray:
    """pi^(1/3) (6 V)^(2/3) / A: 1 for a sphere, less for any other shape."""
    return np.pi ** (1 / 3) * (6.0 * np.asarray(volume)) ** (2 / 3) / np.asarray(surface)


def mesh_measurements(mesh, cell_of_face: np.ndarray, n_cells: int) -> pd.DataFrame:
    """Volume, surface area and mean curvature of each cell's closed mesh.

    Mean curvature is the integral of H over the surface divided by its area
    (1/R for a sphere of radius R).
    """
    rows = []
    for k in range(n_cells):
        part = mesh.submesh([np.flatnonzero(cell_of_face == k)], append=True)
        area = float(part.area)
        rows.append({"mesh_volume": float(part.volume), "mesh_surface": area,
                     "mesh_mean_curvature": float(part.integral_mean_curvature) / area if area else np.nan})
    return pd.DataFrame(rows)
