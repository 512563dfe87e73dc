"""The pipeline's clustering step stores what HyperSpy's own ``cluster_analysis`` stores."""

import hyperspy.api as hs
import numpy as np
import pytest

from hyperspy_symseg._learn import CovariancePCA, SubsampledKMeans, cluster_summaries
from hyperspy_symseg._pipeline import _cluster


@pytest.fixture(scope="module")
def descriptors():
    rng = np.random.default_rng(4)
    centres = rng.normal(size=(3, 12)) * 3
    sizes = (700, 200, 420)  # unequal, so HyperSpy's renumbering by size matters
    data = np.concatenate([c + rng.normal(size=(n, 12)) for c, n in zip(centres, sizes)])
    data = data[rng.permutation(len(data))].astype(np.float32).reshape(33, 40, 12)
    s = hs.signals.Signal1D(data)
    s.decomposition(algorithm=CovariancePCA(4), centre=None, print_info=False)
    return s


@pytest.mark.parametrize("n_components", [4, 2])
def test_same_learning_results_as_hyperspy(descriptors, n_components):
    ours, theirs = descriptors.deepcopy(), descriptors.deepcopy()
    _cluster(ours, n_components, SubsampledKMeans(3, random_state=1))
    theirs.cluster_analysis("decomposition", number_of_components=n_components, preprocessing=None,
                            algorithm=SubsampledKMeans(3, random_state=1))
    a, b = ours.learning_results, theirs.learning_results
    assert a.number_of_clusters == b.number_of_clusters == 3
    np.testing.assert_array_equal(a.cluster_labels, b.cluster_labels)
    np.testing.assert_allclose(a.cluster_centroids, b.cluster_centroids, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a.cluster_distances, b.cluster_distances, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(a.cluster_sum_signals, b.cluster_sum_signals, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(a.cluster_centroid_signals, b.cluster_centroid_signals, rtol=1e-6, atol=1e-6)
    assert isinstance(a.cluster_algorithm, SubsampledKMeans)
    # HyperSpy's own tools work on the result
    merged = ours.get_cluster_labels(merged=True)
    np.testing.assert_array_equal(merged.data, theirs.get_cluster_labels(merged=True).data)


def test_cluster_summaries_equal_direct_numpy():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 3)).astype(np.float32)
    labels = rng.integers(0, 4, 500)
    out = cluster_summaries(X, labels, 4)
    for c in range(4):
        members = X[labels == c].astype(np.float64)
        assert out["counts"][c] == len(members)
        np.testing.assert_allclose(out["sums"][c], members.sum(axis=0), rtol=1e-12)
        np.testing.assert_allclose(out["centroids"][c], members.mean(axis=0), rtol=1e-6)
        direct = np.sqrt(((X.astype(np.float64) - out["centroids"][c].astype(np.float64)) ** 2).sum(axis=1))
        np.testing.assert_allclose(out["distances"][c], direct, rtol=1e-12)
        assert out["nearest"][c] == np.argmin(direct)
    assert out["centroids"].dtype == np.float32
