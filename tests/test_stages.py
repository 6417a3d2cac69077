"""Each built-in stage called through the registry, as the pipeline calls it."""

import json

import numpy as np
import pandas as pd
import pytest
import trimesh
from skimage import io

from cellframe.config import ModelConfig
from cellframe.model.problem import Problem
from cellframe.model.reconstruct import reconstruct

from conftest import DEMO


@pytest.fixture(scope="module")
def crop_mask():
    return io.imread(DEMO / "tcga_patch_2_nuclei_mask.png")[300:600, 300:600]


def settings(registry, kind, name, **overrides):
    return registry.stage(kind, name).schema(**overrides)


@pytest.fixture(scope="module")
def rec(registry, crop_mask):
    nuclei = registry.call("segmenter", "mask", image=None, mask=crop_mask, mask_path=None, mpp=0.25, settings=settings(registry, "segmenter", "mask"))
    return reconstruct(nuclei, registry=registry, model=ModelConfig(), geometry=settings(registry, "geometry", "sphere"),
                       optimizer=settings(registry, "optimizer", "pso"), rng=np.random.default_rng(0), sample_id="crop")


def test_segmenter_mask_splits_a_real_binary_mask(registry, crop_mask):
    from skimage.measure import label

    nuclei = registry.call("segmenter", "mask", image=None, mask=crop_mask, mask_path=None, mpp=0.25, settings=settings(registry, "segmenter", "mask"))
    assert len(nuclei) > label(crop_mask > 0).max()  # touching nuclei were split
    assert nuclei["r"].between(2, 40).all()


def test_segmenter_mask_keeps_a_label_image(registry):
    labels = np.zeros((50, 50), np.uint16)
    labels[5:15, 5:15], labels[15:30, 5:15], labels[40:48, 40:48] = 1, 2, 7
    nuclei = registry.call("segmenter", "mask", image=None, mask=labels, mask_path=None, mpp=0.25, settings=settings(registry, "segmenter", "mask"))
    assert nuclei["label"].tolist() == [1, 2, 7]


def test_a_mask_that_draws_nuclei_black_on_white_is_inverted_with_a_warning(registry, caplog):
    """ImageJ saves a mask without "black background" as nuclei 0 on 255: on the real demo patch, its
    non-zero pixels are paler in haematoxylin than the rest, so it is read inverted, to the same nuclei."""
    image = io.imread(DEMO / "tcga_patch_2.png")[:300, :300, :3]
    mask = io.imread(DEMO / "tcga_patch_2_nuclei_mask.png")[:300, :300]
    mask = (mask[..., 0] if mask.ndim == 3 else mask) > 0
    call = lambda m: registry.call("segmenter", "mask", image=image, mask=m, mask_path=None, mpp=0.25,  # noqa: E731
                                   settings=settings(registry, "segmenter", "mask"))
    drawn = call(mask.astype(np.uint8) * 255)
    with caplog.at_level("WARNING"):
        inverted = call(np.where(mask, 0, 255).astype(np.uint8))
    assert "as nuclei drawn black on white: inverted" in caplog.text
    pd.testing.assert_frame_equal(inverted, drawn)
    caplog.clear()
    with caplog.at_level("WARNING"):  # nuclei bright on dark (fluorescence): not judged, read as drawn
        registry.call("segmenter", "mask", image=255 - image, mask=mask.astype(np.uint8) * 255, mask_path=None,
                      mpp=0.25, settings=settings(registry, "segmenter", "mask"))
    assert "inverted" not in caplog.text


def test_geometry_sphere_through_the_hook(registry, rec):
    geom = registry.call("geometry", "sphere", nuclei=rec.nuclei, model=ModelConfig(), settings=settings(registry, "geometry", "sphere"))
    assert geom.n == len(rec.nuclei) and geom.dim == 2 * geom.n


def test_optimizer_pso_through_the_hook(registry, rec):
    problem = Problem(rec.geometry, decompose=False)
    result = registry.call("optimizer", "pso", problem=problem, settings=settings(registry, "optimizer", "pso", iterations=5),
                           rng=np.random.default_rng(1))
    assert result.x.shape == (problem.dim,) and len(result.history) >= 1


def test_reconstruction_of_a_real_crop_has_no_interpenetration(rec):
    assert rec.n_violations == 0
    assert rec.penalties == {"radius": 0.0, "z": 0.0, "overlap": 0.0}
    cells = rec.cells
    assert (cells["z"].between(0, 40)).all()
    assert (cells["R"] >= 1.5 * cells["r"] - 1e-9).all() and (cells["R"] <= 2.5 * cells["r"] + 1e-9).all()


def test_exporter_ply_writes_a_loadable_mesh(registry, rec, tmp_path):
    from plyfile import PlyData

    (path,) = registry.call("exporter", "ply", reconstruction=rec, outdir=tmp_path, settings=settings(registry, "exporter", "ply"))
    ply = PlyData.read(str(path))
    assert ply["vertex"].count == 162 * rec.geometry.n
    assert {"red", "green", "blue"} <= set(ply["vertex"].data.dtype.names)
    mesh = trimesh.load(path)
    assert len(mesh.faces) == 320 * rec.geometry.n


def test_exporter_json_matches_the_schema(registry, rec, tmp_path):
    import importlib.resources

    import jsonschema

    (path,) = registry.call("exporter", "json", reconstruction=rec, outdir=tmp_path, settings=settings(registry, "exporter", "json"))
    doc = json.loads(path.read_text())
    schema = json.loads(importlib.resources.files("cellframe").joinpath("schemas/cells.schema.json").read_text())
    jsonschema.validate(doc, schema)
    assert len(doc["cells"]) == rec.geometry.n
    cell = doc["cells"][0]
    assert cell["center"] == rec.cells[["x", "y", "z"]].iloc[0].tolist()  # exact, not rounded


def test_exporter_table_round_trips(registry, rec, tmp_path):
    paths = registry.call("exporter", "table", reconstruction=rec, outdir=tmp_path, settings=settings(registry, "exporter", "table"))
    assert sorted(p.name for p in paths) == ["cells.csv", "cells.parquet"]
    csv, parquet = pd.read_csv(tmp_path / "cells.csv"), pd.read_parquet(tmp_path / "cells.parquet")
    assert len(csv) == len(parquet) == rec.geometry.n
    assert np.allclose(csv["z"], rec.cells["z"]) and np.allclose(parquet["R"], rec.cells["R"])
    assert not list(tmp_path.glob("*.part"))


def test_table_formats_are_checked(registry):
    with pytest.raises(ValueError, match="formats"):
        settings(registry, "exporter", "table", formats=["xlsx"])
