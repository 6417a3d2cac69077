"""What the reproducible studies under ``experiments/`` share with the command line."""

from __future__ import annotations

import sys
from pathlib import Path

from omegaconf import DictConfig


def study_config(folder: str | Path, overrides: list[str] | None = None) -> DictConfig:
    """A study's ``config.yaml`` composed by Hydra, with ``KEY=VALUE`` overrides (by default the
    script's command line: ``python experiments/fidelity/run.py 'seeds=[0]'``)."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(Path(folder).resolve()), version_base=None):
        return compose("config", overrides=list(sys.argv[1:] if overrides is None else overrides))
