"""Median split of an N/C feature, Kaplan-Meier curves and log-rank test (demo tables).

The published demo tables share no sample ids: the study says so instead of
reporting a result.

    python experiments/survival/run.py
"""

from pathlib import Path


from cellframe.stats.analysis import AnalysisError
from cellframe.stats.cohort import read_features, read_survival
from cellframe.plugins.analyses.survival import plot, survival_analysis
from cellframe.running.studies import study_config

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

cfg = study_config(HERE)
values = read_features(REPO / cfg.features)[cfg.feature]
survival = read_survival(REPO / cfg.times, cfg.time_column, cfg.event_column)
try:
    metrics, table = survival_analysis(values, survival)
except AnalysisError as exc:
    text = (f"No result: {exc}.\n\nThe features ({cfg.features}) cover e.g. {', '.join(values.index[:3])}; "
            f"the survival times ({cfg.times}) cover e.g. {', '.join(survival.index[:3])}. A survival study "
            "needs a cohort whose features and times join.\n")
else:
    plot(table, metrics, cfg.feature, HERE / "survival.png")
    text = "\n".join(f"- {k}: {v:.4g}" for k, v in metrics.items()) + "\n"
print(text)
(HERE / "results.md").write_text(text)
