"""3D label volumes of cells (pure functions on arrays)."""

from __future__ import annotations

import numpy as np


def label_volume(centers: np.ndarray, radii: np.ndarray, shape_yx: tuple[int, int], step: float,
                 z_range: tuple[float, int] | None = None) -> tuple[np.ndarray, float]:
    """Rasterise spheres into a ZYX label volume (cell index + 1; overlaps split by power distance).

    :param z_range: ``(depth of the first slice, number of slices)``; default: just enclosing every sphere.
    :return: the volume and the depth of its first slice (px). Voxel ``k`` is centred at ``(k + 0.5) * step``.
    """
    if z_range is not None:
        z_lo, nz = float(z_range[0]), int(z_range[1])
    else:
        z_lo = float(np.floor((centers[:, 2] - radii).min())) if len(radii) else 0.0
        z_hi = float(np.ceil((centers[:, 2] + radii).max())) if len(radii) else 1.0
        nz = max(int(np.ceil((z_hi - z_lo) / step)), 1)
    ny, nx = int(np.ceil(shape_yx[0] / step)), int(np.ceil(shape_yx[1] / step))
    volume = np.zeros((nz, ny, nx), np.uint32)
    power = np.full(volume.shape, np.inf, np.float32)
    for k, ((cx, cy, cz), R) in enumerate(zip(centers, radii)):
        lo = np.floor((np.array([cz - z_lo, cy, cx]) - R) / step).astype(int).clip(0)
        hi = np.minimum(np.ceil((np.array([cz - z_lo, cy, cx]) + R) / step).astype(int) + 1, volume.shape)
        if np.any(hi <= lo):
            continue
        zz, yy, xx = np.ogrid[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
        d2 = ((zz + 0.5) * step + z_lo - cz) ** 2 + ((yy + 0.5) * step - cy) ** 2 + ((xx + 0.5) * step - cx) ** 2
        p = (d2 - R * R).astype(np.float32)
        box = (slice(lo[0], hi[0]), slice(lo[1], hi[1]), slice(lo[2], hi[2]))
        take = (p <= 0) & (p < power[box])
        volume[box][take] = k + 1
        power[box][take] = p[take]
    return volume, z_lo
