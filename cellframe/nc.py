"""Nuclear-to-cytoplasmic (N/C) ratios and their entropy (pure functions on arrays)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import entropy

#: N/C ratio forms: by radius (r / R), by area at the plane, by volume ((r / R)^3)
FORMS = ("radius", "area", "volume")


def nc_ratios(cells: pd.DataFrame) -> pd.DataFrame:
    """Per-cell N/C ratios from a cell table (columns ``r``, ``R``, ``nuclear_area``, ``section_area``).

    The area form is the nuclear area over the cell's region at the plane
    (NaN for cells that do not reach the plane); all forms lie in (0, 1] when
    the cell is larger than its nucleus.
    """
    r, R = cells["r"].to_numpy(float), cells["R"].to_numpy(float)
    section = cells["section_area"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        area = np.where(section > 0, cells["nuclear_area"].to_numpy(float) / section, np.nan)
    return pd.DataFrame({"radius": r / R, "area": area, "volume": (r / R) ** 3}, index=cells.index)


def shannon_entropy(values: np.ndarray, bins: int = 20, value_range: tuple[float, float] = (0.0, 1.0)) -> float:
    """Shannon entropy (bits) of the histogram of ``values`` (NaN ignored; values outside the range clipped in)."""
    values = np.asarray(values, float)
    values = np.clip(values[np.isfinite(values)], *value_range)
    if values.size == 0:
        return float("nan")
    counts, _ = np.histogram(values, bins=bins, range=value_range)
    return float(entropy(counts, base=2))


def null_radii(r: np.ndarray, alpha: float, beta: float, rng: np.random.Generator) -> np.ndarray:
    """The null model's cell radii: uniform in ``[alpha r, beta r]``, ignoring all neighbours."""
    r = np.asarray(r, float)
    return rng.uniform(alpha * r, beta * r)
