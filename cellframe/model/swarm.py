"""The paper's particle swarm, vectorized over the swarm (shared by the ``pso``, ``pso_ga`` and ``pyswarms`` optimizers).

Inertia and acceleration coefficients vary linearly over the iterations
(w 0.9 -> 0.4, c1 2.5 -> 1.0, c2 1.0 -> 2.6) and positions are projected onto
the bounds after each step. Personal and global bests are kept per component
of the problem, so independent clusters of nuclei are searched in parallel.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cellframe.model.problem import OptimizeResult, Problem


@dataclass
class SwarmSettings:
    """Settings every particle swarm shares (``pso``, ``pso_ga``, ``pyswarms``)."""

    name: str = "pso"
    swarm_size: int = 50
    iterations: int = 120
    #: start and end of the linear schedules
    w: list[float] = field(default_factory=lambda: [0.9, 0.4])
    c1: list[float] = field(default_factory=lambda: [2.5, 1.0])
    c2: list[float] = field(default_factory=lambda: [1.0, 2.6])
    #: optimise each connected component of overlapping nuclei independently
    decompose: bool = True

    def __post_init__(self) -> None:
        if self.swarm_size < 2:
            raise ValueError(f"swarm_size={self.swarm_size} must be >= 2")
        if self.iterations < 1:
            raise ValueError(f"iterations={self.iterations} must be >= 1")
        for key in ("w", "c1", "c2"):
            values = list(getattr(self, key))
            if len(values) != 2 or not all(np.isfinite(values)):
                raise ValueError(f"{key}={values} must be [start, end], two finite numbers")


@dataclass
class PSOSettings(SwarmSettings):
    name: str = "pso"
    #: largest step per iteration, as a fraction of each dimension's range
    max_velocity: float = 0.5
    #: stop once the best total penalty is exactly 0 (the best can no longer change)
    stop_at_zero: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.max_velocity > 0:
            raise ValueError(f"max_velocity={self.max_velocity} must be > 0")


def schedule(start_end, t: int, iterations: int) -> float:
    """Linear interpolation from start (t = 0) to end (t = iterations - 1)."""
    start, end = start_end
    frac = t / max(iterations - 1, 1)
    return start + (end - start) * frac


def pso(problem: Problem, settings: PSOSettings, rng: np.random.Generator, operator=None) -> OptimizeResult:
    """Minimise ``problem`` with the paper's PSO; see the module docstring.

    ``operator(t, X, V, best_X, best_F, rng)``, if given, runs after each move
    and before the evaluation, and may rewrite particles in place (the PSO-GA
    hybrid's genetic operators), so every iteration costs one swarm evaluation.
    """
    P, T = settings.swarm_size, settings.iterations
    lower, upper = problem.lower, problem.upper
    vmax = settings.max_velocity * (upper - lower)
    X = problem.initial(rng, P)
    V = rng.uniform(-1.0, 1.0, X.shape) * vmax * 0.1
    F = problem.fitness(X)
    best_X, best_F = X.copy(), F.copy()
    dim_comp = problem.dim_component
    history = np.empty(T + 1)
    history[0] = best_F.min(axis=0).sum()
    t_done = 0
    for t in range(T):
        if settings.stop_at_zero and history[t] == 0.0:
            break
        w = schedule(settings.w, t, T)
        c1 = schedule(settings.c1, t, T)
        c2 = schedule(settings.c2, t, T)
        g = problem.best_per_component(best_X, best_F)
        V *= w
        V += c1 * rng.random(X.shape) * (best_X - X)
        V += c2 * rng.random(X.shape) * (g - X)
        np.clip(V, -vmax, vmax, out=V)
        X += V
        np.clip(X, lower, upper, out=X)
        if operator is not None:
            operator(t, X, V, best_X, best_F, rng)
        F = problem.fitness(X)
        improved = F < best_F
        best_F = np.where(improved, F, best_F)
        moved = improved[:, dim_comp]
        best_X[moved] = X[moved]
        history[t + 1] = best_F.min(axis=0).sum()
        t_done = t + 1
    return OptimizeResult(
        x=problem.best_per_component(best_X, best_F),
        history=history[: t_done + 1],
        evaluations=P * (t_done + 1),
    )
