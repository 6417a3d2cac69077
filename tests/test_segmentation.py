"""Segmentation without weights, its metrics, and the importers of other tools' output."""

import json
from functools import partial

import numpy as np
import pytest
from skimage import io

from cellframe.io.nuclei import nuclei_from_polygons, split_instances
from cellframe.io.segmentation import segment_nuclei
from cellframe.io.segmetrics import aggregated_jaccard, object_f1, pixel_dice

from conftest import DEMO, disc_mask


def test_metrics_of_identical_masks_are_perfect():
    labels = split_instances(disc_mask((60, 60), [(15, 15), (40, 40)], 8))
    assert pixel_dice(labels, labels) == 1.0 and aggregated_jaccard(labels, labels) == 1.0
    assert object_f1(labels, labels)["f1"] == 1.0


def test_metrics_with_known_answers():
    ref = np.zeros((10, 10), int)
    ref[0:4, 0:4] = 1  # 16 px
    ref[6:10, 6:10] = 2  # 16 px
    pred = np.zeros((10, 10), int)
    pred[0:4, 0:2] = 5  # half of object 1: IoU 0.5
    pred[8:10, 0:2] = 7  # a false positive of 4 px
    assert pixel_dice(ref, pred) == pytest.approx(2 * 8 / (32 + 12))
    f1 = object_f1(ref, pred)
    assert (f1["tp"], f1["precision"], f1["recall"]) == (1, 0.5, 0.5)
    # AJI: C = 8; U = 16 (object 1 with its match) + 16 (object 2 unmatched) + 4 (unused prediction)
    assert aggregated_jaccard(ref, pred) == pytest.approx(8 / 36)
    empty = np.zeros((5, 5), int)
    assert object_f1(empty, empty)["f1"] == 1.0 and pixel_dice(empty, empty) == 1.0


def test_hed_watershed_on_a_real_patch_agrees_with_its_mask():
    image = io.imread(DEMO / "tcga_patch_2.png")[..., :3]
    reference = split_instances(io.imread(DEMO / "tcga_patch_2_nuclei_mask.png"), 9)
    labels = segment_nuclei(image, mpp=0.25)
    assert pixel_dice(reference, labels) > 0.75
    assert object_f1(reference, labels)["f1"] > 0.7
    assert aggregated_jaccard(reference, labels) > 0.5


def test_hed_watershed_sizes_follow_mpp():
    image = io.imread(DEMO / "tcga_patch_2.png")[:300, :300, :3]
    small = segment_nuclei(image, mpp=0.25, max_area_um2=20)
    assert np.bincount(small.ravel())[1:].max() <= 20 / 0.25**2


def test_hed_watershed_through_the_hook(registry):
    image = io.imread(DEMO / "tcga_patch_2.png")[:300, :300, :3]
    nuclei = registry.call("segmenter", "hed_watershed", image=image, mask=None, mask_path=None, mpp=0.25,
                           settings=registry.stage("segmenter", "hed_watershed").schema())
    reference = split_instances(io.imread(DEMO / "tcga_patch_2_nuclei_mask.png")[:300, :300], 9).max()
    assert 0.6 * reference < len(nuclei) < 1.4 * reference and nuclei.attrs["labels"].max() == len(nuclei)


def _pale_and_dark_nuclei() -> np.ndarray:
    """An H&E image (Beer-Lambert, scikit-image's stain vectors) of five dark nuclei, one pale nucleus and
    a nucleus-sized haze of haematoxylin that fades into its surround."""
    from skimage.color import hed2rgb

    yy, xx = np.mgrid[:200, :300]
    H, E = np.full((200, 300), 0.01), np.full((200, 300), 0.12)
    for cy, cx, density in [(40, 40, 0.3), (40, 110, 0.3), (40, 180, 0.3), (40, 250, 0.3), (150, 40, 0.3),
                            (150, 130, 0.08)]:
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 < 12**2
        H[disc], E[disc] = density, 0.03
    haze = np.exp(-((yy - 150) ** 2 + (xx - 230) ** 2) / (2 * 18**2))
    H, E = H + 0.07 * haze, E - 0.09 * haze
    return (np.clip(hed2rgb(np.dstack([H, E, np.zeros_like(H)])), 0, 1) * 255).astype(np.uint8)


def test_a_second_threshold_finds_pale_nuclei_that_stand_out_from_their_surround(registry):
    image = _pale_and_dark_nuclei()
    schema = registry.stage("segmenter", "hed_watershed").schema

    def found(**values):
        nuclei = registry.call("segmenter", "hed_watershed", image=image, mask=None, mask_path=None, mpp=0.25,
                               settings=schema(**values))
        return nuclei, nuclei.attrs["counts"]

    first, counts = found(pale_threshold_scale=None)
    assert len(first) == 5 and "segment_pale" not in counts  # the first threshold sees the dark ones only
    both, counts = found()
    assert len(both) == 6 and counts["segment_pale"] == 1 and counts["segment_kept"] == 6
    pale = both.iloc[-1]
    assert abs(pale["y"] - 150) < 2 and abs(pale["x"] - 130) < 2  # the pale nucleus, not the haze
    assert len(found(pale_contrast=1.0)[0]) == 7  # without the surround test the haze passes as well
    with pytest.raises(ValueError, match="pale_threshold_scale"):
        schema(pale_threshold_scale=1.5)


def test_label_image_importer_keeps_every_instance(registry, tmp_path):
    labels = np.zeros((64, 64), np.uint16)
    labels[5:15, 5:15], labels[15:25, 5:15], labels[40:50, 40:60] = 3, 9, 600
    io.imsave(tmp_path / "labels.tif", labels, check_contrast=False)
    nuclei = registry.call("segmenter", "labels", image=np.zeros((64, 64, 3), np.uint8), mask=labels,
                           mask_path=tmp_path / "labels.tif", mpp=0.25, settings=registry.stage("segmenter", "labels").schema())
    assert nuclei["label"].tolist() == [3, 9, 600] and nuclei["area"].tolist() == [100, 100, 200]


def test_float_label_images_with_whole_values_are_labels_and_others_are_one_line_errors(registry, tmp_path):
    """ImageJ, napari and MATLAB save label images as float32 (here an LZW TIFF, as ImageJ writes)."""
    import tifffile

    from cellframe.io.files import InputError

    labels = np.zeros((64, 64), np.float32)
    labels[5:15, 5:15], labels[40:50, 40:60] = 3, 600
    tifffile.imwrite(tmp_path / "labels.tif", labels, compression="lzw")
    settings = registry.stage("segmenter", "labels").schema()
    call = partial(registry.call, "segmenter", "labels", image=np.zeros((64, 64, 3), np.uint8), mask=None,
                   mpp=0.25, settings=settings)
    nuclei = call(mask_path=tmp_path / "labels.tif")
    assert nuclei["label"].tolist() == [3, 600] and nuclei["area"].tolist() == [100, 200]
    labels[5:15, 40:50] = 7  # three values: the default segmenter keeps them as labels too
    kept = registry.call("segmenter", "mask", image=np.zeros((64, 64, 3), np.uint8), mask=labels, mask_path=None,
                         mpp=0.25, settings=registry.stage("segmenter", "mask").schema())
    assert kept["label"].tolist() == [3, 7, 600]
    labels[0, 0] = 0.5  # a probability map, not labels
    tifffile.imwrite(tmp_path / "prob.tif", labels)
    with pytest.raises(InputError, match=r"prob.tif must be a 2D integer image .* not 2D float32"):
        call(mask_path=tmp_path / "prob.tif")


def hovernet_doc(centres, radius=6.0, types=(1, 2)):
    t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    nuc = {}
    for k, ((x, y), kind) in enumerate(zip(centres, types), start=1):
        contour = np.column_stack([x + radius * np.cos(t), y + radius * np.sin(t)]).round(1).tolist()
        nuc[str(k)] = {"bbox": [[y - radius, x - radius], [y + radius, x + radius]], "centroid": [x, y],
                       "contour": contour, "type_prob": 0.9, "type": kind}
    return {"mag": 40, "nuc": nuc}


def test_hovernet_importer_reads_xy_contours_and_types(registry, tmp_path):
    (tmp_path / "hv.json").write_text(json.dumps(hovernet_doc([(20.0, 10.0), (50.0, 40.0)])))
    nuclei = registry.call("segmenter", "hovernet", image=np.zeros((60, 80, 3), np.uint8), mask=None,
                           mask_path=tmp_path / "hv.json", mpp=0.25, settings=registry.stage("segmenter", "hovernet").schema())
    assert nuclei[["x", "y"]].round(1).to_numpy().tolist() == [[20.0, 10.0], [50.0, 40.0]]
    assert nuclei["cell_type"].tolist() == ["neoplastic", "inflammatory"]
    labels = nuclei.attrs["labels"]
    assert labels[10, 20] == 1 and labels[40, 50] == 2  # row = y, column = x


def test_bad_import_files_give_clear_errors(registry, tmp_path):
    from cellframe.io.files import InputError

    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InputError, match="bad.json is not readable JSON"):
        registry.call("segmenter", "hovernet", image=np.zeros((8, 8, 3), np.uint8), mask=None,
                      mask_path=tmp_path / "bad.json", mpp=0.25, settings=registry.stage("segmenter", "hovernet").schema())


def test_nuclei_from_polygons_measures_area_and_centroid():
    square = np.array([[10, 10], [20, 10], [20, 20], [10, 20]], float)
    table, labels = nuclei_from_polygons([square], (40, 40), ids=[7], cell_types=["tumour"])
    row = table.iloc[0]
    assert (row.label, row.x, row.y, row.area, row.cell_type) == (7, 15, 15, 100, "tumour")
    assert row.r == pytest.approx(np.sqrt(100 / np.pi)) and labels[15, 15] == 7


def test_objects_that_do_not_look_like_nuclei_are_rejected_and_counted():
    from skimage.draw import disk, rectangle

    from cellframe.io.segmentation import reject_non_nuclei

    image = np.full((200, 300, 3), 245, np.uint8)
    labels = np.zeros((200, 300), np.int32)
    purple, pink = (70, 40, 130), (235, 110, 170)
    shapes = {1: disk((40, 40), 16), 2: disk((40, 120), 14),             # two nuclei
              3: disk((120, 220), 60, shape=labels.shape),               # 30 um across at 0.25 um/px: a fold
              4: rectangle((150, 20), extent=(3, 80)),                   # a fibre
              5: disk((40, 200), 15)}                                    # keratin: eosinophilic
    for label, (rr, cc) in shapes.items():
        labels[rr, cc] = label
        image[rr, cc] = pink if label == 5 else purple
    ring = np.zeros_like(labels, bool)                                   # a C-shaped clump: not convex
    ring[disk((120, 60), 22)] = True
    ring[disk((120, 72), 16)] = False
    labels[ring], image[ring] = 6, purple
    kept, counts = reject_non_nuclei(labels, image, mpp=0.25)
    assert counts == {"too_large": 1, "not_convex": 1, "too_elongated": 1, "not_haematoxylin": 1, "kept": 2}
    assert kept.max() == 2 and set(np.unique(kept[labels == 1])) == {1} and (kept[labels == 3] == 0).all()
    everything, counts = reject_non_nuclei(labels, image, 0.25, None, None, None, None)
    assert everything.max() == 6 and counts == {"kept": 6}


def test_region_measures_are_scikit_images_per_region_properties():
    from skimage.color import rgb2hed
    from skimage.measure import regionprops_table

    from cellframe.io.segmentation import region_measures, reject_non_nuclei

    image = io.imread(DEMO / "tcga_patch_2.png")[:400, :400, :3]
    labels = split_instances(io.imread(DEMO / "tcga_patch_2_nuclei_mask.png")[:400, :400], 9)
    hed = rgb2hed(image)
    m = region_measures(labels, hed[..., 0], np.maximum(hed[..., 1], 0))
    ref = regionprops_table(labels, intensity_image=np.stack([hed[..., 0], np.maximum(hed[..., 1], 0)], axis=-1),
                            properties=("label", "area", "bbox", "equivalent_diameter_area", "eccentricity",
                                        "intensity_mean", "solidity"))
    assert np.array_equal(m["label"], ref["label"]) and np.array_equal(m["area"], ref["area"])
    assert np.array_equal(m["bbox_area"], (ref["bbox-2"] - ref["bbox-0"]) * (ref["bbox-3"] - ref["bbox-1"]))
    for ours, theirs in (("equivalent_diameter", "equivalent_diameter_area"), ("eccentricity", "eccentricity"),
                         ("haematoxylin", "intensity_mean-0"), ("eosin", "intensity_mean-1")):
        assert np.allclose(m[ours], ref[theirs], rtol=0, atol=1e-9), ours
    # solidity is only computed where the bounding box leaves it in doubt: the same objects go
    for threshold in (0.75, 0.9):
        kept, counts = reject_non_nuclei(labels, image, 0.25, None, threshold, None, None, hed=hed)
        assert counts["not_convex"] == int((ref["solidity"] < threshold).sum())
        assert set(np.unique(labels[kept > 0])) == set(ref["label"][ref["solidity"] >= threshold])


def test_objects_not_darker_than_what_touches_them_are_dropped():
    from cellframe.io.segmentation import darker_than_surround

    density = np.full((120, 200), 0.05)
    labels = np.zeros(density.shape, np.int32)
    yy, xx = np.mgrid[:120, :200]
    disc = (yy - 60) ** 2 + (xx - 30) ** 2 <= 12**2
    density[disc], labels[disc] = 0.3, 1  # a nucleus in pale cytoplasm
    density[30:90, 100:160] = 0.3  # a stained sheet the watershed cut into a 4 x 4 grid of tiles
    for k in range(16):
        r, c = divmod(k, 4)
        labels[30 + 15 * r : 45 + 15 * r, 100 + 15 * c : 115 + 15 * c] = 2 + k
    kept, dropped = darker_than_surround(labels, density, ring_px=3, min_contrast=1.4)
    # every tile with tiles on three sides or more goes (the ring is mostly the sheet itself); the nucleus
    # and the sheet's four corners, half in pale surround, stay
    assert dropped == 12 and kept.max() == 5
    assert kept[60, 30] > 0 and kept[31, 101] > 0 and kept[60, 130] == 0 and kept[31, 120] == 0
    unchanged, none = darker_than_surround(labels, density, ring_px=3, min_contrast=0.9)
    assert none == 0 and np.array_equal(unchanged, labels)


def test_nuclei_an_imported_segmentation_leaves_out_are_counted_with_a_warning(registry, caplog):
    """On real demo patch 2 (its reference mask lies on the image): the objects hed_watershed finds outside
    the outlines are few with every outline given, and most of those dropped when 30 % are left out."""
    from cellframe.running.unlisted import check_outlines

    image = io.imread(DEMO / "tcga_patch_2.png")[..., :3]
    raw = io.imread(DEMO / "tcga_patch_2_nuclei_mask.png")
    labels = split_instances((raw[..., 0] if raw.ndim == 3 else raw) > 0, 9)
    ids = np.unique(labels[labels > 0])
    with caplog.at_level("WARNING", logger="cellframe"):
        whole = check_outlines(registry, image, labels, len(ids), 0.25)[0]["unlisted"]
        assert whole < 0.05 * len(ids) and "outside the given outlines" not in caplog.text
        dropped = np.random.default_rng(0).choice(ids, int(0.3 * len(ids)), replace=False)
        less = np.where(np.isin(labels, dropped), 0, labels)
        found = check_outlines(registry, image, less, len(ids) - len(dropped), 0.25)[0]["unlisted"]
    assert found - whole >= 0.6 * len(dropped)
    assert "objects that hed_watershed takes for nuclei lie outside the given outlines" in caplog.text
