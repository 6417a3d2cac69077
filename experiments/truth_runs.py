"""What the fidelity studies share: the command line, and a simulated section scored against its truth."""

import subprocess
import sys
from pathlib import Path

import pandas as pd


def cellframe(args: list[str], cwd: Path) -> None:
    """``python -m cellframe ARGS``, as a user types it; stops the study with its error if it fails."""
    done = subprocess.run([sys.executable, "-m", "cellframe", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"cellframe {' '.join(args)} failed:\n{done.stderr[-3000:]}")


def simulate(folder: Path, seed: int, settings: dict, cwd: Path) -> Path:
    """A known-truth section in ``folder`` (``python -m cellframe simulate``)."""
    cellframe(["simulate", f"seed={seed}", f"output_dir={folder}", *(f"{k}={v}" for k, v in settings.items())], cwd)
    return folder


def score(sim: Path, out: Path, settings: dict, cwd: Path) -> pd.DataFrame:
    """Reconstruct a simulated section from its image and HoVer-Net outlines with ``analysis=[truth]``;
    the truth metrics (``metric``, ``run``, ``null``, ...) and the patch's seconds."""
    cellframe([f"input.image={sim / 'image.png'}", f"input.mask={sim / 'nuclei.json'}", "analysis=[truth]",
               f"analysis.truth.table={sim / 'truth.parquet'}", f"output_dir={out}",
               *(f"{k}={v}" for k, v in settings.items())], cwd)
    metrics = pd.read_csv(out / "analysis" / "truth" / "truth_metrics.csv")
    seconds = float(pd.read_csv(out / "summary.csv")["total_seconds"].iloc[0])
    return pd.concat([metrics, pd.DataFrame([{"metric": "seconds_per_patch", "run": seconds}])], ignore_index=True)
