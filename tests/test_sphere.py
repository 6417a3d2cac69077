import numpy as np
import pandas as pd
import pytest
import trimesh

from cellframe.config import ModelConfig
from cellframe.plugins.geometries.sphere import Sphere, SphereSettings, separate_depths
from cellframe.model.pairs import components


def nuclei(xy, r):
    xy = np.asarray(xy, float)
    return pd.DataFrame({"label": np.arange(1, len(xy) + 1), "x": xy[:, 0], "y": xy[:, 1],
                         "r": np.asarray(r, float), "area": np.pi * np.asarray(r, float) ** 2})


@pytest.fixture
def pair():
    return Sphere(nuclei([[0, 0], [6, 0], [100, 100]], [5, 5, 4]), ModelConfig(), SphereSettings())


def test_layout_and_bounds(pair):
    assert pair.dim == 6 and pair.pairs.tolist() == [[0, 1]]
    lower, upper = pair.bounds()
    assert lower.tolist() == [0, 0, 0, 7.5, 7.5, 6.0]
    assert upper.tolist() == [40, 40, 40, 12.5, 12.5, 10.0]
    x = np.arange(6.0)
    assert pair.unpack(x)["R"].tolist() == [3, 4, 5]
    assert np.array_equal(pair.pack(pair.unpack(x)), x)


def test_penalties_known_values(pair):
    # z: -1 (below by 1), 0, 45 (above by 5); R: 7 (below 7.5 by .5), 10, 11 (above 10 by 1)
    X = np.array([[-1.0, 0.0, 45.0, 7.0, 10.0, 11.0]])
    p = pair.penalties(X)
    assert p["z"].tolist() == [[1.0, 0.0, 5.0]]
    assert p["radius"].tolist() == [[0.5, 0.0, 1.0]]
    # pair 0-1: centres (0,0,-1) and (6,0,0): distance sqrt(37), r sum 10
    assert p["overlap"][0, 0] == pytest.approx(10 - np.sqrt(37))


def test_penalties_are_evaluated_for_a_whole_swarm(pair):
    rng = np.random.default_rng(0)
    X = rng.uniform(*pair.bounds(), size=(7, pair.dim))
    swarm = pair.penalties(X)
    for k in range(7):
        single = pair.penalties(X[k : k + 1])
        for term in swarm:
            assert np.allclose(swarm[term][k], single[term][0])


def test_initial_positions_separate_overlapping_nuclei():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 120, (80, 2))
    geom = Sphere(nuclei(xy, rng.uniform(5, 9, 80)), ModelConfig(z_max=200), SphereSettings())
    X = geom.initial(rng, 20)
    lower, upper = geom.bounds()
    assert (X >= lower).all() and (X <= upper).all()
    assert len(geom.pairs) > 20
    # with ample depth every particle starts free of interpenetration
    assert all(not geom.interpenetrating(x).any() for x in X)


def test_separate_depths_on_a_chain():
    pairs = np.array([[0, 1], [1, 2]])
    sep = np.array([10.0, 10.0])
    z = separate_depths(np.full((50, 3), 20.0), pairs, sep, components(3, pairs), 40.0, np.random.default_rng(1))
    assert (np.abs(z[:, 0] - z[:, 1]) >= 10 - 1e-9).all() and (np.abs(z[:, 1] - z[:, 2]) >= 10 - 1e-9).all()


def test_volumes_sections_and_mesh(pair):
    x = pair.pack({"z": np.array([0.0, 30.0, 3.0]), "R": np.array([10.0, 10.0, 5.0])})
    assert pair.volumes(x)[0] == pytest.approx(4 / 3 * np.pi * 1000)
    sections = pair.sections(x, plane_z=0.0)
    assert len(sections[1]) == 0  # z=30 > R=10: the cell does not reach the plane
    assert np.hypot(*(sections[2] - [100, 100]).T).max() == pytest.approx(4.0)  # sqrt(25 - 9)
    mesh = pair.mesh(x)
    assert isinstance(mesh, trimesh.Trimesh) and len(mesh.vertices) == 3 * 162
    assert mesh.bounds[1][2] == pytest.approx(40.0)  # top of the cell at z=30, R=10
    cells = pair.cells(x)
    assert cells[["x", "y", "z", "R"]].shape == (3, 4)
