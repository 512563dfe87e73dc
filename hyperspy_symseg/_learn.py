"""Estimators handed to HyperSpy's ``decomposition`` and ``cluster_analysis``.

Both follow the scikit-learn estimator protocol that HyperSpy accepts for its
``algorithm=`` argument, and work on NumPy arrays only.

* :class:`CovariancePCA` diagonalises the float64 covariance matrix of the
  descriptors, accumulated in row chunks: it never copies or upcasts the whole
  (samples, operations) array, unlike a full SVD, and it reports the variance of
  *every* component, so the explained-variance ratios HyperSpy stores are
  fractions of the total variance even when only a few components are kept.
* :class:`SubsampledKMeans` runs k-means with several initialisations on a random
  subsample and assigns every sample to its nearest centre. The k-means itself
  (greedy k-means++ seeding, Lloyd iterations, the starts run in parallel) is a
  small numba kernel: scikit-learn's KMeans needs 20-50 ms per start on 50 000
  points on a 2-core machine, which alone would exceed the whole-pipeline budget.

Neither imports scikit-learn (~0.5 s, scipy.stats included): :class:`_Estimator`
gives them the parameter protocol (``get_params``, ``set_params``, the ``repr``)
that HyperSpy, ``sklearn.base.clone`` and the model files use. :class:`ExactNMF`,
a scikit-learn NMF, is built on first use (``from ._learn import ExactNMF``).
"""

from __future__ import annotations

import inspect
import math
import numbers

import numba
import numpy as np

from ._threading import serialised, single_threaded_blas

#: Rows processed at once when streaming over a (samples, features) array.
CHUNK_ROWS = 65536


def _chunks(n_rows: int):
    size = CHUNK_ROWS
    for start in range(0, n_rows, size):
        yield slice(start, min(n_rows, start + size))


class _Estimator:
    """scikit-learn's estimator parameter protocol, without importing scikit-learn.

    The parameters are the named arguments of ``__init__``, stored under their own
    names (scikit-learn's convention): ``get_params`` returns them sorted by name,
    ``set_params`` changes them, and the ``repr`` names those that differ from their
    defaults, as scikit-learn prints them. ``sklearn.base.clone`` works on it.
    """

    @classmethod
    def _init_parameters(cls) -> dict:
        params = inspect.signature(cls.__init__).parameters.values()
        return {p.name: p.default for p in params if p.name != "self" and p.kind == p.POSITIONAL_OR_KEYWORD}

    def get_params(self, deep: bool = True) -> dict:
        return {name: getattr(self, name) for name in sorted(self._init_parameters())}

    def set_params(self, **params):
        valid = self._init_parameters()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {type(self).__name__}. "
                    f"Valid parameters are: {sorted(valid)!r}."
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = self._init_parameters()
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if repr(v) != repr(defaults[k])]
        return f"{type(self).__name__}({', '.join(changed)})"


def n_components_for_fraction(explained_variance_ratio: np.ndarray, fraction: float) -> int:
    """Smallest number of leading components whose variance ratios sum to ``fraction``."""
    cumulative = np.cumsum(explained_variance_ratio)
    # A small tolerance keeps e.g. 0.9 reached when the sum is 0.8999999999.
    return int(min(len(cumulative), np.searchsorted(cumulative, fraction - 1e-12) + 1))


class CovariancePCA(_Estimator):
    """Principal component analysis through the covariance matrix.

    Parameters
    ----------
    n_components : int or float
        An int >= 1 keeps that many components; a float in (0, 1) keeps the
        smallest number whose explained-variance ratios sum to at least that fraction.

    Notes
    -----
    One pass over the data: products are formed in the data's precision (float32
    BLAS for float32 descriptors) on row chunks shifted by a rough mean and summed
    in float64, so variances are accurate to about 1e-7 of the largest variance.

    Attributes
    ----------
    center_ : (n_features,) float64 ndarray
        Mean of the training data. Deliberately not called ``mean_``: HyperSpy 2.5's
        ``decomposition`` adds an estimator's ``mean_`` to the signal's data afterwards
        (it "reverses" a centring that only its own SVD does), which would shift the
        descriptors. HyperSpy therefore records no mean, and its
        ``get_decomposition_model()`` is the centred reconstruction (add ``center_``).
    components_ : (n_components_, n_features) float64 ndarray
        Kept principal axes, by decreasing variance; each has its largest-magnitude
        entry positive, so the signs are reproducible.
    explained_variance_ : (n_features,) float64 ndarray
        Variance along *all* principal axes (not only the kept ones).
    explained_variance_ratio_ : (n_features,) float64 ndarray
        ``explained_variance_`` over its sum (all zeros if the data are constant).
    n_components_ : int
    """

    def __init__(self, n_components: int | float = 5):
        self.n_components = n_components

    def fit(self, X, y=None):
        with single_threaded_blas():
            return self._fit(np.asarray(X))

    def _fit(self, X):
        n_samples, n_features = X.shape
        # One pass: products of data shifted by a rough mean (from a subsample) in
        # float32 BLAS, summed over chunks in float64, then corrected to the exact
        # mean. The shift keeps the correction small, so nothing cancels.
        shift = X[:: max(1, n_samples // 4096)].mean(axis=0, dtype=np.float64)
        work = np.float32 if X.dtype == np.float32 else np.float64
        shift_w = shift.astype(work)
        total = np.zeros(n_features)
        cov = np.zeros((n_features, n_features))
        ones = np.ones(min(n_samples, CHUNK_ROWS), dtype=work)
        buffer = np.empty((min(n_samples, CHUNK_ROWS), n_features), dtype=work)
        for rows in _chunks(n_samples):
            centred = buffer[: rows.stop - rows.start]
            np.subtract(X[rows], shift_w, out=centred, casting="unsafe")
            total += ones[: len(centred)] @ centred
            cov += centred.T @ centred
        delta = total / n_samples
        cov -= n_samples * np.outer(delta, delta)
        cov /= max(n_samples - 1, 1)
        mean = shift + delta
        variance, axes = np.linalg.eigh(cov)
        order = np.argsort(variance)[::-1]
        variance = np.clip(variance[order], 0.0, None)
        axes = axes[:, order].T
        signs = np.sign(axes[np.arange(n_features), np.argmax(np.abs(axes), axis=1)])
        axes *= np.where(signs == 0, 1.0, signs)[:, None]
        total_variance = variance.sum()
        ratio = variance / total_variance if total_variance > 0 else np.zeros_like(variance)
        if isinstance(self.n_components, numbers.Integral):
            k = int(self.n_components)
        else:
            k = n_components_for_fraction(ratio, float(self.n_components)) if total_variance > 0 else 1
        k = max(1, min(k, n_features))
        self.center_ = mean
        self.explained_variance_ = variance
        self.explained_variance_ratio_ = ratio
        self.components_ = axes[:k]
        self.n_components_ = k
        return self

    def transform(self, X):
        """(n_samples, n_components_) float32 coordinates of X along the kept axes."""
        X = np.asarray(X)
        work = np.float32 if X.dtype == np.float32 else np.float64
        with single_threaded_blas():
            out = X @ self.components_.T.astype(work)
            out -= (self.center_ @ self.components_.T).astype(work)
        return out.astype(np.float32, copy=False)

    #: ``fit_transform`` is ``fit(X).transform(X)``: its result is the model's loadings.
    fit_transform_is_transform = True

    def fit_transform(self, X, y=None):
        return self.fit(X).transform(X)


@serialised
@numba.njit(cache=True, nogil=True, parallel=True)
def _nearest_centre_kernel(X, centres, labels, dist):
    for i in numba.prange(X.shape[0]):
        for c in range(centres.shape[0]):
            d = 0.0
            for f in range(X.shape[1]):
                t = X[i, f] - centres[c, f]
                d += t * t
            dist[i, c] = d
        labels[i] = np.argmin(dist[i])


def nearest_centre(X: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of, and squared distance to, the nearest of ``centres`` for each row of X.

    Returns ``(labels, distances)``: (n_samples,) int64 and (n_samples, n_centres)
    float64 squared Euclidean distances (ties go to the lower index).
    """
    X = np.ascontiguousarray(X)
    centres = np.ascontiguousarray(centres, dtype=np.float64)
    labels = np.empty(X.shape[0], dtype=np.int64)
    dist = np.empty((X.shape[0], centres.shape[0]))
    _nearest_centre_kernel(X, centres, labels, dist)
    return labels, dist


# The helpers take (array, row) pairs, not row views: a view is a new array whose
# reference count numba updates atomically, and those updates took 60 % of k-means.


@numba.njit(cache=True, nogil=True, inline="always")
def _sq_dist(a, i, b, j):
    """Squared Euclidean distance between rows ``a[i]`` and ``b[j]``."""
    d = 0.0
    for f in range(a.shape[1]):
        t = a[i, f] - b[j, f]
        d += t * t
    return d


@numba.njit(cache=True, nogil=True, inline="always")
def _nearest(X, i, centres):
    """(index, squared distance) of the centre nearest to ``X[i]``; ties go to the lower index."""
    best = 0
    best_d = _sq_dist(X, i, centres, 0)
    for c in range(1, centres.shape[0]):
        dc = _sq_dist(X, i, centres, c)
        if dc < best_d:
            best_d = dc
            best = c
    return best, best_d


@numba.njit(cache=True, nogil=True)
def _kmeans_plusplus(X, k, uniforms):
    """Greedy k-means++ seeding (Arthur & Vassilvitskii 2007 with local trials).

    ``uniforms`` holds 1 + (k - 1) * n_trials numbers in [0, 1): the first picks the
    first centre, the others the candidate centres, each drawn with probability
    proportional to the squared distance to the nearest centre so far; of each
    step's candidates the one giving the lowest total squared distance is kept.
    """
    n, d = X.shape
    n_trials = (uniforms.shape[0] - 1) // max(k - 1, 1)
    centres = np.empty((k, d))
    centres[0] = X[min(int(uniforms[0] * n), n - 1)]
    closest = np.empty(n)
    for i in range(n):
        closest[i] = _sq_dist(X, i, centres, 0)
    cumulative = np.empty(n)
    best_closest = np.empty(n)
    trial_closest = np.empty(n)
    for c in range(1, k):
        total = 0.0
        for i in range(n):
            total += closest[i]
            cumulative[i] = total
        best_pot = np.inf
        best = 0
        for t in range(n_trials):
            u = uniforms[1 + (c - 1) * n_trials + t] * total
            cand = min(np.searchsorted(cumulative, u, side="right"), n - 1)
            pot = 0.0
            for i in range(n):
                trial_closest[i] = min(closest[i], _sq_dist(X, i, X, cand))
                pot += trial_closest[i]
            if pot < best_pot:
                best_pot = pot
                best = cand
                best_closest[:] = trial_closest
        centres[c] = X[best]
        closest[:] = best_closest
    return centres


@numba.njit(cache=True, nogil=True)
def _lloyd(X, XT, centres, max_iter, tol):
    """Lloyd iterations from ``centres`` (modified in place); returns (labels, inertia).

    ``XT`` is ``X.T`` in C order: the squared distances to each centre are summed
    over the features in their order, as :func:`_sq_dist` does, but point by point
    along contiguous columns, which the compiler vectorises (same numbers, 1.7x).
    """
    n, d = X.shape
    k = centres.shape[0]
    labels = np.zeros(n, dtype=np.int64)
    dist = np.empty(n)
    dist_c = np.empty((k, n))
    sums = np.empty((k, d))
    counts = np.empty(k, dtype=np.int64)
    for _ in range(max_iter):
        for c in range(k):
            row = dist_c[c]
            row[:] = 0.0
            for f in range(d):
                cf = centres[c, f]
                xf = XT[f]
                for i in range(n):
                    t = xf[i] - cf
                    row[i] += t * t
        sums[:] = 0.0
        counts[:] = 0
        for i in range(n):
            best = 0  # the nearest centre, ties to the lower index (as _nearest)
            best_d = dist_c[0, i]
            for c in range(1, k):
                if dist_c[c, i] < best_d:
                    best_d = dist_c[c, i]
                    best = c
            labels[i] = best
            dist[i] = best_d
            counts[best] += 1
            for f in range(d):
                sums[best, f] += X[i, f]
        shift = 0.0
        for c in range(k):
            if counts[c] == 0:
                # Empty cluster: restart it on the point farthest from its centre.
                far = np.argmax(dist)
                dist[far] = 0.0
                for f in range(d):
                    shift += (X[far, f] - centres[c, f]) ** 2
                    centres[c, f] = X[far, f]
                continue
            for f in range(d):
                new = sums[c, f] / counts[c]
                shift += (new - centres[c, f]) ** 2
                centres[c, f] = new
        if shift <= tol:
            break
    inertia = 0.0
    for i in range(n):
        labels[i], best_d = _nearest(X, i, centres)
        inertia += best_d
    return labels, inertia


@serialised
@numba.njit(cache=True, nogil=True, parallel=True)
def _kmeans_starts(X, k, uniforms, max_iter, tol):
    """Run one k-means per row of ``uniforms``; returns all centres and inertias."""
    n_init = uniforms.shape[0]
    centres = np.empty((n_init, k, X.shape[1]))
    inertia = np.empty(n_init)
    XT = np.ascontiguousarray(X.T)
    for s in numba.prange(n_init):
        c = _kmeans_plusplus(X, k, uniforms[s])
        _, inertia[s] = _lloyd(X, XT, c, max_iter, tol)
        centres[s] = c
    return centres, inertia


def kmeans(X: np.ndarray, n_clusters: int, n_init: int = 10, random_state=None, max_iter: int = 300, tol: float = 1e-4):
    """k-means with the best of ``n_init`` k-means++ starts.

    Parameters
    ----------
    X : (n_samples, n_features) ndarray
    n_clusters : int
    n_init : int
    random_state : int, numpy.random.Generator or None
    max_iter : int
        Lloyd iterations per start.
    tol : float
        Stop when the squared centre movement falls below ``tol`` times the mean
        feature variance (scikit-learn's convention).

    Returns
    -------
    centres : (n_clusters, n_features) float64 ndarray
    inertia : float
        Sum of squared distances of the samples to their nearest centre.
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    rng = np.random.default_rng(random_state)
    n_trials = 2 + int(math.log(n_clusters))
    uniforms = rng.random((n_init, 1 + max(n_clusters - 1, 1) * n_trials))
    tol_abs = tol * float(np.mean(np.var(X, axis=0)))
    centres, inertia = _kmeans_starts(X, n_clusters, uniforms, max_iter, tol_abs)
    best = int(np.argmin(inertia))
    return centres[best], float(inertia[best])


class SubsampledKMeans(_Estimator):
    """k-means fitted on a random subsample, then applied to every sample.

    Parameters
    ----------
    n_clusters : int
    n_init : int
        k-means++ initialisations; the run with the lowest inertia is kept.
    max_samples : int
        Fit on at most this many samples, drawn without replacement.
    random_state : int, numpy.random.Generator or None
        Seeds both the subsample and k-means.

    Attributes
    ----------
    cluster_centers_ : (n_clusters, n_features) float64 ndarray
    inertia_ : float
        Inertia of the subsample.
    labels_ : (n_samples,) int64 ndarray
        Nearest centre of every sample passed to :meth:`fit`.
    """

    def __init__(self, n_clusters: int = 2, n_init: int = 10, max_samples: int = 20_000, random_state=None):
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.max_samples = max_samples
        self.random_state = random_state

    def fit(self, X, y=None):
        X = np.asarray(X)
        rng = np.random.default_rng(self.random_state)
        if X.shape[0] > self.max_samples:
            sample = X[np.sort(rng.choice(X.shape[0], self.max_samples, replace=False))]
        else:
            sample = X
        self.cluster_centers_, self.inertia_ = kmeans(sample, self.n_clusters, self.n_init, rng)
        self.labels_, _ = nearest_centre(X, self.cluster_centers_)
        return self

    def predict(self, X):
        return nearest_centre(X, self.cluster_centers_)[0]

    def fit_predict(self, X, y=None):
        return self.fit(X).labels_


def _exact_nmf_class():
    """:class:`ExactNMF`, defined on first use so that importing this module does not import scikit-learn."""
    from sklearn.decomposition import NMF

    class ExactNMF(NMF):
        __doc__ = _EXACT_NMF_DOC

        def transform(self, X):
            """(n_samples, n_components) float64 non-negative weights of X."""
            from .unmixing import abundances

            return abundances(np.asarray(X), self.components_, sum_to_one=False)

    ExactNMF.__module__ = __name__
    ExactNMF.__qualname__ = "ExactNMF"
    return ExactNMF


_EXACT_NMF_DOC = """scikit-learn's NMF whose ``transform`` is the exact non-negative least squares of each sample.

    ``NMF.transform`` runs coordinate descent with a stopping rule over the whole batch,
    so a sample's weights depend on the other samples transformed with it: a tile of an
    image, the whole image and the fit itself gave different weights, and labels near a
    decision boundary differed between routes. Here every sample's weights are
    ``argmin_{w >= 0} ||x - w H||^2`` for the fitted components ``H`` (Frobenius NMF
    without regularisation, as HyperSpy fits it), solved exactly by
    :func:`hyperspy_symseg.unmixing.abundances`, whatever the batch.
    """


def __getattr__(name):
    if name == "ExactNMF":  # built once, then an ordinary module attribute
        if "ExactNMF" not in globals():
            globals()["ExactNMF"] = _exact_nmf_class()
        return globals()["ExactNMF"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def exact_nmf(nmf) -> ExactNMF:  # noqa: F821 - the class is built on first use
    """An :class:`ExactNMF` with the parameters and the fitted components of a fitted ``NMF``."""
    out = __getattr__("ExactNMF")(**nmf.get_params())
    for key, value in vars(nmf).items():
        if key.endswith("_") and not key.startswith("_"):
            setattr(out, key, value)
    return out
