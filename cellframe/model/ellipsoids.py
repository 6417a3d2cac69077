"""Ellipsoidal cells shaped like their nuclei (shared by the ``ellipsoid`` geometry and the baselines).

Each nucleus' 2D shape gives its in-plane semi-axes ``a >= b`` and orientation
(second moments; columns ``axis_a``, ``axis_b``, ``angle`` from the
segmenter, else a circle of radius ``r``). The nucleus is an ellipsoid with
those axes and a free depth semi-axis ``c`` (within ``[b, a]`` by default); the
cell is the nucleus scaled by ``s`` in ``[alpha, beta]``, centred at depth
``z``. Nuclei must not interpenetrate: the overlap term is
``(1 - sqrt(F)) (rho_i + rho_j)`` for the Perram-Wertheim contact function F
(rho = equivalent radius), which equals the spheres' overlap depth when the
ellipsoids are spheres.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cellframe.model.contact import contact_function, inplane_covariance
from cellframe.model.geometry import Geometry, relu
from cellframe.model.pairs import overlapping_pairs


@dataclass
class EllipsoidSettings:
    name: str = "ellipsoid"
    #: the nucleus' depth semi-axis lies in [lo * b, hi * a]
    depth_axis: list[float] = field(default_factory=lambda: [1.0, 1.0])
    mesh_subdivisions: int = 2
    section_vertices: int = 64

    def __post_init__(self) -> None:
        if len(self.depth_axis) != 2 or not 0 < self.depth_axis[0]:
            raise ValueError(f"depth_axis={list(self.depth_axis)} must be [lo, hi] with lo > 0")


class Ellipsoid(Geometry):
    """Cell i: ellipsoid with semi-axes ``s_i (a_i, b_i, c_i)``, major axis at ``angle_i``, centre ``(x_i, y_i, z_i)``."""

    param_names = ("z", "s", "c")

    def __init__(self, nuclei: pd.DataFrame, model, settings: EllipsoidSettings) -> None:
        super().__init__(nuclei, model, settings)
        n = self.nuclei
        has_shape = {"axis_a", "axis_b", "angle"} <= set(n.columns)
        self.a = n["axis_a"].to_numpy(float) if has_shape else self.r.copy()
        self.b = n["axis_b"].to_numpy(float) if has_shape else self.r.copy()
        self.angle = n["angle"].to_numpy(float) if has_shape else np.zeros(self.n)
        self.a, self.b = np.nan_to_num(self.a, nan=1.0), np.nan_to_num(self.b, nan=1.0)
        # candidate pairs: the in-plane ellipses lie within circles of radius a
        self.pairs = overlapping_pairs(self.xy, self.a)
        self.separation = np.zeros(len(self.pairs))
        self._cov = inplane_covariance(self.a, self.b, self.angle)
        i, j = self.pairs[:, 0], self.pairs[:, 1]
        self._dxy = self.xy[j] - self.xy[i]

    def bounds(self):
        m, lo, hi = self.model, *self.settings.depth_axis
        lower = np.concatenate([np.zeros(self.n), np.full(self.n, float(m.alpha)), lo * self.b])
        upper = np.concatenate([np.full(self.n, float(m.z_max)), np.full(self.n, float(m.beta)),
                                np.maximum(hi * self.a, lo * self.b)])
        return lower, upper

    def initial(self, rng, n_particles):
        lower, upper = self.bounds()
        return rng.uniform(lower, upper, size=(n_particles, self.dim))

    def penalty_owners(self):
        every = np.arange(self.n)
        return {"radius": every, "z": every, "overlap": self.pairs[:, 0]}

    def contact(self, z: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Perram-Wertheim F of every candidate pair of nuclei, ``(..., pairs)``."""
        i, j = self.pairs[:, 0], self.pairs[:, 1]
        return contact_function(self._dxy, z[..., j] - z[..., i], self._cov[i], self._cov[j], c[..., i], c[..., j])

    def _rho(self, c):
        return np.cbrt(self.a * self.b * c)

    def penalties(self, X):
        p = self.unpack(X)
        z, s, c = p["z"], p["s"], p["c"]
        m = self.model
        i, j = self.pairs[:, 0], self.pairs[:, 1]
        rho = self._rho(c)
        overlap = relu(1.0 - np.sqrt(self.contact(z, c))) * (rho[..., i] + rho[..., j]) if len(i) else z[..., :0]
        return {"radius": relu(m.alpha - s) + relu(s - m.beta), "z": relu(-z) + relu(z - m.z_max), "overlap": overlap}

    def interpenetrating(self, x, tol=1e-6):
        p = self.unpack(x)
        if not len(self.pairs):
            return np.zeros(0, bool)
        rho = self._rho(p["c"])
        i, j = self.pairs[:, 0], self.pairs[:, 1]
        return (1.0 - np.sqrt(self.contact(p["z"], p["c"]))) * (rho[i] + rho[j]) > tol

    def semi_axes(self, x) -> np.ndarray:
        p = self.unpack(x)
        return np.column_stack([p["s"] * self.a, p["s"] * self.b, p["s"] * p["c"]])

    def cells(self, x):
        p, axes = self.unpack(x), self.semi_axes(x)
        return pd.DataFrame({"x": self.xy[:, 0], "y": self.xy[:, 1], "z": p["z"], "cell_a": axes[:, 0],
                             "cell_b": axes[:, 1], "cell_c": axes[:, 2], "angle": self.angle, "scale": p["s"],
                             "nucleus_c": p["c"], "R_eq": np.cbrt(axes.prod(axis=1))})

    def nuclear_volumes(self, x):
        return 4.0 / 3.0 * np.pi * self.a * self.b * self.unpack(x)["c"]

    def nuclear_sections(self, x, plane_z, radius=None):
        p = self.unpack(x)
        t = (plane_z - p["z"]) / p["c"]
        k = np.sqrt(np.maximum(1.0 - t * t, 0.0))
        return np.column_stack([self.a * k, self.b * k, self.angle])

    def sections(self, x, plane_z):
        from cellframe.model.sections import ellipse_regions

        p, axes = self.unpack(x), self.semi_axes(x)
        t = (plane_z - p["z"]) / axes[:, 2]
        k = np.sqrt(np.maximum(1.0 - t * t, 0.0))
        return ellipse_regions(self.xy, axes[:, 0] * k, axes[:, 1] * k, self.angle, self.settings.section_vertices)

    def mesh(self, x):
        import trimesh

        unit = trimesh.creation.icosphere(subdivisions=self.settings.mesh_subdivisions)
        axes, p = self.semi_axes(x), self.unpack(x)
        c, s = np.cos(self.angle), np.sin(self.angle)
        v = unit.vertices[None] * axes[:, None, :]
        rotated = np.stack([c[:, None] * v[..., 0] - s[:, None] * v[..., 1],
                            s[:, None] * v[..., 0] + c[:, None] * v[..., 1], v[..., 2]], axis=-1)
        centres = np.column_stack([self.xy, p["z"]])
        return self.tiled_mesh(unit, rotated + centres[:, None, :])
