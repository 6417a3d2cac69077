"""Depth evidence from focus: a nucleus away from the focal plane has a blurred edge.

A bright-field objective's depth of field is about the section's thickness, so a
nucleus whose centre lies far from the focal plane is drawn through a wider
point-spread function. Each nucleus' blur is measured by fitting its
haematoxylin density with the projection of a sphere (chord length
``sqrt(1 - (d / r)^2)``) blurred by a Gaussian of width ``s``, over a grid of
``s``. The blur grows with the distance from the focal plane,
``s(z) = sqrt(s0^2 + (k (z - f))^2)``; the optics blur ``s0``, the defocus rate
``k``, the focal plane ``f`` and the measurement noise are fitted to the image
itself, with each nucleus' depth taken from its lost-caps posterior. The
result is a per-nucleus energy over the depth grid, flat when the image shows
no defocus (the fit's likelihood gain is then not significant). The focal plane
stays at the mid-plane unless an off-centre one fits significantly better: only
then does the term say which face a nucleus is near. The profile's edge is not
taken to be the outline: an outline from a threshold lies inside a nucleus' pale
rim, more so the paler it is, and read as the edge that rim looks like blur (the
second renderer's mid-plane focus was read as a focal plane at the top face). So
each nucleus is fitted over a grid of edge radii (``RADIUS_SCALES`` times its
outline's) as well as of blurs; its blur is the best pair's where that edge fits
clearly better than the outline's own (``EDGE_GAIN`` at 0.25 um/px, the same evidence per um^2 at
other pixel sizes: :func:`edge_gain`), else the best at the outline.
The two readings err in different ways, so a focal plane off the mid-plane found
with the fitted edge stands only where the outline's reading shows one too
(:func:`measure_focus`). Nor is a cap's edge a sphere's: a nucleus cut by the
section shows its stained path through the section only, and a cap's path
thins linearly to its rim where a whole sphere's drops steeply, so in focus a
cap reads as blurred. On sections with no defocus at all, caps near the faces
and whole nuclei at the mid-plane read as a focal plane off the mid-plane
(random spheres: likelihood ratio 15 against the mid-plane). So an off-centre
plane must also show when each outline is fitted with the shapes a section cuts
(``SECTION_CUTS``): only then is it focus and not caps.

Where the focal plane is off the mid-plane this breaks the mirror symmetry of
lost caps: ``|z - f|`` differs between a depth and its mirror image. Which face
is "top" is still a convention (``focus_side``): the image says how far a
nucleus is from the focal plane, not on which side of it the glass was.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
from scipy.spatial import cKDTree
from scipy.stats import chi2

from cellframe.physics import student_t
from cellframe.physics.stereology import clipped_chord

#: degrees of freedom of the Student-t noise on a measured blur (in the fit and in the energy)
NU = student_t.NU
#: blur widths (Gaussian sigma, px) each nucleus is fitted with
SIGMAS = np.array([0.3, 0.6, 0.9, 1.2, 1.6, 2.0, 2.5, 3.0, 3.6, 4.3, 5.0, 6.0])
#: radii of the sphere projection each nucleus is fitted with, as multiples of its outline's
RADIUS_SCALES = np.array([0.9, 1.0, 1.1, 1.2, 1.3])
#: log-likelihood gain (nats) an edge radius other than the outline's must show to be taken, at
#: EDGE_GAIN_MPP um/px (:func:`edge_gain` scales it to other pixel sizes)
EDGE_GAIN = 20.0
EDGE_GAIN_MPP = 0.25
#: where the sphere's centre lies for the shapes a section cuts: at the mid-plane (None), or beyond a
#: face by this share of its radius (0: on the face; its profile is then the cap's rim)
SECTION_CUTS = (None, 0.0, 0.5, 0.8)


def edge_gain(mpp: float) -> float:
    """The gain (nats) an edge radius other than the outline's must show at ``mpp`` um/px: the same
    evidence per um^2 of edge as :data:`EDGE_GAIN` at :data:`EDGE_GAIN_MPP`. The gain counts every pixel
    as an independent measurement, and neighbouring pixels are not (texture, the optics' blur), so at
    coarser pixels the same edge gives fewer nats: at 0.5 um/px a quarter (a fixed bar there kept the
    outline for most nuclei, and the blur its pale rim reads as made a focal plane at a face
    where the second renderer's is at the mid-plane)."""
    return EDGE_GAIN * (EDGE_GAIN_MPP / float(mpp)) ** 2


def edge_blur(od: np.ndarray, xy: np.ndarray, r: np.ndarray, sigmas: np.ndarray = SIGMAS,
              min_radius: float = 3.0, scales: np.ndarray = RADIUS_SCALES,
              min_gain: float = EDGE_GAIN, section: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each nucleus' blur (px) and whether it could be measured (:func:`edge_fits`, :func:`read_blur`)."""
    scales = np.asarray(scales, float)
    sse, pixels = edge_fits(od, xy, r, sigmas, scales, min_radius, section)
    return read_blur(sse, pixels, sigmas, scales, min_gain), np.isfinite(sse[:, 0, 0])


def read_blur(sse: np.ndarray, pixels: np.ndarray, sigmas: np.ndarray = SIGMAS, scales: np.ndarray = RADIUS_SCALES,
              min_gain: float = EDGE_GAIN) -> np.ndarray:
    """Each nucleus' blur (px; NaN where unmeasured) from its :func:`edge_fits`.

    The best ``s`` at each edge radius is refined by a parabola through its neighbours. The
    outline's own radius (scale 1) stands unless another fits better by more than ``min_gain``
    nats (Gaussian residuals): a freer edge also soaks up real blur.
    """
    scales = np.asarray(scales, float)
    at_outline = np.flatnonzero(scales == 1.0)
    if len(at_outline) != 1:
        raise ValueError(f"scales={scales.tolist()} must hold 1 (the outline's radius) once")
    ok = np.isfinite(sse[:, 0, 0])
    at, low = _refined_minima(sigmas, sse[ok])  # (measured, scales) each
    low = np.log(np.maximum(low, 1e-300))
    best = np.argmin(low, axis=1)
    gain = 0.5 * pixels[ok] * (low[:, at_outline[0]] - low[np.arange(len(best)), best])
    best[gain <= min_gain] = at_outline[0]
    blur = np.full(len(sse), np.nan)
    blur[ok] = at[np.arange(len(best)), best]
    return blur


def edge_fits(od: np.ndarray, xy: np.ndarray, r: np.ndarray, sigmas: np.ndarray = SIGMAS,
              scales: np.ndarray = RADIUS_SCALES, min_radius: float = 3.0,
              section: float | None = None, only: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(n, scales, sigmas)`` residual sums of squares of each nucleus' edge model (NaN where it could
    not be measured: too small, at an image edge, too few pixels of its own) and ``(n,)`` its pixels.

    The model, a sphere projection of radius ``scale * r`` blurred by ``s`` (scaled and offset by least
    squares), is fitted over the pixels the nucleus owns (nearest in distance over outline radius)
    within its radius plus the widest blur. With ``section`` (its thickness, px), each model is the
    best of the spheres such a section cuts to a profile of that radius (``SECTION_CUTS``). ``only``:
    the indices of the nuclei to fit (the others unmeasured, still owning their pixels).
    """
    H, W = od.shape
    n = len(r)
    scales = np.asarray(scales, float)
    sse, pixels = np.full((n, len(scales), len(sigmas)), np.nan), np.zeros(n, int)
    tree = cKDTree(xy) if n else None
    margin = 2.5 * float(sigmas.max()) + (float(scales.max()) - 1) * float(r.max(initial=0))
    table = _band_table([_gaussian_kernel(s) for s in sigmas])
    profiles = None if section is None else [partial(section_path, T=section, cut=c) for c in SECTION_CUTS]
    for i in range(n) if only is None else only:
        (x, y), rad = xy[i], r[i]
        if rad < min_radius:
            continue
        reach = rad + margin
        r0, r1 = max(int(y - reach), 0), min(int(y + reach) + 2, H)
        c0, c1 = max(int(x - reach), 0), min(int(x + reach) + 2, W)
        if r1 - r0 < 5 or c1 - c0 < 5:
            continue
        # only the pixels within rad + 1.5 max(sigma) can be the nucleus' own: the window around them
        own_reach = rad + 1.5 * float(sigmas.max())
        w0, w1 = max(int(np.ceil(y - own_reach)), r0), min(int(np.floor(y + own_reach)) + 1, r1)
        v0, v1 = max(int(np.ceil(x - own_reach)), c0), min(int(np.floor(x + own_reach)) + 1, c1)
        yy, xx = np.ogrid[w0:w1, v0:v1]
        d = np.hypot(xx - x, yy - y)
        own = d <= own_reach
        # pixels nearer (in distance over radius) to another nucleus are not this one's. Nucleus j is nearer
        # for some pixel within own_reach only if |c_j - c_i| < own_reach (1 + r_j / rad): the query takes
        # every such j (the largest r_j for all), the test after it keeps only those
        near = tree.query_ball_point((x, y), own_reach * (1 + float(r.max()) / rad))
        others = np.array([j for j in near if j != i], int)
        others = others[(np.hypot(*(xy[others] - (x, y)).T) - own_reach) * rad < own_reach * r[others]]
        if len(others):
            rows, cols = np.nonzero(own)
            px, py = cols + v0, rows + w0
            nearest = (np.hypot(px[None] - xy[others, 0, None], py[None] - xy[others, 1, None])
                       / r[others, None]).min(axis=0)
            own[rows, cols] = d[rows, cols] / rad <= nearest
        if own.sum() < 20:
            continue
        target = od[w0:w1, v0:v1][own]
        target = target - target.mean()
        # least squares of target on (model, 1) per radius and blur: the residual of a simple regression
        model = _blurred_paths(x, y, rad * scales, (r0, r1, c0, c1), (w0, w1, v0, v1), table, profiles)[:, :, own]
        model -= model.mean(axis=2, keepdims=True)
        sxx, sxy = np.einsum("ckp,ckp->ck", model, model), model @ target
        fits = float(target @ target) - np.divide(sxy**2, sxx, out=np.zeros_like(sxy), where=sxx > 0)
        sse[i] = fits.reshape(-1, len(scales), len(sigmas)).min(axis=0)  # the best profile
        pixels[i] = len(target)
    return sse, pixels


def _blurred_paths(x: float, y: float, radii: np.ndarray, crop: tuple[int, int, int, int],
                   window: tuple[int, int, int, int], table: np.ndarray, profiles=None) -> np.ndarray:
    """``(radii, kernels, window rows, window cols)``: the sphere projection of each radius at ``(x, y)``
    over ``crop`` (rows r0:r1, cols c0:c1), blurred by each kernel as ``gaussian_filter(mode="nearest")``
    on the crop does, over ``window`` (``table``: the kernels' :func:`_band_table`). ``profiles``, where
    given, replace the sphere projection: functions ``(d, radii)`` (e.g. :func:`section_path`), the
    first axis then each profile's radii in turn.

    The projection is zero beyond its support, so the blur is that of the support: banded (Toeplitz)
    matrices of each kernel's weights, down the rows and across the columns, for all radii and kernels
    at once (the same sums in another order). Where the support reaches the crop's border (an image
    edge), the rows and columns ``nearest`` repeats beyond it take the kernel's tail on the border's.
    """
    r0, r1, c0, c1 = crop
    w0, w1, v0, v1 = window
    rad = float(np.max(radii))
    s0, s1 = max(int(np.floor(y - rad)), r0), min(int(np.ceil(y + rad)) + 1, r1)  # rows and columns covered
    u0, u1 = max(int(np.floor(x - rad)), c0), min(int(np.ceil(x + rad)) + 1, c1)
    yy, xx = np.ogrid[s0:s1, u0:u1]
    d = np.hypot(xx - x, yy - y)
    radii = np.asarray(radii, float)[:, None, None]
    paths = (np.sqrt(np.clip(1.0 - (d[None] / radii) ** 2, 0.0, None)) if profiles is None
             else np.concatenate([profile(d[None], radii) for profile in profiles]))
    rows, cols = np.arange(w0, w1), np.arange(v0, v1)
    down = _bands(table[0], rows[:, None] - np.arange(s0, s1)[None, :])  # (k, window rows, s rows)
    across = _bands(table[0], np.arange(u0, u1)[:, None] - cols[None, :])  # (k, u cols, window cols)
    if s0 == r0:
        down[:, :, 0] = _bands(table[1], rows - r0)
    if s1 == r1:
        down[:, :, -1] = _bands(table[1], r1 - 1 - rows)
    if u0 == c0:
        across[:, 0, :] = _bands(table[1], cols - c0)
    if u1 == c1:
        across[:, -1, :] = _bands(table[1], c1 - 1 - cols)
    return down[None] @ paths[:, None] @ across[None]


def section_path(d: np.ndarray, profile: np.ndarray, T: float, cut: float | None) -> np.ndarray:
    """The path through a section ``T`` thick, at distance ``d`` from the axis, of a sphere whose profile
    has radius ``profile``: centred at the mid-plane (``cut`` None; profile = radius), or beyond a face by
    ``cut`` times its radius (profile = the cap's rim)."""
    if cut is None:
        rho, centre = profile, T / 2
    else:
        rho = profile / np.sqrt(1.0 - cut**2)
        centre = -cut * rho
    return clipped_chord(centre, np.sqrt(np.clip(rho**2 - d**2, 0.0, None)), T)


def _band_table(kernels: list[np.ndarray]) -> np.ndarray:
    """``(2, kernels, 2 reach + 3)``: each (symmetric) kernel's weights centred on ``reach + 1``, zeros
    around; and its upper tails (the sum of its weights at that offset and beyond)."""
    reach = max(len(k) for k in kernels) // 2
    table = np.zeros((len(kernels), 2 * reach + 3))
    for row, k in zip(table, kernels):
        row[reach + 1 - len(k) // 2 : reach + 2 + len(k) // 2] = k
    return np.stack([table, np.cumsum(table[:, ::-1], axis=1)[:, ::-1]])


def _bands(table: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``(kernels, *offsets.shape)``: each kernel's entry of ``table`` at each offset (clipped to its ends)."""
    centre = table.shape[1] // 2
    return table[:, np.clip(offsets + centre, 0, table.shape[1] - 1)]


def _refined_minima(s: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each row of ``e`` (over the grid ``s``, last axis) is lowest and how low: at its grid minimum,
    refined by the parabola through it and its neighbours (within them; the grid point at either end of
    the grid or where the parabola opens downward)."""
    best = np.argmin(e, axis=-1)
    at = s[best].astype(float)
    low = np.take_along_axis(e, best[..., None], axis=-1)[..., 0].astype(float)
    inner = (best > 0) & (best < len(s) - 1)
    k = np.clip(best, 1, len(s) - 2)
    s0, s1, s2 = s[k - 1], s[k], s[k + 1]
    e0, e1, e2 = (np.take_along_axis(e, (k + d)[..., None], axis=-1)[..., 0] for d in (-1, 0, 1))
    left, right = (e1 - e0) / (s1 - s0), (e2 - e1) / (s2 - s1)
    a = (right - left) / (s2 - s0)
    use = inner & (a > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        vertex = np.clip(0.5 * (s0 + s1) - left / (2 * a), s0, s2)
    at = np.where(use, vertex, at)
    low = np.where(use, e1 + (at - s1) * (left + a * (at - s0)), low)  # the parabola in Newton's form
    return at, low


def _gaussian_kernel(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """The weights ``scipy.ndimage.gaussian_filter`` uses for ``sigma``."""
    radius = int(truncate * sigma + 0.5)
    weights = np.exp(-0.5 / (sigma * sigma) * np.arange(-radius, radius + 1) ** 2)
    return (weights / weights.sum())[::-1]


@dataclass
class FocusModel:
    """``s(z) = sqrt(s0^2 + (k (z - f))^2)`` with Student-t measurement noise of scale ``noise`` (all px; ``NU`` degrees of freedom)."""

    s0: float
    k: float
    f: float
    noise: float
    #: likelihood-ratio statistic against no defocus (k = 0), and whether it is significant
    statistic: float = 0.0
    significant: bool = False
    #: likelihood-ratio statistic of the best focal plane against the mid-plane's
    off_mid: float = 0.0
    #: where the focal plane is off the mid-plane: the best fit with it at the mid-plane
    at_mid: "FocusModel | None" = None

    def blur(self, z: np.ndarray) -> np.ndarray:
        return np.sqrt(self.s0**2 + (self.k * (np.asarray(z, float) - self.f)) ** 2)


def _marginals(blur: np.ndarray, weights: np.ndarray, grid: np.ndarray, s0: float, k: float,
               focals: np.ndarray, noises: np.ndarray) -> np.ndarray:
    """Log-likelihood of the measured blurs, each depth weighted by its lost-caps posterior, for every
    focal plane and noise level: ``(focals, noises)``."""
    pred = np.sqrt(s0**2 + (k * (grid[None, :] - focals[:, None])) ** 2)  # (F, G)
    # single precision inside each nucleus' mixture, double across nuclei
    d2 = ((blur[None, :, None] - pred[:, None, :]) ** 2).astype(np.float32)  # (F, n, G)
    # Student-t, as in focus_energy: with Gaussian noise, a mirror-image pair of depths reads a few badly
    # measured blurs as the two depths of an off-centre focal plane and finds one where there is none
    a = d2[None] * (1.0 / (NU * noises**2)).astype(np.float32)[:, None, None, None]  # (noises, F, n, G)
    a += 1
    density = np.divide(weights.astype(np.float32), student_t.inverse_kernel(a), out=a)
    per_nucleus = np.log(density.sum(axis=3).astype(float))
    return (per_nucleus.sum(axis=2) - len(blur) * np.log(noises)[:, None]).T


def fit_focus(blur: np.ndarray, energy: np.ndarray, grid: np.ndarray, T: float, side: str = "top",
              level: float = 0.001) -> FocusModel:
    """Fit the focus model to measured blurs, each nucleus' depth weighted by ``exp(-energy)``.

    ``f`` is searched in the half of the section ``side`` names (``top``: ``[0, T/2]``,
    ``bottom``: ``[T/2, T]``), which fixes the mirror convention; a best ``f`` not significantly
    better than the mid-plane (``off_mid``, chi-square 1 dof) gives the mid-plane's fit. The fit counts as
    significant when its likelihood gain over ``k = 0`` has a chi-square (2 dof) p below ``level``.
    """
    pick = fit_sample(len(blur))
    blur, energy = blur[pick], energy[pick]
    coarse = slice(None, None, max(len(grid) // 32, 1))
    grid, energy = grid[coarse], energy[:, coarse]
    weights = np.exp(-(energy - energy.min(axis=1, keepdims=True)))
    weights /= weights.sum(axis=1, keepdims=True)
    spread = max(float(np.std(blur)), 0.05)
    centre = float(np.median(blur))
    noises = spread * np.array([0.25, 0.4, 0.6, 0.8, 1.0, 1.3])
    s0s = np.linspace(max(float(np.percentile(blur, 2)), 0.1), centre, 6)
    focals = np.linspace(0.0, T / 2, 17) if side == "top" else np.linspace(T / 2, T, 17)
    depth_span = max(float(grid[-1] - grid[0]), 1.0)
    ks = np.linspace(0.0, 2.0 * (float(np.percentile(blur, 95)) + 0.5) / depth_span, 12)
    no_defocus = _marginals(blur, weights, grid, centre, 0.0, np.zeros(1), noises)[0]
    j = int(np.argmax(no_defocus))
    flat = (float(no_defocus[j]), centre, float(noises[j]))
    best = mid = (flat[0], flat[1], 0.0, T / 2, flat[2])
    mid_plane = int(np.flatnonzero(focals == T / 2)[0])
    for s0 in s0s:
        for k in ks[1:]:
            ll = _marginals(blur, weights, grid, s0, k, focals, noises)  # (focal planes, noises)
            i, j = np.unravel_index(int(np.argmax(ll)), ll.shape)  # the first best, in the grid's order
            if ll[i, j] > best[0]:
                best = (float(ll[i, j]), s0, k, float(focals[i]), float(noises[j]))
            j = int(np.argmax(ll[mid_plane]))
            if ll[mid_plane, j] > mid[0]:
                mid = (float(ll[mid_plane, j]), s0, k, T / 2, float(noises[j]))
    statistic = 2.0 * (best[0] - flat[0])
    if not (best[2] > 0 and chi2.sf(statistic, 2) < level):
        return FocusModel(flat[1], 0.0, T / 2, flat[2], statistic, False)
    off_mid = 2.0 * (best[0] - mid[0])
    if chi2.sf(off_mid, 1) >= level:  # an off-centre focal plane is not shown: stay symmetric
        return FocusModel(mid[1], mid[2], mid[3], mid[4], statistic, True, off_mid)
    # the fallback, should the off-centre plane not be confirmed: the mid-plane's fit, tested on its own
    mid_statistic = 2.0 * (mid[0] - flat[0])
    symmetric = (FocusModel(mid[1], mid[2], mid[3], mid[4], mid_statistic, True, off_mid)
                 if mid[2] > 0 and chi2.sf(mid_statistic, 2) < level
                 else FocusModel(flat[1], 0.0, T / 2, flat[2], mid_statistic, False, off_mid))
    return FocusModel(best[1], best[2], best[3], best[4], statistic, True, off_mid, symmetric)


def fit_sample(n: int, most: int = 300) -> np.ndarray:
    """The nuclei :func:`fit_focus` fits of ``n``: evenly spread, at most ``most`` (the fit has 4
    parameters: a few hundred nuclei pin them)."""
    return np.linspace(0, n - 1, most).astype(int) if n > most else np.arange(n)


def measure_focus(od: np.ndarray, xy: np.ndarray, r: np.ndarray, energy: np.ndarray, grid: np.ndarray, T: float,
                  side: str = "top", scales: np.ndarray = RADIUS_SCALES, min_nuclei: int = 30,
                  min_gain: float = EDGE_GAIN) -> tuple[np.ndarray, np.ndarray, FocusModel | None, bool]:
    """Each nucleus' blur, whether it was measured, the focus model fitted to them (None: too few
    measured) and whether an off-centre focal plane was dropped for want of confirmation.

    With the edge radius fitted (``scales`` beyond 1), a focal plane off the mid-plane is kept only
    where the blurs read at the outline show one too: the two readings err in different ways (the
    outline's reads pale rims as blur; the fitted edge's freedom makes its own noise), and a real
    off-centre plane shows in both. It must also show in the outline's reading with the shapes a
    section ``T`` thick cuts (``edge_fits(section=T)``): caps' thin rims, read as blur, make planes too.
    ``min_gain``: the fitted edge's gate (:func:`read_blur`; :func:`edge_gain` at the image's pixel size).
    """
    scales = np.asarray(scales, float)
    sse, pixels = edge_fits(od, xy, r, scales=scales)
    measured = np.isfinite(sse[:, 0, 0])
    blur = read_blur(sse, pixels, scales=scales, min_gain=min_gain)
    if measured.sum() < min_nuclei:
        return blur, measured, None, False
    model = fit_focus(blur[measured], energy[measured], grid, T, side)
    if model.at_mid is None or len(scales) == 1:
        return blur, measured, model, False

    outline = read_blur(sse[:, scales == 1.0], pixels, scales=np.ones(1))
    confirmed = fit_focus(outline[measured], energy[measured], grid, T, side).at_mid is not None
    if confirmed:  # the shapes a section cuts cost 4 fits: only for a plane the outline shows, the nuclei fitted
        fitted = np.flatnonzero(measured)[fit_sample(int(measured.sum()))]
        cut_sse, _ = edge_fits(od, xy, r, scales=np.ones(1), section=T, only=fitted)
        cut = read_blur(cut_sse[fitted], pixels[fitted], scales=np.ones(1))
        confirmed = fit_focus(cut, energy[fitted], grid, T, side).at_mid is not None
    if confirmed:
        return blur, measured, model, False
    return blur, measured, model.at_mid, True


def focus_energy(blur: np.ndarray, measured: np.ndarray, grid: np.ndarray, model: FocusModel,
                 spread: np.ndarray | float = 1.0, nu: float = NU) -> np.ndarray:
    """``(n, grid)`` energy of each depth from the nucleus' blur (0 where unmeasured or no defocus).

    Student-t (``nu`` degrees of freedom) around the model's blur, its scale the fitted noise
    times ``spread`` (larger for nuclei whose edge another profile crosses): a badly measured
    edge must not pin a depth.
    """
    energy = np.zeros((len(blur), len(grid)))
    if not model.significant:
        return energy
    pred = model.blur(grid)
    use = measured & np.isfinite(blur)
    scale = (model.noise * np.broadcast_to(np.asarray(spread, float), blur.shape))[use, None]
    energy[use] = student_t.neg_log_kernel((blur[use, None] - pred[None, :]) / scale, nu)
    return energy - energy.min(axis=1, keepdims=True)
