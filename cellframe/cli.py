"""Command line: ``python -m cellframe [plugins | HYDRA OVERRIDES...]``."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import hydra
from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from cellframe.config import CellframeConfig, ConfigError, closest_setting
from cellframe.registry import PluginError, Registry, default_registry, describe_plugins

REPO_DATA = Path(__file__).resolve().parent.parent / "data"


def demo_data(relative: str) -> str:
    """Resolver ``${cellframe.data:PATH}``: a file of the demo data shipped in the repository."""
    path = REPO_DATA / relative
    if not path.exists():
        raise ConfigError(f"demo data {relative!r} not found under {REPO_DATA} (it ships with the git repository)")
    return str(path)


def register_configs(registry: Registry) -> None:
    """Store the run schema and every plugin stage's schema in Hydra's ConfigStore.

    A stage becomes the config option ``<kind>/<name>``; exporters and analyses
    are lists, so each goes under its own key (``exporter.<name>``).
    """
    cs = ConfigStore.instance()
    cs.store(name="cellframe_schema", node=CellframeConfig)
    for kind, stages in registry.stages.items():
        for name, stage in stages.items():
            package = f"{kind}.{name}" if kind in ("exporter", "analysis") else kind
            cs.store(group=kind, name=name, node=stage.schema, package=package)
    OmegaConf.register_new_resolver("cellframe.data", demo_data, replace=True)


def swept_values(hydra_cfg) -> str:
    """A sweep job's values of the swept keys (``model.alpha=1.3,model.beta=2.0``), to name its MLflow run."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    try:
        swept = {o.key_or_group for o in parser.parse_overrides([a for a in sys.argv[1:] if "=" in a])
                 if o.is_sweep_override()}
    except Exception:  # an argument Hydra itself accepted but we cannot re-parse: just the folder number
        return ""
    return ",".join(o for o in hydra_cfg.overrides.task if o.split("=", 1)[0].lstrip("+~") in swept)


@hydra.main(config_path="pkg://cellframe.conf", config_name="config", version_base=None)
def app(cfg: DictConfig) -> None:
    from cellframe.running.pipeline import run

    hydra_cfg = HydraConfig.get()
    outdir = Path(cfg.output_dir or hydra_cfg.runtime.output_dir)
    swept = swept_values(hydra_cfg) if str(hydra_cfg.mode) == "RunMode.MULTIRUN" else ""
    try:
        code = run(cfg, default_registry(), outdir, run_name=f"{outdir.name} {swept}" if swept else None)
    except ConfigError as exc:
        print(f"cellframe: error: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    if code:
        sys.exit(code)


@hydra.main(config_path="pkg://cellframe.conf", config_name="simulate", version_base=None)
def simulate_app(cfg: DictConfig) -> None:
    from cellframe.physics.simulate import SimulationError, simulate, write_simulation

    try:
        settings = OmegaConf.to_object(cfg)
    except SimulationError as exc:
        print(f"cellframe: error: simulate: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    outdir = Path(settings.output_dir or HydraConfig.get().runtime.output_dir)
    sim = simulate(settings)
    write_simulation(sim, outdir)
    print(f"simulated {sim.meta['n_visible']} visible nuclei ({sim.meta['n_nuclei_slab']} in the slab), "
          f"section {settings.section_um:g} um = {sim.meta['section_px']:g} px: {outdir}")


def print_plugins(registry: Registry) -> None:
    for row in describe_plugins(registry):
        print(f"{row['plugin']}  ({row['distribution']} {row['version']}, module {row['module']})")
        print(f"    stages: {', '.join(row['stages']) or '-'}")
        print(f"    hooks:  {', '.join(row['hooks'])}")


def one_line(exc: BaseException) -> str:
    """Hydra's and OmegaConf's multi-line messages (and their causes) as one line."""
    parts, seen = [], set()
    while exc is not None and id(exc) not in seen and len(seen) < 2:  # the error and its direct cause
        seen.add(id(exc))
        text = str(exc).split("Config search path:")[0]
        head, _, options = text.partition("Available options in")
        lines = [line.strip() for line in head.splitlines()]
        lines = [line for line in lines if line and "$VALUE" not in line
                 and not line.startswith(("object_type=", "reference_type=", "Set the env"))]
        if options:
            group, _, names = options.partition(":")
            lines.append(f"available options in{group}: {', '.join(n.strip() for n in names.split() if n.strip())}")
        parts += [line.rstrip(".") for line in lines if line.rstrip(".") not in parts]
        exc = exc.__cause__ or exc.__context__
    text = "; ".join(parts)
    typo = re.search(r"Could not override '([\w.]+)'; To append to your config use \+\S+", text)
    if typo and f"Key '{typo.group(1).split('.')[-1]}' not in" in text:
        # Hydra suggests adding the mistyped key with +; say which setting was meant instead
        hint = closest_setting(typo.group(1))
        text = f"{typo.group(1)}: not a setting" + (f" (did you mean {hint}?)" if hint else "")
    elif typo and "is not in struct" in text:  # new keys in a mapping setting: Hydra's ++ replaces it
        text = text.replace("To append to your config use +", "to set a mapping use ++")
    return text


def unparsable_override(args: list[str]) -> str | None:
    """The first command-line override Hydra's grammar refuses (a path with an accent or a bracket
    in it, unquoted), said with the way to write it."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parser = OverridesParser.create()
    for arg in args:
        if arg.startswith("-") or "=" not in arg:
            continue
        try:
            parser.parse_overrides([arg])
        except HydraException:
            key, _, value = arg.partition("=")
            return (f"{key.lstrip('+~')}: the value {value!r} needs quotes (Hydra's override grammar takes "
                    f"no such character unquoted): write \"{key}='{value}'\"")
    return None


def main() -> None:
    try:
        registry = default_registry()
    except PluginError as exc:
        print(f"cellframe: error: {exc}", file=sys.stderr)
        sys.exit(2)
    if sys.argv[1:2] == ["plugins"]:
        try:
            print_plugins(registry)
        except BrokenPipeError:  # e.g. piped into head
            sys.stdout = open(os.devnull, "w")
        return
    register_configs(registry)
    entry = app
    if sys.argv[1:2] == ["simulate"]:
        from cellframe.physics.simulate import SimulateConfig

        ConfigStore.instance().store(name="simulate_schema", node=SimulateConfig)
        del sys.argv[1]
        entry = simulate_app
    debug = os.environ.get("CELLFRAME_DEBUG") or os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"  # let composition errors reach us, to say them in one line
    try:
        entry()
    except (HydraException, OmegaConfBaseException) as exc:
        if debug:
            raise
        print(f"cellframe: error: {unparsable_override(sys.argv[1:]) or one_line(exc)}", file=sys.stderr, flush=True)
        sys.exit(2)
