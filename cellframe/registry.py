"""Plugin discovery: load the ``cellframe`` entry points, collect their stages.

Each stage a plugin declares is bound to that plugin's implementation of the
stage's hook; :meth:`Registry.call` calls exactly that implementation (as
tox 4's registry does), so no plugin answers for a name it did not declare.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any

import pluggy

from cellframe import hookspecs
from cellframe.stages import KINDS, Stage, StageError

ENTRY_POINT_GROUP = "cellframe"


class PluginError(Exception):
    """A plugin is broken or a stage name is unknown."""


class StageFailure(PluginError):
    """A plugin raised something other than a :class:`~cellframe.stages.StageError`: a bug, named by stage and plugin."""


@dataclass
class Registry:
    """The plugin manager and the stages its plugins declared, by kind and name."""

    pm: pluggy.PluginManager
    stages: dict[str, dict[str, Stage]]
    #: the hook implementation each stage is bound to, by kind and name
    impls: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    def stage(self, kind: str, name: str) -> Stage:
        try:
            return self.stages[kind][name]
        except KeyError:
            known = ", ".join(sorted(self.stages.get(kind, {}))) or "none"
            raise PluginError(f"unknown {kind} {name!r} (available: {known})") from None

    def call(self, kind: str, name: str, **kwargs: Any) -> Any:
        """Call the hook implementation of the plugin that declared stage ``kind``/``name``.

        Only the arguments the implementation names are passed (as pluggy does).
        """
        stage = self.stage(kind, name)
        impl = self.impls[kind][name]
        given = {"name": name, **kwargs}
        try:
            result = impl.function(**{arg: given[arg] for arg in impl.argnames})
        except (StageError, PluginError, *_user_errors()):
            raise
        except Exception as exc:
            raise StageFailure(f"{kind} {name!r} (plugin {stage.plugin}) failed: {type(exc).__name__}: {exc}") from exc
        if result is None:
            raise PluginError(f"{kind} {name!r} (plugin {stage.plugin}) did not answer {KINDS[kind]}")
        return result


def _plugin_label(pm: pluggy.PluginManager, plugin: object) -> str:
    return pm.get_name(plugin) or repr(plugin)


def build_registry(extra_plugins: tuple[object, ...] = ()) -> Registry:
    """Create a plugin manager, load every ``cellframe`` entry point and index the stages.

    ``extra_plugins`` are registered too (handy for tests and notebooks).
    """
    pm = pluggy.PluginManager("cellframe")
    pm.add_hookspecs(hookspecs)
    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for plugin in extra_plugins:
        pm.register(plugin)
    pm.check_pending()  # a misspelt hook name fails here, not silently later

    stages: dict[str, dict[str, Stage]] = {kind: {} for kind in KINDS}
    impls: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}
    for impl in pm.hook.cellframe_stages.get_hookimpls():
        label = _plugin_label(pm, impl.plugin)
        for stage in impl.function() or []:
            stage = dataclasses.replace(stage, plugin=label)
            other = stages[stage.kind].get(stage.name)
            if other is not None:
                raise PluginError(
                    f"{stage.kind} {stage.name!r} is declared by both plugin {other.plugin!r} and {label!r}"
                )
            hook = KINDS[stage.kind]
            own = [i for i in getattr(pm.hook, hook).get_hookimpls() if i.plugin is impl.plugin]
            if not own:
                raise PluginError(f"plugin {label!r} declares {stage.kind} {stage.name!r} but does not implement {hook}")
            _check_schema(stage, label)
            stages[stage.kind][stage.name] = stage
            impls[stage.kind][stage.name] = own[0]
    if not any(stages.values()):
        raise PluginError(
            f"no plugins found in entry-point group {ENTRY_POINT_GROUP!r}; is cellframe installed (pip install -e .)?"
        )
    return Registry(pm, stages, impls)


def _user_errors() -> tuple[type, ...]:
    """Errors the core's own helpers raise for bad input; plugins pass them through as they are."""
    from cellframe.stats.analysis import AnalysisError
    from cellframe.io.files import InputError

    return (InputError, AnalysisError)


def _check_schema(stage: Stage, label: str) -> None:
    """A stage's settings schema is a dataclass with a ``name`` field defaulting to the stage's name."""
    fields = {f.name: f for f in dataclasses.fields(stage.schema)} if dataclasses.is_dataclass(stage.schema) else {}
    if "name" not in fields or fields["name"].default != stage.name:
        raise PluginError(f"plugin {label!r}: the settings schema of {stage.kind} {stage.name!r} needs a field "
                          f"name: str = {stage.name!r}")


@functools.lru_cache(maxsize=1)
def default_registry() -> Registry:
    """The process-wide registry of installed plugins."""
    return build_registry()


def describe_plugins(registry: Registry) -> list[dict[str, Any]]:
    """One record per plugin: its name, distribution, version, hooks and stages."""
    pm = registry.pm
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    rows = []
    for plugin in pm.get_plugins():
        label = _plugin_label(pm, plugin)
        dist = dists.get(id(plugin))
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        provided = [f"{s.kind}:{s.name}" for kind in registry.stages.values() for s in kind.values() if s.plugin == label]
        rows.append(
            {
                "plugin": label,
                "module": getattr(plugin, "__name__", type(plugin).__name__),
                "distribution": dist.project_name if dist else "-",
                "version": dist.version if dist else "-",
                "hooks": hooks,
                "stages": provided,
            }
        )
    return sorted(rows, key=lambda r: r["plugin"])
