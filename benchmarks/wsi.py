"""A whole slide end to end: time against a floor, disk per patch, peak memory, and a projection.

Builds a pyramidal TIFF of ``grid x grid`` tissue patches (tiles of the demo
H&E patches, 0.25 um/px) and runs ``python -m cellframe +pipeline=wsi`` on it
(segment, reconstruct, export, merge, report), as a user would. The floor is
what any slide tool pays, in the same process: every patch read through
OpenSlide, colour deconvolution, a threshold and labelling. Peak memory is the
largest resident size of the run's processes. The projection scales time and
disk linearly to a 3,000-patch 40x TCGA slide.

    python benchmarks/wsi.py [--grid 8] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common
import numpy as np
from skimage import io


def write_slide(path: Path, grid: int, patch: int = 1000) -> Path:
    """A ``grid x grid`` patch slide of demo H&E tiles (mirrored in turn, so seams join), 3 levels."""
    import tifffile

    tiles = [io.imread(common.DEMO / f"tcga_patch_{k}.png")[..., :3] for k in (1, 2)]
    canvas = np.empty((grid * patch, grid * patch, 3), np.uint8)
    for i in range(grid):
        for j in range(grid):
            tile = tiles[(i + j) % 2]
            tile = tile[::-1] if i % 2 else tile
            canvas[i * patch : (i + 1) * patch, j * patch : (j + 1) * patch] = tile[:, ::-1] if j % 2 else tile
    with tifffile.TiffWriter(path, bigtiff=True) as tif:
        for level in range(3):
            step = 2**level
            res = 1e4 / (0.25 * step)
            tif.write(canvas[::step, ::step], tile=(256, 256), photometric="rgb", compression="zlib",
                      resolution=(res, res), resolutionunit="CENTIMETER", subfiletype=0 if level == 0 else 1)
    return path


def floor_seconds(path: Path, patch: int = 1000) -> float:
    """Read every patch through OpenSlide, deconvolve, threshold and label it."""
    import openslide
    from skimage.color import rgb2hed
    from skimage.filters import threshold_otsu
    from skimage.measure import label

    start = time.perf_counter()
    slide = openslide.OpenSlide(str(path))
    width, height = slide.level_dimensions[0]
    for y in range(0, height - patch + 1, patch):
        for x in range(0, width - patch + 1, patch):
            rgb = np.asarray(slide.read_region((x, y), 0, (patch, patch)).convert("RGB"))
            h = rgb2hed(rgb)[..., 0]
            label(h > threshold_otsu(h))
    slide.close()
    return time.perf_counter() - start


def peak_rss_mb(pid: int, stop) -> float:
    """Largest summed resident memory of a process and its children, sampled until ``stop()``."""
    import psutil

    peak = 0.0
    root = psutil.Process(pid)
    while not stop():
        try:
            procs = [root, *root.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in procs if p.is_running()) / 2**20)
        except psutil.Error:
            pass
        time.sleep(0.2)
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=int, default=8, help="patches per side (8: a 64-patch slide)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        slide = write_slide(tmp / "slide.tiff", args.grid)
        floor = floor_seconds(slide)
        out = tmp / "run"
        cmd = [sys.executable, "-m", "cellframe", "+pipeline=wsi", f"input.slide={slide}", "mlflow.enabled=false",
               "progress=false", f"executor.workers={args.workers}", f"hydra.run.dir={out}"]
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                env={**os.environ})
        import threading

        result = {}
        watcher = threading.Thread(target=lambda: result.setdefault("peak", peak_rss_mb(proc.pid, lambda: proc.poll() is not None)))
        watcher.start()
        _, err = proc.communicate()
        seconds = time.perf_counter() - start
        watcher.join()
        if proc.returncode:
            sys.exit(f"the run failed:\n{err[-3000:]}")
        patches = [p for p in out.iterdir() if p.is_dir() and p.name.startswith("slide_x")]
        n = len(patches)
        per_patch = sum(f.stat().st_size for p in patches for f in p.rglob("*") if f.is_file()) / n / 2**20
        state = sum(f.stat().st_size for p in patches for f in (p / "state").rglob("*") if f.is_file()) / n / 2**20
        total = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**20
    lines = [f"A {n}-patch slide (1000 x 1000 px patches at 0.25 um/px, tiles of the demo H&E), "
             f"`+pipeline=wsi` with {args.workers} workers on this machine (2 cores), MLflow off", "",
             "| measure | value |", "|---|---|",
             f"| floor (OpenSlide read + deconvolution + threshold + labelling, every patch) | {floor:.1f} s |",
             f"| cellframe, whole run (segment, reconstruct, export, merge, report) | {seconds:.1f} s |",
             f"| ratio to the floor | {seconds / floor:.1f}x |",
             f"| output per patch (folder, resume state included) | {per_patch:.2f} MB (state {state:.2f} MB) |",
             f"| output in all | {total:.1f} MB |",
             f"| peak memory of the run's processes | {result.get('peak', float('nan')):.0f} MB |",
             f"| projected for 3,000 patches | {seconds / n * 3000 / 3600:.1f} h, {per_patch * 3000 / 1024:.1f} GB |"]
    text = "\n".join(lines) + "\n"
    print(text)
    common.RESULTS.mkdir(exist_ok=True)
    (common.RESULTS / "wsi.md").write_text(text)


if __name__ == "__main__":
    main()
