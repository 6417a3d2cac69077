"""Cutting a whole slide's detections into patch files: time and peak memory against the file's size.

Writes a HoVer-Net WSI JSON of ``--nuclei`` nuclei (contours of 24 points, bbox, centroid, type,
type_prob, as HoVer-Net writes them) spread over a square slide of 1000 px patches, then, each in a
fresh process, (1) reads it whole with ``json.load`` (what a plain reader pays) and (2) cuts it into
the patches' files as a slide run does (:func:`cellframe.io.slide_detections.write_patch_detections`),
and (3) imports one 1000 px region of it with ``segmenter=hovernet segmenter.offset=[x,y]`` (a file
this large is streamed, keeping the nuclei over the region). Reports seconds and peak resident memory.

    python benchmarks/slide_detections.py [--nuclei 300000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common
import numpy as np


def write_hovernet(path: Path, n: int, side: int, seed: int = 0) -> None:
    """``n`` nuclei of radius 6-14 px at random over a ``side`` px square, written as HoVer-Net does."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(20, side - 20, size=(n, 2))
    radii = rng.uniform(6, 14, size=n)
    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    with open(path, "w") as handle:
        handle.write('{"mag": 40, "nuc": {')
        for k in range(n):
            contour = np.column_stack([centres[k, 0] + radii[k] * np.cos(angles),
                                       centres[k, 1] + radii[k] * np.sin(angles)]).round().astype(int)
            item = {"bbox": [[int(contour[:, 1].min()), int(contour[:, 0].min())],
                             [int(contour[:, 1].max()), int(contour[:, 0].max())]],
                    "centroid": centres[k].round(2).tolist(), "contour": contour.tolist(),
                    "type_prob": 0.9, "type": int(1 + k % 5)}
            handle.write(("," if k else "") + f'"{k + 1}": ' + json.dumps(item))
        handle.write("}}")


def measured(code: str) -> tuple[float, float]:
    """Seconds and peak resident MB of ``code`` run in a fresh Python (which prints its seconds)."""
    done = subprocess.run([sys.executable, "-c", code + "\nimport resource, sys\n"
                           "print(seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"],
                          capture_output=True, text=True, check=True)
    seconds, peak = done.stdout.split()[-2:]
    return float(seconds), float(peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nuclei", type=int, default=300_000)
    parser.add_argument("--patch", type=int, default=1000)
    args = parser.parse_args()
    side = int(np.ceil(np.sqrt(args.nuclei / 1000)) * args.patch)  # about 1,000 nuclei per patch
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        path = tmp / "slide.json"
        start = time.perf_counter()
        write_hovernet(path, args.nuclei, side)
        print(f"wrote {path.stat().st_size / 2**20:.0f} MB in {time.perf_counter() - start:.0f} s", flush=True)
        plain = measured(f"import json, time\nstart = time.perf_counter()\ndoc = json.load(open({str(path)!r}))\n"
                         "seconds = time.perf_counter() - start")
        cut = measured(
            "import time\nfrom pathlib import Path\nfrom cellframe.io.slides import SlideRegion\n"
            "from cellframe.io.slide_detections import write_patch_detections\n"
            f"side, patch = {side}, {args.patch}\n"
            f"regions = [SlideRegion(Path('slide.svs'), x, y, 0, patch, 1.0, 0.25, 80) for y in range(0, side, patch) "
            "for x in range(0, side, patch)]\n"
            f"folders = [Path({str(tmp)!r}) / 'out' / f'p{{k}}' for k in range(len(regions))]\n"
            "start = time.perf_counter()\n"
            f"write_patch_detections(Path({str(path)!r}), regions, folders)\n"
            "seconds = time.perf_counter() - start")
        region = measured(
            "import time\nfrom pathlib import Path\nfrom cellframe.plugins.segmenters.importers import read_hovernet\n"
            "start = time.perf_counter()\n"
            f"table = read_hovernet(Path({str(path)!r}), ({args.patch}, {args.patch}), {{}}, offset=({side // 2}, {side // 2}))\n"
            "seconds = time.perf_counter() - start\nprint(len(table), 'nuclei in the region')")
        n_patches = (side // args.patch) ** 2
        size = path.stat().st_size / 2**20
    lines = [f"A HoVer-Net WSI JSON of {args.nuclei:,} nuclei ({size:.0f} MB), {n_patches:,} patches of {args.patch} px "
             "with an 80 px halo; each in a fresh process on this machine", "",
             "| | seconds | peak memory (MB) |", "|---|---|---|",
             f"| `json.load` of the whole file | {plain[0]:.1f} | {plain[1]:.0f} |",
             f"| cut into the patches' files (streamed, two passes) | {cut[0]:.1f} | {cut[1]:.0f} |",
             f"| one {args.patch} px region imported with an offset (`segmenter=hovernet`, streamed) | {region[0]:.1f} | "
             f"{region[1]:.0f} |"]
    common.write_result("slide_detections.md", lines)


if __name__ == "__main__":
    main()
