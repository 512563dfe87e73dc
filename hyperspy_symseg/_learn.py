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
  (greedy k-means++ seeding, Lloyd iterations) is a small numba kernel in
  :mod:`hyperspy_symseg._kmeans`: scikit-learn's KMeans needs 20-50 ms per start on 50 000
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

from ._kmeans import _kmeans_buffers, _kmeans_plusplus_into, _lloyd_into, kmeans  # noqa: F401  (re-exported)
from ._threading import num_threads, serialised, single_threaded_blas

#: Rows processed at once when streaming over a (samples, features) array: 8192 rows of
#: 81 float32 descriptors (2.6 MB) stay in cache between centring and products.
CHUNK_ROWS = 8192


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


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "nsz"})
def _project_rows(X, axes, offset, out, start, stop):
    """``out[i, c] = X[i] . axes[c] - offset[c]`` for ``start <= i < stop``, accumulated in float64, rounded once."""
    for i in range(start, stop):
        for c in range(axes.shape[0]):
            acc = 0.0
            for f in range(X.shape[1]):
                acc += X[i, f] * axes[c, f]
            out[i, c] = acc - offset[c]


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
    BLAS for float32 descriptors) on row chunks shifted by a rough mean, the chunks
    shared out among threads (one BLAS thread each), and summed in float64 in chunk
    order, so variances are accurate to about 1e-7 of the largest variance and do not
    depend on the number of threads. ``transform`` accumulates in float64.

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
        X = np.asarray(X)
        n_samples, n_features = X.shape
        # One pass: products of data shifted by a rough mean (from a subsample) in the
        # data's precision (float32 BLAS for float32 descriptors), one chunk at a time on
        # every core, summed in float64 in chunk order, then corrected to the exact mean.
        # The shift keeps the correction small, so nothing cancels.
        shift = X[:: max(1, n_samples // 4096)].mean(axis=0, dtype=np.float64)
        work = np.float32 if X.dtype == np.float32 else np.float64
        shift_w = shift.astype(work)
        chunks = list(_chunks(n_samples))
        totals = np.zeros((len(chunks), n_features))
        grams = np.zeros((len(chunks), n_features, n_features))
        n_threads = num_threads()
        # A column of ones after the features: the products' last row holds the column sums.
        buffers = [np.ones((min(n_samples, CHUNK_ROWS), n_features + 1), dtype=work)
                   for _ in range(min(n_threads, len(chunks)))]

        def chunk(i, t):
            rows = chunks[i]
            block = buffers[t][: rows.stop - rows.start]
            np.subtract(X[rows], shift_w, out=block[:, :n_features], casting="unsafe")
            products = block.T @ block  # numpy computes A.T @ A with syrk
            grams[i] = products[:n_features, :n_features]
            totals[i] = products[n_features, :n_features]

        from ._tasks import run_tasks

        with single_threaded_blas():
            run_tasks(chunk, len(chunks), n_threads)
            total = totals.sum(axis=0)
            cov = grams.sum(axis=0)
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
        """(n_samples, n_components_) float32 coordinates of X along the kept axes.

        Accumulated in float64 (products of float32 data are exact) and rounded once.
        """
        X = np.ascontiguousarray(X)
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        from ._tasks import run_tasks

        axes = np.ascontiguousarray(self.components_, dtype=np.float64)
        offset = axes @ np.asarray(self.center_, dtype=np.float64)
        out = np.empty((X.shape[0], axes.shape[0]), dtype=np.float32)
        chunks = list(_chunks(X.shape[0]))
        run_tasks(lambda i, _: _project_rows(X, axes, offset, out, chunks[i].start, chunks[i].stop), len(chunks),
                  num_threads())
        return out

    #: ``fit_transform`` is ``fit(X).transform(X)``: its result is the model's loadings.
    fit_transform_is_transform = True

    def fit_transform(self, X, y=None):
        return self.fit(X).transform(X)


@numba.njit(cache=True, nogil=True, inline="always")
def _nearest_centre_row(X, centres, labels, dist, keep_distances, i):
    best = 0
    best_d = np.inf
    for c in range(centres.shape[0]):
        d = 0.0
        for f in range(X.shape[1]):
            t = X[i, f] - centres[c, f]
            d += t * t
        if keep_distances:
            dist[i, c] = d
        if c == 0 or d < best_d:
            best = c
            best_d = d
    labels[i] = best


@serialised
@numba.njit(cache=True, nogil=True, parallel=True)
def _nearest_centre_kernel(X, centres, labels, dist, keep_distances):
    for i in numba.prange(X.shape[0]):
        _nearest_centre_row(X, centres, labels, dist, keep_distances, i)


@numba.njit(cache=True, nogil=True)
def _nearest_centre_serial(X, centres, labels, dist, keep_distances):
    """:func:`_nearest_centre_kernel` on one thread (the same arithmetic, row by row)."""
    for i in range(X.shape[0]):
        _nearest_centre_row(X, centres, labels, dist, keep_distances, i)


#: Below this many multiply-adds (samples x centres x features) :func:`nearest_centre` runs on
#: one thread: ~1 ms of work, less than a parallel launch costs on a busy 2-core machine
#: (measured 10-16 ms for 13924 x 2 x 5 under load 3.5), and the serial kernel loads faster.
SERIAL_NEAREST_WORK = 2**21


def nearest_centre(X: np.ndarray, centres: np.ndarray, distances: bool = True):
    """Index of, and squared distance to, the nearest of ``centres`` for each row of X.

    Returns ``(labels, distances)``: (n_samples,) int64 and (n_samples, n_centres)
    float64 squared Euclidean distances (ties go to the lower index); with
    ``distances=False`` only the labels. Small inputs run on one thread, large ones in
    parallel; both give the same bits (each row is computed alone, in the same order).
    """
    X = np.ascontiguousarray(X)
    centres = np.ascontiguousarray(centres, dtype=np.float64)
    labels = np.empty(X.shape[0], dtype=np.int64)
    dist = np.empty((X.shape[0] if distances else 0, centres.shape[0]))
    small = X.shape[0] * centres.shape[0] * max(X.shape[1], 1) <= SERIAL_NEAREST_WORK
    (_nearest_centre_serial if small else _nearest_centre_kernel)(X, centres, labels, dist, distances)
    return (labels, dist) if distances else labels


@numba.njit(cache=True, nogil=True, inline="always")
def _cluster_sums_kernel(X, labels, sums, counts):
    for i in range(X.shape[0]):
        c = labels[i]
        counts[c] += 1
        for f in range(X.shape[1]):
            sums[c, f] += X[i, f]


@numba.njit(cache=True, nogil=True, inline="always")
def _centroid_distances_kernel(X, centroids, dist, nearest):
    """``dist[c, i]``: Euclidean distance of ``X[i]`` to ``centroids[c]``; ``nearest[c]``: the closest sample (first of ties)."""
    for c in range(centroids.shape[0]):
        best = np.inf
        for i in range(X.shape[0]):
            d = 0.0
            for f in range(X.shape[1]):
                t = np.float64(X[i, f]) - np.float64(centroids[c, f])
                d += t * t
            d = math.sqrt(d)
            dist[c, i] = d
            if d < best:
                best = d
                nearest[c] = i


@numba.njit(cache=True, nogil=True)
def _cluster_summaries_kernel(X, labels, sums, counts, centroids, dist, nearest):
    """:func:`_cluster_sums_kernel`, the centroids ``sums / counts`` (NaN for an empty cluster,
    as NumPy divides 0 by 0) in the dtype of ``centroids``, then :func:`_centroid_distances_kernel`.

    One kernel instead of two: a fresh process loads one fewer from numba's cache.
    """
    _cluster_sums_kernel(X, labels, sums, counts)
    for c in range(sums.shape[0]):
        for f in range(sums.shape[1]):
            centroids[c, f] = sums[c, f] / counts[c] if counts[c] > 0 else np.nan
    _centroid_distances_kernel(X, centroids, dist, nearest)


def cluster_summaries(X: np.ndarray, labels: np.ndarray, n_clusters: int) -> dict:
    """Per cluster: size, centroid, distance of every sample to it, and the sample closest to it.

    What HyperSpy's ``cluster_analysis`` computes after fitting, in two passes over ``X``
    (one kernel) instead of several NumPy passes and copies per cluster.

    Parameters
    ----------
    X : (n_samples, n_features) ndarray
        The clustered data (e.g. the decomposition loadings).
    labels : (n_samples,) int ndarray
        Cluster of every sample, ``0 <= labels < n_clusters``.
    n_clusters : int

    Returns
    -------
    dict
        ``counts`` (n_clusters,) int64; ``sums`` (n_clusters, n_features) float64 sums of
        the samples; ``centroids`` (n_clusters, n_features) means in the dtype of ``X``
        (NaN for an empty cluster); ``distances`` (n_clusters, n_samples) float64
        Euclidean distances to the centroids; ``nearest`` (n_clusters,) int64 index of
        the sample closest to each centroid.
    """
    X = np.ascontiguousarray(X)
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    sums = np.zeros((n_clusters, X.shape[1]))
    counts = np.zeros(n_clusters, dtype=np.int64)
    centroids = np.empty((n_clusters, X.shape[1]), dtype=X.dtype if X.dtype.kind == "f" else np.float64)
    distances = np.empty((n_clusters, X.shape[0]))
    nearest = np.zeros(n_clusters, dtype=np.int64)
    _cluster_summaries_kernel(X, labels, sums, counts, centroids, distances, nearest)
    return {"counts": counts, "sums": sums, "centroids": centroids, "distances": distances, "nearest": nearest}


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
    grid_shape : tuple of int or None
        ``(..., ny, nx)``: the samples are the points of this grid, in order. With
        ``band_width``, a labelling with 3 or more clusters one of which is a band along
        the boundaries of the labelling with one cluster fewer is fitted again on the
        points away from every boundary (:mod:`hyperspy_symseg._band_refit`).
    band_width : float or None
        Half width, in grid points, of the band where a point's descriptor straddles
        two regions.

    Attributes
    ----------
    cluster_centers_ : (n_clusters, n_features) float64 ndarray
    inertia_ : float
        Inertia of the subsample (of the interior points, after a refit).
    labels_ : (n_samples,) int64 ndarray
        Nearest centre of every sample passed to :meth:`fit`.
    refitted_ : bool
        Whether the centres were fitted again on the region interiors.
    """

    def __init__(self, n_clusters: int = 2, n_init: int = 10, max_samples: int = 20_000, random_state=None,
                 grid_shape=None, band_width=None):
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.max_samples = max_samples
        self.random_state = random_state
        self.grid_shape = grid_shape
        self.band_width = band_width

    def _fit_sample(self, X, n_clusters, rng):
        if X.shape[0] > self.max_samples:
            X = X[np.sort(rng.choice(X.shape[0], self.max_samples, replace=False))]
        return kmeans(X, n_clusters, self.n_init, rng)

    def fit(self, X, y=None):
        X = np.asarray(X)
        rng = np.random.default_rng(self.random_state)
        self.cluster_centers_, self.inertia_ = self._fit_sample(X, self.n_clusters, rng)
        self.labels_ = nearest_centre(X, self.cluster_centers_, distances=False)
        self.refitted_ = False
        if self.grid_shape is not None and self.band_width is not None and self.n_clusters >= 3:
            from ._band_refit import refit_without_bands

            def fit_k(points, k):
                centres, inertia = self._fit_sample(points, k, rng)
                return nearest_centre(points, centres, distances=False), centres, inertia

            refit = refit_without_bands(X, self.labels_, self.grid_shape, self.n_clusters, float(self.band_width),
                                        fit_k)
            if refit is not None:
                self.cluster_centers_, self.inertia_ = refit
                self.labels_ = nearest_centre(X, self.cluster_centers_, distances=False)
                self.refitted_ = True
        return self

    def predict(self, X):
        return nearest_centre(X, self.cluster_centers_, distances=False)

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
