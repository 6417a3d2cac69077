"""Analysis ``mutation``: per gene, cross-validated AUROC of a classifier from N/C features.

A class-balanced logistic regression is scored by out-of-fold AUROC under
stratified k-fold cross-validation grouped by patient (no patient in both a
training and a test fold), repeated ``repeats`` times: the AUROC is the median
over repeats, with the 2.5-97.5 % range as its interval. Its p-value comes from
``permutations`` label shuffles (one cross-validation each), and the genes are
Benjamini-Hochberg corrected together. A gene passes when its q-value is below
``fdr``; ``threshold`` only marks the figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Optional

import numpy as np
import pandas as pd

from cellframe import hookimpl
from cellframe.stats.analysis import AnalysisError, CohortSettings, pyplot, save_figure
from cellframe.stats.cohort import join_patients, read_mutations
from cellframe.stats.feature_null import cohort_features
from cellframe.stats.inference import bh
from cellframe.stages import Stage


@dataclass
class MutationSettings(CohortSettings):
    name: str = "mutation"
    #: inputs the run checks before any patch
    required: ClassVar[tuple[str, ...]] = ("status",)
    #: genes x samples table of 0/1 mutation calls
    status: Optional[str] = None
    #: feature columns to use; empty = all
    columns: list[str] = field(default_factory=list)
    folds: int = 5
    #: repeated cross-validations (the AUROC interval) and label permutations (its p-value)
    repeats: int = 10
    permutations: int = 99
    #: genes with q below this pass; threshold marks the figure
    fdr: float = 0.05
    threshold: float = 0.65

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.folds < 2:
            raise ValueError(f"folds={self.folds} must be >= 2")
        if self.repeats < 1 or self.permutations < 19:
            raise ValueError(f"repeats={self.repeats} must be >= 1 and permutations={self.permutations} >= 19")


def out_of_fold_auroc(X: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: int, seed: int) -> float:
    """AUROC of out-of-fold probabilities, folds stratified by ``y`` and grouped by ``groups``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced"))
    grouped = len(np.unique(groups)) < len(groups)  # one row per patient needs no grouping (and is faster)
    cv = (StratifiedGroupKFold if grouped else StratifiedKFold)(folds, shuffle=True, random_state=seed)
    scores = cross_val_predict(model, X, y, groups=groups if grouped else None, cv=cv, method="predict_proba")[:, 1]
    return float(roc_auc_score(y, scores))


def mutation_auroc(features: pd.DataFrame, status: pd.DataFrame, folds: int = 5, seed: int = 0, repeats: int = 10,
                   permutations: int = 99, sample_types: tuple[str, ...] = ("01",)) -> pd.DataFrame:
    """Per gene: repeated grouped CV AUROC (median and 95 % range), permutation p-value and BH q-value.

    :param features: samples x features; :param status: samples x genes (0/1).
    :return: one row per gene; genes with fewer than ``folds`` patients in a class have NaN AUROC.
    """
    X, Y = join_patients(features, status, what="mutation", minimum=2 * folds, sample_types=sample_types)
    groups = X.index.to_numpy()  # one row per patient: CV folds never split a patient
    rows = []
    for gene in Y.columns:
        y = pd.to_numeric(Y[gene], errors="coerce")
        keep = (y.notna() & X.notna().all(axis=1)).to_numpy()
        yk = y[keep].astype(int).to_numpy()
        n_mut, n_wt = int(yk.sum()), int((1 - yk).sum())
        row = {"gene": gene, "n_mutated": n_mut, "n_wildtype": n_wt, "auroc_median": np.nan,
               "auroc_low": np.nan, "auroc_high": np.nan, "pvalue": np.nan}
        if min(n_mut, n_wt) >= folds:
            Xk, gk = X.loc[keep].to_numpy(float), groups[keep]
            scores = np.array([out_of_fold_auroc(Xk, yk, gk, folds, seed + r) for r in range(repeats)])
            rng = np.random.default_rng(seed)
            null = np.array([out_of_fold_auroc(Xk, rng.permutation(yk), gk, folds, seed) for _ in range(permutations)])
            observed = float(np.median(scores))
            row |= {"auroc_median": observed, "auroc_low": float(np.percentile(scores, 2.5)),
                    "auroc_high": float(np.percentile(scores, 97.5)),
                    "pvalue": float((1 + np.sum(null >= observed)) / (permutations + 1))}
        rows.append(row)
    table = pd.DataFrame(rows)
    table["qvalue"] = bh(table["pvalue"])
    return table.sort_values("auroc_median", ascending=False, na_position="last").reset_index(drop=True)


def forest_plot(table: pd.DataFrame, threshold: float, path) -> None:
    plt = pyplot()
    table = table.dropna(subset=["auroc_median"]).iloc[::-1]
    fig, ax = plt.subplots(figsize=(5, 0.3 * len(table) + 1.2))
    y = np.arange(len(table))
    ax.errorbar(table["auroc_median"], y, xerr=[table["auroc_median"] - table["auroc_low"],
                                                table["auroc_high"] - table["auroc_median"]], fmt="o", ms=4, capsize=2)
    ax.set_yticks(y, [f"{g} (q={q:.2f})" for g, q in zip(table["gene"], table["qvalue"])])
    ax.axvline(0.5, color="grey", lw=0.8, ls=":")
    ax.axvline(threshold, color="tab:red", lw=0.8, ls="--")
    ax.set_xlabel("AUROC (median and 95 % range over repeated CV)")
    fig.tight_layout()
    save_figure(fig, path)


@hookimpl
def cellframe_stages():
    return [Stage("analysis", "mutation", MutationSettings, "cross-validated AUROC per gene from N/C features")]


@hookimpl
def cellframe_analyze(reconstructions, outdir, settings):
    if not settings.status:
        raise AnalysisError("mutation: set analysis.mutation.status=PATH (genes x samples, 0/1)")
    features, checks = cohort_features(reconstructions, settings, "mutation", list(settings.columns), outdir)
    table = mutation_auroc(features.select_dtypes("number"), read_mutations(settings.status), settings.folds,
                           settings.seed, settings.repeats, settings.permutations, tuple(settings.sample_types))
    table.to_csv(outdir / "mutation.csv", index=False)
    forest_plot(table, settings.threshold, outdir / "mutation.png")
    scored = table.dropna(subset=["auroc_median"])
    metrics = {"n_genes": len(scored), "n_genes_passing": int((scored["qvalue"] < settings.fdr).sum()),
               "best_auroc": float(scored["auroc_median"].max()) if len(scored) else float("nan"),
               "min_qvalue": float(scored["qvalue"].min()) if len(scored) else float("nan")}
    if checks is not None:
        metrics["n_features_beyond_null"] = int((checks["verdict"] == "beyond null").sum())
    return metrics
