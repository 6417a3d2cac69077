"""What the downstream analyses share: their error, and saving figures."""

from __future__ import annotations

from pathlib import Path

from cellframe.io import atomic_path


class AnalysisError(Exception):
    """The inputs do not allow an analysis (e.g. tables that share no samples); one line."""


def save_figure(fig, path: Path) -> Path:
    """Write a matplotlib figure as PNG (atomically) and close it."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path


def pyplot():
    """matplotlib's pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
