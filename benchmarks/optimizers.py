"""Optimizer benchmark on the demo patches (issue: optimizers, three orders of magnitude faster).

Runs, in one process and on one core:

* a loop baseline that follows the paper's description literally: for every
  particle, build a KD-tree over the 3D centres, query the pairs within
  2 * max(R), loop over them in Python; timed over a few iterations;
* every optimizer plugin at the same swarm size and iteration count, on the
  whole patch (``decompose=false``) and per component (``decompose=true``),
  starting from uniform random depths so the search itself is measured.

Prints per optimizer: wall time per iteration, speed-up over the loop
baseline, final penalty terms, interpenetrating pairs, iterations to
feasibility; writes ``results/optimizers.md`` and ``results/convergence.png``.

    python benchmarks/optimizers.py [--iterations 200] [--swarm 50] [--baseline-iterations 3]
"""

from __future__ import annotations

import argparse
import time

import common  # noqa: F401  (one-core environment first)
import numpy as np
from scipy.spatial import cKDTree

from cellframe.config import ModelConfig
from cellframe.plugins.geometries.sphere import SphereSettings
from cellframe.model.reconstruct import reconstruct
from cellframe.registry import default_registry


def loop_objective(x, xy, r, model) -> float:
    """The paper's objective for one particle, as published: a KD-tree and Python loops."""
    n = len(r)
    z, R = x[:n], x[n:]
    total = 0.0
    for i in range(n):
        total += model.lambda_radius * (max(0.0, model.alpha * r[i] - R[i]) + max(0.0, R[i] - model.beta * r[i]))
        total += model.lambda_z * (max(0.0, -z[i]) + max(0.0, z[i] - model.z_max))
    centres = np.column_stack([xy, z])
    tree = cKDTree(centres)
    for i, j in tree.query_pairs(2.0 * R.max()):
        dist = float(np.sqrt(np.sum((centres[i] - centres[j]) ** 2)))
        total += model.lambda_overlap * max(0.0, (r[i] + r[j]) - dist)
    return total


def loop_baseline(nuclei, model, swarm: int, iterations: int, rng) -> float:
    """Seconds per iteration of a PSO whose objective is :func:`loop_objective`."""
    xy = nuclei[["x", "y"]].to_numpy(float)
    r = nuclei["r"].to_numpy(float)
    n = len(r)
    lower = np.concatenate([np.zeros(n), model.alpha * r])
    upper = np.concatenate([np.full(n, model.z_max), model.beta * r])
    X = rng.uniform(lower, upper, (swarm, 2 * n))
    V = np.zeros_like(X)
    best_X, best_F = X.copy(), np.array([loop_objective(x, xy, r, model) for x in X])
    start = time.perf_counter()
    for _ in range(iterations):
        g = best_X[best_F.argmin()]
        V = 0.9 * V + 2.5 * rng.random(X.shape) * (best_X - X) + 1.0 * rng.random(X.shape) * (g - X)
        X = np.clip(X + V, lower, upper)
        F = np.array([loop_objective(x, xy, r, model) for x in X])
        better = F < best_F
        best_X[better], best_F[better] = X[better], F[better]
    return (time.perf_counter() - start) / iterations


def settings_for(registry, name: str, swarm: int, iterations: int, decompose: bool):
    schema = registry.stage("optimizer", name).schema
    if name == "deap_ga":
        return schema(population=swarm, generations=iterations, decompose=decompose, stop_at_zero=False)
    if name == "pyswarms":
        return schema(swarm_size=swarm, iterations=iterations, decompose=decompose)
    return schema(swarm_size=swarm, iterations=iterations, decompose=decompose, stop_at_zero=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--swarm", type=int, default=50)
    parser.add_argument("--baseline-iterations", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    registry = default_registry()
    model = ModelConfig()
    names = ["pso", "pso_ga", "deap_ga", "pyswarms"]
    lines = [f"swarm {args.swarm}, {args.iterations} iterations, one core, uniform random starting depths", ""]
    curves = {}
    for patch in (1, 2):
        nuclei = common.demo_nuclei(patch)
        base = loop_baseline(nuclei, model, args.swarm, args.baseline_iterations, np.random.default_rng(args.seed))
        lines += [f"### tcga_patch_{patch}: {len(nuclei)} nuclei", "",
                  f"loop baseline (paper, per-particle KD-tree + Python loops): {base:.3f} s per iteration "
                  f"({base * args.iterations:.0f} s for {args.iterations} iterations)", "",
                  "| optimizer | decompose | s / iteration | speed-up | total s | penalty radius | penalty z "
                  "| penalty overlap | interpenetrating pairs | iterations to feasible |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for name in names:
            for decompose in (False, True):
                opt = settings_for(registry, name, args.swarm, args.iterations, decompose)
                start = time.perf_counter()
                rec = reconstruct(nuclei, registry=registry, model=model, geometry=SphereSettings(separate_init=False),
                                  optimizer=opt, rng=np.random.default_rng(args.seed))
                seconds = time.perf_counter() - start
                per_iter = rec.timings["optimize_seconds"] / args.iterations
                zero = np.flatnonzero(rec.history == 0.0)
                feasible_at = str(int(zero[0])) if len(zero) else "never"
                p = rec.penalties
                lines.append(f"| {name} | {decompose} | {per_iter:.2e} | {base / per_iter:,.0f}x | {seconds:.2f} | "
                             f"{p['radius']:.3g} | {p['z']:.3g} | {p['overlap']:.3g} | {rec.n_violations} | {feasible_at} |")
                if not decompose:
                    curves[(patch, name)] = rec.history
                print(lines[-1], flush=True)
        lines.append("")
    lines += hard_case(registry, model, args)
    common.write_result("optimizers.md", lines)
    plot(curves, common.RESULTS / "convergence.png")


def hard_case(registry, model, args, seeds=range(10)) -> list[str]:
    """Enclosing-circle radii: bigger clusters, some needing more depth than z_max.

    Compares final penalties at equal evaluation budget (swarm x iterations),
    averaged over seeds; infeasible clusters keep a positive penalty for everyone.
    """
    from cellframe.model.problem import Problem

    lines = ["### equal-budget comparison on hard clusters (enclosing-circle radii, decompose=true)", "",
             f"mean over {len(seeds)} seeds; swarm {args.swarm} x {args.iterations} iterations for every optimizer",
             "", "| patch | start | optimizer | final fitness (mean ± sd) | interpenetrating pairs | in feasible clusters | evaluations |",
             "|---|---|---|---|---|---|---|"]
    for patch in (1, 2):
        nuclei = common.demo_nuclei(patch, radius="enclosing")
        for separate in (False, True):
            for name in ("pso", "pso_ga", "deap_ga"):
                fit, viol, viol_feasible, evals = [], [], [], []
                for seed in seeds:
                    opt = settings_for(registry, name, args.swarm, args.iterations, True)
                    rec = reconstruct(nuclei, registry=registry, model=model,
                                      geometry=SphereSettings(separate_init=separate), optimizer=opt,
                                      rng=np.random.default_rng(seed))
                    fit.append(Problem(rec.geometry, decompose=False).total(rec.x)[0])
                    viol.append(rec.n_violations)
                    viol_feasible.append(rec.feasibility_summary()["n_violations_feasible"])
                    evals.append(rec.optimizer["evaluations"])
                lines.append(f"| {patch} | {'separated' if separate else 'uniform'} | {name} | {np.mean(fit):,.0f} ± {np.std(fit):,.0f} | "
                             f"{np.mean(viol):.1f} | {np.mean(viol_feasible):.1f} | {int(np.mean(evals)):,} |")
                print(lines[-1], flush=True)
    return lines + [""]


def plot(curves, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), dpi=110, sharey=True)
    for ax, patch in zip(axes, (1, 2)):
        for (p, name), history in curves.items():
            if p == patch:
                ax.plot(np.arange(len(history)), np.maximum(history, 1e-3), label=name, lw=1.4)
        ax.set_yscale("log")
        ax.set_title(f"tcga_patch_{patch}: whole patch, uniform start")
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("best fitness (0 shown as 1e-3)")
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(path)


if __name__ == "__main__":
    main()
