"""Each built-in analysis called through the registry, as the pipeline calls it."""

import numpy as np
import pandas as pd
import pytest
from skimage import io

from cellframe.stats.analysis import AnalysisError
from cellframe.config import ModelConfig
from cellframe.io.nuclei import nuclei_table, split_instances
from cellframe.model.swarm import PSOSettings
from cellframe.plugins.geometries.sphere import SphereSettings
from cellframe.model.reconstruct import reconstruct

from conftest import DEMO


@pytest.fixture(scope="module")
def recs(registry):
    out = []
    for k, (r0, c0) in ((1, (300, 300)), (2, (200, 500))):
        mask = io.imread(DEMO / f"tcga_patch_{k}_nuclei_mask.png")[r0 : r0 + 300, c0 : c0 + 300]
        out.append(reconstruct(nuclei_table(split_instances(mask, 9), 20), registry=registry, model=ModelConfig(),
                               geometry=SphereSettings(), optimizer=PSOSettings(), rng=np.random.default_rng(k),
                               sample_id=f"TCGA-XX-000{k}-01A"))
    return out


def analyze(registry, name, recs, outdir, **settings):
    """``registry.call("analysis", name, ...)`` with the stage's default settings overridden."""
    return registry.call("analysis", name, reconstructions=recs, outdir=outdir,
                         settings=registry.stage("analysis", name).schema(**settings))


def cohort_files(tmp_path, n=40, seed=0):
    rng = np.random.default_rng(seed)
    ids = [f"TCGA-ZZ-{k:04d}" for k in range(n)]
    f = rng.normal(size=n)
    pd.DataFrame({"sample_id": ids, "f1": f}).to_csv(tmp_path / "features.csv", index=False, header=False)
    pd.DataFrame({"samplename": ids, "time": np.exp(-f) * 30, "status": 1}).to_csv(tmp_path / "times.tsv", sep=" ", index=False)
    genes = pd.DataFrame({"gene": ["G1", "G2"], **{i: [int(v > 0), int(k % 2)] for k, (i, v) in enumerate(zip(ids, f))}})
    genes.to_csv(tmp_path / "status.tsv", sep=" ", index=False)
    pd.DataFrame({"gene": ["UP", "FLAT"], **{i: [2 * v, 1.0 + (k % 3)] for k, (i, v) in enumerate(zip(ids, f))}}).to_csv(
        tmp_path / "expression.tsv", sep=" ", index=False)
    stages = pd.DataFrame({"ID": ["TNM_N", "TNM_T"], **{i: [f"N{int(v > 0)}", f"T{k % 3 + 1}"] for k, (i, v) in enumerate(zip(ids, f))}})
    stages.to_csv(tmp_path / "stages.txt", sep=" ", index=False)
    return tmp_path


def test_nc_ratio_through_the_hook(registry, recs, tmp_path):
    metrics = analyze(registry, "nc_ratio", recs, tmp_path, draws=19)
    assert {"ks_cells_distance", "entropy_radius_mean", "null_entropy_radius_mean", "null_pvalue_nc_entropy"} <= set(metrics)
    # the paper's objective on these patches stops at its random start: its N/C carries nothing
    assert metrics["n_features_beyond_null"] == 0 and metrics["entropy_radius_mean"] > 0
    checks = pd.read_csv(tmp_path / "feature_null.csv").set_index("feature")
    assert checks.loc["n_cells", "verdict"] == "2D only" and checks.loc["nc_entropy", "verdict"] == "like null"
    table = pd.read_csv(tmp_path / "nc_ratio.csv")
    assert table["sample_id"].tolist() == [r.sample_id for r in recs]
    assert (tmp_path / "nc_ratio.png").stat().st_size > 1000


def test_spatial_through_the_hook(registry, recs, tmp_path):
    metrics = analyze(registry, "spatial", recs, tmp_path, permutations=49)
    assert {"morans_i_z", "morans_i_R", "morans_i_nc_radius", "n_patches_q05_z"} <= set(metrics)
    table = pd.read_csv(tmp_path / "morans_i.csv")
    assert len(table) == 2 * 3 and (table["qvalue"] >= table["pvalue"] - 1e-12).all()


def test_survival_through_the_hook(registry, recs, tmp_path):
    files = cohort_files(tmp_path)
    metrics = analyze(registry, "survival", recs, tmp_path, times=str(files / "times.tsv"),
                      features=str(files / "features.csv"), feature="f1")
    assert metrics["n_patients"] == 40 and metrics["spearman_rho"] == pytest.approx(-1.0)
    assert (tmp_path / "survival.png").is_file()


def test_survival_needs_its_table(registry, recs, tmp_path):
    with pytest.raises(AnalysisError, match="analysis.survival.times"):
        analyze(registry, "survival", recs, tmp_path)


def test_mutation_through_the_hook(registry, recs, tmp_path):
    files = cohort_files(tmp_path)
    metrics = analyze(registry, "mutation", recs, tmp_path, status=str(files / "status.tsv"),
                      features=str(files / "features.csv"), repeats=2, permutations=99)
    table = pd.read_csv(tmp_path / "mutation.csv").set_index("gene")
    assert table.loc["G1", "auroc_median"] == 1.0 and metrics["n_genes_passing"] == 1


def test_stage_through_the_hook(registry, recs, tmp_path):
    files = cohort_files(tmp_path)
    metrics = analyze(registry, "stage", recs, tmp_path, stages=str(files / "stages.txt"),
                      features=str(files / "features.csv"), feature="f1")
    assert metrics["TNM_N_pvalue"] <= 2e-4 and metrics["TNM_N_effect"] == pytest.approx(-1.0)
    assert metrics["TNM_N_effect_low"] <= -0.9 and metrics["TNM_N_qvalue"] >= metrics["TNM_N_pvalue"]


def test_expression_through_the_hook(registry, recs, tmp_path):
    files = cohort_files(tmp_path)
    metrics = analyze(registry, "expression", recs, tmp_path, expression=str(files / "expression.tsv"),
                      features=str(files / "features.csv"), feature="f1")
    assert metrics["n_significant"] == 1
    assert pd.read_csv(tmp_path / "expression.csv").loc[0, "gene"] == "UP"


def test_classifier_gains_from_3d_features_when_classes_depend_on_depth(registry, recs, tmp_path):
    rows = []
    for rec in recs:
        cells = rec.cells
        deep = cells["z"] > cells["z"].median()
        rows.append(pd.DataFrame({"sample_id": rec.sample_id, "label": cells["label"], "class": np.where(deep, "deep", "shallow")}))
    pd.concat(rows).to_csv(tmp_path / "labels.csv", index=False)
    metrics = analyze(registry, "classifier", recs, tmp_path, labels=str(tmp_path / "labels.csv"), trees=50, folds=2)
    assert metrics["morphology_3d_auroc"] > 0.95 and metrics["morphology_3d_f1"] > 0.85
    assert metrics["morphology_auroc"] < 0.7
    assert len(pd.read_csv(tmp_path / "classifier.csv")) == 2


def test_classifier_on_random_labels_is_at_chance(registry, recs, tmp_path):
    rng = np.random.default_rng(0)
    rows = [pd.DataFrame({"sample_id": r.sample_id, "label": r.cells["label"],
                          "class": rng.choice(["a", "b"], len(r.cells))}) for r in recs]
    pd.concat(rows).to_csv(tmp_path / "labels.csv", index=False)
    metrics = analyze(registry, "classifier", recs, tmp_path, labels=str(tmp_path / "labels.csv"), trees=50, folds=2)
    assert abs(metrics["morphology_3d_auroc"] - 0.5) < 0.12


def test_classifier_without_labels_says_how_to_give_them(registry, recs, tmp_path):
    with pytest.raises(AnalysisError, match="no labels"):
        analyze(registry, "classifier", recs, tmp_path)


def test_patch_features_are_averaged_per_patient(recs):
    from cellframe.stats.cohort import patch_features

    table = patch_features(recs)
    assert sorted(table.index) == ["TCGA-XX-0001", "TCGA-XX-0002"]
    recs[1].patient = "TCGA-XX-0001"  # both patches of one patient (a manifest patient_id column)
    try:
        merged = patch_features(recs)
    finally:
        recs[1].patient = None
    assert list(merged.index) == ["TCGA-XX-0001"]
    assert merged["n_cells"].iloc[0] == pytest.approx(table["n_cells"].mean())
