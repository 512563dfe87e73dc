"""Tests of hyperspy_symseg.metrics against hand-computed values and slow references."""

import ast
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from hyperspy_symseg import metrics as M

# --------------------------------------------------------------------------- #
# slow, obviously correct references
# --------------------------------------------------------------------------- #


def brute_force_accuracy(pred, true):
    """Best accuracy over every injective map of predicted labels into true labels
    (unmatched predicted labels count as wrong)."""
    pred, true = np.asarray(pred).ravel(), np.asarray(true).ravel()
    pl, tl = sorted(set(pred.tolist())), sorted(set(true.tolist()))
    best = 0
    k = min(len(pl), len(tl))
    for ps in itertools.permutations(pl, k):
        for ts in itertools.permutations(tl, k):
            correct = sum(int(np.sum((pred == a) & (true == b))) for a, b in zip(ps, ts))
            best = max(best, correct)
    return best / pred.size


def brute_force_ari(pred, true):
    """Rand index over all pairs of pixels, adjusted with its permutation expectation
    from the pair counts (direct definition)."""
    pred, true = np.asarray(pred).ravel(), np.asarray(true).ravel()
    n = pred.size
    same_p = same_t = same_both = 0
    for i in range(n):
        for j in range(i + 1, n):
            sp, st = pred[i] == pred[j], true[i] == true[j]
            same_p += sp
            same_t += st
            same_both += sp and st
    total = n * (n - 1) / 2
    expected = same_p * same_t / total
    maximum = (same_p + same_t) / 2
    if maximum == expected:
        return 1.0
    return (same_both - expected) / (maximum - expected)


def brute_force_boundary(labels):
    lab = np.asarray(labels)
    ny, nx = lab.shape
    out = np.zeros((ny, nx), dtype=bool)
    for i in range(ny):
        for j in range(nx):
            for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                a, b = i + di, j + dj
                if 0 <= a < ny and 0 <= b < nx and lab[a, b] != lab[i, j]:
                    out[i, j] = True
    return out


def brute_force_boundary_prf(pred, true, tol):
    pb, tb = brute_force_boundary(pred), brute_force_boundary(true)
    P, T = np.argwhere(pb), np.argwhere(tb)
    if len(P) == 0 and len(T) == 0:
        return 1.0, 1.0, 1.0
    if len(P) == 0 or len(T) == 0:
        return 0.0, 0.0, 0.0
    prec = np.mean([min(math.dist(p, t) for t in T) <= tol for p in P])
    rec = np.mean([min(math.dist(t, p) for p in P) <= tol for t in T])
    f = 0.0 if prec + rec == 0 else 2 * prec * rec / (prec + rec)
    return prec, rec, f


# --------------------------------------------------------------------------- #
# hand-computed cases
# --------------------------------------------------------------------------- #
TRUE_2x4 = np.array([[0, 0, 1, 1], [0, 0, 1, 1]])
PRED_2x4 = np.array([[0, 0, 0, 1], [0, 0, 0, 1]])


def test_contingency_table_by_hand():
    table, pl, tl = M.contingency_table(PRED_2x4, TRUE_2x4)
    np.testing.assert_array_equal(table, [[4, 2], [0, 2]])
    np.testing.assert_array_equal(pl, [0, 1])
    np.testing.assert_array_equal(tl, [0, 1])


def test_hand_case_accuracy_iou_ari():
    # overlaps: pred0/true0 = 4, pred0/true1 = 2, pred1/true1 = 2
    assert M.matched_accuracy(PRED_2x4, TRUE_2x4) == pytest.approx(6 / 8)
    iou = M.region_iou(PRED_2x4, TRUE_2x4)
    assert iou[0] == pytest.approx(4 / 6)  # |p0 & t0| / |p0 | t0| = 4 / (6 + 4 - 4)
    assert iou[1] == pytest.approx(2 / 4)  # 2 / (2 + 4 - 2)
    # ARI: sum C(n_ij,2) = 6+1+1 = 8; rows C(6,2)+C(2,2) = 16; cols 6+6 = 12; C(8,2) = 28
    # E = 16*12/28 = 6.857142..., max = 14, ARI = (8 - E)/(14 - E) = 0.16
    assert M.adjusted_rand_index(PRED_2x4, TRUE_2x4) == pytest.approx(0.16, abs=1e-12)
    assert M.match_labels(PRED_2x4, TRUE_2x4) == {0: 0, 1: 1}


def test_matching_prefers_largest_overlap_not_identity():
    true = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    pred = np.array([5, 5, 5, 9, 9, 7, 7, 7])
    # 5->0 (3), 9->1 (2), 7->2 (2): 7 of 8 correct
    assert M.match_labels(pred, true) == {5: 0, 9: 1, 7: 2}
    assert M.matched_accuracy(pred, true) == pytest.approx(7 / 8)
    np.testing.assert_array_equal(M.matched_prediction(pred, true), [0, 0, 0, 1, 1, 2, 2, 2])


def test_more_predicted_than_true_labels():
    true = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    pred = np.array([0, 0, 2, 2, 1, 1, 1, 1])
    mapping = M.match_labels(pred, true)
    assert len(mapping) == 2 and mapping[1] == 1
    assert M.matched_accuracy(pred, true) == pytest.approx(6 / 8)
    iou = M.region_iou(pred, true)
    assert iou[1] == pytest.approx(1.0)
    assert iou[0] == pytest.approx(2 / 4)
    relab = M.matched_prediction(pred, true)
    assert set(np.unique(relab)) - {0, 1} == {2}  # the unmatched label becomes max(true) + 1
    assert (relab == true).sum() == 6


def test_fewer_predicted_than_true_labels():
    true = np.array([0, 0, 1, 1, 2, 2, 2, 2])
    pred = np.zeros(8, dtype=int)
    assert M.matched_accuracy(pred, true) == pytest.approx(4 / 8)
    assert M.match_labels(pred, true) == {0: 2}
    iou = M.region_iou(pred, true)
    assert iou == {0: 0.0, 1: 0.0, 2: pytest.approx(4 / 8)}
    # ARI of a single predicted cluster is exactly 0 (sum_ij = sum_b, sum_a = C(n, 2))
    assert M.adjusted_rand_index(pred, true) == pytest.approx(0.0, abs=1e-12)


def test_boundary_by_hand():
    true = np.zeros((3, 8), dtype=int)
    true[:, 4:] = 1  # boundary pixels: columns 3 and 4
    pred = np.zeros((3, 8), dtype=int)
    pred[:, 6:] = 1  # boundary pixels: columns 5 and 6
    np.testing.assert_array_equal(np.flatnonzero(M.boundary_map(true)[0]), [3, 4])
    # tolerance 1: pred col 5 is 1 px from true col 4 (ok), col 6 is 2 px (miss) -> P = 1/2;
    # true col 4 is 1 px from pred col 5 (ok), col 3 is 2 px (miss) -> R = 1/2
    s = M.boundary_scores(pred, true, tolerance=1)
    assert s == {"precision": 0.5, "recall": 0.5, "f_score": 0.5}
    assert M.boundary_f_score(pred, true, tolerance=2) == 1.0
    assert M.boundary_f_score(pred, true, tolerance=0) == 0.0
    # asymmetric case: prediction has an extra boundary far away
    pred2 = true.copy()
    pred2[:, 0] = 7  # boundary at columns 0, 1 as well
    s2 = M.boundary_scores(pred2, true, tolerance=0.5)
    assert s2["recall"] == 1.0
    assert s2["precision"] == pytest.approx(6 / 12)
    assert s2["f_score"] == pytest.approx(2 * 0.5 * 1 / 1.5)


def test_boundary_uses_4_neighbourhood():
    lab = np.array([[0, 1], [1, 0]])
    # every pixel has a 4-neighbour with another label
    assert M.boundary_map(lab).all()
    lab = np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]])
    expected = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)  # diagonals are not boundary
    np.testing.assert_array_equal(M.boundary_map(lab), expected)


def test_boundary_edge_cases():
    flat = np.zeros((5, 5), dtype=int)
    assert M.boundary_scores(flat, flat) == {"precision": 1.0, "recall": 1.0, "f_score": 1.0}
    split = flat.copy()
    split[:, 3:] = 1
    assert M.boundary_scores(flat, split) == {"precision": 0.0, "recall": 0.0, "f_score": 0.0}
    assert M.boundary_scores(split, flat)["f_score"] == 0.0


# --------------------------------------------------------------------------- #
# properties
# --------------------------------------------------------------------------- #
def _random_regions(rng, shape=(40, 50), k=3):
    """A smooth-ish random label image: nearest of k random seeds."""
    seeds = rng.uniform(0, 1, (k, 2)) * shape
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    d = (yy[..., None] - seeds[:, 0]) ** 2 + (xx[..., None] - seeds[:, 1]) ** 2
    return d.argmin(axis=-1)


def test_perfect_prediction_scores_one():
    true = _random_regions(np.random.default_rng(0), k=4)
    pred = np.array([10, 3, 7, 1])[true]  # any relabelling is still perfect
    s = M.segmentation_scores(pred, true)
    assert s["accuracy"] == 1.0
    assert s["ari"] == 1.0
    assert s["mean_iou"] == 1.0
    assert all(v == 1.0 for v in s["iou"].values())
    assert s["boundary_f_score"] == 1.0
    assert s["mapping"] == {10: 0, 3: 1, 7: 2, 1: 3}
    assert s["n_pred"] == 4 and s["n_true"] == 4


@pytest.mark.parametrize("seed", range(4))
def test_permutation_invariance(seed):
    rng = np.random.default_rng(seed)
    true = _random_regions(rng, k=3)
    pred = _random_regions(rng, k=4)
    perm = rng.permutation(4) + 20
    s1 = M.segmentation_scores(pred, true)
    s2 = M.segmentation_scores(perm[pred], true)
    for key in ("accuracy", "ari", "mean_iou", "boundary_f_score", "boundary_precision", "boundary_recall"):
        assert s1[key] == pytest.approx(s2[key], abs=1e-12)
    assert s1["iou"] == pytest.approx(s2["iou"])
    # a perfect-but-relabelled prediction stays perfect
    assert M.matched_accuracy(perm[true], true) == 1.0


@pytest.mark.parametrize("seed", range(6))
def test_hungarian_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    n_p, n_t = rng.integers(1, 5, 2)
    true = rng.integers(0, n_t, 30)
    pred = rng.integers(0, n_p, 30) * 3 - 2
    assert M.matched_accuracy(pred, true) == pytest.approx(brute_force_accuracy(pred, true), abs=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_ari_matches_sklearn_and_pair_counting(seed):
    rng = np.random.default_rng(seed)
    n_p, n_t = rng.integers(1, 7, 2)
    true = rng.integers(0, n_t, 500)
    pred = rng.integers(0, n_p, 500)
    assert M.adjusted_rand_index(pred, true) == pytest.approx(adjusted_rand_score(true, pred), abs=1e-12)
    small_t, small_p = true[:40], pred[:40]
    assert M.adjusted_rand_index(small_p, small_t) == pytest.approx(brute_force_ari(small_p, small_t), abs=1e-12)


def test_ari_correlated_and_special_cases():
    rng = np.random.default_rng(1)
    true = _random_regions(rng, (60, 60), 3)
    noisy = true.copy()
    flip = rng.random(true.shape) < 0.2
    noisy[flip] = rng.integers(0, 3, flip.sum())
    ari = M.adjusted_rand_index(noisy, true)
    assert ari == pytest.approx(adjusted_rand_score(true.ravel(), noisy.ravel()), abs=1e-12)
    assert 0.3 < ari < 0.95
    one = np.zeros(10, dtype=int)
    assert M.adjusted_rand_index(one, one) == 1.0 == adjusted_rand_score(one, one)
    singletons = np.arange(10)
    assert M.adjusted_rand_index(singletons, singletons) == 1.0
    assert M.adjusted_rand_index(one, singletons) == pytest.approx(adjusted_rand_score(singletons, one))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("tol", [0, 1, 1.5, 3])
def test_boundary_scores_equal_brute_force(seed, tol):
    rng = np.random.default_rng(seed)
    true = _random_regions(rng, (14, 17), 3)
    pred = _random_regions(rng, (14, 17), int(rng.integers(1, 4)))
    p, r, f = brute_force_boundary_prf(pred, true, tol)
    np.testing.assert_array_equal(M.boundary_map(pred), brute_force_boundary(pred))
    s = M.boundary_scores(pred, true, tolerance=tol)
    assert s["precision"] == pytest.approx(p, abs=1e-12)
    assert s["recall"] == pytest.approx(r, abs=1e-12)
    assert s["f_score"] == pytest.approx(f, abs=1e-12)


# --------------------------------------------------------------------------- #
# series, signals, input handling
# --------------------------------------------------------------------------- #
def test_series_per_frame_and_pooled():
    rng = np.random.default_rng(3)
    true = np.stack([_random_regions(rng, (20, 24), 2) for _ in range(3)])
    pred = true.copy()
    pred[1] = 1 - pred[1]  # frame 1 relabelled: perfect per frame, wrong under the global matching
    pred[2, :, :5] = 1 - pred[2, :, :5]  # frame 2 partly wrong
    s = M.segmentation_scores(pred, true, per_frame=True)
    pf = s["per_frame"]
    assert set(pf) == {"accuracy", "ari", "mean_iou", "boundary_precision", "boundary_recall", "boundary_f_score"}
    assert pf["accuracy"].shape == (3,)
    assert pf["accuracy"][0] == 1.0 and pf["accuracy"][1] == 1.0
    assert pf["accuracy"][2] == pytest.approx(M.matched_accuracy(pred[2], true[2]))
    assert pf["ari"][1] == 1.0
    assert pf["boundary_f_score"][1] == 1.0
    assert pf["ari"][2] == pytest.approx(adjusted_rand_score(true[2].ravel(), pred[2].ravel()))
    # pooled: one matching for all frames
    assert s["accuracy"] == pytest.approx(M.matched_accuracy(pred.ravel(), true.ravel()))
    assert s["accuracy"] < 1.0
    assert s["ari"] == pytest.approx(adjusted_rand_score(true.ravel(), pred.ravel()))
    # pooled boundary counts = sum over frames of the per-frame counts
    b = M.boundary_scores(pred, true)
    assert s["boundary_f_score"] == pytest.approx(b["f_score"])
    per = [M.boundary_scores(pred[k], true[k]) for k in range(3)]
    np.testing.assert_allclose(pf["boundary_precision"], [x["precision"] for x in per])
    # without per_frame, no per-frame entry
    assert "per_frame" not in M.segmentation_scores(pred, true)


def test_boundaries_do_not_cross_frames():
    true = np.zeros((2, 6, 6), dtype=int)
    true[1] = 1  # constant frames with different labels: no spatial boundary anywhere
    assert not M.boundary_map(true).any()
    assert M.boundary_f_score(true, true) == 1.0


def test_accepts_hyperspy_signals_and_float_labels():
    import hyperspy.api as hs

    rng = np.random.default_rng(7)
    true = _random_regions(rng, (30, 30), 3)
    pred = _random_regions(rng, (30, 30), 3)
    expected = M.segmentation_scores(pred, true)
    got = M.segmentation_scores(hs.signals.Signal2D(pred), hs.signals.Signal2D(true.astype(np.int32)))
    assert got["accuracy"] == expected["accuracy"]
    assert got["ari"] == expected["ari"]
    assert got["boundary_f_score"] == expected["boundary_f_score"]
    assert M.matched_accuracy(pred.astype(float), true) == expected["accuracy"]
    lazy = hs.signals.Signal2D(true).as_lazy()
    assert M.adjusted_rand_index(pred, lazy) == expected["ari"]


def test_bad_input():
    a = np.zeros((4, 4), dtype=int)
    with pytest.raises(ValueError, match="same shape"):
        M.matched_accuracy(a, np.zeros((4, 5), dtype=int))
    with pytest.raises(TypeError, match="integer"):
        M.matched_accuracy(a + 0.5, a)
    with pytest.raises(ValueError, match="NaN"):
        M.adjusted_rand_index(np.full((4, 4), np.nan), a)
    with pytest.raises(ValueError, match="tolerance"):
        M.boundary_f_score(a, a, tolerance=-1)
    with pytest.raises(TypeError, match="tolerance"):
        M.boundary_f_score(a, a, tolerance="2")
    with pytest.raises(ValueError, match="2 dimensions"):
        M.boundary_map(np.zeros(5, dtype=int))
    with pytest.raises(ValueError, match="empty"):
        M.matched_accuracy(np.zeros((0,), int), np.zeros((0,), int))
    with pytest.raises(TypeError, match="integer"):
        M.matched_accuracy(np.array(["a", "b"]), np.array([0, 1]))


def test_metrics_module_does_not_import_hyperspy_at_top_level():
    src = Path(M.__file__).read_text()
    tree = ast.parse(src)
    for node in tree.body:
        if isinstance(node, ast.Import):
            assert not any(a.name.split(".")[0] == "hyperspy" for a in node.names)
        if isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] != "hyperspy"
