"""Exporter ``tiles``: cell-centric tiles (square crop, 3D-informed cell region, quadruple tile).

Writes ``tiles.npz`` (arrays ``square``, ``region``, ``quad``, ``cell_id`` and ``owned``: whether the
cell is the patch's own, not a slide patch's halo's, which its neighbour patch also writes) and
``tiles_preview.png``, a montage of the first quadruple tiles.

Three kinds per cell (pure functions on arrays below, then the hooks):

* ``square``: a square crop centred on the nucleus;
* ``region``: the cell's 3D-informed 2D region (its polygon at the plane) on a
  square canvas, everything outside the region masked to white;
* ``quad``: the quadruple tile of single-cell H&E work, 2 x 2 panels: the cell
  region | the region times the nucleus mask (top), the haematoxylin channel |
  haematoxylin times the nucleus mask (bottom).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage.color import rgb2hed
from skimage.draw import polygon as draw_polygon
from skimage.transform import resize

from cellframe import hookimpl
from cellframe.io.files import atomic_path, write_png
from cellframe.stages import Stage

WHITE = 255


def haematoxylin(image: np.ndarray) -> np.ndarray:
    """The haematoxylin channel of an RGB H&E image as uint8 (dark = much stain), ``(H, W)``."""
    h = rgb2hed(image)[..., 0]
    lo, hi = np.percentile(h, [1, 99])
    scaled = np.clip((h - lo) / max(hi - lo, 1e-9), 0, 1)
    return (255 * (1 - scaled)).astype(np.uint8)


def crop(array: np.ndarray, cx: float, cy: float, size: int, fill: int = WHITE) -> np.ndarray:
    """A ``size x size`` window centred on ``(cx, cy)`` (x = column), padded with ``fill`` at the borders."""
    half = size // 2
    x0, y0 = int(round(cx)) - half, int(round(cy)) - half
    out = np.full((size, size) + array.shape[2:], fill, dtype=array.dtype)
    ys, xs = slice(max(y0, 0), min(y0 + size, array.shape[0])), slice(max(x0, 0), min(x0 + size, array.shape[1]))
    if ys.start < ys.stop and xs.start < xs.stop:
        out[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0] = array[ys, xs]
    return out


def polygon_mask(shape: tuple[int, int], polygon: np.ndarray) -> np.ndarray:
    """Boolean mask of the pixels inside a polygon given as ``(k, 2)`` x, y vertices."""
    mask = np.zeros(shape, bool)
    if len(polygon) >= 3:
        rr, cc = draw_polygon(polygon[:, 1], polygon[:, 0], shape)
        mask[rr, cc] = True
    return mask


def _panel(array: np.ndarray, size: int) -> np.ndarray:
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    return (resize(array, (size, size), order=1, preserve_range=True, anti_aliasing=True)).astype(np.uint8)


def cell_tiles(image: np.ndarray, nucleus_masks: np.ndarray, cells, sections: list[np.ndarray],
               size: int = 96, quad_size: int = 224) -> dict[str, np.ndarray]:
    """Tiles of every cell.

    :param image: RGB uint8 ``(H, W, 3)``.
    :param nucleus_masks: label image ``(H, W)`` whose value at a cell's nucleus is ``cells.label``.
    :param cells: table with ``x``, ``y``, ``label``.
    :param sections: each cell's region polygon (empty: the cell does not reach the plane).
    :return: ``square`` and ``region`` ``(n, size, size, 3)``, ``quad`` ``(n, quad_size, quad_size, 3)``.
    """
    hema = haematoxylin(image)
    n, half = len(cells), quad_size // 2
    out = {"square": np.empty((n, size, size, 3), np.uint8), "region": np.empty((n, size, size, 3), np.uint8),
           "quad": np.empty((n, quad_size, quad_size, 3), np.uint8)}
    for k, (row, polygon) in enumerate(zip(cells.itertuples(index=False), sections)):
        square = crop(image, row.x, row.y, size)
        shifted = polygon - [round(row.x) - size // 2, round(row.y) - size // 2] if len(polygon) else polygon
        inside = polygon_mask((size, size), shifted)
        nucleus = crop(nucleus_masks, row.x, row.y, size, fill=0) == row.label
        region = np.where(inside[..., None], square, WHITE).astype(np.uint8)
        h = crop(hema, row.x, row.y, size)
        out["square"][k] = square
        out["region"][k] = region
        quad = out["quad"][k]
        quad[:half, :half] = _panel(region, half)
        quad[:half, half:] = _panel(np.where(nucleus[..., None], square, WHITE).astype(np.uint8), half)
        quad[half:, :half] = _panel(np.where(inside, h, WHITE).astype(np.uint8), half)
        quad[half:, half:] = _panel(np.where(nucleus, h, WHITE).astype(np.uint8), half)
    return out


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
    image = reconstruction.read_image()  # a slide patch's from its region, with its halo
    labels = nucleus_labels(reconstruction, image.shape[:2])
    tiles = cell_tiles(image, labels, reconstruction.cells, reconstruction.sections, settings.size, settings.quad_size)
    target = outdir / "tiles.npz"
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, cell_id=reconstruction.cells["cell_id"].to_numpy(), owned=reconstruction.owned,
                                **tiles)
    preview = write_png(outdir / "tiles_preview.png", montage(tiles["quad"], settings.preview))
    return [target, preview]
