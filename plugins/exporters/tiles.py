"""Exporter ``tiles``: cell-centric tiles (square crop, 3D-informed cell region, quadruple tile).

Writes ``tiles.npz`` (arrays ``square``, ``region``, ``quad`` and ``cell_id``)
and ``tiles_preview.png``, a montage of the first quadruple tiles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cellframe import hookimpl
from cellframe.io import as_rgb, atomic_path, read_image, write_png
from cellframe.stages import Stage
from cellframe.tiles import cell_tiles


@dataclass
class TilesSettings:
    name: str = "tiles"
    #: side of the square and region tiles, pixels
    size: int = 96
    #: side of the quadruple tile
    quad_size: int = 224
    #: quadruple tiles shown in the preview montage
    preview: int = 16

    def __post_init__(self) -> None:
        if self.size < 8 or self.quad_size < 8 or self.quad_size % 2:
            raise ValueError("size must be >= 8 and quad_size an even number >= 8")


def nucleus_labels(reconstruction, shape) -> np.ndarray:
    """The segmenter's label image when it kept one, else each nucleus drawn as its disc."""
    if reconstruction.labels is not None:
        return reconstruction.labels
    from skimage.draw import disk

    labels = np.zeros(shape, np.int32)
    for row in reconstruction.nuclei.itertuples(index=False):
        rr, cc = disk((row.y, row.x), row.r, shape=shape)
        labels[rr, cc] = row.label
    return labels


def montage(quads: np.ndarray, count: int) -> np.ndarray:
    quads = quads[:count]
    side = int(np.ceil(np.sqrt(max(len(quads), 1))))
    size = quads.shape[1] if len(quads) else 8
    canvas = np.full((side * size, side * size, 3), 255, np.uint8)
    for k, quad in enumerate(quads):
        r, c = divmod(k, side)
        canvas[r * size : (r + 1) * size, c * size : (c + 1) * size] = quad
    return canvas


@hookimpl
def cellframe_stages():
    return [Stage("exporter", "tiles", TilesSettings, "cell-centric tiles: square, cell region, quadruple (npz)")]


@hookimpl
def cellframe_export(reconstruction, outdir, settings):
    path = reconstruction.source.get("image")
    image = as_rgb(read_image(path, "image"), path)
    labels = nucleus_labels(reconstruction, image.shape[:2])
    tiles = cell_tiles(image, labels, reconstruction.cells, reconstruction.sections, settings.size, settings.quad_size)
    target = outdir / "tiles.npz"
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, cell_id=reconstruction.cells["cell_id"].to_numpy(), **tiles)
    preview = write_png(outdir / "tiles_preview.png", montage(tiles["quad"], settings.preview))
    return [target, preview]
