"""Metrics against truth on hand-made cases, and the documented run: simulate, evidence, truth."""

import numpy as np
import pandas as pd
import pytest

from cellframe.physics import fidelity


def test_match_is_one_to_one_and_within_half_a_radius():
    truth = np.array([[0.0, 0.0], [20.0, 0.0]])
    ours = np.array([[1.0, 0.0], [2.0, 0.0], [40.0, 0.0]])
    i, j = fidelity.match(ours, truth, np.array([10.0, 10.0]))
    assert list(zip(i, j)) == [(0, 0)]


def test_order_accuracy_and_its_mirror():
    pairs = np.array([[0, 1], [1, 2], [3, 4]])
    truth_z = np.array([0.0, 5.0, 10.0, 0.0, 5.0])
    flipped = -truth_z  # the first cluster upside down: wrong as is, right up to a mirror
    flipped[3:] = truth_z[3:]
    plain, mirror = fidelity.order_accuracy(pairs, truth_z, flipped)
    assert plain == pytest.approx(1 / 3) and mirror == 1.0


def test_cell_overlap_per_cell():
    truth = np.zeros((1, 1, 8), int)
    truth[0, 0, :4], truth[0, 0, 4:] = 7, 9
    ours = np.zeros_like(truth)
    ours[0, 0, :2], ours[0, 0, 2:] = 1, 2  # cell 1 is half of 7; cell 2 covers two of 7 and all of 9
    jac, dice = fidelity.cell_overlap(ours, truth, np.array([1, 2]), np.array([7, 9]))
    assert jac == pytest.approx([0.5, 4 / 6]) and dice == pytest.approx([2 / 3, 0.8])


def test_simulate_then_evidence_prints_metrics_beside_the_null(run_cli, small_sim, tmp_path):
    folder = small_sim[1]
    args = [f"input.image={folder / 'image.png'}", f"input.mask={folder / 'nuclei.json'}", "segmenter=hovernet",
            "objective=evidence", "analysis=[truth]", f"analysis.truth.table={folder / 'truth.parquet'}",
            "reconstruction.samples=8", "optimizer.iterations=30", f"output_dir={tmp_path / 'out'}"]
    done = run_cli(args, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "beside the null" in done.stdout + done.stderr
    table = pd.read_csv(tmp_path / "out" / "analysis" / "truth" / "truth_metrics.csv").set_index("metric")
    assert table.loc["depth_rank", "run"] > table.loc["depth_rank", "null_hi"]
    assert table.loc["R_over_r_rank", "run"] > table.loc["R_over_r_rank", "null_hi"]
    assert table.loc["jaccard", "run"] > table.loc["jaccard", "null_hi"]
    assert 0.5 < table.loc["coverage90_depth", "run"] <= 1.0
    cells = pd.read_csv(tmp_path / "out" / "image" / "cells.csv")
    assert {"rho", "depth_from_mid", "z_lo", "z_hi", "R_lo", "R_hi", "R_determined"} <= set(cells.columns)


def test_truth_from_another_simulator_is_read_with_its_own_columns(small_sim, tmp_path):
    from cellframe.physics.simulate import SimulationError, read_truth

    ours, _ = read_truth(small_sim[1] / "truth.parquet")
    foreign = ours[["x", "y", "z", "r", "cell_volume"]]  # no label, R, profile_r nor metadata
    foreign.to_csv(tmp_path / "truth.csv", index=False)
    table, meta = read_truth(tmp_path / "truth.csv")
    assert meta == {} and list(table["label"]) == list(range(1, len(table) + 1))
    assert np.allclose(table["R"], ours["R"]) and np.allclose(table["profile_r"], table["r"])
    foreign.drop(columns="cell_volume").to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(SimulationError, match="lacks R"):
        read_truth(tmp_path / "bad.csv")
