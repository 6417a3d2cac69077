"""Naive 3D baselines from the 2D nucleus mask alone, for comparison: ``cylinder`` and ``spheroid``.

Neither infers depth: every cell sits in the middle of the section. Their only
parameter is the scale ``s`` in ``[alpha, beta]`` of the cell over its nucleus,
so the optimizer has nothing to separate, and nuclei that overlap in 2D stay
interpenetrating - which is what the comparison shows.

* ``cylinder``: the nucleus disc extruded through the whole section depth;
* ``spheroid``: the rotational ellipsoid fitted to the nucleus (semi-axes a, b, b
  about the in-plane major axis), at depth z_max / 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cellframe import hookimpl
from cellframe.model.ellipsoids import Ellipsoid, EllipsoidSettings
from cellframe.model.geometry import Geometry, relu
from cellframe.model.sections import power_regions
from cellframe.stages import Stage


@dataclass
class CylinderSettings:
    name: str = "cylinder"
    section_vertices: int = 64
    mesh_sections: int = 24


@dataclass
class SpheroidSettings(EllipsoidSettings):
    name: str = "spheroid"


class ScaleOnly:
    """The search of a baseline: one scale ``s`` per cell in ``[alpha, beta]``, no depth."""

    def bounds(self):
        return np.full(self.n, float(self.model.alpha)), np.full(self.n, float(self.model.beta))

    def initial(self, rng, n_particles):
        return rng.uniform(*self.bounds(), size=(n_particles, self.dim))

    def penalty_owners(self):
        return {"radius": np.arange(self.n), "overlap": self.pairs[:, 0]}

    @property
    def weights(self):
        return {"radius": float(self.model.lambda_radius), "overlap": float(self.model.lambda_overlap)}


class Cylinder(ScaleOnly, Geometry):
    """Cell i: a vertical cylinder of radius ``s_i r_i`` through ``[0, z_max]``."""

    param_names = ("s",)

    def __init__(self, nuclei, model, settings) -> None:
        super().__init__(nuclei, model, settings)
        self._overlap = relu(self.r[self.pairs[:, 0]] + self.r[self.pairs[:, 1]]
                              - np.linalg.norm(self.xy[self.pairs[:, 0]] - self.xy[self.pairs[:, 1]], axis=1))

    @property
    def depth(self) -> float:
        return float(self.model.z_max)

    def penalties(self, X):
        s = self.unpack(X)["s"]
        m = self.model
        return {"radius": relu(m.alpha - s) + relu(s - m.beta), "overlap": np.broadcast_to(self._overlap, (len(s), len(self._overlap)))}

    def interpenetrating(self, x, tol=1e-6):
        return self._overlap > tol  # extruded nuclei overlap wherever their discs do

    def semi_axes(self, x):
        s = self.unpack(x)["s"]
        return np.column_stack([s * self.r, s * self.r, np.full(self.n, self.depth / 2)])

    def cells(self, x):
        s = self.unpack(x)["s"]
        return pd.DataFrame({"x": self.xy[:, 0], "y": self.xy[:, 1], "z": np.full(self.n, self.depth / 2),
                             "R": s * self.r, "height": np.full(self.n, self.depth)})

    def volumes(self, x):
        return np.pi * (self.unpack(x)["s"] * self.r) ** 2 * self.depth

    def surface_areas(self, x):
        radius = self.unpack(x)["s"] * self.r
        return 2 * np.pi * radius * (radius + self.depth)

    def nuclear_volumes(self, x):
        return np.pi * self.r**2 * self.depth

    def nuclear_sections(self, x, plane_z, radius=None):
        """The extruded nucleus: its whole disc at every plane inside the section."""
        r = self.r if 0.0 <= plane_z <= self.depth else np.zeros(self.n)
        return np.column_stack([r, r, np.zeros(self.n)])

    def sections(self, x, plane_z):
        inside = 0.0 <= plane_z <= self.depth
        radius = self.unpack(x)["s"] * self.r if inside else np.zeros(self.n)
        return power_regions(self.xy, radius, self.settings.section_vertices)

    def mesh(self, x):
        import trimesh

        unit = trimesh.creation.cylinder(radius=1.0, height=1.0, sections=self.settings.mesh_sections)
        radius = self.unpack(x)["s"] * self.r
        scale = np.column_stack([radius, radius, np.full(self.n, self.depth)])
        centres = np.column_stack([self.xy, np.full(self.n, self.depth / 2)])
        return self.tiled_mesh(unit, unit.vertices[None] * scale[:, None, :] + centres[:, None, :])


class Spheroid(ScaleOnly, Ellipsoid):
    """The rotational ellipsoid of each nucleus (semi-axes a, b, b), scaled by ``s``, at depth z_max / 2."""

    param_names = ("s",)

    def unpack(self, x):
        s = np.asarray(x)
        shape = s.shape[:-1] + (self.n,)
        return {"s": s.reshape(shape), "z": np.full(shape, float(self.model.z_max) / 2), "c": np.broadcast_to(self.b, shape)}

    def pack(self, params):
        return np.asarray(params["s"], float)

    def penalties(self, X):
        terms = super().penalties(X)
        return {"radius": terms["radius"], "overlap": terms["overlap"]}


@hookimpl
def cellframe_stages():
    return [
        Stage("geometry", "cylinder", CylinderSettings, "baseline: nucleus disc extruded through the section"),
        Stage("geometry", "spheroid", SpheroidSettings, "baseline: rotational ellipsoid fit of the nucleus, mid-section"),
    ]


@hookimpl
def cellframe_geometry(name, nuclei, model, settings):
    if name == "cylinder":
        return Cylinder(nuclei, model, settings)
    return Spheroid(nuclei, model, settings)  # the only other geometry this plugin declares
