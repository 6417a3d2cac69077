"""Reading inputs and writing outputs safely."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np


_UMASK = os.umask(0)
os.umask(_UMASK)


class InputError(Exception):
    """An input file is missing, unreadable or inconsistent (message names the file)."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only on success.

    Readers never see a half-written file, and an existing ``path`` survives a
    failed write untouched.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes it private; give it the usual permissions
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def child_path(root: str | os.PathLike, name: str) -> Path:
    """``root/name``, refused (InputError) when the name would lead anywhere but directly inside ``root``."""
    root = Path(root).resolve()
    path = (root / name).resolve()
    if path.parent != root or name in ("", ".", ".."):
        raise InputError(f"sample id {name!r} would write outside the run folder {root}")
    return path


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_png(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write an image array as PNG, atomically."""
    import imageio.v3 as iio

    with atomic_path(path) as tmp:
        iio.imwrite(tmp, image, extension=".png")
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def image_header(path: Path) -> tuple[tuple[int, int], str] | None:
    """``((width, height), mode)`` from the file's header, without decoding it (None if Pillow can't tell;
    mode: Pillow's, e.g. ``RGB``, ``CMYK``)."""
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # a header read decodes nothing: no bomb to guard against
    try:
        with Image.open(path) as handle:
            return handle.size, handle.mode
    except Exception:
        return None
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def read_image(path: str | os.PathLike, what: str, max_pixels: int | None = None) -> np.ndarray:
    """Read an image file into an array, or raise :class:`InputError` naming it.

    An image of more than ``max_pixels`` pixels is refused from its header, before it is decoded.
    """
    from skimage import io as skio

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} not found: {path}")
    if path.suffix.lower() == ".npy":
        return _read_npy(path, what, max_pixels)
    header = image_header(path)
    size, mode = header if header else (None, None)
    if max_pixels and size and size[0] * size[1] > max_pixels:
        raise InputError(f"{what} {path} is {size[0]} x {size[1]} px ({size[0] * size[1] / 1e6:.0f} Mpx), more than "
                         f"input.max_pixels={max_pixels}: cut it into patches, give it as input.slide, or raise "
                         f"input.max_pixels")
    try:
        if mode == "CMYK":  # a print-ready JPEG or TIFF: its four channels are ink, not RGBA
            from PIL import Image

            with Image.open(path) as handle:
                return np.asarray(handle.convert("RGB"))
        return np.asarray(skio.imread(path))
    except Exception as exc:  # imageio raises many types for bad files
        raise InputError(f"{what} is not a readable image: {path} ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0][:120] if str(exc) else ''})") from None


def _read_npy(path: Path, what: str, max_pixels: int | None) -> np.ndarray:
    """A NumPy array file: a plain array (``np.save``), or Cellpose's ``*_seg.npy`` (a pickled dict whose
    ``masks`` are the labels; only a file of that name is unpickled)."""
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError:  # an object array: pickled
        if not path.name.endswith("_seg.npy"):
            raise InputError(f"{what} {path} holds pickled data, not a plain array (a Cellpose file is named "
                             f"*_seg.npy)") from None
        try:
            data = np.load(path, allow_pickle=True).item()
            array = data["masks"]
        except Exception as exc:
            raise InputError(f"{what} {path} is not a Cellpose *_seg.npy with 'masks' ({type(exc).__name__})") from None
    except Exception as exc:
        raise InputError(f"{what} is not a readable NumPy array: {path} ({type(exc).__name__})") from None
    array = np.asarray(array)
    if array.ndim < 2:
        raise InputError(f"{what} {path} holds an array of shape {array.shape}, not an image")
    if max_pixels and array.shape[0] * array.shape[1] > max_pixels:
        raise InputError(f"{what} {path} is {array.shape[1]} x {array.shape[0]} px, more than "
                         f"input.max_pixels={max_pixels}: cut it into patches or raise input.max_pixels")
    return np.array(array)


def full_scale(dtype) -> float:
    """The value of full intensity in an image of ``dtype``: its largest integer, or 1.0 for floats."""
    return float(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else 1.0


def as_rgb(image: np.ndarray, path: str | os.PathLike) -> np.ndarray:
    """Greyscale and RGBA images become RGB uint8 (transparent pixels on white, as on glass); anything
    else is an :class:`InputError`."""
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise InputError(f"image {path} has shape {image.shape}; expected (H, W), (H, W, 3) or (H, W, 4)")
    top = full_scale(image.dtype)
    alpha = image[..., 3:] if image.shape[2] == 4 and image[..., 3].min() < top else None
    rgb = image[..., :3]
    if rgb.dtype != np.uint8 or alpha is not None:
        rgb = rgb / top * 255.0
        if alpha is not None:
            opacity = alpha / top
            rgb = rgb * opacity + 255.0 * (1.0 - opacity)
        rgb = np.clip(rgb, 0, 255).astype(np.uint8)
    return rgb


#: pixel sizes a microscope image can have, um: a resolution outside (72, 96 or 300 dpi: 353, 265, 85 um)
#: is an image editor's default, not a scan's
MICROSCOPE_MPP = (0.05, 5.0)


def recorded_mpp(path: str | os.PathLike) -> float | None:
    """The pixel size (um) an image file records: OME-TIFF's ``PhysicalSizeX``, else its resolution tags
    (TIFF, PNG's pHYs, JPEG's density); None where it records none a microscope could have."""
    import re

    from PIL import Image

    path = Path(path)
    mpp = None
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            with tifffile.TiffFile(path) as tif:
                found = re.search(r'PhysicalSizeX="([0-9.eE+-]+)"(?:[^>]*PhysicalSizeXUnit="([^"]+)")?',
                                  tif.ome_metadata or "")
            if found:
                scale = {"nm": 1e-3, "mm": 1e3, "cm": 1e4}.get(found.group(2) or "", 1.0)
                mpp = float(found.group(1)) * scale
        if mpp is None:
            with Image.open(path) as handle:
                dpi = handle.info.get("dpi")
            if dpi and float(dpi[0]) > 0:
                mpp = 25400.0 / float(dpi[0])
    except Exception:
        return None
    return mpp if mpp and MICROSCOPE_MPP[0] <= mpp <= MICROSCOPE_MPP[1] else None


def colourless(image: np.ndarray) -> bool:
    """Whether an RGB image is grey: its three channels equal everywhere."""
    return bool(np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 1], image[..., 2]))
