"""The PCA and k-means estimators against direct references."""

import numpy as np
import pytest
from _reference import kmeans_plusplus, lloyd, nearest, pca
from sklearn.cluster import KMeans

from hyperspy_symseg._learn import (
    CovariancePCA,
    SubsampledKMeans,
    kmeans,
    n_components_for_fraction,
    nearest_centre,
)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    # correlated features with a large common offset (like Pearson scores around 0.5)
    latent = rng.normal(size=(3000, 4)) * [3.0, 1.5, 0.7, 0.2]
    mixing = rng.normal(size=(4, 12))
    return (latent @ mixing + 0.05 * rng.normal(size=(3000, 12)) + 40.0).astype(np.float32)


class TestCovariancePCA:
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_matches_svd(self, data, dtype):
        X = data.astype(dtype)
        est = CovariancePCA(3).fit(X)
        mean, vt, var = pca(X)
        np.testing.assert_allclose(est.center_, mean, rtol=1e-6)
        assert not hasattr(est, "mean_")  # HyperSpy 2.5 would add it to the signal's data
        np.testing.assert_allclose(est.explained_variance_, var, rtol=1e-4, atol=1e-6 * var[0])
        np.testing.assert_allclose(est.explained_variance_ratio_, var / var.sum(), atol=1e-6)
        for k in range(3):  # same axes up to sign
            assert abs(abs(est.components_[k] @ vt[k]) - 1) < 1e-5
        loadings = est.transform(X)
        assert loadings.dtype == np.float32 and loadings.shape == (3000, 3)
        ref = (X.astype(np.float64) - mean) @ est.components_.T
        np.testing.assert_allclose(loadings, ref, atol=2e-4 * np.abs(ref).max())

    def test_signs_are_reproducible(self, data):
        comps = CovariancePCA(4).fit(data).components_
        big = comps[np.arange(4), np.argmax(np.abs(comps), axis=1)]
        assert np.all(big > 0)
        np.testing.assert_array_equal(CovariancePCA(4).fit(data[::-1].copy()).components_.shape, comps.shape)

    def test_chunking_does_not_change_result(self, data, monkeypatch):
        import hyperspy_symseg._learn as learn

        whole = CovariancePCA(3).fit(data)
        monkeypatch.setattr(learn, "CHUNK_ROWS", 257)
        chunked = CovariancePCA(3).fit(data)
        # float32 products: equal to ~1e-7 of the largest variance
        top = whole.explained_variance_[0]
        np.testing.assert_allclose(chunked.explained_variance_, whole.explained_variance_, rtol=1e-5, atol=1e-6 * top)

    def test_fraction_selects_smallest_number(self, data):
        est = CovariancePCA(0.9).fit(data)
        cum = np.cumsum(est.explained_variance_ratio_)
        assert cum[est.n_components_ - 1] >= 0.9
        assert est.n_components_ == 1 or cum[est.n_components_ - 2] < 0.9
        assert est.components_.shape == (est.n_components_, 12)

    def test_n_components_for_fraction(self):
        ratio = np.array([0.5, 0.3, 0.15, 0.05])
        assert n_components_for_fraction(ratio, 0.5) == 1
        assert n_components_for_fraction(ratio, 0.8) == 2
        assert n_components_for_fraction(ratio, 0.81) == 3
        assert n_components_for_fraction(ratio, 0.999) == 4

    def test_constant_data(self):
        est = CovariancePCA(0.8).fit(np.ones((50, 4), dtype=np.float32))
        assert est.n_components_ == 1
        assert np.all(est.explained_variance_ratio_ == 0)
        assert np.all(est.transform(np.ones((3, 4))) == 0)


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(3)
    centres = np.array([[0, 0, 0], [4, 0, 1], [0, 5, -2], [3, 3, 3]], float)
    X = np.concatenate([c + rng.normal(size=(n, 3)) for c, n in zip(centres, (400, 250, 300, 50))])
    return X, centres


class TestKMeans:
    @pytest.mark.parametrize("k", [1, 2, 3, 4])
    def test_inertia_as_good_as_sklearn(self, blobs, k):
        X, _ = blobs
        centres, inertia = kmeans(X, k, n_init=10, random_state=0)
        ref = KMeans(k, n_init=10, random_state=0).fit(X)
        assert inertia <= ref.inertia_ * (1 + 1e-6)
        labels = nearest(X, centres)
        assert inertia == pytest.approx(sum(((X - centres[labels]) ** 2).sum(axis=1)))
        # a fixed point of Lloyd: every centre is the mean of its points
        for c in range(k):
            np.testing.assert_allclose(centres[c], X[labels == c].mean(axis=0), atol=1e-8)

    def test_finds_true_centres(self, blobs):
        X, true = blobs
        centres, _ = kmeans(X, 4, n_init=10, random_state=1)
        for c in true:
            assert np.min(np.linalg.norm(centres - c, axis=1)) < 0.5

    def test_deterministic_for_seed(self, blobs):
        X, _ = blobs
        a = kmeans(X, 3, 5, random_state=7)
        b = kmeans(X, 3, 5, random_state=7)
        np.testing.assert_array_equal(a[0], b[0])

    def test_more_clusters_than_distinct_points(self):
        X = np.repeat(np.array([[0.0, 0.0], [1.0, 1.0]]), 10, axis=0)
        centres, inertia = kmeans(X, 3, 3, random_state=0)
        assert inertia == pytest.approx(0.0)
        assert np.isfinite(centres).all()

    @pytest.mark.parametrize("k", [2, 4])
    def test_seeding_and_lloyd_equal_point_by_point_reference(self, blobs, k):
        from hyperspy_symseg._learn import _kmeans_buffers, _kmeans_plusplus_into, _lloyd_into

        def _kmeans_plusplus(XT, k, uniforms):
            centres, (scratch, point, *_) = np.empty((k, XT.shape[0])), _kmeans_buffers(*XT.shape, k)
            _kmeans_plusplus_into(XT, uniforms, centres, *scratch, point)
            return centres

        def _lloyd(XT, centres, max_iter, tol):
            scratch, _, labels, sums, counts = _kmeans_buffers(*XT.shape, centres.shape[0])
            return labels, _lloyd_into(XT, centres, max_iter, tol, labels, scratch[0], scratch[1], sums, counts)

        X = blobs[0][::3]
        XT = np.ascontiguousarray(X.T)
        uniforms = np.random.default_rng(5).random(1 + (k - 1) * 3)
        seeds = _kmeans_plusplus(XT, k, uniforms)
        np.testing.assert_array_equal(seeds, kmeans_plusplus(X, k, uniforms))
        ref_labels, ref_centres, ref_inertia = lloyd(X, seeds, 300, 1e-8)
        labels, inertia = _lloyd(XT, seeds, 300, 1e-8)  # seeds become the centres
        np.testing.assert_array_equal(labels, ref_labels)
        np.testing.assert_allclose(seeds, ref_centres, rtol=1e-12, atol=1e-12)
        assert inertia == pytest.approx(ref_inertia, rel=1e-12)

    def test_nearest_centre(self, blobs):
        X, centres = blobs
        labels, dist = nearest_centre(X.astype(np.float32), centres)
        np.testing.assert_array_equal(labels, nearest(X.astype(np.float32), centres))
        np.testing.assert_allclose(dist[5], ((X[5].astype(np.float32) - centres) ** 2).sum(axis=1), rtol=1e-6)
        np.testing.assert_array_equal(nearest_centre(X.astype(np.float32), centres, distances=False), labels)

    def test_subsampled_kmeans(self, blobs):
        X, _ = blobs
        full = SubsampledKMeans(4, n_init=10, max_samples=10_000, random_state=0).fit(X)
        sub = SubsampledKMeans(4, n_init=10, max_samples=300, random_state=0).fit(X)
        assert full.labels_.shape == (1000,)
        np.testing.assert_array_equal(full.labels_, full.predict(X))
        # centres fitted on 30 % of the points assign almost every point the same way
        match = max(
            np.mean(sub.labels_ == np.array(p)[full.labels_])
            for p in __import__("itertools").permutations(range(4))
        )
        assert match > 0.97
        again = SubsampledKMeans(4, n_init=10, max_samples=300, random_state=0).fit(X)
        np.testing.assert_array_equal(again.labels_, sub.labels_)


class TestEstimatorProtocol:
    """The estimators follow scikit-learn's parameter protocol without subclassing its classes."""

    def test_params_repr_and_clone(self):
        from sklearn.base import clone

        est = SubsampledKMeans(3, max_samples=500, random_state=1)
        assert est.get_params() == {"band_width": None, "grid_shape": None, "max_samples": 500, "n_clusters": 3,
                                    "n_init": 10, "random_state": 1}
        assert repr(est) == "SubsampledKMeans(max_samples=500, n_clusters=3, random_state=1)"
        assert repr(CovariancePCA()) == "CovariancePCA()" and repr(CovariancePCA(0.9)) == "CovariancePCA(n_components=0.9)"
        other = clone(est)
        assert other is not est and other.get_params() == est.get_params()
        assert est.set_params(n_init=2) is est and est.n_init == 2
        with pytest.raises(ValueError, match="Invalid parameter 'k' for estimator SubsampledKMeans"):
            est.set_params(k=2)

    def test_fit_predict(self):
        X = np.random.default_rng(0).normal(size=(200, 2)) + np.repeat([[0, 0], [9, 9]], 100, axis=0)
        labels = SubsampledKMeans(2, random_state=0).fit_predict(X)
        assert sorted(np.bincount(labels)) == [100, 100]

    def test_exact_nmf_built_once_and_picklable(self):
        import pickle

        import hyperspy_symseg._learn as learn

        cls = learn.ExactNMF
        assert learn.ExactNMF is cls and cls.__module__ == "hyperspy_symseg._learn"
        assert type(pickle.loads(pickle.dumps(cls(n_components=2)))) is cls


def test_decomposition_results_as_hyperspy_stores_them():
    """The PCA route stores the learning results HyperSpy's decomposition stores for the estimator itself."""
    import hyperspy.api as hs

    from hyperspy_symseg._pipeline import _reduce

    rng = np.random.default_rng(1)
    data = (rng.normal(size=(12, 10, 4)) @ rng.normal(size=(4, 9)) + 3).astype(np.float32)
    ours, theirs = hs.signals.Signal1D(data), hs.signals.Signal1D(data.copy())
    reducer = _reduce(ours, "PCA", 3, 0)
    theirs.decomposition(algorithm=CovariancePCA(3), centre=None, print_info=False)
    a, b = ours.learning_results, theirs.learning_results
    assert a.decomposition_algorithm is reducer and repr(b.decomposition_algorithm) == repr(reducer)
    for key, value in vars(b).items():
        if key != "decomposition_algorithm":
            np.testing.assert_equal(getattr(a, key), value, err_msg=key)
    assert a.number_significant_components >= 1 and a.explained_variance.shape == (9,)


# ----------------------------------------------------------------- serial variants for small inputs
# Small inputs skip the parallel launch (slow on a busy machine); each serial kernel must give
# the bits of its parallel twin and of a direct reference.


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nearest_centre_serial_and_parallel_kernels_agree_bitwise(dtype):
    from hyperspy_symseg import _learn

    rng = np.random.default_rng(3)
    X = rng.normal(size=(2500, 7)).astype(dtype)
    centres = np.ascontiguousarray(rng.normal(size=(4, 7)))
    X[7] = centres[2]
    centres[2] = X[7]  # an exact hit in X's precision
    X[8] = 0.5 * (centres[0] + centres[1])  # equidistant up to rounding: ties go to the lower index
    out = {}
    for name, kernel in (("serial", _learn._nearest_centre_serial), ("parallel", _learn._nearest_centre_kernel)):
        labels, dist = np.empty(len(X), dtype=np.int64), np.empty((len(X), 4))
        kernel(X, centres, labels, dist, True)
        out[name] = labels, dist
    np.testing.assert_array_equal(out["serial"][0], out["parallel"][0])
    np.testing.assert_array_equal(out["serial"][1], out["parallel"][1])
    np.testing.assert_array_equal(out["serial"][0], nearest(X, centres))
    assert out["serial"][0][7] == 2 and out["serial"][1][7, 2] == 0.0
    # the public function picks the serial kernel for this size, the parallel one above the limit
    assert len(X) * 4 * 7 <= _learn.SERIAL_NEAREST_WORK
    np.testing.assert_array_equal(nearest_centre(X, centres, distances=False), out["parallel"][0])


def test_nearest_centre_above_the_serial_limit(monkeypatch):
    from hyperspy_symseg import _learn

    rng = np.random.default_rng(4)
    X, centres = rng.normal(size=(3000, 5)).astype(np.float32), rng.normal(size=(3, 5))
    small = nearest_centre(X, centres)
    monkeypatch.setattr(_learn, "SERIAL_NEAREST_WORK", 0)  # force the parallel kernel
    large = nearest_centre(X, centres)
    np.testing.assert_array_equal(small[0], large[0])
    np.testing.assert_array_equal(small[1], large[1])
    np.testing.assert_array_equal(small[0], nearest(X, centres))


def test_count_labels_serial_and_parallel(monkeypatch):
    from hyperspy_symseg import model

    labels = np.random.default_rng(5).integers(0, 6, size=(301, 257)).astype(np.uint8)  # 6 = out of range
    expected = np.bincount(labels.ravel(), minlength=6)[:5]
    serial = model.count_labels(labels, 5)
    monkeypatch.setattr(model, "SERIAL_COUNT_SIZE", 0)
    parallel = model.count_labels(labels, 5)
    np.testing.assert_array_equal(serial, expected)
    np.testing.assert_array_equal(parallel, expected)
    assert serial.dtype == parallel.dtype == np.int64


@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (37, 64)])
def test_box3_serial_and_parallel_match_a_periodic_reference(shape):
    from hyperspy_symseg import _lattice_spectrum as ls

    a = np.random.default_rng(6).random(shape)
    reference = np.zeros(shape)
    for di in (-1, 0, 1):  # the kernels' order of the nine terms
        for dj in (-1, 0, 1):
            reference += np.roll(a, (-di, -dj), axis=(0, 1))
    serial, parallel = ls._box3_serial(a), ls._box3_parallel(a)
    np.testing.assert_array_equal(serial, parallel)
    np.testing.assert_allclose(serial, reference, rtol=1e-14)
    np.testing.assert_array_equal(ls._box3(a), serial)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_cluster_summaries_one_kernel_gives_the_two_step_bits(dtype):
    """The fused kernel (sums, centroids, distances) gives the bits of the former two kernels with
    the centroids divided by NumPy in between; an empty cluster has NaN centroids, as NumPy's 0 / 0."""
    from hyperspy_symseg import _learn

    rng = np.random.default_rng(5)
    X = (rng.normal(size=(3000, 5)) * 40).astype(dtype)
    labels = rng.integers(0, 3, len(X))  # cluster 3 is empty
    out = _learn.cluster_summaries(X, labels, 4)
    sums = np.zeros((4, 5))
    counts = np.zeros(4, dtype=np.int64)
    for i in range(len(X)):  # the reference, in sample order like the kernel
        counts[labels[i]] += 1
        sums[labels[i]] += X[i]
    with np.errstate(invalid="ignore", divide="ignore"):
        centroids = (sums / counts[:, None]).astype(X.dtype if X.dtype.kind == "f" else np.float64)
    distances = np.sqrt(((X.astype(np.float64)[None] - centroids.astype(np.float64)[:, None]) ** 2).sum(axis=2))
    np.testing.assert_array_equal(out["counts"], counts)
    np.testing.assert_array_equal(out["sums"], sums)
    assert out["centroids"].dtype == centroids.dtype
    np.testing.assert_array_equal(out["centroids"], centroids)
    assert np.isnan(out["centroids"][3]).all() and np.isnan(out["distances"][3]).all()
    np.testing.assert_allclose(out["distances"][:3], distances[:3], rtol=1e-12)
    np.testing.assert_array_equal(out["nearest"][:3], np.argmin(distances[:3], axis=1))
