"""Analysis ``stage``: association of a feature with TNM T, N and M categories.

Two categories: Mann-Whitney U with the rank-biserial correlation as effect
size; three or more: Kruskal-Wallis H with epsilon squared. p-values are
permutation p-values (exact where the permutations can be enumerated, as at
small n), effect sizes carry bootstrap intervals, and the stage columns are
Benjamini-Hochberg corrected together. Categories with fewer than
``min_group`` patients are left out and named; a column with fewer than
``min_patients`` patients is not tested.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

import numpy as np
import pandas as pd
from scipy.stats import kruskal, mannwhitneyu

from cellframe import hookimpl
from cellframe.stats.analysis import AnalysisError, CohortSettings, pyplot, save_figure
from cellframe.stats.cohort import join_patients, read_matrix
from cellframe.stats.feature_null import cohort_features, null_metrics
from cellframe.stats.inference import bh, bootstrap_interval, permutation_pvalue
from cellframe.stages import Stage

#: TNM categories that say the stage is unknown
UNKNOWN = ("nan", "nx", "mx", "tx")


@dataclass
class StageSettings(CohortSettings):
    name: str = "stage"
    #: inputs the run checks before any patch
    required: ClassVar[tuple[str, ...]] = ("stages",)
    #: stages table: rows ID, TNM_M, TNM_N, TNM_T across samples
    stages: Optional[str] = None
    #: nc_mean_volume: on the demo patches it beats its null in every seed (nc_entropy, the paper's, does not)
    feature: str = "nc_mean_volume"
    #: fewest patients a stage column is tested on, and per category
    min_patients: int = 6
    min_group: int = 1
    #: permutations (exact enumeration when there are fewer distinct ones)
    permutations: int = 9999


def rank_biserial(a: np.ndarray, b: np.ndarray, axis: int = -1):
    return 2 * mannwhitneyu(a, b, axis=axis).statistic / (a.shape[axis] * b.shape[axis]) - 1


def epsilon_squared(*groups: np.ndarray, axis: int = -1):
    n = sum(g.shape[axis] for g in groups)
    return kruskal(*groups, axis=axis).statistic / (n - 1)


def kruskal_h(*groups: np.ndarray, axis: int = -1):
    return kruskal(*groups, axis=axis).statistic


def group_test(groups: dict[str, np.ndarray], permutations: int = 9999, seed: int = 0) -> dict:
    """Mann-Whitney (2 groups) or Kruskal-Wallis (3+): permutation p-value, effect size and its interval."""
    values = [np.asarray(v, float) for v in groups.values()]
    n = sum(len(v) for v in values)
    if len(values) == 2:
        test, effect_size, effect = "mann-whitney", "rank-biserial", rank_biserial
        statistic = float(mannwhitneyu(*values).statistic)
        p = permutation_pvalue(values, rank_biserial, "two-sided", permutations, seed)
    else:
        test, effect_size, effect = "kruskal-wallis", "epsilon-squared", epsilon_squared
        statistic = float(kruskal(*values).statistic)
        p = permutation_pvalue(values, kruskal_h, "greater", permutations, seed)
    low, high = bootstrap_interval(values, effect, seed=seed)
    return {"test": test, "statistic": statistic, "pvalue": p, "effect": float(effect(*values)), "effect_low": low,
            "effect_high": high, "effect_size": effect_size, "n": n}


def stage_patients(values: pd.Series, stages: pd.DataFrame,
                   sample_types: tuple[str, ...] = ("01",)) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The feature (column ``value``) and the stages of the patients both tables share."""
    return join_patients(values.to_frame("value"), stages, what="stage", minimum=2, sample_types=sample_types)


def stage_association(values: pd.Series, stages: pd.DataFrame, min_patients: int = 6, min_group: int = 1,
                      permutations: int = 9999, seed: int = 0, sample_types: tuple[str, ...] = ("01",)) -> pd.DataFrame:
    """One row per stage column; columns that cannot be tested say why (``note``)."""
    return stage_tests(*stage_patients(values, stages, sample_types), min_patients, min_group, permutations, seed)


def stage_tests(feats: pd.DataFrame, stg: pd.DataFrame, min_patients: int = 6, min_group: int = 1,
                permutations: int = 9999, seed: int = 0) -> pd.DataFrame:
    """:func:`stage_association` on patients already matched (:func:`stage_patients`)."""
    rows = []
    for column in stg.columns:
        cats = stg[column].astype(str)
        groups = {c: feats.loc[cats == c, "value"].to_numpy() for c in sorted(cats.unique()) if c.lower() not in UNKNOWN}
        small = [f"{c} (n={len(v)})" for c, v in groups.items() if len(v) < min_group]
        groups = {c: v for c, v in groups.items() if len(v) >= min_group}
        row = {"stage": column, "categories": ",".join(groups), "n": int(sum(len(v) for v in groups.values())),
               "note": f"left out: {', '.join(small)}" if small else ""}
        if len(groups) < 2 or row["n"] < min_patients:
            row["note"] = "; ".join(filter(None, [row["note"], f"not tested: {len(groups)} categories with "
                                                  f"{min_group}+ patients, {row['n']} patients (need 2 and {min_patients})"]))
            rows.append(row)
            continue
        rows.append(row | group_test(groups, permutations, seed))
    if not rows:
        raise AnalysisError("stage: the stages table has no stage columns")
    table = pd.DataFrame(rows)
    for column in ("pvalue", "effect", "effect_low", "effect_high", "statistic", "test", "effect_size"):
        if column not in table:
            table[column] = np.nan
    table["qvalue"] = bh(table["pvalue"])
    if table["pvalue"].isna().all():
        raise AnalysisError(f"stage: no stage column could be tested ({'; '.join(table['note'])})")
    return table


def box_plots(feats: pd.DataFrame, stg: pd.DataFrame, table: pd.DataFrame, path) -> None:
    """The feature by category of each tested stage column (patients from :func:`stage_patients`)."""
    plt = pyplot()
    tested = table.dropna(subset=["pvalue"])
    fig, axes = plt.subplots(1, len(tested), figsize=(3.2 * len(tested), 3.2), squeeze=False)
    for ax, row in zip(axes[0], tested.itertuples()):
        cats = row.categories.split(",")
        ax.boxplot([feats.loc[stg[row.stage].astype(str) == c, "value"] for c in cats], tick_labels=cats)
        ax.set_title(f"{row.stage}: p = {row.pvalue:.3g}, q = {row.qvalue:.3g}")
    fig.tight_layout()
    save_figure(fig, path)


@hookimpl
def cellframe_stages():
    return [Stage("analysis", "stage", StageSettings, "feature vs TNM categories (Mann-Whitney / Kruskal-Wallis)")]


@hookimpl
def cellframe_analyze(reconstructions, outdir, settings):
    if not settings.stages:
        raise AnalysisError("stage: set analysis.stage.stages=PATH")
    features, checks = cohort_features(reconstructions, settings, "stage", [settings.feature], outdir)
    values = features[settings.feature].astype(float).dropna()
    stages = read_matrix(settings.stages)
    feats, stg = stage_patients(values, stages, tuple(settings.sample_types))
    table = stage_tests(feats, stg, settings.min_patients, settings.min_group, settings.permutations, settings.seed)
    table.to_csv(outdir / "stage.csv", index=False)
    box_plots(feats, stg, table, outdir / "stage.png")
    tested = table.dropna(subset=["pvalue"])
    metrics = {}
    for row in tested.itertuples():
        metrics |= {f"{row.stage}_pvalue": row.pvalue, f"{row.stage}_qvalue": row.qvalue,
                    f"{row.stage}_effect": row.effect, f"{row.stage}_effect_low": row.effect_low,
                    f"{row.stage}_effect_high": row.effect_high}
    return metrics | null_metrics(checks, settings.feature)
