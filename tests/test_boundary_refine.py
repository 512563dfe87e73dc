"""The boundary refinement (hyperspy_symseg._boundary_refine): kernels against slow references,
the rule on a toy labelling, and end to end on a simulated particle on vacuum."""

import math
import warnings

import dask.array as da
import hyperspy.api as hs
import numpy as np
import pytest
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

import hyperspy_symseg as ss
from hyperspy_symseg import metrics
from hyperspy_symseg import simulate as sim
from hyperspy_symseg._boundary_refine import (
    VARIANCE_RATIO, BoundaryRefiner, allowed_moves, band_mask, boundary_points, fit_discriminant, near_labels,
)


def _labels(seed=0):
    rng = np.random.default_rng(seed)
    labels = np.zeros((30, 34), dtype=np.uint8)
    yy, xx = np.mgrid[:30, :34]
    labels[np.hypot(yy - 14, xx - 15) < 9] = 1
    labels[22:, 26:] = 2
    labels[rng.random(labels.shape) < 0.01] = 2
    return labels


def test_band_and_neighbourhoods_match_brute_force():
    labels = _labels()
    ny, nx = labels.shape
    edge = [(y, x) for y in range(ny) for x in range(nx)
            if any(0 <= y + dy < ny and 0 <= x + dx < nx and labels[y + dy, x + dx] != labels[y, x]
                   for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)))]
    expected_edges = np.zeros(labels.shape, dtype=bool)
    expected_edges[tuple(np.array(edge).T)] = True
    np.testing.assert_array_equal(boundary_points(labels), expected_edges)
    e = np.array(edge, dtype=float)
    yy, xx = np.mgrid[:ny, :nx]
    depth = np.sqrt(((yy[..., None] - e[:, 0]) ** 2 + (xx[..., None] - e[:, 1]) ** 2).min(axis=-1))
    for radius in (0.0, 1.5, 3.0):
        np.testing.assert_array_equal(band_mask(labels, radius), depth <= radius)
    assert not band_mask(np.zeros((5, 6), dtype=np.uint8), 2.0).any()  # one label: no boundary
    for r in (1, 3):
        got = near_labels(labels, r, 3)
        for y in range(ny):
            for x in range(nx):
                disc = (yy - y) ** 2 + (xx - x) ** 2 <= r * r
                np.testing.assert_array_equal(got[y, x], [bool((labels[disc] == c).any()) for c in range(3)])


def test_discriminant_is_sklearns_shrunk_lda():
    rng = np.random.default_rng(2)
    means = rng.normal(0, 2, (3, 6))
    y = rng.integers(0, 3, 600)
    X = means[y] + rng.normal(0, 1, (600, 6)) * np.array([1, 3, 0.2, 1, 1, 5])
    X[:, 4] = 1.5  # a constant channel (the zero shift of a Pearson map)
    weights, bias = fit_discriminant(X, y, 3)
    lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(X, y)
    np.testing.assert_allclose(X @ weights.T + bias, lda.decision_function(X), rtol=1e-6, atol=1e-6)
    # a class without samples never wins
    weights, bias = fit_discriminant(X[y != 1], y[y != 1], 3)
    assert bias[1] == -np.inf and not ((X @ weights.T + bias).argmax(axis=1) == 1).any()


def test_moves_only_from_the_higher_variance_pattern():
    v = np.array([1.0, 0.1, 0.45])
    expected = np.array([[False, True, False], [False, False, False], [False, False, False]])
    np.testing.assert_array_equal(allowed_moves(v), expected)
    assert allowed_moves(np.array([VARIANCE_RATIO, 1.0]))[0, 1]
    assert not allowed_moves(np.array([0.0, 0.0])).any()


def _refine_reference(refiner, labels, features, variance):
    """Point by point, the rule of the module docstring."""
    radius = refiner.radius
    ny, nx = labels.shape
    yy, xx = np.mgrid[:ny, :nx]
    band = band_mask(labels, refiner.reach / refiner.stride)
    out = labels.copy()
    for y in range(ny):
        for x in range(nx):
            disc = (yy - y) ** 2 + (xx - x) ** 2 <= radius * radius
            present = sorted(set(labels[disc].tolist()))
            own = int(labels[y, x])
            if not band[y, x] or len(present) != 2:
                continue
            other = [c for c in present if c != own][0]
            v_own, v_other = refiner.variances[own], refiner.variances[other]
            if not (v_own > 0 and v_own >= VARIANCE_RATIO * v_other):
                continue
            scores = features[y, x] @ refiner.weights.T + refiner.bias
            midpoint = 0.5 * (v_own + v_other)
            geometric = math.sqrt(v_own * v_other)
            overlayer = refiner.overlayer is not None and refiner.overlayer[own, other]
            if (scores[other] > scores[own] and variance[y, x] < midpoint) or (overlayer and variance[y, x] < geometric):
                out[y, x] = other
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_refine_follows_the_rule(seed):
    rng = np.random.default_rng(seed)
    labels = _labels(seed)
    features = rng.normal(0, 1, labels.shape + (4,))
    variance = rng.uniform(0, 1, labels.shape)
    overlayer = np.zeros((3, 3), dtype=bool)
    overlayer[0, 1] = True  # 0 -> 1 may go by the variance alone; 2 -> 1 (also allowed) may not
    refiner = BoundaryRefiner(None, rng.normal(0, 1, (3, 4)), rng.normal(0, 0.5, 3), np.array([1.0, 0.05, 0.6]),
                              patch=4, reach=7.0, stride=3, overlayer=overlayer)
    calls = []

    def fine(i0, i1, j0, j1):
        calls.append((i0, i1, j0, j1))
        return features[i0:i1, j0:j1], variance[i0:i1, j0:j1]

    got = refiner.refine(labels, fine)
    expected = _refine_reference(refiner, labels, features, variance)
    np.testing.assert_array_equal(got, expected)
    assert (got != labels).any() and len(calls) == 1
    # both clauses act: moves against the discriminant (variance below the geometric mean) and with it
    scores = features @ refiner.weights.T + refiner.bias
    moved = got != labels
    prefers = np.take_along_axis(scores, got[..., None].astype(int), -1)[..., 0] > np.take_along_axis(
        scores, labels[..., None].astype(int), -1)[..., 0]
    assert (moved & prefers).any() and (moved & ~prefers).any()
    assert np.all(labels[moved & ~prefers] == 0)  # only the overlayer pair moves against the discriminant
    # without the overlayer pairs: the discriminant's moves only
    plain = BoundaryRefiner(None, refiner.weights, refiner.bias, refiner.variances, 4, 7.0, 3)
    got_plain = plain.refine(labels, fine)
    np.testing.assert_array_equal(got_plain, _refine_reference(plain, labels, features, variance))
    moved_plain = got_plain != labels
    assert moved_plain.any() and np.all(np.take_along_axis(scores, got_plain[..., None].astype(int), -1)[..., 0][
        moved_plain] > np.take_along_axis(scores, labels[..., None].astype(int), -1)[..., 0][moved_plain])
    # a window of a larger grid: the same labels there
    window = (slice(5, 21), slice(3, 30))
    np.testing.assert_array_equal(refiner.refine(labels, fine, window), expected[window])
    # no pair with a variance contrast: nothing is computed
    flat = BoundaryRefiner(None, refiner.weights, refiner.bias, np.array([1.0, 0.9, 0.8]), 4, 7.0, 3)
    calls.clear()
    np.testing.assert_array_equal(flat.refine(labels, fine), labels)
    assert not calls


@pytest.fixture(scope="module")
def particle():
    """A hexagonal particle on vacuum at 25 px per period, 30 counts (dilated without the refinement)."""
    return sim.particle_on_vacuum((256, 256), period_px=25, random_state=1, peak_counts=30)


def _segment(image, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ss.symmetry_segmentation(image, 2, random_state=0, show_progressbar=False, **kw)


def test_refinement_undoes_the_particle_dilation(particle):
    plain = _segment(particle.image, refine_boundaries=False)
    refined = _segment(particle.image)
    assert refined.parameters["refine_boundaries"] and not plain.parameters["refine_boundaries"]
    assert refined.model.refiner is not None and plain.model.refiner is None
    a_plain = metrics.matched_accuracy(plain.labels.data, particle.labels)
    a_refined = metrics.matched_accuracy(refined.labels.data, particle.labels)
    assert a_refined >= a_plain + 0.015, (a_plain, a_refined)  # measured 0.906 -> 0.932
    # the particle shrinks: its pattern is the larger-variance one, and it only loses points
    particle_label = int(np.argmax(refined.model.refiner.variances))
    moved = plain.labels.data != refined.labels.data
    assert moved.any() and (plain.labels.data[moved] == particle_label).all()


def test_every_route_refines_alike(particle, tmp_path):
    g = _segment(particle.image)
    expected = g.labels.data
    assert g.model.refiner is not None
    np.testing.assert_array_equal(g.predict(particle.image).data, expected)
    lazy = hs.signals.Signal2D(da.from_array(np.asarray(particle.image.data), chunks=(100, 90))).as_lazy()
    np.testing.assert_array_equal(np.asarray(g.predict(lazy).data.compute()), expected)
    g.save_model(tmp_path / "model.hspy")
    loaded = ss.load_model(tmp_path / "model.hspy")
    assert loaded.refiner is not None and loaded.halo == g.model.halo
    np.testing.assert_array_equal(ss.segment_with_model(particle.image, loaded).data, expected)
    # same seed, same labels
    np.testing.assert_array_equal(_segment(particle.image).labels.data, expected)


def test_no_refinement_between_crystals_or_for_explicit_small_patches(monkeypatch):
    from hyperspy_symseg import _auto_stage

    def no_fine_descriptor(*args, **kwargs):
        raise AssertionError("the fine descriptor is computed although no pair has a variance contrast")

    grains = sim.two_grain_image((192, 192), period_px=18, random_state=0, peak_counts=30)
    with monkeypatch.context() as m:
        m.setattr(_auto_stage, "fine_descriptor", no_fine_descriptor)
        g = _segment(grains.image)
    assert g.parameters["patch_x"] >= 12 and g.model.refiner is None  # variances within VARIANCE_RATIO
    small = sim.particle_on_vacuum((160, 160), period_px=8, random_state=0, peak_counts=30)
    g = _segment(small.image)
    assert g.parameters["patch_x"] < 12 and g.model.refiner is None


def test_refine_boundaries_must_be_a_bool(particle):
    with pytest.raises(TypeError, match="refine_boundaries"):
        _segment(particle.image, refine_boundaries="yes")


def test_overlayer_pairs_come_from_the_crystallinity(particle, tmp_path):
    """The variance-alone clause is for a high-variance pattern that is clearly less
    crystalline than its neighbour (an amorphous overlayer), never for a crystal next to
    something dimmer; the pairs are saved with the model."""
    import dataclasses

    from hyperspy_symseg._boundary_refine import OVERLAYER_CRYSTALLINITY, fit_refiner

    rng = np.random.default_rng(0)
    labels = np.zeros((24, 24), dtype=np.int64)
    labels[:, 12:] = 1
    features = rng.normal(0, 1, labels.shape + (3,)) + labels[..., None]
    variances = np.where(labels == 0, 10.0, 1.0) * rng.uniform(0.9, 1.1, labels.shape)

    def fitted(c0, c1):
        crystallinity = None if c0 is None else np.where(labels == 0, c0, c1)
        return fit_refiner(None, 4, 6.0, 3, [labels], [features], [variances], 2, 0,
                           None if crystallinity is None else [crystallinity])

    assert fitted(None, None).overlayer is None
    from hyperspy_symseg._boundary_refine import pattern_variances

    interior = ~band_mask(labels, 6.0 / 3)
    expected = [np.median(variances[interior & (labels == k)]) for k in (0, 1)]
    np.testing.assert_array_equal(pattern_variances([labels], [variances], 6.0, 3, 2), expected)
    np.testing.assert_array_equal(fitted(None, None).variances, expected)
    assert pattern_variances([np.zeros_like(labels)], [variances], 6.0, 3, 2) is None  # pattern 1 absent
    overlayer = fitted(0.9 * OVERLAYER_CRYSTALLINITY, 1.0).overlayer
    np.testing.assert_array_equal(overlayer, [[False, True], [False, False]])
    assert not fitted(1.1 * OVERLAYER_CRYSTALLINITY, 1.0).overlayer.any()
    assert not fitted(1.0, 0.01).overlayer.any()  # the crystal is the higher-variance pattern
    assert not fitted(-0.1, 0.0).overlayer.any()  # no crystal on either side
    # saved and loaded with the model
    g = _segment(particle.image)
    assert g.model.refiner.overlayer is not None and not g.model.refiner.overlayer.any()  # crystal on vacuum
    pairs = np.zeros((2, 2), dtype=bool)
    pairs[1, 0] = True
    g.model.refiner = dataclasses.replace(g.model.refiner, overlayer=pairs)
    g.save_model(tmp_path / "overlayer.hspy")
    loaded = ss.load_model(tmp_path / "overlayer.hspy").refiner.overlayer
    assert loaded.dtype == bool
    np.testing.assert_array_equal(loaded, pairs)


def test_a_stack_refines_every_frame_as_predict_does(particle):
    """Fitted on a stack (the refiner trained on up to four of its frames), every frame's
    labels are those predict and a lazy stack give it."""
    # the particle moved (a mirror would be another orientation of the crystal: another pattern)
    image = np.asarray(particle.image.data)
    frames = np.stack([image, np.roll(image, (30, -20), axis=(0, 1)), np.roll(image, (-25, 35), axis=(0, 1))])
    stack = hs.signals.Signal2D(frames)
    g = _segment(stack)
    assert g.model.refiner is not None
    fitted = np.asarray(g.labels.data)
    assert fitted.shape == frames.shape
    for f in range(len(frames)):
        np.testing.assert_array_equal(np.asarray(g.predict(hs.signals.Signal2D(frames[f])).data), fitted[f])
    lazy = hs.signals.Signal2D(da.from_array(frames, chunks=(1, 128, 100))).as_lazy()
    np.testing.assert_array_equal(np.asarray(g.predict(lazy).data.compute()), fitted)
    # every frame holds the particle: the refinement acts on each
    refined_off = np.asarray(_segment(stack, refine_boundaries=False).labels.data)
    assert all((fitted[f] != refined_off[f]).any() for f in range(len(frames)))
