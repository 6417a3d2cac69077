"""``python -m cellframe simulate``: a known-truth tissue slab, a section through it, its H&E image.

The slab holds nuclei (log-normal sizes, elongated in the image plane) packed
without interpenetration at a given density, cells that fill the space around
them (a Laguerre partition, with a share of extracellular space), and regions
of stroma and lumen with no cells (smooth 3D regions: their boundaries meet the
section at every slant, so the tissue above and below a column of cells need not
hold cells). A section of thickness ``section_um`` is cut
through its middle; every nucleus that reaches into it is drawn as the
projection of its part inside the section (a nucleus cut near its pole shows a
small, pale cap), the cytoplasm and stroma in eosin, faint membranes, optional
defocus away from a focal plane, and noise.

Files (``output_dir``, default Hydra's run folder): ``image.png``, ``mask.png``
(16-bit labels), ``nuclei.json`` (HoVer-Net format, overlapping outlines kept),
``truth.parquet`` (one row per visible nucleus: label, x, y, z, r, R, volumes,
in pixels, and its population: 0, or 1 for the optional second one; depth z from
the section's top face, so the section is
``[0, section_px]``), ``truth.ome.tif`` (ZYX cell labels) and ``simulation.json``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from cellframe.io.files import atomic_path, write_png
from cellframe.physics.render import beer_lambert, project
from cellframe.physics.stereology import ellipse_outline, face_distance, profile_radius
from cellframe.physics.tissue import pack_nuclei, partition_grid, smooth_regions


class SimulationError(ValueError):
    """A simulation setting is out of range; the message names the key."""


@dataclass
class SimulateConfig:
    """Settings of ``python -m cellframe simulate`` (lengths in microns unless named ``_px``)."""

    seed: int = 0
    width: int = 1000
    height: int = 1000
    mpp: float = 0.25
    section_um: float = 4.0
    #: median true nuclear radius and its log-normal spread
    nucleus_radius_um: float = 2.6
    nucleus_radius_sd: float = 0.2
    #: mean in-plane aspect ratio of the nuclei (1 = spheres)
    elongation: float = 1.3
    #: a second population (e.g. lymphocytes among tumour cells): its share of the nuclei, median
    #: radius (same log-normal spread, round) and chromatin density relative to the first's
    second_fraction: float = 0.0
    second_radius_um: float = 1.8
    second_chromatin: float = 1.6
    #: nuclear share of the cell volume on average: sets how densely nuclei are packed
    nuclear_fraction: float = 0.2
    #: hard-core spacing of cell centres as a share of the cells' size (0 = random, ~0.7 = crystal-like)
    regularity: float = 0.6
    extracellular: float = 0.1
    stroma_fraction: float = 0.15
    lumen_fraction: float = 0.05
    region_scale_um: float = 20.0
    #: per-nucleus spread (log-normal) of haematoxylin concentration in chromatin
    chromatin_sd: float = 0.15
    #: optical density per micron of chromatin / cytoplasm / stroma, added along membranes
    haematoxylin_od_um: float = 0.25
    eosin_od_um: float = 0.06
    stroma_od_um: float = 0.06
    membrane_od: float = 0.08
    #: defocus blur (Gaussian sigma, px) per micron of distance from the focal plane; 0 = all in focus
    defocus: float = 0.0
    #: focal plane depth in microns; None = mid-section
    focal_um: Optional[float] = None
    #: optics blur (px) everywhere, and intensity noise (0-255 scale)
    blur_px: float = 0.7
    noise: float = 3.0
    #: nuclei whose profile is smaller than this radius are not visible (not in mask or truth)
    min_profile_um: float = 1.0
    #: voxel size of the truth label volume
    voxel_um: float = 1.0
    output_dir: Optional[str] = None

    def __post_init__(self) -> None:
        positive = ("width", "height", "mpp", "section_um", "nucleus_radius_um", "nuclear_fraction", "voxel_um",
                    "region_scale_um", "second_radius_um", "second_chromatin")
        for key in positive:
            value = getattr(self, key)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise SimulationError(f"{key}={value!r} must be a positive number")
        for key in ("nucleus_radius_sd", "chromatin_sd", "defocus", "blur_px", "noise", "min_profile_um",
                    "haematoxylin_od_um", "eosin_od_um", "stroma_od_um", "membrane_od"):
            if not math.isfinite(getattr(self, key)) or getattr(self, key) < 0:
                raise SimulationError(f"{key}={getattr(self, key)} must be >= 0")
        if self.elongation < 1:
            raise SimulationError(f"elongation={self.elongation} must be >= 1")
        if not 0 <= self.regularity < 0.8:
            raise SimulationError(f"regularity={self.regularity} must be in [0, 0.8)")
        if not 0 < self.nuclear_fraction < 1:
            raise SimulationError(f"nuclear_fraction={self.nuclear_fraction} must be in (0, 1)")
        for key in ("extracellular", "stroma_fraction", "lumen_fraction", "second_fraction"):
            if not 0 <= getattr(self, key) < 1:
                raise SimulationError(f"{key}={getattr(self, key)} must be in [0, 1)")
        if self.stroma_fraction + self.lumen_fraction >= 0.9:
            raise SimulationError("stroma_fraction + lumen_fraction must leave at least 10 % for cells")


@dataclass
class Simulation:
    """A simulated section and its truth."""

    image: np.ndarray
    mask: np.ndarray
    truth: pd.DataFrame
    outlines: dict[int, np.ndarray]
    volume: np.ndarray
    meta: dict


def _nuclei_shapes(n: int, cfg: SimulateConfig, rng: np.random.Generator) -> pd.DataFrame:
    rho = cfg.nucleus_radius_um / cfg.mpp * np.exp(cfg.nucleus_radius_sd * rng.standard_normal(n))
    aspect = 1.0 + rng.exponential(cfg.elongation - 1.0, n) if cfg.elongation > 1 else np.ones(n)
    aspect = np.minimum(aspect, 3.0)
    population = np.zeros(n, int)
    if cfg.second_fraction > 0:
        population = (rng.random(n) < cfg.second_fraction).astype(int)
        second = population == 1
        rho[second] = cfg.second_radius_um / cfg.mpp * np.exp(cfg.nucleus_radius_sd * rng.standard_normal(second.sum()))
        aspect[second] = 1.0
    # the same volume as a sphere of radius rho: a = rho aspect^(2/3), b = c = rho aspect^(-1/3)
    return pd.DataFrame({"rho": rho, "a": rho * aspect ** (2 / 3), "b": rho * aspect ** (-1 / 3),
                         "c": rho * aspect ** (-1 / 3), "angle": rng.uniform(0, np.pi, n), "population": population})


def simulate(cfg: SimulateConfig) -> Simulation:
    """Build the slab, cut the section, render the image (see the module docstring)."""
    rng = np.random.default_rng(cfg.seed)
    px = 1.0 / cfg.mpp
    T = cfg.section_um * px
    H, W = cfg.height, cfg.width
    rho_med = max(cfg.nucleus_radius_um, cfg.second_radius_um if cfg.second_fraction else 0.0) * px
    cell_scale = rho_med / cfg.nuclear_fraction ** (1 / 3)  # a typical cell's radius
    margin = 2.5 * cell_scale  # tissue beyond the patch and the section, so every visible cell is whole
    pad = rho_med * math.exp(3 * cfg.nucleus_radius_sd) * 1.6 + margin
    box = (W + 2 * margin, H + 2 * margin, T + 2 * pad)
    offset = np.array([margin, margin, pad])

    scale = cfg.region_scale_um * px
    grid_step = max(cfg.voxel_um * px, 1.0)
    coarse = (int(np.ceil(box[1] / grid_step)), int(np.ceil(box[0] / grid_step)))
    nz = int(np.ceil(box[2] / grid_step))
    stroma, lumen = smooth_regions((nz, *coarse), [cfg.stroma_fraction, cfg.lumen_fraction], scale / grid_step, rng)
    no_cells = stroma | lumen

    def allowed(x, y, z):
        j = np.clip((x / grid_step).astype(int), 0, coarse[1] - 1)
        i = np.clip((y / grid_step).astype(int), 0, coarse[0] - 1)
        k = np.clip((z / grid_step).astype(int), 0, nz - 1)
        return ~no_cells[k, i, j]

    shapes = _nuclei_shapes(200_000, cfg, rng)
    mean_nuc = float(np.mean(4 / 3 * np.pi * shapes["rho"] ** 3))
    cellular = float(box[0] * box[1] * box[2] * (1 - no_cells.mean()))
    n_target = int(round(cellular * (1 - cfg.extracellular) * cfg.nuclear_fraction / mean_nuc))
    cell_r = shapes["rho"].to_numpy() / cfg.nuclear_fraction ** (1 / 3)
    spacing = np.maximum(cfg.regularity * cell_r, shapes["a"].to_numpy() * 1.02)
    idx, centres = pack_nuclei(box, n_target, shapes["rho"].to_numpy(), spacing, allowed, rng)
    nuclei = shapes.iloc[idx].reset_index(drop=True)
    nuclei[["x", "y", "z"]] = centres - offset

    # cells: the Laguerre partition of the slab, voxel by voxel
    labels3d = partition_grid(centres, nuclei["rho"].to_numpy(), (nz, *coarse), grid_step, 0.0, no_cells,
                              cfg.extracellular)
    counts = np.bincount(labels3d.ravel(), minlength=len(nuclei) + 1)[1:]
    nuclei["cell_volume"] = counts * grid_step**3

    # what the section shows
    inside = (nuclei["x"].between(0, W - 1)) & (nuclei["y"].between(0, H - 1))
    prof = profile_radius(nuclei["c"], nuclei["z"], T) / nuclei["c"]  # cap shrink factor of the profile
    nuclei["profile_a"], nuclei["profile_b"] = nuclei["a"] * prof, nuclei["b"] * prof
    visible = inside & (np.sqrt(nuclei["profile_a"] * nuclei["profile_b"]) >= cfg.min_profile_um * px)
    nuclei["label"] = 0
    nuclei.loc[visible, "label"] = np.arange(1, int(visible.sum()) + 1)
    drawn = nuclei[prof > 0].reset_index(drop=True)
    focal = (cfg.focal_um * px) if cfg.focal_um is not None else T / 2
    concentration = np.exp(cfg.chromatin_sd * rng.standard_normal(len(drawn)))
    concentration[drawn["population"].to_numpy() == 1] *= cfg.second_chromatin
    blur = np.hypot(cfg.blur_px, cfg.defocus * face_distance(drawn["z"] - focal, 0.0) / px)
    stain, geometric, labels2d = project(drawn, (H, W), T, concentration, blur)
    h_od = cfg.haematoxylin_od_um / px * stain

    # eosin: cytoplasm path inside the section (cells minus nuclei), stroma, membranes at mid-section
    k0, k1 = int(np.floor(pad / grid_step)), int(np.ceil((pad + T) / grid_step))
    section = labels3d[k0:k1]
    cyto = (section > 0).sum(axis=0) * grid_step * T / max((k1 - k0) * grid_step, 1e-9)
    crop = (slice(int(margin // grid_step), None), slice(int(margin // grid_step), None))
    up = _upsample(cyto[crop], grid_step, (H, W))
    stroma_px = _upsample(stroma[k0:k1].mean(axis=0)[crop], grid_step, (H, W))  # the share of the path
    mid = _upsample_labels(section[(k1 - k0) // 2][crop], grid_step, (H, W))
    from skimage.segmentation import find_boundaries

    membranes = find_boundaries(mid, mode="inner") & (mid > 0)
    e_path = np.maximum(up - geometric, 0.0)
    e_od = (cfg.eosin_od_um * e_path + cfg.stroma_od_um * T * stroma_px) / px + cfg.membrane_od * membranes
    from scipy.ndimage import gaussian_filter

    e_od = gaussian_filter(e_od, cfg.blur_px)
    image = beer_lambert(h_od, e_od, noise=cfg.noise, rng=rng)

    truth = nuclei[visible].copy()
    truth["r"] = truth["rho"]
    truth["R"] = np.cbrt(3 * truth["cell_volume"] / (4 * np.pi))
    truth["nuclear_volume"] = 4 / 3 * np.pi * truth["a"] * truth["b"] * truth["c"]
    truth["nc_volume"] = truth["nuclear_volume"] / truth["cell_volume"]
    truth["profile_r"] = np.sqrt(truth["profile_a"] * truth["profile_b"])
    truth["depth_from_mid"] = (truth["z"] - T / 2).abs()
    truth = truth[["label", "x", "y", "z", "r", "R", "a", "b", "c", "angle", "profile_r", "cell_volume",
                   "nuclear_volume", "nc_volume", "depth_from_mid", "population"]].reset_index(drop=True)

    mask = np.where(np.isin(labels2d, truth["label"].to_numpy()), labels2d, 0).astype(np.uint16)
    outlines = {int(row.label): ellipse_outline(row.x, row.y, row.profile_r * np.sqrt(row.a / row.b),
                                                row.profile_r * np.sqrt(row.b / row.a), row.angle)
                for row in truth.itertuples()}

    # truth volume: the cells of visible nuclei (their label), in the patch's frame
    remap = np.zeros(len(nuclei) + 1, np.uint32)
    remap[1:] = nuclei["label"].to_numpy()
    volume = remap[labels3d][:, crop[0], crop[1]]
    volume = volume[:, : int(np.ceil(H / grid_step)), : int(np.ceil(W / grid_step))]
    meta = {"section_px": T, "mpp": cfg.mpp, "voxel_px": grid_step, "volume_z0_px": -pad,
            "n_nuclei_slab": len(nuclei), "n_visible": int(visible.sum()),
            "config": asdict(cfg)}
    truth.attrs.update({k: v for k, v in meta.items() if k != "config"})
    return Simulation(image=image, mask=mask, truth=truth, outlines=outlines, volume=volume, meta=meta)


def _upsample(a: np.ndarray, step: float, shape: tuple[int, int]) -> np.ndarray:
    from scipy.ndimage import zoom

    out = zoom(a, step, order=1)
    out = np.pad(out, [(0, max(shape[0] - out.shape[0], 0)), (0, max(shape[1] - out.shape[1], 0))], mode="edge")
    return out[: shape[0], : shape[1]]


def _upsample_labels(a: np.ndarray, step: float, shape: tuple[int, int]) -> np.ndarray:
    rows = np.minimum((np.arange(shape[0]) / step).astype(int), a.shape[0] - 1)
    cols = np.minimum((np.arange(shape[1]) / step).astype(int), a.shape[1] - 1)
    return a[np.ix_(rows, cols)]


def hovernet_document(outlines: dict[int, np.ndarray]) -> dict:
    """Nuclei outlines as a HoVer-Net JSON document (contours and centroids are x, y)."""
    nuc = {}
    for label, contour in outlines.items():
        lo, hi = contour.min(axis=0), contour.max(axis=0)
        nuc[str(label)] = {"bbox": [[float(lo[1]), float(lo[0])], [float(hi[1]), float(hi[0])]],
                           "centroid": [float(v) for v in contour.mean(axis=0)],
                           "contour": np.round(contour, 2).tolist(), "type_prob": 1.0, "type": 1}
    return {"mag": 40, "nuc": nuc}


def write_simulation(sim: Simulation, outdir: Path) -> list[Path]:
    """Write the simulation's files into ``outdir`` (each atomically)."""
    import tifffile

    outdir.mkdir(parents=True, exist_ok=True)
    paths = [write_png(outdir / "image.png", sim.image), write_png(outdir / "mask.png", sim.mask)]
    with atomic_path(outdir / "nuclei.json") as tmp:
        tmp.write_text(json.dumps(hovernet_document(sim.outlines)))
    paths.append(outdir / "nuclei.json")
    with atomic_path(outdir / "truth.parquet") as tmp:
        sim.truth.to_parquet(tmp, index=False)
    paths.append(outdir / "truth.parquet")
    size = sim.meta["voxel_px"] * sim.meta["mpp"]
    with atomic_path(outdir / "truth.ome.tif") as tmp:
        tifffile.imwrite(tmp, sim.volume, ome=True, photometric="minisblack", compression="zlib", metadata={
            "axes": "ZYX", "PhysicalSizeX": size, "PhysicalSizeY": size, "PhysicalSizeZ": size,
            "Description": f"cellframe simulated cells (nucleus label); first slice at z = {sim.meta['volume_z0_px']:g} px"})
    paths.append(outdir / "truth.ome.tif")
    with atomic_path(outdir / "simulation.json") as tmp:
        tmp.write_text(json.dumps(sim.meta, indent=2))
    paths.append(outdir / "simulation.json")
    return paths


def read_truth(path: str | Path) -> tuple[pd.DataFrame, dict]:
    """A truth table and its metadata (``section_px``, ...; from ``simulation.json`` beside it if present).

    Tables from other simulators are read too (parquet or CSV): they need ``x, y, z, r`` in pixels and
    either ``R`` or ``cell_volume`` (then ``R`` is the radius of the sphere of that volume);
    ``label`` defaults to the row number and ``profile_r`` (the radius of the visible profile) to ``r``.
    A missing column is a ``SimulationError`` naming the file and the columns.
    """
    path = Path(path)
    try:
        table = pd.read_csv(path) if path.suffix.lower() in (".csv", ".tsv") else pd.read_parquet(path)
    except Exception as exc:
        raise SimulationError(f"{path}: not a readable truth table ({type(exc).__name__}: {exc})") from exc
    meta = dict(table.attrs)
    sidecar = path.with_name("simulation.json")
    if sidecar.is_file():
        meta = {**json.loads(sidecar.read_text()), **meta}
    if "R" not in table and "cell_volume" in table:
        table["R"] = np.cbrt(3 * table["cell_volume"].to_numpy(float) / (4 * np.pi))
    missing = [c for c in ("x", "y", "z", "r", "R") if c not in table]
    if missing:
        raise SimulationError(f"{path}: the truth table lacks {', '.join(missing)} (needs x, y, z, r in px and R "
                              "or cell_volume)")
    if "label" not in table:
        table["label"] = np.arange(1, len(table) + 1)
    if "profile_r" not in table:
        table["profile_r"] = table["r"]
    return table, meta
