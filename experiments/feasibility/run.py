"""Depth needed by the demo patches' clusters of overlapping nuclei.

For each radius definition, every connected cluster of nuclei whose discs
overlap is checked: the smallest depth span that keeps its nuclei apart
(exact up to 8 nuclei, bounded above that), and so whether it fits in a
section of depth z_max.

    python experiments/feasibility/run.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from skimage import io

from cellframe.model.feasibility import component_feasibility
from cellframe.running.pipeline import segment
from cellframe.registry import default_registry
from cellframe.running.studies import study_config

HERE = Path(__file__).resolve().parent
DEMO = HERE.parent.parent / "data" / "tcga_brca"


def main() -> None:
    cfg = study_config(HERE)
    registry = default_registry()
    lines = ["| patch | radius | nuclei | clusters | largest | exact | needed depth: median / max (px) | "
             + " | ".join(f"infeasible at z_max={z} (undetermined)" for z in cfg.z_max) + " |",
             "|---|---|---|---|---|---|---|" + "---|" * len(cfg.z_max)]
    needs = {}
    for patch in cfg.patches:
        mask = io.imread(DEMO / f"tcga_patch_{patch}_nuclei_mask.png")
        for radius in cfg.radius:
            nuclei = segment(registry, registry.stage("segmenter", "mask").schema(radius=radius), None, mask)[0]
            report = component_feasibility(nuclei, z_max=max(cfg.z_max), seed=cfg.seed)
            needs[(patch, radius)] = report["needed_depth"].to_numpy()
            cells = []
            for z in cfg.z_max:
                lower, upper = report["needed_depth"], report["upper_bound"]
                cells.append(f"{int((lower > z).sum())} ({int(((lower <= z) & (upper > z)).sum())})")
            lines.append(f"| {patch} | {radius} | {len(nuclei)} | {len(report)} | {report['n_nuclei'].max()} | "
                         f"{int(report['exact'].sum())} | {np.median(report['needed_depth']):.1f} / "
                         f"{report['needed_depth'].max():.1f} | " + " | ".join(cells) + " |")
            print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    (HERE / "results.md").write_text(text)
    print(text)
    plot(needs, cfg, HERE / "needed_depth.png")


def plot(needs, cfg, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.4), dpi=110)
    for (patch, radius), values in needs.items():
        values = np.sort(values)
        ax.step(values, 1 - np.arange(len(values)) / len(values), where="post", label=f"patch {patch}, {radius}")
    for z in cfg.z_max:
        ax.axvline(z, color="grey", lw=0.6, ls=":")
    ax.set_xlabel("depth a cluster needs (px)")
    ax.set_ylabel("share of clusters needing more")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)


if __name__ == "__main__":
    main()
