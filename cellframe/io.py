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


def read_image(path: str | os.PathLike, what: str) -> np.ndarray:
    """Read an image file into an array, or raise :class:`InputError` naming it."""
    from skimage import io as skio

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} not found: {path}")
    try:
        return np.asarray(skio.imread(path))
    except Exception as exc:  # imageio raises many types for bad files
        raise InputError(f"{what} is not a readable image: {path} ({type(exc).__name__})") from None


def as_rgb(image: np.ndarray, path: str | os.PathLike) -> np.ndarray:
    """Greyscale and RGBA images become RGB uint8; anything else is an :class:`InputError`."""
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise InputError(f"image {path} has shape {image.shape}; expected (H, W), (H, W, 3) or (H, W, 4)")
    image = image[..., :3]
    if image.dtype != np.uint8:
        top = np.iinfo(image.dtype).max if np.issubdtype(image.dtype, np.integer) else 1.0
        image = np.clip(image / top * 255.0, 0, 255).astype(np.uint8)
    return image
