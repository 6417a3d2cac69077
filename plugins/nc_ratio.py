"""Analysis ``nc_ratio``: N/C ratios, their entropy per patch, and a random-size null model.

The null gives every cell a radius drawn uniformly from ``[alpha r, beta r]``
(what the radius bounds alone allow, ignoring the tissue). Two-sided KS tests
compare the optimized and null N/C distributions: pooled over cells, and the
per-patch entropies across patches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

from cellframe import hookimpl
from cellframe.analysis import AnalysisError, pyplot, save_figure
from cellframe.cohort import seed_for
from cellframe.io import atomic_path
from cellframe.nc import FORMS, null_radii, shannon_entropy
from cellframe.stages import Stage


@dataclass
class NCRatioSettings:
    name: str = "nc_ratio"
    #: histogram bins over [0, 1] for the entropy
    bins: int = 20
    #: seed of the null model's radii
    seed: int = 0

    def __post_init__(self) -> None:
        if self.bins < 2:
            raise ValueError(f"bins={self.bins} must be >= 2")


def nc_versus_null(reconstructions, bins: int = 20, seed: int = 0) -> tuple[pd.DataFrame, dict, dict]:
    """Per-patch entropies (optimized and null), pooled per-cell ratios, and the KS tests."""
    rows, pooled, pooled_null = [], [], []
    for rec in reconstructions:
        cells = rec.cells
        ratios = rec.nc_ratios
        model = rec.geometry.model
        R0 = null_radii(cells["r"].to_numpy(), float(model.alpha), float(model.beta), seed_for(seed, rec.sample_id))
        null = cells["r"].to_numpy() / R0
        row = {"sample_id": rec.sample_id, "n_cells": len(cells)}
        row |= {f"entropy_{form}": shannon_entropy(ratios[form], bins) for form in FORMS}
        row["null_entropy_radius"] = shannon_entropy(null, bins)
        row["null_entropy_volume"] = shannon_entropy(null**3, bins)
        rows.append(row)
        pooled.append(ratios["radius"].to_numpy())
        pooled_null.append(null)
    table = pd.DataFrame(rows)
    cells_opt, cells_null = np.concatenate(pooled), np.concatenate(pooled_null)
    ks_cells = ks_2samp(cells_opt, cells_null)
    ks_patches = ks_2samp(table["entropy_radius"], table["null_entropy_radius"])
    metrics = {
        "entropy_radius_mean": float(table["entropy_radius"].mean()),
        "entropy_area_mean": float(table["entropy_area"].mean()),
        "entropy_volume_mean": float(table["entropy_volume"].mean()),
        "null_entropy_radius_mean": float(table["null_entropy_radius"].mean()),
        "ks_cells_statistic": float(ks_cells.statistic),
        "ks_cells_pvalue": float(ks_cells.pvalue),
        "ks_patches_statistic": float(ks_patches.statistic),
        "ks_patches_pvalue": float(ks_patches.pvalue),
    }
    return table, metrics, {"optimized": cells_opt, "null": cells_null}


def plot(table: pd.DataFrame, cells: dict, outdir) -> None:
    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.6))
    a.scatter(table["null_entropy_radius"], table["entropy_radius"], s=18)
    lo = float(np.nanmin(table[["null_entropy_radius", "entropy_radius"]].to_numpy())) - 0.1
    hi = float(np.nanmax(table[["null_entropy_radius", "entropy_radius"]].to_numpy())) + 0.1
    a.plot([lo, hi], [lo, hi], color="grey", lw=0.8, ls=":")
    a.set_xlabel("null N/C entropy (bits)")
    a.set_ylabel("optimized N/C entropy (bits)")
    a.set_title("per patch")
    for label, values in cells.items():
        values = np.sort(values)
        b.step(values, np.arange(1, len(values) + 1) / len(values), where="post", label=label)
    b.set_xlabel("N/C ratio (r / R)")
    b.set_ylabel("cumulative share of cells")
    b.legend()
    b.set_title("all cells")
    fig.tight_layout()
    save_figure(fig, outdir / "nc_ratio.png")


@hookimpl
def cellframe_stages():
    return [Stage("analysis", "nc_ratio", NCRatioSettings, "N/C ratios, entropy per patch, KS test against a random-size null")]


@hookimpl
def cellframe_analyze(reconstructions, outdir, settings):
    if not reconstructions:
        raise AnalysisError("nc_ratio: no reconstructed patches")
    table, metrics, cells = nc_versus_null(reconstructions, settings.bins, settings.seed)
    with atomic_path(outdir / "nc_ratio.csv") as tmp:
        table.to_csv(tmp, index=False)
    plot(table, cells, outdir)
    return metrics
