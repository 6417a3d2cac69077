"""Segmenter ``mask``: nuclei from a mask file (binary masks are split into instances)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from cellframe import hookimpl
from cellframe.io.nuclei import check_radius, integer_labels, is_binary, nuclei_table, split_instances
from cellframe.io.segmentation import drawn_inverted
from cellframe.stages import Stage, StageError

log = logging.getLogger(__name__)


@dataclass
class MaskSettings:
    name: str = "mask"
    #: minimum distance in pixels between the centres of two touching nuclei (watershed seeds)
    min_distance: int = 9
    #: nuclei smaller than this many pixels are dropped
    min_area: float = 20.0
    #: nuclear radius: "equivalent" (circle of the same area) or "enclosing" (farthest pixel from the centroid)
    radius: str = "equivalent"

    def __post_init__(self) -> None:
        if self.min_distance < 1:
            raise ValueError(f"min_distance={self.min_distance} must be >= 1")
        if not self.min_area >= 0:
            raise ValueError(f"min_area={self.min_area} must be >= 0")
        check_radius(self.radius)


@hookimpl
def cellframe_stages():
    return [Stage("segmenter", "mask", MaskSettings, "nuclei from a binary or labelled mask (watershed split)",
                  needs_mask=True)]


@hookimpl
def cellframe_segment(image, mask, mask_path, settings):
    if mask is None:
        raise StageError("segmenter 'mask' needs input.mask=IMAGE (or choose segmenter=hed_watershed)")
    if is_binary(mask) and image is not None:
        inverted, inside, outside = drawn_inverted(mask, image)
        if inverted:
            log.warning("mask %s: its non-zero pixels are paler in haematoxylin than the rest (mean density %.3f "
                        "against %.3f), as nuclei drawn black on white: inverted", mask_path or "", inside, outside)
            mask = mask == 0
    labels = split_instances(mask, settings.min_distance) if is_binary(mask) else integer_labels(mask, "mask")
    table = nuclei_table(labels, settings.min_area, radius=settings.radius)
    table.attrs["labels"] = labels
    return table
