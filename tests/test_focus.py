"""The focus term: edge blur measured on known blurs, the focus model fitted, the mirror broken."""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from cellframe.config import ModelConfig
from cellframe.physics.focus import EDGE_GAIN, FocusModel, edge_blur, edge_gain, fit_focus, focus_energy
from cellframe.io.nuclei import nuclei_table
from cellframe.model.reconstruct import reconstruct

T = 16.0


def blurred_spheres(sigmas, radius=9.0, spacing=40):
    """A row of sphere projections (chord length), each blurred by its own sigma."""
    od = np.zeros((spacing, spacing * len(sigmas)))
    yy, xx = np.mgrid[: od.shape[0], : od.shape[1]]
    xy = []
    for k, s in enumerate(sigmas):
        cx, cy = spacing * k + spacing / 2, spacing / 2
        path = np.sqrt(np.clip(1 - ((xx - cx) ** 2 + (yy - cy) ** 2) / radius**2, 0, None))
        od += gaussian_filter(path, s) if s > 0 else path
        xy.append((cx, cy))
    return 0.05 + 0.8 * od, np.array(xy), np.full(len(sigmas), radius)


def test_edge_blur_recovers_known_blurs():
    truth = np.array([0.7, 1.5, 2.5, 3.5, 4.5])
    od, xy, r = blurred_spheres(truth)
    blur, ok = edge_blur(od, xy, r)
    assert ok.all()
    assert np.abs(blur - truth).max() < 0.35
    assert np.all(np.diff(blur) > 0)


def test_edge_blur_is_read_past_an_outline_drawn_inside_the_rim():
    """A threshold draws the outline inside a nucleus' pale rim: the edge radius is fitted with the blur,
    so the rim is not read as blur (with the outline taken as the edge, a 0.7 px blur reads as > 2 px)."""
    truth = np.array([0.7, 1.5, 2.5, 3.5])
    od, xy, r = blurred_spheres(truth)
    blur, ok = edge_blur(od, xy, 0.85 * r)
    assert ok.all()
    assert np.abs(blur - truth).max() < 0.35
    as_edge, _ = edge_blur(od, xy, 0.85 * r, scales=np.array([1.0]))
    assert as_edge[0] > 2.0


def test_at_coarse_pixels_the_fitted_edge_needs_the_same_evidence_per_um2_not_the_same_nats():
    """At 0.5 um/px a nucleus has a quarter of the pixels: a bar fixed in nats kept its outline (drawn
    inside the rim), and the rim read as blur; the bar scaled to the pixel area reads the blur."""
    assert edge_gain(0.25) == EDGE_GAIN and edge_gain(0.5) == pytest.approx(EDGE_GAIN / 4)
    rng = np.random.default_rng(0)
    od, xy, r = blurred_spheres(np.full(40, 0.8), radius=5.0, spacing=24)  # 20x-sized nuclei, noisy stain
    od = od + 0.12 * rng.standard_normal(od.shape)
    fixed, _ = edge_blur(od, xy, 0.85 * r, min_gain=EDGE_GAIN)
    scaled, ok = edge_blur(od, xy, 0.85 * r, min_gain=edge_gain(0.5))
    assert ok.all() and np.median(fixed) > 1.3
    assert np.median(scaled) == pytest.approx(0.8, abs=0.15)


def test_focus_model_is_fitted_where_the_image_is_defocused_and_off_where_it_is_not():
    rng = np.random.default_rng(0)
    grid = np.linspace(-4, T + 4, 49)
    z = rng.uniform(0, T, 400)
    # lost caps: each nucleus' distance from the mid-plane, not its side
    d = np.abs(z - T / 2)
    energy = 0.5 * ((np.abs(grid[None, :] - T / 2) - d[:, None]) / 1.0) ** 2
    true = FocusModel(s0=0.7, k=0.25, f=4.0, noise=0.3)
    blur = true.blur(z) + 0.3 * rng.standard_normal(len(z))
    model = fit_focus(blur, energy, grid, T)
    assert model.significant and model.f == pytest.approx(4.0, abs=1.0) and model.k == pytest.approx(0.25, rel=0.3)
    posterior = energy + focus_energy(blur, np.ones(len(z), bool), grid, model)
    side = np.sign(grid[posterior.argmin(axis=1)] - T / 2) == np.sign(z - T / 2)
    far = d > 3  # nuclei near the mid-plane have no side to find
    assert side[far].mean() > 0.85  # lost caps alone: 0.5
    # the fallback where an off-centre plane is not confirmed: the same blurs with the plane at the mid-plane
    assert model.at_mid is not None and model.at_mid.f == T / 2 and model.at_mid.off_mid == model.off_mid > 10.8
    flat = fit_focus(1.0 + 0.3 * rng.standard_normal(len(z)), energy, grid, T)
    assert not flat.significant and flat.at_mid is None
    assert not focus_energy(blur, np.ones(len(z), bool), grid, flat).any()


def test_evidence_tells_the_face_of_a_defocused_section(registry):
    from cellframe.physics.simulate import SimulateConfig, simulate

    sim = simulate(SimulateConfig(width=600, height=600, seed=5, defocus=1.0, focal_um=1.0))  # ~290 nuclei: enough to place the focal plane
    nuclei = nuclei_table(sim.mask.astype(np.int32))
    truth = sim.truth.set_index("label")
    sides = {}
    for weight in (0.0, 1.0):
        objective = registry.stage("objective", "evidence").schema(lambda_focus=weight, draws=4)
        rec = reconstruct(nuclei, registry=registry, model=ModelConfig(z_max=16.0),
                          geometry=registry.stage("geometry", "sphere").schema(),
                          optimizer=registry.stage("optimizer", "pso").schema(iterations=20),
                          objective=objective, image=sim.image, mpp=0.25, rng=np.random.default_rng(0))
        cells = rec.cells.set_index("label")
        t = truth.loc[cells.index]
        far = (t["z"] - T / 2).abs() > 3
        sides[weight] = (np.sign(cells["z"] - T / 2) == np.sign(t["z"] - T / 2))[far].mean()
    assert sides[1.0] > 0.75 and sides[1.0] > sides[0.0] + 0.15


def test_the_focus_fit_scores_every_focal_plane_and_noise_at_once_as_one_by_one():
    from scipy.special import logsumexp

    from cellframe.physics.focus import NU, _marginals

    def _marginal(blur, weights, grid, s0, k, f, noise):  # one focal plane and noise level, as the fit once did
        pred = np.sqrt(s0**2 + (k * (grid - f)) ** 2)
        ll = -0.5 * (NU + 1) * np.log1p(((blur[:, None] - pred[None, :]) / noise) ** 2 / NU) - np.log(noise)
        return float(np.sum(logsumexp(ll, b=weights, axis=1)))

    rng = np.random.default_rng(2)
    grid = np.linspace(-20.0, 36.0, 33)
    z = rng.uniform(-5, 21, 80)
    blur = np.sqrt(0.8**2 + (0.1 * (z - 3)) ** 2) + 0.1 * rng.standard_normal(80)
    weights = np.exp(-0.5 * ((grid[None] - z[:, None]) / 4) ** 2)
    weights /= weights.sum(axis=1, keepdims=True)
    focals, noises = np.array([0.0, 2.0, 8.0]), np.array([0.05, 0.2, 0.6])
    at_once = _marginals(blur, weights, grid, 0.8, 0.08, focals, noises)
    one_by_one = [[_marginal(blur, weights, grid, 0.8, 0.08, f, nz) for nz in noises] for f in focals]
    # each nucleus' mixture is summed in single precision: 80 nuclei leave at most ~1e-5 of log-likelihood
    assert np.allclose(at_once, one_by_one, rtol=0, atol=1e-4)


def test_blurred_sphere_projections_match_blurring_the_whole_crop():
    """The banded-matrix blur of a projection's support is the gaussian_filter of the whole crop, also
    where an image edge cuts the crop (there it is that blur itself)."""
    from scipy.ndimage import gaussian_filter

    from cellframe.physics.focus import SIGMAS, _band_table, _blurred_paths, _gaussian_kernel

    kernels = [_gaussian_kernel(s) for s in SIGMAS]
    table = _band_table(kernels)
    H = W = 120
    for x, y, rad in [(60.3, 59.7, 9.2), (20.5, 80.1, 4.0), (2.2, 60.0, 7.5), (118.0, 3.0, 12.0), (60.0, 30.4, 3.1)]:
        reach = rad + 15.0
        crop = max(int(y - reach), 0), min(int(y + reach) + 2, H), max(int(x - reach), 0), min(int(x + reach) + 2, W)
        own = rad + 9.0
        window = (max(int(np.ceil(y - own)), crop[0]), min(int(np.floor(y + own)) + 1, crop[1]),
                  max(int(np.ceil(x - own)), crop[2]), min(int(np.floor(x + own)) + 1, crop[3]))
        yy, xx = np.mgrid[crop[0] : crop[1], crop[2] : crop[3]]
        rows = slice(window[0] - crop[0], window[1] - crop[0])
        cols = slice(window[2] - crop[2], window[3] - crop[2])
        radii = rad * np.array([0.9, 1.0, 1.3])
        expected = np.stack([np.stack([gaussian_filter(np.sqrt(np.clip(1.0 - (np.hypot(xx - x, yy - y) / radius) ** 2, 0.0, None)),
                                                       s, mode="nearest")[rows, cols] for s in SIGMAS]) for radius in radii])
        got = _blurred_paths(x, y, radii, crop, window, table)
        assert np.allclose(got, expected, rtol=0, atol=1e-12)


def test_a_small_nucleus_gives_up_the_pixels_a_large_neighbour_is_nearer_to():
    """Pixels belong to the nucleus nearest in distance over radius, however far a large one's centre is:
    a small nucleus 100 px from one of radius 30 gives it the pixels on its far side."""
    from cellframe.physics.focus import SIGMAS, edge_fits

    od = np.random.default_rng(0).random((200, 260))
    xy = np.array([[50.0, 100.0], [150.0, 100.0], [230.0, 30.0]])
    r = np.array([3.0, 30.0, 8.0])
    _, pixels = edge_fits(od, xy, r)
    own_reach = r[0] + 1.5 * SIGMAS.max()
    yy, xx = np.mgrid[: od.shape[0], : od.shape[1]]
    scaled = np.stack([np.hypot(xx - cx, yy - cy) / rad for (cx, cy), rad in zip(xy, r)])
    mine = (scaled[0] * r[0] <= own_reach) & (scaled[0] <= scaled[1:].min(axis=0))
    nearer_to_the_large_one = (scaled[0] * r[0] <= own_reach) & (scaled[1] < scaled[0])
    assert nearer_to_the_large_one.sum() > 20  # the case is real: the large nucleus takes pixels
    assert pixels[0] == mine.sum()


def test_a_section_cuts_spheres_to_the_paths_the_simulator_renders():
    from cellframe.physics.focus import section_path
    from cellframe.physics.stereology import clipped_chord

    d = np.linspace(0.0, 12.0, 50)
    rho = 10.0
    for centre in (T / 2, 0.0, -5.0, -8.0):
        profile = np.sqrt(rho**2 - max(-centre, 0.0) ** 2)  # the rim a cap shows on the face
        cut = None if centre == T / 2 else -centre / rho
        expected = clipped_chord(centre, np.sqrt(np.clip(rho**2 - d**2, 0.0, None)), T)
        assert np.allclose(section_path(d, profile, T, cut), expected)


def test_an_in_focus_cap_reads_as_blurred_unless_the_section_cut_is_modelled():
    """A cap's path thins linearly to its rim: read as a whole sphere's projection, a cap in focus looks
    blurred; fitted with the shapes a section cuts, its blur is read as it is."""
    from cellframe.physics.focus import section_path

    truth = 0.7
    od = np.zeros((40, 120))
    yy, xx = np.mgrid[: od.shape[0], : od.shape[1]]
    xy, rims = [], []
    rho = 11.0
    for k, cut in enumerate((0.5, 0.7, 0.8)):
        rim = rho * np.sqrt(1 - cut**2)
        cx, cy = 40.0 * k + 20.0, 20.0
        od += gaussian_filter(section_path(np.hypot(xx - cx, yy - cy), rim, T, cut), truth)
        xy.append((cx, cy))
        rims.append(rim)
    od = 0.05 + 0.2 * od
    as_sphere, _ = edge_blur(od, np.array(xy), np.array(rims))
    as_cut, ok = edge_blur(od, np.array(xy), np.array(rims), section=T)
    assert ok.all()
    assert np.abs(as_cut - truth).max() < 0.35
    assert as_sphere.min() > truth + 0.3  # 1.1-1.3 px


def test_fitting_some_nuclei_gives_them_the_fits_of_all_and_leaves_the_rest_unmeasured():
    from cellframe.physics.focus import edge_fits

    od, xy, r = blurred_spheres(np.array([0.7, 1.5, 2.5, 3.5]))
    every, pixels = edge_fits(od, xy, r, section=T)
    some, some_pixels = edge_fits(od, xy, r, section=T, only=np.array([1, 3]))
    assert np.array_equal(some[[1, 3]], every[[1, 3]]) and np.array_equal(some_pixels[[1, 3]], pixels[[1, 3]])
    assert np.isnan(some[[0, 2]]).all() and not some_pixels[[0, 2]].any()
