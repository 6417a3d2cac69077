"""Every optimizer plugin through the same hook: reaches zero where it can, honours the seed."""

import logging

import numpy as np
import pytest
from skimage import io

from cellframe.config import ModelConfig
from cellframe.model.feasibility import component_feasibility
from cellframe.io.nuclei import nuclei_table, split_instances
from cellframe.plugins.optimizers.pso_ga import PSOGASettings, genetic_step, tournament
from cellframe.plugins.geometries.sphere import Sphere, SphereSettings
from cellframe.model.problem import Problem
from cellframe.model.reconstruct import reconstruct

from conftest import DEMO
from test_pso import cluster

OPTIMIZERS = ["pso", "pso_ga", "deap_ga", "pyswarms"]


def hard_problem(decompose):
    """A tight cluster of 7 nuclei (and one apart) in a section 1.3x deeper than it needs."""
    nuclei = cluster(n=8, seed=0)
    nuclei[["x", "y"]] *= 0.6
    need = component_feasibility(nuclei, z_max=100)["needed_depth"].max()
    geom = Sphere(nuclei, ModelConfig(z_max=1.3 * need), SphereSettings(separate_init=False))
    return Problem(geom, decompose=decompose)


@pytest.mark.parametrize("decompose", [True, False])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_solves_a_feasible_cluster_and_is_reproducible(registry, name, decompose):
    settings = registry.stage("optimizer", name).schema(decompose=decompose)
    runs = [registry.call("optimizer", name, problem=hard_problem(decompose), settings=settings,
                          rng=np.random.default_rng(3)) for _ in range(2)]
    prob = hard_problem(decompose)
    assert prob.total(runs[0].x)[0] == 0.0
    assert runs[0].history[0] > 0 and runs[0].history[-1] == 0.0
    assert np.all(np.diff(runs[0].history) <= 1e-9)
    assert np.array_equal(runs[0].x, runs[1].x) and np.array_equal(runs[0].history, runs[1].history)


@pytest.fixture(scope="module")
def demo_nuclei():
    return {k: nuclei_table(split_instances(io.imread(DEMO / f"tcga_patch_{k}_nuclei_mask.png"), 9), 20) for k in (1, 2)}


@pytest.mark.parametrize("separate_init", [True, False])
@pytest.mark.parametrize("name", ["pso", "pso_ga", "deap_ga"])
def test_no_interpenetration_on_the_demo_patches_at_default_settings(registry, demo_nuclei, name, separate_init):
    for nuclei in demo_nuclei.values():
        rec = reconstruct(nuclei, registry=registry, model=ModelConfig(),
                          geometry=SphereSettings(separate_init=separate_init),
                          optimizer=registry.stage("optimizer", name).schema(), rng=np.random.default_rng(0))
        summary = rec.feasibility_summary()
        assert summary["n_infeasible_components"] == summary["n_undetermined_components"] == 0
        assert rec.n_violations == 0 and rec.penalties["overlap"] == 0.0


def test_infeasible_clusters_are_reported_and_the_rest_is_solved(registry):
    labels = split_instances(io.imread(DEMO / "tcga_patch_1_nuclei_mask.png"), 9)
    nuclei = nuclei_table(labels, 20, radius="enclosing")
    rec = reconstruct(nuclei, registry=registry, model=ModelConfig(), geometry=SphereSettings(),
                      optimizer=registry.stage("optimizer", "pso").schema(), rng=np.random.default_rng(0))
    summary = rec.feasibility_summary()
    assert summary["n_infeasible_components"] >= 1 and summary["max_needed_depth"] > 40
    assert summary["n_violations_feasible"] == 0 and rec.n_violations > 0


def test_pyswarms_leaves_logging_and_the_working_directory_alone(registry, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    settings = registry.stage("optimizer", "pyswarms").schema(iterations=5)
    registry.call("optimizer", "pyswarms", problem=hard_problem(True), settings=settings, rng=np.random.default_rng(0))
    assert root.handlers == handlers and root.level == level
    assert not (tmp_path / "report.log").exists()


def test_tournament_picks_the_best_when_everyone_enters():
    F = np.array([[3.0, 0.0], [1.0, 5.0], [2.0, 4.0]])
    winners = tournament(F, size=64, n=5, rng=np.random.default_rng(0))
    assert (winners[:, 0] == 1).all() and (winners[:, 1] == 0).all()


def test_genetic_step_replaces_the_worst_particles_within_bounds():
    prob = hard_problem(True)
    rng = np.random.default_rng(0)
    X = prob.initial(rng, 10)
    V = np.ones_like(X)
    F = prob.fitness(X)
    settings = PSOGASettings(replace_fraction=0.2)
    before = X.copy()
    genetic_step(prob, settings, X, V, X.copy(), F, rng)
    worst = np.argsort(F, axis=0, kind="stable")[-2:]
    replaced = np.zeros_like(X, bool)
    replaced[worst[:, prob.dim_component], np.arange(X.shape[1])] = True
    assert np.array_equal(X[~replaced], before[~replaced])
    assert (V[replaced] == 0).all() and (V[~replaced] == 1).all()
    assert ((X >= prob.lower) & (X <= prob.upper)).all()
