"""numba kernels of the rotation and reflection descriptors: scores and pooling.

The geometry (operations, disk and polar samples, spline taps) and the descriptor
that drives these kernels are in :mod:`.point_symmetry`, whose docstring states the
conventions. Kernels take and return NumPy arrays and never import HyperSpy.
"""

from __future__ import annotations

import numba
import numpy as np

from .._threading import serialised

#: x positions processed together by the score kernel (SIMD along x).
_TILE = 256


@numba.njit(cache=True, nogil=True)
def _pearson_from_moments(sab, sa, saa, w, flat):
    """Correlation of a patch with a permutation of itself (same mean and variance)."""
    mean = sa / w
    var = saa / w - mean * mean
    if var * w <= flat:
        return 0.0
    r = (sab / w - mean * mean) / var
    return min(1.0, max(-1.0, r))


@serialised
@numba.njit(cache=True, nogil=True, parallel=True)
def _score_kernel(img, coef, row_sum1, row_sum2, ys, x_lo, step, n_x, half_widths, disk, exact_pairs, exact_w,
                  exact_count, polar_first, polar_wy, polar_wx, polar_weight, polar_pairs, polar_w, polar_count,
                  flat_disk, flat_polar, out):
    """Scores at pixels (ys[i], x_lo + j * step), j < n_x, of every operation.

    ``img``, ``coef``, ``row_sum1`` and ``row_sum2`` come split into ``step`` column
    phases (``phases(a, step)``), so that every access along x is a contiguous slice
    (SIMD) whatever the step. Exact operations (channels 0..n_exact-1): products of disk pixels ``disk[pair]``
    with weights, ``exact_count[e]`` pairs each (padded arrays); disk sums from the
    row prefix sums. Polar operations (the following channels): cubic B-spline samples
    then weighted products of sample pairs.
    """
    n_exact = exact_count.shape[0]
    n_polar = polar_count.shape[0]
    n_samples = polar_first.shape[0]
    radius = half_widths.shape[0] // 2
    n_tiles = (n_x + _TILE - 1) // _TILE
    w_disk = float(disk.shape[0])
    w_polar = 0.0
    for k in range(n_samples):
        w_polar += polar_weight[k]
    for task in numba.prange(ys.shape[0] * n_tiles):
        i = task // n_tiles
        t0 = (task % n_tiles) * _TILE
        nt = min(n_x, t0 + _TILE) - t0
        y = ys[i]
        x0 = x_lo + t0 * step
        if n_exact > 0:
            sa = np.zeros(nt)
            saa = np.zeros(nt)
            for dy in range(-radius, radius + 1):
                hw = half_widths[dy + radius]
                lo = x0 - hw
                hi = x0 + hw + 1
                r1a = row_sum1[hi % step, y + dy, hi // step : hi // step + nt]
                r1b = row_sum1[lo % step, y + dy, lo // step : lo // step + nt]
                r2a = row_sum2[hi % step, y + dy, hi // step : hi // step + nt]
                r2b = row_sum2[lo % step, y + dy, lo // step : lo // step + nt]
                for t in range(nt):
                    sa[t] += r1a[t] - r1b[t]
                    saa[t] += r2a[t] - r2b[t]
            acc = np.zeros(nt)
            for e in range(n_exact):
                acc[:] = 0.0
                for p in range(exact_count[e]):
                    ka = exact_pairs[e, p, 0]
                    kb = exact_pairs[e, p, 1]
                    w = exact_w[e, p]
                    xa = x0 + disk[ka, 1]
                    xb = x0 + disk[kb, 1]
                    a = img[xa % step, y + disk[ka, 0], xa // step : xa // step + nt]
                    b = img[xb % step, y + disk[kb, 0], xb // step : xb // step + nt]
                    for t in range(nt):
                        acc[t] += w * a[t] * b[t]
                for t in range(nt):
                    out[i, t0 + t, e] = _pearson_from_moments(acc[t], sa[t], saa[t], w_disk, flat_disk)
        if n_polar == 0:
            continue
        vals = np.zeros((n_samples, nt), dtype=np.float32)
        for k in range(n_samples):
            v = vals[k]
            for p in range(4):
                wyp = polar_wy[k, p]
                for q in range(4):
                    w = np.float32(wyp * polar_wx[k, q])
                    xq = x0 + polar_first[k, 1] + q
                    c = coef[xq % step, y + polar_first[k, 0] + p, xq // step : xq // step + nt]
                    for t in range(nt):
                        v[t] += w * c[t]
        pa = np.zeros(nt)
        paa = np.zeros(nt)
        for k in range(n_samples):
            wk = polar_weight[k]
            v = vals[k]
            for t in range(nt):
                pa[t] += wk * v[t]
                paa[t] += wk * v[t] * v[t]
        pab = np.zeros(nt)
        for o in range(n_polar):
            pab[:] = 0.0
            for p in range(polar_count[o]):
                w = polar_w[o, p]
                v = vals[polar_pairs[o, p, 0]]
                u = vals[polar_pairs[o, p, 1]]
                for t in range(nt):
                    pab[t] += w * v[t] * u[t]
            for t in range(nt):
                out[i, t0 + t, n_exact + o] = _pearson_from_moments(pab[t], pa[t], paa[t], w_polar, flat_polar)


def phases(a: np.ndarray, step: int) -> np.ndarray:
    """(step, H, ceil(W / step)) C-contiguous copy with phase p holding a[:, p::step]."""
    height, width = a.shape
    n = -(-width // step)
    out = np.zeros((step, height, n))
    for p in range(step):
        col = a[:, p::step]
        out[p, :, : col.shape[1]] = col
    return out


def _padded_pairs(pair_lists):
    """Stack (pairs, weights) of several operations into padded arrays and counts."""
    n = max([len(p) for p, _ in pair_lists], default=0)
    pairs = np.zeros((len(pair_lists), n, 2), dtype=np.int64)
    weights = np.zeros((len(pair_lists), n))
    counts = np.zeros(len(pair_lists), dtype=np.int64)
    for e, (p, w) in enumerate(pair_lists):
        pairs[e, : len(p)] = p
        weights[e, : len(p)] = w
        counts[e] = len(p)
    return pairs, weights, counts


@numba.njit(cache=True, nogil=True, inline="always")
def _insert_descending(best, o, last, v):
    """Insert v into the descending list best[o : o + last + 1] if it is large enough."""
    if v > best[o + last]:
        m = last
        while m > 0 and best[o + m - 1] < v:
            best[o + m] = best[o + m - 1]
            m -= 1
        best[o + m] = v
        return True
    return False


@numba.njit(cache=True, nogil=True, inline="always")
def _window_range(c, w, s0, step, n):
    """First and last of the ``n`` scored pixels ``s0 + k * step`` in the window ``[c - w, c + w]``.

    A window holding none of them (a pooling window narrower than ``pool_step``, or
    one beyond the scored region) gets the scored pixel nearest to ``c`` instead, so
    every grid point pools at least one score.
    """
    lo = max(0, -((s0 - (c - w)) // step))
    hi = min(n - 1, (c + w - s0) // step)
    if lo > hi:
        k = min(max((2 * (c - s0) + step) // (2 * step), 0), n - 1)
        lo = k
        hi = k
    return lo, hi


@serialised
@numba.njit(cache=True, nogil=True, parallel=True)
def _pool_kernel(scores, s_y0, s_x0, step, wy, wx, grid_y0, grid_x0, stride, ny, nx, num_max, out):
    """Largest ``num_max`` scores of each channel in the window around each grid point.

    Score (a, b) is at pixel (s_y0 + a * step, s_x0 + b * step). out[i, j, c * num_max + m]
    is the (m+1)-th largest score of channel c in the window (clipped to the scores; a
    window holding no scored pixel takes the nearest one, see :func:`_window_range`);
    missing values (a window with fewer scores than num_max) repeat the largest found.
    Separable: the sorted top values of each score row's part of every window first,
    then a merge over the rows of each window that leaves a row as soon as its next
    value cannot enter the result.
    """
    n_sy, n_sx, n_ch = scores.shape
    flat = scores.reshape(-1)
    last = num_max - 1
    rowtop = np.empty((n_sy, nx, n_ch * num_max), dtype=scores.dtype)
    for a in numba.prange(n_sy):
        for j in range(nx):
            xc = grid_x0 + j * stride
            b0, b1 = _window_range(xc, wx, s_x0, step, n_sx)
            best = rowtop[a, j]
            best[:] = -np.inf
            for b in range(b0, b1 + 1):
                base = (a * n_sx + b) * n_ch
                for c in range(n_ch):
                    _insert_descending(best, c * num_max, last, flat[base + c])
    for i in numba.prange(ny):
        yc = grid_y0 + i * stride
        a0, a1 = _window_range(yc, wy, s_y0, step, n_sy)
        best = np.empty(n_ch * num_max, dtype=scores.dtype)
        for j in range(nx):
            best[:] = -np.inf
            for a in range(a0, a1 + 1):
                row = rowtop[a, j]
                for c in range(n_ch):
                    o = c * num_max
                    for m in range(num_max):
                        if not _insert_descending(best, o, last, row[o + m]):
                            break  # the row's later values are smaller still
            for c in range(n_ch):
                o = c * num_max
                for m in range(num_max):
                    v = best[o + m]
                    out[i, j, o + m] = v if v > -np.inf else best[o]


@serialised
@numba.njit(cache=True, nogil=True, parallel=True)
def _pool_max_separable(scores, s_y0, s_x0, step, wy, wx, grid_y0, grid_x0, stride, ny, nx, out):
    """num_max = 1 case of :func:`_pool_kernel`: maximum over x, then over y."""
    n_sy, n_sx, n_ch = scores.shape
    rowmax = np.empty((n_sy, nx, n_ch), dtype=scores.dtype)
    for a in numba.prange(n_sy):
        for j in range(nx):
            xc = grid_x0 + j * stride
            b0, b1 = _window_range(xc, wx, s_x0, step, n_sx)
            for c in range(n_ch):
                m = scores[a, b0, c]
                for b in range(b0 + 1, b1 + 1):
                    m = max(m, scores[a, b, c])
                rowmax[a, j, c] = m
    for i in numba.prange(ny):
        yc = grid_y0 + i * stride
        a0, a1 = _window_range(yc, wy, s_y0, step, n_sy)
        for j in range(nx):
            for c in range(n_ch):
                m = rowmax[a0, j, c]
                for a in range(a0 + 1, a1 + 1):
                    m = max(m, rowmax[a, j, c])
                out[i, j, c] = m
