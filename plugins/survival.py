"""Analysis ``survival``: patients split at the median of a feature; Kaplan-Meier, log-rank, Spearman."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from cellframe import hookimpl
from cellframe.analysis import AnalysisError, pyplot, save_figure
from cellframe.cohort import feature_values, join_patients, read_survival
from cellframe.stages import Stage


@dataclass
class SurvivalSettings:
    name: str = "survival"
    #: survival table: sample id, time, event columns
    times: Optional[str] = None
    time_column: str = "time"
    event_column: str = "status"
    #: per-sample features table; None = features of this run's reconstructions
    features: Optional[str] = None
    feature: str = "nc_entropy"


def survival_analysis(values: pd.Series, survival: pd.DataFrame, minimum: int = 4) -> tuple[dict, pd.DataFrame]:
    """Median split of ``values`` (per sample), log-rank test between the halves, Spearman with time.

    :param survival: columns ``time`` and ``event`` (1 = death), indexed by sample id.
    :return: metrics and the joined per-patient table (with the ``group`` column).
    """
    from lifelines.statistics import logrank_test

    feats, surv = join_patients(values.to_frame("value"), survival, what="survival", minimum=minimum)
    table = surv.join(feats)
    median = table["value"].median()
    table["group"] = np.where(table["value"] > median, "high", "low")
    high, low = table[table["group"] == "high"], table[table["group"] == "low"]
    if len(high) == 0 or len(low) == 0:
        raise AnalysisError("survival: the feature does not split the patients at its median (all values equal)")
    test = logrank_test(high["time"], low["time"], event_observed_A=high["event"], event_observed_B=low["event"])
    rho, rho_p = spearmanr(table["value"], table["time"])
    metrics = {
        "n_patients": len(table), "n_events": int(table["event"].sum()), "median_feature": float(median),
        "logrank_statistic": float(test.test_statistic), "logrank_pvalue": float(test.p_value),
        "spearman_rho": float(rho), "spearman_pvalue": float(rho_p),
    }
    return metrics, table


def plot(table: pd.DataFrame, metrics: dict, feature: str, path) -> None:
    from lifelines import KaplanMeierFitter

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for group in ("low", "high"):
        part = table[table["group"] == group]
        KaplanMeierFitter().fit(part["time"], part["event"], label=f"{feature} {group} (n={len(part)})").plot_survival_function(ax=ax)
    ax.set_xlabel("time")
    ax.set_ylabel("survival probability")
    ax.set_title(f"log-rank p = {metrics['logrank_pvalue']:.3g}")
    fig.tight_layout()
    save_figure(fig, path)


@hookimpl
def cellframe_stages():
    return [Stage("analysis", "survival", SurvivalSettings, "Kaplan-Meier and log-rank at the median of a feature")]


@hookimpl
def cellframe_analyze(reconstructions, outdir, settings):
    if not settings.times:
        raise AnalysisError("survival: set analysis.survival.times=PATH (sample id, time, event)")
    values = feature_values(reconstructions, settings.features, settings.feature)
    survival = read_survival(settings.times, settings.time_column, settings.event_column)
    metrics, table = survival_analysis(values, survival)
    table.to_csv(outdir / "survival.csv")
    plot(table, metrics, settings.feature, outdir / "survival.png")
    return metrics
