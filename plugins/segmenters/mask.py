"""Segmenter ``mask``: nuclei from a mask file (binary masks are split into instances)."""

from __future__ import annotations

from dataclasses import dataclass

from cellframe import hookimpl
from cellframe.io.nuclei import check_radius, integer_labels, is_binary, nuclei_table, split_instances
from cellframe.stages import Stage, StageError


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
def cellframe_segment(image, mask, settings):
    if mask is None:
        raise StageError("segmenter 'mask' needs input.mask=IMAGE (or choose segmenter=hed_watershed)")
    labels = split_instances(mask, settings.min_distance) if is_binary(mask) else integer_labels(mask, "mask")
    table = nuclei_table(labels, settings.min_area, radius=settings.radius)
    table.attrs["labels"] = labels
    return table
