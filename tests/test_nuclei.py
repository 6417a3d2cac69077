import numpy as np
import pandas as pd
import pytest
from skimage import io

from cellframe.io.nuclei import NUCLEI_COLUMNS, check_nuclei_table, is_binary, nuclei_table, split_instances
from cellframe.stages import StageError
from conftest import DEMO, disc_mask


def test_split_instances_separates_two_touching_discs():
    mask = disc_mask((80, 120), [(40, 40), (40, 72)], 18)  # overlapping discs: one component
    labels = split_instances(mask, min_distance=9)
    assert labels.max() == 2
    assert set(np.unique(labels[mask > 0])) == {1, 2}


def test_split_instances_empty_mask():
    assert split_instances(np.zeros((10, 10), np.uint8)).max() == 0


def test_nuclei_table_centroid_and_equivalent_radius():
    mask = disc_mask((100, 100), [(30, 60)], 12)
    table = nuclei_table((mask > 0).astype(int))
    assert list(table.columns)[:5] == list(NUCLEI_COLUMNS)
    assert table.loc[0, "axis_a"] == pytest.approx(12, rel=0.05) == table.loc[0, "axis_b"]
    row = table.iloc[0]
    assert row.x == pytest.approx(60, abs=0.01) and row.y == pytest.approx(30, abs=0.01)
    assert row.r == pytest.approx(np.sqrt(row.area / np.pi))
    assert row.r == pytest.approx(12, rel=0.05)


def test_nuclei_table_drops_small_objects():
    labels = np.zeros((20, 20), int)
    labels[0:2, 0:2] = 1
    labels[5:15, 5:15] = 2
    assert nuclei_table(labels, min_area=10)["label"].tolist() == [2]


def test_is_binary():
    assert is_binary(np.array([[0, 255], [255, 0]]))
    assert not is_binary(np.array([[0, 1], [2, 3]]))


def test_check_nuclei_table_rejects_bad_tables():
    with pytest.raises(StageError, match="lacks columns"):
        check_nuclei_table(pd.DataFrame({"x": [1.0]}), "m.png")
    bad = pd.DataFrame({"label": [1], "x": [np.nan], "y": [1.0], "r": [2.0], "area": [12.0]})
    with pytest.raises(StageError, match="non-finite"):
        check_nuclei_table(bad, "m.png")


def test_region_moments_are_scikit_images_centroids_and_central_moments():
    from skimage.measure import regionprops_table

    from cellframe.io.nuclei import region_moments

    labels = split_instances(io.imread(DEMO / "tcga_patch_1_nuclei_mask.png")[:300, :300], 9)
    m = region_moments(labels)
    ref = regionprops_table(labels, properties=("label", "area", "centroid", "moments_central"))
    assert np.array_equal(m["label"], ref["label"]) and np.array_equal(m["area"], ref["area"])
    assert np.array_equal(m["row"], ref["centroid-0"]) and np.array_equal(m["col"], ref["centroid-1"])
    for ours, theirs in (("var_row", "2-0"), ("var_col", "0-2"), ("cov", "1-1")):
        assert np.allclose(m[ours], ref[f"moments_central-{theirs}"] / ref["area"], rtol=0, atol=1e-9)
