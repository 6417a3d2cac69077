"""Every config group option composes, as a user would pick it (Hydra's compose API and --cfg job)."""

import pytest
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from cellframe.cli import register_configs
from cellframe.registry import default_registry

from conftest import REPO

REGISTRY = default_registry()
register_configs(REGISTRY)

CHOICES = [[f"{kind}={name}"] for kind in ("segmenter", "geometry", "optimizer", "objective")
           for name in sorted(REGISTRY.stages[kind])]
CHOICES += [[f"exporter=[{name}]"] for name in sorted(REGISTRY.stages["exporter"])]
CHOICES += [[f"analysis=[{name}]"] for name in sorted(REGISTRY.stages["analysis"])]
CHOICES += [["+pipeline=tcga_brca"], ["+pipeline=wsi"], ["+cluster=slurm"], ["+pipeline=tcga_brca", "objective=cellsqueeze3d"]]


@pytest.mark.parametrize("overrides", CHOICES, ids=lambda o: " ".join(o))
def test_every_option_composes_with_its_defaults(overrides):
    with initialize_config_module("cellframe.conf", version_base=None):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    OmegaConf.to_container(cfg, resolve=False)  # every value is there and typed by its schema
    kind, _, value = overrides[-1].partition("=")
    if kind in ("segmenter", "geometry", "optimizer", "objective"):
        assert cfg[kind].name == value


def test_cfg_job_prints_the_slurm_preset(run_cli, tmp_path):
    done = run_cli(["+cluster=slurm", "+pipeline=tcga_brca", "--cfg", "job"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "name: process" in done.stdout and "objective:" in done.stdout


@pytest.mark.parametrize("study", sorted(p.parent.name for p in (REPO / "experiments").glob("*/config.yaml")))
def test_every_study_config_composes_with_hydra(study):
    from cellframe.running.studies import study_config

    cfg = study_config(REPO / "experiments" / study, [])
    assert len(cfg) > 0
    if "seeds" in cfg:  # command-line overrides reach the study, as with the CLI
        assert list(study_config(REPO / "experiments" / study, ["seeds=[7]"]).seeds) == [7]
