"""Nuclear-to-cytoplasmic (N/C) ratios and their entropy (pure functions on arrays)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import entropy

#: N/C ratio forms: by radius (r / R), by area at the plane, by volume ((r / R)^3)
FORMS = ("radius", "area", "volume")


def nc_ratios(cells: pd.DataFrame) -> pd.DataFrame:
    """Per-cell N/C ratios from a cell table.

    * radius: ``r / R`` (``rho / R`` where the objective estimated the 3D nuclear radius ``rho``; ``R_eq``, the cube root of the semi-axes' product, for non-spheres);
    * area: the nucleus' own section at the plane (``nuclear_section_area``; the 2D profile area
      ``nuclear_area`` in older tables) over the cell's region at the plane; NaN for cells that
      do not reach the plane, 0 for cells cut beside their nucleus;
    * volume: nuclear volume over cell volume (``(r / R)^3`` for spheres).
    """
    r = cells["rho" if "rho" in cells else "r"].to_numpy(float)  # the 3D nuclear radius where one was estimated
    R = cells["R"].to_numpy(float) if "R" in cells else cells["R_eq"].to_numpy(float)
    section = cells["section_area"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        nuclear = cells["nuclear_section_area" if "nuclear_section_area" in cells else "nuclear_area"].to_numpy(float)
        area = np.where(section > 0, nuclear / section, np.nan)
        if {"nuclear_volume", "volume"} <= set(cells.columns):
            volume = cells["nuclear_volume"].to_numpy(float) / cells["volume"].to_numpy(float)
        else:
            volume = (r / R) ** 3
    return pd.DataFrame({"radius": r / R, "area": area, "volume": volume}, index=cells.index)


def shannon_entropy(values: np.ndarray, bins: int = 20, value_range: tuple[float, float] = (0.0, 1.0)) -> float:
    """Shannon entropy (bits) of the histogram of ``values`` (NaN ignored; values outside the range clipped in)."""
    values = np.asarray(values, float)
    values = np.clip(values[np.isfinite(values)], *value_range)
    if values.size == 0:
        return float("nan")
    counts, _ = np.histogram(values, bins=bins, range=value_range)
    return float(entropy(counts, base=2))

