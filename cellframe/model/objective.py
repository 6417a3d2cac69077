"""What an optimizer minimises over a geometry's parameters: the objective contract.

The base class is the published CellSqueeze3D objective: the geometry's own
penalty terms (radius bounds, section depth, non-interpenetration) with the
``model.lambda_*`` weights, over the geometry's bounds. An ``objective`` plugin
returns a subclass that adds evidence from the image, changes the bounds, and
may draw samples from the posterior its terms define.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cellframe.model.geometry import Geometry


class Objective:
    """Weighted penalty terms over ``geometry``'s parameters (the paper's objective).

    :param geometry: the cells' geometry (parameter layout, penalties, pairs).
    :param model: the ``model`` config.
    """

    def __init__(self, geometry: Geometry, model) -> None:
        self.geometry = geometry
        self.model = model

    @property
    def section(self) -> tuple[float, float]:
        """Depths of the section's two faces in the model's ``z`` (its mid-plane is between them)."""
        return 0.0, float(self.model.z_max)

    def depth_range(self) -> tuple[float, float]:
        """The depths a nucleus centre may take: clusters are checked (and repaired) against this span."""
        return 0.0, float(self.model.z_max)

    @property
    def weights(self) -> dict[str, float]:
        return self.geometry.weights

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.geometry.bounds()

    def start(self, rng: np.random.Generator) -> np.ndarray:
        """The solution before any search; nuclei no optimizer searches keep it."""
        return rng.uniform(*self.bounds())

    def initial(self, rng: np.random.Generator, n_particles: int) -> np.ndarray:
        return self.geometry.initial(rng, n_particles)

    def penalty_owners(self) -> dict[str, np.ndarray]:
        return self.geometry.penalty_owners()

    def penalties(self, X: np.ndarray) -> dict[str, np.ndarray]:
        return self.geometry.penalties(X)

    def per_nucleus(self) -> bool:
        """True when every nucleus has a term of its own, so even isolated nuclei are searched."""
        return False

    def subset(self, keep: np.ndarray) -> "Objective":
        """The same objective over some of the nuclei (a boolean mask)."""
        return Objective(self.geometry.subset(keep), self.model)

    def cell_columns(self, x: np.ndarray) -> pd.DataFrame:
        """Extra columns of the cell table (e.g. the estimated 3D nuclear radius ``rho``); none here."""
        return pd.DataFrame(index=np.arange(self.geometry.n))

    def intervals(self, x: np.ndarray) -> pd.DataFrame | None:
        """Per-cell credible intervals from posterior samples, or None when the objective cannot sample."""
        return None

    def diagnostics(self) -> dict[str, float]:
        """Numbers the objective read from the image, for ``summary.csv`` and MLflow (e.g. a fitted
        stain constant); none here."""
        return {}

    def visible_tissue(self) -> np.ndarray | None:
        """``(H, W)`` where the image shows cellular tissue (cells' regions at the plane are clipped to
        it), or None when the objective does not read the image."""
        return None
