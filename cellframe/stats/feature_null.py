"""Does a feature derived from the 3D reconstruction carry anything beyond its null?

A null reconstruction keeps every nucleus (position, outline and the objective's
estimate of its 3D size) and draws every cell parameter uniformly within the
geometry's bounds (for spheres: ``R`` in ``[alpha r, beta r]``, ``z`` in the
section): what the constraints alone allow, with no evidence from the tissue.
Each feature is computed on ``draws`` null reconstructions of every patch. Its
statistic is the mean over patients of ``|observed - null mean| / null sd``; a
Monte-Carlo p-value compares it with the same statistic of each null draw
(held out from the mean and sd it is scored against). Features the null leaves
unchanged (cell counts) come from the 2D segmentation alone and are not tested.
A slide of thousands of patches is tested on a seeded sample of at most
``max_patches`` patches per patient (observed and null alike), so the test's cost
stays bounded.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pandas as pd

from cellframe.stats.analysis import AnalysisError
from cellframe.io.files import atomic_path
from cellframe.stats.cohort import patch_features, patch_row, patient_of, per_patient, read_features, seed_for

log = logging.getLogger("cellframe")

#: verdicts of :func:`null_test`
BEYOND, NULL, FROM_2D = "beyond null", "like null", "2D only"


def null_reconstruction(rec, rng: np.random.Generator, tissue=None):
    """The same nuclei with every cell parameter drawn uniformly within the geometry's bounds (and no
    label image: no feature reads it); ``tissue``: the patch's visible tissue, if already read."""
    lower, upper = rec.geometry.bounds()
    extra = rec.extra[["rho"]] if rec.extra is not None and "rho" in rec.extra else None
    return dataclasses.replace(rec, x=rng.uniform(lower, upper), extra=extra, spread=None, labels=None,
                               tissue=rec.tissue if tissue is None else tissue)


def null_rows(rec, start: int, stop: int, seed: int = 0, bins: int = 20) -> list[dict]:
    """The features (:func:`cellframe.stats.cohort.patch_row`) of null reconstructions ``start`` to
    ``stop - 1`` of one patch (each drawn from its own seed: the same rows in any process)."""
    tissue = rec.tissue  # read once (it may be read back from the patch's state)
    return [patch_row(null_reconstruction(rec, seed_for(seed, rec.sample_id, b + 1), tissue), bins)
            for b in range(start, stop)]


#: cells x draws from which the null rows are computed in worker processes (about 10 s of work)
POOL_WORK = 50_000


def fill_null_rows(reconstructions, draws: int = 99, seed: int = 0, bins: int = 20, workers: int | None = 1) -> None:
    """Compute the null rows (:func:`null_patch_rows`) the reconstructions do not have yet, in up to
    ``workers`` processes (None: the CPUs this process may use) when there is enough work for them
    (:data:`POOL_WORK`), else here (:func:`cellframe.parallel.ordered_map`)."""
    from cellframe.parallel import available_cpus, ordered_map

    key = (draws, seed, bins)
    todo = [rec for rec in reconstructions if key not in rec.__dict__.get("_null_rows", {})]
    workers = available_cpus() if workers is None else workers
    if workers < 2 or not todo or sum(rec.geometry.n for rec in todo) * draws < POOL_WORK:
        return
    chunks = max(1, -(-2 * workers // len(todo)))  # about two tasks per process
    bounds = np.linspace(0, draws, min(chunks, draws) + 1).astype(int)
    tasks = [(rec, int(a), int(b), seed, bins) for rec in todo for a, b in zip(bounds[:-1], bounds[1:])]
    workers = min(workers, len(tasks))
    found: dict[int, list[dict]] = {id(rec): [] for rec in todo}
    for (rec, *_), rows in zip(tasks, ordered_map(_null_rows_task, tasks, workers)):
        found[id(rec)].extend(rows)
    for rec in todo:  # cached only once every draw is in
        rec.__dict__.setdefault("_null_rows", {})[key] = found[id(rec)]
    log.info("null reconstructions: %d patches x %d draws in %d processes", len(todo), draws, workers)


def _null_rows_task(task) -> list[dict]:
    return null_rows(*task)


def null_patch_rows(rec, draws: int = 99, seed: int = 0, bins: int = 20) -> list[dict]:
    """The features of ``draws`` null reconstructions of one patch (:func:`null_rows`), cached on the
    reconstruction (every analysis of a run shares them)."""
    cache = rec.__dict__.setdefault("_null_rows", {})
    key = (draws, seed, bins)
    if key not in cache:
        cache[key] = null_rows(rec, 0, draws, seed, bins)
    return cache[key]


def null_features(reconstructions, draws: int = 99, seed: int = 0, bins: int = 20,
                  workers: int | None = 1) -> list[pd.DataFrame]:
    """Per-patient features of each of ``draws`` null reconstructions of the run (computed in up to
    ``workers`` processes, :func:`fill_null_rows`)."""
    fill_null_rows(reconstructions, draws, seed, bins, workers)
    rows = {rec.sample_id: null_patch_rows(rec, draws, seed, bins) for rec in reconstructions}
    return [per_patient({sample: rows[sample][b] for sample in rows}, reconstructions) for b in range(draws)]


def null_sample(reconstructions, max_patches: int | None = None, seed: int = 0) -> list:
    """The patches the null test uses: all, or a seeded sample of at most ``max_patches`` per patient
    (in the run's order)."""
    if max_patches is None:
        return list(reconstructions)
    by_patient: dict[str, list[int]] = {}
    for k, rec in enumerate(reconstructions):
        by_patient.setdefault(patient_of(rec), []).append(k)
    keep = set()
    for patient, members in by_patient.items():
        if len(members) > max_patches:
            members = seed_for(seed, patient).choice(members, max_patches, replace=False).tolist()
        keep.update(members)
    return [rec for k, rec in enumerate(reconstructions) if k in keep]


def null_test(observed: pd.DataFrame, null: list[pd.DataFrame], alpha: float = 0.05) -> pd.DataFrame:
    """Per feature (column of ``observed``, patients x features): the statistic, its Monte-Carlo
    p-value against the null draws and a verdict (:data:`BEYOND`, :data:`NULL` or :data:`FROM_2D`)."""
    rows = []
    for feature in observed.columns:
        obs = observed[feature].to_numpy(float)
        sims = np.stack([draw.loc[observed.index, feature].to_numpy(float) for draw in null])
        ok = np.isfinite(obs) & np.isfinite(sims).all(axis=0)
        obs, sims = obs[ok], sims[:, ok]
        B = len(sims)
        sd = sims.std(axis=0, ddof=1) if B > 1 else np.zeros(obs.shape)
        varies = sd > 1e-12 * np.maximum(np.abs(sims).mean(axis=0), 1.0)
        row = {"feature": feature, "observed": float(np.mean(obs)) if len(obs) else np.nan,
               "null_mean": float(sims.mean()) if sims.size else np.nan, "n_patients": int(ok.sum()), "draws": B}
        if not varies.any():
            rows.append(row | {"statistic": np.nan, "pvalue": np.nan, "verdict": FROM_2D})
            continue
        obs, sims, sd = obs[varies], sims[:, varies], sd[varies]
        statistic = float(np.mean(np.abs(obs - sims.mean(axis=0)) / sd))
        total = sims.sum(axis=0)
        held = np.empty(B)
        for b in range(B):  # each draw scored against the other draws' mean and sd
            rest = np.delete(sims, b, axis=0)
            held[b] = np.mean(np.abs(sims[b] - (total - sims[b]) / (B - 1)) / np.maximum(rest.std(axis=0, ddof=1), 1e-300))
        pvalue = float((1 + np.sum(held >= statistic)) / (B + 1))
        rows.append(row | {"statistic": statistic, "pvalue": pvalue, "verdict": BEYOND if pvalue <= alpha else NULL})
    return pd.DataFrame(rows).set_index("feature")


def run_null_test(reconstructions, draws: int = 99, seed: int = 0, bins: int = 20,
                  alpha: float = 0.05, max_patches: int | None = None, workers: int | None = 1) -> pd.DataFrame:
    """:func:`null_test` of every per-patient feature of the run's reconstructions (of at most
    ``max_patches`` per patient, :func:`null_sample`; null rows in up to ``workers`` processes)."""
    sample = null_sample(reconstructions, max_patches, seed)
    return null_test(patch_features(sample, bins), null_features(sample, draws, seed, bins, workers), alpha)


def require_beyond_null(reconstructions, features: list[str], what: str, draws: int = 99, seed: int = 0,
                        alpha: float = 0.05, allow: bool = False, max_patches: int | None = None) -> pd.DataFrame:
    """The null test of ``features``; an :class:`AnalysisError` naming the first that carries
    nothing beyond its null, unless ``allow`` (the user insists)."""
    table = run_null_test(reconstructions, draws, seed, alpha=alpha, max_patches=max_patches).reindex(features)
    noise = [f for f in features if table.loc[f, "verdict"] == NULL]
    if noise and not allow:
        f = noise[0]
        raise AnalysisError(
            f"{what}: feature {f!r} carries nothing beyond its null (Monte-Carlo p = {table.loc[f, 'pvalue']:.2f} "
            f"against {draws} random reconstructions of the same nuclei); set analysis.{what}.allow_null_feature=true "
            f"to test it anyway")
    return table


def cohort_features(reconstructions, settings, what: str, columns: list[str],
                    outdir=None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The per-patient ``columns`` an association analysis tests, and their null test.

    From ``settings.features`` (a table: not derived from this run, so no null test) or from the
    run's reconstructions, each tested against its null first (:func:`require_beyond_null`).
    An empty ``columns`` means every column; run-derived features of the 2D segmentation alone
    (cell counts) are kept untested. The null test is written to ``outdir/feature_null.csv``.
    """
    if settings.features:
        table = read_features(settings.features)
        checks, wanted = None, list(columns) or list(table.columns)
        log.info("%s: features from %s are not derived by this run: not checked against a null", what,
                 settings.features)
    else:
        table = patch_features(reconstructions)
        wanted = list(columns) or [c for c in table.columns if c != "nc_entropy"]  # (an alias)
        checks = require_beyond_null(reconstructions, [c for c in wanted if c in table], what, settings.null_draws,
                                     settings.seed, settings.null_alpha, settings.allow_null_feature,
                                     settings.null_patches)
        if outdir is not None:
            with atomic_path(outdir / "feature_null.csv") as tmp:
                checks.to_csv(tmp)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise AnalysisError(f"{what}: feature {missing[0]!r} not in {settings.features or 'the reconstructions'} "
                            f"(have {list(table.columns)})")
    return table[wanted], checks


def null_metrics(checks: pd.DataFrame | None, feature: str) -> dict[str, float]:
    """The null test of one feature as metrics (nothing for features from a table)."""
    if checks is None or feature not in checks.index or not np.isfinite(checks.loc[feature, "pvalue"]):
        return {}
    return {"null_pvalue": float(checks.loc[feature, "pvalue"]), "null_statistic": float(checks.loc[feature, "statistic"])}
