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
    neighbours: dict[int, list[tuple[int, float]]] = {}
    for (i, j), s in zip(pairs, separation):
        neighbours.setdefault(int(i), []).append((int(j), float(s)))
        neighbours.setdefault(int(j), []).append((int(i), float(s)))
    clustered = np.array(sorted(neighbours))
    arrays = {i: (np.array([a for a, _ in nb]), np.array([b for _, b in nb])) for i, nb in neighbours.items()}
    for _ in range(sweeps):
        for i in rng.permutation(clustered):
            j, s = arrays[i]
            gap = np.abs(grid[None, :, None] - z[:, None, j])  # (draws, G, neighbours)
            e = energy[i][None, :] + stiffness * np.maximum(s[None, None, :] - gap, 0.0).sum(axis=2)
            pick = draw_from_energy(e, rng, 1)[0]
            z[:, i] = grid[pick] + rng.uniform(-step / 2, step / 2, len(pick))
    return np.clip(z, grid[0], grid[-1])
