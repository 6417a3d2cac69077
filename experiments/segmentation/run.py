"""hed_watershed against the demo patches' nuclei masks and simulated sections' (cellframe's simulator and the
second renderer), with and without its second pass for pale nuclei: pixel Dice, object F1 at IoU 0.5, AJI; and how
learnable each reference mask is from its own pixels (a pixel classifier trained on one half of the
patch, scored on the other half, beside hed_watershed on that half).

    python experiments/segmentation/run.py
"""

import dataclasses
import sys
import tempfile
from pathlib import Path

import numpy as np
from skimage import io, segmentation

from cellframe.io.nuclei import split_instances
from cellframe.io.segmetrics import aggregated_jaccard, object_f1, pixel_dice
from cellframe.registry import default_registry
from cellframe.running.pipeline import rejected_counts, segment
from cellframe.running.studies import study_config

HERE = Path(__file__).resolve().parent
DEMO = HERE.parent.parent / "data" / "tcga_brca"
sys.path.insert(0, str(HERE.parent))
from truth_runs import simulate  # noqa: E402
from ceiling import half_ceiling  # noqa: E402

cfg = study_config(HERE)
registry = default_registry()
settings = registry.stage("segmenter", "hed_watershed").schema()
first_pass_only = dataclasses.replace(settings, pale_threshold_scale=None)
header = ["| {what} | reference nuclei | found | of them pale (second pass) | rejected as not nuclei | pixel Dice "
          "| object precision | object recall | object F1 (IoU 0.5) | AJI |", "|---|---|---|---|---|---|---|---|---|---|"]


def scored(name: str, image: np.ndarray, reference: np.ndarray, mpp: float, stage) -> tuple[str, np.ndarray]:
    """One table row of ``stage``'s labels against ``reference``, and the labels."""
    _, labels, counts = segment(registry, stage, image, mpp=mpp)
    rejected = sum(rejected_counts(counts).values())
    f1 = object_f1(reference, labels)
    return (f"| {name} | {f1['n_reference']} | {f1['n_predicted']} | {counts.get('segment_pale', 0)} | {rejected} | "
            f"{pixel_dice(reference, labels):.3f} | {f1['precision']:.3f} | {f1['recall']:.3f} | {f1['f1']:.3f} | "
            f"{aggregated_jaccard(reference, labels):.3f} |"), labels


lines = [header[0].format(what="patch"), header[1]]
panels = []
for patch in cfg.patches:
    image = io.imread(DEMO / f"tcga_patch_{patch}.png")[..., :3]
    reference = split_instances(io.imread(DEMO / f"tcga_patch_{patch}_nuclei_mask.png"), cfg.reference_min_distance)
    for stage, what in ((settings, ""), (first_pass_only, ", first pass only")):
        row, labels = scored(f"{patch}{what}", image, reference, cfg.mpp, stage)
        lines.append(row)
        print(row, flush=True)
        if stage is settings:
            crop = (slice(300, 600), slice(300, 600))
            both = segmentation.mark_boundaries(image[crop], reference[crop], color=(0, 1, 0))
            panels.append(segmentation.mark_boundaries(both, labels[crop], color=(1, 1, 0)))

# simulated sections: every nucleus that reaches into the section is in the reference, caps included
simulated = ["", "On simulated sections (known masks: every visible profile, shallow caps included):", "",
             header[0].format(what="section"), header[1]]
with tempfile.TemporaryDirectory() as tmpdir:
    for scenario, spec in cfg.simulated.items():
        for seed in cfg.simulated_seeds:
            folder = simulate(Path(tmpdir) / f"{scenario}_{seed}", seed, dict(spec), Path(tmpdir))
            image = io.imread(next(folder.glob("image.*")))[..., :3]
            reference = io.imread(folder / "mask.png").astype(np.int32)
            mpp = float(spec.get("mpp", cfg.mpp))
            for stage, what in ((settings, ""), (first_pass_only, ", first pass only")):
                row, _ = scored(f"{scenario} seed {seed}{what}", image, reference, mpp, stage)
                simulated.append(row)
                print(row, flush=True)
lines += simulated


ceiling = ["", "How learnable is each reference from its own pixels? A random forest trained on the left half of the "
           "patch, pixel Dice on the right half:", "",
           "| patch | random forest | hed_watershed (same half) |", "|---|---|---|"]
for patch in cfg.patches:
    image = io.imread(DEMO / f"tcga_patch_{patch}.png")[..., :3]
    reference = io.imread(DEMO / f"tcga_patch_{patch}_nuclei_mask.png")
    _, labels, _ = segment(registry, settings, image, mpp=cfg.mpp)
    forest, ours = half_ceiling(image, reference, labels, cfg.ceiling_samples, cfg.ceiling_trees)
    ceiling.append(f"| {patch} | {forest:.3f} | {ours:.3f} |")
lines += ceiling
text = "\n".join(lines) + "\n\nOverlay (green: reference, yellow: hed_watershed) in `overlay.png`.\n"
print(text)
(HERE / "results.md").write_text(text)
io.imsave(HERE / "overlay.png", (np.concatenate(panels, axis=1) * 255).astype(np.uint8))
