"""The direct method's numba kernel: running column sums of the product image per shift.

For a block of grid rows and every shift, the cross sums ``sum I(r) I(r + t)`` over
each patch are kept as column sums of the product image that slide down the image
(each image row added once and removed once per shift), summed along each grid row by
prefix sums (running window sums where every box of the row is full and the stride
is 1); patches that need clipping at the image edges get their statistics from the
integral images (:func:`._pearson_kernels._clipped_pearson`). The driver is
:func:`hyperspy_symseg.descriptors.translation.local_correlation_map`.

NumPy in, NumPy out (numba); no HyperSpy.
"""

from __future__ import annotations

import numba
import numpy as np

from ._pearson_kernels import _clipped_pearson, _pearson, _row_bounds


@numba.njit(cache=True, nogil=True, inline="always")
def _full_columns(px, n, x0, stride, nx, width):
    """Grid columns j0 <= j < j1 whose patch and shifted patch need no clipping."""
    lo = px + max(0, -n)  # smallest full centre column
    hi = width - 1 - px - max(0, n)  # largest
    j0 = max(0, -((x0 - lo) // stride))  # ceil((lo - x0) / stride)
    j1 = min(nx, (hi - x0) // stride + 1) if hi >= x0 else 0
    return j0, max(j0, j1)


@numba.njit(cache=True, nogil=True, inline="always")
def _prefix_sums(c, prefix):
    """``prefix[x] = sum(c[:x])`` for ``x`` in ``0 .. len(c)``.

    Four running sums over the four quarters of ``c`` advance together, then the
    quarters are offset by the totals before them: one running sum would be limited by
    the latency of each addition waiting for the previous one.
    """
    width = c.shape[0]
    q = width // 4
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    prefix[0] = 0.0
    for t in range(q):
        s0 += c[t]
        prefix[t + 1] = s0
        s1 += c[q + t]
        prefix[q + t + 1] = s1
        s2 += c[2 * q + t]
        prefix[2 * q + t + 1] = s2
        s3 += c[3 * q + t]
        prefix[3 * q + t + 1] = s3
    for x in range(4 * q, width):
        s3 += c[x]
        prefix[x + 1] = s3
    o1 = s0
    o2 = o1 + s1
    o3 = o2 + s2
    for x in range(q + 1, 2 * q + 1):
        prefix[x] += o1
    for x in range(2 * q + 1, 3 * q + 1):
        prefix[x] += o2
    for x in range(3 * q + 1, width + 1):
        prefix[x] += o3


@numba.njit(cache=True, nogil=True, inline="always")
def _box_sums(c, a0, w, n, box):
    """``box[t] = sum(c[a0 + t : a0 + t + w])`` for ``0 <= t < n`` (consecutive windows).

    Four running window sums (add the entering value, remove the leaving one) over the
    four quarters of ``t`` advance together, for the same reason as in
    :func:`_prefix_sums`; no prefix array to write and read back.
    """
    q = n // 4
    if q == 0:
        for t in range(n):
            acc = 0.0
            for x in range(w):
                acc += c[a0 + t + x]
            box[t] = acc
        return
    t1 = q
    t2 = 2 * q
    t3 = 3 * q
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    for x in range(w):
        s0 += c[a0 + x]
        s1 += c[a0 + t1 + x]
        s2 += c[a0 + t2 + x]
        s3 += c[a0 + t3 + x]
    box[0] = s0
    box[t1] = s1
    box[t2] = s2
    box[t3] = s3
    b = a0 + w - 1
    for t in range(1, q):
        s0 += c[b + t] - c[a0 + t - 1]
        box[t] = s0
        s1 += c[b + t1 + t] - c[a0 + t1 + t - 1]
        box[t1 + t] = s1
        s2 += c[b + t2 + t] - c[a0 + t2 + t - 1]
        box[t2 + t] = s2
        s3 += c[b + t3 + t] - c[a0 + t3 + t - 1]
        box[t3 + t] = s3
    for t in range(t3 + q, n):
        s3 += c[b + t] - c[a0 + t - 1]
        box[t] = s3


@numba.njit(cache=True, nogil=True, inline="always")
def _add_products(c, img, y, m, n, xa, xb, sign):
    """``c[x] += sign I(y, x) I(y + m, x + n)`` for ``xa <= x < xb``; ``sign`` is 1.0 or -1.0 (exact)."""
    a = img[y, xa:xb]
    b = img[y + m, xa + n : xb + n]
    cc = c[xa:xb]
    for x in range(xb - xa):
        cc[x] += sign * (a[x] * b[x])


@numba.njit(cache=True, nogil=True, inline="always")
def _slide_products(c, img, ya, yr, m, n, xa, xb):
    """``c[x] += I(ya, x) I(ya + m, x + n) - I(yr, x) I(yr + m, x + n)`` for ``xa <= x < xb``."""
    a = img[ya, xa:xb]
    b = img[ya + m, xa + n : xb + n]
    ar = img[yr, xa:xb]
    br = img[yr + m, xa + n : xb + n]
    cc = c[xa:xb]
    for x in range(xb - xa):
        cc[x] += a[x] * b[x] - ar[x] * br[x]


@numba.njit(cache=True, nogil=True)
def _clipped_scores(sc, j_start, j_end, prefix, top, bottom, m, n, px, x0, stride, width, ii1, ii2, flat_pp):
    """``sc[j]`` for grid columns ``j_start <= j < j_end`` whose box is clipped by the image edges."""
    for j in range(j_start, j_end):
        xc = x0 + j * stride
        left = max(xc - px, 0, -n)
        right = min(xc + px, width - 1, width - 1 - n)
        sab = prefix[right + 1] - prefix[left]
        sc[j] = _clipped_pearson(sab, top, bottom, left, right, m, n, ii1, ii2, flat_pp)


@numba.njit(cache=True, nogil=True)
def _lcm_direct_rows(img, shifts, py, px, y0, x0, i0, i1, nx, stride, mean, inv, ii1, ii2, flat_pp, out):
    """Scores of every shift at the grid points of grid rows ``i0 <= i < i1``, into ``out[i]``.

    Per shift, ``col[k, x]`` holds the sum over the patch rows of ``I(y, x) I(y + m, x + n)``
    (zero where ``x + n`` is outside the image); it slides down the image (rows entering
    the box added, rows leaving it removed), and its prefix sums along the row give every
    box sum of the grid row. A grid row's scores are collected per shift, contiguous along
    the row, then written to ``out[i]``, which is contiguous: every output byte is written
    once, in order.
    """
    height, width = img.shape
    n_shifts = shifts.shape[0]
    npix = float((2 * py + 1) * (2 * px + 1))
    if i1 > i0:
        col = np.zeros((n_shifts, width))
        ctop = np.zeros(n_shifts, dtype=np.int64)
        cbot = np.full(n_shifts, -1, dtype=np.int64)
        prefix = np.empty(width + 1)
        box = np.empty(nx)
        scores = np.empty((n_shifts, nx), dtype=np.float32)
        for i in range(i0, i1):
            yc = y0 + i * stride
            for k in range(n_shifts):
                m = shifts[k, 0]
                n = shifts[k, 1]
                xa = max(0, -n)
                xb = min(width, width - n)
                top, bottom = _row_bounds(yc, py, m, height)
                c = col[k]
                if i == i0 or top > cbot[k]:
                    c[:] = 0.0
                    for y in range(top, bottom + 1):
                        _add_products(c, img, y, m, n, xa, xb, 1.0)
                else:
                    # Slide: add the rows entering the box, remove those leaving it.
                    entering = bottom - cbot[k]
                    leaving = top - ctop[k]
                    both = min(entering, leaving)
                    for s in range(both):
                        _slide_products(c, img, cbot[k] + 1 + s, ctop[k] + s, m, n, xa, xb)
                    for s in range(both, entering):
                        _add_products(c, img, cbot[k] + 1 + s, m, n, xa, xb, 1.0)
                    for s in range(both, leaving):
                        _add_products(c, img, ctop[k] + s, m, n, xa, xb, -1.0)
                ctop[k] = top
                cbot[k] = bottom
                sc = scores[k]
                j0, j1 = _full_columns(px, n, x0, stride, nx, width)
                if top != yc - py or bottom != yc + py:
                    j0 = j1 = 0  # clipped rows: no grid column has a full box
                ra = yc - py
                ca = x0 + j0 * stride - px
                end = ca + (j1 - j0 - 1) * stride + 1
                if stride == 1 and j0 == 0 and j1 == nx:
                    # Every box full and consecutive: running window sums, no prefix sums.
                    _box_sums(c, ca, 2 * px + 1, nx, box)
                    mean_a = mean[ra, ca:end]
                    inv_a = inv[ra, ca:end]
                    mean_b = mean[ra + m, ca + n : end + n]
                    inv_b = inv[ra + m, ca + n : end + n]
                    for t in range(nx):
                        sc[t] = _pearson(box[t], npix, mean_a[t], inv_a[t], mean_b[t], inv_b[t])
                    continue
                _prefix_sums(c, prefix)
                # Full boxes: statistics from the precomputed maps. Slices (no index
                # arithmetic in the loop) let the compiler vectorise it.
                if j1 > j0:
                    p1 = prefix[ca + 2 * px + 1 : end + 2 * px + 1 : stride]
                    p0 = prefix[ca:end:stride]
                    mean_a = mean[ra, ca:end:stride]
                    inv_a = inv[ra, ca:end:stride]
                    mean_b = mean[ra + m, ca + n : end + n : stride]
                    inv_b = inv[ra + m, ca + n : end + n : stride]
                    sc_full = sc[j0:j1]
                    for t in range(j1 - j0):
                        sc_full[t] = _pearson(p1[t] - p0[t], npix, mean_a[t], inv_a[t], mean_b[t], inv_b[t])
                # Clipped boxes near the edges: statistics from the integral images.
                _clipped_scores(sc, 0, j0, prefix, top, bottom, m, n, px, x0, stride, width, ii1, ii2, flat_pp)
                _clipped_scores(sc, j1, nx, prefix, top, bottom, m, n, px, x0, stride, width, ii1, ii2, flat_pp)
            row = out[i]
            for j in range(nx):
                for k in range(n_shifts):
                    row[j, k] = scores[k, j]
