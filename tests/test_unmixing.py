"""N-FINDR endmembers and NNLS / FCLS abundances (unmixing.py)."""

import itertools

import numpy as np
import pytest
import scipy.optimize

from hyperspy_symseg.unmixing import NFINDR, abundances, nfindr


def mixtures(n_samples, n_endmembers, n_features=30, noise=0.0, seed=0, concentration=0.7):
    """Dirichlet mixtures of random non-negative endmembers; the pure pixels are
    placed at random rows. Returns X, endmembers, true abundances, pure-pixel rows."""
    rng = np.random.default_rng(seed)
    E = rng.random((n_endmembers, n_features)) * rng.uniform(0.5, 2.0, size=(n_endmembers, 1))
    A = rng.dirichlet(np.full(n_endmembers, concentration), size=n_samples)
    pure = rng.choice(n_samples, n_endmembers, replace=False)
    A[pure] = np.eye(n_endmembers)
    X = A @ E + noise * rng.normal(size=(n_samples, n_features))
    return X, E, A, pure


def fcls_enumeration(x, E):
    """Exact FCLS by enumerating supports: the best feasible equality-constrained LS."""
    p = len(E)
    best, best_f = None, np.inf
    for k in range(1, p + 1):
        for support in itertools.combinations(range(p), k):
            S = list(support)
            G = E[S] @ E[S].T
            kkt = np.block([[G, np.ones((k, 1))], [np.ones((1, k)), np.zeros((1, 1))]])
            sol = np.linalg.solve(kkt, np.concatenate([E[S] @ x, [1.0]]))
            if np.all(sol[:k] >= -1e-12):
                a = np.zeros(p)
                a[S] = np.clip(sol[:k], 0, None)
                f = np.sum((x - a @ E) ** 2)
                if f < best_f:
                    best, best_f = a, f
    return best


class TestNFINDR:
    @pytest.mark.parametrize("p", [2, 3, 4, 6])
    def test_finds_pure_pixels_and_abundances(self, p):
        X, E, A, pure = mixtures(3000, p, seed=p)
        idx = nfindr(X, p, random_state=0)
        assert idx.dtype == np.int64 and np.all(np.diff(idx) > 0)
        np.testing.assert_array_equal(idx, np.sort(pure))
        order = [int(np.flatnonzero(pure == i)[0]) for i in idx]  # endmember of each found row
        est = abundances(X, X[idx])
        np.testing.assert_allclose(est, A[:, order], atol=1e-6)
        np.testing.assert_allclose(abundances(X, X[idx], sum_to_one=False), A[:, order], atol=1e-6)

    def test_with_noise(self):
        X, E, A, pure = mixtures(5000, 4, noise=0.003, seed=11, concentration=0.5)
        model = NFINDR(4, random_state=0)
        est = model.fit_transform(X)
        # each found endmember is close to one true endmember, all different
        dist = np.linalg.norm(model.components_[:, None, :] - E[None], axis=-1)
        match = np.argmin(dist, axis=1)
        assert sorted(match) == [0, 1, 2, 3]
        assert np.all(dist[np.arange(4), match] < 0.1 * np.linalg.norm(E, axis=1).min())
        assert np.all(est >= 0) and np.allclose(est.sum(axis=1), 1)
        assert np.mean(np.abs(est - A[:, match])) < 0.02

    def test_deterministic_for_a_seed(self):
        X, *_ = mixtures(2000, 5, noise=0.05, seed=4)
        a = nfindr(X, 5, random_state=3)
        np.testing.assert_array_equal(a, nfindr(X, 5, random_state=3))
        m1 = NFINDR(5, random_state=7).fit(X)
        m2 = NFINDR(5, random_state=7).fit(X)
        np.testing.assert_array_equal(m1.endmember_indices_, m2.endmember_indices_)
        np.testing.assert_array_equal(m1.components_, X[m1.endmember_indices_])

    def test_volume_is_maximal_among_samples(self):
        # Small case: brute force over all triples of 40 points in 2D.
        rng = np.random.default_rng(5)
        X = rng.random((40, 2))
        idx = nfindr(X, 3, random_state=0)

        def volume(t):
            return abs(np.linalg.det(np.vstack([np.ones(3), X[list(t)].T])))

        best = max(itertools.combinations(range(40), 3), key=volume)
        assert volume(idx) == pytest.approx(volume(best))

    def test_degenerate_random_start(self):
        # Almost every sample is the same point: random starts have zero volume.
        X, E, A, pure = mixtures(3, 3, seed=2)
        data = np.vstack([np.repeat(X[:1], 500, axis=0), X])
        idx = nfindr(data, 3, random_state=0)
        np.testing.assert_allclose(np.sort(data[idx], axis=0), np.sort(E, axis=0))

    def test_one_endmember_and_errors(self):
        X, *_ = mixtures(100, 3, seed=1)
        assert len(nfindr(X, 1)) == 1
        np.testing.assert_allclose(abundances(X, X[:1]), 1.0)
        with pytest.raises(ValueError, match="n_endmembers must be an integer"):
            nfindr(X, 0)
        with pytest.raises(ValueError, match="at most n_features"):
            nfindr(X[:, :2], 4)
        with pytest.raises(ValueError, match="fewer than"):
            nfindr(np.ones((50, 5)), 3)
        with pytest.raises(ValueError, match="NaN"):
            nfindr(np.where(X > 0.9, np.nan, X), 3)
        with pytest.raises(ValueError, match="2D"):
            nfindr(X[0], 2)
        with pytest.raises(TypeError, match="n_components"):
            NFINDR(2.5).fit(X)
        with pytest.raises(AttributeError, match="not fitted"):
            NFINDR(3).transform(X)


class TestAbundances:
    @pytest.mark.parametrize("p", [1, 2, 3, 5, 8])
    def test_nnls_equals_scipy(self, p):
        rng = np.random.default_rng(p)
        E = rng.random((p, 20))
        X = rng.normal(size=(300, 20)) + 0.5
        est = abundances(X, E, sum_to_one=False)
        ref = np.array([scipy.optimize.nnls(E.T, x)[0] for x in X])
        np.testing.assert_allclose(est, ref, atol=1e-9)
        assert (est == 0).any() and (est > 0).any()  # both active and free constraints occur

    @pytest.mark.parametrize("p", [2, 3, 5, 7])
    def test_fcls_equals_enumeration(self, p):
        rng = np.random.default_rng(10 + p)
        E = rng.random((p, 15))
        X = rng.random((60, 15)) * 1.5
        est = abundances(X, E, sum_to_one=True)
        assert np.all(est >= 0)
        np.testing.assert_allclose(est.sum(axis=1), 1.0, atol=1e-12)
        ref = np.array([fcls_enumeration(x, E) for x in X])
        np.testing.assert_allclose(est, ref, atol=1e-8)

    def test_large_and_float32(self):
        X, E, A, _ = mixtures(20000, 6, n_features=81, noise=0.01, seed=8)
        X32 = X.astype(np.float32)
        est = abundances(X32, E)
        assert est.shape == (20000, 6) and est.dtype == np.float64
        assert np.all(est >= 0) and np.allclose(est.sum(axis=1), 1)
        ref = np.array([fcls_enumeration(x, E) for x in X32[:50].astype(np.float64)])
        np.testing.assert_allclose(est[:50], ref, atol=1e-6)
        nn = abundances(X32, E, sum_to_one=False)
        assert np.all(nn >= 0)

    def test_errors(self):
        X = np.random.default_rng(0).random((10, 4))
        with pytest.raises(ValueError, match="n_features = 4"):
            abundances(X, np.ones((2, 3)))
        with pytest.raises(TypeError, match="sum_to_one"):
            abundances(X, X[:2], sum_to_one="yes")
        with pytest.raises(ValueError, match="NaN"):
            abundances(X, np.full((2, 4), np.nan))


class TestHyperSpy:
    def test_decomposition_with_nfindr(self):
        import hyperspy.api as hs

        X, E, A, pure = mixtures(12 * 15, 3, n_features=25, seed=21)
        s = hs.signals.Signal1D(X.reshape(12, 15, 25))
        s.decomposition(algorithm=NFINDR(3, random_state=0), print_info=False)
        loadings = s.get_decomposition_loadings()
        factors = s.get_decomposition_factors()
        assert loadings.axes_manager.navigation_shape == (3,)
        assert loadings.data.shape == (3, 12, 15)
        idx = np.sort(pure)
        order = [int(np.flatnonzero(pure == i)[0]) for i in idx]
        np.testing.assert_allclose(factors.data, X[idx], atol=1e-12)
        np.testing.assert_allclose(loadings.data, A[:, order].T.reshape(3, 12, 15), atol=1e-6)
        assert s.learning_results.centre is None

    def test_sklearn_clone(self):
        from sklearn.base import clone

        model = clone(NFINDR(4, random_state=1, sum_to_one=False))
        assert model.get_params()["n_components"] == 4 and model.sum_to_one is False


def test_active_set_kernel_equals_shortcut():
    """The vectorized shortcut (all endmembers free) and the active-set kernel agree."""
    from hyperspy_symseg.unmixing import _abundances_kernel

    X, E, A, _ = mixtures(500, 5, seed=30)
    for sum_to_one in (True, False):
        fast = abundances(X, E, sum_to_one=sum_to_one)
        slow = np.zeros_like(fast)
        _abundances_kernel(E @ E.T, X @ E.T, np.arange(len(X), dtype=np.int64), sum_to_one, slow)
        np.testing.assert_allclose(slow, fast, atol=1e-9)
        np.testing.assert_allclose(slow, A, atol=1e-9)
