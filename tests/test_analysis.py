"""Downstream statistics against known answers."""

import numpy as np
import pandas as pd
import pytest

from cellframe.stats.analysis import AnalysisError
from cellframe.stats.cohort import patient_id, read_features, read_matrix, read_mutations, read_survival
from cellframe.model.nc import nc_ratios, shannon_entropy
from cellframe.plugins.analyses.expression import expression_correlation
from cellframe.plugins.analyses.mutation import mutation_auroc
from cellframe.plugins.analyses.spatial import class_distances, knn_neighbours, moran_test, morans_i
from cellframe.plugins.analyses.stage import group_test, stage_association
from cellframe.plugins.analyses.survival import survival_analysis

from conftest import REPO

DOWNSTREAM = REPO / "data" / "downstream"


def test_entropy_of_known_histograms():
    assert shannon_entropy(np.full(100, 0.5), bins=10) == 0.0
    uniform = (np.arange(10) + 0.5) / 10  # one value in each of 10 bins
    assert shannon_entropy(uniform, bins=10) == pytest.approx(np.log2(10))
    two = np.array([0.05, 0.05, 0.95, 0.95])
    assert shannon_entropy(two, bins=10) == pytest.approx(1.0)
    assert np.isnan(shannon_entropy(np.array([np.nan])))


def test_nc_ratio_forms():
    cells = pd.DataFrame({"r": [5.0, 4.0], "R": [10.0, 8.0], "nuclear_area": [78.5, 50.0], "section_area": [314.0, 0.0]})
    ratios = nc_ratios(cells)
    assert ratios["radius"].tolist() == [0.5, 0.5]
    assert ratios["volume"].tolist() == [0.125, 0.125]
    assert ratios["area"][0] == pytest.approx(0.25) and np.isnan(ratios["area"][1])


def test_ks_identical_versus_shifted():
    from scipy.stats import ks_2samp

    rng = np.random.default_rng(0)
    a = rng.normal(size=500)
    assert ks_2samp(a, a).pvalue == 1.0
    assert ks_2samp(a, a + 1.0).pvalue < 1e-10


def cohort(n=60, separated=True, seed=0):
    rng = np.random.default_rng(seed)
    ids = [f"TCGA-AA-{k:04d}-01A" for k in range(n)]
    values = pd.Series(rng.normal(size=n), index=ids)
    base = rng.exponential(50, n)
    times = np.where(values > values.median(), base * 0.1, base * 3) if separated else base
    return values, pd.DataFrame({"time": times, "event": 1}, index=ids)


def test_logrank_separates_clearly_different_cohorts():
    values, survival = cohort(separated=True)
    metrics, table = survival_analysis(values, survival)
    assert metrics["n_patients"] == 60 and metrics["logrank_pvalue"] < 1e-6
    assert metrics["spearman_rho"] < -0.5
    assert metrics["spearman_rho_low"] <= metrics["spearman_rho"] <= metrics["spearman_rho_high"] < 0


def test_logrank_finds_nothing_in_identical_cohorts():
    values = pd.Series(np.r_[np.zeros(20), np.ones(20)], index=[f"P{k}" for k in range(40)])
    times = np.tile(np.arange(1.0, 21.0), 2)  # the same survival times in both halves
    metrics, _ = survival_analysis(values, pd.DataFrame({"time": times, "event": 1}, index=values.index))
    assert metrics["logrank_pvalue"] == pytest.approx(1.0)


def test_demo_survival_tables_share_no_patients():
    values = read_features(DOWNSTREAM / "survival_features.csv")["f1"]
    survival = read_survival(DOWNSTREAM / "survival_times.tsv", "time", "status")
    with pytest.raises(AnalysisError, match=r"share 0 patient ids"):
        survival_analysis(values, survival)


def test_cohort_tables_saved_by_excel_read_as_the_demo_ones(tmp_path):
    """The demo survival and feature tables re-saved as Excel does in many locales (UTF-8 with a
    byte-order mark, semicolons, CRLF) read to the same values."""
    times = DOWNSTREAM / "survival_times.tsv"
    features = DOWNSTREAM / "survival_features.csv"
    excel_times, excel_features = tmp_path / "times.csv", tmp_path / "features.csv"
    excel_times.write_text("\ufeff" + "\r\n".join(";".join(line.split()) for line in times.read_text().splitlines()),
                           encoding="utf-8")
    excel_features.write_text("\ufeff" + "\r\n".join(line.replace(",", ";") for line in features.read_text().splitlines()),
                              encoding="utf-8")
    pd.testing.assert_frame_equal(read_survival(excel_times, "time", "status"), read_survival(times, "time", "status"))
    pd.testing.assert_frame_equal(read_features(excel_features), read_features(features))


def test_auroc_of_a_separable_and_a_random_feature():
    rng = np.random.default_rng(0)
    ids = [f"S{k}" for k in range(100)]
    y = np.r_[np.zeros(50), np.ones(50)]
    status = pd.DataFrame({"GENE_A": y, "GENE_B": y}, index=ids)
    perfect = mutation_auroc(pd.DataFrame({"f": y + rng.normal(0, 0.01, 100)}, index=ids), status[["GENE_A"]],
                             repeats=3, permutations=19)
    assert perfect.loc[0, "auroc_median"] == 1.0 and perfect.loc[0, "pvalue"] == pytest.approx(0.05)
    noise = mutation_auroc(pd.DataFrame({"f": rng.normal(size=100)}, index=ids), status[["GENE_B"]],
                           repeats=3, permutations=19)
    assert abs(noise.loc[0, "auroc_median"] - 0.5) < 0.2 and noise.loc[0, "pvalue"] > 0.05
    assert noise.loc[0, "auroc_low"] <= noise.loc[0, "auroc_median"] <= noise.loc[0, "auroc_high"]


def test_rare_mutations_are_not_scored():
    ids = [f"S{k}" for k in range(40)]
    status = pd.DataFrame({"RARE": [1, 1] + [0] * 38}, index=ids)
    table = mutation_auroc(pd.DataFrame({"f": np.arange(40.0)}, index=ids), status, repeats=1, permutations=19)
    assert np.isnan(table.loc[0, "auroc_median"]) and table.loc[0, "n_mutated"] == 2


def test_group_tests_and_effect_sizes():
    two = group_test({"a": np.arange(10.0), "b": np.arange(10.0) + 100})
    assert two["test"] == "mann-whitney" and abs(two["effect"]) == 1.0 and two["pvalue"] <= 2e-4
    same = group_test({"a": np.arange(10.0), "b": np.arange(10.0), "c": np.arange(10.0)})
    assert same["test"] == "kruskal-wallis" and same["effect"] == pytest.approx(0.0) and same["pvalue"] == pytest.approx(1.0)


def test_stage_association_on_the_demo_table():
    stages = read_matrix(DOWNSTREAM / "tnm_stages.txt")
    assert list(stages.columns) == ["TNM_M", "TNM_N", "TNM_T"] and len(stages) == 9
    values = pd.Series(np.arange(9.0), index=stages.index)
    table = stage_association(values, stages, permutations=999)
    assert set(table["stage"]) >= {"TNM_N"} and table["pvalue"].between(0, 1).all()


def test_expression_correlation_with_bh_qvalues():
    rng = np.random.default_rng(1)
    ids = [f"S{k}" for k in range(50)]
    values = pd.Series(rng.normal(size=50), index=ids)
    expression = pd.DataFrame({"UP": values * 2 + rng.normal(0, 0.1, 50),
                               **{f"N{k}": rng.normal(size=50) for k in range(20)}}, index=ids)
    table = expression_correlation(values, expression)
    assert table.loc[0, "gene"] == "UP" and table.loc[0, "rho"] > 0.95 and table.loc[0, "qvalue"] < 1e-10
    assert (table["qvalue"] >= table["pvalue"] - 1e-15).all()


def test_morans_i_of_a_smooth_field_and_of_noise():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, (400, 2))
    smooth = np.sin(xy[:, 0] / 20.0) + np.cos(xy[:, 1] / 20.0)
    i_smooth, p_smooth = moran_test(smooth, xy, k=8, permutations=199, rng=np.random.default_rng(1))
    noise = np.random.default_rng(5).normal(size=400)
    i_noise, p_noise = moran_test(noise, xy, k=8, permutations=199, rng=np.random.default_rng(1))
    assert i_smooth > 0.8 and p_smooth == pytest.approx(1 / 200)
    assert abs(i_noise) < 0.1 and p_noise > p_smooth


def test_morans_i_is_minus_one_on_a_checkerboard():
    xy = np.array([[x, y] for x in range(10) for y in range(10)], float)
    board = np.array([(x + y) % 2 for x in range(10) for y in range(10)], float)
    assert morans_i(board, knn_neighbours(xy, 4)) <= -0.8  # edge cells reach a diagonal neighbour


def test_class_distances():
    xy = np.array([[0, 0], [0, 1], [10, 0]], float)
    table = class_distances(xy, np.array(["tumour", "tumour", "immune"]))
    row = table[(table["from"] == "immune") & (table["to"] == "tumour")].iloc[0]
    assert row["mean_nn_distance"] == pytest.approx(10.0)


def test_patient_ids_and_demo_readers():
    assert patient_id("TCGA-05-4244-01A-01") == "TCGA-05-4244" and patient_id("crop_1") == "crop_1"
    features = read_features(DOWNSTREAM / "mutation_features.csv")
    assert features.shape == (449, 1)
    status = read_mutations(DOWNSTREAM / "mutation_status.tsv")
    assert status.shape == (230, 17) and set(np.unique(status.to_numpy())) == {0, 1}
    assert status.loc["TCGA-05-4249", "LRP1B"] == 1 and status.loc["TCGA-05-4384", "LRP1B"] == 0


def test_mutation_reader_splits_merged_calls_and_rejects_ragged_rows(tmp_path):
    path = tmp_path / "m.tsv"
    path.write_text("gene A B C D\nG1 1 01 0\n")
    assert read_mutations(path)["G1"].tolist() == [1, 0, 1, 0]
    path.write_text("gene A B C D\nG1 1 0\n")
    with pytest.raises(AnalysisError, match="line 2 \\(G1\\): 2 values for 4 samples"):
        read_mutations(path)
