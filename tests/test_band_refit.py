"""The band-aware k-means refit (hyperspy_symseg._band_refit) against slow references and a toy scene."""

import numpy as np
import pytest

from hyperspy_symseg import metrics
from hyperspy_symseg._band_refit import MIN_BAND_RATIO, band_patterns, interior_mask
from hyperspy_symseg._learn import SubsampledKMeans


def _interior_reference(labels, width, protected):
    """Point by point: distance to the nearest boundary point, by brute force."""
    ny, nx = labels.shape
    edge = [(y, x) for y in range(ny) for x in range(nx)
            if any(0 <= y + dy < ny and 0 <= x + dx < nx and labels[y + dy, x + dx] != labels[y, x]
                   for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)))]
    if not edge:
        return np.ones(labels.size, dtype=bool)
    e = np.array(edge, dtype=float)
    yy, xx = np.mgrid[:ny, :nx]
    depth = np.sqrt(((yy[..., None] - e[:, 0]) ** 2 + (xx[..., None] - e[:, 1]) ** 2).min(axis=-1))
    keep = np.zeros(labels.shape, dtype=bool)
    for j in np.unique(labels):
        inside = labels == j
        w = min(width, 0.5 * depth[inside].max()) if protected[j] else width
        keep |= inside & (depth > w)
    return keep.ravel()


def _toy(n=96, band=4, noise=0.05, seed=0):
    """Grid labels and features: a disk B (a particle) on a support A, with a linear ramp
    of features across a band at the disk's rim, and a small square C (a hole in the
    support) whose features differ from A's by much less than A's from B's."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:n, :n]
    r = np.hypot(yy - n / 2, xx - n / 2)
    radius = 0.32 * n
    truth = np.where(r < radius, 1, 0)
    truth[n - 20 : n - 4, n - 20 : n - 4] = 2
    f = np.clip((r - (radius - band)) / max(2 * band, 1e-9), 0.0, 1.0)  # 0 in B, 1 in A, a ramp across the rim
    X = np.stack([10.0 * (1.0 - f), np.zeros_like(f)], axis=-1)
    X[truth == 2, 1] = 1.0
    X = X + rng.normal(0.0, noise, X.shape)
    return truth, X.reshape(-1, 2)


@pytest.mark.parametrize("width", [0.5, 2.0, 3.5])
def test_interior_mask_matches_brute_force(width):
    rng = np.random.default_rng(3)
    labels = np.zeros((24, 30), dtype=np.int64)
    labels[:, 17:] = 1
    labels[3:9, 4:12] = 2  # small compact region
    labels[rng.random(labels.shape) < 0.01] = 1  # a few isolated points
    for protected in ([False, False, False], [False, False, True], [True, True, True]):
        got = interior_mask(labels, width, protected=protected)
        np.testing.assert_array_equal(got, _interior_reference(labels, width, protected))
    # frames are independent, in order
    flipped = np.fliplr(labels).copy()
    both = interior_mask(np.stack([labels, flipped]), width)
    np.testing.assert_array_equal(both, np.concatenate([interior_mask(labels, width), interior_mask(flipped, width)]))


def test_a_ring_is_a_band_and_a_compact_region_is_not():
    n = 64
    yy, xx = np.mgrid[:n, :n]
    r = np.hypot(yy - 32, xx - 32)
    previous = (r < 20).astype(np.int64)  # particle on a support
    ring = np.where(r < 17, 1, np.where(r < 23, 2, 0))  # the particle's rim as a third pattern
    flags = band_patterns(ring, previous, 3, width=4.0)
    np.testing.assert_array_equal(flags, [False, False, True])
    # a compact third region along the previous boundary (a triple junction's grain): not a band
    junction = previous.copy()
    junction[12:24, 28:40] = 2
    assert not band_patterns(junction, previous, 3, width=8.0)[2]
    assert MIN_BAND_RATIO > 2.0  # genuine regions reach ratios of about 2


def test_refit_finds_the_small_region_instead_of_the_band():
    truth, X = _toy()
    plain = SubsampledKMeans(3, n_init=5, random_state=0).fit(X)
    aware = SubsampledKMeans(3, n_init=5, random_state=0, grid_shape=truth.shape, band_width=6.0).fit(X)
    # plain k-means cuts the ramp out as a band and merges C into A
    assert metrics.matched_accuracy(plain.labels_.reshape(truth.shape), truth) < 0.92
    assert not plain.refitted_
    assert aware.refitted_
    assert metrics.matched_accuracy(aware.labels_.reshape(truth.shape), truth) > 0.97
    # same seed, same labels; the labels are the nearest refitted centres
    again = SubsampledKMeans(3, n_init=5, random_state=0, grid_shape=truth.shape, band_width=6.0).fit(X)
    np.testing.assert_array_equal(again.labels_, aware.labels_)
    np.testing.assert_array_equal(aware.predict(X), aware.labels_)


def test_no_refit_without_a_band_or_a_grid():
    truth, X = _toy(band=0)  # a sharp rim: no continuum, k-means finds C itself
    for kw in ({"grid_shape": truth.shape, "band_width": 3.0}, {}):
        est = SubsampledKMeans(3, n_init=5, random_state=0, **kw).fit(X)
        ref = SubsampledKMeans(3, n_init=5, random_state=0).fit(X)
        assert not est.refitted_
        np.testing.assert_array_equal(est.labels_, ref.labels_)
    # two clusters, or a grid that does not match the samples: left alone
    _, X = _toy()
    two = SubsampledKMeans(2, random_state=0, grid_shape=(96, 96), band_width=6.0).fit(X)
    assert not two.refitted_
    wrong = SubsampledKMeans(3, random_state=0, grid_shape=(48, 96), band_width=6.0).fit(X)
    assert not wrong.refitted_


def test_particle_on_holey_carbon_three_patterns(monkeypatch):
    """End to end: asked for 3 patterns, the hole, the carbon and the particle, not the particle's rim."""
    import warnings

    from hyperspy_symseg import _band_refit, simulate, symmetry_segmentation

    sim = simulate.nanoparticle((192, 192), period_px=6, support="holey carbon", random_state=0, peak_counts=30)

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return symmetry_segmentation(sim.image, 3, random_state=0, show_progressbar=False)

    seg = run()
    assert seg.parameters["band_refit"] is True
    assert "refitted on region interiors" in seg.describe_parameters()
    accuracy = metrics.matched_accuracy(seg.labels.data, sim.labels.data)
    assert accuracy > 0.95
    # the predict route gives the fit's labels
    np.testing.assert_array_equal(seg.predict(sim.image, show_progressbar=False).data, seg.labels.data)
    # without the refit the third pattern is the rim, and hole and carbon are one
    monkeypatch.setattr(_band_refit, "MIN_BAND_RATIO", np.inf)
    plain = run()
    assert plain.parameters["band_refit"] is False
    assert metrics.matched_accuracy(plain.labels.data, sim.labels.data) < accuracy - 0.05
