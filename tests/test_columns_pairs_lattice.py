"""Close pairs of a lattice split along the motif's shared pair vector (:mod:`hyperspy_symseg.columns._motif`)."""

import math

import numpy as np
import pytest

from hyperspy_symseg import simulate as sm
from hyperspy_symseg.columns import _locate, _motif, locate_columns

PIXEL = 0.02


def reference_shared(vectors, tol_deg, share):
    """Slow: the axis (mod 180) within ``tol_deg`` of the most vectors, by brute force over the vectors."""
    v = [tuple(x) for x in vectors]
    ax = [math.degrees(math.atan2(y, x)) % 180.0 for y, x in v]

    def close(a, b):
        d = abs(a - b) % 180.0
        return min(d, 180.0 - d) <= tol_deg

    counts = [sum(close(a, b) for b in ax) for a in ax]
    best = ax[counts.index(max(counts))]
    near = [i for i, a in enumerate(ax) if close(a, best)]
    if len(near) < share * len(v):
        return None
    # mean axis of the near ones (doubled angles)
    s = sum(math.sin(2 * math.radians(ax[i])) for i in near)
    c = sum(math.cos(2 * math.radians(ax[i])) for i in near)
    axis = 0.5 * math.atan2(s, c)
    sep = float(np.median([math.hypot(*v[i]) for i in near]))
    return sep * np.array([math.sin(axis), math.cos(axis)])


def test_shared_pair_vector_matches_reference_and_ignores_sign():
    rng = np.random.default_rng(1)
    t = np.radians(83.0 + rng.normal(0, 3, 60))
    sep = 3.3 + rng.normal(0, 0.1, 60)
    sign = rng.choice([-1.0, 1.0], 60)
    v = np.column_stack([sign * sep * np.sin(t), sign * sep * np.cos(t)])
    # a third of the splits along a wrong axis (turned by their neighbours)
    t2 = np.radians(rng.uniform(30, 60, 25))
    v = np.vstack([v, np.column_stack([3.0 * np.sin(t2), 3.0 * np.cos(t2)])])
    got = _motif.shared_pair_vector(v)
    ref = reference_shared(v, _motif.PAIR_ANGLE_TOL, _motif.PAIR_SHARE)
    assert got is not None and ref is not None
    # equal up to the sign of the axis
    assert min(np.abs(got - ref).max(), np.abs(got + ref).max()) < 1e-9
    assert abs(math.degrees(math.atan2(got[0], got[1])) % 180.0 - 83.0) < 1.5
    assert abs(np.hypot(*got) - 3.3) < 0.1
    assert np.array_equal(v, np.vstack([v[:60], v[60:]]))  # input not modified


def test_shared_pair_vector_none_without_a_common_axis():
    t = np.radians(np.arange(0.0, 180.0, 6.0))
    v = np.column_stack([3.0 * np.sin(t), 3.0 * np.cos(t)])
    assert _motif.shared_pair_vector(v) is None
    assert reference_shared(v, _motif.PAIR_ANGLE_TOL, _motif.PAIR_SHARE) is None
    assert _motif.shared_pair_vector(v[:2]) is None  # too few splits


def test_pair_agrees_angle_and_length():
    shared = np.array([3.0, 0.0])
    v = np.array([[3.0, 0.0], [-3.0, 0.0], [3.0, 3.0 * math.tan(math.radians(20))], [1.5, 0.0], [3.6, 0.4],
                  [np.nan, 0.0]])
    assert _motif.pair_agrees(v, shared).tolist() == [True, True, False, False, True, False]


def dumbbells(counts, seed, shape=(128, 128), sep=3.3, sigma=2.2):
    """Dumbbell_110 lattice (pairs ``sep`` px apart, 1.5 widths), as the column benchmark builds it."""
    lat = sm.Lattice.dumbbell_110(4 * sep * PIXEL, rotation=7.0)
    scene = sm.Scene(shape, PIXEL, [sm.Region(lat, name="crystal")])
    probe = sm.GaussianProbe(fwhm=sigma * PIXEL * 2.0 * math.sqrt(2.0 * math.log(2.0)))
    sim = sm.simulate_image(scene, probe, peak_counts=counts, background=[sm.ConstantBackground(0.1)],
                            random_state=seed)
    return sim.image.data, sim.positions / PIXEL


def f1(found, truth, tol):
    from scipy.spatial import cKDTree

    d, j = cKDTree(found).query(truth, distance_upper_bound=tol)
    hit = np.isfinite(d)
    # each found column used once
    tp = len(np.unique(j[hit]))
    return 2 * tp / (len(found) + len(truth))


@pytest.fixture(scope="module")
def close_pairs():
    img, truth = dumbbells(1000, seed=5, shape=(192, 192))
    return img, truth


def test_close_pairs_split_along_the_lattice_axis(close_pairs):
    img, truth = close_pairs
    res = locate_columns(img, 3.3)
    found = np.column_stack([res["y"], res["x"]])
    score = f1(found, truth, 1.1)
    # without the shared pair vector (main before): F1 0.68 here, pairs split
    # across a wrong axis or not at all
    assert score > 0.8, score
    sp = res["split"] > 0
    from scipy.spatial import cKDTree

    _, j = cKDTree(found).query(found[sp], k=2)
    v = found[j[:, 1]] - found[sp]
    ang = np.degrees(np.arctan2(v[:, 0], v[:, 1])) % 180.0
    _, jt = cKDTree(truth).query(truth, k=2)
    vt = truth[jt[:, 1]] - truth
    at = np.median(np.degrees(np.arctan2(vt[:, 0], vt[:, 1])) % 180.0)
    off = np.abs((ang - at + 90.0) % 180.0 - 90.0)
    assert np.mean(off < 15.0) > 0.97, np.mean(off < 15.0)


def test_without_the_shared_vector_pairs_turn(close_pairs, monkeypatch):
    """The test above can fail: the same image split without the lattice's pair vector."""
    img, truth = close_pairs
    monkeypatch.setattr(_locate, "shared_pair_vector", lambda v: None)
    monkeypatch.setattr(_locate, "elongation_vector", lambda p: None)
    res = locate_columns(img, 3.3)
    assert f1(np.column_stack([res["y"], res["x"]]), truth, 1.1) < 0.75


def test_shared_pair_vector_of_many_splits_in_bounded_memory():
    """30,000 splits (a 1024^2 image of a 5.6 x 15.7 px lattice gave that many): the
    n x n table of angles once took 21 GB; the blocked counts equal the one-shot table's."""
    import tracemalloc

    rng = np.random.default_rng(2)
    n = 30000
    t = np.radians(np.where(rng.random(n) < 0.7, 83.0 + rng.normal(0, 3, n), rng.uniform(0, 180, n)))
    v = np.column_stack([3.3 * np.sin(t), 3.3 * np.cos(t)])
    tracemalloc.start()
    got = _motif.shared_pair_vector(v)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 200 * 2**20, peak
    assert got is not None and abs(math.degrees(math.atan2(got[0], got[1])) % 180.0 - 83.0) < 1.5
    # the blocked support equals the one-shot comparison table (small n)
    ang2 = 2.0 * np.arctan2(v[:700, 0], v[:700, 1])
    tol = 2.0 * math.radians(_motif.PAIR_ANGLE_TOL)
    table = (np.abs(np.angle(np.exp(1j * (ang2[:, None] - ang2[None, :])))) <= tol).sum(axis=1)
    np.testing.assert_array_equal(_motif._support(ang2, ang2, tol, block=64), table)
