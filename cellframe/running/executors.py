"""Where patches run: in this process, in a local process pool, or on a Dask cluster.

Workers get patch specs (paths, offsets, config), never pixels, and return
reconstructions; only the driver talks to MLflow. Every finished patch leaves a
marker; a run restarted into the same output folder with the same config skips
the patches that have one and redoes the rest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import traceback
from concurrent.futures import as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from omegaconf import DictConfig, OmegaConf

from cellframe.config import PatchSpec, RunPlan
from cellframe.io.files import InputError, child_path, write_text
from cellframe.model.reconstruction import Reconstruction
from cellframe.parallel import running_pool
from cellframe.registry import PluginError, Registry, StageFailure
from cellframe.stages import StageError
from cellframe.running.patch_logging import in_patch
from cellframe.running.state import MARKER, arrays_file, load_state, save_state

log = logging.getLogger("cellframe")

#: config keys that do not change a patch's outputs
RUNTIME_KEYS = ("progress", "mlflow", "executor", "resume", "output_dir", "analysis")


@dataclass
class PatchOutcome:
    spec: PatchSpec
    rec: Reconstruction | None = None
    error: str | None = None
    resumed: bool = False


def versions() -> dict[str, str]:
    """cellframe's version and that of every installed distribution providing cellframe plugins."""
    from importlib.metadata import entry_points

    from cellframe import __version__

    found = {"cellframe": __version__}
    for ep in entry_points(group="cellframe"):
        if ep.dist is not None:
            found[ep.dist.name] = ep.dist.version
    return found


def config_digest(cfg: DictConfig) -> str:
    """A digest of everything in the config that shapes a patch's outputs, and of the versions of
    cellframe and its plugins (a new version recomputes rather than trusting old outputs)."""
    data = OmegaConf.to_container(cfg, resolve=True)
    for key in RUNTIME_KEYS:
        data.pop(key, None)
    data["_versions"] = versions()
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def finished(folder: Path, digest: str, rebuild_geometry) -> Reconstruction | None:
    """The saved reconstruction of a patch finished with the same config and versions, else None."""
    try:
        marker = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("digest") != digest:
        return None
    return load_state(folder, digest, rebuild_geometry)


def attempt(work: Callable, spec: PatchSpec, plan: RunPlan, cfg: DictConfig, outdir: Path, digest: str,
            registry: Registry | None = None) -> PatchOutcome:
    """Run one patch (or pick up its finished result); never raises.

    ``work``: what runs a patch, ``work(spec, plan, registry, outdir) -> Reconstruction``
    (:func:`cellframe.running.pipeline.run_patch`); ``registry``: the driver's, in this process; worker
    processes load the installed plugins.
    """
    from cellframe.registry import default_registry

    try:
        folder = child_path(outdir, spec.sample_id)
    except InputError as exc:
        return PatchOutcome(spec, error=str(exc))
    registry = registry or default_registry()
    if cfg.get("resume", True):
        rec = finished(folder, digest, lambda nuclei: registry.call(
            "geometry", plan.geometry.name, nuclei=nuclei, model=plan.model, settings=plan.geometry))
        if rec is not None:
            return PatchOutcome(spec, rec, resumed=True)
    try:
        with in_patch(spec.sample_id):
            rec = work(spec, plan, registry, outdir)
    except (InputError, StageError, StageFailure, PluginError) as exc:
        if isinstance(exc, StageFailure) and os.environ.get("CELLFRAME_DEBUG"):
            log.error("patch %s failed:\n%s", spec.sample_id, traceback.format_exc())
        return PatchOutcome(spec, error=str(exc))
    except Exception as exc:  # a bug in the core must not stop the other patches
        log.error("patch %s failed:\n%s", spec.sample_id, traceback.format_exc())
        return PatchOutcome(spec, error=f"{type(exc).__name__}: {exc}")
    save_state(rec, folder, digest)
    write_text(folder / MARKER, json.dumps({"digest": digest, "sample_id": spec.sample_id}))  # written last
    rec.keep_on_disk(arrays_file(folder))  # the label image and tissue mask stay in the state, not sent back
    return PatchOutcome(spec, rec)


def choose(settings, n_patches: int) -> str:
    name = settings.name
    if name == "auto":
        return "serial" if n_patches <= 1 or pool_width(settings) <= 1 else "process"
    return name


def pool_width(settings) -> int:
    """``executor.workers``, or every core this process may run on (CPU affinity: taskset, SLURM)."""
    from cellframe.parallel import available_cpus

    return int(settings.workers or available_cpus())


def processes(settings, n_patches: int) -> int:
    """How many processes the executor runs the patches in (1 when serial); the driver's own work
    after the patches uses as many."""
    return 1 if choose(settings, n_patches) == "serial" else pool_width(settings)


def local_cluster(workers: int):
    """A Dask LocalCluster of ``workers`` single-threaded worker processes, without the nanny's
    ``MALLOC_TRIM_THRESHOLD_=65536``: it hands freed memory back at once, so every large numpy temporary
    is mapped afresh, and a patch took 1.8x as long (``benchmarks/throughput.py``)."""
    import dask
    from distributed import LocalCluster

    environ = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ", {}).items()
               if k != "MALLOC_TRIM_THRESHOLD_"}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)


def execute(work: Callable, plan: RunPlan, cfg: DictConfig, outdir: Path, registry: Registry) -> Iterator[PatchOutcome]:
    """Run every patch of a plan with ``work`` (see :func:`attempt`) on the configured executor
    (``executor.name``, one of :data:`cellframe.config.EXECUTORS`); outcomes arrive as patches finish."""
    settings = cfg.executor
    digest = config_digest(cfg)
    name = choose(settings, len(plan.patches))
    workers = pool_width(settings)
    # each task carries its own patch: the plan sent with it leaves out the others (a slide's thousands
    # of patch specs would be pickled with every task, and could fill the pipe to a worker)
    sent = dataclasses.replace(plan, patches=[])
    if name == "serial":
        for spec in plan.patches:
            yield attempt(work, spec, plan, cfg, outdir, digest, registry)
    elif name == "process":
        with running_pool(workers) as pool:  # on a signal or an error in the driver, no patch outlives the run
            futures = [pool.submit(attempt, work, spec, sent, cfg, outdir, digest) for spec in plan.patches]
            for future in as_completed(futures):
                yield future.result()
    else:  # "dask" (names are checked once, by cellframe.config.validate)
        from distributed import Client, as_completed as dask_completed

        cluster = None if settings.address else local_cluster(workers)
        try:
            with Client(settings.address or cluster) as client:
                futures = [client.submit(attempt, work, spec, sent, cfg, outdir, digest, pure=False)
                           for spec in plan.patches]
                for future in dask_completed(futures):
                    yield future.result()
        finally:
            if cluster is not None:
                cluster.close()
