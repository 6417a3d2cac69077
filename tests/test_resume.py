"""Runs at scale: executors agree, a killed run resumes to identical outputs, bad patches are isolated."""

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from conftest import write_crops


@pytest.fixture(scope="module")
def many_crops(tmp_path_factory):
    """Eight 250 px crops of the demo patches, with a manifest."""
    crops = [(f"c{k}", 1 + k % 2, 250 * (k // 4), 250 * (k % 4), 250) for k in range(8)]
    return write_crops(tmp_path_factory.mktemp("many"), crops)


COMMON = ["mlflow.enabled=false", "progress=false", "exporter=[json,table]", "analysis=[nc_ratio]", "analysis.nc_ratio.draws=19",
          "seed=3"]


def outputs(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("cells.*"))} | {
        "nc_ratio.csv": (folder / "analysis" / "nc_ratio" / "nc_ratio.csv").read_bytes(),
        "summary": pd.read_csv(folder / "summary.csv").drop(columns=["optimize_seconds", "total_seconds"]).to_csv()}


@pytest.fixture(scope="module")
def reference(many_crops, run_cli, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "out"
    result = run_cli([f"input.manifest={many_crops / 'manifest.csv'}", "executor.name=serial", *COMMON,
                      f"hydra.run.dir={out}"], out.parent)
    assert result.returncode == 0, result.stderr[-2000:]
    return out


def test_process_pool_gives_the_same_outputs_as_serial(many_crops, run_cli, reference, tmp_path):
    out = tmp_path / "out"
    result = run_cli([f"input.manifest={many_crops / 'manifest.csv'}", "executor.name=process", "executor.workers=2",
                      *COMMON, f"hydra.run.dir={out}"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert outputs(out) == outputs(reference)


def test_a_killed_run_resumes_to_identical_outputs(many_crops, reference, mlflow_uri, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "cellframe", f"input.manifest={many_crops / 'manifest.csv'}", "executor.name=serial",
           *COMMON, f"hydra.run.dir={out}"]
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_uri}
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("*/.cellframe-done.json"))) < 3:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(list(out.glob("*/.cellframe-done.json")))
    assert 3 <= done_before < 8, "the run was not killed mid-way"
    assert not (out / "summary.csv").exists()
    result = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"resumed: {done_before} finished patches" in result.stderr + result.stdout
    assert outputs(out) == outputs(reference)
    assert not list(out.rglob("*.part"))


def test_a_changed_config_redoes_the_patches(many_crops, run_cli, reference, tmp_path):
    import shutil

    out = tmp_path / "out"
    shutil.copytree(reference, out)  # a finished run of the same manifest and config
    base = [f"input.manifest={many_crops / 'manifest.csv'}", "executor.name=serial", *COMMON, f"hydra.run.dir={out}"]
    again = run_cli([*base, "model.z_max=30"], tmp_path)
    assert again.returncode == 0 and "resumed" not in again.stderr + again.stdout
    cells = pd.read_csv(out / "c0" / "cells.csv")
    assert cells["z"].max() <= 30


def test_dask_executor_gives_the_same_outputs(many_crops, run_cli, reference, tmp_path):
    out = tmp_path / "out"
    result = run_cli([f"input.manifest={many_crops / 'manifest.csv'}", "executor.name=dask", "executor.workers=2",
                      *COMMON, f"hydra.run.dir={out}"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert outputs(out) == outputs(reference)


def test_multirun_with_the_joblib_launcher(many_crops, run_cli, tmp_path):
    result = run_cli(["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                      f"input.image={many_crops / 'c1.png'}", f"input.mask={many_crops / 'c1_mask.png'}",
                      "model.alpha=1.3,1.6", "mlflow.enabled=false", "progress=false", "analysis=[]",
                      f"hydra.sweep.dir={tmp_path / 'sweep'}"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    for job, alpha in (("0", 1.3), ("1", 1.6)):
        cells = pd.read_csv(tmp_path / "sweep" / job / "c1" / "cells.csv")
        assert (cells["R"] >= alpha * cells["r"] - 1e-9).all()


def pool_run_until(many_crops, mlflow_uri, tmp_path, experiment: str, finished: int, manifest: str = "manifest.csv",
                   extra: tuple = ()):
    """Start a 2-worker process-pool run with MLflow on, and wait until ``finished`` patches are done.

    :return: the command, its environment, its output folder, the driver process and its workers.
    """
    import psutil

    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "cellframe", f"input.manifest={many_crops / manifest}", "executor.name=process",
           "executor.workers=2", *[c for c in COMMON if not c.startswith("mlflow")], "mlflow.enabled=true",
           f"mlflow.experiment={experiment}", f"hydra.run.dir={out}", *extra]
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_uri}
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("*/.cellframe-done.json"))) < finished:
        time.sleep(0.05)
    return cmd, env, out, proc, psutil.Process(proc.pid).children(recursive=True)


def parent_statuses(mlflow_uri, experiment: str) -> list[str]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(mlflow_uri)
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    return sorted(r.info.status for r in runs if "mlflow.parentRunId" not in r.data.tags)


def test_sigterm_stops_the_workers_and_marks_mlflow_killed(many_crops, tmp_path):
    import psutil

    # a store of its own: another connection's open transaction on the session's sqlite store can hold
    # the driver in sqlite's busy wait, where no signal handler runs
    mlflow_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    # the eight crops five times over, each patch slowed by 8x the space-filling points; the signal comes as soon
    # as the first patch is done
    crops = pd.read_csv(many_crops / "manifest.csv")
    pd.concat([crops.assign(sample_id=crops["sample_id"] + f"_{k}") for k in range(5)]).to_csv(
        many_crops / "long.csv", index=False)
    cmd, env, out, proc, workers = pool_run_until(many_crops, mlflow_uri, tmp_path, "sigterm", finished=1,
                                                  manifest="long.csv", extra=["objective.points=1024"])
    proc.send_signal(signal.SIGTERM)
    signalled, done_then = time.perf_counter(), len(list(out.glob("*/.cellframe-done.json")))
    assert workers, "no worker processes"
    assert proc.wait(timeout=60) != 0
    took = time.perf_counter() - signalled
    gone, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive, f"{len(alive)} workers outlived the driver"
    assert parent_statuses(mlflow_uri, "sigterm") == ["KILLED"]
    # the patches running at the signal are ended, not finished, and the queued ones never start
    done = len(list(out.glob("*/.cellframe-done.json")))
    assert done <= done_then + 4 and not (out / "summary.csv").exists(), (
        f"{done_then} patches done at the signal, {done} when the driver exited {took:.1f} s later")


def test_a_run_folder_in_use_by_another_process_is_refused(many_crops, run_cli, tmp_path):
    from filelock import FileLock

    out = tmp_path / "out"
    out.mkdir()
    # the lock a running cellframe process holds, held here by this test's process
    with FileLock(out / ".cellframe.lock"):
        second = run_cli([f"input.manifest={many_crops / 'manifest.csv'}", *COMMON, f"hydra.run.dir={out}"], tmp_path)
    assert second.returncode == 2 and "is in use by another cellframe run" in second.stderr
    assert second.stderr.strip().count("\n") == 0, second.stderr
    assert not list(out.glob("*/cells.*"))


def test_sigkill_of_a_process_pool_run_leaves_no_worker_and_resumes_to_identical_outputs(many_crops, reference,
                                                                                           mlflow_uri, tmp_path):
    import psutil
    from mlflow.tracking import MlflowClient

    cmd, env, out, proc, workers = pool_run_until(many_crops, mlflow_uri, tmp_path, "sigkill", finished=2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    gone, alive = psutil.wait_procs(workers, timeout=10)
    assert workers and not alive, f"{len(alive)} workers outlived the killed driver"
    result = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert outputs(out) == outputs(reference)
    # the killed run's parent, found RUNNING, was ended by the next run; no run is left RUNNING
    assert parent_statuses(mlflow_uri, "sigkill") == ["FINISHED", "KILLED"]
    client = MlflowClient(mlflow_uri)
    assert not client.search_runs([client.get_experiment_by_name("sigkill").experiment_id],
                                  filter_string="attributes.status = 'RUNNING'")


def test_the_local_dask_workers_keep_glibc_s_own_trim_threshold():
    """Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in its workers: a patch there took 1.8x as long
    (every large numpy temporary mapped afresh). The run's LocalCluster leaves it out, and keeps the rest."""
    import os

    from distributed import Client

    from cellframe.running.executors import local_cluster

    with local_cluster(1) as cluster, Client(cluster) as client:
        env = next(iter(client.run(lambda: {k: os.environ.get(k) for k in ("MALLOC_TRIM_THRESHOLD_",
                                                                             "OMP_NUM_THREADS")}).values()))
    assert env == {"MALLOC_TRIM_THRESHOLD_": None, "OMP_NUM_THREADS": "1"}
