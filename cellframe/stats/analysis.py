"""What the downstream analyses share: their error, and saving figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from cellframe.io.files import atomic_path


class AnalysisError(Exception):
    """The inputs do not allow an analysis (e.g. tables that share no samples); one line."""


@dataclass
class CohortSettings:
    """What every association analysis (survival, stage, expression, mutation) shares: where its
    features come from, the check of a run-derived feature against its null, and patient matching."""

    #: per-sample features table; None = features of this run's reconstructions
    features: Optional[str] = None
    #: null reconstructions a run-derived feature is tested against (Monte Carlo; see cellframe.stats.feature_null)
    null_draws: int = 99
    #: a feature whose Monte-Carlo p-value against its null is above this carries nothing
    null_alpha: float = 0.05
    #: patches per patient the null test uses (a seeded sample; None = all): bounds its cost on slides
    null_patches: Optional[int] = None
    #: test a run-derived feature that carries nothing beyond its null anyway
    allow_null_feature: bool = False
    #: TCGA sample types kept (01 primary tumour, 11 solid normal, ...); ids without a type are kept
    sample_types: list[str] = field(default_factory=lambda: ["01"])
    seed: int = 0

    def __post_init__(self) -> None:
        if self.null_draws < 19:
            raise ValueError(f"null_draws={self.null_draws} must be >= 19 (a Monte-Carlo p-value of 0.05 needs 19)")
        if not 0 < self.null_alpha < 1:
            raise ValueError(f"null_alpha={self.null_alpha} must be in (0, 1)")
        check_null_patches(self.null_patches)


def check_null_patches(value) -> None:
    """``null_patches`` is None (every patch) or at least 1."""
    if value is not None and value < 1:
        raise ValueError(f"null_patches={value} must be >= 1 (or null for every patch)")


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
