"""The objective an optimizer minimises: weighted penalty terms, split into independent components."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import csr_matrix

from cellframe.model.geometry import Geometry
from cellframe.model.objective import Objective


@dataclass
class OptimizeResult:
    """What an optimizer returns.

    :param x: the best position, ``(dim,)``.
    :param history: best total fitness of the starting swarm (step 0), then after each iteration.
    :param evaluations: number of particle evaluations spent.
    """

    x: np.ndarray
    history: np.ndarray
    evaluations: int = 0
    extra: dict = field(default_factory=dict)


class Problem:
    """Weighted sum of an objective's terms, evaluated for a whole swarm.

    ``target`` is an :class:`~cellframe.model.objective.Objective`, or a geometry
    (then the paper's objective over it).

    With ``decompose=True`` every connected component of the candidate-pair
    graph is an independent sub-problem: :meth:`fitness` returns one column per
    component, and an optimizer may keep a best position per component.
    With ``decompose=False`` there is a single column.
    """

    def __init__(self, target: Geometry | Objective, decompose: bool = True) -> None:
        objective = target if isinstance(target, Objective) else Objective(target, target.model)
        geometry = objective.geometry
        self.objective = objective
        self.geometry = geometry
        comp = geometry.components() if decompose else np.zeros(geometry.n, np.int64)
        _, comp = np.unique(comp, return_inverse=True)
        self.nucleus_component = comp.astype(np.int64)
        self.n_components = int(comp.max()) + 1 if len(comp) else 0
        self.dim_component = self.nucleus_component[geometry.dim_owner]
        self.lower, self.upper = (np.asarray(b, float) for b in objective.bounds())
        self.weights = objective.weights
        self._reduce = {
            term: csr_matrix(
                (np.ones(len(owner)), (np.arange(len(owner)), self.nucleus_component[owner])),
                shape=(len(owner), self.n_components),
            )
            for term, owner in objective.penalty_owners().items()
        }

    @property
    def dim(self) -> int:
        return self.geometry.dim

    def initial(self, rng: np.random.Generator, n_particles: int) -> np.ndarray:
        return self.objective.initial(rng, n_particles)

    def fitness(self, X: np.ndarray) -> np.ndarray:
        """Weighted penalty per component, ``(particles, components)``."""
        X = np.atleast_2d(X)
        total = np.zeros((X.shape[0], self.n_components))
        for term, items in self.objective.penalties(X).items():
            if items.shape[1]:
                total += self.weights[term] * (self._reduce[term].T @ items.T).T
        return total

    def total(self, X: np.ndarray) -> np.ndarray:
        """Weighted penalty of each particle, ``(particles,)``."""
        return self.fitness(X).sum(axis=1)

    def component(self, c: int) -> "Problem":
        """Component ``c`` alone, as a problem of its own (its dimensions: ``dim_component == c``)."""
        return Problem(self.objective.subset(self.nucleus_component == c), decompose=False)

    def best_per_component(self, X: np.ndarray, F: np.ndarray) -> np.ndarray:
        """Assemble one position from the best particle of each component."""
        best = np.argmin(F, axis=0)
        return X[best[self.dim_component], np.arange(X.shape[1])]
