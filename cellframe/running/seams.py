"""One slide from many patches: merge the patches' cells, drop duplicates, re-solve seam clusters.

Each slide patch is reconstructed with a halo of context as wide as the largest
possible cell radius, so every cell near a seam has its neighbours on both sides;
every cell then belongs to the patch holding its centre. The two sides were
still optimised apart, so every cluster of overlapping nuclei with cells from
more than one patch is optimised once more, whole, at the slide level: its
depths, under the constraints alone, over the depths the patches searched;
every other parameter (the cell's size) stays as its patch found it.
"""

from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pandas as pd

from cellframe.model.pairs import components
from cellframe.model.reconstruct import reconstruct


def slide_nuclei(recs) -> tuple[pd.DataFrame, int]:
    """The nuclei owned by each patch, in slide coordinates at the read level, without duplicates.

    A nucleus near a seam is segmented in both patches; when both claim it
    (centres closer than half the smaller radius), the first patch keeps it.
    """
    parts = []
    for k, rec in enumerate(recs):
        nuclei = rec.nuclei.reset_index(drop=True)
        owned = rec.owned
        part = nuclei[owned].copy()
        part["x"], part["y"] = rec.region.to_level(part["x"], part["y"])
        part["patch"], part["patch_label"] = rec.sample_id, part["label"]
        part["cell_index"], part["order"] = np.flatnonzero(owned), k
        parts.append(part)
    merged = pd.concat(parts, ignore_index=True)
    if len(merged) > 1:
        from scipy.spatial import cKDTree

        xy, r = merged[["x", "y"]].to_numpy(), merged["r"].to_numpy()
        drop = set()
        for i, j in cKDTree(xy).query_pairs(float(r.max()) / 2, output_type="ndarray"):
            if merged.at[i, "patch"] != merged.at[j, "patch"] and np.hypot(*(xy[i] - xy[j])) < min(r[i], r[j]) / 2:
                drop.add(max(i, j) if merged.at[i, "order"] <= merged.at[j, "order"] else min(i, j))
        merged = merged.drop(index=sorted(drop)).reset_index(drop=True)
    else:
        drop = ()
    merged["label"] = np.arange(1, len(merged) + 1)
    return merged, len(drop)


def merge_slide(recs, *, registry, model, geometry, optimizer, seed: int,
                workers: int | None = 1) -> tuple[pd.DataFrame, dict, Iterator[str]]:
    """The slide-level cell table of one slide's patches, what the merge did, and its QuPath GeoJSON.

    :return: one row per cell (slide coordinates at the patches' pixel size, ``x_slide``/``y_slide``
        at level 0, the owning ``patch``); counts: duplicates dropped, seam clusters re-solved,
        interpenetrating pairs left; and every cell once as a QuPath feature in level-0
        coordinates (:func:`slide_features`, a generator; built in up to ``workers`` processes).
    """
    nuclei, duplicates = slide_nuclei(recs)
    by_patch = {rec.sample_id: rec for rec in recs}
    # each cell's parameters as its own patch found them
    params = {name: np.empty(len(nuclei)) for name in recs[0].geometry.param_names}
    for sample_id, rows in nuclei.groupby("patch").groups.items():
        rec = by_patch[sample_id]
        values = rec.geometry.unpack(rec.x)
        for name in params:
            params[name][rows] = values[name][nuclei.loc[rows, "cell_index"].to_numpy()]
    geometry_all = registry.call("geometry", geometry.name, nuclei=nuclei, model=model, settings=geometry)
    comp = components(len(nuclei), geometry_all.pairs)
    patches_of = nuclei.groupby(comp)["patch"].nunique()
    seam = np.isin(comp, patches_of.index[patches_of > 1])
    n_seam = int((patches_of > 1).sum())
    if seam.any():
        rng = np.random.default_rng([int(seed), zlib.crc32(b"seams"), zlib.crc32(str(recs[0].region.slide).encode())])
        # the depths the patches searched (an evidence objective's reach beyond the section faces, where a
        # centre outside shows a cap), in a frame shifted to start at 0: the constraints alone, over them
        low = min(float(rec.depth_range[0]) for rec in recs)
        high = max(float(rec.depth_range[1]) for rec in recs)
        if not high > low:
            low, high = 0.0, float(model.z_max)
        fixed = reconstruct(nuclei[seam], registry=registry, model=dataclasses.replace(model, z_max=high - low),
                            geometry=geometry, optimizer=optimizer, rng=rng)
        values = fixed.geometry.unpack(fixed.x)
        if "z" in values:  # only depth moves: the sizes keep the evidence their patches found for them
            params["z"][seam] = values["z"] + low
        else:
            for name in params:
                params[name][seam] = values[name]
    x = geometry_all.pack(params)
    cells = geometry_all.cells(x)
    region = recs[0].region
    cells["x_slide"], cells["y_slide"] = region.level_centres_to_slide(cells["x"], cells["y"])
    cells.insert(0, "patch", nuclei["patch"].to_numpy())
    cells.insert(1, "patch_label", nuclei["patch_label"].to_numpy())
    cells["r"] = nuclei["r"].to_numpy()
    if "cell_type" in nuclei:  # an importer's classes (HoVer-Net types, QuPath classifications)
        cells["cell_type"] = nuclei["cell_type"].to_numpy()
    cells["volume"] = geometry_all.volumes(x)
    stats = {"n_cells": len(cells), "n_duplicates_dropped": duplicates,
             "n_seam_clusters": n_seam, "n_seam_cells": int(seam.sum()),
             "n_violations": int(geometry_all.interpenetrating(x).sum())}

    spec = (geometry.name, model, geometry)
    return cells, stats, slide_features(recs, nuclei, geometry_all, x, float(model.plane_z), spec, registry, workers)


@dataclass
class PatchCells:
    """What one patch's share of the slide GeoJSON is built from (small enough to send to a worker)."""

    rec: object  #: the patch's reconstruction: its nuclei, region, label image and tissue (read back from its state)
    nuclei: pd.DataFrame  #: the slide's nuclei near the patch's cells (``near``), its own among them
    own: np.ndarray  #: positions in ``nuclei`` of the patch's own cells
    params: dict  #: every geometry parameter of the slide-level solution, for ``nuclei``
    measurements: dict  #: per own cell: ``z``, ``R`` (the cell's radius) and ``volume``
    types: np.ndarray | None
    plane_z: float
    geometry: tuple  #: (name, model, settings) of the run's geometry


def slide_features(recs, nuclei: pd.DataFrame, geometry, x: np.ndarray, plane_z: float, spec: tuple, registry,
                   workers: int | None = 1) -> Iterator[str]:
    """Every merged cell once, as a QuPath cell feature in the slide's level-0 coordinates (QuPath's
    pixel convention), patch by patch (one patch's label image and tissue read at a time): its region
    at the plane from the slide-level solution, clipped to the visible tissue of its patch where the
    objective found it (as the per-patch exports are), its nucleus from its patch. A generator of each
    patch's features, JSON-encoded (:func:`cellframe.io.qupath.write_collection`), in the slide's
    order, built in up to ``workers`` processes: never held together.

    Each patch's regions are cut among its cells and every cell near enough to touch them, not among
    the whole slide's. ``spec``: the run's geometry as (name, model, settings), from ``registry`` here
    and from the installed plugins in worker processes.
    """
    from scipy.spatial import cKDTree

    from cellframe.parallel import ordered_map

    params = geometry.unpack(x)
    xy = nuclei[["x", "y"]].to_numpy(float)
    reach = 2.0 * float(geometry.semi_axes(x).max())  # two cells farther apart than this never touch
    tree = cKDTree(xy)
    cells = geometry.cells(x)
    volumes = geometry.volumes(x)
    depth = cells["z"].to_numpy(float)
    radius = cells["R"].to_numpy(float) if "R" in cells else geometry.semi_axes(x).prod(axis=1) ** (1 / 3)
    types = nuclei["cell_type"].to_numpy() if "cell_type" in nuclei else None
    by_patch = {rec.sample_id: rec for rec in recs}

    def parts():
        for sample, rows in nuclei.groupby("patch", sort=False).indices.items():
            near = np.unique(np.concatenate([rows, *tree.query_ball_point(xy[rows], reach)]).astype(int))
            yield PatchCells(by_patch[sample], nuclei.iloc[near].reset_index(drop=True), np.searchsorted(near, rows),
                             {name: value[near] for name, value in params.items()},
                             {"z": depth[rows], "R": radius[rows], "volume": volumes[rows]},
                             None if types is None else types[rows], plane_z, spec)

    here = workers is not None and workers < 2
    yield from ordered_map((lambda part: patch_features(part, registry)) if here else patch_features, parts(), workers)


def patch_features(part: PatchCells, registry=None) -> str:
    """One patch's cells as QuPath features (:func:`slide_features`), JSON-encoded and comma-separated
    (``registry``: where the geometry comes from; default: the installed plugins)."""
    import json

    from cellframe.io.outlines import nucleus_outlines
    from cellframe.io.qupath import PIXEL_EDGE, cell_features, feature_id
    from cellframe.registry import default_registry

    rec, region = part.rec, part.rec.region
    name, model, settings = part.geometry
    local = (registry or default_registry()).call("geometry", name, nuclei=part.nuclei, model=model, settings=settings)
    sections = local.sections(local.pack(part.params), part.plane_z)
    mine = part.nuclei.iloc[part.own]
    tissue = rec.tissue  # read once per patch (it may be read back from the patch's state)

    def to_qupath(points):
        return (np.asarray(points, float) + PIXEL_EDGE) * region.downsample

    m = part.measurements
    outlines = nucleus_outlines(rec.labels, rec.nuclei.iloc[mine["cell_index"].to_numpy()])
    outlines = [np.column_stack(region.to_level(o[:, 0], o[:, 1])) for o in outlines]
    ids = [feature_id(region.slide.stem, row.patch, int(row.patch_label)) for row in mine.itertuples(index=False)]
    values = [{"z (px)": float(m["z"][k]), "R (px)": float(m["R"][k]), "Nucleus radius (px)": float(r),
               "Volume (px^3)": float(m["volume"][k])} for k, r in enumerate(mine["r"].to_numpy(float))]
    regions = [_clip_to_tissue(sections[i], region, tissue) for i in part.own]
    encoded = [json.dumps(f) for f in cell_features(ids, regions, outlines, values, part.types, to_qupath)]
    return ",\n".join(encoded)


def _clip_to_tissue(section: np.ndarray, region, tissue: np.ndarray | None) -> np.ndarray:
    """A slide-level cell region (slide coordinates at the patches' pixel size) clipped to the visible
    tissue of its patch (``region``)."""
    from cellframe.model.sections import clip_to_mask

    if tissue is None or len(section) < 3:
        return section
    origin = np.array(region.to_level(0.0, 0.0), float)  # the patch's pixel (0, 0) on the slide
    local = clip_to_mask(np.asarray(section, float) - origin, tissue)
    return local + origin if len(local) else local
