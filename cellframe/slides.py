"""Whole-slide input through OpenSlide: find tissue, cut it into patches, read them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cellframe.io import InputError


@dataclass(frozen=True)
class SlideRegion:
    """One patch of a slide: where it is at level 0, and at which level it is read."""

    slide: Path
    x0: int
    y0: int
    level: int
    size: int
    downsample: float
    #: microns per pixel of the patch as read
    mpp: float | None
    #: context read around the patch on every side (pixels at the read level); cells whose
    #: centre lies in it belong to the neighbouring patch
    halo: int = 0

    def to_slide(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Patch pixel coordinates (halo included) -> level-0 slide coordinates."""
        return (self.x0 + (np.asarray(x) - self.halo) * self.downsample,
                self.y0 + (np.asarray(y) - self.halo) * self.downsample)

    def to_level(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Patch pixel coordinates -> slide coordinates at the read level."""
        return self.x0 / self.downsample + np.asarray(x) - self.halo, self.y0 / self.downsample + np.asarray(y) - self.halo

    def owns(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Cells whose centre lies in the patch itself, not in its halo."""
        x, y = np.asarray(x) - self.halo, np.asarray(y) - self.halo
        return (x >= 0) & (x < self.size) & (y >= 0) & (y < self.size)

    def describe(self) -> dict:
        return {"slide": str(self.slide), "slide_id": self.slide.stem, "x0": self.x0, "y0": self.y0,
                "level": self.level, "downsample": self.downsample, "mpp": self.mpp, "halo": self.halo}


def open_slide(path: str | Path):
    import openslide

    try:
        return openslide.OpenSlide(str(path))
    except (openslide.OpenSlideError, openslide.OpenSlideUnsupportedFormatError) as exc:
        raise InputError(f"slide {path} cannot be read by OpenSlide ({type(exc).__name__})") from None


def tissue_mask(thumbnail: np.ndarray) -> np.ndarray:
    """Tissue = saturated pixels (H&E is coloured, glass is grey/white); Otsu on the saturation."""
    from skimage.color import rgb2hsv
    from skimage.filters import threshold_otsu

    saturation = rgb2hsv(thumbnail[..., :3])[..., 1]
    if np.ptp(saturation) < 1e-3:
        return np.zeros(saturation.shape, bool)
    return saturation > max(threshold_otsu(saturation), 0.05)


def slide_patches(path: str | Path, patch_size: int, mpp: float | None = None, min_tissue: float = 0.5,
                  max_patches: int | None = None, halo: int = 0) -> list[SlideRegion]:
    """Patches of ``patch_size`` pixels at the level closest to ``mpp`` that hold enough tissue.

    :param mpp: wanted microns per pixel; None or a slide without mpp: level 0.
    :param min_tissue: smallest share of tissue pixels in a patch.
    """
    path = Path(path)
    slide = open_slide(path)
    base = slide.properties.get("openslide.mpp-x")
    base = float(base) if base else None
    level = slide.get_best_level_for_downsample(mpp / base) if (mpp and base) else 0
    downsample = float(slide.level_downsamples[level])
    width, height = slide.level_dimensions[level]
    thumb_level = slide.level_count - 1
    thumb = np.asarray(slide.read_region((0, 0), thumb_level, slide.level_dimensions[thumb_level]).convert("RGB"))
    mask = tissue_mask(thumb)
    scale = slide.level_downsamples[thumb_level] / downsample  # level px per thumbnail px
    regions = []
    for top in range(0, height - patch_size + 1, patch_size):
        for left in range(0, width - patch_size + 1, patch_size):
            r0, r1 = int(top / scale), max(int((top + patch_size) / scale), int(top / scale) + 1)
            c0, c1 = int(left / scale), max(int((left + patch_size) / scale), int(left / scale) + 1)
            if mask[r0:r1, c0:c1].mean() >= min_tissue:
                regions.append(SlideRegion(path, int(left * downsample), int(top * downsample), level, patch_size,
                                           downsample, base * downsample if base else None, halo))
    slide.close()
    return regions[:max_patches] if max_patches else regions


def read_region(region: SlideRegion) -> np.ndarray:
    """The patch and its halo as RGB uint8 ``(size + 2 halo, size + 2 halo, 3)``; beyond the slide is white."""
    slide = open_slide(region.slide)
    side = region.size + 2 * region.halo
    origin = (int(region.x0 - region.halo * region.downsample), int(region.y0 - region.halo * region.downsample))
    try:
        rgba = np.asarray(slide.read_region(origin, region.level, (side, side)))
    finally:
        slide.close()
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    return (rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)
