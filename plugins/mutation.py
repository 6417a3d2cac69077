"""Analysis ``mutation``: per gene, cross-validated AUROC of a classifier from N/C features."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pandas as pd

from cellframe import hookimpl
from cellframe.analysis import AnalysisError, pyplot, save_figure
from cellframe.cohort import join_patients, patch_features, read_features, read_mutations
from cellframe.stages import Stage


@dataclass
class MutationSettings:
    name: str = "mutation"
    #: genes x samples table of 0/1 mutation calls
    status: Optional[str] = None
    #: per-sample features table; None = features of this run's reconstructions
    features: Optional[str] = None
    #: feature columns to use; empty = all
    columns: list[str] = field(default_factory=list)
    folds: int = 5
    #: genes whose median AUROC exceeds this are listed
    threshold: float = 0.65
    seed: int = 0

    def __post_init__(self) -> None:
        if self.folds < 2:
            raise ValueError(f"folds={self.folds} must be >= 2")


def mutation_auroc(features: pd.DataFrame, status: pd.DataFrame, folds: int = 5, seed: int = 0) -> pd.DataFrame:
    """Stratified ``folds``-fold AUROC per gene of a class-balanced logistic regression.

    :param features: samples x features; :param status: samples x genes (0/1).
    :return: one row per gene: ``n_mutated``, ``n_wildtype``, ``auroc_median`` and the fold AUROCs
        (``auroc_min``, ``auroc_max``); genes with fewer than ``folds`` samples in a class are
        listed with NaN AUROC.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, Y = join_patients(features, status, what="mutation", minimum=2 * folds)
    rows = []
    for gene in Y.columns:
        y = pd.to_numeric(Y[gene], errors="coerce")
        keep = y.notna()
        y = y[keep].astype(int)
        n_mut, n_wt = int(y.sum()), int((1 - y).sum())
        row = {"gene": gene, "n_mutated": n_mut, "n_wildtype": n_wt,
               "auroc_median": np.nan, "auroc_min": np.nan, "auroc_max": np.nan}
        if min(n_mut, n_wt) >= folds:
            model = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced"))
            cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
            scores = cross_val_score(model, X.loc[keep].to_numpy(float), y.to_numpy(), cv=cv, scoring="roc_auc")
            row |= {"auroc_median": float(np.median(scores)), "auroc_min": float(scores.min()),
                    "auroc_max": float(scores.max())}
        rows.append(row)
    return pd.DataFrame(rows).sort_values("auroc_median", ascending=False, na_position="last").reset_index(drop=True)


def forest_plot(table: pd.DataFrame, threshold: float, path) -> None:
    plt = pyplot()
    table = table.dropna(subset=["auroc_median"]).iloc[::-1]
    fig, ax = plt.subplots(figsize=(5, 0.3 * len(table) + 1.2))
    y = np.arange(len(table))
    ax.errorbar(table["auroc_median"], y, xerr=[table["auroc_median"] - table["auroc_min"],
                                                table["auroc_max"] - table["auroc_median"]], fmt="o", ms=4, capsize=2)
    ax.set_yticks(y, table["gene"])
    ax.axvline(0.5, color="grey", lw=0.8, ls=":")
    ax.axvline(threshold, color="tab:red", lw=0.8, ls="--")
    ax.set_xlabel("AUROC (median, fold range)")
    fig.tight_layout()
    save_figure(fig, path)


@hookimpl
def cellframe_stages():
    return [Stage("analysis", "mutation", MutationSettings, "cross-validated AUROC per gene from N/C features")]


@hookimpl
def cellframe_analyze(reconstructions, outdir, settings):
    if not settings.status:
        raise AnalysisError("mutation: set analysis.mutation.status=PATH (genes x samples, 0/1)")
    features = read_features(settings.features) if settings.features else patch_features(reconstructions)
    if settings.columns:
        features = features[list(settings.columns)]
    table = mutation_auroc(features.select_dtypes("number"), read_mutations(settings.status), settings.folds, settings.seed)
    table.to_csv(outdir / "mutation.csv", index=False)
    forest_plot(table, settings.threshold, outdir / "mutation.png")
    scored = table.dropna(subset=["auroc_median"])
    return {"n_genes": len(scored), "n_genes_above_threshold": int((scored["auroc_median"] > settings.threshold).sum()),
            "best_auroc": float(scored["auroc_median"].max()) if len(scored) else float("nan")}
