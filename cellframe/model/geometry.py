"""The contract a geometry plugin fulfils, and what all geometries share.

A solution vector ``x`` holds ``k`` parameters per nucleus, parameter-major:
``x.reshape(k, n)[p]`` is parameter ``param_names[p]`` of every nucleus. A
swarm ``X`` is ``(particles, k * n)``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import pandas as pd

from cellframe.model import pairs as pairs_mod


def relu(a: np.ndarray) -> np.ndarray:
    """``max(a, 0)``: how far a penalty term's constraint is violated (0 when it holds)."""
    return np.maximum(a, 0.0)


class Geometry(ABC):
    """Cells of one shape family around a fixed set of nuclei.

    Subclasses set :attr:`param_names` and implement the abstract methods; the
    constructor computes the fixed candidate pairs (overlapping 2D discs). A
    subclass constructed as ``Cls(nuclei, model, settings)`` gets :meth:`subset`
    for free; one with another constructor overrides it.
    """

    #: Per-nucleus parameters, in layout order.
    param_names: tuple[str, ...] = ()
    # Optional capability, called by the core only where a geometry defines it:
    #
    #   depth_order(x, depth_range, rng, repair) -> (feasibility, x, n_repaired)
    #
    # checks, per cluster of overlapping nuclei, whether the depth range can hold them without
    # interpenetration (a table: component, n_nuclei, needed_depth, feasible, ...), and with
    # ``repair`` moves clusters proven feasible that ``x`` leaves interpenetrating to a witness
    # stacking. The sphere implements it (:mod:`cellframe.model.feasibility`).

    def __init__(self, nuclei: pd.DataFrame, model, settings=None) -> None:
        self.nuclei = nuclei.reset_index(drop=True)
        self.model = model
        self.settings = settings
        self.xy = self.nuclei[["x", "y"]].to_numpy(float)
        self.r = self.nuclei["r"].to_numpy(float)
        self.pairs = pairs_mod.overlapping_pairs(self.xy, self.r)
        self.separation = pairs_mod.required_separation(self.xy, self.r, self.pairs)

    # -- layout -------------------------------------------------------------
    @property
    def n(self) -> int:
        return len(self.r)

    @property
    def dim(self) -> int:
        return len(self.param_names) * self.n

    @property
    def dim_owner(self) -> np.ndarray:
        """Nucleus index of each dimension."""
        return np.tile(np.arange(self.n), len(self.param_names))

    def unpack(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Split a solution (or a swarm, on its last axis) into named parameter arrays."""
        x = np.asarray(x)
        blocks = x.reshape(*x.shape[:-1], len(self.param_names), self.n)
        return {name: blocks[..., p, :] for p, name in enumerate(self.param_names)}

    def pack(self, params: dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate([np.asarray(params[name], float) for name in self.param_names], axis=-1)

    # -- search -------------------------------------------------------------
    @property
    def weights(self) -> dict[str, float]:
        """Penalty weight of each term, from ``model.lambda_<term>``."""
        return {term: float(getattr(self.model, f"lambda_{term}")) for term in self.penalty_owners()}

    @abstractmethod
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of every dimension."""

    @abstractmethod
    def initial(self, rng: np.random.Generator, n_particles: int) -> np.ndarray:
        """Starting positions ``(n_particles, dim)`` within the bounds."""

    @abstractmethod
    def penalty_owners(self) -> dict[str, np.ndarray]:
        """For each penalty term, the nucleus each of its items belongs to."""

    @abstractmethod
    def penalties(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Unweighted penalty items of every term for a swarm: ``(particles, items)`` each."""

    @abstractmethod
    def interpenetrating(self, x: np.ndarray, tol: float = 1e-6) -> np.ndarray:
        """Mask over :attr:`pairs`: nuclei that interpenetrate in 3D by more than ``tol``."""

    # -- cells --------------------------------------------------------------
    @abstractmethod
    def cells(self, x: np.ndarray) -> pd.DataFrame:
        """One row per cell: ``x, y, z`` centre and the shape parameters."""

    @abstractmethod
    def sections(self, x: np.ndarray, plane_z: float) -> list[np.ndarray]:
        """Each cell's 2D region at depth ``plane_z`` as a ``(k, 2)`` polygon (empty if none)."""

    @abstractmethod
    def semi_axes(self, x: np.ndarray) -> np.ndarray:
        """Each cell's three semi-axes ``(n, 3)``, in pixels."""

    def volumes(self, x: np.ndarray) -> np.ndarray:
        """Cell volumes in cubic pixels."""
        return 4.0 / 3.0 * np.pi * self.semi_axes(x).prod(axis=1)

    def surface_areas(self, x: np.ndarray) -> np.ndarray:
        """Cell surface areas in square pixels (exact for spheres, within 1.1 % for ellipsoids)."""
        from cellframe.model.measure import ellipsoid_surface

        return ellipsoid_surface(self.semi_axes(x))

    def nuclear_volumes(self, x: np.ndarray) -> np.ndarray:
        """Nucleus volumes; by default spheres of radius ``r``."""
        return 4.0 / 3.0 * np.pi * self.r**3

    def nuclear_sections(self, x: np.ndarray, plane_z: float, radius: np.ndarray | None = None) -> np.ndarray:
        """Each nucleus' own section at depth ``plane_z``: semi-axes and angle ``(n, 3)``, zero axes
        where it does not reach the plane. By default spheres of radius ``r`` (or ``radius``, e.g. an
        objective's 3D estimate) at the cell's centre."""
        r = self.r if radius is None else np.asarray(radius, float)
        dz = self.cells(x)["z"].to_numpy(float) - plane_z
        k = np.sqrt(np.maximum(r**2 - dz**2, 0.0))
        return np.column_stack([k, k, np.zeros(self.n)])

    @abstractmethod
    def mesh(self, x: np.ndarray):
        """All cells as one :class:`trimesh.Trimesh`."""

    def tiled_mesh(self, unit, vertices: np.ndarray):
        """One mesh of every cell: ``unit``'s faces repeated over per-cell ``vertices`` ``(n, nv, 3)``."""
        import trimesh

        faces = (unit.faces[None] + len(unit.vertices) * np.arange(len(vertices))[:, None, None]).reshape(-1, 3)
        return trimesh.Trimesh(vertices=vertices.reshape(-1, 3), faces=faces, process=False)

    def subset(self, keep: np.ndarray) -> "Geometry":
        """The same geometry over some of the nuclei (a boolean mask or indices)."""
        return type(self)(self.nuclei.iloc[np.flatnonzero(keep) if np.asarray(keep).dtype == bool else keep],
                          self.model, self.settings)

    def components(self) -> np.ndarray:
        """Connected component of each nucleus in the candidate-pair graph."""
        return pairs_mod.components(self.n, self.pairs)
