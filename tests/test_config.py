"""Hydra composition and the checks that run before any work."""


import pytest
from hydra import compose, initialize_config_module

from cellframe.cli import register_configs
from cellframe.config import ConfigError, validate

from conftest import DEMO


@pytest.fixture(scope="module")
def cfg_of(registry):
    register_configs(registry)

    def make(*overrides):
        with initialize_config_module("cellframe.conf", version_base=None):
            return compose("config", overrides=list(overrides))

    return make


def one_patch():
    return [f"input.image={DEMO / 'tcga_patch_1.png'}", f"input.mask={DEMO / 'tcga_patch_1_nuclei_mask.png'}"]


def test_defaults_compose_into_typed_stage_settings(cfg_of, registry):
    cfg = cfg_of(*one_patch())
    assert cfg.optimizer.name == "pso" and cfg.optimizer.swarm_size == 50 and cfg.optimizer.iterations == 120
    assert cfg.model.alpha == 1.5 and cfg.model.beta == 2.5 and cfg.model.z_max == 40
    assert cfg.model.lambda_radius == 5e4 and cfg.model.lambda_z == 1e4 and cfg.model.lambda_overlap == 1e6
    assert sorted(cfg.exporter) == ["json", "ply", "table"]
    plan = validate(cfg, registry)
    assert type(plan.optimizer).__name__ == "PSOSettings"
    assert plan.patches[0].sample_id == "tcga_patch_1"


def test_pipeline_preset_lists_the_two_demo_patches(cfg_of, registry):
    plan = validate(cfg_of("+pipeline=tcga_brca"), registry)
    assert [p.sample_id for p in plan.patches] == ["tcga_patch_1", "tcga_patch_2"]
    assert all(p.image.is_file() and p.mask.is_file() for p in plan.patches)


def test_a_presets_analysis_settings_do_not_stop_a_run_without_analyses(cfg_of, registry):
    from conftest import REPO

    slide = f"input.slide={REPO / 'data' / 'slides' / 'CMU-1-Small-Region.svs'}"
    assert validate(cfg_of("+pipeline=wsi", slide, "analysis=[]"), registry).analyses == {}
    assert list(validate(cfg_of("+pipeline=wsi", slide, "analysis=[report]"), registry).analyses) == ["report"]


def test_annotations_without_a_slide_are_an_error(cfg_of, registry):
    with pytest.raises(ConfigError, match="input.annotations: annotations choose the patches of a slide"):
        validate(cfg_of(*one_patch(), "input.annotations=ann.geojson"), registry)


def test_exporter_list_can_be_chosen(cfg_of):
    assert list(cfg_of("exporter=[json]", *one_patch()).exporter) == ["json"]


def test_type_errors_are_caught_at_composition(cfg_of):
    with pytest.raises(Exception, match="optimizer.swarm_size"):
        cfg_of("optimizer.swarm_size=lots", *one_patch())
    with pytest.raises(Exception, match="alhpa"):
        cfg_of("model.alhpa=2", *one_patch())


def test_unknown_plugin_name_is_an_error(cfg_of):
    with pytest.raises(Exception, match="optimizer"):
        cfg_of("optimizer=nosuch", *one_patch())


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["model.alpha=3.0", "model.beta=2.0"], "model.alpha=3.0 must be smaller than model.beta=2.0"),
        (["model.alpha=2.5"], "model.alpha=2.5 must be smaller than model.beta=2.5"),
        (["model.z_max=0"], "model.z_max=0"),
        (["model.z_max=-5"], "model.z_max=-5"),
        (["model.lambda_overlap=-1"], "model.lambda_overlap"),
        (["model.alpha=nan"], "model.alpha=nan must be a finite number"),
        (["seed=-1"], "seed=-1"),
        (["optimizer.swarm_size=1"], "optimizer: swarm_size=1 must be >= 2"),
        (["input.mpp=0"], "input.mpp"),
        (["objective=evidence", "objective.laguerre_weight=[1,0]"], "objective: laguerre_weight=[1.0, 0.0] must be"),
        (["objective.depth_axis_sd=0.9"], "objective: depth_axis_sd=0.9 must be null (from the profiles) or in"),
        (["objective.focus_edge=outlines"], "objective: focus_edge='outlines' must be 'fitted' or 'outline'"),
    ],
)
def test_bad_values_name_their_key(cfg_of, registry, overrides, message):
    with pytest.raises(ConfigError) as err:
        validate(cfg_of(*overrides, *one_patch()), registry)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_missing_inputs(cfg_of, registry, tmp_path):
    with pytest.raises(ConfigError, match="input.image: file not found: .*nope.png"):
        validate(cfg_of("input.image=nope.png", f"input.mask={DEMO / 'tcga_patch_1_nuclei_mask.png'}"), registry)
    with pytest.raises(ConfigError, match=r"give input.image=PATH \(and input.mask=PATH\), input.manifest=CSV or input.slide=PATH"):
        validate(cfg_of(), registry)


def test_manifest_problems(cfg_of, registry, tmp_path):
    bad = tmp_path / "m.csv"
    bad.write_text("sample_id,mask\na,x.png\n")
    with pytest.raises(ConfigError, match=r"lacks columns \['image'\]"):
        validate(cfg_of(f"input.manifest={bad}"), registry)
    image, mask = DEMO / "tcga_patch_1.png", DEMO / "tcga_patch_1_nuclei_mask.png"
    bad.write_text(f"sample_id,image,mask\na,{image},{mask}\na,{image},{mask}\n")
    with pytest.raises(ConfigError, match=r"duplicate sample_id \['a'\]"):
        validate(cfg_of(f"input.manifest={bad}"), registry)
    bad.write_text(f"sample_id,image,mask\na,{image},missing.png\n")
    with pytest.raises(ConfigError, match="row 1 mask: file not found"):
        validate(cfg_of(f"input.manifest={bad}"), registry)


def test_manifests_as_spreadsheets_save_them_are_read(cfg_of, registry, tmp_path):
    """Excel's UTF-8 CSV (a byte-order mark, CRLF), semicolons (Excel in many locales), tabs, and
    headers typed with capitals and spaces give the same patches as the plain CSV."""
    image, mask = DEMO / "tcga_patch_1.png", DEMO / "tcga_patch_1_nuclei_mask.png"
    texts = {"plain.csv": f"sample_id,image,mask\na,{image},{mask}\n",
             "excel.csv": f"\ufeffsample_id;image;mask\r\na;{image};{mask}\r\n",
             "tabs.tsv": f"sample_id\timage\tmask\na\t{image}\t{mask}\n",
             "typed.csv": f"Sample_ID, Image , Mask\na , {image} , {mask}\n"}
    specs = {}
    for name, text in texts.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        specs[name] = validate(cfg_of(f"input.manifest={tmp_path / name}"), registry).patches
    assert all(s == specs["plain.csv"] for s in specs.values())
    assert [(p.sample_id, p.image, p.mask) for p in specs["plain.csv"]] == [("a", image, mask)]


def test_a_segmenter_that_reads_a_mask_without_one_is_a_config_error(cfg_of, registry, tmp_path):
    """Before any work: the default segmenter reads a mask; an image alone says how to segment it."""
    image = DEMO / "tcga_patch_1.png"
    with pytest.raises(ConfigError, match=r"input.mask: segmenter=mask reads nuclei from a mask; .*segmenter=hed_watershed"):
        validate(cfg_of(f"input.image={image}"), registry)
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"sample_id,image,mask\na,{image},{DEMO / 'tcga_patch_1_nuclei_mask.png'}\nb,{image},\n")
    with pytest.raises(ConfigError, match=r"input.manifest: no mask for \['b'\]"):
        validate(cfg_of(f"input.manifest={manifest}"), registry)
    assert len(validate(cfg_of(f"input.manifest={manifest}", "segmenter=hed_watershed"), registry).patches) == 2


def test_stage_name_override_is_checked(cfg_of, registry):
    with pytest.raises(ConfigError, match=r"geometry.name: unknown geometry 'cube'"):
        validate(cfg_of("geometry.name=cube", *one_patch()), registry)
