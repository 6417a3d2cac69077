"""What the ``evidence`` objective's options cost, as ratios to its defaults, in one process on one core.

For each demo patch (its image and reference mask), a whole reconstruction (segmentation excepted)
with the default settings and with each option changed: the fitted stain response
(``stain_response=null``), the tissue in depth as columns (``tissue_in_depth=columns``), nuclei taken as
spheres (``depth_axis_sd=0``: no shapes to marginalise, as before they were drawn). Runs are
interleaved and repeated; the best of each is kept. Writes ``results/evidence_options.md``.

    python benchmarks/evidence_options.py [--repeats 3]
"""

from __future__ import annotations

import time

import common  # one-core environment first
import numpy as np

from cellframe.config import ModelConfig
from cellframe.model.reconstruct import reconstruct
from cellframe.registry import default_registry

OPTIONS = {"default": {}, "stain_response=null": {"stain_response": None},
           "tissue_in_depth=columns": {"tissue_in_depth": "columns"}, "depth_axis_sd=0": {"depth_axis_sd": 0.0}}


def main() -> None:
    n_repeats = common.repeats(__doc__)
    registry = default_registry()
    rows = []
    for patch in (1, 2):
        image = common.demo_image(patch)
        nuclei = common.demo_nuclei(patch)
        best = {name: np.inf for name in OPTIONS}
        for _ in range(n_repeats):
            for name, options in OPTIONS.items():
                start = time.perf_counter()
                reconstruct(nuclei, registry=registry, model=ModelConfig(),
                            geometry=registry.stage("geometry", "sphere").schema(),
                            optimizer=registry.stage("optimizer", "pso").schema(),
                            objective=registry.stage("objective", "evidence").schema(**options),
                            image=image, mpp=0.25, rng=np.random.default_rng(0))
                best[name] = min(best[name], time.perf_counter() - start)
        for name in OPTIONS:
            rows.append(f"| tcga_patch_{patch} ({len(nuclei)} nuclei) | {name} | {best[name]:.2f} | "
                        f"{best[name] / best['default']:.2f} |")
            print(rows[-1], flush=True)
    text = ("Reconstruction (objective=evidence, default PSO) per demo patch, best of "
            f"{n_repeats}, one core.\n\n| patch | option | seconds | x default |\n|---|---|---|---|\n"
            + "\n".join(rows) + "\n")
    (common.RESULTS / "evidence_options.md").write_text(text)


if __name__ == "__main__":
    main()
