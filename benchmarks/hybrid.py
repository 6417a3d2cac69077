"""Is the PSO-GA hybrid no worse than PSO at an equal evaluation budget? A paired comparison.

Both optimizers run on the same seeds (swarm 50 x 200 iterations, the same
evaluations) on the demo patches with enclosing-circle radii, where clusters are
hard (some infeasible); the table gives the mean final fitness of each, the
mean paired difference with its standard error, and how often each won.

    python benchmarks/hybrid.py [--seeds 30]
"""

from __future__ import annotations

import argparse

import common
import numpy as np

from cellframe.config import ModelConfig
from cellframe.model.swarm import PSOSettings
from cellframe.plugins.optimizers.pso_ga import PSOGASettings
from cellframe.plugins.geometries.sphere import SphereSettings
from cellframe.model.problem import Problem
from cellframe.model.reconstruct import reconstruct
from cellframe.registry import default_registry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=30)
    args = parser.parse_args()
    registry, model = default_registry(), ModelConfig()
    optimizers = (PSOSettings(iterations=200, stop_at_zero=False), PSOGASettings(iterations=200, stop_at_zero=False))
    lines = [f"paired over {args.seeds} seeds, swarm 50 x 200 iterations, enclosing-circle radii; fitness in millions", "",
             "| patch | start | pso | pso_ga | pso_ga - pso (± s.e.) | pso_ga better / worse |", "|---|---|---|---|---|---|"]
    for patch in (1, 2):
        nuclei = common.demo_nuclei(patch, radius="enclosing")
        for separate in (False, True):
            fitness = np.array([[Problem((rec := reconstruct(nuclei, registry=registry, model=model,
                                                             geometry=SphereSettings(separate_init=separate), optimizer=opt,
                                                             rng=np.random.default_rng(seed))).geometry,
                                         decompose=False).total(rec.x)[0] / 1e6 for opt in optimizers]
                                for seed in range(args.seeds)])
            diff = fitness[:, 1] - fitness[:, 0]
            lines.append(f"| {patch} | {'separated' if separate else 'uniform'} | {fitness[:, 0].mean():.2f} | "
                         f"{fitness[:, 1].mean():.2f} | {diff.mean():+.2f} ± {diff.std(ddof=1) / np.sqrt(len(diff)):.2f} | "
                         f"{(diff < 0).sum()} / {(diff > 0).sum()} |")
            print(lines[-1], flush=True)
    common.write_result("hybrid.md", lines)


if __name__ == "__main__":
    main()
