"""Objective ``evidence``: depth and cell size from what the H&E image shows.

Terms, each on by its weight (0 switches it off):

* ``depth`` (lost caps, :mod:`cellframe.physics.lost_caps`): each nucleus' profile size
  and haematoxylin density against a size prior fitted to the image say how far
  its centre lies from the section's faces, its semi-axis along depth marginalised
  (``depth_axis_sd``: a profile shows the plane's extent only); ``z`` is measured from the top face,
  so the section is ``[0, T]`` with ``T = model.section_um / input.mpp`` and a
  centre may lie outside it (a cap).
* ``size`` (space filling, :mod:`cellframe.physics.space_filling`): the cell radius
  ``R`` is the size of the nucleus' share of the tissue (a Laguerre partition
  with the unseen nuclei above and below drawn at the density the section implies).
* ``focus`` (:mod:`cellframe.physics.focus`): where the image shows defocus, each
  nucleus' edge blur says how far it lies from the focal plane; off the
  mid-plane this also says which face it is near (``focus_side`` fixes which
  face is "top"). Switched off by itself when the image shows no defocus.
* ``tissue`` (on/off): the space-filling cells live only where the image shows cellular
  tissue (optical density above glass, within reach of a nucleus, the reach set so that the region
  holds the cellular area the nuclei's density implies): not lumen, glass or open stroma.
* ``overlap``: the geometry's non-interpenetration, weighted by ``model.lambda_overlap``.

Each cell's depth is the posterior's median distance from the mid-plane, on its likelier side
(``depth_point``; the optimizer keeps nuclei apart around it), and ``R`` the median of its draws.
Posterior draws (``reconstruction.samples``, at least ``draws``) give each cell
90 % intervals for ``z``, its distance from the mid-plane and ``R``, and flags
saying whether the image narrows each below half its prior width. Which face a
nucleus is near is not identifiable in transmitted light: ``z`` intervals of
nuclei away from the mid-plane span both sides, and ``z_determined`` says so.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pandas as pd

from cellframe import hookimpl
from cellframe.physics import lost_caps as caps
from cellframe.physics.focus import RADIUS_SCALES, edge_gain, focus_energy, measure_focus
from cellframe.model.objective import Objective
from cellframe.physics.posterior import draw_each, median_depth_energy, sample_depths
from cellframe.physics.space_filling import TissueInDepth, cell_volumes, cellular_region, hidden_nuclei
from cellframe.stages import Stage, StageError
from cellframe.physics.stereology import depth_axis_spread, radius_from_profile, seen_depths, volume_density


log = logging.getLogger(__name__)

#: the outline edges (um of chromatin path) ``edge_um=null`` chooses from
EDGES_UM = (0.0, 0.0625, 0.125, 0.25, 0.375, 0.5, 0.75, 1.0)
#: Gauss-Hermite nodes over the nuclear shape (depth_axis_sd), and the widest spread it may take
SHAPES = 5
MAX_DEPTH_AXIS_SD = 0.5
#: the spread taken where the nuclei table has no shapes (profiles of aspect ratio about 1.3)
TYPICAL_DEPTH_AXIS_SD = 0.15
#: the least log-likelihood gain (nats) of the lost-caps model over depth-blind densities for the
#: densities to count (:func:`cellframe.physics.lost_caps.depth_signal`)
MIN_DEPTH_SIGNAL = 10.0


@dataclass
class EvidenceSettings:
    name: str = "evidence"
    #: weight of the lost-caps depth term and of the space-filling size term (0 = off)
    lambda_depth: float = 1.0
    lambda_size: float = 1.0
    #: posterior draws for the cell sizes and intervals (reconstruction.samples raises it)
    draws: int = 16
    #: depth-only draws for the z intervals (cheap)
    depth_draws: int = 200
    #: quasi-Monte Carlo points per cell and draw (a power of 2; 128 Sobol' points err as little as
    #: 400 plain random ones)
    points: int = 128
    #: share of the tissue between cells (scales every R alike)
    extracellular: float = 0.1
    #: nuclei differ in chromatin density by at least this much (log scale: cell cycle, ploidy),
    #: whatever the fit to one image says
    min_stain_sd: float = 0.15
    #: how much less a density tells where another profile overlaps the nucleus
    crowded_spread: float = 2.0
    #: depth grid points
    grid: int = 97
    #: the chromatin path (um) a nucleus' rim needs to be segmented: a cap shows out to where it reaches
    #: this far into the section, not to the geometric cut. None = the one of EDGES_UM the profiles and
    #: their densities fit best; 0 = outlines at the geometric cut
    edge_um: Optional[float] = None
    #: how the haematoxylin density grows with the chromatin path (density ~ path ** stain_response): 1 =
    #: uniform chromatin (Beer-Lambert); None = the one of lost_caps.RESPONSES (0.3-1.3) the densities fit
    #: best, together with the outline edge (thin caps look darker than their path where chromatin is
    #: denser at the nuclear envelope). Fitted, it took the second renderer's edge to 0 and left its
    #: intervals no better covered (README), so 1 by default
    stain_response: Optional[float] = 1.0
    #: the most log-normal components of the nuclear size prior: 2 lets tissue with two nuclear
    #: populations (tumour cells and lymphocytes) have both where the profiles show it (BIC). Measured on
    #: 30 % lymphocytes: depth rank +0.008, but the z intervals cover 0.84 instead of 0.93 (README)
    size_components: int = 1
    #: weight of the focus term (0 = off), and the half of the section the focal plane is taken to
    #: lie in (top: z < T/2): the image cannot say which face was up
    lambda_focus: float = 1.0
    focus_side: str = "top"
    #: where the focus term takes each nucleus' edge to be: "fitted" (a radius fitted with the blur, where
    #: it fits clearly better than the outline's: a threshold draws outlines inside pale rims) or
    #: "outline" (the outline itself, right for outlines at the geometric edge)
    focus_edge: str = "fitted"
    #: cells only where the image shows cellular tissue: stained (not lumen or glass) and within
    #: reach of a nucleus (not open stroma); false = every column of the patch holds cells
    tissue: bool = True
    #: the tissue above and below the section: "isotropic" (its boundaries slant as they do across the
    #: plane: the region's 2D covariance says how far a column of cells goes on in depth) or "columns"
    #: (each column of the section the same all the way through)
    tissue_in_depth: str = "isotropic"
    #: how much a nucleus' size weighs in its cell's share of the tissue, drawn afresh for each posterior
    #: draw, evenly over this range: 1 = the Laguerre partition on the nuclear radii (cells grow with their
    #: nuclei), 0 = the plain Voronoi partition (cells ignore them). One section without membranes cannot
    #: tell which, so both ends by default; [1, 1] is the Laguerre partition alone (README)
    laguerre_weight: list[float] = field(default_factory=lambda: [0.0, 1.0])
    #: log-scale spread of a nucleus' semi-axis along depth over its radius in the plane: a profile shows
    #: only the plane's extent. None = from how elongated the profiles are, nuclei taken to be turned at
    #: random in 3D (stereology.depth_axis_spread; 0.17 for ellipsoids of axes 1.25 : 1 : 0.8); 0 = spheres
    depth_axis_sd: Optional[float] = None
    #: the depth each cell is given (and its nucleus' size, N/C and mesh with it): "median" = the posterior
    #: median distance from the mid-plane, on the more probable side (the depth that errs least on
    #: average); "mode" = the most probable depth, an arbitrary end of the stretch where the posterior is
    #: flat (most cells at one face on sections whose densities say nothing of depth: README)
    depth_point: str = "median"

    def __post_init__(self) -> None:
        w = list(self.laguerre_weight)
        if len(w) != 2 or not 0 <= w[0] <= w[1] <= 4:
            raise ValueError(f"laguerre_weight={w} must be [low, high] with 0 <= low <= high <= 4")
        if self.tissue_in_depth not in ("isotropic", "columns"):
            raise ValueError(f"tissue_in_depth={self.tissue_in_depth!r} must be 'isotropic' or 'columns'")
        if self.depth_point not in ("median", "mode"):
            raise ValueError(f"depth_point={self.depth_point!r} must be 'median' or 'mode'")
        if self.focus_side not in ("top", "bottom"):
            raise ValueError(f"focus_side={self.focus_side!r} must be 'top' or 'bottom'")
        if self.focus_edge not in ("fitted", "outline"):
            raise ValueError(f"focus_edge={self.focus_edge!r} must be 'fitted' or 'outline'")
        if self.depth_axis_sd is not None and not 0 <= self.depth_axis_sd <= MAX_DEPTH_AXIS_SD:
            raise ValueError(f"depth_axis_sd={self.depth_axis_sd} must be null (from the profiles) or in "
                             f"[0, {MAX_DEPTH_AXIS_SD}]")
        for key in ("lambda_depth", "lambda_size", "lambda_focus", "extracellular", "min_stain_sd"):
            if not getattr(self, key) >= 0:
                raise ValueError(f"{key}={getattr(self, key)} must be >= 0")
        if self.edge_um is not None and not 0 <= self.edge_um < 5:
            raise ValueError(f"edge_um={self.edge_um} must be null (fitted) or in [0, 5)")
        if self.stain_response is not None and not 0 < self.stain_response <= 2:
            raise ValueError(f"stain_response={self.stain_response} must be null (fitted) or in (0, 2]")
        if self.extracellular >= 1:
            raise ValueError(f"extracellular={self.extracellular} must be < 1")
        if self.draws < 3 or self.depth_draws < 3:
            raise ValueError(f"draws={self.draws} and depth_draws={self.depth_draws} must be >= 3")
        if self.points < 32 or self.points & (self.points - 1):
            raise ValueError(f"points={self.points} must be a power of 2, at least 32")
        if self.crowded_spread < 1:
            raise ValueError(f"crowded_spread={self.crowded_spread} must be >= 1")
        if self.grid < 9:
            raise ValueError(f"grid={self.grid} must be >= 9")
        if self.size_components not in (1, 2):
            raise ValueError(f"size_components={self.size_components} must be 1 or 2")


class EvidenceObjective(Objective):
    """The paper's non-interpenetration plus depth and size evidence read from the image."""

    def __init__(self, geometry, image, model, mpp, settings: EvidenceSettings, rng, samples: int = 1,
                 unlisted: np.ndarray | None = None) -> None:
        super().__init__(geometry, model)
        self.unlisted = np.zeros((0, 3)) if unlisted is None else np.asarray(unlisted, float).reshape(-1, 3)
        if image is None:
            raise StageError("objective=evidence reads the H&E image: give input.image")
        if tuple(geometry.param_names) != ("z", "R"):
            raise StageError(f"objective=evidence needs a geometry with parameters z, R (got {geometry.param_names})")
        self.settings = settings
        self.T, self.mpp = float(model.section_um) / float(mpp), float(mpp)
        r, xy = geometry.r, geometry.xy
        h = caps.haematoxylin(image)
        density = caps.measure_density(h, xy, r)
        crowded = np.zeros(geometry.n, bool)  # profiles another one overlaps: their density mixes both
        crowded[geometry.pairs.ravel()] = True
        self.prior = self._size_prior(r, density, ~crowded, settings.edge_um)
        if len(self.prior.weights) > 1:
            log.info("size prior: two nuclear populations, radius %s px", " and ".join(
                f"{np.exp(m):.1f} ({w:.0%})" for m, w in zip(self.prior.mus, self.prior.weights)))
        self.depth_axis_sd = self._depth_axis_sd(geometry)
        self.q, self._log_w = caps.depth_axes(self.depth_axis_sd, SHAPES)
        self.grid = caps.depth_grid(self.T, self.prior, settings.grid)
        lp = self._log_prior(r)
        z, q, _ = self._joint_grid
        path = caps.predicted_path(r, z, self.T, edge=self.prior.edge, q=q)
        self.stain, _ = caps.fit_stain(density, lp, path, use=~crowded, responses=self._responses)
        log.info("stain: haematoxylin density ~ chromatin path ^ %.2f, spread %.2f (log scale)",
                 self.stain.response, self.stain.sd)
        path = self.stain.path(path)
        self.depth_signal = caps.depth_signal(density, lp, path, self.stain.k, self.stain.sd, use=~crowded)
        if self.depth_signal < MIN_DEPTH_SIGNAL:
            log.warning("the haematoxylin densities do not follow the chromatin path here (the lost-caps model's "
                        "log-likelihood gain over densities that ignore depth is %.0f nats, under %g): depths "
                        "from the profile sizes alone", self.depth_signal, MIN_DEPTH_SIGNAL)
            if settings.edge_um is None:  # the densities cannot tell the outline edge either
                self.prior = caps.fit_size_prior(r, self.T, settings.size_components)
                self.grid = caps.depth_grid(self.T, self.prior, settings.grid)
                lp = self._log_prior(r)
            joint = np.minimum(lp.max(axis=1, keepdims=True) - lp, caps.WALL)
        else:
            spread = max(self.stain.sd, settings.min_stain_sd) * np.where(crowded, settings.crowded_spread, 1.0)
            joint = caps.depth_energy(density, lp, path, self.stain.k, spread)
        if settings.lambda_depth == 0:  # flat in depth, the shapes at their prior
            joint = np.broadcast_to(self._log_w.max() - np.repeat(self._log_w, len(self.grid)), joint.shape).copy()
        self._joint = joint  # (n, shapes * grid): energy over shape and depth together
        self.energy = caps.over_shapes(joint, len(self.q))
        self.focus = None
        if settings.lambda_focus > 0:
            scales = RADIUS_SCALES if settings.focus_edge == "fitted" else np.ones(1)
            blur, measured, self.focus, dropped = measure_focus(h, xy, r, self.energy, self.grid, self.T,
                                                                settings.focus_side, scales, min_gain=edge_gain(mpp))
            if self.focus is not None:
                self.energy = self.energy + settings.lambda_focus * focus_energy(
                    blur, measured, self.grid, self.focus, np.where(crowded, settings.crowded_spread, 1.0))
                f = self.focus
                log.info("focus: %s (blur %.2f px + %.3f px per px of depth from a focal plane at z = %.1f px; "
                         "noise %.2f px; likelihood-ratio %.1f, %.1f against a focal plane at the mid-plane)%s",
                         "used" if f.significant else "no defocus seen", f.s0, f.k, f.f, f.noise, f.statistic,
                         f.off_mid, "; an off-centre focal plane was dropped: the blurs read at the outlines, or with "
                         "the shapes a section cuts, do not show it" if dropped else "")
        n_draws = max(int(samples), settings.draws)
        # depth draws are cheap: many, so their percentiles are sharp; cell sizes use the first n_draws
        self.z_draws = sample_depths(self.energy, self.grid, geometry.pairs, geometry.separation,
                                     max(n_draws, settings.depth_draws), rng)
        self.q_draws = self._shapes_given(self.z_draws[:n_draws], rng)
        # what the optimizer minimises in depth: the posterior's energy, or the error of its median
        self.point_energy = self.energy
        if settings.depth_point == "median" and settings.lambda_depth > 0:
            self.point_energy = median_depth_energy(self.z_draws, self.grid, self.T / 2)
        self.R_draws = self._cell_radii(image, rng, n_draws)
        logR = np.log(self.R_draws)
        self.R_hat = np.exp(np.median(logR, axis=0))
        self.R_sd = np.maximum(logR.std(axis=0), 0.03)

    # -- evidence ----------------------------------------------------------------
    @property
    def _responses(self) -> tuple[float, ...]:
        fixed = self.settings.stain_response
        return caps.RESPONSES if fixed is None else (float(fixed),)

    @property
    def _joint_grid(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Depth, shape ``q`` and the shape's prior log weight at each point of the grid over both
        (shape-major)."""
        if len(self.q) == 1:
            return self.grid, 1.0, 0.0
        G = len(self.grid)
        return np.tile(self.grid, len(self.q)), np.repeat(self.q, G), np.repeat(self._log_w, G)

    def _log_prior(self, r) -> np.ndarray:
        z, q, log_w = self._joint_grid
        return caps.log_prior(r, z, self.T, self.prior, q, log_w)

    def _shape_energy(self, z: np.ndarray) -> np.ndarray:
        """``(..., n, shapes)`` energy of each shape at depths ``z`` (``(..., n)``; nearest grid point)."""
        step = self.grid[1] - self.grid[0]
        i = np.clip(np.rint((z - self.grid[0]) / step), 0, len(self.grid) - 1).astype(int)
        n = self.geometry.n
        e = self._joint.reshape(n, len(self.q), len(self.grid))
        return e[np.arange(n), :, i]  # the advanced indices broadcast to z's shape, the shapes last

    def _shapes_given(self, z: np.ndarray, rng) -> np.ndarray:
        """``(draws, n)`` shapes ``q`` drawn given each draw's depths."""
        if len(self.q) == 1:
            return np.ones_like(z)
        return self.q[draw_each(self._shape_energy(z), rng)]

    def _nuclear_radius(self, z, q) -> np.ndarray:
        """The 3D nuclear radius (of the sphere of the same volume) at depths ``z`` and shapes ``q``."""
        return radius_from_profile(self.geometry.r, z, self.T, self.prior.edge, q) * np.cbrt(q)

    def _depth_axis_sd(self, geometry) -> float:
        """The spread of the nuclei's semi-axis along depth: the setting's, or the profiles' elongation's."""
        if self.settings.depth_axis_sd is not None:
            return float(self.settings.depth_axis_sd)
        n = geometry.nuclei
        if not {"axis_a", "axis_b"} <= set(n.columns):
            log.info("nuclear shape: the nuclei table has no axes; depth semi-axis spread %.2f taken", TYPICAL_DEPTH_AXIS_SD)
            return TYPICAL_DEPTH_AXIS_SD
        sd = float(np.clip(depth_axis_spread(n["axis_a"], n["axis_b"], geometry.r), 0.0, MAX_DEPTH_AXIS_SD))
        log.info("nuclear shape: profiles' elongation says a depth semi-axis spread of %.2f (log scale; nuclei turned "
                 "at random)", sd)
        return sd

    def _size_prior(self, r, density, alone, edge_um) -> caps.SizePrior:
        """The size prior, at the given outline edge or at the one the densities fit best."""
        components = self.settings.size_components
        if edge_um is not None:
            return caps.fit_size_prior(r, self.T, components, edge_um / self.mpp)
        prior = caps.fit_prior_and_edge(r, density, self.T, np.asarray(EDGES_UM) / self.mpp, components, alone,
                                        responses=self._responses)
        log.info("outline edge: %.3g um of chromatin (fitted)", prior.edge * self.mpp)
        return prior

    def _cell_radii(self, image, rng, n_draws: int) -> np.ndarray:
        """``(draws, n)`` cell radii: Laguerre cells around each draw's nuclei and freshly drawn unseen ones."""
        g, T, prior = self.geometry, self.T, self.prior
        typical = np.exp(prior.mu)
        region = cellular_region(image, g.xy) if self.settings.tissue else np.ones(image.shape[:2], bool)
        self.tissue = region if self.settings.tissue else None
        area = float(region.sum())
        edge = prior.edge
        # counted as spheres, as the size prior they pair with was fitted (with each profile's drawn shape
        # the density came out 6 % low on the second renderer)
        n_v = volume_density(seen_depths(radius_from_profile(g.r, self.z_draws[0], T, edge), T, prior.r_min, edge),
                             area) * (1 + len(self.unlisted) / max(g.n, 1))  # the unlisted are seen as often
        cell = (3 / (4 * np.pi * n_v)) ** (1 / 3)  # a typical cell's radius at this density
        if self.settings.tissue_in_depth == "isotropic":
            tissue = TissueInDepth.isotropic(region, T, 3.1 * cell + prior.high)
        else:
            tissue = TissueInDepth.columns(region, T)
        low, high = self.settings.laguerre_weight
        weights = low + (high - low) * (rng.permutation(n_draws) + rng.random(n_draws)) / n_draws  # stratified
        out = np.empty((n_draws, g.n))
        for d, z in enumerate(self.z_draws[:n_draws]):
            rho = self._nuclear_radius(z, self.q_draws[d])
            ball = 1.9 * cell * np.sqrt(rho / typical).clip(0.7, 1.6)
            unseen = tissue.realize(rng)  # the tissue above and below, drawn afresh
            # nuclei left out of the outlines: seen, somewhere in the section (no draw where there are none)
            u = self.unlisted
            left_out = np.column_stack([u[:, :2], rng.uniform(0.0, T, len(u)) if len(u) else np.zeros(0)])
            seen = np.vstack([np.column_stack([g.xy, z]), left_out])
            seen_rho = np.concatenate([rho, u[:, 2]])
            others, others_rho = hidden_nuclei(seen[:, :2], seen[:, 2], seen_rho, unseen, n_v, prior.r_min,
                                               3 * cell, prior.draw, rng, edge)
            others, others_rho = np.vstack([left_out, others]), np.concatenate([u[:, 2], others_rho])
            volume = cell_volumes(np.column_stack([g.xy, z]), rho, others, others_rho, unseen, ball,
                                  self.settings.points, rng, weights[d])
            volume = np.maximum(volume * (1 - self.settings.extracellular), 4 / 3 * np.pi * rho**3 * 1.05)
            out[d] = np.cbrt(3 * volume / (4 * np.pi))
        return out

    # -- the objective contract --------------------------------------------------------
    @property
    def section(self) -> tuple[float, float]:
        return 0.0, self.T

    def depth_range(self) -> tuple[float, float]:
        return float(self.grid[0]), float(self.grid[-1])

    @property
    def weights(self) -> dict[str, float]:
        return {"depth": self.settings.lambda_depth, "size": self.settings.lambda_size,
                "overlap": float(self.model.lambda_overlap)}

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        n = self.geometry.n
        lower = np.concatenate([np.full(n, self.grid[0]), self.R_hat * np.exp(-4 * self.R_sd)])
        upper = np.concatenate([np.full(n, self.grid[-1]), self.R_hat * np.exp(4 * self.R_sd)])
        return lower, upper

    def start(self, rng: np.random.Generator) -> np.ndarray:
        """Each nucleus at its depth point (``depth_point``; the first of the two mirror images), R at its
        estimate."""
        return self.geometry.pack({"z": self.grid[self.point_energy.argmin(axis=1)], "R": self.R_hat})

    def initial(self, rng: np.random.Generator, n_particles: int) -> np.ndarray:
        """Posterior draws (cycled), the last particle at :meth:`start`."""
        pick = np.arange(n_particles) % len(self.R_draws)
        X = np.column_stack([self.z_draws[pick], self.R_draws[pick]])
        X[-1] = self.start(rng)
        return X

    def per_nucleus(self) -> bool:
        return True

    def penalty_owners(self) -> dict[str, np.ndarray]:
        every = np.arange(self.geometry.n)
        return {"depth": every, "size": every, "overlap": self.geometry.pairs[:, 0]}

    def penalties(self, X: np.ndarray) -> dict[str, np.ndarray]:
        p = self.geometry.unpack(X)
        z, R = np.atleast_2d(p["z"]), np.atleast_2d(p["R"])
        step = self.grid[1] - self.grid[0]
        pos = np.clip((z - self.grid[0]) / step, 0, len(self.grid) - 1.000001)
        i0 = pos.astype(int)
        frac = pos - i0
        rows = np.arange(self.geometry.n)[None, :]
        e = self.point_energy
        depth = e[rows, i0] * (1 - frac) + e[rows, i0 + 1] * frac
        size = 0.5 * ((np.log(R) - np.log(self.R_hat)) / self.R_sd) ** 2
        return {"depth": depth, "size": size, "overlap": self.geometry.penalties(X)["overlap"]}

    def subset(self, keep: np.ndarray) -> "EvidenceObjective":
        keep = np.asarray(keep, bool)
        out = copy.copy(self)
        out.geometry = self.geometry.subset(keep)
        out.energy, out.point_energy = self.energy[keep], self.point_energy[keep]
        out.R_hat, out.R_sd = self.R_hat[keep], self.R_sd[keep]
        out.z_draws, out.R_draws, out.q_draws = self.z_draws[:, keep], self.R_draws[:, keep], self.q_draws[:, keep]
        out._joint = self._joint[keep]
        return out

    def cell_columns(self, x: np.ndarray) -> pd.DataFrame:
        z = self.geometry.unpack(x)["z"]
        e = self._shape_energy(np.asarray(z, float))  # the shape's posterior at each depth: its mean log
        p = np.exp(-(e - e.min(axis=-1, keepdims=True)))
        q = np.exp((p @ np.log(self.q)) / p.sum(axis=-1))
        return pd.DataFrame({"rho": self._nuclear_radius(z, q),
                             "depth_from_mid": caps.distance_from_mid(z, self.T)})

    def visible_tissue(self) -> np.ndarray | None:
        return self.tissue

    def diagnostics(self) -> dict[str, float]:
        out = {"outline_edge_um": self.prior.edge * self.mpp,
               "depth_signal_nats": float(self.depth_signal),
               # 0: the densities failed the check, depths come from the profile sizes alone
               "depth_from_densities": float(self.depth_signal >= MIN_DEPTH_SIGNAL),
               "stain_sd": float(self.stain.sd),
               "stain_response": float(self.stain.response), "depth_axis_sd": self.depth_axis_sd}
        if self.focus is not None:
            out["focus_used"] = float(self.focus.significant)
            if self.focus.significant:
                out["focus_plane_um"] = self.focus.f * self.mpp
        return out

    def intervals(self, x: np.ndarray) -> pd.DataFrame:
        """90 % intervals and whether each is under half the prior's width.

        Depths: the 5-95 % percentiles of the depth draws. Cell radii: a log-normal
        prediction interval from the size draws (Student's t, as they are few).
        """
        from scipy.stats import t as student

        T, g = self.T, self.geometry
        depth = caps.distance_from_mid(self.z_draws, T)
        out = {}
        for name, draws, prior in (("z", self.z_draws, 0.9 * (self.grid[-1] - self.grid[0])),
                                   ("depth", depth, 0.9 * (T / 2 + self.prior.high))):
            lo, hi = np.percentile(draws, [5, 95], axis=0)
            out[f"{name}_lo"], out[f"{name}_hi"], out[f"{name}_determined"] = lo, hi, (hi - lo) < 0.5 * prior
        n = len(self.R_draws)
        logR = np.log(self.R_draws)
        half = student.ppf(0.95, n - 1) * np.sqrt(1 + 1 / n) * np.maximum(logR.std(axis=0, ddof=1), 0.03)
        lo, hi = np.exp(logR.mean(axis=0) - half), np.exp(logR.mean(axis=0) + half)
        prior_R = 0.9 * (float(self.model.beta) - float(self.model.alpha)) * g.r
        out["R_lo"], out["R_hi"], out["R_determined"] = lo, hi, (hi - lo) < 0.5 * prior_R
        return pd.DataFrame(out)


@hookimpl
def cellframe_stages():
    return [Stage("objective", "evidence", EvidenceSettings,
                  "lost caps (depth) and space filling (cell size) read from the image, with posterior intervals",
                  shares_space=True)]


@hookimpl
def cellframe_objective(geometry, image, model, mpp, settings, rng, samples, unlisted):
    return EvidenceObjective(geometry, image, model, mpp, settings, rng, samples, unlisted)
