"""Analysis ``stage``: association of a feature with TNM T, N and M categories.

Two categories: Mann-Whitney U with the rank-biserial correlation as effect
size; three or more: Kruskal-Wallis H with epsilon squared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd
from scipy.stats import kruskal, mannwhitneyu

from cellframe import hookimpl
from cellframe.analysis import AnalysisError, pyplot, save_figure
from cellframe.cohort import feature_values, join_patients, read_matrix
from cellframe.stages import Stage


@dataclass
class StageSettings:
    name: str = "stage"
    #: stages table: rows ID, TNM_M, TNM_N, TNM_T across samples
    stages: Optional[str] = None
    features: Optional[str] = None
    feature: str = "nc_entropy"


def group_test(groups: dict[str, np.ndarray]) -> dict:
    """Mann-Whitney (2 groups) or Kruskal-Wallis (3+), with an effect size."""
    values = [np.asarray(v, float) for v in groups.values()]
    n = sum(len(v) for v in values)
    if len(values) == 2:
        a, b = values
        u, p = mannwhitneyu(a, b, alternative="two-sided")
        return {"test": "mann-whitney", "statistic": float(u), "pvalue": float(p),
                "effect": float(2 * u / (len(a) * len(b)) - 1), "effect_size": "rank-biserial", "n": n}
    h, p = kruskal(*values)
    return {"test": "kruskal-wallis", "statistic": float(h), "pvalue": float(p),
            "effect": float(h / (n - 1)), "effect_size": "epsilon-squared", "n": n}


def stage_association(values: pd.Series, stages: pd.DataFrame) -> pd.DataFrame:
    """One row per stage column with at least two categories holding a sample each."""
    feats, stg = join_patients(values.to_frame("value"), stages, what="stage", minimum=3)
    rows = []
    for column in stg.columns:
        cats = stg[column].astype(str)
        groups = {c: feats.loc[cats == c, "value"].to_numpy() for c in sorted(cats.unique()) if c.lower() not in ("nan", "nx", "mx", "tx")}
        groups = {c: v for c, v in groups.items() if len(v)}
        if len(groups) < 2:
            continue
        rows.append({"stage": column, "categories": ",".join(groups), **group_test(groups)})
    if not rows:
        raise AnalysisError("stage: no stage column has two categories with samples")
    return pd.DataFrame(rows)


def box_plots(values: pd.Series, stages: pd.DataFrame, table: pd.DataFrame, path) -> None:
    plt = pyplot()
    feats, stg = join_patients(values.to_frame("value"), stages, what="stage", minimum=3)
    fig, axes = plt.subplots(1, len(table), figsize=(3.2 * len(table), 3.2), squeeze=False)
    for ax, row in zip(axes[0], table.itertuples()):
        cats = row.categories.split(",")
        ax.boxplot([feats.loc[stg[row.stage].astype(str) == c, "value"] for c in cats], tick_labels=cats)
        ax.set_title(f"{row.stage}: p = {row.pvalue:.3g}")
    fig.tight_layout()
    save_figure(fig, path)


@hookimpl
def cellframe_stages():
    return [Stage("analysis", "stage", StageSettings, "feature vs TNM categories (Mann-Whitney / Kruskal-Wallis)")]


@hookimpl
def cellframe_analyze(reconstructions, outdir, settings):
    if not settings.stages:
        raise AnalysisError("stage: set analysis.stage.stages=PATH")
    values = feature_values(reconstructions, settings.features, settings.feature)
    stages = read_matrix(settings.stages)
    table = stage_association(values, stages)
    table.to_csv(outdir / "stage.csv", index=False)
    box_plots(values, stages, table, outdir / "stage.png")
    return {f"{row.stage}_pvalue": row.pvalue for row in table.itertuples()} | {
        f"{row.stage}_effect": row.effect for row in table.itertuples()}
