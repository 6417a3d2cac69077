"""Optimizer ``pso_ga``: the paper's PSO with genetic operators every k iterations.

Every ``ga_every`` iterations the particles with the worst personal bests are
replaced by offspring of tournament-selected personal bests (blend crossover,
Gaussian mutation), per component when the problem is decomposed. With
``only_stagnant`` (the default) this happens only in components whose best has
not improved since the previous genetic step and is not yet 0: the genetic
operators then add diversity where the swarm has converged, and leave the
components where it is still making progress alone. Offspring
take the replaced particles' slots in the same swarm evaluation, so the
evaluation budget is exactly that of ``pso`` with the same swarm and iterations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cellframe import hookimpl
from cellframe.model.swarm import PSOSettings, pso
from cellframe.model.problem import Problem
from cellframe.stages import Stage


@dataclass
class PSOGASettings(PSOSettings):
    name: str = "pso_ga"
    #: apply the genetic operators every this many iterations
    ga_every: int = 10
    #: share of the swarm replaced by offspring each time
    replace_fraction: float = 0.2
    tournament: int = 2
    #: BLX-alpha: offspring are drawn from the parents' range widened by alpha on each side
    blend_alpha: float = 0.25
    #: probability that a coordinate is mutated, and the mutation's scale (fraction of the range)
    mutation_rate: float = 0.1
    mutation_scale: float = 0.1
    #: apply the operators only to components whose best stopped improving
    only_stagnant: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.ga_every < 1:
            raise ValueError(f"ga_every={self.ga_every} must be >= 1")
        if not 0 < self.replace_fraction < 1:
            raise ValueError(f"replace_fraction={self.replace_fraction} must be in (0, 1)")
        if self.tournament < 1:
            raise ValueError(f"tournament={self.tournament} must be >= 1")
        if not 0 <= self.mutation_rate <= 1:
            raise ValueError(f"mutation_rate={self.mutation_rate} must be in [0, 1]")


def tournament(best_F: np.ndarray, size: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` winners per component (column of ``best_F``) of tournaments of ``size`` particles."""
    P, C = best_F.shape
    entrants = rng.integers(P, size=(size, n, C))
    fitness = best_F[entrants, np.arange(C)]
    return np.take_along_axis(entrants, fitness.argmin(axis=0)[None], axis=0)[0]


def genetic_step(problem: Problem, settings: PSOGASettings, X, V, best_X, best_F, rng, components=None) -> None:
    """Replace the worst particles of each component by offspring of good personal bests (in place).

    ``components``: boolean mask of the components to act on (default: all).
    """
    P = X.shape[0]
    n = max(1, int(round(settings.replace_fraction * P)))
    dim_comp, cols = problem.dim_component, np.arange(X.shape[1])
    worst = np.argsort(best_F, axis=0, kind="stable")[-n:]
    mum = best_X[tournament(best_F, settings.tournament, n, rng)[:, dim_comp], cols]
    dad = best_X[tournament(best_F, settings.tournament, n, rng)[:, dim_comp], cols]
    a = settings.blend_alpha
    child = mum + rng.uniform(-a, 1 + a, mum.shape) * (dad - mum)
    span = problem.upper - problem.lower
    mutate = rng.random(child.shape) < settings.mutation_rate
    child += mutate * rng.normal(0.0, settings.mutation_scale, child.shape) * span
    np.clip(child, problem.lower, problem.upper, out=child)
    rows = worst[:, dim_comp]
    if components is not None:
        keep = components[dim_comp]
        rows, cols, child = rows[:, keep], cols[keep], child[:, keep]
    X[rows, cols] = child
    V[rows, cols] = 0.0


def pso_ga(problem: Problem, settings: PSOGASettings, rng: np.random.Generator):
    previous = np.full(problem.n_components, np.inf)

    def operator(t, X, V, best_X, best_F, rng):
        nonlocal previous
        if (t + 1) % settings.ga_every:
            return
        current = best_F.min(axis=0)
        act = None
        if settings.only_stagnant:
            act = (current >= previous) & (current > 0)
            previous = current
            if not act.any():
                return
        genetic_step(problem, settings, X, V, best_X, best_F, rng, act)

    return pso(problem, settings, rng, operator=operator)


@hookimpl
def cellframe_stages():
    return [Stage("optimizer", "pso_ga", PSOGASettings, "PSO with genetic crossover/mutation every k iterations")]


@hookimpl
def cellframe_optimize(problem, settings, rng):
    return pso_ga(problem, settings, rng)
