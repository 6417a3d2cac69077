"""Every built-in stage passes the plugin test kit third parties use (cellframe.testing)."""

import numpy as np
import pytest
from skimage import io

from cellframe.config import ModelConfig
from cellframe.model.reconstruct import reconstruct
from cellframe.registry import default_registry
from cellframe.testing import (check_exporter, check_geometry, check_optimizer, check_segmenter, settings_for,
                               small_nuclei)
from conftest import DEMO

REGISTRY = default_registry()
FAST = {"pso": {"iterations": 20}, "pso_ga": {"iterations": 20}, "pyswarms": {"iterations": 20},
        "deap_ga": {"generations": 10}}


@pytest.mark.parametrize("name", sorted(REGISTRY.stages["geometry"]))
def test_geometries_honour_the_contract(name):
    check_geometry(REGISTRY, name)


@pytest.mark.parametrize("name", sorted(REGISTRY.stages["optimizer"]))
def test_optimizers_honour_the_contract(name):
    check_optimizer(REGISTRY, name, **FAST.get(name, {}))


@pytest.fixture(scope="module")
def small_rec():
    rec = reconstruct(small_nuclei(), registry=REGISTRY, model=ModelConfig(),
                      geometry=settings_for(REGISTRY, "geometry", "sphere"),
                      optimizer=settings_for(REGISTRY, "optimizer", "pso", iterations=20), rng=np.random.default_rng(0))
    rec.image_shape = (120, 120, 3)
    return rec


@pytest.mark.parametrize("name", sorted(set(REGISTRY.stages["exporter"]) - {"tiles"}))  # tiles reads the image file
def test_exporters_honour_the_contract(name, small_rec, tmp_path):
    check_exporter(REGISTRY, name, small_rec, tmp_path / name)


def test_the_mask_segmenter_honours_the_contract():
    mask = io.imread(DEMO / "tcga_patch_2_nuclei_mask.png")[:200, :200]
    check_segmenter(REGISTRY, "mask", mask=mask)


def test_the_kit_catches_a_broken_optimizer():
    from dataclasses import dataclass

    from cellframe import hookimpl
    from cellframe.model.problem import OptimizeResult
    from cellframe.registry import build_registry
    from cellframe.stages import Stage

    @dataclass
    class OutOfBounds:
        name: str = "out_of_bounds"

    class Plugin:
        @staticmethod
        @hookimpl
        def cellframe_stages():
            return [Stage("optimizer", "out_of_bounds", OutOfBounds)]

        @staticmethod
        @hookimpl
        def cellframe_optimize(problem):
            return OptimizeResult(problem.upper + 1.0, np.zeros(1))

    with pytest.raises(AssertionError, match="leaves the bounds"):
        check_optimizer(build_registry(extra_plugins=(Plugin,)), "out_of_bounds")
