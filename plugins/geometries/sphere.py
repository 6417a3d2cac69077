"""Geometry ``sphere``: the paper's cells, a sphere of radius R at depth z over each nucleus."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cellframe import hookimpl
from cellframe.model.feasibility import analyse
from cellframe.model.geometry import Geometry, relu
from cellframe.model.pairs import interpenetrating
from cellframe.model.sections import power_regions
from cellframe.stages import Stage


@dataclass
class SphereSettings:
    name: str = "sphere"
    #: icosphere subdivisions of each cell in the exported mesh (2 = 162 vertices)
    mesh_subdivisions: int = 2
    #: vertices of each section circle before it is cut by its neighbours
    section_vertices: int = 64
    #: start nuclei whose discs overlap at depths that separate them (else plain uniform):
    #: each particle places them in a random order at the nearest depth clearing the ones
    #: placed before, and the last particle stacks each cluster in its best order
    separate_init: bool = True


class Sphere(Geometry):
    """Cell i is a sphere of radius ``R_i`` centred at ``(x_i, y_i, z_i)``; its
    nucleus a sphere of radius ``r_i`` at the same centre."""

    param_names = ("z", "R")

    def __init__(self, nuclei: pd.DataFrame, model, settings: SphereSettings) -> None:
        super().__init__(nuclei, model, settings)
        self._d2 = np.sum((self.xy[self.pairs[:, 0]] - self.xy[self.pairs[:, 1]]) ** 2, axis=1)
        self._rsum = self.r[self.pairs[:, 0]] + self.r[self.pairs[:, 1]]

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        m = self.model
        lower = np.concatenate([np.zeros(self.n), m.alpha * self.r])
        upper = np.concatenate([np.full(self.n, float(m.z_max)), m.beta * self.r])
        return lower, upper

    def initial(self, rng: np.random.Generator, n_particles: int) -> np.ndarray:
        lower, upper = self.bounds()
        X = rng.uniform(lower, upper, size=(n_particles, self.dim))
        if len(self.pairs) and self.settings.separate_init:
            z_max = float(self.model.z_max)
            X[:, : self.n] = separate_depths(X[:, : self.n], self.pairs, self.separation, self.components(), z_max, rng)
            # the last particle starts from each cluster's best stacking order (ties go to earlier particles)
            _, witness = analyse(self.xy, self.r, z_max, seed=int(rng.integers(2**31)))
            clustered = np.isfinite(witness)
            X[-1, : self.n][clustered] = witness[clustered]
        return X

    def penalty_owners(self) -> dict[str, np.ndarray]:
        every = np.arange(self.n)
        return {"radius": every, "z": every, "overlap": self.pairs[:, 0]}

    def penalties(self, X: np.ndarray) -> dict[str, np.ndarray]:
        p = self.unpack(X)
        z, R = p["z"], p["R"]
        m = self.model
        dz = z[:, self.pairs[:, 0]] - z[:, self.pairs[:, 1]]
        return {
            "radius": relu(m.alpha * self.r - R) + relu(R - m.beta * self.r),
            "z": relu(-z) + relu(z - m.z_max),
            "overlap": relu(self._rsum - np.sqrt(self._d2 + dz * dz)),
        }

    def depth_order(self, x: np.ndarray, depth_range: tuple[float, float], rng: np.random.Generator,
                    repair: bool = True):
        """Per cluster: can the depth range hold its nuclei apart (:func:`cellframe.model.feasibility.analyse`)?
        With ``repair``, clusters proven feasible that ``x`` leaves interpenetrating take their witness
        depths (the stacking that proved it; radii kept). Returns the table, ``x`` and how many were repaired."""
        low, high = depth_range
        feasibility, witness = analyse(self.xy, self.r, high - low, z=self.unpack(x)["z"] - low,
                                       seed=int(rng.integers(2**31)))
        if not repair or feasibility is None or not len(feasibility) or not len(self.pairs):
            return feasibility, x, 0
        comp = self.components()
        bad = np.unique(comp[self.pairs[self.interpenetrating(x)][:, 0]])
        fixable = feasibility.loc[feasibility["feasible"] == True, "component"].to_numpy()  # noqa: E712
        targets = np.intersect1d(bad, fixable)
        if not len(targets):
            return feasibility, x, 0
        params = {name: values.copy() for name, values in self.unpack(x).items()}
        members = np.isin(comp, targets)
        params["z"][members] = witness[members] + low
        return feasibility, self.pack(params), len(targets)

    def centers(self, x: np.ndarray) -> np.ndarray:
        return np.column_stack([self.xy, self.unpack(x)["z"]])

    def interpenetrating(self, x: np.ndarray, tol: float = 1e-6) -> np.ndarray:
        return interpenetrating(self.centers(x), self.r, self.pairs, tol)

    def cells(self, x: np.ndarray) -> pd.DataFrame:
        p = self.unpack(x)
        return pd.DataFrame({"x": self.xy[:, 0], "y": self.xy[:, 1], "z": p["z"], "R": p["R"]})

    def sections(self, x: np.ndarray, plane_z: float) -> list[np.ndarray]:
        p = self.unpack(x)
        rho2 = p["R"] ** 2 - (p["z"] - plane_z) ** 2
        rho = np.sqrt(np.maximum(rho2, 0.0))
        return power_regions(self.xy, np.where(rho2 > 0, rho, 0.0), self.settings.section_vertices)

    def semi_axes(self, x: np.ndarray) -> np.ndarray:
        return np.repeat(self.unpack(x)["R"][:, None], 3, axis=1)

    def mesh(self, x: np.ndarray):
        import trimesh

        unit = trimesh.creation.icosphere(subdivisions=self.settings.mesh_subdivisions)
        radii = self.unpack(x)["R"]
        return self.tiled_mesh(unit, unit.vertices[None] * radii[:, None, None] + self.centers(x)[:, None, :])


def separate_depths(z: np.ndarray, pairs: np.ndarray, separation: np.ndarray, comp: np.ndarray,
                    z_max: float, rng: np.random.Generator, chunk: int = 20000) -> np.ndarray:
    """Give nuclei whose discs overlap depths that keep them apart, for every particle.

    Within each component nuclei are placed one at a time in a random order
    (different for each particle). A nucleus keeps its random depth when no
    nucleus placed before it is too close; otherwise it moves to the nearest
    depth in ``[0, z_max]`` that clears all of them, or, when there is none, to
    the candidate depth with the least total overlap.

    :param z: ``(particles, n)`` random starting depths (not modified).
    :param separation: depth gap each pair needs (:func:`cellframe.model.pairs.required_separation`).
    :return: new ``(particles, n)`` depths.
    """
    z = z.copy()
    P, n = z.shape
    order = np.argsort(comp[None, :] + rng.random((P, n)), axis=1)
    sorted_comp = np.sort(comp)
    start = np.searchsorted(sorted_comp, np.arange(comp.max() + 1))
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(n)[None, :] - start[sorted_comp][None, :], axis=1)

    # padded neighbour table: nb[i, d] is the d-th neighbour of nucleus i (or i itself as padding)
    src = np.concatenate([pairs[:, 0], pairs[:, 1]])
    nbr = np.concatenate([pairs[:, 1], pairs[:, 0]])
    sep = np.concatenate([separation, separation]) * (1.0 + 1e-9) + 1e-9  # clear, not just touch
    by_src = np.argsort(src, kind="stable")
    src, nbr, sep = src[by_src], nbr[by_src], sep[by_src]
    degree = np.bincount(src, minlength=n)
    slot = np.arange(len(src)) - np.repeat(np.cumsum(degree) - degree, degree)
    nb = np.repeat(np.arange(n)[:, None], max(degree.max(), 1), axis=1)
    gap = np.zeros(nb.shape)
    nb[src, slot], gap[src, slot] = nbr, sep

    for k in range(1, int(rank.max()) + 1):
        rows, cols = np.nonzero(rank == k)
        keep = degree[cols] > 0
        rows, cols = rows[keep], cols[keep]
        for lo in range(0, len(rows), chunk):
            p, i = rows[lo : lo + chunk], cols[lo : lo + chunk]
            neighbours = nb[i]
            z_nb = z[p[:, None], neighbours]
            s = np.where(rank[p[:, None], neighbours] < k, gap[i], 0.0)  # unplaced: no constraint
            z0 = z[p, i]
            cand = np.concatenate([z0[:, None], z_nb - s, z_nb + s,
                                   np.zeros((len(p), 1)), np.full((len(p), 1), z_max)], axis=1)
            cand = np.clip(cand, 0.0, z_max)
            overlap = np.maximum(s[:, None, :] - np.abs(cand[:, :, None] - z_nb[:, None, :]), 0.0).sum(axis=2)
            # feasible candidates first, nearest to the start; else least overlap
            score = np.where(overlap == 0.0, np.abs(cand - z0[:, None]), np.inf)
            best = np.where(np.isfinite(score.min(axis=1)), score.argmin(axis=1), overlap.argmin(axis=1))
            z[p, i] = cand[np.arange(len(p)), best]
    return z


@hookimpl
def cellframe_stages():
    return [Stage("geometry", "sphere", SphereSettings, "spheres of radius R at depth z (the paper's model)")]


@hookimpl
def cellframe_geometry(nuclei, model, settings):
    return Sphere(nuclei, model, settings)
