"""Pearson scores of a patch and its shifted copy from box sums: shared by the direct and fft methods.

NumPy in, NumPy out (numba); no HyperSpy.
"""

from __future__ import annotations

import math

import numba


@numba.njit(cache=True, nogil=True, inline="always")
def _pearson(sab, npix, mean_a, inv_a, mean_b, inv_b):
    """Pearson correlation from the cross sum and two full patches' statistics."""
    r = (sab - npix * mean_a * mean_b) * inv_a * inv_b
    return min(1.0, max(-1.0, r))


@numba.njit(cache=True, nogil=True, inline="always")
def _box(ii, top, bottom, left, right):
    return ii[bottom + 1, right + 1] - ii[top, right + 1] - ii[bottom + 1, left] + ii[top, left]


@numba.njit(cache=True, nogil=True)
def _clipped_pearson(sab, top, bottom, left, right, m, n, ii1, ii2, flat_per_pixel):
    """Pearson correlation over the box rows top..bottom, columns left..right and
    the same box shifted by (m, n), from integral images; 0 if either is flat."""
    npix = float((bottom - top + 1) * (right - left + 1))
    s1a = _box(ii1, top, bottom, left, right)
    s2a = _box(ii2, top, bottom, left, right)
    s1b = _box(ii1, top + m, bottom + m, left + n, right + n)
    s2b = _box(ii2, top + m, bottom + m, left + n, right + n)
    va = s2a - s1a * s1a / npix
    vb = s2b - s1b * s1b / npix
    flat = flat_per_pixel * npix
    if va <= flat or vb <= flat:
        return 0.0
    r = (sab - s1a * s1b / npix) / math.sqrt(va * vb)
    return min(1.0, max(-1.0, r))


@numba.njit(cache=True, nogil=True, inline="always")
def _row_bounds(yc, py, m, height):
    """First and last image row of the (clipped) patch at row yc for shift m."""
    return max(yc - py, 0, -m), min(yc + py, height - 1, height - 1 - m)
