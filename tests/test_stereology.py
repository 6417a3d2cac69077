"""Lost caps and projections on hand-made cases (cellframe.physics.stereology, cellframe.physics.render)."""

import numpy as np
import pandas as pd
import pytest

from cellframe.physics.render import project
from cellframe.physics.stereology import (clipped_chord, depth_axis_spread, edge_offset, mean_path, profile_radius,
                                         radius_from_profile, seen_depths, volume_in_section)

T = 16.0


def test_chord_is_clipped_to_the_section():
    assert clipped_chord(8.0, 20.0, T) == pytest.approx(16.0)  # a long chord fills the section
    assert clipped_chord(8.0, 3.0, T) == pytest.approx(6.0)  # a short one lies inside it
    assert clipped_chord(-5.0, 7.0, T) == pytest.approx(2.0)  # a cap reaching 2 px into it
    assert clipped_chord(-5.0, 4.0, T) == 0.0  # misses it


def test_a_cap_shows_a_smaller_profile_and_the_radius_comes_back():
    assert profile_radius(5.0, 8.0, T) == 5.0  # centre inside: the full equator
    assert profile_radius(5.0, -3.0, T) == pytest.approx(4.0)  # 3 px above: sqrt(25 - 9)
    assert profile_radius(5.0, T + 3.0, T) == pytest.approx(4.0)  # the mirror image looks the same
    assert profile_radius(5.0, -6.0, T) == 0.0
    assert radius_from_profile(4.0, -3.0, T) == pytest.approx(5.0)


def test_an_outline_that_needs_chromatin_to_be_seen_cuts_caps_deeper():
    # 1 px of chromatin path to be seen: a cap 3 px outside shows out to where it reaches 1 px in
    assert edge_offset(-3.0, T, 1.0) == pytest.approx(4.0)
    assert radius_from_profile(3.0, -3.0, T, 1.0) == pytest.approx(5.0)  # sqrt(9 + 16)
    assert edge_offset(8.0, T, 1.0) == pytest.approx(0.5)  # inside: where the chord is 1 px long
    z = np.linspace(-2, 2, 401)  # continuous across the face
    assert np.abs(np.diff(edge_offset(z, T, 1.0))).max() < 0.02
    assert edge_offset(-3.0, T, 0.0) == 3.0 and radius_from_profile(4.0, -3.0, T) == pytest.approx(5.0)
    # the slab a centre can lie in to show at least r_min: Monte Carlo against the formula
    rho, r_min, edge = 6.0, 2.0, 1.5
    zc = np.linspace(-10, T + 10, 200001)
    shown = np.sqrt(np.maximum(rho**2 - edge_offset(zc, T, edge) ** 2, 0)) >= r_min
    assert shown.mean() * (T + 20) == pytest.approx(seen_depths(rho, T, r_min, edge), abs=0.01)
    assert seen_depths(rho, T, r_min) == pytest.approx(T + 2 * np.sqrt(rho**2 - r_min**2))


def test_volume_in_section_is_the_spherical_segment():
    r = 5.0
    assert volume_in_section(r, 8.0, T) == pytest.approx(4 / 3 * np.pi * r**3)
    assert volume_in_section(r, 0.0, T) == pytest.approx(2 / 3 * np.pi * r**3)  # centred on a face: half
    cap = np.pi * 2.0**2 * (3 * r - 2.0) / 3  # a cap of height 2
    assert volume_in_section(r, -3.0, T) == pytest.approx(cap)


def test_mean_path_matches_the_volume_for_the_whole_profile():
    r, z = 6.0, -2.0
    rim = profile_radius(r, z, T)
    whole = mean_path(r, z, T, rim, n=2000) * np.pi * rim**2
    assert whole == pytest.approx(volume_in_section(r, z, T), rel=0.01)
    assert mean_path(30.0, 8.0, T, 3.0) == pytest.approx(T)  # a huge nucleus: every chord spans the section


def test_projection_of_a_cap_is_small_and_pale():
    nuclei = pd.DataFrame({"label": [1, 2], "x": [20.0, 60.0], "y": [20.0, 20.0], "z": [8.0, -6.0],
                           "a": [10.0, 10.0], "b": [10.0, 10.0], "c": [10.0, 10.0], "angle": [0.0, 0.0]})
    stain, path, labels = project(nuclei, (40, 80), T, np.full(2, 2.0), np.zeros(2))
    full, cap = (labels == 1).sum(), (labels == 2).sum()
    assert full == pytest.approx(np.pi * 10**2, rel=0.05)
    assert cap == pytest.approx(np.pi * 8**2, rel=0.06)  # sqrt(100 - 36) = 8
    assert path[labels == 1].max() == pytest.approx(T)
    assert path[labels == 2].max() == pytest.approx(4.0, abs=0.1)  # the cap reaches 4 px into the section
    assert np.allclose(stain, 2.0 * path)  # stain = concentration x path, unblurred here


def test_a_spheroid_along_depth_is_a_sphere_in_a_section_scaled_by_its_axis():
    # a nucleus of radius 10 in the plane and 15 along depth (q = 1.5), its centre 6 px above the section
    rho, q, z = 10.0, 1.5, -6.0
    rim = rho * np.sqrt(1 - (6.0 / 15.0) ** 2)  # its cap's profile
    assert radius_from_profile(rim, z, T, 0.0, q) == pytest.approx(rho)
    nuclei = pd.DataFrame({"label": [1], "x": [30.0], "y": [30.0], "z": [z], "a": [rho], "b": [rho], "c": [rho * q],
                           "angle": [0.0]})
    _, path, labels = project(nuclei, (60, 60), T, np.ones(1), np.zeros(1))
    assert np.sqrt((labels == 1).sum() / np.pi) == pytest.approx(rim, rel=0.03)
    yy, xx = np.mgrid[0:60, 0:60]
    centre = np.hypot(xx - 30, yy - 30) <= 0.6 * rim
    assert mean_path(rho, z, T, 0.6 * rim, n=400, q=q) == pytest.approx(path[centre].mean(), rel=0.03)
    assert path.max() == pytest.approx(rho * q + z, abs=0.1)  # it reaches 9 px into the section
    # the slab it shows over, at least r_min: Monte Carlo against the formula
    r_min = 4.0
    zc = np.linspace(-30, T + 30, 200001)
    h = np.maximum(np.maximum(-zc, zc - T), 0)
    shown = rho * np.sqrt(np.maximum(1 - (h / (rho * q)) ** 2, 0)) >= r_min
    assert shown.mean() * (T + 60) == pytest.approx(seen_depths(rho, T, r_min, 0.0, q), abs=0.01)
    assert seen_depths(rho, T, r_min, 0.0, 1.0) == pytest.approx(T + 2 * np.sqrt(rho**2 - r_min**2))


def test_the_profiles_elongation_tells_how_far_depth_semi_axes_spread():
    from scipy.spatial.transform import Rotation

    def shadows(axes, n=4000):  # ellipsoids turned at random: each one's outline in the plane, and its depth extent
        R = Rotation.random(n, random_state=3).as_matrix()
        cov = np.einsum("nij,j,nkj->nik", R, np.asarray(axes, float) ** 2, R)
        b2, a2 = np.linalg.eigvalsh(cov[:, :2, :2]).T
        return np.sqrt(a2), np.sqrt(b2), np.sqrt(cov[:, 2, 2])

    a, b, c = shadows([12.5, 10.0, 8.0])
    truth = np.std(np.log(c / np.sqrt(a * b)))  # 0.17
    assert depth_axis_spread(a, b, np.sqrt(a * b)) == pytest.approx(truth, rel=0.1)
    a, b, c = shadows([14.0, 9.0, 9.0])  # prolate
    assert depth_axis_spread(a, b, np.sqrt(a * b)) == pytest.approx(np.std(np.log(c / np.sqrt(a * b))), rel=0.15)
    assert depth_axis_spread(np.full(50, 8.0), np.full(50, 8.0), np.full(50, 8.0)) == 0.0  # round: spheres


def test_paths_over_a_grid_of_depths_and_shapes_are_each_shape_on_its_own():
    rng = np.random.default_rng(1)
    r = rng.uniform(3, 12, 40)[:, None]
    z, q = np.linspace(-15, 31, 24), np.array([0.7, 1.0, 1.4])
    zz, qq = np.tile(z, 3)[None, :], np.repeat(q, len(z))[None, :]
    rho = radius_from_profile(r, zz, T, 0.5, qq)
    joint = mean_path(rho, zz, T, 0.6 * r, q=qq)
    for k, qk in enumerate(q):
        part = slice(k * len(z), (k + 1) * len(z))
        alone = mean_path(radius_from_profile(r, z[None, :], T, 0.5, qk), z[None, :], T, 0.6 * r, q=qk)
        assert np.array_equal(joint[:, part], alone)
