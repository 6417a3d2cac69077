"""Exporters written and read back: QuPath GeoJSON, OME-TIFF label volume, PLY quality, HTML report."""

import json
import uuid

import numpy as np
import pytest
from skimage import io

from cellframe.config import ModelConfig
from cellframe.model.volumes import label_volume
from cellframe.model.swarm import PSOSettings
from cellframe.plugins.geometries.sphere import SphereSettings
from cellframe.model.reconstruct import reconstruct

from conftest import DEMO


@pytest.fixture(scope="module")
def rec(registry, tmp_path_factory):
    folder = tmp_path_factory.mktemp("patch")
    image = io.imread(DEMO / "tcga_patch_1.png")[300:600, 300:600, :3]
    mask = io.imread(DEMO / "tcga_patch_1_nuclei_mask.png")[300:600, 300:600]
    io.imsave(folder / "he.png", image, check_contrast=False)
    nuclei = registry.call("segmenter", "mask", image=image, mask=mask, mask_path=None, mpp=0.25,
                           settings=registry.stage("segmenter", "mask").schema())
    nuclei["cell_type"] = np.where(np.arange(len(nuclei)) % 2, "tumour", "stroma")
    labels = nuclei.attrs.pop("labels")
    out = reconstruct(nuclei, registry=registry, model=ModelConfig(), geometry=SphereSettings(),
                      optimizer=PSOSettings(), rng=np.random.default_rng(0), sample_id="crop")
    out.labels, out.image_shape, out.source = labels, image.shape, {"image": str(folder / "he.png")}
    return out


def export(registry, name, rec, outdir, **settings):
    return registry.call("exporter", name, reconstruction=rec, outdir=outdir,
                         settings=registry.stage("exporter", name).schema(**settings))


def test_geojson_is_a_qupath_cell_collection_that_reimports(registry, rec, tmp_path):
    (path,) = export(registry, "geojson", rec, tmp_path)
    doc = json.loads(path.read_text())
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == rec.geometry.n
    feature = doc["features"][0]
    assert feature["properties"]["objectType"] == "cell"
    assert feature["geometry"]["type"] == "Polygon" and feature["nucleusGeometry"]["type"] == "Polygon"
    assert uuid.UUID(feature["id"]).version == 5
    assert {"z (px)", "R (px)", "N/C ratio (radius)", "Volume (px^3)"} <= set(feature["properties"]["measurements"])
    assert feature["properties"]["classification"]["name"] in ("tumour", "stroma")
    # read back through the QuPath importer: same nuclei, same places, same types
    back = registry.call("segmenter", "qupath", image=np.zeros(rec.image_shape, np.uint8), mask=None, mask_path=path,
                         mpp=0.25, settings=registry.stage("segmenter", "qupath").schema())
    assert len(back) == rec.geometry.n
    assert np.allclose(back[["x", "y"]].to_numpy(), rec.nuclei[["x", "y"]].to_numpy(), atol=0.3)
    assert back["cell_type"].tolist() == rec.nuclei["cell_type"].tolist()
    # QuPath's pixel convention, both ways: the round trip gives back the mask's own pixels
    mine, theirs = rec.labels > 0, back.attrs["labels"] > 0
    assert (mine & theirs).sum() / (mine | theirs).sum() > 0.93
    # every cell contains its nucleus
    from shapely.geometry import shape

    for f in doc["features"]:
        assert shape(f["geometry"]).buffer(1e-6).contains(shape(f["nucleusGeometry"]))
    reaches = [f["properties"]["measurements"]["Cell reaches plane"] for f in doc["features"]]
    assert set(reaches) <= {0.0, 1.0} and sum(reaches) == sum(len(s) >= 3 for s in rec.sections)


def test_geojson_ids_are_stable(registry, rec, tmp_path):
    a = json.loads(export(registry, "geojson", rec, tmp_path, filename="a.geojson")[0].read_text())
    b = json.loads(export(registry, "geojson", rec, tmp_path, filename="b.geojson")[0].read_text())
    assert [f["id"] for f in a["features"]] == [f["id"] for f in b["features"]]


def test_ome_tiff_label_volume_reads_back(registry, rec, tmp_path):
    import tifffile

    (path,) = export(registry, "ome_tiff", rec, tmp_path, downsample=4)
    with tifffile.TiffFile(path) as tif:
        assert tif.is_ome and tif.series[0].axes == "ZYX"
        volume = tif.asarray()
    cells = rec.cells
    expected, _ = label_volume(cells[["x", "y", "z"]].to_numpy(), cells["R"].to_numpy(), rec.image_shape[:2], 4)
    assert np.array_equal(volume, expected)
    assert set(np.unique(volume)) - {0} <= set(range(1, rec.geometry.n + 1))


def test_label_volume_of_one_sphere_has_its_volume():
    volume, z0 = label_volume(np.array([[50.0, 50.0, 20.0]]), np.array([10.0]), (100, 100), 1)
    assert z0 == 10.0 and abs((volume == 1).sum() - 4 / 3 * np.pi * 1000) / (4 / 3 * np.pi * 1000) < 0.02


def test_ply_carries_depth_as_quality(registry, rec, tmp_path):
    from plyfile import PlyData

    (path,) = export(registry, "ply", rec, tmp_path)
    vertex = PlyData.read(str(path))["vertex"].data
    assert np.allclose(vertex["quality"][::162], rec.cells["z"].to_numpy(), atol=1e-4)


def test_report_renders_a_page_with_its_figures(registry, rec, tmp_path):
    metrics = registry.call("analysis", "report", reconstructions=[rec], outdir=tmp_path,
                            settings=registry.stage("analysis", "report").schema())
    assert metrics == {"patches_drawn": 1, "slides_drawn": 0}
    page = (tmp_path / "index.html").read_text()
    assert '<img src="crop.png"' in page and "<td>crop</td>" in page
    assert "<th>depth from</th>" in page and "<td>-</td><td>-</td>" in page  # the paper's objective: no evidence
    assert io.imread(tmp_path / "crop.png").shape[0] > 500


def test_the_report_draws_a_bounded_sample_spread_over_the_run():
    from cellframe.plugins.analyses.report import drawn

    run = list(range(3000))
    sample = drawn(run, 20)
    assert len(sample) == 20 and sample[0] == 0 and sample[-1] == 2999 and sample == sorted(set(sample))
    assert drawn(run[:5], 20) == run[:5] and drawn(run, 0) == []


def test_the_reports_table_says_where_each_patchs_depths_come_from():
    from types import SimpleNamespace

    from cellframe.plugins.analyses.report import evidence_cells

    counts = {"segment_kept": 500, "segment_pale": 40, "segment_not_convex": 13, "segment_low_contrast": 45,
              "unlisted": 7}
    failed = SimpleNamespace(segmentation=counts, evidence={"depth_from_densities": 0.0, "focus_used": 1.0,
                                                            "focus_plane_um": 2.0})
    passed = SimpleNamespace(segmentation={}, evidence={"depth_from_densities": 1.0, "focus_used": 0.0})
    assert evidence_cells(failed) == ("58", "7", "profile sizes only", "2.00 um")
    assert evidence_cells(passed) == ("0", "-", "densities and sizes", "none seen")
