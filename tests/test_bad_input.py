"""Bad input never crashes with a traceback: generated masks and configs (hypothesis), and the list of the issue."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from skimage import io

from cellframe.config import ConfigError, validate
from cellframe.io.files import InputError
from cellframe.running.pipeline import load_patch, run_patch

from conftest import DEMO

masks = st.integers(0, 2**32 - 1).flatmap(lambda seed: st.tuples(
    st.just(seed), st.integers(8, 64), st.integers(8, 64), st.integers(0, 12), st.integers(1, 9)))


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(masks)
def test_generated_masks_reconstruct_or_fail_cleanly(registry, compose_cfg, tmp_path_factory, case):
    seed, h, w, n_discs, radius = case
    rng = np.random.default_rng(seed)
    mask = np.zeros((h, w), np.uint8)
    rr, cc = np.mgrid[:h, :w]
    for cy, cx in rng.uniform(0, [h, w], (n_discs, 2)):
        mask[(rr - cy) ** 2 + (cc - cx) ** 2 <= radius**2] = 255
    folder = tmp_path_factory.mktemp("gen")
    io.imsave(folder / "m.png", mask, check_contrast=False)
    io.imsave(folder / "i.png", np.full((h, w, 3), 200, np.uint8), check_contrast=False)
    cfg = compose_cfg(f"input.image={folder / 'i.png'}", f"input.mask={folder / 'm.png'}", "segmenter.min_area=0")
    plan = validate(cfg, registry)
    try:
        rec = run_patch(plan.patches[0], plan, registry, folder / "out")
    except InputError as exc:
        assert "no nuclei" in str(exc) and "\n" not in str(exc)
        return
    assert rec.geometry.n >= 1 and (folder / "out" / "i" / "cells.json").is_file()
    summary = rec.feasibility_summary()
    assert summary["n_violations_feasible"] == 0


config_values = st.sampled_from([
    "model.alpha=nan", "model.beta=-inf", "model.z_max=-1", "model.alpha=0", "model.lambda_z=-3", "seed=-4",
    "input.mpp=0", "optimizer.swarm_size=0", "optimizer.iterations=-1", "reconstruction.samples=0",
    "executor.workers=0", "model.plane_z=inf", "segmenter.min_distance=0", "geometry.name=cube",
    "exporter.json.precision=-1", "input.max_pixels=0", "mlflow.timeout=0",
])


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config_values)
def test_bad_config_values_are_one_line_errors_naming_the_key(registry, compose_cfg, value):
    key = value.split("=")[0]
    cfg = compose_cfg(f"input.image={DEMO / 'tcga_patch_1.png'}", f"input.mask={DEMO / 'tcga_patch_1_nuclei_mask.png'}",
                      value)
    with pytest.raises(ConfigError) as err:
        validate(cfg, registry)
    message = str(err.value)
    assert "\n" not in message and (key in message or key.split(".")[-1] in message)


def spec_for(tmp_path, image, mask):
    from cellframe.config import PatchSpec

    return PatchSpec("p", image, mask)


def test_the_bad_input_list(tmp_path):
    good = DEMO / "tcga_patch_1.png"
    # missing, unreadable, non-image files
    with pytest.raises(InputError, match="not found"):
        load_patch(spec_for(tmp_path, tmp_path / "gone.png", None))
    (tmp_path / "text.png").write_text("hello")
    with pytest.raises(InputError, match="not a readable image: .*text.png"):
        load_patch(spec_for(tmp_path, tmp_path / "text.png", None))
    # RGBA and greyscale images are accepted
    rgba = np.dstack([io.imread(good)[:50, :50, :3], np.full((50, 50), 255, np.uint8)])
    io.imsave(tmp_path / "rgba.png", rgba, check_contrast=False)
    io.imsave(tmp_path / "grey.png", rgba[..., 0], check_contrast=False)
    io.imsave(tmp_path / "mask50.png", np.zeros((50, 50), np.uint8), check_contrast=False)
    assert load_patch(spec_for(tmp_path, tmp_path / "rgba.png", tmp_path / "mask50.png"))[0].shape == (50, 50, 3)
    assert load_patch(spec_for(tmp_path, tmp_path / "grey.png", tmp_path / "mask50.png"))[0].shape == (50, 50, 3)
    # a mask of another size than its image
    with pytest.raises(InputError, match="mask .*mask50.png is 50x50 px but image .*tcga_patch_1.png is 1000x1000 px"):
        load_patch(spec_for(tmp_path, good, tmp_path / "mask50.png"))


def test_empty_mask_single_nucleus_and_many_nuclei(registry, compose_cfg, tmp_path):
    image = np.full((300, 300, 3), 200, np.uint8)
    io.imsave(tmp_path / "i.png", image, check_contrast=False)
    io.imsave(tmp_path / "empty.png", np.zeros((300, 300), np.uint8), check_contrast=False)
    one = np.zeros((300, 300), np.uint8)
    one[100:120, 100:120] = 255
    io.imsave(tmp_path / "one.png", one, check_contrast=False)
    cfg = compose_cfg(f"input.image={tmp_path / 'i.png'}", f"input.mask={tmp_path / 'empty.png'}")
    plan = validate(cfg, registry)
    with pytest.raises(InputError, match="empty.png: no nuclei found"):
        run_patch(plan.patches[0], plan, registry, tmp_path / "out")
    cfg = compose_cfg(f"input.image={tmp_path / 'i.png'}", f"input.mask={tmp_path / 'one.png'}")
    plan = validate(cfg, registry)
    rec = run_patch(plan.patches[0], plan, registry, tmp_path / "out")
    assert rec.geometry.n == 1 and rec.n_violations == 0


def test_manifest_with_duplicate_ids_and_missing_columns(registry, compose_cfg, tmp_path):
    bad = tmp_path / "m.csv"
    pd.DataFrame({"sample_id": ["a", "a"], "image": [str(DEMO / "tcga_patch_1.png")] * 2}).to_csv(bad, index=False)
    with pytest.raises(ConfigError, match="duplicate sample_id"):
        validate(compose_cfg(f"input.manifest={bad}"), registry)
    pd.DataFrame({"id": ["a"]}).to_csv(bad, index=False)
    with pytest.raises(ConfigError, match="lacks columns"):
        validate(compose_cfg(f"input.manifest={bad}"), registry)


@pytest.mark.parametrize("sample_id", ["../x", "/tmp/abs", ".", "", "analysis", "a/b", "ANALYSIS", ".hidden", "x" * 129])
def test_unsafe_sample_ids_are_refused_before_any_work(registry, compose_cfg, tmp_path, sample_id):
    manifest = tmp_path / "m.csv"
    pd.DataFrame({"sample_id": [sample_id], "image": [str(DEMO / "tcga_patch_1.png")]}).to_csv(manifest, index=False)
    with pytest.raises(ConfigError, match=r"input.manifest row 1 .*is not a safe folder name") as err:
        validate(compose_cfg(f"input.manifest={manifest}"), registry)
    assert "\n" not in str(err.value)


def test_case_folded_duplicates_and_a_bad_single_sample_id(registry, compose_cfg, tmp_path):
    manifest = tmp_path / "m.csv"
    pd.DataFrame({"sample_id": ["Patch", "patch"], "image": [str(DEMO / "tcga_patch_1.png")] * 2}).to_csv(manifest, index=False)
    with pytest.raises(ConfigError, match="duplicate sample_id"):
        validate(compose_cfg(f"input.manifest={manifest}"), registry)
    with pytest.raises(ConfigError, match="input.sample_id: sample_id '../up'"):
        validate(compose_cfg(f"input.image={DEMO / 'tcga_patch_1.png'}", "input.sample_id=../up"), registry)


def test_an_unsafe_id_that_reaches_a_worker_writes_nothing_outside(tmp_path):
    from cellframe.io.files import child_path

    with pytest.raises(InputError, match="would write outside the run folder"):
        child_path(tmp_path / "run", "../escape")
    assert child_path(tmp_path / "run", "ok") == (tmp_path / "run" / "ok").resolve()
    assert not (tmp_path / "escape").exists()


def test_cli_refuses_a_path_like_sample_id_in_one_line(run_cli, tmp_path):
    manifest = tmp_path / "m.csv"
    pd.DataFrame({"sample_id": ["../../outside"], "image": [str(DEMO / "tcga_patch_1.png")]}).to_csv(manifest, index=False)
    done = run_cli([f"input.manifest={manifest}", f"output_dir={tmp_path / 'run'}", "mlflow.enabled=false"], tmp_path)
    assert done.returncode == 2 and "not a safe folder name" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "run").exists()
    assert not (tmp_path.parent / "outside").exists()


def test_a_path_hydra_cannot_take_unquoted_is_named_with_the_quoting_that_works(run_cli, tmp_path):
    import shutil

    image = tmp_path / "tumeur (1) é.png"
    shutil.copy(DEMO / "tcga_patch_1.png", image)
    bad = run_cli([f"input.image={image}", "mlflow.enabled=false"], tmp_path)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert f"""input.image: the value '{image}' needs quotes""" in bad.stderr
    assert f"""write "input.image='{image}'\"""" in bad.stderr


def square(x, y, s=10):
    return [[x, y], [x + s, y], [x + s, y + s], [x, y + s]]


def test_importers_name_the_file_and_item_of_a_malformed_entry(tmp_path):
    import json

    from cellframe.plugins.segmenters.importers import read_hovernet, read_qupath

    bad = tmp_path / "hv.json"
    bad.write_text(json.dumps({"nuc": {"1": [1, 2, 3]}}))
    with pytest.raises(InputError, match=r"hv.json: nucleus '1' is a list, not an object"):
        read_hovernet(bad, (100, 100), {})
    bad.write_text(json.dumps({"nuc": {"a": {"contour": square(5, 5)}}}))
    with pytest.raises(InputError, match=r"hv.json: nucleus id 'a' is not an integer"):
        read_hovernet(bad, (100, 100), {})
    bad.write_text(json.dumps({"nuc": {"1": {"contour": [1, 2, 3]}}}))
    with pytest.raises(InputError, match=r"hv.json: nucleus '1' contour is not a list of \[x, y\] points"):
        read_hovernet(bad, (100, 100), {})
    qp = tmp_path / "qp.geojson"
    qp.write_text(json.dumps([1, 2]))
    with pytest.raises(InputError, match=r"qp.geojson: feature 0 is a int, not an object"):
        read_qupath(qp, (100, 100))


def test_suspicious_outlines_are_dropped_or_repaired_with_a_counted_warning(tmp_path, caplog):
    import json
    import logging

    from cellframe.plugins.segmenters.importers import read_qupath

    def feature(coords, kind="detection", geom="Polygon", **extra):
        return {"type": "Feature", "geometry": {"type": geom, "coordinates": coords},
                "properties": {"objectType": kind}, **extra}

    features = [feature([square(10, 10) + [[10, 10]]]),                       # a good nucleus
                feature([square(500, 500) + [[500, 500]]]),                   # outside the image
                feature([square(0, 0, 90) + [[0, 0]]]),                       # most of the image
                feature([[[20, 40], [40, 60], [40, 40], [20, 60], [20, 40]]]),  # a bow tie
                feature([30, 30], geom="Point"),                                # not an outline
                {"type": "Feature", "id": "PathAnnotationObject",               # a legacy annotation
                 "geometry": {"type": "Polygon", "coordinates": [square(60, 60) + [[60, 60]]]}, "properties": {}}]
    path = tmp_path / "qp.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    with caplog.at_level(logging.WARNING, logger="cellframe"):
        table = read_qupath(path, (100, 100))
    assert len(table) == 2  # the good one and the repaired bow tie
    text = caplog.text
    assert "1 Point geometries are not nucleus outlines: dropped" in text
    assert "1 of 4 nucleus outlines centred outside the 100 x 100 px image: dropped" in text
    assert "1 of 4 nucleus outlines larger than a quarter of the image: dropped" in text
    assert "1 of 4 nucleus outlines self-intersecting: repaired" in text


def test_mlflow_and_output_folder_problems_are_one_line_before_any_work(registry, compose_cfg, run_cli, tmp_path):
    from cellframe.config import MlflowConfig
    from cellframe.running.tracking import Tracker

    image = f"input.image={DEMO / 'tcga_patch_1.png'}"
    with pytest.raises(ConfigError, match=r"mlflow.tracking_uri='foo://bar': unknown scheme"):
        validate(compose_cfg(image, "mlflow.enabled=true", "mlflow.tracking_uri=foo://bar"), registry)
    with pytest.raises(ConfigError, match=r"mlflow.tracking_uri=http://127.0.0.1:9: no answer within 2 s"):
        Tracker(MlflowConfig(tracking_uri="http://127.0.0.1:9", timeout=2)).check()
    (tmp_path / "afile").write_text("x")
    done = run_cli([image, f"input.mask={DEMO / 'tcga_patch_1_nuclei_mask.png'}", "mlflow.enabled=false",
                    f"output_dir={tmp_path / 'afile' / 'run'}"], tmp_path)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "output_dir=" in done.stderr and "cannot create the folder" in done.stderr


def huge_png_header(path, width=20000, height=20000):
    """A PNG whose header says width x height (no pixel data): what a decompression bomb looks like."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IEND", b""))
    return path


def test_an_image_larger_than_the_limit_is_refused_from_its_header(tmp_path):
    from cellframe.config import PatchSpec

    huge = huge_png_header(tmp_path / "huge.png")
    with pytest.raises(InputError, match=r"image .*huge.png is 20000 x 20000 px \(400 Mpx\), more than "
                                         r"input.max_pixels=100000000: .*raise input.max_pixels"):
        load_patch(PatchSpec("p", huge, None), max_pixels=100_000_000)
    demo = PatchSpec("p", DEMO / "tcga_patch_1.png", DEMO / "tcga_patch_1_nuclei_mask.png")
    assert load_patch(demo, max_pixels=1_000_000)[0].shape == (1000, 1000, 3)
    with pytest.raises(InputError, match="more than input.max_pixels=999999"):
        load_patch(demo, max_pixels=999_999)


def test_qupath_derived_classes_keep_their_class():
    from cellframe.io.qupath import class_name

    assert class_name({"name": "Tumor"}) == "Tumor"
    assert class_name({"names": ["Tumor", "Positive"], "color": [1, 2, 3]}) == "Tumor: Positive"
    assert class_name(None) is None and class_name({"names": []}) is None


def test_hovernet_type_names_come_from_a_preset_or_the_command_line(registry, compose_cfg, tmp_path):
    import json

    doc = {"nuc": {"1": {"contour": square(10, 10), "type": 1}, "2": {"contour": square(40, 40), "type": 2}}}
    (tmp_path / "hv.json").write_text(json.dumps(doc))
    image = np.full((100, 100, 3), 200, np.uint8)
    io.imsave(tmp_path / "i.png", image, check_contrast=False)

    def types(*overrides):
        plan = validate(compose_cfg(f"input.image={tmp_path / 'i.png'}", f"input.mask={tmp_path / 'hv.json'}",
                                    "segmenter=hovernet", *overrides), registry)
        table = registry.call("segmenter", "hovernet", image=image, mask=None, mask_path=tmp_path / "hv.json",
                              mpp=0.25, settings=plan.segmenter)
        return table["cell_type"].tolist()

    assert types() == ["neoplastic", "inflammatory"]  # PanNuke's, by default
    assert types("segmenter.types=consep") == ["other", "inflammatory"]
    assert types("segmenter.types=none") == ["1", "2"]
    assert types("++segmenter.type_names={1:tumour}") == ["tumour", "inflammatory"]
    with pytest.raises(ConfigError, match="segmenter: types='cosnep' must be one of pannuke, consep, monusac, none"):
        types("segmenter.types=cosnep")


def test_objects_in_slide_coordinates_import_into_a_region_with_an_offset(tmp_path):
    import json

    from cellframe.plugins.segmenters.importers import read_hovernet, read_qupath

    shifted = [[x + 1000, y + 2000] for x, y in square(30, 30)]
    (tmp_path / "hv.json").write_text(json.dumps({"nuc": {"1": {"contour": shifted}}}))
    table = read_hovernet(tmp_path / "hv.json", (100, 100), {}, offset=(1000, 2000))
    assert len(table) == 1 and table.loc[0, "x"] == pytest.approx(35) and table.loc[0, "y"] == pytest.approx(35)
    qp = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"objectType": "detection"},
          "geometry": {"type": "Polygon", "coordinates": [[[x + 0.5, y + 0.5] for x, y in shifted + [shifted[0]]]]}}]}
    (tmp_path / "qp.geojson").write_text(json.dumps(qp))
    table = read_qupath(tmp_path / "qp.geojson", (100, 100), offset=(1000, 2000))
    assert table.loc[0, "x"] == pytest.approx(35) and table.loc[0, "y"] == pytest.approx(35)
