"""One patch from nuclei to cells: build the geometry and problem, run the optimizer."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from cellframe.model.objective import Objective
from cellframe.model.problem import OptimizeResult, Problem
from cellframe.model.reconstruction import Reconstruction
from cellframe.registry import Registry


def reconstruct(
    nuclei: pd.DataFrame,
    *,
    registry: Registry,
    model,
    geometry,
    optimizer,
    rng: np.random.Generator,
    sample_id: str = "patch",
    objective=None,
    image: np.ndarray | None = None,
    mpp: float = 0.25,
    samples: int = 1,
    unlisted: np.ndarray | None = None,
) -> Reconstruction:
    """Optimise a cell around every nucleus.

    With ``optimizer.decompose`` (the default) only nuclei that overlap another
    in 2D are searched, each connected cluster independently; an isolated
    nucleus has no constraint with any other, so it keeps its (random,
    in-bounds, zero-penalty) starting depth and radius.

    :param geometry: the geometry stage's settings (``name`` selects the plugin).
    :param optimizer: the optimizer stage's settings.
    :param objective: the objective stage's settings (None: the paper's, CellSqueeze3D).
    :param image: the RGB image, for objectives that read evidence from it.
    :param samples: posterior draws for the per-cell intervals, where the objective can draw them.
    :param unlisted: ``(k, 3)`` x, y, r of nuclei the image shows that the segmentation left out.
    """
    full = registry.call("geometry", geometry.name, nuclei=nuclei, model=model, settings=geometry)
    if objective is None:
        goal = Objective(full, model)
    else:
        goal = registry.call("objective", objective.name, geometry=full, image=image, model=model, mpp=mpp,
                             settings=objective, rng=rng, samples=samples, unlisted=unlisted)
    x = goal.start(rng)  # isolated nuclei keep this: for the paper any in-bounds value costs nothing
    decompose = bool(getattr(optimizer, "decompose", True))
    if decompose:
        comp = full.components()
        active = np.bincount(comp)[comp] >= 2 if full.n else np.zeros(0, bool)
        if goal.per_nucleus():
            active = np.ones(full.n, bool)
        target = goal.subset(active) if active.any() else None
    else:
        active = np.ones(full.n, bool)
        target = goal if full.n else None

    start = time.perf_counter()
    if target is None:
        result = OptimizeResult(x=np.empty(0), history=np.zeros(0))
    else:
        problem = Problem(target, decompose=decompose)
        result = registry.call("optimizer", optimizer.name, problem=problem, settings=optimizer, rng=rng)
        params = {name: values.copy() for name, values in full.unpack(x).items()}
        found = target.geometry.unpack(result.x)
        for name in full.param_names:
            params[name][active] = found[name]
        x = full.pack(params)
    optimize_seconds = time.perf_counter() - start

    feasibility, repaired = None, 0
    low, high = goal.depth_range()
    depth_order = getattr(full, "depth_order", None)  # an optional geometry capability
    if depth_order is not None:
        feasibility, x, repaired = depth_order(x, (low, high), rng, repair=getattr(model, "repair", True))
    terms = {term: float(items.sum()) for term, items in full.penalties(x[None, :]).items()}
    return Reconstruction(
        sample_id=sample_id,
        nuclei=nuclei.reset_index(drop=True),
        geometry=full,
        x=x,
        history=np.asarray(result.history, float),
        penalties=terms,
        plane_z=float(model.plane_z),
        timings={"optimize_seconds": optimize_seconds},
        optimizer={"evaluations": int(result.evaluations), "n_searched": int(active.sum()), "n_repaired": repaired},
        feasibility=feasibility,
        section=goal.section,
        depth_range=(low, high),
        extra=goal.cell_columns(x),
        spread=goal.intervals(x),
        tissue=goal.visible_tissue(),
        evidence=goal.diagnostics(),
    )
