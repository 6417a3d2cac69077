"""How reconstruction cost grows with the number of nuclei (synthetic tiled patches).

Each size runs in its own subprocess so its peak memory is its own. The
synthetic patch tiles the nuclei of demo patch 2 side by side.

    python benchmarks/scale.py [--sizes 1000 10000 100000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import common


def measure(n: int, mode: str) -> dict:
    import numpy as np

    from cellframe.config import ModelConfig
    from cellframe.model.swarm import PSOSettings
    from cellframe.plugins.geometries.sphere import SphereSettings
    from cellframe.model.reconstruct import reconstruct
    from cellframe.registry import default_registry

    nuclei = common.tiled_nuclei(n)
    registry = default_registry()
    if mode == "default":
        geometry, optimizer = SphereSettings(), PSOSettings()
    else:  # the worst case: uniform start, every iteration run
        geometry, optimizer = SphereSettings(separate_init=False), PSOSettings(iterations=200, stop_at_zero=False)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    rec = reconstruct(nuclei, registry=registry, model=ModelConfig(), geometry=geometry, optimizer=optimizer,
                      rng=np.random.default_rng(0))
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    cells = rec.cells  # includes the 2D cell regions at the plane
    cells_seconds = time.perf_counter() - start
    return {
        "n": len(nuclei), "mode": mode, "seconds": seconds, "optimize_seconds": rec.timings["optimize_seconds"],
        "cells_seconds": cells_seconds, "iterations": len(rec.history) - 1, "searched": rec.optimizer["n_searched"],
        "violations": rec.n_violations, "rows": len(cells),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_mb": rss_before / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--child", nargs=2, metavar=("N", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(int(args.child[0]), args.child[1])))
        return
    rows = []
    for mode in ("default", "worst"):
        for n in args.sizes:
            out = subprocess.run([sys.executable, __file__, "--child", str(n), mode], capture_output=True, text=True,
                                 check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    lines = ["| nuclei | start / iterations | reconstruct s | of which optimizer s | iterations | nuclei searched "
             "| cell table + 2D regions s | interpenetrating pairs | peak RSS MB (process) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        label = "separated, stop at 0" if r["mode"] == "default" else "uniform, 200 iterations"
        lines.append(f"| {r['n']:,} | {label} | {r['seconds']:.2f} | {r['optimize_seconds']:.2f} | {r['iterations']} | "
                     f"{r['searched']:,} | {r['cells_seconds']:.2f} | {r['violations']} | {r['peak_rss_mb']:.0f} |")
    common.write_result("scale.md", lines)


if __name__ == "__main__":
    main()
