"""Depth evidence from lost caps: profile size and haematoxylin density against a size prior.

A nucleus whose centre lies inside the section shows its full equator and the
longest chords; one whose centre lies ``h`` outside a face shows a smaller cap
(``sqrt(rho^2 - h^2)``) with shorter chords, so it looks small and pale. Given
its observed profile radius ``r_obs`` and a centre depth ``z``, the true radius
follows (:func:`cellframe.physics.stereology.radius_from_profile`), and with it the mean
path length through stained chromatin over the profile's centre. The image
gives that mean as haematoxylin optical density, up to one stain constant per
image. Everything per image is estimated from the image itself:

* the size prior (log-normal true radius) by maximum likelihood on the observed
  profile radii, with the lost-cap and Holmes (thick-section) effects and the
  smallest visible profile (parametric Wicksell unfolding);
* the stain constant, the spread of chromatin density and the stain's response (how the density
  grows with the chromatin path: ``k * path ** response``) by marginal likelihood.

The result is, per nucleus, an energy (negative log posterior) over a grid of
depths. It is symmetric about the mid-plane: transmitted light cannot say which
face a nucleus is near. A profile shows a nucleus across the plane only, so the grid may run over
its semi-axis along depth too (:func:`depth_axes`: ``q`` per grid point in :func:`log_prior` and
:func:`predicted_path`), and :func:`over_shapes` marginalises it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from cellframe.physics import student_t
from cellframe.physics.stereology import mean_path, radius_from_profile, seen_depths

#: energy given to depths the size prior rules out
WALL = 30.0

#: the stain responses :func:`fit_stain` may choose: 1 is Beer-Lambert on uniform chromatin; below 1 where
#: thin caps look darker than their path (chromatin denser at the nuclear envelope, blur, background)
RESPONSES = tuple(round(0.3 + 0.05 * i, 2) for i in range(21))


@dataclass(frozen=True)
class Stain:
    """How an image's haematoxylin density follows the chromatin path: ``k * path ** response``, with
    log-scale spread ``sd`` between nuclei."""

    k: float
    sd: float
    response: float = 1.0

    def path(self, path: np.ndarray) -> np.ndarray:
        """The chromatin path as the stain shows it (``path ** response``)."""
        return path if self.response == 1.0 else path**self.response


def haematoxylin(image: np.ndarray) -> np.ndarray:
    """Haematoxylin optical density per pixel (colour deconvolution, scikit-image's ``rgb2hed``)."""
    from skimage.color import rgb2hed

    return rgb2hed(image[..., :3])[..., 0]


def measure_density(h: np.ndarray, xy: np.ndarray, r: np.ndarray, inner: float = 0.6,
                    ring: tuple[float, float] = (2.0, 6.0)) -> np.ndarray:
    """Mean haematoxylin over each nucleus' central disc (radius ``inner * r``), minus its background.

    Pixels inside another nucleus' disc are left out of the centre where enough
    remain; the background is the median of a ring outside every nucleus.
    """
    H, W = h.shape
    owner = np.zeros((H, W), np.int32)  # how many nucleus discs cover each pixel
    boxes = []
    for (x, y), rad in zip(xy, r):
        reach = rad + ring[1] + 1
        r0, r1, c0, c1 = max(int(y - reach), 0), min(int(y + reach) + 2, H), max(int(x - reach), 0), min(int(x + reach) + 2, W)
        yy, xx = np.mgrid[r0:r1, c0:c1]
        d = np.hypot(xx - x, yy - y)
        boxes.append(((slice(r0, r1), slice(c0, c1)), d))
        owner[r0:r1, c0:c1] += d <= rad + 1
    out = np.zeros(len(r))
    glob = float(np.median(h))
    for k, ((box, d), rad) in enumerate(zip(boxes, r)):
        patch, own = h[box], owner[box]
        centre = d <= max(inner * rad, 1.0)
        alone = centre & (own <= 1)
        use = alone if alone.sum() >= 5 else centre
        band = (d > rad + ring[0]) & (d <= rad + ring[1]) & (own == 0)
        background = float(np.median(patch[band])) if band.sum() >= 5 else glob
        out[k] = float(patch[use].mean()) - background if use.any() else 0.0
    return out


@dataclass
class SizePrior:
    """Prior on the true nuclear radius (px): a mixture of log-normals (one component, or two where
    the tissue has two nuclear populations, such as tumour cells and lymphocytes), and the smallest
    visible profile."""

    mus: np.ndarray
    sigmas: np.ndarray
    weights: np.ndarray
    r_min: float
    #: the chromatin path (px) a profile's rim needs to be seen (:func:`cellframe.physics.stereology.edge_offset`)
    edge: float = 0.0

    @classmethod
    def lognormal(cls, mu: float, sigma: float, r_min: float, edge: float = 0.0) -> "SizePrior":
        return cls(np.array([mu]), np.array([sigma]), np.array([1.0]), r_min, edge)

    @property
    def mu(self) -> float:
        """Mean log radius (``exp(mu)``: the typical radius)."""
        return float(self.weights @ self.mus)

    @property
    def sigma(self) -> float:
        """Spread of the log radius over the whole mixture."""
        return float(np.sqrt(self.weights @ (self.sigmas**2 + (self.mus - self.mu) ** 2)))

    def logpdf(self, rho: np.ndarray) -> np.ndarray:
        rho = np.maximum(np.asarray(rho, float), 1e-9)
        log_rho = np.log(rho)[..., None]
        parts = (np.log(self.weights) - np.log(self.sigmas * np.sqrt(2 * np.pi))
                 - 0.5 * ((log_rho - self.mus) / self.sigmas) ** 2)
        return logsumexp(parts, axis=-1) - np.log(rho)

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` radii from the prior."""
        k = rng.choice(len(self.weights), size=n, p=self.weights) if len(self.weights) > 1 else np.zeros(n, int)
        return np.exp(self.mus[k] + self.sigmas[k] * rng.standard_normal(n))

    @property
    def high(self) -> float:
        """A radius the prior almost never exceeds (mean + 3.5 sd on the log scale of its largest component)."""
        return float(np.max(np.exp(self.mus + 3.5 * self.sigmas)))


class _ProfileModel:
    """What a section shows of nuclei of each true radius on a fine log grid: the share of their
    profiles falling in each bin of observed radius (equators inside the section, caps outside), and
    how likely they are to show at all. The likelihood of any size prior is then two dot products."""

    def __init__(self, r_obs: np.ndarray, T: float, r_min: float, edge: float = 0.0):
        self.edges = np.linspace(r_min, float(np.max(r_obs)) * 1.001 + 1e-6, 41)
        self.counts = np.histogram(r_obs, self.edges)[0]
        self.log_rho = np.arange(np.log(r_min) - 0.05, np.log(self.edges[-1]) + 3.0, 0.005)
        rho = np.exp(self.log_rho)
        # a profile falls in bin [a_j, a_j+1) where its outline is cut e in (s_j+1, s_j] below the centre
        # (stereology.edge_offset): e = edge / 2 over most of the section, edge / 2 to edge within edge / 2
        # of a face, h + edge for a cap whose centre lies h outside
        s = np.sqrt(np.maximum(rho[:, None] ** 2 - self.edges[None, :] ** 2, 0.0))
        lo, hi = s[:, 1:], s[:, :-1]
        if edge > 0:
            main = max(T - edge, 0.0) * ((lo <= edge / 2) & (edge / 2 < hi))
            strip = 2 * np.maximum(np.minimum(hi, edge) - np.maximum(lo, edge / 2), 0.0)
            caps = 2 * np.maximum(hi - np.maximum(lo, edge), 0.0)
            self.shows = main + strip + caps
        else:
            inside = T * ((rho[:, None] >= self.edges[None, :-1]) & (rho[:, None] < self.edges[None, 1:]))
            self.shows = inside + 2 * (hi - lo)
        self.seen = seen_depths(rho, T, r_min, edge)

    def lognormals(self, mus, sigmas) -> np.ndarray:
        """``(grid, k)`` unnormalised weights on the radius grid of ``k`` log-normals."""
        u = (self.log_rho[:, None] - np.asarray(mus)) / np.asarray(sigmas)
        return np.exp(-0.5 * u * u) / np.asarray(sigmas)

    def loglik(self, mus, sigmas, weights) -> float:
        """Log-likelihood of the observed profiles under one mixture of log-normals."""
        return float(self.logliks((self.lognormals(mus, sigmas) @ np.asarray(weights))[:, None])[0])

    def logliks(self, w: np.ndarray) -> np.ndarray:
        """Log-likelihoods of the priors whose (unnormalised) weights on the grid are ``w``'s columns."""
        seen = w.T @ self.seen
        mass = (w.T @ self.shows) / np.where(seen > 0, seen, np.nan)[:, None]
        ll = np.log(np.maximum(mass, 1e-300)) @ self.counts
        return np.where(np.isfinite(ll), ll, -np.inf)


def _fit_lognormal(r_obs: np.ndarray, T: float, edge: float):
    """The one-log-normal fit of :func:`fit_size_prior` on its grid: the prior, its log-likelihood, the
    profile model and the profiles it counts (those of at least ``r_min``, the 1st percentile)."""
    r_obs = np.asarray(r_obs, float)
    r_min = float(np.percentile(r_obs, 1))  # robust to a few slivers a segmenter leaves
    r_obs = r_obs[r_obs >= r_min]
    model = _ProfileModel(r_obs, T, r_min, edge)
    med = float(np.log(np.median(r_obs)))
    sigma_grid, mu_grid = np.meshgrid(np.linspace(0.04, 0.6, 29), med + np.linspace(-0.15, 0.6, 31), indexing="ij")
    sigma_grid, mu_grid = sigma_grid.ravel(), mu_grid.ravel()
    lls = model.logliks(model.lognormals(mu_grid, sigma_grid))
    best_k = int(np.argmax(lls))
    prior = SizePrior.lognormal(float(mu_grid[best_k]), float(sigma_grid[best_k]), r_min, edge)
    return prior, float(lls[best_k]), model, r_obs


def fit_size_prior(r_obs: np.ndarray, T: float, components: int = 1, edge: float = 0.0) -> SizePrior:
    """Maximum-likelihood true-radius prior from observed profile radii: a log-normal, or a mixture of
    two where the profiles say so (BIC).

    A nucleus of radius ``rho`` is hit by a section of thickness ``T`` with
    probability proportional to ``T + 2 rho`` (Holmes); its centre is then
    uniform over ``[-rho, T + rho]``. Inside the section it shows ``rho``;
    outside by ``h`` it shows ``sqrt(rho^2 - h^2)``. Profiles below the smallest
    observed radius (its 1st percentile) are not seen.
    :param components: the most log-normals the prior may mix (1 or 2).
    :param edge: the chromatin path (px) a profile's rim needs to be seen: caps show less, and
        shallow ones not at all (:func:`cellframe.physics.stereology.edge_offset`).
    """
    from scipy.optimize import minimize

    best, ll, model, r_obs = _fit_lognormal(r_obs, T, edge)
    r_min, mu, sigma = best.r_min, float(best.mus[0]), float(best.sigmas[0])
    if components < 2 or len(r_obs) < 100:
        return best

    def mixture(x):  # the optimiser's unbounded parameters as log-medians, log-spreads and shares
        share = 1 / (1 + np.exp(-x[4]))
        return x[[0, 2]], np.clip(np.exp(x[[1, 3]]), 0.03, 0.8), np.array([share, 1 - share])

    def negll(x):
        return -model.loglik(*mixture(x))

    # two populations: started from the single fit split in two, and from the quartiles of the profiles
    q1, q3 = np.log(np.percentile(r_obs, [25, 75]))
    starts = [[mu + 0.8 * sigma, np.log(sigma / 2), mu - 0.8 * sigma, np.log(sigma / 2), 0.0],
              [mu + 0.1, np.log(max(sigma / 2, 0.05)), q1, np.log(max(sigma / 2, 0.05)), 1.0],
              [q3 + 0.1, np.log(max(sigma / 2, 0.05)), q1 - 0.1, np.log(max(sigma / 2, 0.05)), 0.0]]
    fits = [minimize(negll, x0, method="Nelder-Mead", options={"maxiter": 1500, "xatol": 1e-3, "fatol": 1e-3})
            for x0 in starts]
    fit = min(fits, key=lambda f: f.fun)
    mus, sigmas, weights = mixture(fit.x)
    apart = abs(mus[0] - mus[1]) > max(sigmas)  # two populations, not one with a heavier tail
    if 2 * (-fit.fun - ll) > 3 * np.log(len(r_obs)) and weights.min() >= 0.05 and apart:
        order = np.argsort(-weights)
        return SizePrior(mus[order], sigmas[order], weights[order], r_min, edge)
    return best


def fit_prior_and_edge(r_obs: np.ndarray, m: np.ndarray, T: float, edges, components: int = 1,
                       use: np.ndarray | None = None, grid: int = 49, responses=RESPONSES) -> SizePrior:
    """The size prior (:func:`fit_size_prior`) at the outline edge (``SizePrior.edge``, px) that best
    explains the profiles and their haematoxylin densities ``m`` together (marginal likelihood).

    How much chromatin a nucleus' rim needs to be segmented depends on the segmenter and the stain, so
    the image tells it: the profile sizes alone hardly do (a shallower cut looks like a smaller nucleus),
    but a cap whose outline lies deeper inside it is darker than a geometric cut of the same size.
    ``edges`` are tried in increasing order until the likelihood has fallen twice in a row (it has one
    peak), on a ``grid``-point depth grid; between grid points, the peak of a parabola through the
    best and its neighbours.
    :param use: the nuclei whose densities count (e.g. those no other profile overlaps).
    :param responses: the stain responses fitted with each edge (:func:`fit_stain`): a darker rim and
        a response below 1 both make caps darker than their path, so the two are fitted together.
    """
    r_obs, m = np.asarray(r_obs, float), np.asarray(m, float)
    sub = use if use is not None and np.sum(use) >= 30 else np.ones(len(r_obs), bool)

    def loglik(edge: float, first: float) -> tuple[float, SizePrior, float]:
        prior, _, model, _ = _fit_lognormal(r_obs, T, edge)
        ll = model.loglik(prior.mus, prior.sigmas, prior.weights)
        z = depth_grid(T, prior, grid)
        lp, path = log_prior(r_obs[sub], z, T, prior), predicted_path(r_obs[sub], z, T, edge=edge)
        stain, stain_ll = fit_stain(m[sub], lp, path, responses=responses, first=first)
        return ll + stain_ll, prior, stain.response

    tried, lls, priors, response = [], [], [], 1.0
    for edge in sorted(float(e) for e in edges):
        ll, prior, response = loglik(edge, response)  # the next edge's response search starts at this one's
        tried.append(edge), lls.append(ll), priors.append(prior)
        if len(lls) >= 3 and lls[-1] < lls[-2] < lls[-3]:
            break
    i = int(np.argmax(lls))
    best = priors[i]
    if 0 < i < len(lls) - 1:
        a, b, _ = np.polyfit(tried[i - 1 : i + 2], lls[i - 1 : i + 2], 2)
        if a < 0:
            best = fit_size_prior(r_obs, T, 1, float(np.clip(-b / (2 * a), tried[i - 1], tried[i + 1])))
    return best if components < 2 else fit_size_prior(r_obs, T, components, best.edge)


def depth_grid(T: float, prior: SizePrior, n: int = 97) -> np.ndarray:
    """Depths from the farthest a visible centre can lie above the section to as far below it."""
    reach = prior.high
    return np.linspace(-reach, T + reach, n)


def depth_axes(sd: float, n: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Ratios ``q`` of a nucleus' semi-axis along depth to its radius in the plane, log-normal with
    spread ``sd`` about 1, as ``n`` Gauss-Hermite nodes and their log weights (``q = 1`` alone for 0).

    A profile shows a nucleus' extent in the plane, not along depth: nuclei are not spheres, and a
    section meets each at its own angle.
    """
    if sd <= 0:
        return np.ones(1), np.zeros(1)
    x, w = np.polynomial.hermite_e.hermegauss(n)
    return np.exp(sd * x), np.log(w / w.sum())


def log_prior(r_obs: np.ndarray, z: np.ndarray, T: float, prior: SizePrior, q=1.0, log_w=0.0) -> np.ndarray:
    """``(n, G)`` log prior of each depth given the observed profile radius (normalised per nucleus).

    Depth is uniform; the radius it implies carries the size prior's density and
    the Jacobian ``r_obs / rho`` of the cap's radius.
    :param q: per grid point, the semi-axis along depth over the radius in the plane
        (:func:`cellframe.physics.stereology.radius_from_profile`), with its prior log weight ``log_w``:
        a grid over depth and shape together (:func:`depth_axes`), normalised over both.
    """
    q = np.asarray(q, float)[None, :] if np.ndim(q) else q
    rho = radius_from_profile(r_obs[:, None], z[None, :], T, prior.edge, q)
    lp = prior.logpdf(rho) + np.log(r_obs[:, None] / rho) + log_w
    # a profile larger than the prior expects still has a depth: only the cap-free depths then
    allowed = (rho <= prior.high) | (rho <= rho.min(axis=1, keepdims=True) + 1e-9)
    lp = np.where(allowed, lp, -np.inf)
    lp = np.maximum(lp, lp.max(axis=1, keepdims=True) - WALL)
    return lp - logsumexp(lp, axis=1, keepdims=True)


def predicted_path(r_obs: np.ndarray, z: np.ndarray, T: float, inner: float = 0.6, edge: float = 0.0,
                   q=1.0) -> np.ndarray:
    """``(n, G)`` mean chromatin path over each profile's central disc, for each depth (and shape ``q``,
    per grid point: :func:`log_prior`)."""
    q = np.asarray(q, float)[None, :] if np.ndim(q) else q
    rho = radius_from_profile(r_obs[:, None], z[None, :], T, edge, q)
    return np.maximum(mean_path(rho, z[None, :], T, inner * r_obs[:, None], q=q), 1e-3)


def over_shapes(energy: np.ndarray, shapes: int) -> np.ndarray:
    """``(n, G)`` energy of each depth from an ``(n, shapes * G)`` one over shape and depth (shape-major),
    the shapes marginalised; 0 at each nucleus' best depth."""
    if shapes == 1:
        return energy
    n = energy.shape[0]
    e = -logsumexp(-energy.reshape(n, shapes, -1), axis=1)
    e -= e.min(axis=1, keepdims=True)
    return np.minimum(e, WALL)


#: Student-t noise on log density, for what the model leaves out (overlapping neighbours, odd shapes,
#: segmentation errors): its degrees of freedom
NU = student_t.NU


def _marginal(logm: np.ndarray, prob: np.ndarray, log_path: np.ndarray, log_k: float, sigma) -> float:
    """Log-likelihood of the densities, each nucleus' depth marginalised over its prior ``prob``
    (``exp`` of :func:`log_prior`, each row summing to 1)."""
    # the density itself, not its log (student_t.inverse_kernel): the fits' inner loop, twice as fast
    sigma = float(sigma)
    a = (logm[:, None] - log_k - log_path) * (1.0 / sigma)
    a *= a
    a *= 1.0 / NU
    a += 1.0
    density = np.divide(prob, student_t.inverse_kernel(a), out=a)
    return float(np.log(density.sum(axis=1)).sum() - len(logm) * np.log(sigma))


def _loglik(logm: np.ndarray, log_path: np.ndarray, log_k: float, sigma) -> np.ndarray:
    sigma = np.asarray(sigma, float)
    sigma = sigma[:, None] if sigma.ndim else sigma  # one spread per nucleus, or one for all
    u = (logm[:, None] - log_k - log_path) / sigma
    return -student_t.neg_log_kernel(u) - np.log(sigma)


def calibrate_stain(m: np.ndarray, lp: np.ndarray, path: np.ndarray,
                    use: np.ndarray | None = None, start: tuple[float, float] | None = None) -> tuple[float, float]:
    """Stain constant ``k`` (density per px of chromatin) and log-scale spread, by marginal likelihood.

    :param use: the nuclei to fit on (e.g. those no other profile overlaps); all when fewer than 30.
    :param start: a ``(k, spread)`` near the answer (a neighbouring fit's) to climb from, instead of
        the best of a coarse subgrid.
    """
    m, lp, path = _counted(use, m, lp, path)
    k, sd, _ = _calibrate(np.log(np.maximum(m, _floor(m))), np.exp(lp), np.log(path), start)
    return k, sd


def _calibrate(logm: np.ndarray, prob: np.ndarray, log_path: np.ndarray,
               start: tuple[float, float] | None) -> tuple[float, float, float]:
    """:func:`calibrate_stain` on log densities and log paths: ``k``, spread and their marginal likelihood."""
    centre = float(np.median(logm) - np.median(log_path))
    sigmas, log_ks = np.geomspace(0.05, 1.0, 16), centre + np.linspace(-1.0, 1.0, 41)
    known: dict[tuple[int, int], float] = {}

    def ll(a: int, b: int) -> float:
        if (a, b) not in known:
            known[a, b] = _marginal(logm, prob, log_path, log_ks[b], sigmas[a])
        return known[a, b]

    # the marginal likelihood is unimodal on this grid: the best of a coarse subgrid, then uphill
    # one grid step at a time, finds the grid's maximum at a fifth of the evaluations
    if start is None:
        a, b = max(((a, b) for a in range(0, 16, 3) for b in range(0, 41, 5)), key=lambda ab: ll(*ab))
    else:
        a = int(np.argmin(np.abs(np.log(sigmas / start[1]))))
        b = int(np.argmin(np.abs(log_ks - np.log(start[0]))))
    while True:
        steps = [(a + da, b + db) for da in (-1, 0, 1) for db in (-1, 0, 1)
                 if 0 <= a + da < 16 and 0 <= b + db < 41]
        best = max(steps, key=lambda ab: (ll(*ab), -ab[0], -ab[1]))
        if ll(*best) <= ll(a, b):  # (a, b) is among the steps: no step goes uphill
            break
        a, b = best
    return float(np.exp(log_ks[b])), float(sigmas[a]), ll(a, b)


def fit_stain(m: np.ndarray, lp: np.ndarray, path: np.ndarray, use: np.ndarray | None = None,
              responses=RESPONSES, first: float = 1.0) -> tuple[Stain, float]:
    """The :class:`Stain` the densities ``m`` fit best (marginal likelihood), and that likelihood.

    For each response, the stain constant and spread of :func:`calibrate_stain`; the responses are
    searched from the one nearest ``first`` uphill a step at a time (the likelihood has one peak in
    them), each fit climbing from its neighbour's. A
    response other than the uniform chromatin's 1 must gain more than BIC's price of one parameter
    (half the log of the nuclei counted), which it pays in the likelihood returned, so that where
    the image follows Beer-Lambert the extra freedom does not widen the fit.
    :param use: the nuclei to fit on (e.g. those no other profile overlaps); all when fewer than 30.
    """
    m, lp, path = _counted(use, m, lp, path)
    logm, log_path, prob = np.log(np.maximum(m, _floor(m))), np.log(path), np.exp(lp)
    responses = sorted(float(g) for g in responses)
    known: dict[int, tuple[float, Stain]] = {}

    def ll(i: int) -> float:
        if i not in known:
            g = responses[i]
            near = min(known, key=lambda j: abs(j - i), default=None)
            k, sd, fit = _calibrate(logm, prob, g * log_path,
                                    None if near is None else (known[near][1].k, known[near][1].sd))
            known[i] = fit, Stain(k, sd, g)
        return known[i][0]

    start = int(np.argmin(np.abs(np.asarray(responses) - 1.0)))
    ll(start)
    i = int(np.argmin(np.abs(np.asarray(responses) - first)))
    while True:
        best = max((j for j in (i - 1, i, i + 1) if 0 <= j < len(responses)), key=lambda j: (ll(j), -abs(j - i)))
        if best == i:
            break
        i = best
    price = 0.5 * np.log(len(m)) if responses[start] == 1.0 else 0.0
    if i != start and ll(i) - price > ll(start):
        return known[i][1], known[i][0] - price
    return known[start][1], known[start][0]


def depth_signal(m: np.ndarray, lp: np.ndarray, path: np.ndarray, k: float, sigma: float,
                 use: np.ndarray | None = None) -> float:
    """How much better (log-likelihood, nats) the lost-caps model explains the densities than densities
    that do not depend on depth at all (one log-normal-like spread, fitted the same way).

    Near zero or below where the image's haematoxylin does not follow the chromatin path: a stain
    painted flat, a saturated scan, a renderer that draws profiles in one colour.
    """
    m, lp, path = _counted(use, m, lp, path)
    logm = np.log(np.maximum(m, _floor(m)))
    caps = _marginal(logm, np.exp(lp), np.log(path), np.log(k), sigma)
    centre = float(np.median(logm))
    flat = max(float(_loglik(logm, np.zeros((len(logm), 1)), centre + shift, s).sum())
               for s in np.geomspace(0.05, 1.0, 16) for shift in np.linspace(-0.3, 0.3, 13))
    return caps - flat


def _counted(use: np.ndarray | None, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """The rows of ``arrays`` whose nuclei count: those in ``use`` when it holds at least 30, else all."""
    return tuple(a[use] for a in arrays) if use is not None and np.sum(use) >= 30 else arrays


def _floor(m: np.ndarray) -> float:
    positive = m[m > 0]
    return 0.05 * float(np.median(positive)) if len(positive) else 1e-3


def depth_energy(m: np.ndarray, lp: np.ndarray, path: np.ndarray, k: float, sigma) -> np.ndarray:
    """``(n, G)`` negative log posterior of each depth, 0 at each nucleus' best depth.

    :param sigma: the log-density spread, one for all nuclei or one each.
    """
    logm = np.log(np.maximum(m, _floor(m)))
    energy = -(lp + _loglik(logm, np.log(path), np.log(k), sigma))
    energy -= energy.min(axis=1, keepdims=True)
    return np.minimum(energy, WALL)


def distance_from_mid(z: np.ndarray, T: float) -> np.ndarray:
    """How far a depth lies from the section's mid-plane (what one section can tell)."""
    return np.abs(np.asarray(z, float) - T / 2)

