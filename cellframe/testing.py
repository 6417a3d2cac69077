"""A test kit for plugins: does a stage honour its contract?

Use it from a plugin's own tests (the built-in plugins' tests do)::

    from cellframe.registry import build_registry
    from cellframe.testing import check_optimizer

    def test_my_optimizer_honours_the_contract():
        check_optimizer(build_registry(), "random_search")

Each check builds a small known case, calls the stage through the registry (as
a run does) and raises ``AssertionError`` naming what is wrong.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from cellframe.config import ModelConfig
from cellframe.io.nuclei import NUCLEI_COLUMNS
from cellframe.model.problem import Problem
from cellframe.registry import Registry


def settings_for(registry: Registry, kind: str, name: str, **values):
    """A stage's settings object: its schema's defaults, with ``values`` over them."""
    node = OmegaConf.merge(OmegaConf.structured(registry.stage(kind, name).schema), values)
    return OmegaConf.to_object(node)


def small_nuclei(seed: int = 0, n: int = 14) -> pd.DataFrame:
    """A nuclei table with clusters of overlapping discs and isolated ones (120 x 120 px)."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(15, 105, size=(n, 2))
    centres[1] = centres[0] + [9.0, 0.0]  # at least one overlapping pair
    r = rng.uniform(5, 8, n)
    return pd.DataFrame({"label": np.arange(1, n + 1), "x": centres[:, 0], "y": centres[:, 1], "r": r,
                         "area": np.pi * r**2})


def check_geometry(registry: Registry, name: str, model=None, **values) -> None:
    """Bounds, initial swarm, penalties, cell table, volumes and mesh keep their shapes and meaning."""
    model = model or ModelConfig()
    nuclei = small_nuclei()
    geometry = registry.call("geometry", name, nuclei=nuclei, model=model,
                             settings=settings_for(registry, "geometry", name, **values))
    lower, upper = (np.asarray(b) for b in geometry.bounds())
    assert lower.shape == upper.shape == (geometry.dim,), f"{name}: bounds must have one value per dimension"
    assert (lower <= upper).all(), f"{name}: a lower bound exceeds its upper bound"
    X = geometry.initial(np.random.default_rng(0), 5)
    assert X.shape == (5, geometry.dim), f"{name}: initial() must return (particles, dim)"
    assert ((X >= lower - 1e-9) & (X <= upper + 1e-9)).all(), f"{name}: initial() leaves the bounds"
    owners = geometry.penalty_owners()
    for term, items in geometry.penalties(X).items():
        assert items.shape == (5, len(owners[term])), f"{name}: penalty {term!r} items do not match its owners"
        assert (items >= 0).all(), f"{name}: penalty {term!r} is negative"
    x = X[0]
    cells = geometry.cells(x)
    assert len(cells) == geometry.n and {"x", "y", "z"} <= set(cells.columns), f"{name}: cells() needs x, y, z per nucleus"
    assert geometry.semi_axes(x).shape == (geometry.n, 3), f"{name}: semi_axes() must be (n, 3)"
    assert (geometry.volumes(x) > 0).all(), f"{name}: cell volumes must be positive"
    assert len(geometry.sections(x, 0.0)) == geometry.n, f"{name}: sections() needs one polygon per cell"
    assert len(geometry.mesh(x).faces) > 0, f"{name}: mesh() is empty"
    assert geometry.interpenetrating(x).shape == (len(geometry.pairs),), f"{name}: interpenetrating() is per pair"


def check_optimizer(registry: Registry, name: str, **values) -> None:
    """The result lies within the bounds, reports its convergence and is the same for the same seed."""
    nuclei = small_nuclei()
    settings = settings_for(registry, "optimizer", name, **values)
    geometry = registry.call("geometry", "sphere", nuclei=nuclei, model=ModelConfig(),
                             settings=settings_for(registry, "geometry", "sphere"))
    problem = Problem(geometry, decompose=bool(getattr(settings, "decompose", True)))
    runs = [registry.call("optimizer", name, problem=problem, settings=settings, rng=np.random.default_rng(7))
            for _ in range(2)]
    x = np.asarray(runs[0].x)
    assert x.shape == (problem.dim,), f"{name}: x must have one value per dimension"
    assert ((x >= problem.lower - 1e-9) & (x <= problem.upper + 1e-9)).all(), f"{name}: the result leaves the bounds"
    assert len(runs[0].history) >= 1, f"{name}: history must hold at least the starting fitness"
    assert np.array_equal(x, runs[1].x), f"{name}: the same seed must give the same result"
    assert problem.total(x)[0] <= runs[0].history[0] + 1e-9, f"{name}: the result is worse than the start"


def check_exporter(registry: Registry, name: str, reconstruction, outdir: Path, **values) -> list[Path]:
    """The files it says it wrote exist, are not empty, and no half-written file is left behind."""
    outdir.mkdir(parents=True, exist_ok=True)
    paths = registry.call("exporter", name, reconstruction=reconstruction, outdir=outdir,
                          settings=settings_for(registry, "exporter", name, **values))
    assert paths, f"{name}: an exporter returns the paths it wrote"
    for path in paths:
        assert Path(path).is_file() and Path(path).stat().st_size > 0, f"{name}: {path} is missing or empty"
    assert not list(outdir.glob(".*.part")), f"{name}: half-written files left in {outdir}"
    return [Path(p) for p in paths]


def check_segmenter(registry: Registry, name: str, image=None, mask=None, mask_path=None, mpp: float = 0.25,
                    **values) -> pd.DataFrame:
    """The nuclei table has the required columns, finite centres and positive radii."""
    table = registry.call("segmenter", name, image=image, mask=mask, mask_path=mask_path, mpp=mpp,
                          settings=settings_for(registry, "segmenter", name, **values))
    missing = [c for c in NUCLEI_COLUMNS if c not in table.columns]
    assert not missing, f"{name}: the nuclei table lacks {missing}"
    values_ = table[["x", "y", "r"]].to_numpy(float)
    assert np.isfinite(values_).all() and (table["r"] > 0).all(), f"{name}: non-finite centres or radii"
    return table
