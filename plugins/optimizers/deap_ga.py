"""Optimizer ``deap_ga``: a genetic algorithm built with DEAP.

Tournament selection, blend crossover and Gaussian mutation on real-valued
individuals (numpy arrays), the population evaluated in one vectorized call
per generation. With ``decompose`` the problem's components are independent,
so after each evaluation the population is regrouped component by component:
the k-th individual takes every component's k-th best block. Its total fitness
then ranks it fairly for selection, and the first individual is the elite
assembled from the best of each component.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cellframe import hookimpl
from cellframe.model.problem import OptimizeResult, Problem
from cellframe.running.seeding import global_random_state
from cellframe.stages import Stage


@dataclass
class DeapGASettings:
    name: str = "deap_ga"
    population: int = 50
    generations: int = 120
    crossover_prob: float = 0.8
    mutation_prob: float = 0.3
    #: probability that a coordinate of a mutated individual changes, and the step's scale (fraction of range)
    mutation_rate: float = 0.1
    mutation_scale: float = 0.1
    tournament: int = 3
    blend_alpha: float = 0.3
    decompose: bool = True
    stop_at_zero: bool = True

    def __post_init__(self) -> None:
        if self.population < 2:
            raise ValueError(f"population={self.population} must be >= 2")
        if self.generations < 1:
            raise ValueError(f"generations={self.generations} must be >= 1")
        for key in ("crossover_prob", "mutation_prob", "mutation_rate"):
            if not 0 <= getattr(self, key) <= 1:
                raise ValueError(f"{key}={getattr(self, key)} must be in [0, 1]")


def _creator():
    from deap import base, creator

    if not hasattr(creator, "CellframeFitness"):
        creator.create("CellframeFitness", base.Fitness, weights=(-1.0,))
        creator.create("CellframeIndividual", np.ndarray, fitness=creator.CellframeFitness)
    return creator


def blend(a: np.ndarray, b: np.ndarray, alpha: float, rng: np.random.Generator):
    """BLX-alpha crossover writing new values into copies' slots (DEAP's cxBlend loops in Python)."""
    u = rng.uniform(-alpha, 1 + alpha, a.shape)
    a_new, b_new = a + u * (b - a), b + u * (a - b)
    a[:], b[:] = a_new, b_new
    return a, b


def gaussian(ind: np.ndarray, rate: float, scale: np.ndarray, rng: np.random.Generator):
    ind += (rng.random(ind.shape) < rate) * rng.normal(0.0, 1.0, ind.shape) * scale
    return (ind,)


def deap_ga(problem: Problem, s: DeapGASettings, rng: np.random.Generator) -> OptimizeResult:
    from deap import base, tools

    creator = _creator()
    lower, upper = problem.lower, problem.upper
    toolbox = base.Toolbox()
    toolbox.register("mate", blend, alpha=s.blend_alpha, rng=rng)
    toolbox.register("mutate", gaussian, rate=s.mutation_rate, scale=s.mutation_scale * (upper - lower), rng=rng)
    toolbox.register("select", tools.selTournament, tournsize=s.tournament)
    evaluations = 0

    def evaluate(individuals):
        nonlocal evaluations
        todo = [ind for ind in individuals if not ind.fitness.valid]
        if todo:
            parts = problem.fitness(np.stack(todo))
            evaluations += len(todo)
            for ind, p in zip(todo, parts):
                ind.parts = p
                ind.fitness.values = (float(p.sum()),)

    def regroup(individuals):
        """Sort each component's blocks across the population by that component's fitness."""
        X = np.stack(individuals)
        F = np.stack([ind.parts for ind in individuals])
        order = np.argsort(F, axis=0, kind="stable")
        X = X[order[:, problem.dim_component], np.arange(X.shape[1])]
        F = np.take_along_axis(F, order, axis=0)
        for ind, x, parts in zip(individuals, X, F):
            ind[:] = x
            ind.parts = parts
            ind.fitness.values = (float(parts.sum()),)

    def elite_of(individuals):
        if s.decompose:
            regroup(individuals)
        return toolbox.clone(min(individuals, key=lambda ind: ind.fitness.values[0]))

    with global_random_state(rng):  # selTournament draws from Python's random
        pop = [creator.CellframeIndividual(x) for x in problem.initial(rng, s.population)]
        evaluate(pop)
        elite = elite_of(pop)
        history = [elite.fitness.values[0]]
        for _ in range(s.generations):
            if s.stop_at_zero and history[-1] == 0.0:
                break
            offspring = [toolbox.clone(ind) for ind in toolbox.select(pop, len(pop))]
            for a, b in zip(offspring[::2], offspring[1::2]):
                if rng.random() < s.crossover_prob:
                    toolbox.mate(a, b)
                    np.clip(a, lower, upper, out=a)
                    np.clip(b, lower, upper, out=b)
                    del a.fitness.values, b.fitness.values
            for ind in offspring:
                if rng.random() < s.mutation_prob:
                    toolbox.mutate(ind)
                    np.clip(ind, lower, upper, out=ind)
                    del ind.fitness.values
            evaluate(offspring)
            worst = max(range(len(offspring)), key=lambda k: offspring[k].fitness.values[0])
            offspring[worst] = toolbox.clone(elite)
            elite = elite_of(offspring)
            pop = offspring
            history.append(elite.fitness.values[0])
    return OptimizeResult(x=np.asarray(elite, float).copy(), history=np.array(history), evaluations=evaluations)


@hookimpl
def cellframe_stages():
    return [Stage("optimizer", "deap_ga", DeapGASettings, "genetic algorithm (DEAP): tournament, blend, Gaussian")]


@hookimpl
def cellframe_optimize(problem, settings, rng):
    return deap_ga(problem, settings, rng)
