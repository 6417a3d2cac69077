"""Analysis ``classifier``: cross-validated cell classification from morphology and 3D features.

A class-balanced random forest (scikit-learn) is scored by stratified k-fold
cross-validation grouped by patch (a patch's cells are never in both a training
and a test fold: neighbouring cells share stain and depth) on two feature sets, so the gain from the 3D reconstruction
is visible: ``morphology`` (the 2D nucleus alone) and ``morphology_3d`` (plus
depth, cell radius, volume, section area and N/C ratios). Labels come from a
cell-table column (e.g. ``cell_type`` from an importer) or a CSV with columns
``sample_id``, ``label`` (the nucleus label) and ``class``. Missing values (the
area N/C of cells that do not reach the plane) stay missing: the forest learns
where they go.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd

from cellframe import hookimpl
from cellframe.stats.analysis import AnalysisError
from cellframe.stats.cohort import read_table
from cellframe.stages import Stage

MORPHOLOGY = ["r", "nuclear_area"]
THREE_D = ["z", "R", "volume", "section_area", "nc_radius", "nc_area", "nc_volume"]


@dataclass
class ClassifierSettings:
    name: str = "classifier"
    #: CSV of labels (sample_id, label, class); None = the cell table's ``label_column``
    labels: Optional[str] = None
    label_column: str = "cell_type"
    folds: int = 5
    trees: int = 200
    seed: int = 0

    def __post_init__(self) -> None:
        if self.folds < 2:
            raise ValueError(f"folds={self.folds} must be >= 2")


def labelled_cells(reconstructions, labels: str | None, label_column: str) -> pd.DataFrame:
    """All cells of the run with their features and a ``class`` column (unlabelled cells dropped); a slide
    patch's own only (``rec.owned``): a halo cell is its neighbour patch's, and would stand in two folds."""
    cells = pd.concat([rec.cell_features[rec.owned] for rec in reconstructions], ignore_index=True)
    if labels:
        table = read_table(labels, header=True)
        missing = [c for c in ("sample_id", "label", "class") if c not in table.columns]
        if missing:
            raise AnalysisError(f"classifier: {labels} lacks columns {missing}")
        table = table.astype({"sample_id": str})  # ids that look like numbers are still the folders' names
        cells = cells.merge(table[["sample_id", "label", "class"]], on=["sample_id", "label"], how="inner")
    elif label_column in cells:
        cells = cells.assign(**{"class": cells[label_column]})
    else:
        raise AnalysisError(f"classifier: no labels: set analysis.classifier.labels=CSV or give cells a "
                            f"{label_column!r} column (e.g. an importer with cell types)")
    return cells.dropna(subset=["class"])


def cross_validate_cells(cells: pd.DataFrame, features: list[str], folds: int = 5, trees: int = 200,
                         seed: int = 0) -> dict[str, float]:
    """Stratified CV grouped by ``sample_id`` of a class-balanced random forest: mean AUROC
    (one-vs-rest, weighted) and macro F1, with their range over folds."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import StratifiedGroupKFold, cross_validate

    y = cells["class"].astype(str).to_numpy()
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2 or counts.min() < folds:
        raise AnalysisError(f"classifier: need two or more classes with at least {folds} cells each "
                            f"(have {dict(zip(classes, counts.tolist()))})")
    groups = cells["sample_id"].astype(str).to_numpy()
    if len(np.unique(groups)) < folds:
        raise AnalysisError(f"classifier: {len(np.unique(groups))} patches for {folds}-fold CV grouped by patch "
                            f"(set analysis.classifier.folds to at most the number of patches, at least 2)")
    X = cells[features].to_numpy(float)
    model = RandomForestClassifier(n_estimators=trees, class_weight="balanced", random_state=seed, n_jobs=1)
    scoring = {"auroc": "roc_auc" if len(classes) == 2 else "roc_auc_ovr_weighted", "f1": "f1_macro"}
    cv = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
    scores = cross_validate(model, X, y, groups=groups, cv=cv, scoring=scoring, error_score="raise")
    return {"auroc": float(scores["test_auroc"].mean()), "auroc_low": float(scores["test_auroc"].min()),
            "auroc_high": float(scores["test_auroc"].max()), "f1": float(scores["test_f1"].mean())}


@hookimpl
def cellframe_stages():
    return [Stage("analysis", "classifier", ClassifierSettings, "cross-validated cell classifier, 2D vs 2D + 3D features")]


@hookimpl
def cellframe_analyze(reconstructions, outdir, settings):
    cells = labelled_cells(reconstructions, settings.labels, settings.label_column)
    metrics, rows = {}, []
    for set_name, features in (("morphology", MORPHOLOGY), ("morphology_3d", MORPHOLOGY + THREE_D)):
        scores = cross_validate_cells(cells, features, settings.folds, settings.trees, settings.seed)
        metrics |= {f"{set_name}_{k}": v for k, v in scores.items()}
        rows.append({"features": set_name, **scores, "n_cells": len(cells)})
    pd.DataFrame(rows).to_csv(outdir / "classifier.csv", index=False)
    return metrics
