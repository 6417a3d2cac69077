"""A whole slide end to end: time against a floor, disk per patch, peak memory, and a projection.

Builds a pyramidal TIFF of ``grid x grid`` tissue patches (tiles of the demo
H&E patches, 0.25 um/px) and runs ``python -m cellframe +pipeline=wsi`` on it
(segment, reconstruct, export, merge, report), as a user would. The floor is
what any slide tool pays, in the same process: every patch read through
OpenSlide, colour deconvolution, a threshold and labelling (the median of three
passes: one drifts by 15 % between runs here). Peak memory is the
largest resident size of the driver, and of all the run's processes; a second,
smaller slide says how much the driver's grows per patch. The projection scales
time, disk and that growth linearly to a 3,000-patch 40x TCGA slide.

    python benchmarks/wsi.py [--grid 8] [--small 4] [--workers 2] [KEY=VALUE ...]
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


def floor_seconds(path: Path, patch: int = 1000, repeats: int = 3) -> float:
    """Read every patch through OpenSlide, deconvolve, threshold and label it: the median of ``repeats``
    passes (one pass drifts by 15 % between runs on this machine)."""
    return float(np.median([_floor_pass(path, patch) for _ in range(repeats)]))


def _floor_pass(path: Path, patch: int) -> float:
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


def peak_rss_mb(pid: int, stop) -> tuple[float, float]:
    """Largest resident memory of the driver process alone and summed with its workers, sampled
    until ``stop()``."""
    import psutil

    driver = everything = 0.0
    root = psutil.Process(pid)
    while not stop():
        try:
            procs = [root, *root.children(recursive=True)]
            driver = max(driver, root.memory_info().rss / 2**20)
            everything = max(everything, sum(p.memory_info().rss for p in procs if p.is_running()) / 2**20)
        except psutil.Error:
            pass
        time.sleep(0.2)
    return driver, everything


def phases(log: Path, wall0: float, seconds: float) -> dict[str, float]:
    """Seconds of each phase of a run, from its log's timestamps: the patches (start-up included),
    the slide merge (seams, tables, GeoJSON), each analysis."""
    import datetime
    import re

    marks = []
    for line in log.read_text().splitlines():
        found = re.match(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]", line)
        if not found:
            continue
        when = datetime.datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp() - wall0
        if " nuclei, " in line:
            marks.append(("patches", when))
        elif "] - slide " in line:
            marks.append(("merge", when))
        elif "] - analysis " in line:
            marks.append((line.split("] - analysis ")[1].split(":")[0], when))
    ends = {}
    for name, when in marks:
        ends[name] = when  # the last line of each phase
    out, previous = {}, 0.0
    for name, when in sorted(ends.items(), key=lambda kv: kv[1]):
        out[name], previous = when - previous, when
    out["exit"] = seconds - previous
    return out


def run_slide(tmp: Path, grid: int, workers: int, overrides: tuple[str, ...] = ()) -> dict:
    """One ``+pipeline=wsi`` run on a ``grid x grid`` slide: seconds, floor, disk and memory."""
    import threading

    slide = write_slide(tmp / f"slide_{grid}.tiff", grid)
    floor = floor_seconds(slide)
    out = tmp / f"run_{grid}"
    cmd = [sys.executable, "-m", "cellframe", "+pipeline=wsi", f"input.slide={slide}", "mlflow.enabled=false",
           "progress=false", f"executor.workers={workers}", f"hydra.run.dir={out}", *overrides]
    wall0, start = time.time(), time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ})
    result = {}
    watcher = threading.Thread(target=lambda: result.setdefault(
        "peak", peak_rss_mb(proc.pid, lambda: proc.poll() is not None)))
    watcher.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - start
    watcher.join()
    if proc.returncode:
        sys.exit(f"the run failed:\n{err[-3000:]}")
    patches = [p for p in out.iterdir() if p.is_dir() and p.name.startswith(slide.stem + "_x")]
    n = len(patches)
    return {"n": n, "floor": floor, "seconds": seconds, "phases": phases(out / "cellframe.log", wall0, seconds), "driver_mb": result["peak"][0], "peak_mb": result["peak"][1],
            "per_patch_mb": sum(f.stat().st_size for p in patches for f in p.rglob("*") if f.is_file()) / n / 2**20,
            "state_mb": sum(f.stat().st_size for p in patches for f in (p / "state").rglob("*") if f.is_file()) / n / 2**20,
            "total_mb": sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=int, default=8, help="patches per side (8: a 64-patch slide)")
    parser.add_argument("--small", type=int, default=4,
                        help="patches per side of a second, smaller slide: how memory grows per patch (0: skip)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("overrides", nargs="*", help="KEY=VALUE overrides of the run (an A/B in one session)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        big = run_slide(Path(tmp), args.grid, args.workers, tuple(args.overrides))
        small = run_slide(Path(tmp), args.small, args.workers, tuple(args.overrides)) if args.small else None
    n, seconds, floor = big["n"], big["seconds"], big["floor"]
    lines = [f"A {n}-patch slide (1000 x 1000 px patches at 0.25 um/px, tiles of the demo H&E), "
             f"`+pipeline=wsi` with {args.workers} workers on this machine (2 cores), MLflow off"
             + (f", {' '.join(args.overrides)}" if args.overrides else ""), "",
             "| measure | value |", "|---|---|",
             f"| floor (OpenSlide read + deconvolution + threshold + labelling, every patch; median of 3) | {floor:.1f} s |",
             f"| cellframe, whole run (segment, reconstruct, export, merge, report) | {seconds:.1f} s |",
             f"| ratio to the floor | {seconds / floor:.1f}x |",
             f"| output per patch (folder, resume state included) | {big['per_patch_mb']:.2f} MB "
             f"(state {big['state_mb']:.2f} MB) |",
             f"| output in all | {big['total_mb']:.1f} MB |",
             "| phases (start-up and patches, slide merge, each analysis, exit) | "
             + ", ".join(f"{k} {v:.0f} s" for k, v in big["phases"].items()) + " |",
             f"| peak memory: the driver / all the run's processes | {big['driver_mb']:.0f} MB / {big['peak_mb']:.0f} MB |"]
    projected_mb = big["peak_mb"]
    if small is not None:
        growth = (big["driver_mb"] - small["driver_mb"]) / max(n - small["n"], 1)
        projected_mb = big["peak_mb"] + max(growth, 0.0) * (3000 - n)  # a shrinking driver (noise) projects no saving
        lines += [f"| the same on a {small['n']}-patch slide | {small['seconds']:.1f} s "
                  f"({small['seconds'] / small['floor']:.1f}x its floor), driver {small['driver_mb']:.0f} MB / "
                  f"all {small['peak_mb']:.0f} MB |",
                  f"| driver memory per added patch | {growth:.2f} MB |"]
    lines.append(f"| projected for 3,000 patches | {seconds / n * 3000 / 3600:.1f} h, "
                 f"{big['per_patch_mb'] * 3000 / 1024:.1f} GB on disk, {projected_mb / 1024:.1f} GB peak memory |")
    text = "\n".join(lines) + "\n"
    print(text)
    common.RESULTS.mkdir(exist_ok=True)
    # a run with overrides is one side of an A/B: it leaves the default run's results alone
    (common.RESULTS / ("wsi_overrides.md" if args.overrides else "wsi.md")).write_text(text)


if __name__ == "__main__":
    main()
