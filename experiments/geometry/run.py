"""Sphere and ellipsoid cells against the 2D-only baselines, on the demo patches.

    python experiments/geometry/run.py
"""

import time
from pathlib import Path

import numpy as np
from skimage import io

from cellframe.config import ModelConfig
from cellframe.model.nc import shannon_entropy
from cellframe.running.pipeline import segment
from cellframe.model.reconstruct import reconstruct
from cellframe.registry import default_registry
from cellframe.running.studies import study_config

HERE = Path(__file__).resolve().parent
DEMO = HERE.parent.parent / "data" / "tcga_brca"

cfg = study_config(HERE)
registry = default_registry()
lines = ["| patch | geometry | interpenetrating pairs | cells reaching z=0 | mean sphericity | N/C entropy (area) | "
         "N/C entropy (volume) | seconds |", "|---|---|---|---|---|---|---|---|"]
for patch in cfg.patches:
    nuclei = segment(registry, registry.stage("segmenter", "mask").schema(), None,
                     io.imread(DEMO / f"tcga_patch_{patch}_nuclei_mask.png"))[0]
    for name in cfg.geometries:
        start = time.perf_counter()
        rec = reconstruct(nuclei, registry=registry, model=ModelConfig(), geometry=registry.stage("geometry", name).schema(),
                          optimizer=registry.stage("optimizer", "pso").schema(), rng=np.random.default_rng(cfg.seed))
        cells = rec.cells
        seconds = time.perf_counter() - start
        lines.append(f"| {patch} | {name} | {rec.n_violations} | {int((cells['section_area'] > 0).sum())} / {len(cells)} | "
                     f"{cells['sphericity'].mean():.3f} | {shannon_entropy(cells['nc_ratio_area']):.3f} | "
                     f"{shannon_entropy(cells['nc_ratio_volume']):.3f} | {seconds:.2f} |")
        print(lines[-1], flush=True)
text = "\n".join(lines) + "\n"
(HERE / "results.md").write_text(text)
print(text)
