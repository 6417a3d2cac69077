import numpy as np
import pytest

from conftest import DEMO

from cellframe.io.files import InputError, as_rgb, atomic_path, read_image, write_text


def test_atomic_path_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "cells.json"
    write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_read_image_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match="mask not found: .*none.png"):
        read_image(tmp_path / "none.png", "mask")
    junk = tmp_path / "junk.png"
    junk.write_text("not an image")
    with pytest.raises(InputError, match="image is not a readable image: .*junk.png"):
        read_image(junk, "image")


def test_compressed_tiffs_and_cmyk_jpegs_as_other_tools_write_them_read_as_rgb(tmp_path):
    """LZW, JPEG-in-TIFF and deflate TIFFs (ImageJ, QuPath, Pillow exports) decode; a CMYK JPEG's four
    channels are ink, converted to RGB, not read as RGBA."""
    from PIL import Image

    rgb = np.asarray(Image.open(DEMO / "tcga_patch_2.png").convert("RGB"))[:200, :300]
    for compression, tolerance in (("tiff_lzw", 0), ("tiff_adobe_deflate", 0), ("jpeg", 12)):
        Image.fromarray(rgb).save(tmp_path / f"{compression}.tif", compression=compression)
        out = read_image(tmp_path / f"{compression}.tif", "image")
        assert out.shape == rgb.shape and np.abs(out.astype(int) - rgb).mean() <= tolerance, compression
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "print.jpg", quality=95)
    out = read_image(tmp_path / "print.jpg", "image")
    assert out.shape == rgb.shape and np.abs(out.astype(int) - rgb).mean() < 12


def test_as_rgb_accepts_grey_and_rgba():
    assert as_rgb(np.zeros((4, 5), np.uint8), "g").shape == (4, 5, 3)
    rgba = np.full((4, 5, 4), 65535, np.uint16)
    out = as_rgb(rgba, "a")
    assert out.shape == (4, 5, 3) and out.dtype == np.uint8 and out.max() == 255
    with pytest.raises(InputError, match="expected"):
        as_rgb(np.zeros((2, 2, 2, 2)), "x")


def test_transparent_pixels_are_glass_and_a_grey_image_is_named_in_a_warning(tmp_path, caplog):
    from skimage import io

    from cellframe.config import PatchSpec
    from cellframe.running.pipeline import load_patch

    rgba = np.zeros((4, 5, 4), np.uint8)  # black where transparent, as many exporters leave it
    rgba[:2, ..., :3] = (120, 40, 160)
    rgba[:2, ..., 3] = 255
    rgba[2, ..., 3] = 128
    out = as_rgb(rgba, "a")
    assert (out[:2] == (120, 40, 160)).all() and (out[3] == 255).all() and (out[2] == 127).all()
    io.imsave(tmp_path / "grey.png", np.full((8, 8), 90, np.uint8), check_contrast=False)
    io.imsave(tmp_path / "he.png", out, check_contrast=False)
    with caplog.at_level("WARNING", logger="cellframe"):
        load_patch(PatchSpec("he", tmp_path / "he.png"))
        assert not caplog.records
        image, _ = load_patch(PatchSpec("grey", tmp_path / "grey.png"))
    assert image.shape == (8, 8, 3) and "grey.png is grey" in caplog.text


def test_label_arrays_from_numpy_and_cellpose_files(tmp_path):
    from cellframe.config import PatchSpec
    from cellframe.running.pipeline import load_patch

    labels = np.zeros((40, 60), np.int32)
    labels[5:15, 5:15], labels[20:30, 30:45] = 1, 2
    np.save(tmp_path / "he_masks.npy", labels)  # np.save of a label image (StarDist, scripts)
    assert np.array_equal(read_image(tmp_path / "he_masks.npy", "mask"), labels)
    # Cellpose's GUI and io.masks_flows_to_seg write a pickled dict with the labels under "masks"
    np.save(tmp_path / "he_seg.npy", {"masks": labels.astype(np.uint16), "outlines": np.zeros_like(labels),
                                      "flows": [np.zeros((40, 60, 3), np.uint8)], "diameter": 30.0,
                                      "filename": "he.png", "ismanual": np.zeros(2, bool)})
    assert np.array_equal(read_image(tmp_path / "he_seg.npy", "mask"), labels)
    he = np.full((40, 60, 3), 200, np.uint8)
    write_path = tmp_path / "he.npy"
    np.save(write_path, he)
    image, mask = load_patch(PatchSpec("he", write_path, tmp_path / "he_seg.npy", None))
    assert image.shape == (40, 60, 3) and np.array_equal(mask, labels)
    # a pickle under another name is not unpickled; a dict without masks is a clear error
    np.save(tmp_path / "other.npy", {"masks": labels})
    with pytest.raises(InputError, match="other.npy holds pickled data, not a plain array"):
        read_image(tmp_path / "other.npy", "mask")
    np.save(tmp_path / "bad_seg.npy", {"outlines": labels})
    with pytest.raises(InputError, match="bad_seg.npy is not a Cellpose \\*_seg.npy with 'masks'"):
        read_image(tmp_path / "bad_seg.npy", "mask")
    with pytest.raises(InputError, match="more than input.max_pixels=100"):
        read_image(tmp_path / "he_masks.npy", "mask", max_pixels=100)


def test_colour_masks_are_read_as_instances_and_binary_ones_and_jpegs_as_binary(tmp_path, caplog):
    """Masks as other tools save them, on the real demo mask: instance colours (a palette that cycles
    10 colours, as matplotlib's tab10 does), red nuclei on white, a JPEG of a binary mask."""
    from PIL import Image
    from skimage import io

    from cellframe.io.nuclei import mask_plane, split_instances

    raw = io.imread(DEMO / "tcga_patch_2_nuclei_mask.png")
    drawn = (raw[..., 0] if raw.ndim == 3 else raw)[:300, :300] > 0
    labels = split_instances(drawn, 9)
    palette = np.array([[0, 0, 0]] + [[(37 * k) % 256, (91 * k) % 256, (53 * k + 100) % 256] for k in range(1, 11)], np.uint8)
    Image.fromarray(palette[np.where(labels > 0, (labels - 1) % 10 + 1, 0)]).save(tmp_path / "instances.png")
    read = mask_plane(read_image(tmp_path / "instances.png", "mask"), tmp_path / "instances.png")
    pairs = np.unique(np.stack([read.ravel(), labels.ravel()]), axis=1)
    assert read.max() == labels.max() and pairs.shape[1] == labels.max() + 1  # the same partition, label for label
    Image.fromarray(np.where(drawn[..., None], [200, 0, 0], [255, 255, 255]).astype(np.uint8)).save(tmp_path / "red.png")
    assert np.array_equal(mask_plane(read_image(tmp_path / "red.png", "mask"), "red.png"), drawn.astype(np.uint8))
    Image.fromarray(drawn.astype(np.uint8) * 255).save(tmp_path / "mask.jpg", quality=75)
    with caplog.at_level("WARNING"):
        jpeg = mask_plane(read_image(tmp_path / "mask.jpg", "mask"), tmp_path / "mask.jpg")
    assert "is a JPEG" in caplog.text and (jpeg.astype(bool) == drawn).mean() > 0.99


def test_an_image_that_records_another_pixel_size_than_input_mpp_is_named_in_a_warning(tmp_path, caplog):
    """OME-TIFF's PhysicalSizeX, TIFF resolution tags (cm) and PNG's pHYs are read; an editor's 72 dpi is not
    a microscope's pixel size and says nothing."""
    import tifffile
    from PIL import Image

    from cellframe.config import PatchSpec
    from cellframe.io.files import recorded_mpp
    from cellframe.running import pipeline

    rgb = np.asarray(Image.open(DEMO / "tcga_patch_1.png").convert("RGB"))[:64, :64]
    tifffile.imwrite(tmp_path / "ome.ome.tif", rgb, photometric="rgb", metadata={"PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5})
    tifffile.imwrite(tmp_path / "cm.tif", rgb, photometric="rgb", resolution=(2e4, 2e4), resolutionunit="CENTIMETER")
    Image.fromarray(rgb).save(tmp_path / "scan.png", dpi=(50800, 50800))
    Image.fromarray(rgb).save(tmp_path / "editor.png", dpi=(72, 72))
    assert [recorded_mpp(tmp_path / f) for f in ("ome.ome.tif", "cm.tif", "scan.png", "editor.png")] == [0.5, 0.5, 0.5, None]
    pipeline._mpp_warned.clear()
    with caplog.at_level("WARNING", logger="cellframe"):
        pipeline.load_patch(PatchSpec("scan", tmp_path / "scan.png"), mpp=0.5)
        pipeline.load_patch(PatchSpec("editor", tmp_path / "editor.png"), mpp=0.25)
        assert "records" not in caplog.text
        pipeline.load_patch(PatchSpec("scan", tmp_path / "scan.png"), mpp=0.25)
    assert "scan.png records 0.5 um/px but is read at input.mpp=0.25" in caplog.text and "set input.mpp=0.5" in caplog.text
