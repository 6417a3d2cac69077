"""What counting and filling the nuclei imported outlines leave out costs, as ratios to a reconstruction
without it, in one process on one core.

For each demo patch (its image and reference mask, as ``segmenter=mask`` reads them): the outlines'
check (``reconstruction.check_outlines``: a ``hed_watershed`` segmentation of the image and the
objects outside every outline) and the ``evidence`` reconstruction with and without those objects as
sites of the space filling (``reconstruction.fill_unlisted``). Runs are interleaved and repeated; the
best of each is kept. Writes ``results/outlines_check.md``.

    python benchmarks/outlines_check.py [--repeats 3]
"""

from __future__ import annotations

import time

import common  # one-core environment first
import numpy as np
from skimage import io

from cellframe.config import ModelConfig
from cellframe.model.reconstruct import reconstruct
from cellframe.registry import default_registry
from cellframe.running.pipeline import segment
from cellframe.running.unlisted import check_outlines


def main() -> None:
    n_repeats = common.repeats(__doc__)
    registry = default_registry()
    rows = []
    for patch in (1, 2):
        image = common.demo_image(patch)
        mask = io.imread(common.DEMO / f"tcga_patch_{patch}_nuclei_mask.png")
        nuclei, labels, _ = segment(registry, registry.stage("segmenter", "mask").schema(), image, mask)
        best = {"reconstruction": np.inf, "check": np.inf, "reconstruction, filled": np.inf}
        unlisted = None
        for _ in range(n_repeats):
            start = time.perf_counter()
            _, unlisted = check_outlines(registry, image, labels, len(nuclei), 0.25)
            best["check"] = min(best["check"], time.perf_counter() - start)
            for name, sites in (("reconstruction", None), ("reconstruction, filled", unlisted)):
                start = time.perf_counter()
                reconstruct(nuclei, registry=registry, model=ModelConfig(),
                            geometry=registry.stage("geometry", "sphere").schema(),
                            optimizer=registry.stage("optimizer", "pso").schema(),
                            objective=registry.stage("objective", "evidence").schema(),
                            image=image, mpp=0.25, rng=np.random.default_rng(0), unlisted=sites)
                best[name] = min(best[name], time.perf_counter() - start)
        for name, seconds in best.items():
            rows.append(f"| tcga_patch_{patch} ({len(nuclei)} nuclei, {len(unlisted)} left out) | {name} | "
                        f"{seconds:.2f} | {seconds / best['reconstruction']:.2f} |")
            print(rows[-1], flush=True)
    common.write_result("outlines_check.md", [
        f"The imported outlines' check and fill per demo patch, best of {n_repeats}, one core.", "",
        "| patch | step | seconds | x reconstruction |", "|---|---|---|---|", *rows])


if __name__ == "__main__":
    main()
