"""The architecture the layout shows holds in the imports (lazy ones inside functions included)."""

import ast
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

ROOT = Path(__file__).resolve().parents[1]


def _modules(folder: str, package: str) -> dict[str, Path]:
    out = {}
    for path in (ROOT / folder).rglob("*.py"):
        parts = path.relative_to(ROOT / folder).with_suffix("").parts
        name = ".".join((package, *parts)).removesuffix(".__init__")
        out[name] = path
    return out


CORE = _modules("cellframe", "cellframe")
PLUGINS = _modules("plugins", "cellframe.plugins")


def _imports(path: Path, known: dict) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cellframe"):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in known else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("cellframe")}
    return found


def test_the_core_has_no_import_cycle():
    names = sorted(CORE)
    index = {n: i for i, n in enumerate(names)}
    edges = [(index[a], index[b]) for a in names for b in _imports(CORE[a], CORE) if b in index and b != a]
    rows, cols = zip(*edges)
    graph = coo_matrix((np.ones(len(edges)), (rows, cols)), shape=(len(names), len(names)))
    _, label = connected_components(graph, directed=True, connection="strong")
    cycles = defaultdict(list)
    for name, k in zip(names, label):
        cycles[k].append(name)
    assert [group for group in cycles.values() if len(group) > 1] == []


def test_the_core_names_no_plugin_and_no_plugin_imports_another():
    for name, path in CORE.items():
        assert not {m for m in _imports(path, CORE) if m.startswith("cellframe.plugins")}, name
    for name, path in PLUGINS.items():
        others = {m for m in _imports(path, PLUGINS) if m.startswith("cellframe.plugins") and m != name}
        assert not others, f"{name} imports {others}"


def test_the_model_and_physics_layers_do_not_reach_up_into_running():
    for name, path in CORE.items():
        if name.startswith(("cellframe.model", "cellframe.physics", "cellframe.io", "cellframe.stats")):
            assert not {m for m in _imports(path, CORE) if m.startswith(("cellframe.running", "cellframe.cli"))}, name
