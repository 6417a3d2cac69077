"""hed_watershed against the demo patches' nuclei masks: pixel Dice, object F1 at IoU 0.5, AJI.

    python experiments/segmentation/run.py
"""

from pathlib import Path

import numpy as np
from skimage import io, segmentation

from cellframe.io.nuclei import split_instances
from cellframe.io.segmetrics import aggregated_jaccard, object_f1, pixel_dice
from cellframe.registry import default_registry
from cellframe.running.pipeline import segment
from cellframe.running.studies import study_config

HERE = Path(__file__).resolve().parent
DEMO = HERE.parent.parent / "data" / "tcga_brca"

cfg = study_config(HERE)
registry = default_registry()
settings = registry.stage("segmenter", "hed_watershed").schema()
lines = ["| patch | reference nuclei | found | rejected as not nuclei | pixel Dice | object precision | object recall "
         "| object F1 (IoU 0.5) | AJI |", "|---|---|---|---|---|---|---|---|---|"]
panels = []
for patch in cfg.patches:
    image = io.imread(DEMO / f"tcga_patch_{patch}.png")[..., :3]
    reference = split_instances(io.imread(DEMO / f"tcga_patch_{patch}_nuclei_mask.png"), cfg.reference_min_distance)
    _, labels, counts = segment(registry, settings, image, mpp=cfg.mpp)
    rejected = sum(v for k, v in counts.items() if k != "segment_kept")
    f1 = object_f1(reference, labels)
    lines.append(f"| {patch} | {f1['n_reference']} | {f1['n_predicted']} | {rejected} | {pixel_dice(reference, labels):.3f} | "
                 f"{f1['precision']:.3f} | {f1['recall']:.3f} | {f1['f1']:.3f} | {aggregated_jaccard(reference, labels):.3f} |")
    crop = (slice(300, 600), slice(300, 600))
    both = segmentation.mark_boundaries(image[crop], reference[crop], color=(0, 1, 0))
    panels.append(segmentation.mark_boundaries(both, labels[crop], color=(1, 1, 0)))
text = "\n".join(lines) + "\n\nOverlay (green: reference, yellow: hed_watershed) in `overlay.png`.\n"
print(text)
(HERE / "results.md").write_text(text)
io.imsave(HERE / "overlay.png", (np.concatenate(panels, axis=1) * 255).astype(np.uint8))
