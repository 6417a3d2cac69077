"""Analysis ``nc_ratio``: N/C ratios, their entropy per patch, and each feature against its null.

The null (:mod:`cellframe.stats.feature_null`) keeps every nucleus and draws each
cell's parameters uniformly within the geometry's bounds (``R`` in
``[alpha r, beta r]``, ``z`` in the section), ``draws`` times per patch. Each
per-patient feature gets a Monte-Carlo p-value against its null and a verdict:
``beyond null``, ``like null`` (the reconstruction adds nothing a random arrangement
of the same nuclei would not give) or ``2D only`` (the feature does not depend
on the 3D reconstruction). The per-patch table sets each patch's observed
entropy beside the null's mean and spread; the pooled N/C distributions are
compared by their KS distance (a description, not a test: cells of one patch
are not independent).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

from cellframe import hookimpl
from cellframe.stats.analysis import AnalysisError, check_null_patches, pyplot, save_figure
from cellframe.stats.cohort import seed_for
from cellframe.stats.feature_null import (BEYOND, fill_null_rows, null_patch_rows, null_reconstruction, null_sample,
                                          run_null_test)
from cellframe.io.files import atomic_path
from cellframe.model.nc import FORMS, shannon_entropy
from cellframe.stages import Stage


@dataclass
class NCRatioSettings:
    name: str = "nc_ratio"
    #: histogram bins over [0, 1] for the entropy
    bins: int = 20
    #: null reconstructions per patch, and the Monte-Carlo p-value a feature must reach
    draws: int = 99
    alpha: float = 0.05
    seed: int = 0
    #: patches per patient the null reconstructions are drawn for (a seeded sample; None = all):
    #: bounds the test's cost on a slide of thousands of patches (the others get no per-patch null)
    null_patches: Optional[int] = None
    #: processes the null reconstructions are computed in (None: the CPUs the run may use); 1 = in
    #: the run's own process
    workers: Optional[int] = 1

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers={self.workers} must be >= 1 (or null: the CPUs)")
        if self.bins < 2:
            raise ValueError(f"bins={self.bins} must be >= 2")
        if self.draws < 19:
            raise ValueError(f"draws={self.draws} must be >= 19 (a Monte-Carlo p-value of 0.05 needs 19)")
        check_null_patches(self.null_patches)


def per_patch(reconstructions, bins: int, draws: int, seed: int, null_patches: int | None = None,
              workers: int | None = 1) -> tuple[pd.DataFrame, dict]:
    """Each patch's observed entropies beside the null's mean and sd (patches in the null sample, their
    null reconstructions in up to ``workers`` processes); the pooled ratios of the sampled patches
    (observed, one null draw)."""
    rows, pooled, pooled_null = [], [], []
    sample = null_sample(reconstructions, null_patches, seed)
    fill_null_rows(sample, draws, seed, bins, workers)
    sampled = {rec.sample_id for rec in sample}
    for rec in reconstructions:
        ratios = rec.nc_ratios[rec.owned]
        null = null_patch_rows(rec, draws, seed, bins) if rec.sample_id in sampled else []
        row = {"sample_id": rec.sample_id, "n_cells": len(ratios),
               "n_at_plane": int(ratios["area"].notna().sum())}
        for form in FORMS:
            sims = np.array([n[f"nc_entropy_{form}"] for n in null])
            row |= {f"entropy_{form}": shannon_entropy(ratios[form], bins),
                    f"null_entropy_{form}_mean": float(np.nanmean(sims)) if null else np.nan,
                    f"null_entropy_{form}_sd": float(np.nanstd(sims, ddof=1)) if null else np.nan}
        rows.append(row)
        if null:
            pooled.append(ratios["radius"].to_numpy())
            drawn = null_reconstruction(rec, seed_for(seed, rec.sample_id, 1))
            pooled_null.append(drawn.nc_ratios.loc[drawn.owned, "radius"].to_numpy())
    return pd.DataFrame(rows), {"observed": np.concatenate(pooled), "null draw": np.concatenate(pooled_null)}


def plot(table: pd.DataFrame, cells: dict, outdir) -> None:
    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.6))
    a.errorbar(table["null_entropy_radius_mean"], table["entropy_radius"], xerr=2 * table["null_entropy_radius_sd"],
               fmt="o", ms=4, capsize=2)
    values = table[["null_entropy_radius_mean", "entropy_radius"]].to_numpy()
    lo, hi = float(np.nanmin(values)) - 0.1, float(np.nanmax(values)) + 0.1
    a.plot([lo, hi], [lo, hi], color="grey", lw=0.8, ls=":")
    a.set_xlabel("null N/C entropy (bits; mean, 2 sd)")
    a.set_ylabel("reconstructed N/C entropy (bits)")
    a.set_title("per patch")
    for label, values in cells.items():
        values = np.sort(values[np.isfinite(values)])
        b.step(values, np.arange(1, len(values) + 1) / len(values), where="post", label=label)
    b.set_xlabel("N/C ratio (r / R)")
    b.set_ylabel("cumulative share of cells")
    b.legend()
    b.set_title("all cells")
    fig.tight_layout()
    save_figure(fig, outdir / "nc_ratio.png")


@hookimpl
def cellframe_stages():
    return [Stage("analysis", "nc_ratio", NCRatioSettings, "N/C ratios and entropy per patch, each feature against its null")]


@hookimpl
def cellframe_analyze(reconstructions, outdir, settings):
    if not reconstructions:
        raise AnalysisError("nc_ratio: no reconstructed patches")
    table, cells = per_patch(reconstructions, settings.bins, settings.draws, settings.seed, settings.null_patches,
                             settings.workers)
    checks = run_null_test(reconstructions, settings.draws, settings.seed, settings.bins, settings.alpha,
                           settings.null_patches, settings.workers)
    with atomic_path(outdir / "nc_ratio.csv") as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(outdir / "feature_null.csv") as tmp:
        checks.to_csv(tmp)
    plot(table, cells, outdir)
    tested = checks.dropna(subset=["pvalue"])
    metrics = {f"entropy_{form}_mean": float(table[f"entropy_{form}"].mean()) for form in FORMS}
    metrics |= {"null_entropy_radius_mean": float(table["null_entropy_radius_mean"].mean()),
                "ks_cells_distance": float(ks_2samp(cells["observed"], cells["null draw"]).statistic),
                "share_at_plane": float(table["n_at_plane"].sum() / max(table["n_cells"].sum(), 1)),
                "n_features_beyond_null": int((tested["verdict"] == BEYOND).sum()),
                "n_features_tested": len(tested)}
    metrics |= {f"null_pvalue_{feature}": float(row.pvalue) for feature, row in tested.iterrows()}
    return metrics
