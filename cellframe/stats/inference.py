"""Small-sample inference the association analyses share (pure functions on arrays).

Permutation p-values are exact when the number of distinct permutations is at
most ``resamples`` (scipy enumerates them); intervals are percentile bootstraps;
several p-values of one analysis are Benjamini-Hochberg corrected together.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import bootstrap, false_discovery_control, permutation_test

from cellframe.stats.analysis import AnalysisError


def bh(pvalues) -> np.ndarray:
    """Benjamini-Hochberg q-values; NaN p-values (tests not run) stay NaN and do not count."""
    p = np.asarray(pvalues, float)
    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        q[ok] = false_discovery_control(p[ok], method="bh")
    return q


def require(n: int, minimum: int, what: str, unit: str = "patients") -> None:
    """Refuse a test on fewer than ``minimum`` observations, in one line."""
    if n < minimum:
        raise AnalysisError(f"{what}: {n} {unit} is too few for this test (at least {minimum}; "
                            f"set analysis.{what.split(':')[0]}.min_patients to change it)")


def permutation_pvalue(samples: list[np.ndarray], statistic, alternative: str = "two-sided",
                       resamples: int = 9999, seed: int = 0) -> float:
    """p-value of ``statistic(*samples, axis=-1)`` under random reassignment of the values to the
    samples. Exact (every distinct split enumerated) when there are at most ``resamples`` of them; a
    sample of one value is allowed (then the group labels are permuted over the pooled values)."""
    samples = [np.asarray(s, float) for s in samples]
    if min(len(s) for s in samples) >= 2:
        result = permutation_test(samples, statistic, permutation_type="independent", vectorized=True,
                                  n_resamples=resamples, alternative=alternative, axis=-1, rng=seed)
        return float(result.pvalue)
    pooled = np.concatenate(samples)
    labels = np.repeat(np.arange(len(samples)), [len(s) for s in samples]).astype(float)

    def relabelled(lab):
        return statistic(*(pooled[lab == k] for k in range(len(samples))), axis=-1)

    result = permutation_test((labels,), relabelled, permutation_type="pairings", vectorized=False,
                              n_resamples=resamples, alternative=alternative, rng=seed)
    return float(result.pvalue)


def bootstrap_interval(samples: list[np.ndarray], statistic, paired: bool = False, resamples: int = 999,
                       seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(*samples)`` (each sample resampled on its own
    unless ``paired``); NaN where the resamples do not allow one (e.g. a constant sample)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = bootstrap([np.asarray(s, float) for s in samples], statistic, paired=paired, vectorized=False,
                               n_resamples=resamples, method="percentile", confidence_level=level, rng=seed)
        except ValueError:
            return float("nan"), float("nan")
    low, high = result.confidence_interval
    return float(low), float(high)
