"""Analysis ``spatial``: Moran's I of per-cell features, and distances between cell classes.

Moran's I uses row-standardised k-nearest-neighbour weights; its p-value comes
from random permutations of the values, folded as PySAL's ``p_sim`` (the smaller
tail of the permutation distribution, whichever side the observed I lies on).
The p-values of every patch and feature are Benjamini-Hochberg corrected
together. (esda is not a dependency: it brings libpysal and geopandas for one
statistic of a few lines, checked against its definition in the tests.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from cellframe import hookimpl
from cellframe.stats.analysis import AnalysisError
from cellframe.stats.cohort import seed_for
from cellframe.stats.inference import bh
from cellframe.stages import Stage


@dataclass
class SpatialSettings:
    name: str = "spatial"
    #: per-cell features (cell table columns, or nc_radius / nc_area / nc_volume)
    features: list[str] = field(default_factory=lambda: ["z", "R", "nc_radius"])
    k: int = 8
    permutations: int = 999
    seed: int = 0

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"k={self.k} must be >= 1")
        if self.permutations < 1:
            raise ValueError(f"permutations={self.permutations} must be >= 1")


def knn_neighbours(xy: np.ndarray, k: int) -> np.ndarray:
    """Indices ``(n, k)`` of each point's k nearest other points."""
    k = min(k, len(xy) - 1)
    return cKDTree(xy).query(xy, k=k + 1)[1][:, 1:]


def morans_i(values: np.ndarray, neighbours: np.ndarray) -> float:
    """Moran's I with row-standardised weights over ``neighbours`` (each row sums to 1)."""
    z = np.asarray(values, float) - np.mean(values)
    denom = np.dot(z, z)
    if denom == 0:
        return float("nan")
    lag = z[neighbours].mean(axis=1)
    return float(np.dot(z, lag) / denom)


def moran_test(values: np.ndarray, xy: np.ndarray, k: int = 8, permutations: int = 999,
               rng: np.random.Generator | None = None) -> tuple[float, float]:
    """Moran's I and its permutation p-value."""
    rng = rng or np.random.default_rng(0)
    neighbours = knn_neighbours(xy, k)
    observed = morans_i(values, neighbours)
    values = np.asarray(values, float)
    sims = np.array([morans_i(rng.permutation(values), neighbours) for _ in range(permutations)])
    larger = int((sims >= observed).sum())
    larger = min(larger, permutations - larger)
    return observed, float((larger + 1) / (permutations + 1))


def class_distances(xy: np.ndarray, classes: np.ndarray) -> pd.DataFrame:
    """Mean distance from the cells of each class to the nearest cell of each other class."""
    classes = np.asarray(classes).astype(str)
    rows = []
    for a in np.unique(classes):
        for b in np.unique(classes):
            if a == b:
                continue
            dist, _ = cKDTree(xy[classes == b]).query(xy[classes == a])
            rows.append({"from": a, "to": b, "mean_nn_distance": float(dist.mean()), "n_from": int((classes == a).sum())})
    return pd.DataFrame(rows)


@hookimpl
def cellframe_stages():
    return [Stage("analysis", "spatial", SpatialSettings, "Moran's I of z, R, N/C; class nearest-neighbour distances")]


@hookimpl
def cellframe_analyze(reconstructions, outdir, settings):
    rows, distances = [], []
    for rec in reconstructions:
        cells = rec.cell_features[rec.owned]  # a slide patch's own cells, as the patch itself
        if len(cells) <= settings.k:
            continue
        xy = cells[["x", "y"]].to_numpy(float)
        for feature in settings.features:
            if feature not in cells:
                raise AnalysisError(f"spatial: no per-cell feature {feature!r} (have {list(cells.columns)})")
            values = cells[feature].to_numpy(float)
            ok = np.isfinite(values)
            i, p = moran_test(values[ok], xy[ok], settings.k, settings.permutations,
                              seed_for(settings.seed, f"{rec.sample_id}/{feature}"))
            rows.append({"sample_id": rec.sample_id, "feature": feature, "morans_i": i, "pvalue": p})
        if "cell_type" in cells:
            distances.append(class_distances(xy, cells["cell_type"].to_numpy()).assign(sample_id=rec.sample_id))
    if not rows:
        raise AnalysisError(f"spatial: no patch has more than k={settings.k} cells")
    table = pd.DataFrame(rows)
    table["qvalue"] = bh(table["pvalue"])
    table.to_csv(outdir / "morans_i.csv", index=False)
    if distances:
        pd.concat(distances).to_csv(outdir / "class_distances.csv", index=False)
    means = table.groupby("feature")["morans_i"].mean()
    significant = table.groupby("feature")["qvalue"].apply(lambda q: int((q < 0.05).sum()))
    return {f"morans_i_{feature}": float(value) for feature, value in means.items()} | {
        f"n_patches_q05_{feature}": significant[feature] for feature in means.index}
