"""Azimuthal medians of a power spectrum: numba kernels of the lattice analysis's background.

NumPy and numba only (no HyperSpy). :func:`ring_medians` is the median of a spectrum
over the bins of each ring (one frequency step wide, some bins excluded),
:func:`ring_interp` its linear interpolation back onto every bin; the driver is
:func:`hyperspy_symseg._lattice_spectrum._radial_background`.

A median is an order statistic, so any exact selection gives the same value; these
kernels give numba's ``np.median`` bit for bit (the middle value, or ``(x + y) / 2`` of
the two middle values) at a third of its cost on spectra: a power spectrum is
non-negative, and the bit patterns of non-negative floats sort like the floats, so the
middle values are found by a radix selection (8 bits a pass, the histogram of each pass
branch-free) instead of quickselect's unpredictable comparisons. Rings holding a
negative, ``-0.0``, infinite or NaN value use a comparison selection (Hoare's, in
Wirth's form).
"""

from __future__ import annotations

import numba
import numpy as np

#: Bit patterns at or above this are infinities or NaNs (and, as int64, negatives are
#: negative floats or -0.0): such rings are selected by comparisons.
_NON_FINITE = np.int64(0x7FF0000000000000)


@numba.njit(cache=True, nogil=True)
def _median_by_comparisons(a, n):
    """Median of ``a[:n]`` (``n > 0``; reorders ``a[:n]``) by Hoare's selection (Wirth's form)."""
    k = n >> 1
    lo, hi = 0, n - 1
    while lo < hi:
        x = a[k]
        i, j = lo, hi
        while True:
            while a[i] < x:
                i += 1
            while x < a[j]:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
            if i > j:
                break
        if j < k:
            lo = i
        if k < i:
            hi = j
    if n & 1:
        return a[k]
    below = a[0]  # a[:k] holds the k smallest values: the (k - 1)-th is their maximum
    for t in range(1, k):
        if a[t] > below:
            below = a[t]
    return (below + a[k]) / 2


@numba.njit(cache=True, nogil=True)
def _min_max(a, n):
    """Smallest and largest of ``a[:n]`` (n >= 1)."""
    lo = a[0]
    hi = a[0]
    for i in range(1, n):
        v = a[i]
        lo = min(lo, v)
        hi = max(hi, v)
    return lo, hi


@numba.njit(cache=True, nogil=True)
def _kth_key(keys, n, k, scratch_a, scratch_b, hist):
    """The ``k``-th smallest (0-based) of ``keys[:n]`` (int64 >= 0), by radix selection.

    ``keys`` is not modified; ``scratch_a`` and ``scratch_b`` (at least ``n`` long) and
    ``hist`` (256) are overwritten. Every pass histograms the 8 bits below the highest
    bit in which the remaining keys differ and keeps the bucket holding rank ``k``.
    """
    src = keys
    lo, hi = _min_max(src, n)
    to_a = True
    while True:
        if lo == hi:
            return lo
        dst = scratch_a if to_a else scratch_b
        if n <= 16:
            for i in range(n):
                dst[i] = src[i]
            for i in range(1, n):
                v = dst[i]
                j = i - 1
                while j >= 0 and dst[j] > v:
                    dst[j + 1] = dst[j]
                    j -= 1
                dst[j + 1] = v
            return dst[k]
        x = lo ^ hi
        top = 0
        while x > 1:
            x >>= 1
            top += 1
        shift = top - 7 if top >= 7 else 0
        hist[:] = 0
        for i in range(n):
            hist[(src[i] >> shift) & 255] += 1
        below = 0
        digit = 0
        while below + hist[digit] <= k:
            below += hist[digit]
            digit += 1
        k -= below
        m = 0
        for i in range(n):
            v = src[i]
            dst[m] = v
            m += ((v >> shift) & 255) == digit
        n = m
        lo, hi = _min_max(dst, n)
        src = dst
        to_a = not to_a


@numba.njit(cache=True, nogil=True)
def _median_of_keys(keys, values, n, scratch_a, scratch_b, hist):
    """Median of ``values[:n]`` whose bit patterns ``keys[:n]`` are all non-negative finite floats."""
    k = n >> 1
    if n & 1:
        key = _kth_key(keys, n, k, scratch_a, scratch_b, hist)
        for i in range(n):
            if keys[i] == key:
                return values[i]
    key = _kth_key(keys, n, k - 1, scratch_a, scratch_b, hist)
    # the k-th: the same value when more than k are <= it, else the smallest larger one
    at_most = 0
    first = -1
    larger = -1
    for i in range(n):
        v = keys[i]
        if v <= key:
            at_most += 1
            if v == key and first < 0:
                first = i
        elif larger < 0 or v < keys[larger]:
            larger = i
    low = values[first]
    high = low if at_most > k else values[larger]
    return (low + high) / 2


@numba.njit(cache=True, nogil=True)
def ring_medians(order, starts, ring, values, keys, exclude, previous):
    """Median of ``values`` over the bins of each ring not excluded (NaN for an empty ring).

    Parameters
    ----------
    order, starts : int64 ndarrays
        ``order[starts[r]:starts[r + 1]]`` are the flat bins of ring ``r``.
    ring : (n,) int64 ndarray
        The ring of each flat bin.
    values : (n,) float64 ndarray
        The spectrum, flat (not read: the medians come from ``keys``, the same memory viewed as int64).
    exclude : (n,) bool ndarray
        Bins left out.
    previous : float64 ndarray
        The medians of the same values without exclusions, or empty: rings without an
        excluded bin keep their previous median (the same bins, so the same value).

    Returns
    -------
    (n_rings,) float64 ndarray
    """
    n_rings = starts.shape[0] - 1
    touched = np.ones(n_rings, dtype=np.bool_)
    if previous.shape[0] == n_rings:
        touched[:] = False
        for i in range(ring.shape[0]):
            if exclude[i]:
                touched[ring[i]] = True
    widest = 1
    for r in range(n_rings):
        widest = max(widest, starts[r + 1] - starts[r])
    medians = np.full(n_rings, np.nan)
    gathered_keys = np.empty(widest + 1, dtype=np.int64)
    gathered = gathered_keys.view(np.float64)  # the same memory: the values of the gathered keys
    scratch_a = np.empty(widest, dtype=np.int64)
    scratch_b = np.empty(widest, dtype=np.int64)
    hist = np.zeros(256, dtype=np.int64)
    for r in range(n_rings):
        if not touched[r]:
            medians[r] = previous[r]
            continue
        m = 0
        lowest = _NON_FINITE
        highest = np.int64(0)
        for t in range(starts[r], starts[r + 1]):  # branch-free: an excluded bin is overwritten
            i = order[t]
            key = keys[i]
            gathered_keys[m] = key
            keep = not exclude[i]
            lowest = min(lowest, key) if keep else lowest
            highest = max(highest, key) if keep else highest
            m += keep
        if m == 0:
            continue
        plain = lowest >= 0 and highest < _NON_FINITE
        if plain:
            medians[r] = _median_of_keys(gathered_keys, gathered, m, scratch_a, scratch_b, hist)
        else:
            medians[r] = _median_by_comparisons(gathered, m)
    return medians


@numba.njit(cache=True, nogil=True)
def ring_interp(medians, lower, frac, tiny, out):
    """``maximum(interp(radius, arange(n), medians), tiny)`` with ``radius = lower + frac``, NumPy's arithmetic.

    ``numpy.interp`` gives ``slope * (x - xp[j]) + fp[j]`` with ``slope = (fp[j + 1] -
    fp[j]) / (xp[j + 1] - xp[j])`` (here ``xp[j + 1] - xp[j] = 1``) and ``fp[-1]`` from
    the last point on. ``medians`` must be finite; ``out`` is the flat result.
    """
    last = medians.shape[0] - 1
    for i in range(lower.shape[0]):
        j = lower[i]
        if j >= last:
            v = medians[last]
        else:
            v = (medians[j + 1] - medians[j]) * frac[i] + medians[j]
        out[i] = v if v > tiny else tiny


@numba.njit(cache=True, nogil=True)
def dilate_above(summed, background, threshold, out):
    """Set ``out`` (h, w) True within 2 bins (periodic) of every bin where ``summed / (9 background) > threshold``.

    ``scipy.ndimage.maximum_filter(summed / (9.0 * background) > threshold, size=5,
    mode="wrap")``, with the same division per bin.
    """
    h, w = out.shape
    for r0 in range(h):
        for c0 in range(w):
            if summed[r0, c0] / (9.0 * background[r0, c0]) > threshold:
                for di in range(-2, 3):
                    r = (r0 + di) % h
                    for dj in range(-2, 3):
                        out[r, (c0 + dj) % w] = True
