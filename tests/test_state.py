"""Resume state is plain data: it round-trips, and nothing crafted or damaged is trusted."""

import json
import pickle

import numpy as np
import pandas as pd
import pytest

from cellframe.config import validate
from cellframe.running.executors import attempt, config_digest, finished
from cellframe.running.state import FOLDER, MARKER

from conftest import DEMO


@pytest.fixture(scope="module")
def run(registry, compose_cfg, tmp_path_factory):
    from skimage import io

    folder = tmp_path_factory.mktemp("state")
    io.imsave(folder / "i.png", io.imread(DEMO / "tcga_patch_1.png")[300:500, 300:500, :3], check_contrast=False)
    io.imsave(folder / "m.png", io.imread(DEMO / "tcga_patch_1_nuclei_mask.png")[300:500, 300:500], check_contrast=False)
    cfg = compose_cfg(f"input.image={folder / 'i.png'}", f"input.mask={folder / 'm.png'}", "mlflow.enabled=false")
    plan = validate(cfg, registry)
    outdir = folder / "out"
    from cellframe.running.pipeline import run_patch

    outcome = attempt(run_patch, plan.patches[0], plan, cfg, outdir, config_digest(cfg), registry)
    assert outcome.error is None and not outcome.resumed
    return cfg, plan, outdir / plan.patches[0].sample_id, outcome.rec


def rebuild(registry, plan):
    return lambda nuclei: registry.call("geometry", plan.geometry.name, nuclei=nuclei, model=plan.model,
                                        settings=plan.geometry)


def test_state_round_trips_to_the_same_cells(registry, run):
    cfg, plan, folder, rec = run
    back = finished(folder, config_digest(cfg), rebuild(registry, plan))
    assert back is not None
    pd.testing.assert_frame_equal(back.cells, rec.cells)
    assert np.array_equal(back.x, rec.x) and back.penalties == rec.penalties
    assert not list(folder.rglob("*.pkl"))
    assert all(p.suffix in (".json", ".parquet", ".npz") for p in (folder / FOLDER).iterdir())


def test_label_images_stay_on_disk_until_read(registry, run):
    """A slide run's driver holds no patch's label image or tissue: they are read back when used."""
    import dataclasses

    from cellframe.running.state import arrays_file

    cfg, plan, folder, rec = run
    kept = dataclasses.replace(rec)
    labels, tissue, cells = rec.labels, rec.tissue, rec.cells
    assert labels is not None and tissue is not None
    kept.__dict__["cells"] = cells
    kept.keep_on_disk(arrays_file(folder))
    assert kept.__dict__["labels"] is None and kept.__dict__["tissue"] is None and "sections" not in kept.__dict__
    assert np.array_equal(kept.labels, labels) and np.array_equal(kept.tissue, tissue)
    assert kept.__dict__["labels"] is None  # read, not kept
    again = pickle.loads(pickle.dumps(kept))
    assert np.array_equal(again.labels, labels) and again.cells.equals(cells)
    back = finished(folder, config_digest(cfg), rebuild(registry, plan))
    assert back.__dict__["labels"] is None and np.array_equal(back.labels, labels)
    assert [len(p) for p in back.sections] == [len(p) for p in rec.sections]


def test_a_crafted_pickle_is_never_loaded(registry, run, tmp_path):
    cfg, plan, folder, rec = run
    import shutil

    copy = tmp_path / "p"
    shutil.copytree(folder, copy)

    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('pickle ran')",))

    (copy / FOLDER / "arrays.npz").write_bytes(pickle.dumps(Boom()))
    assert finished(copy, config_digest(cfg), rebuild(registry, plan)) is None  # hash mismatch: recomputed


def test_damaged_or_foreign_state_is_ignored(registry, run, tmp_path):
    cfg, plan, folder, rec = run
    import shutil

    digest = config_digest(cfg)
    for damage in ("digest", "json", "table", "missing"):
        copy = tmp_path / damage
        shutil.copytree(folder, copy)
        state = copy / FOLDER / "state.json"
        if damage == "digest":
            (copy / MARKER).write_text(json.dumps({"digest": "other"}))
        elif damage == "json":
            state.write_text("[1, 2")
        elif damage == "table":
            (copy / FOLDER / "nuclei.parquet").write_bytes(b"not parquet")
        else:
            (copy / FOLDER / "arrays.npz").unlink()
        assert finished(copy, digest, rebuild(registry, plan)) is None, damage


def test_the_digest_covers_the_versions(compose_cfg, monkeypatch):
    import cellframe.running.executors as executors

    cfg = compose_cfg(f"input.image={DEMO / 'tcga_patch_1.png'}")
    before = config_digest(cfg)
    monkeypatch.setattr(executors, "versions", lambda: {"cellframe": "99.0"})
    assert config_digest(cfg) != before


def test_runs_a_killed_process_left_running_are_marked_killed(mlflow_uri, tmp_path):
    from mlflow.tracking import MlflowClient

    from cellframe.config import MlflowConfig
    from cellframe.running.tracking import Tracker

    import os

    os.environ["MLFLOW_TRACKING_URI"] = mlflow_uri
    client = MlflowClient(mlflow_uri)
    experiment = client.get_experiment_by_name("stale") or client.get_experiment(client.create_experiment("stale"))
    folder = str(tmp_path / "run")
    stale = client.create_run(experiment.experiment_id, tags={"cellframe.output_dir": folder})
    other = client.create_run(experiment.experiment_id, tags={"cellframe.output_dir": str(tmp_path / "elsewhere")})
    tracker = Tracker(MlflowConfig(tracking_uri=mlflow_uri, experiment="stale"))
    assert tracker.end_stale_runs(folder) == 1
    assert client.get_run(stale.info.run_id).info.status == "KILLED"
    assert client.get_run(other.info.run_id).info.status == "RUNNING"


def test_a_folder_tracking_store_the_user_names_is_used_with_a_warning(tmp_path, monkeypatch, caplog):
    """MLflow 3.17 refuses folder stores unless MLFLOW_ALLOW_FILE_STORE is set: a folder the user names
    (an HPC shared disk, an old ``mlruns``) still records the run, with a warning, not a traceback."""
    import mlflow
    from mlflow.tracking import MlflowClient
    from omegaconf import OmegaConf

    from cellframe.config import MlflowConfig
    from cellframe.running.tracking import Tracker

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "unset")
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")
    previous = mlflow.get_tracking_uri()
    folder = tmp_path / "mlruns"
    try:
        tracker = Tracker(MlflowConfig(tracking_uri=str(folder), experiment="folder"))
        with caplog.at_level("WARNING", logger="cellframe"), tracker.parent(OmegaConf.create({"seed": 3}), "x") as run_id:
            pass
        run = MlflowClient(folder.as_uri()).get_run(run_id)
    finally:
        mlflow.set_tracking_uri(previous)
    assert run.info.status == "FINISHED" and run.data.params["seed"] == "3"
    assert (folder / run.info.experiment_id / run_id).is_dir()
    assert "a folder store" in caplog.text
