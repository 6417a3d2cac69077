import numpy as np

from cellframe.model.pairs import components, interpenetrating, overlapping_pairs, required_separation


def test_overlapping_pairs_matches_brute_force():
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 200, (300, 2))
    r = rng.uniform(3, 9, 300)
    got = {tuple(p) for p in overlapping_pairs(xy, r)}
    d = np.linalg.norm(xy[:, None] - xy[None], axis=2)
    expected = {(i, j) for i in range(300) for j in range(i + 1, 300) if d[i, j] < r[i] + r[j]}
    assert got == expected and len(expected) > 10


def test_required_separation_makes_spheres_touch():
    xy = np.array([[0.0, 0.0], [6.0, 0.0]])
    r = np.array([5.0, 5.0])
    pairs = overlapping_pairs(xy, r)
    s = required_separation(xy, r, pairs)
    assert s[0] == np.sqrt(100 - 36)
    centers = np.array([[0, 0, 0.0], [6, 0, s[0]]])
    assert not interpenetrating(centers, r, pairs).any()
    centers[1, 2] -= 0.01
    assert interpenetrating(centers, r, pairs).all()


def test_components_of_a_chain_and_an_isolated_nucleus():
    pairs = np.array([[0, 1], [1, 2]])
    comp = components(4, pairs)
    assert comp[0] == comp[1] == comp[2] != comp[3]
