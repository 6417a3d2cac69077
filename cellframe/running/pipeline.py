"""A run: validate the config, reconstruct every patch, export, track."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import signal
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from cellframe.stats.analysis import AnalysisError
from cellframe.stats.cohort import patient_id, seed_for
from cellframe.config import ConfigError, PatchSpec, RunPlan, validate
from cellframe.running.executors import execute, processes
from cellframe.io.files import (InputError, as_rgb, atomic_path, child_path, colourless, read_image,
                                recorded_mpp, write_text)
from cellframe.io.nuclei import check_nuclei_table, mask_plane
from cellframe.io.qupath import write_collection
from cellframe.stats.plots import convergence_plot
from cellframe.model.reconstruct import reconstruct
from cellframe.model.reconstruction import Reconstruction
from cellframe.registry import PluginError, Registry, StageFailure
from cellframe.io.slides import read_region
from cellframe.running.unlisted import check_outlines
from cellframe.stages import StageError
from cellframe.running.tracking import Tracker, interrupted

log = logging.getLogger("cellframe")


def sample_spread(runs: list[Reconstruction]) -> pd.DataFrame:
    """Mean and standard deviation over independent reconstructions of each cell parameter."""
    params = [run.geometry.unpack(run.x) for run in runs]
    out = {}
    for name in runs[0].geometry.param_names:
        stack = np.stack([p[name] for p in params])
        out[f"{name}_mean"], out[f"{name}_sd"] = stack.mean(axis=0), stack.std(axis=0)
    return pd.DataFrame(out)


#: input.mask files read as images (``.npy``: a NumPy label array or Cellpose's ``*_seg.npy``); anything else
#: (JSON, GeoJSON) is left to the segmenter
IMAGE_SUFFIXES = {".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp", ".gif", ".npy"}


_mpp_warned: set[tuple[float, float]] = set()


def _check_recorded_mpp(path: Path, mpp: float) -> None:
    """A warning (once per pixel size, per process) where an image records a pixel size 10 % or more
    from ``input.mpp``: every size in microns (segmentation, halo, priors) follows input.mpp."""
    recorded = recorded_mpp(path)
    if recorded is None or abs(recorded / mpp - 1) < 0.1 or (round(recorded, 4), mpp) in _mpp_warned:
        return
    _mpp_warned.add((round(recorded, 4), mpp))
    log.warning("image %s records %.3g um/px but is read at input.mpp=%g: sizes in microns follow input.mpp; "
                "set input.mpp=%.3g if the file is right", path, recorded, mpp, recorded)


def load_patch(spec: PatchSpec, max_pixels: int | None = None,
               mpp: float | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a patch's image (as RGB uint8) and, when it is an image, its mask (2D), checking they fit
    (and, given ``max_pixels``, that neither is larger; given the run's ``mpp``, warning where the file
    records another pixel size)."""
    if spec.region is not None:
        return read_region(spec.region), None
    image = as_rgb(read_image(spec.image, "image", max_pixels), spec.image)
    if mpp:
        _check_recorded_mpp(spec.image, mpp)
    if colourless(image):
        log.warning("image %s is grey: segmentation and the depth evidence, which read haematoxylin from H&E "
                    "colour, get it from darkness alone", spec.image)
    if spec.mask is None or spec.mask.suffix.lower() not in IMAGE_SUFFIXES:
        return image, None
    mask = mask_plane(read_image(spec.mask, "mask", max_pixels), spec.mask)
    if mask.ndim != 2:
        raise InputError(f"mask {spec.mask} has shape {mask.shape}; expected a 2D image")
    if mask.shape != image.shape[:2]:
        raise InputError(f"mask {spec.mask} is {mask.shape[1]}x{mask.shape[0]} px but image {spec.image} is "
                         f"{image.shape[1]}x{image.shape[0]} px")
    return image, mask


def segment(registry: Registry, settings, image: np.ndarray | None, mask: np.ndarray | None = None,
            mask_path: Path | None = None, mpp: float = 0.25, source: str = "the image"):
    """Run a segmenter stage as a run does: the checked nuclei table, the label image if it kept one,
    and the counts it reported (``nuclei.attrs["counts"]``, e.g. objects rejected as not nuclei).

    Experiments and benchmarks call this too, so they see exactly the nuclei a run sees.
    """
    nuclei = registry.call("segmenter", settings.name, image=image, mask=mask, mask_path=mask_path, mpp=mpp,
                           settings=settings)
    labels = nuclei.attrs.pop("labels", None)
    counts = {str(k): int(v) for k, v in nuclei.attrs.pop("counts", {}).items()}
    nuclei = check_nuclei_table(nuclei, source)
    if nuclei.empty:
        raise InputError(f"{source}: no nuclei found")
    return nuclei, labels, counts


def run_patch(spec: PatchSpec, plan: RunPlan, registry: Registry, outdir: Path) -> Reconstruction:
    """Segment, reconstruct and export one patch into ``outdir/<sample_id>/``."""
    start = time.perf_counter()
    image, mask = load_patch(spec, plan.max_pixels, plan.mpp)
    nuclei, labels, counts = segment(registry, plan.segmenter, image, mask, spec.mask, plan.mpp,
                                     source=str(spec.mask or spec.image))
    unlisted = None
    if (plan.check_outlines and registry.stage("segmenter", plan.segmenter.name).needs_mask
            and registry.stage("objective", plan.objective.name).shares_space):
        found, unlisted = check_outlines(registry, image, labels, len(nuclei), plan.mpp,  # the log names the patch
                                         filled=plan.fill_unlisted)
        counts |= found
    samples = plan.samples

    def one(k: int) -> Reconstruction:
        return reconstruct(nuclei, registry=registry, model=plan.model, geometry=plan.geometry,
                           optimizer=plan.optimizer, objective=plan.objective, image=image, mpp=plan.mpp,
                           samples=samples, rng=seed_for(plan.seed, spec.sample_id, k), sample_id=spec.sample_id,
                           unlisted=unlisted if plan.fill_unlisted else None)

    rec = one(0)
    if rec.spread is None and samples > 1:  # the objective draws no posterior samples: independent runs instead
        rec.spread = sample_spread([rec] + [one(k) for k in range(1, samples)])
    rec.image_shape = tuple(image.shape)
    rec.labels = labels
    rec.segmentation = counts
    rec.source = {"image": str(spec.image), "mask": str(spec.mask) if spec.mask else ""}
    rec.region = spec.region
    # a slide's patches belong to the slide's patient (a TCGA slide is named by its barcode)
    rec.patient = spec.patient or patient_id(spec.region.slide.stem if spec.region is not None else spec.sample_id)
    patch_dir = child_path(outdir, spec.sample_id)
    patch_dir.mkdir(parents=True, exist_ok=True)
    for settings in plan.exporters.values():
        registry.call("exporter", settings.name, reconstruction=rec, outdir=patch_dir, settings=settings)
    if rec.feasibility is not None:
        with atomic_path(patch_dir / "components.csv") as tmp:
            rec.feasibility.to_csv(tmp, index=False)
        for row in rec.feasibility[rec.feasibility["feasible"] == False].itertuples():  # noqa: E712
            log.warning("%s: a cluster of %d nuclei needs %.1f px of depth, more than the %g px the objective "
                        "allows (model.z_max for cellsqueeze3d)", spec.sample_id, row.n_nuclei, row.needed_depth,
                        rec.depth_range[1] - rec.depth_range[0])
    if len(rec.history) and plan.convergence_plot:
        convergence_plot(rec.history, patch_dir / "convergence.png", f"{spec.sample_id}: {plan.optimizer.name}")
    rec.timings["total_seconds"] = time.perf_counter() - start
    return rec


def rejected_counts(counts: dict[str, int]) -> dict[str, int]:
    """Of a segmenter's ``segment_*`` counts, the objects each criterion dropped as not nuclei (by
    criterion, without the prefix; ``kept`` and ``pale``, the pale nuclei among those kept, are not
    rejections)."""
    return {k.removeprefix("segment_"): v for k, v in counts.items()
            if k not in ("segment_kept", "segment_pale", "unlisted") and v}


def _rejected(counts: dict[str, int]) -> str:
    """``; 12 objects dropped as not nuclei (not_convex: 11, ...)``, or nothing."""
    rejected = rejected_counts(counts)
    if not rejected:
        return ""
    return (f"; {sum(rejected.values())} objects dropped as not nuclei ("
            + ", ".join(f"{k}: {v}" for k, v in rejected.items()) + ")")


def summary_row(rec: Reconstruction) -> dict:
    """One patch's line in ``summary.csv``."""
    return {
        "sample_id": rec.sample_id,
        "status": "done",
        "error": "",
        "n_nuclei": rec.geometry.n,
        "n_owned": int(rec.owned.sum()),  # a slide patch's own, not its halo's: they sum to the slide's
        "n_violations": rec.n_violations,
        **{f"penalty_{k}": v for k, v in rec.penalties.items()},
        **rec.feasibility_summary(),
        **rec.segmentation,
        **rec.evidence,
        **rec.timings,
    }


#: slides of fewer patches have their GeoJSON built here: starting worker processes would cost more
MIN_PARALLEL_PATCHES = 16


def merge_slides(plan: RunPlan, registry: Registry, recs: list[Reconstruction], outdir: Path,
                 tracker: Tracker, workers: int = 1) -> None:
    """For slide runs: one table per slide, with seam clusters re-solved (:mod:`cellframe.running.seams`), and
    one QuPath GeoJSON of its cells in level-0 coordinates (in up to ``workers`` processes for a slide
    of :data:`MIN_PARALLEL_PATCHES` or more); both logged to MLflow."""
    from cellframe.running.seams import merge_slide

    slides: dict[str, list[Reconstruction]] = {}
    for rec in recs:
        if rec.region is not None:
            slides.setdefault(rec.region.slide.stem, []).append(rec)
    for slide_id, parts in slides.items():
        cells, stats, features = merge_slide(parts, registry=registry, model=plan.model, geometry=plan.geometry,
                                             optimizer=plan.optimizer, seed=plan.seed,
                                             workers=workers if len(parts) >= MIN_PARALLEL_PATCHES else 1)
        files = [outdir / f"{slide_id}_cells.{fmt}" for fmt in ("csv", "parquet", "geojson")]
        with atomic_path(files[0]) as tmp:
            cells.to_csv(tmp, index=False)
        with atomic_path(files[1]) as tmp:
            cells.to_parquet(tmp, index=False)
        write_collection(files[2], features)
        tracker.log_files(files, "slides")
        log.info("slide %s: %d cells from %d patches, %d duplicates dropped, %d seam clusters re-solved, "
                 "%d interpenetrating pairs", slide_id, stats["n_cells"], len(parts), stats["n_duplicates_dropped"],
                 stats["n_seam_clusters"], stats["n_violations"])
        tracker.log_summary({f"slide.{k}": v for k, v in stats.items()})


def run_analyses(plan: RunPlan, registry: Registry, recs: list[Reconstruction], outdir: Path,
                 tracker: Tracker) -> list[tuple[str, str]]:
    """Run each configured analysis on the run's reconstructions; returns the failures."""
    failures = []
    if plan.analyses and not recs:
        log.warning("no patch was reconstructed: analyses skipped")
        return failures
    for key, settings in plan.analyses.items():
        folder = outdir / "analysis" / key
        folder.mkdir(parents=True, exist_ok=True)
        try:
            metrics = registry.call("analysis", settings.name, reconstructions=recs, outdir=folder, settings=settings)
        except (AnalysisError, StageError, PluginError) as exc:
            if isinstance(exc, StageFailure) and os.environ.get("CELLFRAME_DEBUG"):
                log.error("analysis %s failed:\n%s", key, traceback.format_exc())
            failures.append((f"analysis {key}", str(exc)))
            log.error("analysis %s failed: %s", key, exc)
            continue
        log.info("analysis %s: %s", key, ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
        tracker.log_analysis(key, metrics, folder)
    return failures


def run(cfg: DictConfig, registry: Registry, outdir: Path, run_name: str | None = None) -> int:
    """Run every patch of a config. Returns 0, or 1 when some patch failed.

    ``run_name`` names the MLflow parent run (default: the output folder's name).

    Raises :class:`cellframe.config.ConfigError` before any work if the config is invalid or
    another run holds the output folder.
    """
    plan = validate(cfg, registry)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"output_dir={outdir}: cannot create the folder ({exc.strerror or exc})") from None
    Tracker(cfg.mlflow).check()
    with run_folder_lock(outdir), terminate_as_exit():
        return _run(cfg, plan, registry, outdir, run_name or outdir.name)


@contextlib.contextmanager
def run_folder_lock(outdir: Path):
    """Keep a second run out of a run folder in use (the lock goes with the process, even on SIGKILL)."""
    from filelock import FileLock, Timeout

    lock = FileLock(outdir / ".cellframe.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise ConfigError(f"output folder {outdir} is in use by another cellframe run (wait for it to end, "
                          f"or choose another output_dir)") from None
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def terminate_as_exit():
    """SIGTERM (a scheduler's cancel, ``kill``) unwinds like Ctrl-C: workers stopped, MLflow runs KILLED."""
    def stop(signum, frame):
        interrupted.set()
        raise SystemExit(128 + signum)

    interrupted.clear()

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def cut_slide_detections(plan: RunPlan, outdir: Path) -> None:
    """Slide patches whose mask is the slide's detections get their own share of them, written into
    their folders (:func:`cellframe.io.slide_detections.write_patch_detections`), as their mask."""
    from cellframe.io.slide_detections import patch_file, write_patch_detections

    groups: dict[Path, list[int]] = {}
    for k, spec in enumerate(plan.patches):
        if spec.region is not None and spec.mask is not None:
            groups.setdefault(spec.mask, []).append(k)
    marker = outdir / ".slide_detections.json"
    try:
        done = json.loads(marker.read_text())
    except (OSError, ValueError):
        done = {}
    for path, members in groups.items():
        start = time.perf_counter()
        specs = [plan.patches[k] for k in members]
        folders = [child_path(outdir, s.sample_id) for s in specs]
        stat = path.stat()
        # the same file, unchanged, cut for the same patches: a resumed run reuses the cut
        signature = [stat.st_size, stat.st_mtime_ns, hashlib.sha256(repr([s.region for s in specs]).encode()).hexdigest()]
        files = [patch_file(folder, path) for folder in folders]
        if done.get(str(path.resolve())) == signature and all(f.is_file() for f in files):
            log.info("slide detections %s: the cut of an earlier run of this folder, reused", path.name)
        else:
            try:
                files = write_patch_detections(path, [s.region for s in specs], folders)
            except InputError as exc:
                raise ConfigError(f"input.mask: {exc}") from None
            done[str(path.resolve())] = signature
            write_text(marker, json.dumps(done))
            log.info("slide detections %s cut into %d patches (%.1f s)", path.name, len(members),
                     time.perf_counter() - start)
        for k, spec, file in zip(members, specs, files):
            plan.patches[k] = dataclasses.replace(spec, mask=file)


def _run(cfg: DictConfig, plan: RunPlan, registry: Registry, outdir: Path, run_name: str) -> int:
    from tqdm.auto import tqdm

    leftovers = list(outdir.rglob(".*.part"))  # half-written files of a killed run: never read, safe to drop
    for path in leftovers:
        path.unlink(missing_ok=True)
    if leftovers:
        log.info("removed %d half-written files left by an interrupted run", len(leftovers))
    cut_slide_detections(plan, outdir)
    tracker = Tracker(cfg.mlflow)
    failures, done, resumed = [], {}, 0
    with tracker.parent(cfg, run_name=run_name, output_dir=outdir.resolve()):
        quiet = None if cfg.progress is None else not cfg.progress  # None: tqdm shows it on a terminal only
        progress = tqdm(total=len(plan.patches), desc="patches", unit="patch", disable=quiet)
        # closed on any way out of the loop (a signal while a patch is logged too): the workers stop with it
        with contextlib.closing(execute(run_patch, plan, cfg, outdir, registry)) as patches:
            for outcome in patches:
                progress.update()
                spec, rec = outcome.spec, outcome.rec
                if rec is None:
                    failures.append((spec, outcome.error))
                    log.error("patch %s failed: %s", spec.sample_id, outcome.error)
                    continue
                done[spec.sample_id] = rec
                if outcome.resumed:
                    resumed += 1
                    continue
                tracker.log_patch(cfg, rec, outdir / spec.sample_id)
                log.info("%s: %d nuclei, %d interpenetrating pairs, %.2f s%s", rec.sample_id, rec.geometry.n,
                         rec.n_violations, rec.timings["total_seconds"], _rejected(rec.segmentation))
        progress.close()
        if resumed:
            log.info("resumed: %d finished patches taken from %s", resumed, outdir)
        recs = [done[spec.sample_id] for spec in plan.patches if spec.sample_id in done]  # in manifest order
        errors = {spec.sample_id: message for spec, message in failures}
        rows = [summary_row(done[spec.sample_id]) if spec.sample_id in done else
                {"sample_id": spec.sample_id, "status": "failed", "error": errors.get(spec.sample_id, "")}
                for spec in plan.patches]
        with atomic_path(outdir / "summary.csv") as tmp:
            pd.DataFrame(rows, columns=list(dict.fromkeys(["sample_id", "status", "error", *(
                k for row in rows for k in row)]))).to_csv(tmp, index=False)
        tracker.log_summary({"n_patches": len(plan.patches), "n_failed": len(failures), "n_resumed": resumed})
        merge_slides(plan, registry, recs, outdir, tracker, processes(cfg.executor, len(plan.patches)))
        failures += run_analyses(plan, registry, recs, outdir, tracker)
        if failures:
            tracker.status = "FAILED"
    for what, message in failures:
        where = f"patch {what.sample_id} ({what.image})" if isinstance(what, PatchSpec) else what
        print(f"cellframe: error: {where}: {message}", file=sys.stderr, flush=True)
    return 1 if failures else 0
