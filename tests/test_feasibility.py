import numpy as np
import pandas as pd
import pytest
from skimage import io

from cellframe.model import feasibility
from cellframe.model.feasibility import _separation_matrix, component_feasibility, min_span_exact, span_bounds
from cellframe.io.nuclei import nuclei_table, split_instances
from cellframe.model.pairs import overlapping_pairs, required_separation

from conftest import DEMO


def gaps(xy, r):
    xy, r = np.asarray(xy, float), np.asarray(r, float)
    pairs = overlapping_pairs(xy, r)
    return _separation_matrix(len(r), pairs, required_separation(xy, r, pairs)), pairs


def table(xy, r):
    xy = np.asarray(xy, float)
    return pd.DataFrame({"label": range(1, len(xy) + 1), "x": xy[:, 0], "y": xy[:, 1], "r": r, "area": 1.0})


def test_pair_needs_its_separation():
    S, _ = gaps([[0, 0], [6, 0]], [5, 5])
    assert min_span_exact(S) == pytest.approx(8.0)  # sqrt(10^2 - 6^2)


def test_path_needs_only_its_largest_gap():
    # A-B and B-C overlap, A-C do not: C can sit at A's depth
    S, pairs = gaps([[0, 0], [7, 0], [14, 0]], [5, 4.5, 4])
    assert len(pairs) == 2
    assert min_span_exact(S) == pytest.approx(max(np.sqrt(9.5**2 - 49), np.sqrt(8.5**2 - 49)))


def test_mutually_overlapping_triangle_stacks_three_deep():
    side = 6.0
    xy = [[0, 0], [side, 0], [side / 2, side * np.sqrt(3) / 2]]
    S, _ = gaps(xy, [5, 5, 5])
    assert min_span_exact(S) == pytest.approx(2 * np.sqrt(100 - side**2))


def test_bounds_bracket_the_exact_span(monkeypatch):
    rng = np.random.default_rng(4)
    xy = rng.uniform(0, 22, (8, 2))
    S, pairs = gaps(xy, rng.uniform(4, 6, 8))
    exact = min_span_exact(S)
    monkeypatch.setattr(feasibility, "EXACT_LIMIT", 5)
    bounds = span_bounds(S, np.random.default_rng(0))
    assert not bounds.exact
    assert bounds.lower <= exact + 1e-9 <= bounds.upper + 2e-9


def test_demo_patches_are_feasible_with_equivalent_radii():
    for k in (1, 2):
        nuclei = nuclei_table(split_instances(io.imread(DEMO / f"tcga_patch_{k}_nuclei_mask.png"), 9), 20)
        report = component_feasibility(nuclei, z_max=40)
        assert len(report) > 10 and (report["feasible"] == True).all()  # noqa: E712


def test_enclosing_radii_make_some_demo_clusters_infeasible():
    labels = split_instances(io.imread(DEMO / "tcga_patch_1_nuclei_mask.png"), 9)
    nuclei = nuclei_table(labels, 20, radius="enclosing")
    report = component_feasibility(nuclei, z_max=40)
    infeasible = report[report["feasible"] == False]  # noqa: E712
    assert len(infeasible) >= 1 and (infeasible["needed_depth"] > 40).all()
    assert (report.loc[report["exact"], "n_nuclei"] <= feasibility.EXACT_LIMIT).all()


def test_repair_gives_feasible_clusters_their_witness(registry):
    from cellframe.config import ModelConfig
    from cellframe.plugins.geometries.sphere import Sphere, SphereSettings

    # a chain of three overlapping nuclei, all placed at the same depth: clearly interpenetrating
    nuclei = table([[0, 0], [7, 0], [14, 0]], [5.0, 5.0, 5.0])
    geom = Sphere(nuclei, ModelConfig(z_max=40), SphereSettings())
    x = geom.pack({"z": np.full(3, 20.0), "R": np.full(3, 10.0)})
    assert geom.interpenetrating(x).all()
    report, fixed, count = geom.depth_order(x, (0.0, 40.0), np.random.default_rng(0))
    assert count == 1 and not geom.interpenetrating(fixed).any()
    assert np.array_equal(geom.unpack(fixed)["R"], geom.unpack(x)["R"])
    # a depth range that does not start at 0 (the evidence objective's): the witness is shifted into it
    report, fixed, count = geom.depth_order(x, (-8.0, 32.0), np.random.default_rng(0))
    z = geom.unpack(fixed)["z"]
    assert count == 1 and z.min() >= -8.0 and z.max() <= 32.0 and not geom.interpenetrating(fixed).any()
    unchanged = geom.depth_order(x, (0.0, 40.0), np.random.default_rng(0), repair=False)
    assert unchanged[2] == 0 and np.array_equal(unchanged[1], x)


def test_infeasible_clusters_are_not_repaired():
    from cellframe.config import ModelConfig
    from cellframe.plugins.geometries.sphere import Sphere, SphereSettings

    nuclei = table([[0, 0], [3, 0], [1.5, 2.5]], [5.0, 5.0, 5.0])  # three nearly coincident nuclei
    geom = Sphere(nuclei, ModelConfig(z_max=5), SphereSettings())
    x = geom.pack({"z": np.full(3, 2.0), "R": np.full(3, 10.0)})
    report, fixed, count = geom.depth_order(x, (0.0, 5.0), np.random.default_rng(0))
    assert report["feasible"].tolist() == [False] and count == 0
