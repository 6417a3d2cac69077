"""Analysis ``expression``: Spearman correlation of a feature with every gene, Benjamini-Hochberg q-values.

A run-derived feature is first tested against its null (:mod:`cellframe.stats.feature_null`).
Each rho carries a 95 % interval (Fisher's z on the ranks).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

import numpy as np
import pandas as pd
from scipy.stats import pearsonr, rankdata

from cellframe import hookimpl
from cellframe.stats.analysis import AnalysisError, CohortSettings
from cellframe.stats.cohort import join_patients, read_matrix
from cellframe.stats.feature_null import cohort_features, null_metrics
from cellframe.stats.inference import bh
from cellframe.stages import Stage


@dataclass
class ExpressionSettings(CohortSettings):
    name: str = "expression"
    #: inputs the run checks before any patch
    required: ClassVar[tuple[str, ...]] = ("expression",)
    #: genes x samples expression matrix
    expression: Optional[str] = None
    #: nc_mean_volume: on the demo patches it beats its null in every seed (nc_entropy, the paper's, does not)
    feature: str = "nc_mean_volume"
    #: genes with q below this count as associated
    fdr: float = 0.05
    #: fewest patients with a value a gene is tested on
    min_patients: int = 6


def expression_correlation(values: pd.Series, expression: pd.DataFrame, minimum: int = 6,
                           sample_types: tuple[str, ...] = ("01",)) -> pd.DataFrame:
    """Spearman rho (with a 95 % interval) and p of ``values`` with each gene (samples x genes),
    BH q-values, sorted by p. Genes with fewer than ``minimum`` values are not tested."""
    feats, expr = join_patients(values.to_frame("value"), expression, what="expression", minimum=minimum,
                                sample_types=sample_types)
    x = feats["value"].to_numpy(float)
    rows = []
    for gene in expr.columns:
        y = pd.to_numeric(expr[gene], errors="coerce").to_numpy(float)
        ok = np.isfinite(y) & np.isfinite(x)
        if ok.sum() < minimum or np.ptp(y[ok]) == 0 or np.ptp(x[ok]) == 0:
            continue
        test = pearsonr(rankdata(x[ok]), rankdata(y[ok]))  # Spearman's rho, Fisher's z interval
        interval = test.confidence_interval()
        rows.append({"gene": gene, "rho": float(test.statistic), "rho_low": float(interval.low),
                     "rho_high": float(interval.high), "pvalue": float(test.pvalue), "n": int(ok.sum())})
    if not rows:
        raise AnalysisError(f"expression: no gene has {minimum} or more varying values")
    table = pd.DataFrame(rows)
    table["qvalue"] = bh(table["pvalue"])
    return table.sort_values("pvalue").reset_index(drop=True)


@hookimpl
def cellframe_stages():
    return [Stage("analysis", "expression", ExpressionSettings, "Spearman with each gene, Benjamini-Hochberg q-values")]


@hookimpl
def cellframe_analyze(reconstructions, outdir, settings):
    if not settings.expression:
        raise AnalysisError("expression: set analysis.expression.expression=PATH (genes x samples)")
    features, checks = cohort_features(reconstructions, settings, "expression", [settings.feature], outdir)
    table = expression_correlation(features[settings.feature].astype(float), read_matrix(settings.expression),
                                   settings.min_patients, tuple(settings.sample_types))
    table.to_csv(outdir / "expression.csv", index=False)
    return {"n_genes": len(table), "n_significant": int((table["qvalue"] < settings.fdr).sum()),
            "min_qvalue": float(table["qvalue"].min())} | null_metrics(checks, settings.feature)
