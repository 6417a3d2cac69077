"""Downstream statistics a biostatistician would sign: each defect of the old analyses, fixed."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from skimage import io

from cellframe.stats.analysis import AnalysisError
from cellframe.stats.cohort import join_patients, read_features, read_matrix, sample_type
from cellframe.config import ModelConfig
from cellframe.stats.feature_null import BEYOND, FROM_2D, NULL, null_reconstruction, require_beyond_null, run_null_test
from cellframe.stats.inference import bh, permutation_pvalue
from cellframe.io.nuclei import nuclei_table, split_instances
from cellframe.plugins.geometries.sphere import SphereSettings
from cellframe.plugins.analyses.stage import stage_association
from cellframe.plugins.analyses.survival import survival_analysis
from cellframe.model.reconstruct import reconstruct
from cellframe.model.swarm import PSOSettings

from conftest import DEMO, REPO


@pytest.fixture(scope="module")
def paper_recs(registry):
    """The paper's objective on two demo crops: the search ends at its random start."""
    out = []
    for k, (r0, c0) in ((1, (300, 300)), (2, (200, 500))):
        mask = io.imread(DEMO / f"tcga_patch_{k}_nuclei_mask.png")[r0 : r0 + 250, c0 : c0 + 250]
        out.append(reconstruct(nuclei_table(split_instances(mask, 9), 20), registry=registry, model=ModelConfig(),
                               geometry=SphereSettings(), optimizer=PSOSettings(), rng=np.random.default_rng(k),
                               sample_id=f"TCGA-XX-000{k}-01A"))
    return out


def with_radius_factor(rec, factor: float):
    """The same patch with every cell radius exactly ``factor`` times its nucleus' (a deterministic 3D)."""
    p = rec.geometry.unpack(rec.x)
    return dataclasses.replace(rec, x=rec.geometry.pack({"z": p["z"], "R": factor * rec.geometry.r}))


def test_null_reconstructions_respect_the_bounds(paper_recs):
    rec = paper_recs[1]
    draws = [rec.geometry.unpack(null_reconstruction(rec, np.random.default_rng(k)).x) for k in range(20)]
    ratio = np.concatenate([d["R"] / rec.geometry.r for d in draws])
    z = np.concatenate([d["z"] for d in draws])
    assert ratio.min() >= 1.5 and ratio.max() <= 2.5 and abs(ratio.mean() - 2.0) < 0.05  # R ~ U(alpha r, beta r)
    assert z.min() >= 0 and z.max() <= float(rec.geometry.model.z_max)
    assert null_reconstruction(rec, np.random.default_rng(0)).nuclei is rec.nuclei  # the same nuclei


def test_null_rows_from_worker_processes_are_the_rows_computed_here(paper_recs, monkeypatch):
    import copy

    from cellframe.stats import feature_null

    monkeypatch.setattr(feature_null, "POOL_WORK", 0)  # small crops: spawn the workers all the same
    here, there = copy.deepcopy(paper_recs), copy.deepcopy(paper_recs)
    feature_null.fill_null_rows(there, draws=21, seed=3, workers=2)
    assert all((21, 3, 20) in rec.__dict__["_null_rows"] for rec in there)
    for a, b in zip(here, there):
        expected = pd.DataFrame(feature_null.null_patch_rows(a, draws=21, seed=3))
        pd.testing.assert_frame_equal(pd.DataFrame(feature_null.null_patch_rows(b, draws=21, seed=3)), expected)


def test_a_noisy_feature_is_flagged_and_refused(paper_recs):
    noisy = [null_reconstruction(rec, np.random.default_rng(7 + k)) for k, rec in enumerate(paper_recs)]
    table = run_null_test(noisy, draws=39)
    assert table.loc["nc_entropy", "verdict"] == NULL and table.loc["nc_entropy", "pvalue"] > 0.05
    assert table.loc["n_cells", "verdict"] == FROM_2D
    with pytest.raises(AnalysisError, match=r"survival: feature 'nc_entropy' carries nothing beyond its null.*"
                                            r"analysis.survival.allow_null_feature=true"):
        require_beyond_null(noisy, ["nc_entropy"], "survival", draws=39)
    assert len(require_beyond_null(noisy, ["nc_entropy"], "survival", draws=39, allow=True)) == 1


def test_a_feature_the_reconstruction_determines_is_beyond_its_null(paper_recs):
    fixed = [with_radius_factor(rec, 2.5) for rec in paper_recs]  # every R at its upper bound
    table = run_null_test(fixed, draws=39)
    assert table.loc["nc_mean_radius", "observed"] == pytest.approx(0.4)
    assert table.loc["nc_mean_radius", "verdict"] == BEYOND and table.loc["nc_mean_radius", "pvalue"] == 1 / 40
    assert table.loc["nc_entropy", "verdict"] == BEYOND


def test_the_default_run_feature_is_refused_by_survival(registry, paper_recs, tmp_path):
    ids = [r.sample_id[:12] for r in paper_recs]
    pd.DataFrame({"id": ids, "time": [10.0, 20.0], "status": [1, 0]}).to_csv(tmp_path / "t.csv", index=False)
    settings = registry.stage("analysis", "survival").schema(times=str(tmp_path / "t.csv"), null_draws=19)
    with pytest.raises(AnalysisError, match="carries nothing beyond its null"):
        registry.call("analysis", "survival", reconstructions=paper_recs, outdir=tmp_path, settings=settings)
    assert (tmp_path / "feature_null.csv").is_file() is False  # refused before anything is written


def test_area_nc_uses_the_nucleus_own_section_and_never_exceeds_one(paper_recs):
    for rec in paper_recs:
        cells = rec.cells
        at_plane = cells["nc_ratio_area"].notna()
        assert cells.loc[at_plane, "nc_ratio_area"].max() <= 1.0 + 1e-9
        assert (cells["nuclear_section_area"] <= np.pi * cells["r"] ** 2 + 1e-6).all()
        # a nucleus further from the plane than its radius has no section there
        far = np.abs(cells["z"] - rec.plane_z) >= cells["r"]
        assert (cells.loc[far, "nuclear_section_area"] == 0).all()
    # a lone sphere centred on the plane: the nucleus' disc over the cell's disc = (r / R)^2
    rec = paper_recs[0]
    one = rec.geometry.subset(np.array([0]))
    lone = dataclasses.replace(rec, geometry=one, nuclei=rec.nuclei.iloc[:1], x=np.array([rec.plane_z, 2 * one.r[0]]))
    assert lone.cells.loc[0, "nc_ratio_area"] == pytest.approx(0.25, rel=0.01)


def test_patients_are_matched_by_barcode_and_sample_type():
    assert sample_type("TCGA-AA-0001-01A-11") == "01" and sample_type("TCGA-AA-0001") is None
    features = pd.DataFrame({"v": [1.0, 9.0, 2.0, 2.0]},
                            index=["TCGA-AA-0001-01A", "TCGA-AA-0001-11A", "TCGA-AA-0002-01A", "TCGA-AA-0002-01B"])
    clinical = pd.DataFrame({"t": [5.0, 6.0]}, index=["TCGA-AA-0001", "TCGA-AA-0002"])
    feats, clin = join_patients(features, clinical, what="test")
    # the tumour sample, not the normal (-11A) one; agreeing duplicates kept once
    assert feats["v"].to_dict() == {"TCGA-AA-0001": 1.0, "TCGA-AA-0002": 2.0}
    normal, _ = join_patients(features, clinical, what="test", minimum=1, sample_types=("11",))
    assert normal["v"].to_dict() == {"TCGA-AA-0001": 9.0}
    clash = features.rename(index={"TCGA-AA-0001-11A": "TCGA-AA-0001-01B"})
    with pytest.raises(AnalysisError, match=r"patient TCGA-AA-0001 has 2 samples with different values "
                                            r"\(TCGA-AA-0001-01A, TCGA-AA-0001-01B\)"):
        join_patients(clash, clinical, what="test")


def test_stage_on_the_demo_table_gives_exact_permutation_pvalues():
    values = read_features(REPO / "data" / "downstream" / "mutation_features.csv")["f1"]
    table = stage_association(values, read_matrix(REPO / "data" / "downstream" / "tnm_stages.txt")).set_index("stage")
    # n = 6: every permutation enumerated (the chi-square approximation said 0.117 and 0.287)
    assert table.loc["TNM_N", "pvalue"] == pytest.approx(0.100, abs=1e-9)
    assert table.loc["TNM_T", "pvalue"] == pytest.approx(0.4667, abs=1e-4)
    assert table.loc["TNM_M", "pvalue"] == pytest.approx(1 / 3)
    assert np.allclose(table["qvalue"], bh(table["pvalue"])) and (table["qvalue"] >= table["pvalue"]).all()


def test_small_samples_are_refused_with_a_line():
    ids = [f"TCGA-AA-{k:04d}" for k in range(6)]
    values = pd.Series(np.arange(6.0), index=ids)
    survival = pd.DataFrame({"time": np.arange(1.0, 7.0), "event": 1}, index=ids)
    with pytest.raises(AnalysisError, match=r"survival: 6 patients is too few for this test \(at least 10"):
        survival_analysis(values, survival)


def test_permutation_pvalue_is_exact_for_tiny_groups():
    # 1 vs 3: 4 relabellings, the observed (most extreme) one among 2 as extreme (two-sided)
    p = permutation_pvalue([np.array([10.0]), np.array([1.0, 2.0, 3.0])], lambda a, b, axis=-1: a.mean(axis) - b.mean(axis))
    assert p == pytest.approx(0.5)


def test_classifier_refuses_fewer_patches_than_folds(registry, paper_recs, tmp_path):
    rows = [pd.DataFrame({"sample_id": r.sample_id, "label": r.cells["label"], "class": np.arange(len(r.cells)) % 2})
            for r in paper_recs]
    pd.concat(rows).to_csv(tmp_path / "labels.csv", index=False)
    settings = registry.stage("analysis", "classifier").schema(labels=str(tmp_path / "labels.csv"), folds=3, trees=10)
    with pytest.raises(AnalysisError, match="2 patches for 3-fold CV grouped by patch"):
        registry.call("analysis", "classifier", reconstructions=paper_recs, outdir=tmp_path, settings=settings)


def test_morans_p_value_is_pysal_p_sim():
    from cellframe.plugins.analyses.spatial import knn_neighbours, moran_test, morans_i

    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 50, (60, 2))
    values = rng.normal(size=60)
    observed, p = moran_test(values, xy, k=4, permutations=199, rng=np.random.default_rng(11))
    # esda's rule: count permutations at least as large as I; fold to the smaller tail
    replay = np.random.default_rng(11)
    sims = np.array([morans_i(replay.permutation(values), knn_neighbours(xy, 4)) for _ in range(199)])
    larger = int((sims >= observed).sum())
    assert p == pytest.approx((min(larger, 199 - larger) + 1) / 200)
    assert p <= 0.5 + 1 / 200  # folded: never above one half


def test_a_table_feature_says_it_was_not_checked(registry, paper_recs, tmp_path, caplog):
    import logging

    table = tmp_path / "f.csv"
    pd.DataFrame({"id": ["TCGA-XX-0001", "TCGA-XX-0002"], "f1": [1.0, 2.0]}).to_csv(table, index=False, header=False)
    from cellframe.stats.feature_null import cohort_features

    settings = registry.stage("analysis", "survival").schema(features=str(table), feature="f1")
    with caplog.at_level(logging.INFO, logger="cellframe"):
        features, checks = cohort_features(paper_recs, settings, "survival", ["f1"])
    assert checks is None and "not derived by this run: not checked against a null" in caplog.text


def test_the_null_test_of_a_slide_uses_a_bounded_seeded_sample_per_patient():
    from types import SimpleNamespace

    from cellframe.stats.feature_null import null_sample

    recs = [SimpleNamespace(sample_id=f"slide{p}_x{k}", patient=f"P{p}") for p in range(2) for k in range(30)]
    recs.append(SimpleNamespace(sample_id="alone", patient="P9"))
    picked = null_sample(recs, 8, seed=3)
    per_patient = {p: sum(r.patient == p for r in picked) for p in ("P0", "P1", "P9")}
    assert per_patient == {"P0": 8, "P1": 8, "P9": 1}
    assert [r.sample_id for r in picked] == [r.sample_id for r in null_sample(recs, 8, seed=3)]  # seeded
    assert picked == [r for r in recs if r in picked]  # in the run's order
    assert null_sample(recs, None) == recs
