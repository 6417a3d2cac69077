import numpy as np
import pytest
from shapely.geometry import Point, Polygon
from shapely.ops import unary_union

from cellframe.model.sections import circle_polygon, clip_halfplane, polygon_area, power_regions


def test_single_circle_region_is_the_circle():
    (region,) = power_regions(np.array([[5.0, 5.0]]), np.array([10.0]), n_vertices=256)
    assert polygon_area(region) == pytest.approx(np.pi * 100, rel=1e-3)


def test_clip_halfplane_halves_a_square():
    square = np.array([[0, 0], [2, 0], [2, 2], [0, 2]], float)
    half = clip_halfplane(square, np.array([1.0, 0.0]), 1.0)
    assert polygon_area(half) == pytest.approx(2.0)


def test_two_equal_circles_split_on_the_bisector():
    regions = power_regions(np.array([[0.0, 0.0], [10.0, 0.0]]), np.array([8.0, 8.0]))
    assert regions[0][:, 0].max() == pytest.approx(5.0)
    assert regions[1][:, 0].min() == pytest.approx(5.0)


def test_power_regions_do_not_overlap_and_tile_the_union():
    rng = np.random.default_rng(3)
    centers = rng.uniform(0, 100, (40, 2))
    radii = rng.uniform(5, 15, 40)
    regions = [Polygon(p) for p in power_regions(centers, radii, n_vertices=128)]
    for i in range(len(regions)):
        for j in range(i + 1, len(regions)):
            assert regions[i].intersection(regions[j]).area < 1e-6
    union = unary_union([Polygon(circle_polygon(c, r, 128)) for c, r in zip(centers, radii)])
    assert sum(p.area for p in regions) == pytest.approx(union.area, rel=1e-6)


def test_cells_without_radius_have_no_region():
    regions = power_regions(np.array([[0.0, 0.0], [3.0, 0.0]]), np.array([5.0, 0.0]))
    assert len(regions[1]) == 0 and Point(0, 0).within(Polygon(regions[0]))


def test_a_region_is_clipped_to_the_visible_tissue():
    from cellframe.model.sections import circle_polygon, clip_to_mask, polygon_area

    tissue = np.ones((100, 100), bool)
    tissue[:, 50:] = False  # a lumen on the right
    whole = circle_polygon((30, 50), 10)
    assert clip_to_mask(whole, tissue) is whole  # all in tissue: the exact polygon
    cut = clip_to_mask(circle_polygon((45, 50), 10), tissue)
    assert cut[:, 0].max() <= 49.5 and 0.6 < polygon_area(cut) / (np.pi * 100) < 0.85
    assert len(clip_to_mask(circle_polygon((80, 50), 10), tissue)) == 0  # all lumen: no region


def _clip_halfplane_one_vertex_at_a_time(polygon, normal, offset):
    """Sutherland-Hodgman written out vertex by vertex: the reference for the vectorised clip."""
    side = polygon @ normal - offset
    out = []
    for a in range(len(polygon)):
        b = (a + 1) % len(polygon)
        if side[a] <= 0:
            out.append(polygon[a])
        if (side[a] <= 0) != (side[b] <= 0):
            out.append(polygon[a] + side[a] / (side[a] - side[b]) * (polygon[b] - polygon[a]))
    return np.asarray(out).reshape(-1, 2)


def test_clip_halfplane_matches_clipping_one_vertex_at_a_time():
    rng = np.random.default_rng(5)
    for _ in range(300):
        polygon = circle_polygon(rng.normal(size=2), rng.uniform(0.5, 3.0), int(rng.integers(3, 70)))
        normal, offset = rng.normal(size=2), float(rng.normal())
        assert np.array_equal(clip_halfplane(polygon, normal, offset),
                              _clip_halfplane_one_vertex_at_a_time(polygon, normal, offset))


def test_polygon_pixels_are_the_pixels_scikit_image_draws():
    from skimage.draw import polygon as draw_polygon

    from cellframe.model.sections import polygon_pixels

    rng = np.random.default_rng(6)
    for _ in range(300):
        polygon = circle_polygon(rng.uniform(-20, 120, 2), rng.uniform(0.3, 30), int(rng.integers(5, 70)))
        polygon = clip_halfplane(polygon - polygon.mean(axis=0), rng.normal(size=2), 5 * rng.normal()) + polygon.mean(axis=0)
        if len(polygon) < 3:
            continue
        rr, cc = draw_polygon(polygon[:, 1], polygon[:, 0], (100, 100))
        r0, c0, covered = polygon_pixels(polygon, (100, 100))
        rows, cols = np.nonzero(covered)
        assert set(zip(rr.tolist(), cc.tolist())) == set(zip((rows + r0).tolist(), (cols + c0).tolist()))


def test_straight_runs_of_a_traced_outline_become_one_edge():
    from cellframe.io.outlines import drop_collinear

    square = np.array([[0, 0], [1, 0], [2, 0], [2, 1], [2, 2], [1, 2], [0, 2], [0, 1], [0, 0]], float)
    thinned = drop_collinear(square)
    assert thinned.tolist() == [[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]
    assert polygon_area(thinned) == polygon_area(square)
    staircase = np.array([[0, 0], [1, 0], [1, 1], [2, 1], [2, 2], [0, 2], [0, 0]], float)
    assert drop_collinear(staircase).tolist() == staircase.tolist()  # every vertex a corner: all kept
