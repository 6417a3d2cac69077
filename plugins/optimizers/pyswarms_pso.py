"""Optimizer ``pyswarms``: the paper's PSO driven by pyswarms' ``GlobalBestPSO``.

pyswarms' options handler (``lin_variation``, wrapped to pass the paper's end
values) gives the linear w/c1/c2 schedules and its ``nearest`` bounds handler
is the projection onto the bounds. ``GlobalBestPSO`` has one global best, so
with ``decompose`` each component of the problem is optimised by its own
swarm, one after the other.

Two traps are neutralised here: pyswarms reconfigures the root logger (and
writes ``report.log``) whenever it is imported or an optimizer is built, and it
keeps every position and velocity of the run in memory (``pos_history``),
which is released after each run.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cellframe import hookimpl
from cellframe.model.swarm import SwarmSettings
from cellframe.model.problem import OptimizeResult, Problem
from cellframe.running.seeding import global_random_state
from cellframe.stages import Stage

_QUIET_LOGGING = Path(__file__).with_name("pyswarms_logging.yaml")


@dataclass
class PyswarmsSettings(SwarmSettings):
    name: str = "pyswarms"


@contextlib.contextmanager
def quiet_pyswarms():
    """Point pyswarms' Reporter at an empty incremental logging config for the block."""
    old = os.environ.get("LOG_CFG")
    os.environ["LOG_CFG"] = str(_QUIET_LOGGING)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("LOG_CFG", None)
        else:
            os.environ["LOG_CFG"] = old


def _run_swarm(objective, init_pos, lower, upper, settings: PyswarmsSettings) -> tuple[np.ndarray, np.ndarray]:
    """One GlobalBestPSO run; returns (best position, best cost per iteration)."""
    from pyswarms.single import GlobalBestPSO

    options = {"w": settings.w[0], "c1": settings.c1[0], "c2": settings.c2[0]}
    end = {"w": settings.w[1], "c1": settings.c1[1], "c2": settings.c2[1]}
    optimizer = GlobalBestPSO(
        n_particles=len(init_pos),
        dimensions=init_pos.shape[1],
        options=options,
        bounds=(lower, upper),
        bh_strategy="nearest",
        oh_strategy={"w": "lin_variation", "c1": "lin_variation", "c2": "lin_variation"},
        init_pos=init_pos,
    )
    handler = optimizer.oh
    # pyswarms calls the handler without end values: supply the paper's
    optimizer.oh = lambda start, **kw: handler(start, end_opts=end, **kw)
    # one more iteration than pso's moves: both then evaluate the swarm iterations + 1 times
    optimizer.optimize(objective, iters=settings.iterations + 1, verbose=False)
    best = optimizer.swarm.pbest_pos[optimizer.swarm.pbest_cost.argmin()].copy()
    history = np.asarray(optimizer.cost_history, float)
    optimizer.reset()  # drops pos_history / velocity_history
    return best, history


def pyswarms_pso(problem: Problem, settings: PyswarmsSettings, rng: np.random.Generator) -> OptimizeResult:
    with quiet_pyswarms(), global_random_state(rng):
        start = problem.initial(rng, settings.swarm_size)
        best = start[0].copy()
        histories = []
        for c in range(problem.n_components):
            dims = np.flatnonzero(problem.dim_component == c)
            part = problem.component(c) if problem.n_components > 1 else problem

            def objective(Xc, part=part):
                return part.fitness(Xc)[:, 0]

            x_c, hist = _run_swarm(objective, start[:, dims], problem.lower[dims], problem.upper[dims], settings)
            best[dims] = x_c
            histories.append(hist)
    history = np.sum(histories, axis=0) if histories else np.zeros(1)
    return OptimizeResult(x=best, history=history, evaluations=settings.swarm_size * (settings.iterations + 1)
                          * max(problem.n_components, 1))


@hookimpl
def cellframe_stages():
    return [Stage("optimizer", "pyswarms", PyswarmsSettings, "the paper's PSO run by pyswarms' GlobalBestPSO")]


@hookimpl
def cellframe_optimize(problem, settings, rng):
    return pyswarms_pso(problem, settings, rng)
