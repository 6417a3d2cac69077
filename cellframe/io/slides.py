"""Whole-slide input through OpenSlide: find tissue, cut it into patches, read them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cellframe.io.files import InputError


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
    #: the annotations the patch was chosen inside: ``input.annotations`` (a path) and ``input.annotation_class``
    annotations: tuple[str, str | None] | None = None

    def to_slide(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Patch positions (halo included) -> level-0 slide positions, both as pixel edges (pixel ``k``
        spans ``[k, k + 1)``, QuPath's convention): a linear map."""
        return (self.x0 + (np.asarray(x) - self.halo) * self.downsample,
                self.y0 + (np.asarray(y) - self.halo) * self.downsample)

    def centres_to_slide(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Patch pixel-centre coordinates (cellframe's: pixel ``k`` at ``k``) -> level-0 pixel-centre
        coordinates (:meth:`level_centres_to_slide` of :meth:`to_level`'s)."""
        if self.downsample == 1:
            return self.to_slide(x, y)
        return self.level_centres_to_slide(*self.to_level(x, y))

    def level_centres_to_slide(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel-centre coordinates at the read level -> level-0 pixel-centre coordinates. A pixel read
        from ``downsample`` level-0 pixels has its centre at theirs: half of ``downsample - 1`` on from
        the plain scaling."""
        ds = self.downsample
        if ds == 1:
            return x * ds, y * ds
        return (x + 0.5) * ds - 0.5, (y + 0.5) * ds - 0.5

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


#: the vendors' slide files OpenSlide reads (besides tiled TIFFs, which a plain image can be named too)
VENDOR_SUFFIXES = {".svs", ".ndpi", ".vms", ".vmu", ".scn", ".mrxs", ".svslide", ".bif", ".dcm"}


def open_slide(path: str | Path):
    import openslide

    try:
        return openslide.OpenSlide(str(path))
    except (openslide.OpenSlideError, openslide.OpenSlideUnsupportedFormatError) as exc:
        from cellframe.io.files import image_header

        suffix, hint = Path(path).suffix.lower(), ""
        if image_header(Path(path)) is not None and suffix not in VENDOR_SUFFIXES:
            hint = ("; it is a plain image (a TIFF OpenSlide reads is tiled): give it as input.image (up to "
                    "input.max_pixels), or tile it: `vips tiffsave IN OUT.tif --tile --pyramid --compression deflate`")
        elif suffix in VENDOR_SUFFIXES:
            hint = "; is the file whole (a copy cut short reads as no format at all)?"
        raise InputError(f"slide {path} cannot be read by OpenSlide ({type(exc).__name__}){hint}") from None


#: saturation of tissue at least (glass and white background are grey: below it)
SATURATION_FLOOR = 0.07


#: longest side of the thumbnail tissue is searched in, pixels
TISSUE_THUMBNAIL_PX = 2048


def tissue_mask(thumbnail: np.ndarray, floor: float = SATURATION_FLOOR) -> np.ndarray:
    """Tissue = saturated pixels (H&E is coloured, glass is grey/white).

    A fixed saturation floor, raised to Otsu's threshold only when the histogram's lower mode
    looks like glass (mean below the floor): on a slide that is all tissue Otsu would split the
    tissue itself into two classes.
    """
    from skimage.filters import threshold_otsu

    saturation = _saturation(thumbnail)
    if np.ptp(saturation) < 1e-3:
        return saturation > floor
    otsu = threshold_otsu(saturation)
    low = saturation[saturation <= otsu]
    glass = low.size > 0 and float(low.mean()) < floor
    return saturation > (max(otsu, floor) if glass else floor)


def _saturation(rgb: np.ndarray) -> np.ndarray:
    """HSV saturation, ``(max - min) / max`` over the channels (0 for black), as
    :func:`skimage.color.rgb2hsv` has it, without its three full-size float channels."""
    rgb = np.asarray(rgb)[..., :3]
    high, low = rgb.max(axis=2).astype(float), rgb.min(axis=2).astype(float)
    return np.divide(high - low, high, out=np.zeros_like(high), where=high > 0)


class AnnotationError(InputError):
    """An annotations file that cannot be used (``input.annotations``), as against the slide itself."""


def annotation_polygons(path: str | Path, class_name: str | None = None) -> list:
    """The polygons (shapely, level-0 pixel edges) of a QuPath GeoJSON's annotations.

    Annotations are features of ``objectType`` "annotation" (QuPath's legacy export: ``"id":
    "PathAnnotationObject"``) with a polygon geometry; ``class_name`` keeps only those of that
    classification (a derived class as ``Tumor: Positive``).
    """
    import json

    from shapely.geometry import shape as to_shape

    from cellframe.io.qupath import class_name as classification_name

    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise AnnotationError(f"annotations {path} are not readable JSON ({type(exc).__name__})") from None
    features = doc.get("features", []) if isinstance(doc, dict) else doc
    polygons = []
    for feature in features if isinstance(features, list) else []:
        if not isinstance(feature, dict) or not isinstance(feature.get("geometry"), dict):
            continue
        props = feature.get("properties") if isinstance(feature.get("properties"), dict) else {}
        kind = props.get("objectType") or ("annotation" if feature.get("id") == "PathAnnotationObject" else None)
        if kind != "annotation":
            continue
        if class_name is not None and classification_name(props.get("classification")) != class_name:
            continue
        try:
            geometry = to_shape(feature["geometry"])
        except Exception:
            raise AnnotationError(f"annotations {path}: an annotation has an unreadable geometry") from None
        polygons += [part for part in getattr(geometry, "geoms", [geometry]) if part.geom_type == "Polygon"]
    if not polygons:
        which = f" of class {class_name!r}" if class_name is not None else ""
        raise AnnotationError(f"annotations {path} hold no polygon annotation{which}")
    return polygons


def annotation_mask(polygons: list, shape: tuple[int, int], scale: tuple[float, float]) -> np.ndarray:
    """Where ``polygons`` (:func:`annotation_polygons`) cover a thumbnail of ``shape`` whose pixel is
    ``scale`` (x, y) level-0 pixels: filled, their holes left out."""
    from skimage.draw import polygon as fill

    mask = np.zeros(shape, bool)
    for part in polygons:
        for ring, value in [(part.exterior, True)] + [(hole, False) for hole in part.interiors]:
            xy = np.asarray(ring.coords)
            rr, cc = fill(xy[:, 1] / scale[1] - 0.5, xy[:, 0] / scale[0] - 0.5, shape)  # edges -> thumbnail centres
            mask[rr, cc] = value
    return mask


def slide_patches(path: str | Path, patch_size: int, mpp: float | None = None, min_tissue: float = 0.5,
                  max_patches: int | None = None, halo: int = 0, annotations: str | Path | None = None,
                  annotation_class: str | None = None) -> list[SlideRegion]:
    """Patches of ``patch_size`` pixels at ``mpp`` microns per pixel that hold enough tissue.

    Each patch is read from the pyramid level with the largest downsample not coarser than
    ``mpp`` and resampled to exactly ``mpp`` (:func:`read_region`), so nuclei have the size in
    pixels the rest of the run expects whatever the scanner's magnification.

    :param mpp: wanted microns per pixel; None or a slide without mpp: level 0, as it is.
    :param min_tissue: smallest share of tissue pixels in a patch.
    :param annotations: a QuPath GeoJSON of annotations on the slide: only tissue inside them counts
        (:func:`annotation_mask`; ``annotation_class``: only the annotations of that class).
    """
    path = Path(path)
    slide = open_slide(path)
    base = slide.properties.get("openslide.mpp-x")
    base = float(base) if base else None
    downsample = mpp / base if (mpp and base) else 1.0  # level-0 pixels per patch pixel
    level = slide.get_best_level_for_downsample(downsample * 1.0001) if (mpp and base) else 0
    width, height = (int(d / downsample) for d in slide.level_dimensions[0])
    # a thumbnail of bounded size, whatever the slide's smallest pyramid level: the tissue search's
    # memory does not grow with the slide
    thumb = np.asarray(slide.get_thumbnail((TISSUE_THUMBNAIL_PX, TISSUE_THUMBNAIL_PX)).convert("RGB"))
    mask = tissue_mask(thumb)
    full_w, full_h = slide.level_dimensions[0]
    if annotations is not None:
        mask &= annotation_mask(annotation_polygons(annotations, annotation_class), mask.shape,
                                (full_w / thumb.shape[1], full_h / thumb.shape[0]))
    scale_x, scale_y = full_w / thumb.shape[1] / downsample, full_h / thumb.shape[0] / downsample  # patch px per thumb px
    regions = []
    for top in range(0, height - patch_size + 1, patch_size):
        for left in range(0, width - patch_size + 1, patch_size):
            r0, r1 = int(top / scale_y), max(int((top + patch_size) / scale_y), int(top / scale_y) + 1)
            c0, c1 = int(left / scale_x), max(int((left + patch_size) / scale_x), int(left / scale_x) + 1)
            if mask[r0:r1, c0:c1].mean() >= min_tissue:
                regions.append(SlideRegion(path, int(round(left * downsample)), int(round(top * downsample)), level,
                                           patch_size, downsample, base * downsample if base else None, halo,
                                           None if annotations is None else (str(annotations), annotation_class)))
    slide.close()
    return regions[:max_patches] if max_patches else regions


def read_region(region: SlideRegion) -> np.ndarray:
    """The patch and its halo as RGB uint8 ``(size + 2 halo, size + 2 halo, 3)`` at the region's
    pixel size (read from its level and resampled when the level's pixels differ); beyond the slide is white."""
    slide = open_slide(region.slide)
    side = region.size + 2 * region.halo
    origin = (int(round(region.x0 - region.halo * region.downsample)),
              int(round(region.y0 - region.halo * region.downsample)))
    try:
        per_level = region.downsample / float(slide.level_downsamples[region.level])  # level px per patch px
        read = max(int(np.ceil(side * per_level - 1e-6)), 1)
        rgba = np.asarray(slide.read_region(origin, region.level, (read, read)))
    finally:
        slide.close()
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    rgb = rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)
    if read != side:
        from skimage.transform import resize

        rgb = resize(rgb, (side, side), order=1, anti_aliasing=read > side, preserve_range=True)
    return rgb.round().astype(np.uint8)
