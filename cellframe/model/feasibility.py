"""Can a cluster of nuclei fit in the section without interpenetrating?

Two nuclei whose discs overlap in 2D need a depth gap of at least
``s_ij = sqrt((r_i + r_j)^2 - d_ij^2)``. Every arrangement orders the nuclei by
depth; for a fixed order the smallest span is the longest path through the
required gaps (place each nucleus just above the earlier ones it overlaps). So
the smallest depth a component needs is the minimum of that span over orders:
exact by enumeration for small components, bracketed by bounds for large ones.
The order reaching the upper bound gives a *witness* arrangement, which the
optimizers can start from.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cellframe.model.pairs import components, overlapping_pairs, required_separation

#: components up to this many nuclei are solved exactly (8! = 40,320 orders)
EXACT_LIMIT = 8

COLUMNS = ["component", "n_nuclei", "needed_depth", "upper_bound", "exact", "feasible"]


def _separation_matrix(n: int, pairs: np.ndarray, sep: np.ndarray) -> np.ndarray:
    """Dense gap matrix; ``-inf`` where two nuclei do not overlap (no constraint)."""
    S = np.full((n, n), -np.inf)
    S[pairs[:, 0], pairs[:, 1]] = sep
    S[pairs[:, 1], pairs[:, 0]] = sep
    return S


def stacked(S: np.ndarray, orders: np.ndarray) -> np.ndarray:
    """Lowest arrangement ``(len(orders), n)`` for each order: every nucleus just above
    the earlier ones it overlaps, never below 0."""
    m, n = orders.shape
    z = np.zeros((m, S.shape[0]))
    rows = np.arange(m)[:, None]
    for k in range(1, n):
        v = orders[:, k]
        prev = orders[:, :k]
        below = z[rows, prev] + S[prev, v[:, None]]
        z[rows[:, 0], v] = np.maximum(below.max(axis=1), 0.0)
    return z


def stacked_spans(S: np.ndarray, orders: np.ndarray) -> np.ndarray:
    """Span of the lowest arrangement for each order."""
    return stacked(S, orders).max(axis=1)


def best_order_exact(S: np.ndarray) -> tuple[np.ndarray, float]:
    """The order with the smallest span, by enumeration (``n <= EXACT_LIMIT``)."""
    n = S.shape[0]
    if n == 1:
        return np.zeros(1, int), 0.0
    # an order and its reverse have the same span: keep one of each
    orders = np.array([p for p in itertools.permutations(range(n)) if p[0] < p[-1]])
    spans = stacked_spans(S, orders)
    k = int(spans.argmin())
    return orders[k], float(spans[k])


def min_span_exact(S: np.ndarray) -> float:
    """Smallest depth span over all orders of a small component (``n <= EXACT_LIMIT``)."""
    return best_order_exact(S)[1]


def _climb(S: np.ndarray, order: np.ndarray, neighbours, rounds: int) -> tuple[np.ndarray, float]:
    """Move to the best neighbouring order while the span shrinks."""
    best, span = order, float(stacked_spans(S, order[None])[0])
    for _ in range(rounds):
        candidates = neighbours(best)
        spans = stacked_spans(S, candidates)
        k = int(spans.argmin())
        if spans[k] >= span - 1e-12:
            break
        best, span = candidates[k], float(spans[k])
    return best, span


def _swaps(order: np.ndarray) -> np.ndarray:
    """Every order with two neighbours in it exchanged."""
    k = np.arange(len(order) - 1)
    candidates = np.repeat(order[None], len(order) - 1, axis=0)
    candidates[k, k], candidates[k, k + 1] = order[k + 1], order[k]
    return candidates


def _insertions(order: np.ndarray) -> np.ndarray:
    """Every order with one nucleus moved to another place."""
    n = len(order)
    return np.array([np.insert(np.delete(order, i), j, order[i]) for i in range(n) for j in range(n) if j != i])


def improve_order(S: np.ndarray, order: np.ndarray, rounds: int = 100) -> tuple[np.ndarray, float]:
    """Hill-climb an order by swapping neighbours in it while the span shrinks."""
    return _climb(S, order, _swaps, rounds)


def insertion_climb(S: np.ndarray, order: np.ndarray, rounds: int = 30) -> tuple[np.ndarray, float]:
    """Hill-climb an order by moving one nucleus to another place in it (n^2 neighbours a round)."""
    return _climb(S, order, _insertions, rounds)


@dataclass
class SpanBounds:
    lower: float
    upper: float
    exact: bool
    #: the order whose stacked arrangement spans ``upper``
    order: np.ndarray


def span_bounds(S: np.ndarray, rng: np.random.Generator, hint: np.ndarray | None = None,
                n_orders: int = 1000, climbs: int = 5) -> SpanBounds:
    """Exact span for small components; else a lower bound (the worst exact span of any
    nucleus' neighbourhood) and an upper bound (the best of random orders and of the
    ``hint`` depths' order, each improved by local search)."""
    n = S.shape[0]
    if n <= EXACT_LIMIT:
        order, span = best_order_exact(S)
        return SpanBounds(span, span, True, order)
    lower = 0.0
    for v in range(n):
        nbrs = np.flatnonzero(np.isfinite(S[v]))
        nbrs = nbrs[np.argsort(-S[v, nbrs])][: EXACT_LIMIT - 1]
        sub = np.concatenate([[v], nbrs])
        lower = max(lower, min_span_exact(S[np.ix_(sub, sub)]))
    orders = np.argsort(rng.random((n_orders, n)), axis=1)
    if hint is not None:
        orders = np.vstack([np.argsort(hint)[None], orders])
    spans = stacked_spans(S, orders)
    starts = np.unique(np.concatenate([[0] if hint is not None else [], np.argsort(spans)[:climbs]])).astype(int)
    order, upper = min((improve_order(S, orders[k]) for k in starts), key=lambda pair: pair[1])
    return SpanBounds(lower, max(upper, lower), False, order)


def analyse(xy: np.ndarray, r: np.ndarray, z_max: float, z: np.ndarray | None = None,
            seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Feasibility of every cluster, and a witness arrangement of all nuclei.

    :param z: depths of a known arrangement (e.g. the optimizer's), whose order
        is tried for the upper bound of large components.
    :return: the report (one row per component of two or more nuclei, columns
        :data:`COLUMNS`; ``needed_depth`` is exact or a lower bound, ``feasible``
        is True/False, or None when the bounds straddle ``z_max``) and depths
        ``(n,)``: each cluster stacked in its best order, raised by a random
        share of the slack; squeezed into ``[0, z_max]`` when it does not fit.
        Isolated nuclei get NaN.
    """
    xy = np.asarray(xy, float)
    r = np.asarray(r, float)
    pairs = overlapping_pairs(xy, r)
    sep = required_separation(xy, r, pairs)
    comp = components(len(r), pairs)
    rng = np.random.default_rng(seed)
    witness = np.full(len(r), np.nan)
    rows = []
    pair_comp = comp[pairs[:, 0]] if len(pairs) else np.empty(0, int)
    for c in np.unique(pair_comp):
        members = np.flatnonzero(comp == c)
        local = np.searchsorted(members, pairs[pair_comp == c])
        S = _separation_matrix(len(members), local, sep[pair_comp == c])
        hint = None if z is None else np.asarray(z)[members]
        bounds = span_bounds(S, rng, hint)
        if bounds.lower <= z_max < bounds.upper:  # undecided: search harder for an order that fits
            order, upper = insertion_climb(S, bounds.order)
            if upper < bounds.upper:
                bounds = SpanBounds(bounds.lower, max(upper, bounds.lower), False, order)
        depths = stacked(S, bounds.order[None])[0]
        if bounds.upper <= z_max:
            depths += rng.uniform(0.0, z_max - bounds.upper)
        elif bounds.upper > 0:
            depths *= z_max / bounds.upper
        witness[members] = depths
        if bounds.upper <= z_max:
            feasible = True
        elif bounds.lower > z_max:
            feasible = False
        else:
            feasible = None
        rows.append({"component": int(c), "n_nuclei": len(members), "needed_depth": bounds.lower,
                     "upper_bound": bounds.upper, "exact": bounds.exact, "feasible": feasible})
    return pd.DataFrame(rows, columns=COLUMNS), witness


def component_feasibility(nuclei: pd.DataFrame, z_max: float, z: np.ndarray | None = None,
                          seed: int = 0) -> pd.DataFrame:
    """The feasibility report of :func:`analyse` for a nuclei table."""
    return analyse(nuclei[["x", "y"]].to_numpy(float), nuclei["r"].to_numpy(float), z_max, z, seed)[0]
