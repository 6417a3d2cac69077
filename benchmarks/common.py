"""Helpers shared by the benchmark scripts: demo nuclei, synthetic tiling, one-core setup."""

from __future__ import annotations

import os

# one core, as the targets are stated (set before numpy is imported)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "data" / "tcga_brca"
RESULTS = Path(__file__).resolve().parent / "results"


def write_result(name: str, lines: list[str]) -> str:
    """A benchmark's markdown: printed, and written to ``results/<name>`` (one line per item, ending in a
    newline); returns the text."""
    text = "\n".join(lines).rstrip("\n") + "\n"
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / name).write_text(text)
    return text


def repeats(doc: str, default: int = 3) -> int:
    """``--repeats`` from the command line of a benchmark whose docstring is ``doc``."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=default)
    return parser.parse_args().repeats


def demo_image(patch: int) -> np.ndarray:
    """A demo patch's H&E, RGB."""
    from skimage import io

    return io.imread(DEMO / f"tcga_patch_{patch}.png")[..., :3]


def demo_nuclei(patch: int, radius: str = "equivalent") -> pd.DataFrame:
    """Nuclei of a demo patch, as the default ``mask`` segmenter finds them."""
    from skimage import io

    from cellframe.running.pipeline import segment
    from cellframe.registry import default_registry

    registry = default_registry()
    mask = io.imread(DEMO / f"tcga_patch_{patch}_nuclei_mask.png")
    return segment(registry, registry.stage("segmenter", "mask").schema(radius=radius), None, mask)[0]


def tiled_nuclei(n: int, patch: int = 2) -> pd.DataFrame:
    """A synthetic patch of ``n`` nuclei: copies of a demo patch's nuclei side by side."""
    base = demo_nuclei(patch)
    copies = int(np.ceil(n / len(base)))
    side = int(np.ceil(np.sqrt(copies)))
    tiles = []
    for k in range(copies):
        tile = base.copy()
        tile["x"] += 1000.0 * (k % side)
        tile["y"] += 1000.0 * (k // side)
        tiles.append(tile)
    table = pd.concat(tiles, ignore_index=True).iloc[:n].copy()
    table["label"] = np.arange(1, len(table) + 1)
    return table.reset_index(drop=True)
