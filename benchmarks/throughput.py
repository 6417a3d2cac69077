"""Cohort throughput: patches per minute by executor and worker count, on this machine.

Cuts the demo patches into 500 px crops (16 patches), then runs the whole
pipeline (segment, reconstruct, export json + table; no MLflow, no analyses)
with each executor, in one process, and reports patches per minute and the
overhead of Dask against the process pool.

    python benchmarks/throughput.py [--copies 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import common
import pandas as pd
from hydra import compose, initialize_config_module
from skimage import io

from cellframe.cli import register_configs
from cellframe.running.pipeline import run
from cellframe.registry import default_registry


def make_cohort(folder: Path, copies: int) -> Path:
    rows = []
    for patch in (1, 2):
        image = io.imread(common.DEMO / f"tcga_patch_{patch}.png")[..., :3]
        mask = io.imread(common.DEMO / f"tcga_patch_{patch}_nuclei_mask.png")
        for k in range(4):
            r0, c0 = 500 * (k // 2), 500 * (k % 2)
            for copy in range(copies):
                name = f"p{patch}_{k}_{copy}"
                io.imsave(folder / f"{name}.png", image[r0 : r0 + 500, c0 : c0 + 500], check_contrast=False)
                io.imsave(folder / f"{name}_mask.png", mask[r0 : r0 + 500, c0 : c0 + 500], check_contrast=False)
                rows.append({"sample_id": name, "image": f"{name}.png", "mask": f"{name}_mask.png"})
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)
    return folder / "manifest.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=2, help="copies of each of the 8 crops")
    args = parser.parse_args()
    registry = default_registry()
    register_configs(registry)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        manifest = make_cohort(tmp, args.copies)
        n = len(pd.read_csv(manifest))
        for name, workers in (("serial", 1), ("process", 1), ("process", 2), ("dask", 1), ("dask", 2)):
            with initialize_config_module("cellframe.conf", version_base=None):
                cfg = compose("config", overrides=[f"input.manifest={manifest}", f"executor.name={name}",
                                                   f"executor.workers={workers}", "mlflow.enabled=false",
                                                   "progress=false", "analysis=[]", "exporter=[json,table]",
                                                   "resume=false"])
            start = time.perf_counter()
            code = run(cfg, registry, tmp / f"out_{name}_{workers}")
            seconds = time.perf_counter() - start
            rows.append({"executor": name, "workers": workers, "patches": n, "seconds": seconds,
                         "patches_per_minute": 60 * n / seconds, "exit": code})
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    base = table.set_index(["executor", "workers"])["seconds"]
    lines = [f"{n} patches of 500 x 500 px, json + table exports, MLflow off; 2-core machine", "",
             "| executor | workers | seconds | patches / minute |", "|---|---|---|---|"]
    lines += [f"| {r.executor} | {r.workers} | {r.seconds:.1f} | {r.patches_per_minute:.0f} |" for r in table.itertuples()]
    lines += ["", f"dask overhead vs process pool: {base['dask', 1] / base['process', 1]:.2f}x (1 worker), "
              f"{base['dask', 2] / base['process', 2]:.2f}x (2 workers); process pool speed-up 1 -> 2 workers: "
              f"{base['process', 1] / base['process', 2]:.2f}x"]
    common.write_result("throughput.md", lines)


if __name__ == "__main__":
    main()
