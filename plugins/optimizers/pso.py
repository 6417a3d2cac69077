"""Optimizer ``pso``: the paper's particle swarm (:mod:`cellframe.model.swarm`)."""

from __future__ import annotations

from cellframe import hookimpl
from cellframe.stages import Stage
from cellframe.model.swarm import PSOSettings, pso


@hookimpl
def cellframe_stages():
    return [Stage("optimizer", "pso", PSOSettings, "particle swarm with linear w/c1/c2 schedules (the paper's)")]


@hookimpl
def cellframe_optimize(problem, settings, rng):
    return pso(problem, settings, rng)
