"""Whole-slide input: a generated pyramidal TIFF read through OpenSlide."""

import json

import numpy as np
import pandas as pd
import pytest
import tifffile
from skimage import io

from cellframe.io.slides import read_region, slide_patches

from conftest import DEMO, REPO

REAL_SLIDE = REPO / "data" / "slides" / "CMU-1-Small-Region.svs"  # a real Aperio scan, 0.499 um/px


def write_pyramid(path, image, mpp=0.25, levels=3):
    """A tiled, pyramidal generic TIFF that OpenSlide reads, with its resolution in the tags."""
    with tifffile.TiffWriter(path) as tif:
        for level in range(levels):
            step = 2**level
            res = 1e4 / (mpp * step)  # pixels per centimetre
            tif.write(image[::step, ::step], tile=(256, 256), photometric="rgb", compression="zlib",
                      resolution=(res, res), resolutionunit="CENTIMETER", subfiletype=0 if level == 0 else 1)
    return path


@pytest.fixture(scope="module")
def slide(tmp_path_factory):
    """The real demo H&E patch 2 set into glass (white), at 0.25 um/px."""
    canvas = np.full((1536, 2048, 3), 244, np.uint8)
    he = io.imread(DEMO / "tcga_patch_2.png")[:, :, :3]
    canvas[256:1256, 512:1512] = he
    return write_pyramid(tmp_path_factory.mktemp("slide") / "demo_slide.tiff", canvas), canvas


def test_only_tissue_patches_are_cut(slide):
    path, canvas = slide
    regions = slide_patches(path, patch_size=256, mpp=0.25, min_tissue=0.9)
    assert regions and all(r.level == 0 and r.mpp == pytest.approx(0.25) for r in regions)
    for r in regions:  # every kept patch lies inside the H&E block
        assert 256 <= r.y0 and r.y0 + 256 <= 1256 + 64 and 512 <= r.x0 and r.x0 + 256 <= 1512 + 64
    assert np.array_equal(read_region(regions[0])[..., :3], canvas[regions[0].y0 : regions[0].y0 + 256,
                                                                    regions[0].x0 : regions[0].x0 + 256])


def test_magnification_picks_the_level(slide):
    path, _ = slide
    regions = slide_patches(path, patch_size=128, mpp=0.5, min_tissue=0.5)
    assert regions and all(r.level == 1 and r.downsample == 2.0 and r.mpp == pytest.approx(0.5) for r in regions)
    x, y = regions[0].to_slide(np.array([10.0]), np.array([20.0]))
    assert (x[0], y[0]) == (regions[0].x0 + 20.0, regions[0].y0 + 40.0)


def test_slide_run_maps_every_cell_back_to_the_slide(slide, run_cli, tmp_path):
    path, canvas = slide
    # the report reads each patch back from the slide (it once tried to open the slide as a picture)
    result = run_cli([f"input.slide={path}", "input.patch_size=500", "input.max_patches=2", "segmenter=hed_watershed",
                      "mlflow.enabled=false", "progress=false", "analysis=[nc_ratio,report]", "analysis.report.max_patches=1",
                      "analysis.nc_ratio.draws=19",
                      f"hydra.run.dir={tmp_path / 'out'}"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "out" / "analysis" / "report" / "index.html").is_file()
    assert (tmp_path / "out" / "analysis" / "report" / "slide_demo_slide.png").is_file()  # thumbnail, patches
    features = pd.read_csv(tmp_path / "out" / "analysis" / "nc_ratio" / "feature_null.csv")
    assert (features["n_patients"] == 1).all()  # the slide's patches are one patient's
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")  # what the segmenter kept and rejected, per patch
    assert (summary["segment_kept"] >= summary["n_nuclei"]).all() and "segment_not_convex" in summary
    folders = sorted(p for p in (tmp_path / "out").iterdir() if p.name.startswith("demo_slide_x"))
    assert len(folders) == 2
    doc = json.loads((folders[0] / "cells.json").read_text())
    meta = doc["slide"]
    assert meta["slide_id"] == "demo_slide" and meta["level"] == 0 and meta["mpp"] == pytest.approx(0.25)
    cells = pd.read_csv(folders[0] / "cells.csv")
    assert len(cells) > 20
    halo = meta["halo"]
    assert halo == 80  # beta 2.5 x 8 um at 0.25 um/px
    assert np.allclose(cells["x_slide"], cells["x"] - halo + meta["x0"])
    assert np.allclose(cells["y_slide"], cells["y"] - halo + meta["y0"])
    cells = cells[cells["owned"]]
    # nuclei are dark in the slide at their slide coordinates
    grey = canvas.mean(axis=2)
    at_nuclei = grey[cells["y_slide"].round().astype(int), cells["x_slide"].round().astype(int)]
    assert np.median(at_nuclei) < grey[256:1256, 512:1512].mean()


def test_unreadable_slide_is_a_clear_config_error(run_cli, tmp_path):
    (tmp_path / "not_a_slide.svs").write_text("nope")
    result = run_cli([f"input.slide={tmp_path / 'not_a_slide.svs'}", "segmenter=hed_watershed",
                      f"hydra.run.dir={tmp_path / 'out'}"], tmp_path)
    assert result.returncode == 2
    assert "cellframe: error: input.slide: slide" in result.stderr and "not_a_slide.svs" in result.stderr
    assert "is the file whole" in result.stderr


def test_a_plain_image_or_a_strip_tiff_given_as_a_slide_says_what_to_do(tmp_path):
    from cellframe.io.files import InputError
    from cellframe.io.slides import open_slide

    io.imsave(tmp_path / "region.tif", io.imread(DEMO / "tcga_patch_1.png")[:64, :64, :3])  # strips, not tiles
    for path in (DEMO / "tcga_patch_1.png", tmp_path / "region.tif"):
        with pytest.raises(InputError, match=r"it is a plain image .*give it as input.image .*vips tiffsave"):
            open_slide(path)


@pytest.fixture(scope="module")
def centred_slide(tmp_path_factory):
    """Demo patch 2 at [1000, 2000) x [1000, 2000) of a 3000 px slide: four 500 px patches or one of 1000."""
    canvas = np.full((3000, 3000, 3), 244, np.uint8)
    canvas[1000:2000, 1000:2000] = io.imread(DEMO / "tcga_patch_2.png")[:, :, :3]
    return write_pyramid(tmp_path_factory.mktemp("centred") / "centred.tiff", canvas)


def test_seams_of_a_tiled_region_match_the_region_in_one_piece(centred_slide, run_cli, tmp_path):
    # a fixed threshold: Otsu's would differ between windows, which is not what this test is about
    common = [f"input.slide={centred_slide}", "input.min_tissue=0.3", "segmenter=hed_watershed",
              "segmenter.threshold=0.09", "exporter=[table]", "analysis=[]", "mlflow.enabled=false", "progress=false",
              "seed=1"]
    tiled = run_cli([*common, "input.patch_size=500", f"hydra.run.dir={tmp_path / 'tiled'}"], tmp_path)
    whole = run_cli([*common, "input.patch_size=1000", f"hydra.run.dir={tmp_path / 'whole'}"], tmp_path)
    assert tiled.returncode == 0 and whole.returncode == 0, tiled.stderr[-2000:] + whole.stderr[-2000:]
    assert len([p for p in (tmp_path / "tiled").iterdir() if p.name.startswith("centred_x")]) == 4
    merged = pd.read_csv(tmp_path / "tiled" / "centred_cells.csv")
    one = pd.read_csv(tmp_path / "whole" / "centred_cells.csv")
    assert merged["patch"].nunique() == 4 and one["patch"].nunique() == 1
    log = tiled.stderr + tiled.stdout
    assert "0 interpenetrating pairs" in log and "seam clusters re-solved" in log
    seam_count = int(log.split("duplicates dropped, ")[1].split(" seam clusters")[0])
    assert seam_count > 0
    # no duplicates: no two merged cells closer than 2 px
    from scipy.spatial import cKDTree

    xy = merged[["x_slide", "y_slide"]].to_numpy()
    assert not cKDTree(xy).query_pairs(2.0)
    # the same nuclei as the region segmented in one piece
    dist, _ = cKDTree(one[["x_slide", "y_slide"]].to_numpy()).query(xy)
    assert (dist < 1.5).mean() > 0.95 and abs(len(merged) - len(one)) <= 0.03 * len(one)
    # one slide-level QuPath GeoJSON: every merged cell once, in level-0 coordinates, nucleus inside its cell
    from shapely.geometry import shape

    doc = json.loads((tmp_path / "tiled" / "centred_cells.geojson").read_text())
    assert len(doc["features"]) == len(merged) and len({f["id"] for f in doc["features"]}) == len(merged)
    centres = np.array([shape(f["nucleusGeometry"]).centroid.coords[0] for f in doc["features"]])
    dist, _ = cKDTree(xy + 0.5).query(centres)  # QuPath's pixel convention: half a pixel on
    assert np.median(dist) < 1.0
    assert all(shape(f["geometry"]).buffer(1e-6).contains(shape(f["nucleusGeometry"])) for f in doc["features"])


def test_a_slide_scanned_coarser_is_resampled_to_the_wanted_pixel_size(tmp_path):
    """A 0.5 um/px scan read at input.mpp=0.25: patches come out at 0.25 um/px, as the fine scan would."""
    fine = io.imread(DEMO / "tcga_patch_2.png")[:, :, :3]
    canvas = np.full((1536, 2048, 3), 244, np.uint8)
    canvas[256:1256, 512:1512] = fine
    coarse = write_pyramid(tmp_path / "coarse.tiff", canvas[::2, ::2].copy(), mpp=0.5, levels=2)
    regions = slide_patches(coarse, patch_size=256, mpp=0.25, min_tissue=0.9)
    assert regions and all(r.level == 0 and r.downsample == pytest.approx(0.5) and r.mpp == pytest.approx(0.25)
                           for r in regions)
    r = regions[0]
    patch = read_region(r)
    assert patch.shape == (256, 256, 3)
    x0, y0 = int(r.x0 / r.downsample), int(r.y0 / r.downsample)  # in 0.25 um/px canvas pixels
    truth = canvas[y0 : y0 + 256, x0 : x0 + 256].astype(float).mean(axis=2)
    assert np.corrcoef(patch.astype(float).mean(axis=2).ravel(), truth.ravel())[0, 1] > 0.8


def test_a_slide_that_does_not_record_its_pixel_size_is_read_as_it_is_with_a_warning(tmp_path, caplog):
    from omegaconf import OmegaConf

    from cellframe.config import slide_specs

    he = io.imread(DEMO / "tcga_patch_2.png")[:512, :512, :3]
    path = tmp_path / "no_mpp.tiff"
    tifffile.imwrite(path, he, tile=(256, 256), photometric="rgb", compression="zlib")  # no resolution tags
    inp = OmegaConf.create({"slide": str(path), "patch_size": 256, "mpp": 0.5, "min_tissue": 0.5,
                            "max_patches": None, "halo": 0, "max_nucleus_um": 18.0})
    specs = slide_specs(inp, beta=2.5)
    assert len(specs) == 4 and all(s.region.level == 0 and s.region.downsample == 1.0 and s.region.mpp is None
                                   for s in specs)
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1 and "no_mpp.tiff does not record its pixel size" in warned[0] and "0.5 um/px" in warned[0]


def test_tissue_is_found_on_all_tissue_and_on_mostly_glass_thumbnails():
    from cellframe.io.slides import tissue_mask

    he = io.imread(DEMO / "tcga_patch_1.png")[::8, ::8, :3]
    all_tissue = np.tile(he, (2, 2, 1))
    assert tissue_mask(all_tissue).mean() > 0.9  # Otsu alone split the tissue in two
    glass = np.full((400, 400, 3), 240, np.uint8)
    glass[100:225, 100:225] = he
    mask = tissue_mask(glass)
    assert mask[100:225, 100:225].mean() > 0.8 and mask.sum() - mask[100:225, 100:225].sum() == 0


def test_slide_level_cell_regions_are_clipped_to_their_patch_tissue():
    from pathlib import Path

    from cellframe.running.seams import _clip_to_tissue
    from cellframe.io.slides import SlideRegion

    region = SlideRegion(Path("s.svs"), x0=1000, y0=2000, level=0, size=100, downsample=1.0, mpp=0.25, halo=10)
    tissue = np.ones((120, 120), bool)
    tissue[:, 60:] = False  # the right half of the patch is lumen
    # a 40 px square centred on the patch's pixel (60, 60), in slide coordinates at the patch's pixel size
    cx, cy = region.to_level(60.0, 60.0)
    square = np.array([[cx - 20, cy - 20], [cx + 20, cy - 20], [cx + 20, cy + 20], [cx - 20, cy + 20]])
    clipped = _clip_to_tissue(square, region, tissue)
    assert clipped[:, 0].max() <= cx + 1 and clipped[:, 0].min() == pytest.approx(cx - 20, abs=1)
    assert _clip_to_tissue(square, region, None) is square


def test_a_real_aperio_slide_runs_end_to_end_in_slide_coordinates(run_cli, tmp_path):
    import openslide
    from shapely.geometry import shape

    result = run_cli(["+pipeline=wsi", f"input.slide={REAL_SLIDE}", "input.patch_size=400", "input.max_patches=2",
                      "exporter=[table,json,geojson,tiles]", "mlflow.enabled=false", "progress=false", "analysis.nc_ratio.draws=19",
                      f"hydra.run.dir={tmp_path / 'out'}"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    out = tmp_path / "out"
    doc = json.loads((out / "CMU-1-Small-Region_cells.geojson").read_text())
    assert len(doc["features"]) > 20
    assert all(shape(f["geometry"]).buffer(1e-6).contains(shape(f["nucleusGeometry"])) for f in doc["features"])
    slide = openslide.OpenSlide(str(REAL_SLIDE))
    width, height = slide.dimensions
    # nuclei land on dark (haematoxylin) pixels of the slide at their level-0 coordinates
    centres = np.array([shape(f["nucleusGeometry"]).centroid.coords[0] for f in doc["features"]])
    assert ((centres >= 0) & (centres < [width, height])).all()
    x0, y0 = centres.min(axis=0).astype(int)
    x1, y1 = centres.max(axis=0).astype(int) + 1
    grey = np.asarray(slide.read_region((x0, y0), 0, (x1 - x0, y1 - y0)).convert("L"), float)
    at_nuclei = grey[(centres[:, 1] - y0).astype(int).clip(0, y1 - y0 - 1), (centres[:, 0] - x0).astype(int).clip(0, x1 - x0 - 1)]
    assert np.median(at_nuclei) < np.median(grey) - 20
    merged = pd.read_parquet(out / "CMU-1-Small-Region_cells.parquet")
    assert len(merged) == len(doc["features"])
    # read at 0.25 um/px from a 0.499 um/px scan: each patch pixel is half a level-0 pixel
    assert np.allclose(merged["x_slide"] / merged["x"], 0.25 / 0.499, rtol=1e-3)
    # the N/C analysis counts each cell once, in the patch that owns it (a halo's cells are its neighbour's)
    per_patch = pd.read_csv(out / "analysis" / "nc_ratio" / "nc_ratio.csv")
    assert 0 <= per_patch["n_cells"].sum() - len(merged) <= 0.01 * len(merged) + 2
    summary = pd.read_csv(out / "summary.csv")
    assert summary["n_owned"].sum() == per_patch["n_cells"].sum() and (summary["n_owned"] < summary["n_nuclei"]).all()
    assert (out / "analysis" / "report" / "slide_CMU-1-Small-Region.png").is_file()
    # the preset draws no convergence figure per patch: the report draws the ones it shows
    patches = [p for p in out.iterdir() if (p / "cells.csv").is_file()]
    assert len(patches) == 2 and not any((p / "convergence.png").exists() for p in patches)
    # cell tiles are cut from the patch's region of the slide (the slide is no plain image), halo cells marked
    with np.load(patches[0] / "tiles.npz") as tiles:
        cells = pd.read_csv(patches[0] / "cells.csv")
        assert len(tiles["quad"]) == len(cells) and np.array_equal(tiles["owned"], cells["owned"].to_numpy())
        assert 0 < tiles["owned"].sum() < len(cells) and tiles["square"][tiles["owned"]].mean() < 230  # H&E, not blank
    # the per-patch JSON and GeoJSON say which cells are the patch's own
    doc = json.loads((patches[0] / "cells.json").read_text())
    assert [c["owned"] for c in doc["cells"]] == cells["owned"].tolist()
    features = json.loads((patches[0] / "cells.geojson").read_text())["features"]
    assert [f["properties"]["measurements"]["Patch's own"] for f in features] == cells["owned"].astype(float).tolist()


def test_the_slide_geojson_built_in_worker_processes_is_the_one_built_here(centred_slide, registry, compose_cfg,
                                                                           tmp_path):
    from cellframe.config import validate
    from cellframe.io.qupath import write_collection
    from cellframe.running.pipeline import run_patch
    from cellframe.running.seams import merge_slide

    cfg = compose_cfg(f"input.slide={centred_slide}", "input.min_tissue=0.3", "input.patch_size=500",
                      "segmenter=hed_watershed", "segmenter.threshold=0.09", "exporter=[table]")
    plan = validate(cfg, registry)
    recs = [run_patch(spec, plan, registry, tmp_path / "out") for spec in plan.patches]
    written = []
    for workers in (1, 2):
        cells, stats, features = merge_slide(recs, registry=registry, model=plan.model, geometry=plan.geometry,
                                             optimizer=plan.optimizer, seed=plan.seed, workers=workers)
        write_collection(tmp_path / f"cells_{workers}.geojson", features)
        written.append((tmp_path / f"cells_{workers}.geojson").read_bytes())
    assert len(json.loads(written[0])["features"]) > 100 and written[0] == written[1]
    # the seam clusters' re-solve moves depths only, over the depths the patches searched; sizes stay
    assert stats["n_seam_cells"] > 0 and stats["n_violations"] == 0
    by_patch = {rec.sample_id: rec.cells.set_index("label") for rec in recs}
    found = np.array([by_patch[row.patch].at[row.patch_label, "R"] for row in cells.itertuples()])
    assert np.array_equal(cells["R"].to_numpy(), found)
    low, high = min(r.depth_range[0] for r in recs), max(r.depth_range[1] for r in recs)
    assert low < 0  # the evidence reaches beyond the section faces, where a centre outside shows a cap
    assert cells["z"].between(low - 1e-9, high + 1e-9).all()


def _slide_detections(tmp_path, offset):
    """The demo patch 2 reference nuclei, as a whole-slide segmenter would write them at level 0 (the patch's
    pixel (0, 0) at slide pixel ``offset``): a HoVer-Net WSI JSON (pixel centres) and a QuPath GeoJSON of
    cells (pixel edges); and their level-0 centres (pixel centres)."""
    from cellframe.io.nuclei import nuclei_table, split_instances
    from cellframe.io.outlines import nucleus_outlines

    labels = split_instances(io.imread(DEMO / "tcga_patch_2_nuclei_mask.png"), 9)
    nuclei = nuclei_table(labels)
    outlines = [o + np.asarray(offset, float) for o in nucleus_outlines(labels, nuclei)]
    hovernet = {"mag": 40, "nuc": {str(k + 1): {"bbox": [[0, 0], [1, 1]], "centroid": o[:-1].mean(axis=0).tolist(),
                                                "contour": o[:-1].tolist(), "type_prob": 0.9, "type": 1 + k % 2}
                                   for k, o in enumerate(outlines)}}
    qupath = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": f"cell-{k}", "geometry": {"type": "Polygon", "coordinates": [(o * 1.6 - o.mean(0) * 0.6 + 0.5).tolist()]},
         "nucleusGeometry": {"type": "Polygon", "coordinates": [(o + 0.5).tolist()]},
         "properties": {"objectType": "cell", "classification": {"name": "Tumor"}}} for k, o in enumerate(outlines)]}
    (tmp_path / "slide.json").write_text(json.dumps(hovernet))
    (tmp_path / "slide.geojson").write_text(json.dumps(qupath))
    centres = np.column_stack([nuclei["x"], nuclei["y"]]) + np.asarray(offset, float)
    return tmp_path / "slide.json", tmp_path / "slide.geojson", centres


def test_a_large_slide_level_file_read_for_one_region_is_streamed_to_the_same_nuclei(tmp_path, monkeypatch):
    """A file over STREAM_BYTES, imported into a region with an offset, is streamed: the nuclei that
    reach the region are those a whole read finds, and the others are not kept."""
    from cellframe.plugins.segmenters import importers

    hovernet, qupath, centres = _slide_detections(tmp_path, (512, 256))
    offset, shape = (812, 556), (300, 400)  # a 400 x 300 region inside the slide's detections
    for path, kind, read in ((hovernet, "hovernet", lambda: importers.read_hovernet(hovernet, shape, {1: "a"}, offset=offset)),
                             (qupath, "qupath", lambda: importers.read_qupath(qupath, shape, offset=offset))):
        whole = read()
        monkeypatch.setattr(importers, "STREAM_BYTES", 0)
        kept = list(importers._entries(path, kind, shape, offset))
        streamed = read()
        monkeypatch.undo()
        assert 0 < len(whole) <= len(kept) < len(centres) / 2  # the rest of the slide was not kept
        if kind == "qupath":  # its nuclei are numbered in the order read: here, of those kept
            streamed, whole = streamed.drop(columns="label"), whole.drop(columns="label")
        pd.testing.assert_frame_equal(streamed, whole)
    (tmp_path / "cut.json").write_text(hovernet.read_text()[: 5000])
    monkeypatch.setattr(importers, "STREAM_BYTES", 0)
    with pytest.raises(importers.InputError, match="cut.json are not readable JSON"):
        importers.read_hovernet(tmp_path / "cut.json", shape, {}, offset=offset)


@pytest.mark.parametrize("mpp", [0.25, 0.5])
def test_slide_detections_are_cut_into_patches_where_they_lie(slide, tmp_path, mpp):
    from cellframe.plugins.segmenters.importers import read_hovernet, read_qupath

    from cellframe.io.slide_detections import write_patch_detections

    path, _ = slide
    hovernet, qupath, centres = _slide_detections(tmp_path, (512, 256))
    regions = [r for r in slide_patches(path, patch_size=128 if mpp == 0.5 else 256, mpp=mpp, min_tissue=0.9, halo=16)]
    assert regions and all(r.downsample == mpp / 0.25 for r in regions)
    for source, read in ((hovernet, lambda f, shape: read_hovernet(f, shape, {1: "a", 2: "b"})),
                         (qupath, lambda f, shape: read_qupath(f, shape))):
        files = write_patch_detections(source, regions, [tmp_path / source.suffix / f"p{k}" for k in range(len(regions))])
        owned = []
        for region, file in zip(regions, files):
            side = region.size + 2 * region.halo
            nuclei = read(file, (side, side))
            mine = region.owns(nuclei["x"], nuclei["y"])
            owned.append(np.column_stack(region.centres_to_slide(nuclei["x"][mine], nuclei["y"][mine])))
        owned = np.concatenate(owned)
        # every nucleus whose centre lies in a patch comes back once, where it was (to the rasterisation's
        # rounding, scaled by the read level)
        inside = np.zeros(len(centres), bool)
        for r in regions:
            inside |= ((centres[:, 0] >= r.x0 - 0.5 * r.downsample) & (centres[:, 0] < r.x0 + (r.size - 0.5) * r.downsample)
                       & (centres[:, 1] >= r.y0 - 0.5 * r.downsample) & (centres[:, 1] < r.y0 + (r.size - 0.5) * r.downsample))
        from scipy.spatial import cKDTree

        d, j = cKDTree(centres).query(owned)
        assert len(np.unique(j)) == len(owned)  # none twice
        assert abs(len(owned) - inside.sum()) <= 0.03 * inside.sum()  # small nuclei at a seam may fall either way
        assert np.median(d) < 0.25 * mpp / 0.25 and np.quantile(d, 0.95) < 1.0 * mpp / 0.25


def test_a_slide_runs_on_its_hovernet_detections(slide, run_cli, tmp_path):
    path, canvas = slide
    hovernet, _, centres = _slide_detections(tmp_path, (512, 256))
    result = run_cli([f"input.slide={path}", f"input.mask={hovernet}", "segmenter=hovernet", "input.patch_size=500",
                      "input.max_patches=2", "mlflow.enabled=false", "progress=false", "analysis=[]",
                      f"hydra.run.dir={tmp_path / 'out'}"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    cells = pd.read_parquet(tmp_path / "out" / "demo_slide_cells.parquet")
    assert len(cells) > 100 and set(cells["cell_type"]) == {"neoplastic", "inflammatory"}
    from scipy.spatial import cKDTree

    d, _ = cKDTree(centres).query(np.column_stack([cells["x_slide"], cells["y_slide"]]))
    assert np.quantile(d, 0.95) < 0.5  # the imported nuclei, where the slide has them
    folders = sorted(p for p in (tmp_path / "out").iterdir() if p.name.startswith("demo_slide_x"))
    assert len(folders) == 2 and all((f / "detections.json").is_file() for f in folders)
    again = run_cli([f"input.slide={path}", f"input.mask={hovernet}", "segmenter=hovernet", "input.patch_size=500",
                     "input.max_patches=2", "mlflow.enabled=false", "progress=false", "analysis=[]",
                     f"hydra.run.dir={tmp_path / 'out'}"], tmp_path)  # resumed: the cut is not made again
    assert again.returncode == 0 and "the cut of an earlier run of this folder, reused" in (
        tmp_path / "out" / "cellframe.log").read_text()
    # the wrong importer for the file, an offset on top of the slide's own, a segmenter that reads no file
    for args, message in (([f"input.mask={hovernet}", "segmenter=qupath"], "is read by segmenter=hovernet"),
                          ([f"input.mask={hovernet}", "segmenter=hovernet", "segmenter.offset=[5,5]"], "leave the offset"),
                          ([f"input.mask={hovernet}", "segmenter=hed_watershed"], "not segmenter=hed_watershed"),
                          (["segmenter=qupath"], "give the slide's detections")):
        bad = run_cli([f"input.slide={path}", *args, f"hydra.run.dir={tmp_path / 'bad'}"], tmp_path)
        assert bad.returncode == 2 and message in bad.stderr, bad.stderr[-1000:]


def test_only_tissue_inside_the_slides_annotations_is_cut(slide, tmp_path, run_cli):
    """A QuPath export of annotations (one legacy-style, one of another class, one with a hole): patches
    only where annotated tissue is, of the class asked for."""
    path, _ = slide

    def annotation(x0, y0, x1, y1, name, legacy=False, hole=None):
        ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
        rings = [ring] + ([[[hole[0], hole[1]], [hole[2], hole[1]], [hole[2], hole[3]], [hole[0], hole[3]],
                            [hole[0], hole[1]]]] if hole else [])
        feature = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": rings},
                   "properties": {"classification": {"name": name}}}
        if legacy:
            feature["id"] = "PathAnnotationObject"
        else:
            feature["properties"]["objectType"] = "annotation"
        return feature

    # the H&E block is [512, 1512) x [256, 1256); a detection is not an annotation
    doc = {"type": "FeatureCollection", "features": [
        annotation(512, 256, 1012, 1256, "Tumor", legacy=True),                       # left half of the block
        annotation(1012, 256, 1512, 756, "Stroma", hole=(1012, 256, 1512, 512)),       # top right, minus a hole
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [2048, 0], [2048, 1536], [0, 0]]]},
         "properties": {"objectType": "detection"}}]}
    (tmp_path / "annotations.geojson").write_text(json.dumps(doc))
    everything = slide_patches(path, patch_size=128, mpp=0.25, min_tissue=0.9)
    tumour = slide_patches(path, patch_size=128, mpp=0.25, min_tissue=0.9, annotations=tmp_path / "annotations.geojson",
                           annotation_class="Tumor")
    both = slide_patches(path, patch_size=128, mpp=0.25, min_tissue=0.9, annotations=tmp_path / "annotations.geojson")
    assert tumour and all(512 <= r.x0 and r.x0 + 128 <= 1012 for r in tumour)
    assert {(r.x0, r.y0) for r in tumour} < {(r.x0, r.y0) for r in both} < {(r.x0, r.y0) for r in everything}
    stroma = [r for r in both if r.x0 >= 1012]
    assert stroma and all(512 <= r.y0 and r.y0 + 128 <= 756 for r in stroma)  # the hole is left out
    bad = run_cli([f"input.slide={path}", "segmenter=hed_watershed", f"input.annotations={tmp_path / 'annotations.geojson'}",
                   "input.annotation_class=Necrosis", f"hydra.run.dir={tmp_path / 'out'}"], tmp_path)
    assert bad.returncode == 2 and "input.annotations: annotations" in bad.stderr and "of class 'Necrosis'" in bad.stderr
    # a run inside them, and the same run resumed (the patches' annotations come back from their saved state):
    # the report draws the slide with the annotations both times
    args = [f"input.slide={path}", "segmenter=hed_watershed", f"input.annotations={tmp_path / 'annotations.geojson'}",
            "input.annotation_class=Tumor", "input.patch_size=256", "input.max_patches=1", "mlflow.enabled=false",
            "progress=false", "exporter=[table]", "analysis=[report]", f"hydra.run.dir={tmp_path / 'run'}"]
    for attempt in range(2):
        done = run_cli(args, tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
        assert (tmp_path / "run" / "analysis" / "report" / "slide_demo_slide.png").is_file()
    assert "resumed: 1 finished patches" in (tmp_path / "run" / "cellframe.log").read_text()
    saved = json.loads(next((tmp_path / "run").glob("demo_slide_x*/state/state.json")).read_text())
    assert saved["fields"]["region"]["annotations"] == [str(tmp_path / "annotations.geojson"), "Tumor"]


def test_slide_detections_as_a_bare_feature_list_and_bad_files(slide, tmp_path):
    from cellframe.io.files import InputError
    from cellframe.io.slide_detections import write_patch_detections

    path, _ = slide
    _, qupath, centres = _slide_detections(tmp_path, (512, 256))
    regions = slide_patches(path, patch_size=256, mpp=0.25, min_tissue=0.9, halo=16)[:2]
    bare = tmp_path / "bare.geojson"
    bare.write_text(json.dumps(json.loads(qupath.read_text())["features"]))  # QuPath's older export: a list
    files = write_patch_detections(bare, regions, [tmp_path / "bare" / f"p{k}" for k in range(2)])
    again = write_patch_detections(qupath, regions, [tmp_path / "coll" / f"p{k}" for k in range(2)])
    for a, b in zip(files, again):
        assert json.loads(a.read_text()) == json.loads(b.read_text()) and json.loads(a.read_text())["features"]
    assert not list((tmp_path / "bare").rglob("*.part"))  # nothing half-written left
    (tmp_path / "empty.json").write_text(json.dumps({"mag": 40, "nuc": {}}))
    (tmp_path / "cut.json").write_text(qupath.read_text()[:5000])
    for name, message in (("empty.json", "hold no nuclei"), ("cut.json", "are not readable JSON")):
        with pytest.raises(InputError, match=message):
            write_patch_detections(tmp_path / name, regions, [tmp_path / name / f"p{k}" for k in range(2)])


def test_a_large_file_of_another_format_says_it_holds_no_nuclei(tmp_path, monkeypatch):
    """Streamed (over STREAM_BYTES), a file with no HoVer-Net ``nuc`` entries or no QuPath features is a
    one-line error about the file, as a whole read gives, not "no nuclei found" as if the region were empty."""
    from cellframe.plugins.segmenters import importers

    hovernet, qupath, _ = _slide_detections(tmp_path, (512, 256))
    swapped = {"hovernet": qupath, "qupath": hovernet}  # each format's reader handed the other's file
    monkeypatch.setattr(importers, "STREAM_BYTES", 0)
    with pytest.raises(importers.InputError, match=r"HoVer-Net file .*slide.geojson holds no nuclei \(no entries in a 'nuc'"):
        importers.read_hovernet(swapped["hovernet"], (300, 400), {}, offset=(812, 556))
    with pytest.raises(importers.InputError, match=r"QuPath GeoJSON .*slide.json holds no nuclei \(no features\)"):
        importers.read_qupath(swapped["qupath"], (300, 400), offset=(812, 556))
