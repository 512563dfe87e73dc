"""k-means with k-means++ starts: small numba kernels, NumPy in and NumPy out (no HyperSpy).

:func:`kmeans` is the best of several starts (greedy k-means++ seeding, then Lloyd
iterations) on features x samples; :class:`hyperspy_symseg._learn.SubsampledKMeans`
wraps it for HyperSpy's ``cluster_analysis``. The kernels take every buffer from their
caller and call no NumPy function inside, which keeps the cached machine code small
(loading it is part of a fresh process's cost).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ._threading import num_threads


@numba.njit(cache=True, nogil=True)
def _distances_to(XT, centre, out):
    """``out[i]``: squared distance of point ``XT[:, i]`` to ``centre``, summed in feature order.

    Features are the outer loop, so the loop over points is contiguous and vectorised;
    each point's sum still adds its features one by one in order.
    """
    out[:] = 0.0
    for f in range(XT.shape[0]):
        cf = centre[f]
        row = XT[f]
        for i in range(XT.shape[1]):
            t = row[i] - cf
            out[i] += t * t


@numba.njit(cache=True, nogil=True)
def _assign(XT, centres, labels, dist, work):
    """Nearest centre ``labels[i]`` of every point and its squared distance ``dist[i]``; ties go to the lower index."""
    _distances_to(XT, centres[0], dist)
    labels[:] = 0
    for c in range(1, centres.shape[0]):
        _distances_to(XT, centres[c], work)
        for i in range(XT.shape[1]):
            closer = work[i] < dist[i]
            dist[i] = work[i] if closer else dist[i]
            labels[i] = c if closer else labels[i]


# The k-means kernels allocate nothing and call no NumPy routine (searchsorted, argmax,
# copy, nor array-to-array slice assignment, which brings numba's shape-mismatch error code):
# the callers pass every buffer. That shrinks the code numba loads from its cache in a fresh
# process (one start: 280 kB -> 175 kB -> 135 kB; the first kmeans() of a process 41-54 ->
# 38-43 ms on a busy 2-core machine), with the same arithmetic in the same order, so the same bits.


@numba.njit(cache=True, nogil=True)
def _kmeans_plusplus_into(XT, uniforms, centres, closest, cumulative, best_closest, trial_closest, point):
    """Greedy k-means++ seeding (Arthur & Vassilvitskii 2007 with local trials) into ``centres`` (k, d).

    ``XT`` is (n_features, n_samples). ``uniforms`` holds 1 + (k - 1) * n_trials
    numbers in [0, 1): the first picks the first centre, the others the candidate
    centres, each drawn with probability proportional to the squared distance to the
    nearest centre so far; of each step's candidates the one giving the lowest total
    squared distance is kept. ``closest``, ``cumulative``, ``best_closest`` and
    ``trial_closest`` are (n,) and ``point`` (d,) float64 scratch buffers.
    """
    d, n = XT.shape
    k = centres.shape[0]
    n_trials = (uniforms.shape[0] - 1) // max(k - 1, 1)
    first = min(int(uniforms[0] * n), n - 1)
    for f in range(d):
        centres[0, f] = XT[f, first]
    _distances_to(XT, centres[0], closest)
    for c in range(1, k):
        total = 0.0
        for i in range(n):
            total += closest[i]
            cumulative[i] = total
        best_pot = np.inf
        best = 0
        for t in range(n_trials):
            u = uniforms[1 + (c - 1) * n_trials + t] * total
            lo, hi = 0, n  # first index with cumulative > u (np.searchsorted side="right")
            while lo < hi:
                mid = (lo + hi) // 2
                if cumulative[mid] <= u:
                    lo = mid + 1
                else:
                    hi = mid
            cand = min(lo, n - 1)
            for f in range(d):
                point[f] = XT[f, cand]
            _distances_to(XT, point, trial_closest)
            pot = 0.0
            for i in range(n):
                trial_closest[i] = min(closest[i], trial_closest[i])
                pot += trial_closest[i]
            if pot < best_pot:
                best_pot = pot
                best = cand
                for i in range(n):  # loops, not slice copies: those bring numba's shape-error code
                    best_closest[i] = trial_closest[i]
        for f in range(d):
            centres[c, f] = XT[f, best]
        for i in range(n):
            closest[i] = best_closest[i]


@numba.njit(cache=True, nogil=True)
def _lloyd_into(XT, centres, max_iter, tol, labels, dist, work, sums, counts):
    """Lloyd iterations from ``centres`` (modified in place); the labels into ``labels``; returns the inertia.

    ``XT`` is (n_features, n_samples). The sums of each cluster add its points in
    order, so the centres do not depend on how the work is vectorised. ``dist`` and
    ``work`` are (n,) float64, ``sums`` (k, d) float64 and ``counts`` (k,) int64 scratch.
    """
    d, n = XT.shape
    k = centres.shape[0]
    labels[:] = 0
    for _ in range(max_iter):
        _assign(XT, centres, labels, dist, work)
        sums[:] = 0.0
        counts[:] = 0
        for i in range(n):
            best = labels[i]
            counts[best] += 1
            for f in range(d):
                sums[best, f] += XT[f, i]
        shift = 0.0
        for c in range(k):
            if counts[c] == 0:
                # Empty cluster: restart it on the point farthest from its centre (the first of ties).
                far = 0
                for i in range(1, n):
                    if dist[i] > dist[far]:
                        far = i
                dist[far] = 0.0
                for f in range(d):
                    shift += (XT[f, far] - centres[c, f]) ** 2
                    centres[c, f] = XT[f, far]
                continue
            for f in range(d):
                new = sums[c, f] / counts[c]
                shift += (new - centres[c, f]) ** 2
                centres[c, f] = new
        if shift <= tol:
            break
    _assign(XT, centres, labels, dist, work)
    inertia = 0.0
    for i in range(n):
        inertia += dist[i]
    return inertia


@numba.njit(cache=True, nogil=True)
def _kmeans_start(XT, uniforms, max_iter, tol, centres, scratch, point, labels, sums, counts):
    """One k-means from the seeding drawn with ``uniforms``: its centres into ``centres`` (k, d); returns the inertia.

    ``scratch`` is (4, n) float64; ``point`` (d,), ``labels`` (n,) int64, ``sums`` (k, d), ``counts`` (k,) int64.
    """
    _kmeans_plusplus_into(XT, uniforms, centres, scratch[0], scratch[1], scratch[2], scratch[3], point)
    return _lloyd_into(XT, centres, max_iter, tol, labels, scratch[0], scratch[1], sums, counts)


def _kmeans_buffers(d: int, n: int, k: int) -> tuple:
    """Scratch arrays of one k-means start: (scratch (4, n), point (d,), labels (n,), sums (k, d), counts (k,))."""
    return np.empty((4, n)), np.empty(d), np.empty(n, dtype=np.int64), np.empty((k, d)), np.empty(k, dtype=np.int64)


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
    X = np.asarray(X, dtype=np.float64)
    rng = np.random.default_rng(random_state)
    n_trials = 2 + int(math.log(n_clusters))
    uniforms = rng.random((n_init, 1 + max(n_clusters - 1, 1) * n_trials))
    tol_abs = tol * float(np.mean(np.var(X, axis=0)))
    # Features by samples: the kernels' loops over samples are contiguous.
    XT = np.ascontiguousarray(X.T)
    centres = np.empty((n_init, n_clusters, XT.shape[0]))
    inertia = np.empty(n_init)
    n_threads = max(1, min(num_threads(), n_init))
    buffers = [_kmeans_buffers(XT.shape[0], XT.shape[1], n_clusters) for _ in range(n_threads)]

    def start(s, t):
        inertia[s] = _kmeans_start(XT, uniforms[s], max_iter, tol_abs, centres[s], *buffers[t])

    from ._tasks import run_tasks

    run_tasks(start, n_init, n_threads)
    best = int(np.argmin(inertia))
    return centres[best], float(inertia[best])
