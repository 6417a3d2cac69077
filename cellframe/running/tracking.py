"""MLflow: a parent run per invocation, a child run per patch. Only the driver logs."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from omegaconf import DictConfig, OmegaConf

from cellframe.model.reconstruction import Reconstruction
from cellframe.running.state import FOLDER as STATE_FOLDER, MARKER

log = logging.getLogger("cellframe")

#: set by the run's signal handler (SIGTERM): the parent run then ends KILLED, whatever exception
#: the signal turned into on its way out (it may land inside a library that wraps it)
interrupted = threading.Event()


def flatten(cfg: DictConfig) -> dict[str, str]:
    """``{"model.alpha": "1.5", ...}`` for every leaf of a config."""
    out: dict[str, str] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}.{key}" if prefix else str(key))
        else:
            out[prefix] = str(node)[:6000]

    walk(OmegaConf.to_container(cfg, resolve=True), "")
    return out


def allow_folder_store(uri: str) -> None:
    """Where ``uri`` is a folder (``mlruns``, ``file:///...``), use it, with a warning: recent MLflow (3.17
    measured) refuses folder stores unless ``MLFLOW_ALLOW_FILE_STORE`` is set (they are in maintenance mode;
    on a cluster's shared disk a folder can still be the safer store than sqlite)."""
    from urllib.parse import urlparse

    scheme = urlparse(uri).scheme
    if len(scheme) > 1 and scheme != "file":  # one letter: a Windows drive
        return
    if os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true").lower() == "true":
        log.warning("mlflow.tracking_uri=%s: a folder store, which MLflow keeps in maintenance mode; "
                    "sqlite:///FILE.db or a server gets MLflow's newer features", uri)


class Tracker:
    """Logs runs to MLflow; does nothing when ``mlflow.enabled`` is false."""

    def __init__(self, settings: Any) -> None:
        self.enabled = bool(settings.enabled)
        self.settings = settings
        self._mlflow = None
        #: how the parent run ends when its block finishes normally (FAILED when something failed)
        self.status = "FINISHED"

    def end_stale_runs(self, output_dir: str) -> int:
        """Mark KILLED the runs a killed process left RUNNING in ``output_dir`` (the caller holds its
        lock, so nobody else is running there); returns how many."""
        mlflow = self._client()
        client = mlflow.tracking.MlflowClient()
        experiment = mlflow.get_experiment_by_name(self.settings.experiment)
        if experiment is None:
            return 0
        query = f"tags.`cellframe.output_dir` = '{output_dir}' and attributes.status = 'RUNNING'"
        stale = client.search_runs([experiment.experiment_id], filter_string=query)
        for run in stale:
            for child in client.search_runs([experiment.experiment_id],
                                            filter_string=f"tags.`mlflow.parentRunId` = '{run.info.run_id}' "
                                                          f"and attributes.status = 'RUNNING'"):
                client.set_terminated(child.info.run_id, "KILLED")
            client.set_terminated(run.info.run_id, "KILLED")
        return len(stale)

    def check(self) -> None:
        """Before any work: a tracking server that does not answer within ``mlflow.timeout`` is a
        one-line ConfigError (instead of minutes of retries once the patches are done)."""
        from urllib.parse import urlparse

        uri = self.settings.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
        if not self.enabled or not uri or urlparse(uri).scheme not in ("http", "https"):
            return
        import urllib.error
        import urllib.request

        from cellframe.config import ConfigError

        try:
            urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=float(self.settings.timeout)).close()
        except urllib.error.HTTPError:
            return  # it answered
        except (OSError, ValueError) as exc:
            raise ConfigError(f"mlflow.tracking_uri={uri}: no answer within {self.settings.timeout:g} s "
                              f"({getattr(exc, 'reason', exc)}); start the server or set mlflow.enabled=false") from None

    def _client(self):
        if self._mlflow is None:
            import mlflow

            uri = self.settings.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
            if uri:
                allow_folder_store(uri)
                mlflow.set_tracking_uri(uri)
            else:  # MLflow's own default is a folder where ./mlruns exists without mlflow.db (an older store)
                allow_folder_store(mlflow.get_tracking_uri())
            # a server that stops answering mid-run fails in seconds, not after minutes of retries
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(self.settings.timeout)))
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
            mlflow.set_experiment(self.settings.experiment)
            self._mlflow = mlflow
        return self._mlflow

    @contextlib.contextmanager
    def parent(self, cfg: DictConfig, run_name: str, output_dir: Path | None = None) -> Iterator[str | None]:
        """The run's parent MLflow run; it ends as :attr:`status`, FAILED on an error, KILLED on a signal."""
        if not self.enabled:
            yield None
            return
        mlflow = self._client()
        if output_dir is not None:
            self.end_stale_runs(str(output_dir))
        run = mlflow.start_run(run_name=run_name, tags={"cellframe.output_dir": str(output_dir or "")})
        status = "FAILED"
        try:
            mlflow.log_params(flatten(cfg))
            mlflow.log_text(OmegaConf.to_yaml(cfg, resolve=True), "config.yaml")
            yield run.info.run_id
            status = self.status
        except (KeyboardInterrupt, SystemExit):
            status = "KILLED"
            raise
        finally:
            mlflow.end_run("KILLED" if interrupted.is_set() else status)

    def log_patch(self, cfg: DictConfig, rec: Reconstruction, outdir: Path) -> str | None:
        """A child run: config params, penalty terms, counts, timings, the fitness series, outputs."""
        if not self.enabled:
            return None
        mlflow = self._client()
        from mlflow.entities import Metric

        with mlflow.start_run(run_name=rec.sample_id, nested=True) as run:
            mlflow.log_params(flatten(cfg) | {"sample_id": rec.sample_id})
            metrics = {f"penalty_{k}": v for k, v in rec.penalties.items()}
            metrics |= {
                "n_nuclei": rec.geometry.n,
                "n_violations": rec.n_violations,
                "n_candidate_pairs": len(rec.geometry.pairs),
                "n_searched": rec.optimizer.get("n_searched", 0),
                "n_repaired_components": rec.optimizer.get("n_repaired", 0),
                "iterations": max(len(rec.history) - 1, 0),
                "iterations_to_feasible": rec.iterations_to_feasible,
                "evaluations": rec.optimizer.get("evaluations", 0),
            }
            metrics |= rec.feasibility_summary()
            metrics |= rec.segmentation
            metrics |= rec.evidence
            metrics |= rec.timings
            mlflow.log_metrics(metrics)
            now = int(time.time() * 1000)
            series = [Metric("fitness", float(v), now, step) for step, v in enumerate(rec.history)]
            client = mlflow.tracking.MlflowClient()
            for start in range(0, len(series), 1000):
                client.log_batch(run.info.run_id, metrics=series[start : start + 1000])
            for item in sorted(Path(outdir).iterdir()):  # the outputs; resume state stays local
                if item.name in (STATE_FOLDER, MARKER):
                    continue
                if item.is_dir():
                    mlflow.log_artifacts(str(item), artifact_path=item.name)
                else:
                    mlflow.log_artifact(str(item))
            return run.info.run_id

    def log_analysis(self, key: str, metrics: dict[str, float], folder: Path) -> None:
        """An analysis' metrics (as ``<key>.<metric>``) and files, on the parent run."""
        if not self.enabled:
            return
        mlflow = self._client()
        mlflow.log_metrics({f"{key}.{k}": float(v) for k, v in metrics.items()})
        mlflow.log_artifacts(str(folder), artifact_path=f"analysis/{key}")

    def log_files(self, paths: list[Path], artifact_path: str) -> None:
        """Files of the whole run (e.g. a slide's merged cells), on the parent run."""
        if self.enabled:
            mlflow = self._client()
            for path in paths:
                mlflow.log_artifact(str(path), artifact_path=artifact_path)

    def log_summary(self, metrics: dict[str, float]) -> None:
        if self.enabled:
            self._client().log_metrics(metrics)
