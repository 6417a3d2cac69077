"""HistomicsTK's weight-free nuclei detection against the demo masks, beside ``hed_watershed``: the best
object F1 (IoU 0.5) over a grid of its settings, chosen on each patch itself (so optimistic for it).
HistomicsTK is not a dependency of cellframe (its wheel pulls in large_image and GDAL); install it where
it builds, then

    python experiments/segmentation/histomicstk_compare.py
"""

import itertools
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi
from skimage import io

from cellframe.io.nuclei import split_instances
from cellframe.io.segmetrics import object_f1
from cellframe.registry import default_registry
from cellframe.running.pipeline import segment
from cellframe.running.studies import study_config

HERE = Path(__file__).resolve().parent
DEMO = HERE.parent.parent / "data" / "tcga_brca"


def histomicstk_labels(rgb: np.ndarray, threshold: float, radius: tuple[int, int], search: int, min_area: int):
    """Nuclei labels by HistomicsTK's detection pipeline (as in its nuclei segmentation tutorial)."""
    import histomicstk as htk

    deconvolution = htk.preprocessing.color_deconvolution
    stains = np.array([deconvolution.stain_color_map[s] for s in ("hematoxylin", "eosin", "null")]).T
    nuclei = deconvolution.color_deconvolution(rgb, stains).Stains[..., 0].astype(float)
    foreground = ndi.binary_fill_holes(nuclei < threshold)
    blobs, _ = htk.filters.shape.cdog(nuclei, foreground, sigma_min=radius[0] * np.sqrt(2),
                                      sigma_max=radius[1] * np.sqrt(2))
    labels, _, _ = htk.segmentation.nuclear.max_clustering(blobs, foreground, search)
    return htk.segmentation.label.area_open(labels, min_area).astype(int)


cfg = study_config(HERE)
grid = cfg.histomicstk
registry = default_registry()
settings = registry.stage("segmenter", "hed_watershed").schema()
lines = ["| patch | hed_watershed F1 | HistomicsTK best F1 (threshold, radii px, search px) | HistomicsTK tutorial setting F1 |",
         "|---|---|---|---|"]
for patch in cfg.patches:
    rgb = io.imread(DEMO / f"tcga_patch_{patch}.png")[..., :3]
    reference = split_instances(io.imread(DEMO / f"tcga_patch_{patch}_nuclei_mask.png"), cfg.reference_min_distance)
    ours = object_f1(reference, segment(registry, settings, rgb, mpp=cfg.mpp)[1])["f1"]
    scores = {}
    for threshold, radius, search in itertools.product(grid.foreground_threshold, grid.radius_px,
                                                       grid.local_max_search_radius):
        labels = histomicstk_labels(rgb, threshold, tuple(radius), search, grid.min_nucleus_area)
        scores[(threshold, tuple(radius), search)] = object_f1(reference, labels)["f1"]
    best = max(scores, key=scores.get)
    tutorial = scores.get((60, (10, 15), 10), float("nan"))
    lines.append(f"| {patch} | {ours:.3f} | {scores[best]:.3f} ({best[0]}, {best[1][0]}-{best[1][1]}, {best[2]}) | {tutorial:.3f} |")
    print(lines[-1], flush=True)
text = "\n".join(lines) + "\n"
(HERE / "histomicstk.md").write_text(text)
print(text)
