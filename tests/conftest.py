"""Shared fixtures: real demo crops, one MLflow store per session, a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from skimage import io

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "data" / "tcga_brca"


@pytest.fixture(scope="session")
def registry():
    from cellframe.registry import default_registry

    return default_registry()


def write_crops(folder: Path, crops: list[tuple[str, int, int, int, int]]) -> Path:
    """Save crops ``(name, patch, row, col, size)`` of the demo patches with their masks and a manifest."""
    rows = []
    for name, patch, r0, c0, size in crops:
        image = io.imread(DEMO / f"tcga_patch_{patch}.png")[r0 : r0 + size, c0 : c0 + size, :3]
        mask = io.imread(DEMO / f"tcga_patch_{patch}_nuclei_mask.png")[r0 : r0 + size, c0 : c0 + size]
        io.imsave(folder / f"{name}.png", image, check_contrast=False)
        io.imsave(folder / f"{name}_mask.png", mask, check_contrast=False)
        rows.append({"sample_id": name, "image": f"{name}.png", "mask": f"{name}_mask.png"})
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)
    return folder


@pytest.fixture(scope="session")
def demo_crops(tmp_path_factory) -> Path:
    """Two 300x300 crops of the real demo patches, with a manifest."""
    return write_crops(tmp_path_factory.mktemp("crops"), [("crop_1", 1, 350, 350, 300), ("crop_2", 2, 300, 300, 300)])


@pytest.fixture(scope="session")
def mlflow_uri(tmp_path_factory) -> str:
    """One sqlite MLflow store for the whole test session (creating one costs seconds)."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture(scope="session")
def run_cli(mlflow_uri):
    """Run ``python -m cellframe ARGS`` in a folder; returns the completed process."""

    def run(args: list[str], cwd: Path, extra_env: dict | None = None, timeout: int = 300):
        env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_uri, **(extra_env or {})}
        return subprocess.run(
            [sys.executable, "-m", "cellframe", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


def disc_mask(shape, centers, radius) -> np.ndarray:
    """A binary mask (0/255) of discs."""
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    mask = np.zeros(shape, np.uint8)
    for cy, cx in centers:
        mask[(rr - cy) ** 2 + (cc - cx) ** 2 <= radius**2] = 255
    return mask


@pytest.fixture(scope="session")
def small_sim(tmp_path_factory):
    """A 320 x 320 px section (0.25 um/px) and its files."""
    from cellframe.physics.simulate import SimulateConfig, simulate, write_simulation

    cfg = SimulateConfig(width=320, height=320, seed=3)
    sim = simulate(cfg)
    folder = tmp_path_factory.mktemp("sim")
    write_simulation(sim, folder)
    return sim, folder


#: overrides that make a composed run quick and quiet
FAST = ["mlflow.enabled=false", "progress=false", "analysis=[]", "exporter=[json]"]


@pytest.fixture(scope="session")
def compose_cfg(registry):
    """Compose the run config as the CLI does (Hydra), with :data:`FAST` and the given overrides."""
    from hydra import compose, initialize_config_module

    from cellframe.cli import register_configs

    register_configs(registry)

    def make(*overrides):
        with initialize_config_module("cellframe.conf", version_base=None):
            return compose("config", overrides=[*FAST, *overrides])

    return make
