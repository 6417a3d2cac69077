"""The README's promises: its plugin example works, every hook is in its table (datasette-style)."""

import re
import textwrap

import numpy as np

from cellframe import hookspecs
from cellframe.registry import build_registry

from conftest import REPO
from test_pso import problem
from test_registry import make_distribution

README = (REPO / "README.md").read_text()


def test_every_hook_is_documented_in_the_readme():
    for name in (n for n in vars(hookspecs) if n.startswith("cellframe_")):
        assert f"`{name}(" in README, f"{name} missing from the README's hook table"


def test_the_readme_plugin_example_is_a_working_plugin(tmp_path, monkeypatch):
    section = README.split("## Writing a plugin", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    make_distribution(tmp_path, module="my_optimizer", dist="my_optimizer", version="1.0", source=textwrap.dedent(code))
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = build_registry()
    stage = registry.stage("optimizer", "random_search")
    prob = problem()
    result = registry.call("optimizer", "random_search", problem=prob, settings=stage.schema(samples=16),
                           rng=np.random.default_rng(0))
    assert result.x.shape == (prob.dim,) and len(result.history) == 1


def test_the_readme_commands_name_real_config_keys():
    from cellframe.config import CellframeConfig, InputConfig, ModelConfig

    keys = set(re.findall(r"\b(model|input)\.(\w+)=", README))
    fields = {"model": ModelConfig.__dataclass_fields__, "input": InputConfig.__dataclass_fields__}
    for group, key in keys:
        assert key in fields[group], f"README uses {group}.{key}, which the schema does not have"
    assert "seed" in CellframeConfig.__dataclass_fields__


def _readme_plugin(name: str) -> str:
    section = README.split("## Writing a plugin", 1)[1]
    for code in re.findall(r"```python\n(.*?)```", section, re.S):
        if code.startswith(f"# {name}.py"):
            return textwrap.dedent(code)
    raise AssertionError(f"no {name}.py example in the README")


def test_the_readme_geometry_and_exporter_examples_are_working_plugins(tmp_path, monkeypatch):
    from cellframe.config import ModelConfig
    from cellframe.model.reconstruct import reconstruct
    from cellframe.testing import check_exporter, check_geometry, settings_for, small_nuclei

    for name in ("my_geometry", "my_exporter"):
        (tmp_path / name).mkdir()
        make_distribution(tmp_path / name, module=name, dist=name, version="1.0", source=_readme_plugin(name))
        monkeypatch.syspath_prepend(str(tmp_path / name))
    registry = build_registry()
    check_geometry(registry, "fixed_ratio")
    rec = reconstruct(small_nuclei(), registry=registry, model=ModelConfig(),
                      geometry=settings_for(registry, "geometry", "fixed_ratio"),
                      optimizer=settings_for(registry, "optimizer", "pso", iterations=30), rng=np.random.default_rng(0))
    assert rec.n_violations == 0
    assert np.allclose(rec.cells["R"], 2.0 * rec.cells["r"])
    (path,) = check_exporter(registry, "centres", rec, tmp_path / "out")
    assert path.read_text().startswith("cell_id,x,y,z,R_eq,volume")
