"""2D cell regions at a plane: circles cut by the radical lines of their neighbours.

For circles (centre c_i, radius rho_i) the region of cell i is its disc
intersected with the half-planes where its power ``|p - c_i|^2 - rho_i^2`` is
not larger than a neighbour's: the power (Laguerre) cell clipped to the disc.
Regions of different cells never overlap.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree


def circle_polygon(center: np.ndarray, radius: float, n_vertices: int = 64) -> np.ndarray:
    """Regular polygon inscribed in a circle, counter-clockwise, ``(n_vertices, 2)``."""
    t = np.linspace(0.0, 2.0 * np.pi, n_vertices, endpoint=False)
    return np.asarray(center, float) + radius * np.column_stack([np.cos(t), np.sin(t)])


def clip_halfplane(polygon: np.ndarray, normal: np.ndarray, offset: float) -> np.ndarray:
    """Keep the part of a convex polygon where ``normal . p <= offset``."""
    if len(polygon) == 0:
        return polygon
    side = polygon @ normal - offset
    inside = side <= 0
    if inside.all():
        return polygon
    if not inside.any():
        return polygon[:0]
    # Sutherland-Hodgman on every edge (a, b) at once: keep a if inside, then the crossing if the edge crosses
    after = np.concatenate([polygon[1:], polygon[:1]])
    side_b = np.concatenate([side[1:], side[:1]])
    crosses = inside != (side_b <= 0)
    t = np.divide(side, side - side_b, out=np.zeros_like(side), where=crosses)
    points = np.empty((len(polygon), 2, 2))
    points[:, 0], points[:, 1] = polygon, polygon + t[:, None] * (after - polygon)
    keep = np.empty((len(polygon), 2), bool)
    keep[:, 0], keep[:, 1] = inside, crosses
    return points[keep]


def polygon_area(polygon: np.ndarray) -> float:
    """Shoelace area of a simple polygon."""
    if len(polygon) < 3:
        return 0.0
    x, y = polygon[:, 0], polygon[:, 1]
    return float(0.5 * abs(np.dot(x[:-1], y[1:]) + x[-1] * y[0] - np.dot(y[:-1], x[1:]) - y[-1] * x[0]))


def power_regions(centers: np.ndarray, radii: np.ndarray, n_vertices: int = 64) -> list[np.ndarray]:
    """Each disc cut by the radical lines of the discs it intersects.

    Parameters
    ----------
    centers : (n, 2) array
    radii : (n,) array; a cell with radius <= 0 has no region (empty polygon).
    n_vertices : vertices of each circle before clipping.

    Returns
    -------
    list of (k, 2) arrays, counter-clockwise.
    """
    centers = np.asarray(centers, float)
    radii = np.asarray(radii, float)
    present = radii > 0
    regions = [
        circle_polygon(c, rho, n_vertices) if ok else np.empty((0, 2)) for c, rho, ok in zip(centers, radii, present)
    ]
    idx = np.flatnonzero(present)
    if len(idx) < 2:
        return regions
    pairs = idx[cKDTree(centers[idx]).query_pairs(2.0 * radii[idx].max(), output_type="ndarray")].reshape(-1, 2)
    e = centers[pairs[:, 1]] - centers[pairs[:, 0]]
    dist = np.hypot(e[:, 0], e[:, 1])
    cut = (dist < radii[pairs[:, 0]] + radii[pairs[:, 1]]) & (dist != 0.0)
    pairs, e, dist = pairs[cut], e[cut], dist[cut]
    # |q|^2 - rho_i^2 <= |q - e|^2 - rho_j^2  with q = p - c_i
    offset = 0.5 * (dist**2 + radii[pairs[:, 0]] ** 2 - radii[pairs[:, 1]] ** 2)
    for (i, j), e_ij, d, off in zip(pairs, e, dist, offset):
        regions[i] = clip_halfplane(regions[i] - centers[i], e_ij, off) + centers[i]
        regions[j] = clip_halfplane(regions[j] - centers[j], -e_ij, d**2 - off) + centers[j]
    return regions


def ellipse_polygon(center, a: float, b: float, angle: float, n_vertices: int = 64) -> np.ndarray:
    """Polygon of an ellipse with semi-axes a, b, the a axis at ``angle`` to x, counter-clockwise."""
    t = np.linspace(0.0, 2.0 * np.pi, n_vertices, endpoint=False)
    u, v = a * np.cos(t), b * np.sin(t)
    c, s = np.cos(angle), np.sin(angle)
    return np.asarray(center, float) + np.column_stack([c * u - s * v, s * u + c * v])


def ellipse_regions(centers: np.ndarray, a: np.ndarray, b: np.ndarray, angle: np.ndarray,
                    n_vertices: int = 64) -> list[np.ndarray]:
    """Each ellipse cut by the common chords with the ellipses it intersects.

    The chord through two intersecting boundaries plays the radical line's part
    (for circles it is the radical line); each cell keeps the side where its
    ellipse reaches beyond the other. An ellipse inside another keeps itself and is cut out of the
    larger one's polygon. Regions never overlap.
    """
    from shapely.geometry import Polygon

    shapes = [Polygon(ellipse_polygon(c, ai, bi, th, n_vertices)) if ai > 0 and bi > 0 else Polygon()
              for c, ai, bi, th in zip(np.asarray(centers, float), a, b, angle)]
    regions = list(shapes)
    present = np.flatnonzero(np.asarray(a) > 0)
    if len(present) >= 2:
        tree = cKDTree(np.asarray(centers, float)[present])
        for p, q in tree.query_pairs(2.0 * float(np.max(a)), output_type="ndarray"):
            i, j = present[p], present[q]
            if not shapes[i].intersects(shapes[j]):
                continue
            points = shapes[i].exterior.intersection(shapes[j].exterior)
            coords = np.array([pt.coords[0] for pt in getattr(points, "geoms", [points]) if not pt.is_empty
                               and pt.geom_type == "Point"])
            if len(coords) >= 2:
                far = np.linalg.norm(coords[:, None] - coords[None], axis=2)
                k, m = np.unravel_index(far.argmax(), far.shape)
                p1, p2 = coords[k], coords[m]
                normal = np.array([p2[1] - p1[1], p1[0] - p2[0]])
                for own, other in ((i, j), (j, i)):
                    # own side: where the part of its ellipse outside the other lies (for circles,
                    # exactly the radical line's side of lower power)
                    outside = shapes[own].difference(shapes[other])
                    if outside.is_empty:
                        continue
                    ref = np.asarray(outside.representative_point().coords[0])
                    sign = 1.0 if normal @ (ref - p1) <= 0 else -1.0
                    clipped = clip_halfplane(np.asarray(regions[own].exterior.coords)[:-1] if not regions[own].is_empty
                                             else np.empty((0, 2)), sign * normal, sign * normal @ p1)
                    regions[own] = Polygon(clipped) if len(clipped) >= 3 else Polygon()
            else:  # one inside the other: the inner keeps its region
                inner, outer = (i, j) if shapes[i].area <= shapes[j].area else (j, i)
                regions[outer] = regions[outer].difference(shapes[inner])
        # ellipses may cross at four points, where one chord cannot separate them: what still
        # overlaps goes to the smaller region
        for p, q in tree.query_pairs(2.0 * float(np.max(a)), output_type="ndarray"):
            i, j = present[p], present[q]
            if regions[i].is_empty or regions[j].is_empty or not regions[i].intersects(regions[j]):
                continue
            if regions[i].intersection(regions[j]).area > 0:
                small, big = (i, j) if regions[i].area <= regions[j].area else (j, i)
                regions[big] = regions[big].difference(regions[small])
    out = []
    for region in regions:
        if region.is_empty:
            out.append(np.empty((0, 2)))
        else:
            region = max(getattr(region, "geoms", [region]), key=lambda g: g.area)
            out.append(np.asarray(region.exterior.coords)[:-1])
    return out


def clipped_ellipse_areas(centers: np.ndarray, ellipses: np.ndarray, regions: list[np.ndarray],
                          n_vertices: int = 48) -> np.ndarray:
    """Area of each ellipse ``(a, b, angle)`` inside its region (polygon); 0 where either is empty."""
    import shapely

    centers = np.asarray(centers, float)
    ellipses = np.asarray(ellipses, float)
    areas = np.zeros(len(centers))
    todo = [i for i, (e, reg) in enumerate(zip(ellipses, regions)) if e[0] > 0 and e[1] > 0 and len(reg) >= 3]
    if not todo:
        return areas
    shapes = np.array([shapely.Polygon(ellipse_polygon(centers[i], *ellipses[i], n_vertices)) for i in todo])
    cells = shapely.make_valid(np.array([shapely.Polygon(regions[i]) for i in todo]))
    areas[todo] = shapely.area(shapely.intersection(shapes, cells))
    return areas


def clip_to_mask(polygon: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The part of a region (``(k, 2)`` x, y polygon) over ``True`` pixels of ``mask``: the polygon
    itself when all its pixels are, its largest traced piece when some are, empty when none are."""
    from skimage.measure import find_contours

    if len(polygon) < 3:
        return polygon
    r0, c0, r1, c1 = _pixel_bounds(polygon, mask.shape)
    if mask[r0 : r1 + 1, c0 : c1 + 1].all():  # every pixel it may cover is in the mask (most cells)
        return polygon
    r0, c0, covered = polygon_pixels(polygon, mask.shape)
    if not covered.any():
        return polygon
    inside = covered & mask[r0 : r0 + covered.shape[0], c0 : c0 + covered.shape[1]]
    if np.array_equal(inside, covered):
        return polygon
    if not inside.any():
        return polygon[:0]
    crop = np.pad(inside.astype(float), 1)
    pieces = [c for c in find_contours(crop, 0.5) if len(c) >= 3]
    if not pieces:
        return polygon[:0]
    largest = max(pieces, key=lambda c: polygon_area(c[:, ::-1]))
    return np.column_stack([largest[:, 1] + c0 - 1, largest[:, 0] + r0 - 1])


def _pixel_bounds(polygon: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """First and last row and column (inclusive) of an image of ``shape`` whose pixel centres a polygon
    (``(k, 2)`` x, y) may cover."""
    H, W = shape[:2]
    r0, c0 = max(int(np.ceil(polygon[:, 1].min())), 0), max(int(np.ceil(polygon[:, 0].min())), 0)
    r1, c1 = min(int(np.floor(polygon[:, 1].max())), H - 1), min(int(np.floor(polygon[:, 0].max())), W - 1)
    return r0, c0, r1, c1


def polygon_pixels(polygon: np.ndarray, shape: tuple[int, int]) -> tuple[int, int, np.ndarray]:
    """The pixels of an image of ``shape`` whose centres lie inside a polygon (``(k, 2)`` x, y; even-odd
    rule, as :func:`skimage.draw.polygon`): ``(row0, col0, covered)`` with ``covered`` a boolean crop."""
    r0, c0, r1, c1 = _pixel_bounds(polygon, shape)
    if r1 < r0 or c1 < c0:
        return r0, c0, np.zeros((0, 0), bool)
    x0, y0 = polygon[:, 0], polygon[:, 1]
    x1, y1 = np.concatenate([x0[1:], x0[:1]]), np.concatenate([y0[1:], y0[:1]])
    rows = np.arange(r0, r1 + 1, dtype=float)[:, None]
    crossing = (y0 <= rows) != (y1 <= rows)  # (rows, edges): the edge spans the row's centre line
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(crossing, x0 + (rows - y0) * (x1 - x0) / (y1 - y0), np.inf)
    x = np.sort(x, axis=1)[:, : max(int(crossing.sum(axis=1).max()), 1)]
    cols = np.arange(c0, c1 + 1, dtype=float)
    covered = (x[:, :, None] < cols[None, None, :]).sum(axis=1) % 2 == 1
    return r0, c0, covered
