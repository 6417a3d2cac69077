"""The known-truth simulator: its invariants, its files, its command."""

import json

import numpy as np
import pytest
import tifffile
from skimage import io

from cellframe.physics.simulate import SimulateConfig, SimulationError, read_truth, simulate
from cellframe.physics.stereology import profile_radius


def test_visible_nuclei_never_interpenetrate(small_sim):
    t = small_sim[0].truth
    xyz = t[["x", "y", "z"]].to_numpy()
    d = np.linalg.norm(xyz[:, None] - xyz[None], axis=2)
    reach = t["a"].to_numpy()  # the bounding sphere of each ellipsoid
    np.fill_diagonal(d, np.inf)
    assert (d >= reach[:, None] + reach[None, :]).all()


def test_cells_partition_the_tissue(small_sim):
    sim = small_sim[0]
    t, volume, meta = sim.truth, sim.volume, sim.meta
    labels = set(np.unique(volume)) - {0}
    assert labels <= set(t["label"])  # one label per voxel: a partition, no other ids
    assert (t["cell_volume"] > t["nuclear_volume"]).mean() > 0.95  # cells surround their nuclei
    step, z0 = meta["voxel_px"], meta["volume_z0_px"]
    k = ((t["z"] - z0) / step).astype(int)
    j, i = (t["y"] / step).astype(int), (t["x"] / step).astype(int)
    assert (volume[k, j, i] == t["label"]).mean() > 0.95  # each nucleus sits in its own cell
    # cells fill the space at the configured density: nucleus ~ 20 % of the cell on average
    assert 0.1 < t["nuclear_volume"].sum() / t["cell_volume"].sum() < 0.3


def test_profiles_follow_the_lost_caps(small_sim):
    sim = small_sim[0]
    t, T = sim.truth, sim.meta["section_px"]
    shrink = profile_radius(t["c"], t["z"], T) / t["c"]
    assert np.allclose(t["profile_r"], np.sqrt(t["a"] * t["b"]) * shrink)
    caps = t[(t["z"] < 0) | (t["z"] > T)]
    assert len(caps) > 5 and (caps["profile_r"] < np.sqrt(caps["a"] * caps["b"])).all()
    areas = np.bincount(sim.mask.ravel(), minlength=int(t["label"].max()) + 1)[t["label"]]
    alone = areas > 0
    expected = np.pi * t["profile_r"][alone] ** 2
    assert np.median(areas[alone] / expected) == pytest.approx(1.0, abs=0.1)
    # caps look pale: less haematoxylin at their centre than nuclei cut through the middle
    grey = sim.image.astype(float).mean(axis=2)
    ys, xs = t["y"].round().astype(int), t["x"].round().astype(int)
    centre = grey[ys, xs]
    inside = t["z"].between(0, T).to_numpy()
    assert centre[~inside].mean() > centre[inside].mean() + 10


def test_same_seed_same_tissue():
    a = simulate(SimulateConfig(width=200, height=200, seed=7))
    b = simulate(SimulateConfig(width=200, height=200, seed=7))
    assert np.array_equal(a.image, b.image) and a.truth.equals(b.truth)


def test_files_read_back(small_sim):
    sim, folder = small_sim
    assert io.imread(folder / "image.png").shape == (320, 320, 3)
    assert np.array_equal(io.imread(folder / "mask.png"), sim.mask)
    doc = json.loads((folder / "nuclei.json").read_text())
    assert set(doc["nuc"]) == {str(v) for v in sim.truth["label"]}
    table, meta = read_truth(folder / "truth.parquet")
    assert meta["section_px"] == pytest.approx(16.0)
    assert {"label", "x", "y", "z", "r", "R"} <= set(table.columns)
    assert tifffile.imread(folder / "truth.ome.tif").shape == sim.volume.shape


@pytest.mark.parametrize("key, value", [("width", -1), ("section_um", 0), ("elongation", 0.5),
                                        ("stroma_fraction", 1.2), ("regularity", 0.95)])
def test_bad_settings_name_the_key(key, value):
    with pytest.raises(SimulationError, match=key):
        SimulateConfig(**{key: value})


def test_simulate_command(run_cli, tmp_path):
    ok = run_cli(["simulate", "width=160", "height=160", f"output_dir={tmp_path / 'sim'}"], tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "sim" / "truth.parquet").is_file()
    bad = run_cli(["simulate", "nuclear_fraction=2"], tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == ["cellframe: error: simulate: nuclear_fraction=2.0 must be in (0, 1)"]


def test_a_second_population_is_small_round_and_dark():
    sim = simulate(SimulateConfig(width=240, height=240, seed=5, nucleus_radius_um=3.4, second_fraction=0.4,
                                  second_radius_um=1.8, second_chromatin=1.6))
    t = sim.truth
    second, first = t[t["population"] == 1], t[t["population"] == 0]
    assert 0.2 < len(second) / len(t) < 0.6  # fewer show than were packed: small nuclei are hit less often
    px = 1 / 0.25
    assert np.median(second["r"]) == pytest.approx(1.8 * px, rel=0.15)
    assert np.median(first["r"]) == pytest.approx(3.4 * px, rel=0.15)
    assert np.allclose(second["a"], second["b"])  # round
    grey = sim.image.astype(float).mean(axis=2)
    T = sim.meta["section_px"]
    whole = t["z"].between(0, T)
    centre = grey[t["y"].round().astype(int), t["x"].round().astype(int)]
    assert centre[(t["population"] == 1) & whole].mean() < centre[(t["population"] == 0) & whole].mean()
