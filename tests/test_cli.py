"""The command line end to end, in subprocesses, on crops of the real demo patches."""

import json

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from conftest import REPO, DEMO
from test_registry import make_distribution


@pytest.fixture(scope="module")
def e2e(demo_crops, run_cli, tmp_path_factory):
    cwd = tmp_path_factory.mktemp("e2e")
    args = [f"input.manifest={demo_crops / 'manifest.csv'}", "seed=7", "progress=false", "mlflow.experiment=e2e"]
    first = run_cli([*args, f"hydra.run.dir={cwd / 'run1'}"], cwd)
    second = run_cli([*args, f"hydra.run.dir={cwd / 'run2'}", "mlflow.enabled=false"], cwd)
    return cwd, first, second


def test_run_succeeds_and_writes_every_output(e2e):
    cwd, first, _ = e2e
    assert first.returncode == 0, first.stderr[-2000:]
    for sample in ("crop_1", "crop_2"):
        folder = cwd / "run1" / sample
        names = {p.name for p in folder.iterdir()}
        assert {"cells.ply", "cells.json", "cells.csv", "cells.parquet", "convergence.png"} <= names
    nc = pd.read_csv(cwd / "run1" / "analysis" / "nc_ratio" / "nc_ratio.csv")
    assert nc["sample_id"].tolist() == ["crop_1", "crop_2"]
    summary = pd.read_csv(cwd / "run1" / "summary.csv")
    assert summary["sample_id"].tolist() == ["crop_1", "crop_2"]
    assert (summary["n_violations"] == 0).all() and (summary["n_nuclei"] > 20).all()
    # what the evidence objective read from each image: the fitted outline edge, the densities' depth signal
    assert summary["outline_edge_um"].between(0, 1).all() and summary["depth_signal_nats"].notna().all()
    assert summary["stain_response"].between(0.3, 1.3).all()
    # the reference masks' outlines leave some of what hed_watershed takes for nuclei out: counted
    assert (summary["unlisted"] >= 0).all() and summary["unlisted"].dtype.kind == "i"


def test_outputs_are_valid_and_free_of_interpenetration(e2e):
    import importlib.resources

    import jsonschema
    import trimesh

    cwd, _, _ = e2e
    schema = json.loads(importlib.resources.files("cellframe").joinpath("schemas/cells.schema.json").read_text())
    for sample in ("crop_1", "crop_2"):
        doc = json.loads((cwd / "run1" / sample / "cells.json").read_text())
        jsonschema.validate(doc, schema)
        c = np.array([cell["center"] for cell in doc["cells"]])
        r = np.array([cell["nuc_radius"] for cell in doc["cells"]])
        gap = np.linalg.norm(c[:, None] - c[None], axis=2) - (r[:, None] + r[None])
        np.fill_diagonal(gap, np.inf)
        assert gap.min() > -1e-6  # centres and nuclear radii are exact: the run's check (1e-6 px) holds
        mesh = trimesh.load(cwd / "run1" / sample / "cells.ply")
        assert len(mesh.vertices) == 162 * len(doc["cells"])


def test_same_seed_gives_identical_outputs(e2e):
    cwd, _, second = e2e
    assert second.returncode == 0, second.stderr[-2000:]
    for sample in ("crop_1", "crop_2"):
        a = (cwd / "run1" / sample / "cells.csv").read_bytes()
        b = (cwd / "run2" / sample / "cells.csv").read_bytes()
        assert a == b


def test_mlflow_has_a_parent_run_and_a_child_per_patch(e2e, mlflow_uri):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(mlflow_uri)
    exp = client.get_experiment_by_name("e2e")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert len(parents) == 1 and sorted(r.data.params["sample_id"] for r in children) == ["crop_1", "crop_2"]
    assert 0 <= parents[0].data.metrics["nc_ratio.null_pvalue_nc_entropy"] <= 1
    assert parents[0].data.metrics["n_patches"] == 2
    child = children[0]
    assert child.data.params["model.alpha"] == "1.5" and child.data.params["optimizer.name"] == "pso"
    for key in ("penalty_radius", "penalty_z", "penalty_overlap", "n_nuclei", "n_violations",
                "optimize_seconds", "total_seconds"):
        assert key in child.data.metrics
    assert child.data.metrics["n_violations"] == 0
    fitness = client.get_metric_history(child.info.run_id, "fitness")
    assert [m.step for m in fitness] == list(range(len(fitness))) and len(fitness) >= 1
    artifacts = {a.path for a in client.list_artifacts(child.info.run_id)}
    assert {"cells.json", "cells.ply", "cells.csv"} <= artifacts


def test_multirun_sweeps_parameters(demo_crops, run_cli, mlflow_uri, tmp_path):
    # alpha and beta bound R in the paper's objective; the evidence objective reads R from the image
    result = run_cli(
        ["-m", f"input.image={demo_crops / 'crop_1.png'}", f"input.mask={demo_crops / 'crop_1_mask.png'}",
         "objective=cellsqueeze3d", "model.alpha=1.3,1.5", "model.beta=2.0,2.5", "mlflow.experiment=sweep",
         "progress=false", "analysis=[]", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    jobs = sorted(p for p in (tmp_path / "sweep").iterdir() if p.is_dir() and p.name.isdigit())
    assert len(jobs) == 4
    radii = []
    for job in jobs:
        cells = pd.read_csv(job / "crop_1" / "cells.csv")
        alpha = float([o for o in (job / ".hydra" / "overrides.yaml").read_text().split() if "alpha" in o][0].split("=")[1])
        assert (cells["R"] >= alpha * cells["r"] - 1e-9).all()
        radii.append(cells["R"].mean())
    assert len(set(np.round(radii, 6))) == 4
    client = MlflowClient(mlflow_uri)
    runs = client.search_runs([client.get_experiment_by_name("sweep").experiment_id])
    names = sorted(r.info.run_name for r in runs if "mlflow.parentRunId" not in r.data.tags)
    assert names == ["0 model.alpha=1.3,model.beta=2.0", "1 model.alpha=1.3,model.beta=2.5",
                     "2 model.alpha=1.5,model.beta=2.0", "3 model.alpha=1.5,model.beta=2.5"]


@pytest.mark.parametrize(
    "overrides,needle,code",
    [
        (["model.alpha=3.0", "model.beta=2.0"], "model.alpha=3.0 must be smaller than model.beta=2.0", 2),
        (["model.z_max=0"], "model.z_max=0", 2),
        (["input.image=missing.png"], "input.image: file not found", 2),
    ],
)
def test_bad_config_gives_one_line_and_nonzero_exit(run_cli, tmp_path, overrides, needle, code):
    mask = DEMO / "tcga_patch_1_nuclei_mask.png"
    result = run_cli([f"input.image={DEMO / 'tcga_patch_1.png'}", f"input.mask={mask}", *overrides,
                      f"hydra.run.dir={tmp_path / 'out'}"], tmp_path)
    assert result.returncode == code
    lines = result.stderr.strip().splitlines()
    assert lines == [f"cellframe: error: {lines[0].split('error: ', 1)[1]}"] and needle in lines[0]
    assert not list((tmp_path / "out").glob("*/cells.*"))


@pytest.mark.parametrize("override,needles", [
    ("optimizer=nosuch", ["Could not find 'optimizer/nosuch'", "available options in 'optimizer': deap_ga, pso"]),
    ("optimizer.swarm_size=lots", ["optimizer.swarm_size=lots", "could not be converted to Integer"]),
    ("model.alhpa=2", ["model.alhpa: not a setting (did you mean model.alpha?)"]),
])
def test_composition_errors_are_one_line_before_work(run_cli, tmp_path, override, needles):
    result = run_cli(["+pipeline=tcga_brca", override, f"hydra.run.dir={tmp_path / 'out'}"], tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cellframe: error: ")
    assert all(needle in lines[0] for needle in needles), lines[0]
    assert not (tmp_path / "out").exists()


def test_a_bad_patch_is_reported_and_the_others_still_run(demo_crops, run_cli, tmp_path):
    (tmp_path / "broken.png").write_text("not a png")
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"sample_id,image,mask\nbad,{tmp_path / 'broken.png'},{demo_crops / 'crop_1_mask.png'}\n"
                        f"good,{demo_crops / 'crop_1.png'},{demo_crops / 'crop_1_mask.png'}\n")
    result = run_cli([f"input.manifest={manifest}", "mlflow.enabled=false", "progress=false",
                      f"hydra.run.dir={tmp_path / 'out'}"], tmp_path)
    assert result.returncode == 1
    assert "patch bad" in result.stderr and "broken.png" in result.stderr
    assert (tmp_path / "out" / "good" / "cells.json").is_file()
    assert not (tmp_path / "out" / "bad").exists()
    summary = pd.read_csv(tmp_path / "out" / "summary.csv").set_index("sample_id")
    assert summary.loc["bad", "status"] == "failed" and "broken.png" in summary.loc["bad", "error"]
    assert summary.loc["good", "status"] == "done"


def test_a_failing_analysis_is_reported_after_the_patches(demo_crops, run_cli, mlflow_uri, tmp_path):
    tables = REPO / "data" / "downstream"  # these two share no patients: known only once the tables are joined
    result = run_cli([f"input.image={demo_crops / 'crop_1.png'}", f"input.mask={demo_crops / 'crop_1_mask.png'}",
                      "analysis=[survival]", f"analysis.survival.times={tables / 'survival_times.tsv'}",
                      f"analysis.survival.features={tables / 'survival_features.csv'}", "analysis.survival.feature=f1",
                      "mlflow.experiment=failing_analysis", "progress=false", f"hydra.run.dir={tmp_path / 'out'}"],
                     tmp_path)
    assert result.returncode == 1
    assert "cellframe: error: analysis survival: survival: the tables (61 and 36 patients) share 0" in result.stderr
    assert (tmp_path / "out" / "crop_1" / "cells.json").is_file()
    client = MlflowClient(mlflow_uri)
    runs = client.search_runs([client.get_experiment_by_name("failing_analysis").experiment_id])
    assert [r.info.status for r in runs if "mlflow.parentRunId" not in r.data.tags] == ["FAILED"]


def test_when_every_patch_fails_the_summary_still_has_its_header(run_cli, tmp_path):
    (tmp_path / "broken.png").write_text("not a png")
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"sample_id,image\nbad,{tmp_path / 'broken.png'}\n")
    result = run_cli([f"input.manifest={manifest}", "segmenter=hed_watershed", "mlflow.enabled=false",
                      "progress=false", f"hydra.run.dir={tmp_path / 'out'}"], tmp_path)
    assert result.returncode == 1
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert list(summary.columns[:3]) == ["sample_id", "status", "error"]
    assert summary["status"].tolist() == ["failed"] and "broken.png" in summary["error"].iloc[0]


def test_a_missing_analysis_input_and_a_typo_key_stop_the_run_before_any_patch(demo_crops, run_cli, tmp_path):
    common = [f"input.image={demo_crops / 'crop_1.png'}", f"input.mask={demo_crops / 'crop_1_mask.png'}",
              "mlflow.enabled=false", f"hydra.run.dir={tmp_path / 'out'}"]
    missing = run_cli([*common, "analysis=[survival]"], tmp_path)
    assert missing.returncode == 2 and missing.stderr.strip() == (
        "cellframe: error: analysis.survival.times: missing (give analysis.survival.times=PATH)")
    for typo in ("+model.zmax=10", "model.zmax=10"):  # Hydra's own advice for the second was the first
        done = run_cli([*common, typo], tmp_path)
        assert done.returncode == 2 and done.stderr.strip() == (
            "cellframe: error: model.zmax: not a setting (did you mean model.z_max?)"), done.stderr
    assert not (tmp_path / "out" / "crop_1").exists()


def test_third_party_plugin_is_listed_and_selectable(demo_crops, run_cli, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    make_distribution(site)
    env = {"PYTHONPATH": str(site)}
    listing = run_cli(["plugins"], tmp_path, env)
    assert listing.returncode == 0
    assert "cf_extra  (cf_extra 0.3.1" in listing.stdout and "optimizer:random_search" in listing.stdout
    result = run_cli([f"input.image={demo_crops / 'crop_2.png'}", f"input.mask={demo_crops / 'crop_2_mask.png'}",
                      "optimizer=random_search", "optimizer.rounds=3", "mlflow.enabled=false",
                      f"hydra.run.dir={tmp_path / 'out'}"], tmp_path, env)
    assert result.returncode == 0, result.stderr[-2000:]
    doc = json.loads((tmp_path / "out" / "crop_2" / "cells.json").read_text())
    assert len(doc["cells"]) > 20


def test_help_shows_the_commands_a_user_starts_from_and_the_stage_options(run_cli, tmp_path):
    result = run_cli(["--help"], tmp_path)
    assert result.returncode == 0
    assert "python -m cellframe input.image=he.png segmenter=hed_watershed" in result.stdout
    assert "+pipeline=wsi input.slide=slide.svs" in result.stdout
    assert "segmenter: hed_watershed, hovernet, labels, mask, qupath" in result.stdout


def test_an_older_folder_store_in_the_working_directory_still_records_the_run(demo_crops, run_cli, tmp_path):
    """MLflow's default is ./mlruns as a folder store where one exists without mlflow.db (an older
    cellframe's or MLflow's), which MLflow 3.17 refuses: the run records there, with a warning."""
    args = [f"input.manifest={demo_crops / 'manifest.csv'}", "input.max_patches=1", "progress=false",
            "analysis=[]", "exporter=[json]", "optimizer.iterations=5"]
    first = run_cli([*args, f"mlflow.tracking_uri={tmp_path / 'mlruns'}", f"output_dir={tmp_path / 'a'}"], tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    assert not (tmp_path / "mlflow.db").exists() and any((tmp_path / "mlruns").iterdir())
    second = run_cli([*args, f"output_dir={tmp_path / 'b'}"], tmp_path, extra_env={"MLFLOW_TRACKING_URI": ""})
    assert second.returncode == 0, second.stderr[-2000:]
    assert "a folder store" in second.stdout + second.stderr and not (tmp_path / "mlflow.db").exists()
