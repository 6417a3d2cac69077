"""Does each demo reference mask lie on its image? Block by block, the shift that best lays the mask on
the image's haematoxylin, and hed_watershed's object F1 where the mask lies where it should.

The stand-in for "where the nuclei are" is a plain threshold of the haematoxylin density (Otsu's), not
hed_watershed, so the shift found does not lean towards the segmenter being scored.

    python experiments/segmentation/registration.py
"""

import dataclasses
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi
from scipy.signal import correlate
from skimage import io
from skimage.filters import threshold_otsu

from cellframe.io.nuclei import split_instances
from cellframe.io.segmentation import haematoxylin_density
from cellframe.io.segmetrics import object_f1
from cellframe.registry import default_registry
from cellframe.running.pipeline import segment
from cellframe.running.studies import study_config

HERE = Path(__file__).resolve().parent
DEMO = HERE.parent.parent / "data" / "tcga_brca"
sys.path.insert(0, str(HERE))
from ceiling import half_ceiling  # noqa: E402


def best_shift(stain: np.ndarray, mask: np.ndarray, r0: int, c0: int, block: int, reach: int):
    """Dice of ``mask``'s block at ``(r0, c0)`` with ``stain`` unshifted, and the best Dice over shifts of
    up to ``reach`` px with its shift ``(dy, dx)``: where in the image the block's mask belongs."""
    ref = mask[r0 : r0 + block, c0 : c0 + block].astype(float)
    padded = np.pad(stain.astype(float), reach)
    around = padded[r0 : r0 + block + 2 * reach, c0 : c0 + block + 2 * reach]
    overlap = correlate(around, ref, mode="valid", method="fft")  # (2 reach + 1)^2 shifts
    stained = correlate(around, np.ones_like(ref), mode="valid", method="fft")
    dice = 2 * overlap / np.maximum(ref.sum() + stained, 1)
    k = np.unravel_index(np.argmax(dice), dice.shape)
    return float(dice[reach, reach]), float(dice[k]), (int(k[0]) - reach, int(k[1]) - reach)


def within(labels: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``labels`` with only the objects whose centre lies where ``keep`` is true."""
    present = np.unique(labels[labels > 0])
    if not len(present):
        return labels
    cy, cx = (np.round(ndi.mean(g, labels, present)).astype(int) for g in np.indices(labels.shape))
    ok = np.zeros(int(labels.max()) + 1, bool)
    ok[present] = keep[cy, cx]
    return np.where(ok[labels], labels, 0)


def main() -> None:
    cfg = study_config(HERE).registration
    registry = default_registry()
    settings = registry.stage("segmenter", "hed_watershed").schema()
    block, reach = int(cfg.block), int(cfg.max_shift)
    lines = [f"Each {block} px block of the reference mask against a plain Otsu threshold of the haematoxylin "
             f"density: Dice as it lies -> at the best shift within {reach} px (dy, dx). A block whose mask lies "
             f"on its image gains nothing from a shift.", ""]
    scores = ["", f"hed_watershed's object F1 (IoU 0.5) on the nuclei whose centres lie in blocks that need no shift "
              f"(at most {cfg.tolerance} px, both ways), against all:", "",
              "| patch | blocks that need no shift | reference nuclei there | F1 there | F1 on the whole patch "
              "| learnable there: random forest / hed_watershed (pixel Dice) |",
              "|---|---|---|---|---|---|"]
    placed = []
    for patch in cfg.patches:
        image = io.imread(DEMO / f"tcga_patch_{patch}.png")[..., :3]
        raw = io.imread(DEMO / f"tcga_patch_{patch}_nuclei_mask.png")
        mask = (raw[..., 0] if raw.ndim == 3 else raw) > 0
        density = haematoxylin_density(image, 1.0)
        stain = density > threshold_otsu(density)
        rows, aligned = [], np.zeros(mask.shape, bool)
        for r0 in range(0, mask.shape[0], block):
            cells = []
            for c0 in range(0, mask.shape[1], block):
                if mask[r0 : r0 + block, c0 : c0 + block].sum() < cfg.min_mask_px:
                    cells.append("(no mask)")
                    continue
                at, best, (dy, dx) = best_shift(stain, mask, r0, c0, block, reach)
                if max(abs(dy), abs(dx)) <= cfg.tolerance:
                    aligned[r0 : r0 + block, c0 : c0 + block] = True
                cells.append(f"{at:.2f} -> {best:.2f} ({dy:+d}, {dx:+d})")
            rows.append(f"| {r0} | " + " | ".join(cells) + " |")
        n_cols = len(range(0, mask.shape[1], block))
        lines += [f"Patch {patch}:", "", "| rows from | " + " | ".join(f"cols {c}" for c in range(0, mask.shape[1], block))
                  + " |", "|---" * (n_cols + 1) + "|", *rows, ""]
        reference = split_instances(raw if raw.ndim == 2 else raw[..., 0], cfg.reference_min_distance)
        _, labels, _ = segment(registry, settings, image, mpp=cfg.mpp)
        there = object_f1(within(reference, aligned), within(labels, aligned))
        whole = object_f1(reference, labels)
        rows_in, cols_in = np.flatnonzero(aligned.any(axis=1)), np.flatnonzero(aligned.any(axis=0))
        box = (slice(rows_in[0], rows_in[-1] + 1), slice(cols_in[0], cols_in[-1] + 1))
        learnable = "(not one rectangle)"
        if aligned[box].all():  # the same test as run.py's, on the blocks that need no shift
            forest, ours = half_ceiling(image, mask, labels, cfg.ceiling_samples, cfg.ceiling_trees, region=box)
            learnable = f"{forest:.3f} / {ours:.3f} (rows {box[0].start}-{box[0].stop}, cols {box[1].start}-{box[1].stop})"
        scores.append(f"| {patch} | {int(aligned[::block, ::block].sum())} of {aligned[::block, ::block].size} | "
                      f"{there['n_reference']} | {there['f1']:.3f} | {whole['f1']:.3f} | {learnable} |")
        placed.append((reference, aligned, image))
        print(patch, there, whole, flush=True)
    sweep = ["", "hed_watershed's settings one at a time (the others at their defaults): object F1 on the blocks of "
             "each patch that need no shift", "", "| setting | value | " + " | ".join(f"patch {p}" for p in cfg.patches)
             + " |", "|---|---|" + "---|" * len(cfg.patches)]
    for key, values in cfg.sweep.items():
        for value in values:
            stage = dataclasses.replace(settings, **{key: value})
            f1 = []
            for reference, aligned, image in placed:
                _, labels, _ = segment(registry, stage, image, mpp=cfg.mpp)
                f1.append(object_f1(within(reference, aligned), within(labels, aligned))["f1"])
            sweep.append(f"| {key} | {value} | " + " | ".join(f"{x:.3f}" for x in f1) + " |")
            print(sweep[-1], flush=True)
    text = "\n".join(lines + scores + sweep) + "\n"
    print(text)
    (HERE / "registration.md").write_text(text)


if __name__ == "__main__":
    main()
