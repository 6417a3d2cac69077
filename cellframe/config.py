"""Structured config schemas and the checks that run before any work starts."""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pandas as pd
from omegaconf import MISSING, DictConfig, OmegaConf

from cellframe.io.files import InputError
from cellframe.registry import PluginError, Registry
from cellframe.io.slide_detections import FORMATS, detection_format
from cellframe.io.slides import AnnotationError, SlideRegion, slide_patches


class ConfigError(Exception):
    """A config value is invalid; the message names the key."""


@dataclass
class ModelConfig:
    """The biomechanical model (CellSqueeze3D)."""

    #: cell radius lower bound, as a multiple of the nuclear radius
    alpha: float = 1.5
    #: cell radius upper bound, as a multiple of the nuclear radius
    beta: float = 2.5
    #: section depth in pixels: cell centres lie in [0, z_max]
    z_max: float = 40.0
    lambda_radius: float = 5e4
    lambda_z: float = 1e4
    lambda_overlap: float = 1e6
    #: depth of the plane where 2D cell regions are cut
    plane_z: float = 0.0
    #: section thickness in microns, for objectives that model the section (``evidence``; converted with input.mpp)
    section_um: float = 4.0
    #: clusters proven to fit that the optimizer left interpenetrating get their proof's arrangement
    repair: bool = True


@dataclass
class InputConfig:
    """One patch (image, and a mask unless the segmenter works from the image) or a manifest
    CSV of many (columns sample_id, image and optionally mask)."""

    image: Optional[str] = None
    #: the patch's nuclei (mask image or another tool's file); with input.slide, the whole slide's
    #: detections in level-0 coordinates (HoVer-Net .json, QuPath .geojson), cut per patch
    mask: Optional[str] = None
    sample_id: Optional[str] = None
    manifest: Optional[str] = None
    #: a whole slide (.svs, .tiff, ... anything OpenSlide reads), cut into patches
    slide: Optional[str] = None
    #: microns per pixel of the input images; for a slide, the magnification to read it at
    mpp: float = 0.25
    #: slide patches: side in pixels, smallest share of tissue, how many at most (None = all)
    patch_size: int = 1000
    min_tissue: float = 0.5
    max_patches: Optional[int] = None
    #: a QuPath GeoJSON of annotations drawn on the slide (level 0): only the tissue inside them counts
    #: towards min_tissue; annotation_class keeps only the annotations of that class (e.g. Tumor)
    annotations: Optional[str] = None
    annotation_class: Optional[str] = None
    #: context around each slide patch, pixels; None = the largest possible cell radius,
    #: beta x max_nucleus_um (converted with mpp): as far as an owned cell's region and the sampling
    #: ball of its volume reach
    halo: Optional[int] = None
    max_nucleus_um: float = 8.0
    #: largest image (or mask) read whole, in pixels; bigger ones are refused before decoding
    #: (cut them into patches, or give them as input.slide)
    max_pixels: int = 100_000_000


@dataclass
class ReconstructionConfig:
    #: independent reconstructions per patch (seeds); with more than one, the cell table carries
    #: each parameter's mean and standard deviation (``z_mean``, ``z_sd``, ...)
    samples: int = 1
    #: draw each patch's ``convergence.png`` (the report draws the curve of the patches it shows;
    #: on a slide of thousands of patches, a figure each costs more than the rest of the export)
    convergence_plot: bool = True
    #: outlines a segmenter imports (input.mask), with an objective that shares space among nuclei
    #: (evidence): count the objects hed_watershed takes for nuclei outside them (``unlisted`` in
    #: summary.csv), warning from 5 % (each missing nucleus' space goes to its neighbours' cells);
    #: costs a segmentation of the image per patch
    check_outlines: bool = True
    #: those objects take space as nuclei do (sites of the space filling, like the unseen nuclei), so
    #: the cells around them do not grow into it (experiments/missed_nuclei)
    fill_unlisted: bool = True


@dataclass
class ExecutorConfig:
    """Where patches run: ``auto`` (serial for one patch, a process pool for many), ``serial``,
    ``process`` or ``dask`` (a LocalCluster, or the cluster at ``address``, e.g. tcp://host:8786)."""

    name: str = "auto"
    #: worker processes; None = every core
    workers: Optional[int] = None
    address: Optional[str] = None


@dataclass
class MlflowConfig:
    enabled: bool = True
    #: None: MLFLOW_TRACKING_URI if set, else MLflow's default (sqlite:///mlflow.db in the working dir)
    tracking_uri: Optional[str] = None
    experiment: str = "cellframe"
    #: seconds to wait for a tracking server (http, https) before giving up
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ValueError(f"timeout={self.timeout} must be > 0")


#: ``executor.name`` choices (:mod:`cellframe.running.executors`)
EXECUTORS = ("auto", "serial", "process", "dask")

#: tracking URI schemes MLflow stores runs under (no scheme: a local folder)
MLFLOW_SCHEMES = ("", "file", "sqlite", "http", "https", "postgresql", "mysql", "mssql", "databricks")


def check_tracking_uri(uri: str | None) -> None:
    """A tracking URI MLflow can store runs under, else a one-line ConfigError naming the key."""
    from urllib.parse import urlparse

    if uri and (len(urlparse(uri).scheme) > 1 and urlparse(uri).scheme.split("+")[0] not in MLFLOW_SCHEMES):
        raise ConfigError(f"mlflow.tracking_uri={uri!r}: unknown scheme (use a folder, sqlite:///FILE, "
                          f"http(s)://SERVER or a database URL)")


@dataclass
class CellframeConfig:
    """The whole run. ``segmenter``, ``geometry``, ``optimizer`` and each ``exporter``
    entry are the settings of a plugin stage, typed by that stage's schema."""

    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    input: InputConfig = field(default_factory=InputConfig)
    mlflow: MlflowConfig = field(default_factory=MlflowConfig)
    reconstruction: ReconstructionConfig = field(default_factory=ReconstructionConfig)
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    #: skip patches already finished in the output folder with the same config
    resume: bool = True
    segmenter: Any = MISSING
    geometry: Any = MISSING
    optimizer: Any = MISSING
    #: what the optimizer minimises: ``cellsqueeze3d`` (the paper) or ``evidence`` (terms read from the image)
    objective: Any = MISSING
    exporter: Any = field(default_factory=dict)
    analysis: Any = field(default_factory=dict)
    #: where patch folders go; None = Hydra's run directory
    output_dir: Optional[str] = None
    #: progress bar over patches (done, rate, ETA); None = only on a terminal
    progress: Optional[bool] = None


@dataclass(frozen=True)
class PatchSpec:
    """Where one patch's inputs are; workers get this, not pixels."""

    sample_id: str
    image: Path
    mask: Path | None = None
    #: where the patch lies in a whole slide (then ``image`` is the slide)
    region: SlideRegion | None = None
    #: the patient the patch belongs to (manifest column ``patient_id``; default: from the sample id)
    patient: str | None = None


#: a sample id names its output folder: letters, digits, ``. _ -`` (not first), at most 128 characters
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
#: names the run folder already uses
RESERVED_IDS = {"analysis", "summary.csv", "mlflow", "mlruns"}


def read_manifest(path: Path) -> pd.DataFrame:
    """A manifest table as spreadsheets save it: comma-separated, else the separator it uses (Excel's
    semicolons in many locales, tabs); header names and cells stripped of spaces, names lower-cased."""
    def read(sep):
        return pd.read_csv(path, sep=sep, engine="python" if sep is None else "c", dtype=str,
                           keep_default_na=False, encoding="utf-8-sig")

    table, error = None, None
    try:
        table = read(",")
    except Exception as exc:
        error = exc
    if table is None or len(table.columns) == 1:
        try:  # csv.Sniffer's guess of the separator
            table = read(None)
        except Exception as exc:
            if table is None:
                raise ConfigError(f"input.manifest: cannot read {path} as CSV "
                                  f"({str(error or exc).splitlines()[0][:120]})") from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    return table.apply(lambda column: column.str.strip())


def check_sample_id(sample_id: str, where: str) -> str:
    """A sample id that is safe as a folder name inside the run folder, else a one-line ConfigError."""
    if not SAFE_ID.fullmatch(sample_id or "") or sample_id.lower() in RESERVED_IDS:
        raise ConfigError(f"{where}: sample_id {sample_id!r} is not a safe folder name (letters, digits and . _ - "
                          f"not first, at most 128 characters; not {', '.join(sorted(RESERVED_IDS))})")
    return sample_id


def _finite(key: str, value: Any) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}={value!r} is not a number") from None
    if not math.isfinite(value):
        raise ConfigError(f"{key}={value} must be a finite number")
    return value


def check_model(model: Any) -> None:
    alpha = _finite("model.alpha", model.alpha)
    beta = _finite("model.beta", model.beta)
    if alpha <= 0:
        raise ConfigError(f"model.alpha={alpha} must be > 0")
    if alpha >= beta:
        raise ConfigError(f"model.alpha={alpha} must be smaller than model.beta={beta}")
    if _finite("model.z_max", model.z_max) <= 0:
        raise ConfigError(f"model.z_max={model.z_max} must be > 0")
    _finite("model.plane_z", model.plane_z)
    if _finite("model.section_um", model.section_um) <= 0:
        raise ConfigError(f"model.section_um={model.section_um} must be > 0")
    for key in ("lambda_radius", "lambda_z", "lambda_overlap"):
        if _finite(f"model.{key}", getattr(model, key)) < 0:
            raise ConfigError(f"model.{key}={getattr(model, key)} must be >= 0")


def _existing(key: str, value: str, base: Path | None = None) -> Path:
    path = Path(value)
    if base is not None and not path.is_absolute():
        path = base / path
    if not path.is_file():
        raise ConfigError(f"{key}: file not found: {path}")
    return path


def slide_specs(inp: Any, beta: float) -> list[PatchSpec]:
    """The tissue patches of ``input.slide``, each with a halo of context."""
    slide = _existing("input.slide", inp.slide)
    if inp.patch_size < 16:
        raise ConfigError(f"input.patch_size={inp.patch_size} must be >= 16")
    if not 0 <= _finite("input.min_tissue", inp.min_tissue) <= 1:
        raise ConfigError(f"input.min_tissue={inp.min_tissue} must be in [0, 1]")
    halo = inp.halo
    if halo is None:
        halo = int(np.ceil(beta * _finite("input.max_nucleus_um", inp.max_nucleus_um) / inp.mpp))
    if halo < 0:
        raise ConfigError(f"input.halo={halo} must be >= 0")
    annotations = _existing("input.annotations", inp.annotations) if inp.get("annotations") else None
    try:
        regions = slide_patches(slide, inp.patch_size, inp.mpp, inp.min_tissue, inp.max_patches, halo,
                                annotations, inp.get("annotation_class"))
    except AnnotationError as exc:
        raise ConfigError(f"input.annotations: {exc}") from None
    except InputError as exc:
        raise ConfigError(f"input.slide: {exc}") from None
    if not regions:
        where = f" inside the annotations of {annotations.name}" if annotations else ""
        raise ConfigError(f"input.slide: no {inp.patch_size}px patch of {slide} holds {inp.min_tissue:.0%} "
                          f"tissue{where}")
    first = regions[0]
    read = "" if first.mpp is None else (f", read from level {first.level} ({first.downsample:.3g} level-0 px "
                                         "per patch px)")
    logging.getLogger("cellframe").info(
        "slide %s: %d tissue patches of %d px at %g um/px%s%s", slide.name, len(regions), inp.patch_size, inp.mpp,
        read, f", inside the annotations of {annotations.name}" if annotations else "")
    if first.mpp is None:
        logging.getLogger("cellframe").warning(
            "input.slide: %s does not record its pixel size (no openslide.mpp-x): its level 0 is read as it is and "
            "taken to be input.mpp = %g um/px; if the scanner's differs, set input.mpp to it", slide.name, inp.mpp)
    detections = None
    if inp.get("mask"):
        detections = _existing("input.mask", inp.mask)
        try:
            detection_format(detections)
        except InputError as exc:
            raise ConfigError(f"input.mask: {exc} (with input.slide: the slide's detections in level-0 "
                              "coordinates)") from None
    # the slide's detections stand as each patch's mask until the run cuts them per patch
    # (cellframe.running.pipeline.cut_slide_detections)
    return [PatchSpec(f"{slide.stem}_x{r.x0}_y{r.y0}", slide, detections, r) for r in regions]


def _check_slide_segmenter(inp: Any, segmenter, registry: Registry) -> None:
    """A slide is segmented from its pixels, or from its detections (``input.mask``) by the importer of
    their format, which then takes no offset of its own."""
    reads_mask = registry.stage("segmenter", segmenter.name).needs_mask
    if not inp.mask:
        if reads_mask:
            raise ConfigError(f"segmenter={segmenter.name} reads input.mask: give the slide's detections "
                              "(input.mask=DETECTIONS.json or .geojson, level-0 coordinates) or use "
                              "segmenter=hed_watershed (or +pipeline=wsi)")
        return
    wanted = FORMATS.get(Path(inp.mask).suffix.lower())
    if segmenter.name != wanted:
        raise ConfigError(f"input.mask={inp.mask} with input.slide is read by segmenter={wanted or 'hovernet/qupath'}"
                          f" (.json: hovernet, .geojson: qupath), not segmenter={segmenter.name}")
    if any(float(v) != 0 for v in getattr(segmenter, "offset", (0, 0))):
        raise ConfigError(f"segmenter.offset={list(segmenter.offset)}: a slide's detections are placed in each "
                          "patch from the slide's own coordinates; leave the offset at [0, 0]")


def patch_specs(inp: Any, beta: float = 2.5) -> list[PatchSpec]:
    """The patches a config names, with every file checked to exist."""
    if inp.get("slide"):
        if inp.manifest or inp.image:
            raise ConfigError("input.slide cannot be combined with input.image/input.manifest")
        return slide_specs(inp, beta)
    if inp.get("annotations") or inp.get("annotation_class"):
        raise ConfigError("input.annotations: annotations choose the patches of a slide; give input.slide too")
    if inp.manifest:
        if inp.image or inp.mask:
            raise ConfigError("input.manifest cannot be combined with input.image/input.mask")
        manifest = _existing("input.manifest", inp.manifest)
        table = read_manifest(manifest)
        missing = [c for c in ("sample_id", "image") if c not in table.columns]
        if missing:
            raise ConfigError(f"input.manifest: {manifest} lacks columns {missing} (its columns: "
                              f"{list(table.columns)[:8]})")
        if table.empty:
            raise ConfigError(f"input.manifest: {manifest} lists no patches")
        for k, sample_id in enumerate(table["sample_id"]):
            check_sample_id(sample_id, f"input.manifest row {k + 1} ({manifest})")
        folded = table["sample_id"].str.lower()  # folders clash on case-insensitive file systems
        dup = table["sample_id"][folded.duplicated(keep=False)].unique().tolist()
        if dup:
            raise ConfigError(f"input.manifest: duplicate sample_id {dup[:5]} in {manifest}")
        return [
            PatchSpec(
                row.sample_id,
                _existing(f"input.manifest row {k + 1} image", row.image, manifest.parent),
                _existing(f"input.manifest row {k + 1} mask", row.mask, manifest.parent)
                if getattr(row, "mask", "") else None,
                patient=getattr(row, "patient_id", "") or None,
            )
            for k, row in enumerate(table.itertuples(index=False))
        ]
    if not inp.image:
        if inp.mask:
            raise ConfigError("input.image: missing (the H&E image the mask belongs to)")
        raise ConfigError("input: give input.image=PATH (and input.mask=PATH), input.manifest=CSV or input.slide=PATH")
    image = _existing("input.image", inp.image)
    mask = _existing("input.mask", inp.mask) if inp.mask else None
    sample_id = inp.sample_id if inp.sample_id is not None else re.sub(r"[^A-Za-z0-9._-]", "_", image.stem).lstrip("._-")
    return [PatchSpec(check_sample_id(sample_id, "input.sample_id"), image, mask)]


def stage_settings(registry: Registry, kind: str, node: Any, key: str) -> Any:
    """Validate one stage's config node against its plugin's schema; return the settings object."""
    if not isinstance(node, DictConfig) or "name" not in node:
        raise ConfigError(f"{key}: choose a {kind} ({key}=NAME)")
    try:
        stage = registry.stage(kind, node.name)
    except PluginError as exc:
        raise ConfigError(f"{key}.name: {exc}") from None
    try:
        merged = OmegaConf.merge(OmegaConf.structured(stage.schema), node)
        return OmegaConf.to_object(merged)
    except ValueError as exc:  # raised by a schema's __post_init__ or by OmegaConf's type checks
        raise ConfigError(f"{key}: {str(exc).splitlines()[0]}") from None
    except Exception as exc:
        raise ConfigError(f"{key}: {str(exc).splitlines()[0]}") from None


@dataclass
class RunPlan:
    """A validated run: the patches and each stage's settings object."""

    patches: list[PatchSpec]
    segmenter: Any
    geometry: Any
    optimizer: Any
    objective: Any
    exporters: dict[str, Any]
    analyses: dict[str, Any] = field(default_factory=dict)
    #: the validated model, detached from the config (small to send to workers and to pickle)
    model: ModelConfig = field(default_factory=ModelConfig)
    seed: int = 0
    #: microns per pixel of the inputs (``input.mpp``)
    mpp: float = 0.25
    #: ``reconstruction.samples``, ``reconstruction.convergence_plot``
    samples: int = 1
    convergence_plot: bool = True
    #: ``reconstruction.check_outlines``, ``reconstruction.fill_unlisted``
    check_outlines: bool = True
    fill_unlisted: bool = True
    #: ``input.max_pixels``
    max_pixels: int = 100_000_000


def check_analysis_files(settings: Any, key: str) -> None:
    """The files an analysis reads exist, checked before any patch runs: the ``required`` ones (a
    class attribute of its settings) must be given, optional ``features`` tables must exist."""
    for name in getattr(type(settings), "required", ()):
        if not getattr(settings, name, None):
            raise ConfigError(f"{key}.{name}: missing (give {key}.{name}=PATH)")
    for name in (*getattr(type(settings), "required", ()), "features"):
        value = getattr(settings, name, None)
        if isinstance(value, str) and value and not Path(value).is_file():
            raise ConfigError(f"{key}.{name}: file not found: {value}")


def known_settings() -> list[str]:
    """Every key of the run schema's own sections (``seed``, ``model.z_max``, ...), stage keys aside."""
    import dataclasses

    keys = []
    for f in dataclasses.fields(CellframeConfig):
        keys.append(f.name)
        if f.default_factory is not dataclasses.MISSING and dataclasses.is_dataclass(f.default_factory()):
            keys += [f"{f.name}.{sub.name}" for sub in dataclasses.fields(f.default_factory())]
    return keys


def closest_setting(key: str) -> str | None:
    """The real setting a mistyped key most likely meant, if any is close."""
    import difflib

    close = difflib.get_close_matches(key, known_settings(), n=1)
    return close[0] if close else None


def check_known_keys(cfg: DictConfig) -> None:
    """Refuse keys the schema does not have (``+model.zmax=10``: Hydra's ``+`` adds any key), naming
    the closest real one."""
    known = set(known_settings())
    sections = {k.split(".")[0] for k in known if "." in k}
    present = [k for k in cfg.keys() if k != "hydra"]
    present += [f"{section}.{k}" for section in sections if section in cfg for k in cfg[section].keys()]
    for key in present:
        if key not in known and key.split(".")[0] in known | {key}:
            hint = closest_setting(key)
            raise ConfigError(f"{key}: not a setting" + (f" (did you mean {hint}?)" if hint else ""))


def validate(cfg: DictConfig, registry: Registry) -> RunPlan:
    """Check every value of a composed config; raise :class:`ConfigError` on the first bad one."""
    check_known_keys(cfg)
    try:
        seed = int(cfg.seed)
    except Exception:
        raise ConfigError(f"seed={cfg.get('seed')!r} must be an integer") from None
    if seed < 0:
        raise ConfigError(f"seed={seed} must be >= 0")
    check_model(cfg.model)
    if not _finite("mlflow.timeout", cfg.mlflow.timeout) > 0:
        raise ConfigError(f"mlflow.timeout={cfg.mlflow.timeout} must be > 0")
    if cfg.mlflow.enabled:
        check_tracking_uri(cfg.mlflow.tracking_uri)
    if cfg.executor.name not in EXECUTORS:
        raise ConfigError(f"executor.name={cfg.executor.name!r} must be one of {', '.join(EXECUTORS)}")
    if cfg.executor.workers is not None and cfg.executor.workers < 1:
        raise ConfigError(f"executor.workers={cfg.executor.workers} must be >= 1")
    if cfg.reconstruction.samples < 1:
        raise ConfigError(f"reconstruction.samples={cfg.reconstruction.samples} must be >= 1")
    if _finite("input.mpp", cfg.input.mpp) <= 0:
        raise ConfigError(f"input.mpp={cfg.input.mpp} must be > 0")
    if cfg.input.max_pixels < 1:
        raise ConfigError(f"input.max_pixels={cfg.input.max_pixels} must be >= 1")
    exporters = {}
    for key, node in (cfg.exporter or {}).items():
        exporters[key] = stage_settings(registry, "exporter", node, f"exporter.{key}")
    analyses = {}
    for key, node in (cfg.get("analysis") or {}).items():
        if isinstance(node, DictConfig) and "name" not in node:  # a preset's settings for an analysis not chosen
            logging.getLogger("cellframe").info("analysis.%s: settings for an analysis not in analysis=[...]: "
                                                "not run", key)
            continue
        analyses[key] = stage_settings(registry, "analysis", node, f"analysis.{key}")
        check_analysis_files(analyses[key], f"analysis.{key}")
    plan = RunPlan(
        patches=[],
        segmenter=stage_settings(registry, "segmenter", cfg.segmenter, "segmenter"),
        geometry=stage_settings(registry, "geometry", cfg.geometry, "geometry"),
        optimizer=stage_settings(registry, "optimizer", cfg.optimizer, "optimizer"),
        objective=stage_settings(registry, "objective", cfg.objective, "objective"),
        exporters=exporters,
        analyses=analyses,
        model=OmegaConf.to_object(cfg.model),
        seed=seed,
        mpp=float(cfg.input.mpp),
        samples=int(cfg.reconstruction.samples),
        convergence_plot=bool(cfg.reconstruction.convergence_plot),
        check_outlines=bool(cfg.reconstruction.check_outlines),
        fill_unlisted=bool(cfg.reconstruction.fill_unlisted),
        max_pixels=int(cfg.input.max_pixels),
    )
    if cfg.input.get("slide"):
        _check_slide_segmenter(cfg.input, plan.segmenter, registry)
    plan.patches = patch_specs(cfg.input, float(cfg.model.beta))
    if not cfg.input.get("slide") and registry.stage("segmenter", plan.segmenter.name).needs_mask:
        unmasked = [p.sample_id for p in plan.patches if p.mask is None]
        if unmasked:
            where = "input.mask" if cfg.input.get("image") else f"input.manifest: no mask for {unmasked[:3]}"
            raise ConfigError(f"{where}: segmenter={plan.segmenter.name} reads nuclei from a mask; give one, or "
                              f"segment the H&E itself with segmenter=hed_watershed")
    return plan
