"""Cell size from space filling: cells fill the tissue around their nuclei.

A cell is the part of the tissue closer (in power distance, the nuclear radius
as weight; see :mod:`cellframe.physics.tissue`) to its nucleus than to any other. One
section shows only the nuclei that reach into it; the cells above and below are
unseen, so they are drawn: nuclei at the density the section implies (Holmes:
``N_A = N_V (T + 2 E[h])``), outside the depths where they would have shown,
never interpenetrating. Each draw gives every visible cell a volume (Monte
Carlo points in a ball around its nucleus) in a tissue above and below the section
drawn afresh (:meth:`TissueInDepth.realize`); the spread over draws is the size
uncertainty one section leaves. Columns of no tissue (lumen, glass: little
optical density) and tissue far from every nucleus (stroma) hold no cells.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.ndimage import distance_transform_edt
from scipy.spatial import cKDTree

from cellframe.physics.stereology import seen_depths
from cellframe.physics.tissue import power_labels


def _stained(image: np.ndarray, min_od: float) -> np.ndarray:
    """Columns of the image that hold tissue: optical density above glass."""
    rgb = image[..., :3]
    if rgb.dtype == np.uint8:  # each channel's optical density from a table of its 256 values (the same sums)
        od = np.log10(np.maximum(np.arange(256, dtype=float), 1.0) / 255.0)
        return -(od[rgb[..., 0]] + od[rgb[..., 1]] + od[rgb[..., 2]]) > min_od
    return -np.log10(np.maximum(rgb.astype(float), 1.0) / 255.0).sum(axis=2) > min_od


def _pixels(xy: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    rows = np.clip(np.round(xy[:, 1]).astype(int), 0, shape[0] - 1)
    cols = np.clip(np.round(xy[:, 0]).astype(int), 0, shape[1] - 1)
    return rows, cols


def _block_shape(shape: tuple[int, int], step: int) -> tuple[int, int]:
    """The grid of ``step`` x ``step`` px blocks that covers an image of ``shape``."""
    return -(-shape[0] // step), -(-shape[1] // step)


def _block_means(mask: np.ndarray, step: int) -> np.ndarray:
    """``mask``'s mean over blocks of ``step`` x ``step`` px (the last row and column of blocks zero-padded)."""
    H, W = mask.shape
    shape = _block_shape(mask.shape, step)
    padded = np.zeros((shape[0] * step, shape[1] * step))
    padded[:H, :W] = mask
    return padded.reshape(shape[0], step, shape[1], step).mean(axis=(1, 3))


def cellular_area(stained: np.ndarray, xy: np.ndarray, bandwidth: float) -> float:
    """The area (px) of the columns that hold cells, as the nuclei's density says.

    Each column's share is the local density of nucleus centres (a Gaussian of ``bandwidth`` px) over
    the density around a typical nucleus (their median), at most 1, in ``stained`` columns only (not
    lumen or glass). Where tissue meets stroma at a slant, a column holds cells over only part of the
    section's depth, and fewer nuclei show there. Computed on blocks of about a quarter bandwidth.
    """
    from scipy.ndimage import gaussian_filter

    if not len(xy):
        return 0.0
    step = max(int(bandwidth / 4), 1)
    stained_share = _block_means(stained, step)
    shape = stained_share.shape
    rows, cols = _pixels(xy, stained.shape)
    counts = np.zeros(shape)
    np.add.at(counts, (rows // step, cols // step), 1.0)
    density = gaussian_filter(counts, bandwidth / step, mode="reflect")
    typical = float(np.median(density[rows // step, cols // step]))
    return float((np.clip(density / max(typical, 1e-12), 0.0, 1.0) * stained_share).sum() * step * step)


def cellular_region(image: np.ndarray, xy: np.ndarray, reach: float | None = None, min_od: float = 0.12) -> np.ndarray:
    """``(H, W)`` where cells can be: stained tissue within ``reach`` px of a nucleus centre.

    ``reach=None`` takes the distance at which the region's area is the cellular area the nuclei's
    density implies (:func:`cellular_area`, over the median distance between neighbouring nuclei):
    the region ends between the outermost nuclei and the stroma beyond them, wherever the
    boundary lies in depth.
    """
    stained = _stained(image, min_od)
    seeds = np.ones(image.shape[:2], bool)
    if len(xy):
        seeds[_pixels(xy, seeds.shape)] = False
    distance = distance_transform_edt(seeds)
    if reach is None:
        spacing = float(np.median(cKDTree(xy).query(xy, k=2)[0][:, 1])) if len(xy) > 1 else 0.25 * min(seeds.shape)
        inside = distance[stained]
        area = min(int(cellular_area(stained, xy, spacing)), len(inside) - 1)
        reach = float(np.partition(inside, area)[area]) if len(inside) else 0.0
    return stained & (distance <= reach)


@dataclass(frozen=True)
class TissueInDepth:
    """Where cells can be above and below the section, from where they are in it.

    In the section, the visible tissue (``region``); at ``dz`` px beyond a face, cells with
    probability ``inside(dz)`` over a column of visible tissue and ``outside(dz)`` over one without.
    Tissue is taken isotropic (stereology's usual assumption): what the region's boundaries do
    across the plane, its 2D covariance, they do in depth, so stroma, lumen and glass meet the
    section at every slant. Outside the image the tissue is taken to go on.

    These are expectations over the tissue one cannot see; :meth:`realize` draws one tissue that
    has them, so that a cell near stroma in one draw meets it above the section and in another not.
    """

    region: np.ndarray
    T: float
    lags: np.ndarray
    inside: np.ndarray
    outside: np.ndarray
    #: how far (px) across the plane the depths at which tissue gives way move together
    scale: float = 0.0
    step: int = 4
    #: one drawn tissue: for the blocks of ``step`` px, a uniform level above and one below the
    #: section; None = the expectation
    levels: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def columns(cls, region: np.ndarray, T: float) -> "TissueInDepth":
        """Each column the same all the way through (no tissue boundary slants)."""
        return cls(region, T, np.array([0.0, 1.0]), np.ones(2), np.zeros(2))

    @classmethod
    def isotropic(cls, region: np.ndarray, T: float, max_lag: float, step: int = 4) -> "TissueInDepth":
        """Persistence read from ``region``'s 2D covariance up to ``max_lag`` px, on blocks of ``step`` px
        (tissue everywhere: :meth:`columns`, its covariance being flat)."""
        if region.all():
            return cls.columns(region, T)
        f = _block_means(region, step)
        size = (2 * f.shape[0], 2 * f.shape[1])  # zero padding: no wrap-around
        F, O = np.fft.rfft2(f, size), np.fft.rfft2(np.ones_like(f), size)

        def corr(a, b):  # for every lag L, the sum over p of a(p) b(p + L)
            return np.fft.irfft2(np.conj(a) * b, size)

        dy = np.minimum(np.arange(size[0]), size[0] - np.arange(size[0]))
        dx = np.minimum(np.arange(size[1]), size[1] - np.arange(size[1]))
        lags = np.arange(0.0, max_lag + step, step)
        k = np.rint(np.hypot(dy[:, None], dx[None, :]).ravel()).astype(int)
        use = k < len(lags)

        def radial(a):
            return np.bincount(k[use], a.ravel()[use], minlength=len(lags))

        ff, f1, n = radial(corr(F, F)), radial(corr(F, O)), radial(corr(O, O))
        inside = np.clip(ff / np.maximum(f1, 1e-9), 0, 1)
        outside = np.clip((f1 - ff) / np.maximum(n - f1, 1e-9), 0, 1)
        inside[0], outside[0] = 1.0, 0.0
        # the lag over which the region's correlation halves: how far across the plane its boundaries cohere
        p = float(region.mean())
        halved = (inside - p) / max(1 - p, 1e-9) < 0.5
        scale = float(lags[np.argmax(halved)]) if halved.any() else float(lags[-1])
        return cls(region, T, lags, inside, outside, scale, step)

    def realize(self, rng: np.random.Generator) -> "TissueInDepth":
        """One tissue beyond the faces with these shares: each column's tissue ends (over visible
        tissue) or begins (over none) at a depth of its own above and below the section, the depths
        of columns within about ``scale`` px of each other moving together."""
        from scipy.ndimage import gaussian_filter
        from scipy.special import ndtr

        shape = _block_shape(self.region.shape, self.step)
        levels = []
        for _ in range(2):
            g = rng.standard_normal(shape)
            if self.scale > 0:  # smoothing by sigma halves white noise's correlation at 1.67 sigma
                g = gaussian_filter(g, self.scale / (1.67 * self.step), mode="reflect")
            levels.append(ndtr((g - g.mean()) / max(float(g.std()), 1e-12)))
        return replace(self, levels=(levels[0], levels[1]))

    def share(self, pts: np.ndarray) -> np.ndarray:
        """For each point ``(x, y, z)``, the probability that it lies in tissue that holds cells (0 or 1 in a
        drawn tissue, :meth:`realize`)."""
        H, W = self.region.shape
        rows, cols = np.floor(pts[:, 1]).astype(int), np.floor(pts[:, 0]).astype(int)
        in_image = (rows >= 0) & (rows < H) & (cols >= 0) & (cols < W)
        out = np.ones(len(pts))
        column = self.region[rows[in_image], cols[in_image]]
        z = pts[in_image, 2]
        dz = np.maximum(np.maximum(-z, z - self.T), 0.0)
        p = np.where(column, np.interp(dz, self.lags, self.inside), np.interp(dz, self.lags, self.outside))
        if self.levels is not None:  # the drawn tissue: in or out, as the column's level says
            r, c = rows[in_image] // self.step, cols[in_image] // self.step
            u = np.where(z < 0, self.levels[0][r, c], self.levels[1][r, c])
            p = (u < p).astype(float)
        out[in_image] = p
        return out


def hidden_nuclei(xy_vis: np.ndarray, z_vis: np.ndarray, rho_vis: np.ndarray, tissue: TissueInDepth, n_v: float,
                  r_min: float, reach: float, rho_draw, rng: np.random.Generator, edge: float = 0.0):
    """Draw the unseen nuclei around a section: centres and radii.

    They lie in a margin of ``reach`` px around the patch (unseen: outside the
    image) and above and below the section (unseen: too far from it to show),
    at density ``n_v`` where ``tissue`` holds cells, and never interpenetrate a
    visible nucleus or each other.
    :param rho_draw: ``rho_draw(n, rng)`` radii from the size prior.
    :param edge: the chromatin path a profile's rim needs to be seen (:func:`cellframe.physics.stereology.seen_depths`).
    """
    H, W = tissue.region.shape
    T = tissue.T
    lo = np.array([-reach, -reach, -reach - r_min])
    hi = np.array([W + reach, H + reach, T + reach + r_min])
    vis = np.column_stack([xy_vis, z_vis])
    vis_tree = cKDTree(vis) if len(vis) else None

    def candidates(n):
        pts = rng.uniform(lo, hi, size=(n, 3))
        rho = rho_draw(n, rng)
        inside_xy = (pts[:, 0] >= 0) & (pts[:, 0] < W) & (pts[:, 1] >= 0) & (pts[:, 1] < H)
        shows = inside_xy & (np.abs(pts[:, 2] - T / 2) < seen_depths(rho, T, r_min, edge) / 2)
        keep = ~shows & (rng.random(n) < tissue.share(pts))
        return pts[keep], rho[keep]

    target_pts, target_rho = candidates(rng.poisson(n_v * np.prod(hi - lo)))
    target = len(target_pts)
    pts, rho = np.zeros((0, 3)), np.zeros(0)
    new_pts, new_rho = target_pts, target_rho
    for _ in range(8):  # refill what clashes, so the unseen tissue keeps the density
        if len(new_pts) and vis_tree is not None:
            d, j = vis_tree.query(new_pts)
            ok = d >= new_rho + rho_vis[j]
            new_pts, new_rho = new_pts[ok], new_rho[ok]
        if len(new_pts) and len(pts):
            d, j = cKDTree(pts).query(new_pts)
            ok = d >= new_rho + rho[j]
            new_pts, new_rho = new_pts[ok], new_rho[ok]
        if len(new_pts) > 1:
            pairs = cKDTree(new_pts).query_pairs(2 * float(new_rho.max()), output_type="ndarray")
            gap = np.linalg.norm(new_pts[pairs[:, 0]] - new_pts[pairs[:, 1]], axis=1)
            ok = np.ones(len(new_pts), bool)
            ok[pairs[gap < new_rho[pairs[:, 0]] + new_rho[pairs[:, 1]], 1]] = False
            new_pts, new_rho = new_pts[ok], new_rho[ok]
        pts, rho = np.vstack([pts, new_pts]), np.concatenate([rho, new_rho])
        missing = target - len(pts)
        if missing <= 0:
            break
        new_pts, new_rho = candidates(int(missing * 1.3 * (np.prod(hi - lo) * n_v / max(target, 1))))
        new_pts, new_rho = new_pts[:missing], new_rho[:missing]
    return pts, rho


def cell_volumes(centres: np.ndarray, rho: np.ndarray, others: np.ndarray, others_rho: np.ndarray,
                 tissue: TissueInDepth, ball: np.ndarray, points: int, rng: np.random.Generator,
                 weight: float = 1.0) -> np.ndarray:
    """Volume of each of ``centres``' Laguerre cells, by quasi-Monte Carlo in a ball of radius ``ball`` around it.

    ``weight`` scales the power distance's weights, the squared nuclear radii: 1 lets a cell grow with its
    nucleus (the boundary between two cells nearer the smaller nucleus), 0 is the plain Voronoi partition.

    The ``points`` (a power of 2) per cell are a scrambled Sobol' set, shifted at random for each cell
    (unbiased, and for the same error about a third of the plain Monte Carlo points). Each point counts
    as much as ``tissue`` says it holds cells (:meth:`TissueInDepth.share`).
    """
    n = len(centres)
    if n == 0:
        return np.zeros(0)
    pts = (centres[:, None, :] + ball_points(n, points, rng) * ball[:, None, None]).reshape(-1, 3)
    sites = np.vstack([centres, others])
    weights = weight * np.concatenate([rho, others_rho]) ** 2
    mine = tissue.share(pts)
    held = np.flatnonzero(mine)  # points that hold no cells count 0 whoever owns them: not looked up
    _, owner = power_labels(pts[held], sites, weights)
    mine[held] *= owner == held // points
    share = mine.reshape(n, points).mean(axis=1)
    return share * 4 / 3 * np.pi * ball**3


def ball_points(n: int, points: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, points, 3)`` points evenly spread in the unit ball: one scrambled Sobol' set, shifted at
    random modulo 1 for each of the ``n`` balls (Cranley-Patterson), mapped volume-preservingly."""
    from scipy.stats import qmc

    if points & (points - 1):
        raise ValueError(f"points={points} must be a power of 2 (Sobol' points)")
    cube = (qmc.Sobol(3, scramble=True, seed=rng).random_base2(int(np.log2(points)))[None]
            + rng.random((n, 1, 3))) % 1.0
    radius = np.cbrt(cube[..., 0])
    cos_t = 1.0 - 2.0 * cube[..., 1]
    sin_t = np.sqrt(np.maximum(1.0 - cos_t**2, 0.0))
    phi = 2.0 * np.pi * cube[..., 2]
    return np.stack([radius * sin_t * np.cos(phi), radius * sin_t * np.sin(phi), radius * cos_t], axis=-1)
