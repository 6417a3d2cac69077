"""Draws from a posterior over nuclear depths: per-nucleus energies on a grid, nuclei never interpenetrating.

Gibbs sampling, vectorised over independent chains: every nucleus whose disc
overlaps another's is redrawn in turn from its own energy plus a steep penalty
for coming closer in depth than its neighbours allow.
"""

from __future__ import annotations

import numpy as np


def draw_from_energy(energy: np.ndarray, rng: np.random.Generator, n_draws: int) -> np.ndarray:
    """``(n_draws, n)`` grid indices drawn from ``exp(-energy)`` of each row of ``energy`` ``(n, G)``."""
    p = np.exp(-(energy - energy.min(axis=1, keepdims=True)))
    cdf = np.cumsum(p, axis=1)
    cdf /= cdf[:, -1:]
    u = rng.random((n_draws, energy.shape[0]))
    return np.minimum((cdf[None, :, :] < u[:, :, None]).sum(axis=2), energy.shape[1] - 1)


def sample_depths(energy: np.ndarray, grid: np.ndarray, pairs: np.ndarray, separation: np.ndarray, n_draws: int,
                  rng: np.random.Generator, sweeps: int = 8, stiffness: float = 50.0) -> np.ndarray:
    """``(n_draws, n)`` depths from ``exp(-energy)`` jointly, overlapping pairs kept ``separation`` apart.

    Each sweep redraws the clustered nuclei one colour at a time (a greedy colouring of the overlap
    graph): nuclei of one colour share no pair, so given the others they are independent and are
    drawn together (chromatic Gibbs).

    :param energy: ``(n, G)`` energy of each nucleus at each depth of ``grid``.
    :param pairs: ``(m, 2)`` nuclei whose discs overlap; ``separation`` the depth gap each needs.
    :param stiffness: energy per pixel of missing gap (a soft wall, steep enough to act as hard).
    """
    step = float(grid[1] - grid[0]) if len(grid) > 1 else 1.0
    idx = draw_from_energy(energy, rng, n_draws)
    z = grid[idx] + rng.uniform(-step / 2, step / 2, idx.shape)
    z = np.clip(z, grid[0], grid[-1])
    if not len(pairs):
        return z
    neighbours, gaps = _neighbour_table(energy.shape[0], pairs, separation)
    classes = _colour_classes(neighbours)
    # single precision (its exp is several times faster) and blocks of nuclei whose (draws, block, G)
    # arrays stay in cache
    energy32, grid32, gaps32 = energy.astype(np.float32), grid.astype(np.float32), gaps.astype(np.float32)
    block = max(int(2.5e5 // max(n_draws * len(grid), 1)), 1)
    for _ in range(sweeps):
        for colour in rng.permutation(len(classes)):
            members = classes[colour]
            for start in range(0, len(members), block):
                i = members[start : start + block]
                width = int((neighbours[i] >= 0).sum(axis=1).max())
                e = np.broadcast_to(energy32[i][None], (n_draws, len(i), len(grid))).copy()
                for k in range(width):  # padding slots have no gap to keep (0): no penalty
                    gap = np.abs(grid32[None, None, :] - z[:, neighbours[i, k], None].astype(np.float32))
                    e += np.float32(stiffness) * np.maximum(gaps32[i, k][None, :, None] - gap, np.float32(0))
                pick = draw_each(e, rng)
                z[:, i] = grid[pick] + rng.uniform(-step / 2, step / 2, pick.shape)
    return np.clip(z, grid[0], grid[-1])


def median_depth_energy(z_draws: np.ndarray, grid: np.ndarray, mid: float) -> np.ndarray:
    """``(n, G)`` energy whose lowest point is each nucleus' posterior median distance from the mid-plane.

    The expected absolute error of the distance from the mid-plane ``|z - mid|`` over the draws
    ``z_draws`` ``(draws, n)``, at each depth of ``grid``, less its minimum and divided by
    ``sqrt(2 / pi)`` times the draws' standard deviation of that distance (so that, for a normal
    posterior, it is the posterior's own energy near its centre), plus the energy of the side of the
    mid-plane (``-log`` of the share of draws on that side, 0 on the more probable side).

    Where a posterior is flat over a stretch of depth (a profile that says nothing of where, within the
    section, its nucleus lies), its most probable depth is an arbitrary end of the stretch; the median
    is the depth that errs least on average.
    """
    draws = np.asarray(z_draws, float)
    k, n = draws.shape
    d = np.sort(np.abs(draws - mid), axis=0).T  # (n, draws)
    at = np.abs(np.asarray(grid, float) - mid)  # (G,)
    # for each row, how many draws lie below each grid distance: one searchsorted over rows laid end to end
    span = float(d.max(initial=0.0)) + float(at.max(initial=0.0)) + 1.0
    offset = np.arange(n)[:, None] * span
    below = np.searchsorted((d + offset).ravel(), (at[None, :] + offset).ravel()).reshape(n, -1)
    below -= np.arange(n)[:, None] * k
    cum = np.concatenate([np.zeros((n, 1)), np.cumsum(d, axis=1)], axis=1)
    under = np.take_along_axis(cum, below, axis=1)
    loss = (at[None, :] * (2 * below - k) - 2 * under + cum[:, -1:]) / k
    step = float(grid[1] - grid[0]) if len(grid) > 1 else 1.0
    scale = np.sqrt(2 / np.pi) * np.maximum(d.std(axis=1), step)[:, None]
    top = ((draws < mid).sum(axis=0) + 0.5) / (k + 1)  # the share on the top side, never 0 or 1
    side = np.where(np.asarray(grid)[None, :] < mid, -np.log(top)[:, None], -np.log1p(-top)[:, None])
    side = np.where(at[None, :] == 0, side.min(axis=1, keepdims=True), side)
    return (loss - loss.min(axis=1, keepdims=True)) / scale + side - side.min(axis=1, keepdims=True)


def draw_each(energy: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices drawn from ``exp(-energy)`` along the last axis, one per leading index."""
    p = np.exp(-(energy - energy.min(axis=-1, keepdims=True)))
    cdf = np.cumsum(p, axis=-1)
    u = rng.random(energy.shape[:-1]) * cdf[..., -1]
    return np.minimum((cdf < u[..., None]).sum(axis=-1), energy.shape[-1] - 1)


def _neighbour_table(n: int, pairs: np.ndarray, separation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(n, most neighbours)`` each nucleus' overlapping neighbours (-1 pads) and the depth gap each
    pair needs (0 pads)."""
    ends = np.concatenate([pairs, pairs[:, ::-1]])
    need = np.concatenate([separation, separation])
    order = np.lexsort((ends[:, 1], ends[:, 0]))
    ends, need = ends[order], need[order]
    degree = np.bincount(ends[:, 0], minlength=n)
    slot = np.arange(len(ends)) - np.repeat(np.cumsum(degree) - degree, degree)
    neighbours = np.full((n, max(int(degree.max()), 1)), -1, int)
    gaps = np.zeros(neighbours.shape)
    neighbours[ends[:, 0], slot], gaps[ends[:, 0], slot] = ends[:, 1], need
    return neighbours, gaps


def _colour_classes(neighbours: np.ndarray) -> list[np.ndarray]:
    """The nuclei that have neighbours, split into classes no pair crosses (greedy colouring, the most
    connected first); within a class, by number of neighbours."""
    degree = (neighbours >= 0).sum(axis=1)
    colour = np.full(len(neighbours), -1)
    for i in np.argsort(-degree, kind="stable"):
        if degree[i] == 0:
            break
        taken = {int(colour[j]) for j in neighbours[i, : degree[i]]}
        colour[i] = next(c for c in range(len(taken) + 1) if c not in taken)
    classes = [np.flatnonzero(colour == c) for c in range(int(colour.max()) + 1)]
    return [members[np.argsort(-degree[members], kind="stable")] for members in classes]
