"""Analysis ``expression``: Spearman correlation of a feature with every gene, Benjamini-Hochberg q-values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control, spearmanr

from cellframe import hookimpl
from cellframe.analysis import AnalysisError
from cellframe.cohort import feature_values, join_patients, read_matrix
from cellframe.stages import Stage


@dataclass
class ExpressionSettings:
    name: str = "expression"
    #: genes x samples expression matrix
    expression: Optional[str] = None
    features: Optional[str] = None
    feature: str = "nc_entropy"
    #: genes with q below this count as associated
    fdr: float = 0.05


def expression_correlation(values: pd.Series, expression: pd.DataFrame) -> pd.DataFrame:
    """Spearman rho and p of ``values`` with each gene (samples x genes), BH q-values, sorted by p."""
    feats, expr = join_patients(values.to_frame("value"), expression, what="expression", minimum=4)
    x = feats["value"].to_numpy(float)
    rows = []
    for gene in expr.columns:
        y = pd.to_numeric(expr[gene], errors="coerce").to_numpy(float)
        ok = np.isfinite(y)
        if ok.sum() < 4 or np.ptp(y[ok]) == 0:
            continue
        rho, p = spearmanr(x[ok], y[ok])
        rows.append({"gene": gene, "rho": float(rho), "pvalue": float(p), "n": int(ok.sum())})
    if not rows:
        raise AnalysisError("expression: no gene has 4 or more varying values")
    table = pd.DataFrame(rows)
    table["qvalue"] = false_discovery_control(table["pvalue"].to_numpy(), method="bh")
    return table.sort_values("pvalue").reset_index(drop=True)


@hookimpl
def cellframe_stages():
    return [Stage("analysis", "expression", ExpressionSettings, "Spearman with each gene, Benjamini-Hochberg q-values")]


@hookimpl
def cellframe_analyze(reconstructions, outdir, settings):
    if not settings.expression:
        raise AnalysisError("expression: set analysis.expression.expression=PATH (genes x samples)")
    values = feature_values(reconstructions, settings.features, settings.feature)
    table = expression_correlation(values, read_matrix(settings.expression))
    table.to_csv(outdir / "expression.csv", index=False)
    return {"n_genes": len(table), "n_significant": int((table["qvalue"] < settings.fdr).sum()),
            "min_qvalue": float(table["qvalue"].min())}
