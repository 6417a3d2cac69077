import numpy as np
import pandas as pd
import pytest

from cellframe.config import ModelConfig
from cellframe.model.swarm import PSOSettings, pso, schedule
from cellframe.plugins.geometries.sphere import Sphere, SphereSettings
from cellframe.model.problem import Problem


def cluster(n=12, seed=0):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 30, (n, 2))
    r = rng.uniform(4, 6, n)
    return pd.DataFrame({"label": np.arange(1, n + 1), "x": xy[:, 0], "y": xy[:, 1], "r": r, "area": np.pi * r**2})


def problem(decompose=True, separate_init=False, z_max=40.0):
    geom = Sphere(cluster(), ModelConfig(z_max=z_max), SphereSettings(separate_init=separate_init))
    return Problem(geom, decompose=decompose)


def test_schedule_is_linear():
    assert schedule([0.9, 0.4], 0, 11) == 0.9
    assert schedule([0.9, 0.4], 10, 11) == 0.4
    assert schedule([1.0, 2.6], 5, 11) == pytest.approx(1.8)


@pytest.mark.parametrize("decompose", [True, False])
def test_pso_reaches_zero_penalty_from_random_starts(decompose):
    prob = problem(decompose=decompose)
    start = prob.fitness(prob.initial(np.random.default_rng(0), 30)).min(axis=0).sum()
    result = pso(prob, PSOSettings(swarm_size=30, iterations=300), np.random.default_rng(0))
    assert start > 0
    assert result.history[0] == start
    assert result.history[-1] == 0.0
    assert np.all(np.diff(result.history) <= 0)  # the best never gets worse
    assert not prob.geometry.interpenetrating(result.x).any()
    assert ((result.x >= prob.lower) & (result.x <= prob.upper)).all()


def test_pso_is_reproducible():
    a = pso(problem(), PSOSettings(swarm_size=10, iterations=20, stop_at_zero=False), np.random.default_rng(5))
    b = pso(problem(), PSOSettings(swarm_size=10, iterations=20, stop_at_zero=False), np.random.default_rng(5))
    assert np.array_equal(a.x, b.x) and np.array_equal(a.history, b.history)
    assert len(a.history) == 21 and a.evaluations == 10 * 21


@pytest.mark.parametrize("key,value,match", [("swarm_size", 1, "swarm_size"), ("iterations", 0, "iterations"),
                                             ("w", [0.9], "w="), ("max_velocity", 0.0, "max_velocity")])
def test_pso_settings_are_checked(key, value, match):
    with pytest.raises(ValueError, match=match):
        PSOSettings(**{key: value})


def test_problem_components_sum_to_total():
    prob = problem(decompose=True)
    X = prob.initial(np.random.default_rng(1), 8)
    whole = Problem(prob.geometry, decompose=False)
    assert whole.n_components == 1
    assert np.allclose(prob.fitness(X).sum(axis=1), whole.fitness(X)[:, 0])
    expected = sum(prob.weights[t] * v.sum(axis=1) for t, v in prob.geometry.penalties(X).items())
    assert np.allclose(prob.total(X), expected)


def test_best_per_component_takes_each_components_best_particle():
    prob = problem(decompose=True)
    X = prob.initial(np.random.default_rng(2), 16)
    F = prob.fitness(X)
    best = prob.best_per_component(X, F)
    assert np.allclose(prob.fitness(best)[0], F.min(axis=0))
