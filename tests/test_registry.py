"""Plugin discovery through entry points, for built-in and third-party plugins alike."""

import inspect
import textwrap
from dataclasses import dataclass

import numpy as np

import pytest

from cellframe import hookspecs
from cellframe.registry import PluginError, build_registry, describe_plugins
from cellframe.stages import KINDS, Stage

BUILTIN = {
    "segmenter": {"mask", "hed_watershed", "labels", "hovernet", "qupath"},
    "geometry": {"sphere", "ellipsoid", "cylinder", "spheroid"},
    "optimizer": {"pso", "pso_ga", "deap_ga", "pyswarms"},
    "exporter": {"ply", "json", "table", "tiles", "geojson", "ome_tiff"},
    "analysis": {"nc_ratio", "survival", "mutation", "stage", "expression", "spatial", "classifier", "report"},
}

THIRD_PARTY = '''
"""A third-party optimizer: random search, keeping the best sample of each component."""
from dataclasses import dataclass

import numpy as np

from cellframe import hookimpl
from cellframe.model.problem import OptimizeResult
from cellframe.stages import Stage


@dataclass
class RandomSearchSettings:
    name: str = "random_search"
    samples: int = 64
    rounds: int = 5
    decompose: bool = True


@hookimpl
def cellframe_stages():
    return [Stage("optimizer", "random_search", RandomSearchSettings, "random sampling (third-party demo)")]


@hookimpl
def cellframe_optimize(problem, settings, rng):
    best_X = problem.initial(rng, settings.samples)
    best_F = problem.fitness(best_X)
    history = [best_F.min(axis=0).sum()]
    for _ in range(settings.rounds):
        X = rng.uniform(problem.lower, problem.upper, best_X.shape)
        F = problem.fitness(X)
        better = F < best_F
        best_F = np.where(better, F, best_F)
        best_X[better[:, problem.dim_component]] = X[better[:, problem.dim_component]]
        history.append(best_F.min(axis=0).sum())
    return OptimizeResult(problem.best_per_component(best_X, best_F), np.array(history), settings.samples * 6)
'''


def make_distribution(folder, module="cf_extra", dist="cf_extra", version="0.3.1", source=THIRD_PARTY):
    """A module plus a ``*.dist-info`` declaring it in the ``cellframe`` entry-point group."""
    (folder / f"{module}.py").write_text(textwrap.dedent(source))
    info = folder / f"{dist}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[cellframe]\n{module} = {module}\n")
    return folder


@pytest.fixture
def third_party(tmp_path, monkeypatch):
    make_distribution(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_builtin_stages_come_from_entry_points(registry):
    for kind, names in BUILTIN.items():
        assert names <= set(registry.stages[kind])
    rows = {row["plugin"]: row for row in describe_plugins(registry)}
    assert rows["pso"]["distribution"] == "cellframe"
    assert rows["pso"]["hooks"] == ["cellframe_optimize", "cellframe_stages"]
    assert rows["sphere"]["stages"] == ["geometry:sphere"]


def test_third_party_distribution_is_discovered(third_party):
    registry = build_registry()
    stage = registry.stage("optimizer", "random_search")
    assert stage.plugin == "cf_extra"
    row = next(r for r in describe_plugins(registry) if r["plugin"] == "cf_extra")
    assert (row["distribution"], row["version"]) == ("cf_extra", "0.3.1")


def test_unknown_stage_name_lists_the_available_ones(registry):
    with pytest.raises(PluginError, match=r"unknown optimizer 'nope' \(available: .*pso"):
        registry.stage("optimizer", "nope")


def test_duplicate_stage_names_are_refused():
    class Twin:
        @staticmethod
        def cellframe_stages():
            return [Stage("optimizer", "pso", object)]

        @staticmethod
        def cellframe_optimize(name, problem, settings, rng):
            return None

    from cellframe import hookimpl

    Twin.cellframe_stages = hookimpl(Twin.cellframe_stages)
    Twin.cellframe_optimize = hookimpl(Twin.cellframe_optimize)
    with pytest.raises(PluginError, match="declared by both"):
        build_registry(extra_plugins=(Twin,))


def test_stage_without_its_hook_is_refused():
    from cellframe import hookimpl

    class Half:
        @staticmethod
        @hookimpl
        def cellframe_stages():
            return [Stage("exporter", "half", object)]

    with pytest.raises(PluginError, match="does not implement cellframe_export"):
        build_registry(extra_plugins=(Half,))


def test_misspelt_hook_fails_loudly():
    from cellframe import hookimpl

    class Typo:
        @staticmethod
        @hookimpl
        def cellframe_optimise(name, problem, settings, rng):
            return None

    with pytest.raises(Exception, match="cellframe_optimise"):
        build_registry(extra_plugins=(Typo,))


def test_every_hook_is_documented_and_every_kind_has_a_hook():
    hooks = {name: fn for name, fn in vars(hookspecs).items() if name.startswith("cellframe_")}
    assert set(KINDS.values()) | {"cellframe_stages"} == set(hooks)
    for name, fn in hooks.items():
        doc = inspect.getdoc(fn) or ""
        assert len(doc) > 80, f"{name} needs a docstring"
        for param in inspect.signature(fn).parameters:
            if param != "name":
                assert f":param {param}:" in doc, f"{name} does not document {param}"


def test_every_builtin_hook_implementation_is_exercised(registry):
    """Each built-in stage hook has a test module that calls it through the registry."""
    import pathlib

    files = [p.read_text() for p in pathlib.Path(__file__).parent.glob("test_*.py")]
    for kind, names in BUILTIN.items():
        callers = [text for text in files if f'registry.call("{kind}"' in text or f'"{kind}", name' in text]
        for name in names:
            assert any(f'"{name}"' in text for text in callers), f"no test calls {kind} {name} through the registry"


def test_a_run_uses_the_registry_it_is_given(tmp_path, demo_crops):
    """Plugins registered in this process (a notebook, a test) run without being installed."""
    import types

    from hydra import compose, initialize_config_module

    from cellframe.cli import register_configs
    from cellframe.running.pipeline import run

    module = types.ModuleType("inline_optimizer")
    exec(textwrap.dedent(THIRD_PARTY), module.__dict__)
    registry = build_registry(extra_plugins=(module,))
    register_configs(registry)
    with initialize_config_module("cellframe.conf", version_base=None):
        cfg = compose("config", overrides=[f"input.image={demo_crops / 'crop_2.png'}",
                                           f"input.mask={demo_crops / 'crop_2_mask.png'}", "optimizer=random_search",
                                           "executor.name=serial", "mlflow.enabled=false", "progress=false",
                                           "analysis=[]", "exporter=[json]"])
    assert run(cfg, registry, tmp_path / "out") == 0
    assert (tmp_path / "out" / "crop_2" / "cells.json").is_file()


def test_a_plugin_without_a_name_check_cannot_answer_for_another_stage():
    from cellframe import hookimpl
    from cellframe.model.problem import OptimizeResult

    @dataclass
    class GreedySettings:
        name: str = "greedy"

    class Greedy:
        @staticmethod
        @hookimpl
        def cellframe_stages():
            return [Stage("optimizer", "greedy", GreedySettings)]

        @staticmethod
        @hookimpl
        def cellframe_optimize(problem, settings, rng):  # answers whatever it is asked
            return OptimizeResult(np.full(problem.dim, -1.0), np.zeros(1), evaluations=-1)

    from test_pso import problem

    registry = build_registry(extra_plugins=(Greedy,))
    prob = problem()
    pso = registry.stage("optimizer", "pso").schema(iterations=5)
    assert registry.call("optimizer", "pso", problem=prob, settings=pso, rng=np.random.default_rng(0)).evaluations > 0
    assert registry.call("optimizer", "greedy", problem=prob, settings=GreedySettings(),
                         rng=np.random.default_rng(0)).evaluations == -1


def test_a_settings_schema_without_its_name_is_refused():
    from cellframe import hookimpl

    @dataclass
    class Nameless:
        samples: int = 3

    class Plugin:
        @staticmethod
        @hookimpl
        def cellframe_stages():
            return [Stage("optimizer", "nameless", Nameless)]

        @staticmethod
        @hookimpl
        def cellframe_optimize(problem):
            return None

    with pytest.raises(PluginError, match="nameless.*needs a field name: str = 'nameless'"):
        build_registry(extra_plugins=(Plugin,))


def test_a_plugin_bug_is_reported_with_its_stage_and_plugin():
    from cellframe import hookimpl
    from cellframe.registry import StageFailure

    @dataclass
    class BuggySettings:
        name: str = "buggy"

    class Buggy:
        @staticmethod
        @hookimpl
        def cellframe_stages():
            return [Stage("optimizer", "buggy", BuggySettings)]

        @staticmethod
        @hookimpl
        def cellframe_optimize(problem):
            return 1 / 0

    registry = build_registry(extra_plugins=(Buggy,))
    with pytest.raises(StageFailure, match=r"optimizer 'buggy' \(plugin .*\) failed: ZeroDivisionError") as info:
        registry.call("optimizer", "buggy", problem=None, settings=BuggySettings(), rng=None)
    assert isinstance(info.value.__cause__, ZeroDivisionError)  # the traceback stays reachable
