"""Cell-centric tiles on a real demo crop."""

import numpy as np
from skimage import io

from cellframe.plugins.exporters.tiles import crop, haematoxylin, polygon_mask

from conftest import DEMO


def test_crop_pads_at_the_border():
    image = np.arange(100, dtype=np.uint8).reshape(10, 10)
    out = crop(image, 0, 0, 4, fill=255)
    assert out[0, 0] == 255 and out[2, 2] == image[0, 0] and out.shape == (4, 4)


def test_polygon_mask_of_a_square():
    mask = polygon_mask((10, 10), np.array([[2, 2], [6, 2], [6, 6], [2, 6]], float))
    assert mask[4, 4] and not mask[8, 8] and 16 <= mask.sum() <= 25


def test_haematoxylin_is_dark_on_nuclei():
    image = io.imread(DEMO / "tcga_patch_2.png")[300:500, 300:500, :3]
    mask = io.imread(DEMO / "tcga_patch_2_nuclei_mask.png")[300:500, 300:500] > 0
    h = haematoxylin(image)
    assert h[mask].mean() < h[~mask].mean() - 30


def test_tiles_exporter_writes_three_kinds_per_cell(registry, tmp_path):
    from cellframe.config import ModelConfig
    from cellframe.model.swarm import PSOSettings
    from cellframe.plugins.geometries.sphere import SphereSettings
    from cellframe.model.reconstruct import reconstruct

    image = io.imread(DEMO / "tcga_patch_2.png")[:200, :200, :3]
    mask = io.imread(DEMO / "tcga_patch_2_nuclei_mask.png")[:200, :200]
    io.imsave(tmp_path / "crop.png", image, check_contrast=False)
    nuclei = registry.call("segmenter", "mask", image=image, mask=mask, mask_path=None, mpp=0.25, settings=registry.stage("segmenter", "mask").schema())
    rec = reconstruct(nuclei, registry=registry, model=ModelConfig(plane_z=20), geometry=SphereSettings(),
                      optimizer=PSOSettings(), rng=np.random.default_rng(0))
    rec.source, rec.labels = {"image": str(tmp_path / "crop.png")}, nuclei.attrs["labels"]
    paths = registry.call("exporter", "tiles", reconstruction=rec, outdir=tmp_path,
                          settings=registry.stage("exporter", "tiles").schema(size=64))
    tiles = np.load(paths[0])
    n = rec.geometry.n
    assert tiles["square"].shape == (n, 64, 64, 3) and tiles["region"].shape == (n, 64, 64, 3)
    assert tiles["quad"].shape == (n, 224, 224, 3) and tiles["cell_id"].tolist() == list(range(n))
    # the square tile is centred on the nucleus; the region tile is white outside the cell's region
    k = int(np.argmax([len(p) for p in rec.sections]))
    assert (tiles["region"][k] == 255).all(axis=2).mean() > 0.05
    assert (tiles["square"][k][28:36, 28:36] < 200).any()
    assert io.imread(paths[1]).shape[2] == 3
