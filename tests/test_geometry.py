"""Ellipsoid cells, the contact function, 2D regions and 3D measurements against closed forms."""

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Polygon
from skimage.draw import ellipse

from cellframe.config import ModelConfig
from cellframe.model.contact import contact_function, inplane_covariance
from cellframe.model.measure import ellipsoid_surface, mesh_measurements, sphericity
from cellframe.io.nuclei import nuclei_table
from cellframe.model.ellipsoids import Ellipsoid, EllipsoidSettings
from cellframe.plugins.geometries.sphere import Sphere, SphereSettings
from cellframe.model.problem import Problem
from cellframe.model.sections import ellipse_regions


def inside(points, centre, axes, angle):
    c, s = np.cos(angle), np.sin(angle)
    d = points - centre
    u, v = c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1]
    return (u / axes[0]) ** 2 + (v / axes[1]) ** 2 + (d[:, 2] / axes[2]) ** 2 <= 1.0


def test_contact_function_agrees_with_dense_point_sampling():
    rng = np.random.default_rng(0)
    decided = 0
    for _ in range(60):
        axes_a, axes_b = rng.uniform(2, 8, 3), rng.uniform(2, 8, 3)
        angle_a, angle_b = rng.uniform(-np.pi, np.pi, 2)
        offset = rng.uniform(-12, 12, 3)
        F = contact_function(offset[None, :2], offset[None, 2], inplane_covariance(axes_a[:1], axes_a[1:2], np.array([angle_a])),
                             inplane_covariance(axes_b[:1], axes_b[1:2], np.array([angle_b])), axes_a[2:], axes_b[2:])[0]
        if abs(F - 1.0) < 0.1:
            continue  # too close to touching for sampling to decide
        # sample A densely and test the points against B
        u = rng.normal(size=(40000, 3))
        u *= (rng.random(40000) ** (1 / 3) / np.linalg.norm(u, axis=1))[:, None]
        c, s = np.cos(angle_a), np.sin(angle_a)
        local = u * axes_a
        points = np.column_stack([c * local[:, 0] - s * local[:, 1], s * local[:, 0] + c * local[:, 1], local[:, 2]])
        overlap = inside(points, offset, axes_b, angle_b).any()
        assert overlap == (F < 1.0), (axes_a, axes_b, offset, F)
        decided += 1
    assert decided > 30


def test_contact_function_of_spheres_is_closed_form():
    r = np.array([4.0, 6.0])
    F = contact_function(np.array([[3.0, 4.0]]), np.array([12.0]), inplane_covariance(r[:1], r[:1], np.zeros(1)),
                         inplane_covariance(r[1:], r[1:], np.zeros(1)), r[:1], r[1:])
    assert F[0] == pytest.approx(169 / 100)


def ellipse_nuclei(specs, shape=(200, 200)):
    labels = np.zeros(shape, np.int32)
    for k, (row, col, r_radius, c_radius, rotation) in enumerate(specs, start=1):
        rr, cc = ellipse(row, col, r_radius, c_radius, rotation=rotation, shape=shape)
        labels[rr, cc] = k
    return nuclei_table(labels)


def test_a_rotated_ellipse_gives_a_correctly_oriented_ellipsoid():
    nuclei = ellipse_nuclei([(100, 100, 8, 24, np.deg2rad(30))])
    geom = Ellipsoid(nuclei, ModelConfig(), EllipsoidSettings())
    x = geom.pack({"z": np.array([10.0]), "s": np.array([2.0]), "c": np.array([8.0])})
    mesh = geom.mesh(x)
    pts = mesh.vertices - mesh.vertices.mean(axis=0)
    w, v = np.linalg.eigh(np.cov(pts[:, :2].T))
    major = v[:, 1]
    # the major axis of the drawn ellipse, measured from its pixels
    rr, cc = ellipse(100, 100, 8, 24, rotation=np.deg2rad(30))
    w2, v2 = np.linalg.eigh(np.cov(np.vstack([cc, rr])))
    assert abs(abs(major @ v2[:, 1]) - 1) < 1e-3
    axes = geom.semi_axes(x)[0]
    assert axes[0] == pytest.approx(48, rel=0.03) and axes[1] == pytest.approx(16, rel=0.05) and axes[2] == 16.0


def test_ellipsoids_touching_along_their_major_axes():
    # two ellipses side by side along x, 50 px apart, major semi-axis 24 along x: no overlap in-plane
    nuclei = ellipse_nuclei([(100, 60, 8, 24, 0.0), (100, 110, 8, 24, 0.0)])
    geom = Ellipsoid(nuclei, ModelConfig(), EllipsoidSettings())
    assert len(geom.pairs) == 0  # 50 px apart, 24 + 24 of semi-axes: they cannot touch
    x = geom.pack({"z": np.array([10.0, 10.0]), "s": np.array([1.5, 1.5]), "c": np.array([8.0, 8.0])})
    closer = nuclei.copy()
    closer.loc[1, "x"] = 100.0  # 40 px apart: the nuclei overlap at the same depth ...
    geom = Ellipsoid(closer, ModelConfig(), EllipsoidSettings())
    assert len(geom.pairs) == 1 and geom.interpenetrating(x).all()
    apart = geom.pack({"z": np.array([0.0, 17.0]), "s": np.array([1.5, 1.5]), "c": np.array([8.0, 8.0])})
    assert not geom.interpenetrating(apart).any()  # ... and not 17 px apart in depth (c = 8 each)


@pytest.mark.parametrize("name", ["pso", "pso_ga", "deap_ga", "pyswarms"])
def test_ellipsoid_geometry_works_with_every_optimizer(registry, name):
    rng = np.random.default_rng(1)
    specs = [(int(r), int(c), 5, 11, rng.uniform(-1.5, 1.5)) for r, c in rng.uniform(20, 80, (10, 2))]
    nuclei = ellipse_nuclei(specs, (100, 100))
    geom = Ellipsoid(nuclei, ModelConfig(z_max=60), EllipsoidSettings())
    problem = Problem(geom, decompose=True)
    result = registry.call("optimizer", name, problem=problem, settings=registry.stage("optimizer", name).schema(),
                           rng=np.random.default_rng(0))
    assert len(geom.pairs) > 0 and problem.total(result.x)[0] == 0.0
    assert not geom.interpenetrating(result.x).any()


def test_ellipse_regions_do_not_overlap_and_reduce_to_power_regions_for_circles():
    from cellframe.model.sections import power_regions

    rng = np.random.default_rng(2)
    centres = rng.uniform(0, 80, (25, 2))
    a, b, angle = rng.uniform(6, 12, 25), rng.uniform(3, 6, 25), rng.uniform(-np.pi, np.pi, 25)
    regions = [Polygon(p) for p in ellipse_regions(centres, a, b, angle, 96)]
    for i in range(25):
        for j in range(i + 1, 25):
            if not regions[i].is_empty and not regions[j].is_empty:
                assert regions[i].intersection(regions[j]).area < 1e-6
    radii = rng.uniform(5, 9, 25)
    circles = ellipse_regions(centres, radii, radii, np.zeros(25), 256)
    power = power_regions(centres, radii, 256)
    for c, p in zip(circles, power):
        assert abs(Polygon(c).area - Polygon(p).area) < 0.02 * np.pi * 81


def test_closed_form_measurements():
    assert ellipsoid_surface(np.array([[5.0, 5.0, 5.0]]))[0] == pytest.approx(4 * np.pi * 25)
    assert sphericity(np.array([4 / 3 * np.pi * 125]), np.array([4 * np.pi * 25]))[0] == pytest.approx(1.0)
    # a prolate spheroid (a = b = 1, c = 2): S = 2 pi (1 + 2 asin(e) / e), e = sqrt(3) / 2
    e = np.sqrt(3) / 2
    assert ellipsoid_surface(np.array([[1.0, 1.0, 2.0]]))[0] == pytest.approx(2 * np.pi * (1 + 2 * np.arcsin(e) / e), rel=0.011)


def test_mesh_measurements_match_the_closed_forms_for_spheres():
    nuclei = pd.DataFrame({"label": [1, 2], "x": [0.0, 100.0], "y": [0.0, 0.0], "r": [4.0, 6.0], "area": [50.0, 113.0]})
    geom = Sphere(nuclei, ModelConfig(), SphereSettings(mesh_subdivisions=3))
    x = geom.pack({"z": np.array([10.0, 20.0]), "R": np.array([8.0, 12.0])})
    mesh = geom.mesh(x)
    table = mesh_measurements(mesh, np.repeat([0, 1], len(mesh.faces) // 2), 2)
    assert np.allclose(table["mesh_volume"], geom.volumes(x), rtol=0.01)
    assert np.allclose(table["mesh_surface"], geom.surface_areas(x), rtol=0.01)
    assert np.allclose(table["mesh_mean_curvature"], [1 / 8, 1 / 12], rtol=0.01)


def test_ellipsoid_through_the_hook_and_its_cell_table(registry):
    from cellframe.model.reconstruct import reconstruct

    nuclei = ellipse_nuclei([(50, 50, 6, 14, 0.3), (60, 70, 5, 12, -0.5), (150, 150, 7, 7, 0.0)])
    geom = registry.call("geometry", "ellipsoid", nuclei=nuclei, model=ModelConfig(),
                         settings=registry.stage("geometry", "ellipsoid").schema())
    assert geom.dim == 9
    rec = reconstruct(nuclei, registry=registry, model=ModelConfig(), geometry=registry.stage("geometry", "ellipsoid").schema(),
                      optimizer=registry.stage("optimizer", "pso").schema(), rng=np.random.default_rng(0))
    cells = rec.cells
    for column in ("cell_a", "cell_b", "cell_c", "volume", "surface_area", "sphericity", "section_area",
                   "nc_ratio_radius", "nc_ratio_area", "nc_ratio_volume"):
        assert column in cells
    assert (cells["sphericity"] <= 1 + 1e-9).all() and (cells["nc_ratio_volume"] < 1).all()
    assert np.allclose(cells["nc_ratio_volume"], cells["nuclear_volume"] / cells["volume"])


def test_independent_samples_give_a_spread_per_cell(registry):
    from cellframe.running.pipeline import sample_spread
    from cellframe.model.reconstruct import reconstruct

    nuclei = pd.DataFrame({"label": [1, 2, 3], "x": [0.0, 8.0, 100.0], "y": [0.0, 0.0, 0.0], "r": [5.0, 5.0, 5.0],
                           "area": [78.5] * 3})
    runs = [reconstruct(nuclei, registry=registry, model=ModelConfig(), geometry=SphereSettings(),
                        optimizer=registry.stage("optimizer", "pso").schema(), rng=np.random.default_rng(k)) for k in range(6)]
    spread = sample_spread(runs)
    assert list(spread.columns) == ["z_mean", "z_sd", "R_mean", "R_sd"]
    assert (spread["z_sd"] > 0).all() and (spread["R_mean"].between(7.5, 12.5)).all()
    runs[0].spread = spread
    assert {"z_mean", "z_sd"} <= set(runs[0].cells.columns)


def test_cylinder_baseline_closed_forms(registry):
    nuclei = pd.DataFrame({"label": [1, 2, 3], "x": [0.0, 8.0, 100.0], "y": [0.0, 0.0, 0.0], "r": [5.0, 5.0, 4.0],
                           "area": [78.5, 78.5, 50.3]})
    geom = registry.call("geometry", "cylinder", nuclei=nuclei, model=ModelConfig(z_max=40),
                         settings=registry.stage("geometry", "cylinder").schema())
    x = np.array([2.0, 2.0, 2.0])
    assert np.allclose(geom.volumes(x), np.pi * (2 * geom.r) ** 2 * 40)
    assert geom.interpenetrating(x).tolist() == [True]  # discs 8 px apart with radii 5: extruded, they overlap
    mesh = geom.mesh(x)
    assert abs(mesh.volume - geom.volumes(x).sum()) / geom.volumes(x).sum() < 0.03
    assert len(geom.sections(x, 50.0)[0]) == 0 and len(geom.sections(x, 20.0)[2]) > 0


def test_spheroid_baseline_is_the_rotational_fit(registry):
    nuclei = ellipse_nuclei([(100, 100, 6, 15, 0.4)])
    geom = registry.call("geometry", "spheroid", nuclei=nuclei, model=ModelConfig(z_max=40),
                         settings=registry.stage("geometry", "spheroid").schema())
    axes = geom.semi_axes(np.array([2.0]))[0]
    assert axes[1] == axes[2] and axes[0] > 2 * axes[1] and geom.dim == 1
    assert geom.cells(np.array([2.0]))["z"].tolist() == [20.0]


def test_ellipsoid_json_carries_semi_axes_and_validates(registry, tmp_path):
    import importlib.resources
    import json

    import jsonschema

    from cellframe.model.reconstruct import reconstruct

    nuclei = ellipse_nuclei([(50, 50, 6, 14, 0.3), (60, 70, 5, 12, -0.5)])
    rec = reconstruct(nuclei, registry=registry, model=ModelConfig(), geometry=registry.stage("geometry", "ellipsoid").schema(),
                      optimizer=registry.stage("optimizer", "pso").schema(), rng=np.random.default_rng(0))
    (path,) = registry.call("exporter", "json", reconstruction=rec, outdir=tmp_path,
                            settings=registry.stage("exporter", "json").schema())
    doc = json.loads(path.read_text())
    jsonschema.validate(doc, json.loads(importlib.resources.files("cellframe").joinpath("schemas/cells.schema.json").read_text()))
    assert len(doc["cells"][0]["semi_axes"]) == 3 and doc["geometry"] == "ellipsoid"
