"""Figures saved as PNG files (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cellframe.io.files import atomic_path


def convergence_plot(history: np.ndarray, path: Path, title: str = "") -> Path:
    """Best total fitness per iteration, on a symlog axis (the optimum is 0)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=120)
    steps = np.arange(1, len(history) + 1)
    ax.plot(steps, history, lw=1.5)
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_xlabel("iteration")
    ax.set_ylabel("best fitness (weighted penalty)")
    ax.set_title(title or "convergence")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path
