"""The ``fft`` method of the local correlation map (paper, Appendix B).

For a patch ``P`` centred on ``(yc, xc)`` and a shift ``(m, n)`` the Pearson score
needs the cross sum ``S(m, n) = sum_{r in P} I(r) I(r + (m, n))``; patch means and
norms come from integral images (:func:`.translation.patch_statistics`). Appendix B
of Wang et al. (2021) obtains ``S`` for every shift at once from the correlation
theorem: embed the patch ``A`` and its neighbourhood ``B`` in a periodic range of
length ``W >= |A| + (largest - smallest shift)`` with zero padding, then
``S = IDFT(conj(DFT A) * DFT B)`` without wrap-around (eq. B.6-B.8).

Here the theorem is applied to each *row* of the patch: ``A`` is row ``y`` of the patch
(``2 patch_x + 1`` pixels) and ``B`` the rows ``y + m`` of the neighbourhood. For a
single-row ``A`` the transforms along y and their inverse cancel exactly, so the
2D correlation of row ``y`` is, for every shift ``(m, n)``,

    c_y(m, n) = IDFT_x[ conj(Â_y) · B̂_{y+m} ](n - n_min),

where ``Â_y`` and ``B̂_y`` are the real FFTs along x of image row ``y`` cut to the
patch columns and to the neighbourhood columns. ``S`` is the sum of ``c_y`` over the
patch rows, and since the inverse transform is linear the sum is taken in Fourier
space, ``R(m, f) = sum_y conj(Â_y(f)) B̂_{y+m}(f)``, before one inverse per centre.
This is what makes the method fast:

* the row transforms depend only on the image row and the patch column, so all
  centres of a grid column share them (two real FFTs of length ``W`` per image row and
  grid column, instead of three 2D transforms of ``W x W`` per centre);
* consecutive centres of a grid column share all but ``stride`` rows of their patch:
  ``R`` slides down the column (rows entering are added, rows leaving removed), and
  is summed afresh periodically so that rounding errors do not accumulate;
* the inverse transform is evaluated only at the shifts requested (eq. B.8 with the
  sum over frequencies written out), e.g. 81 values on a step-5 grid, not the
  ``W x (shift rows)`` window;
* ``W`` covers the span of the shifts actually requested (smallest to largest, not
  ``2 max |shift|``), rounded up to a fast FFT length.

Grid columns are independent: threads take whole columns (NumPy's FFT and the numba
kernel both run without the GIL), so there is no synchronisation inside a column and
the result does not depend on the number of threads.

Pixels outside the image are zero, so near the edges ``S`` is the sum over the
clipped box exactly as in the direct method; the score then uses the statistics of
the clipped boxes. Everything is float64; the scores are written as float32.

Kernels take and return NumPy arrays and never import HyperSpy.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading

import numba
import numpy as np

from ._pearson_kernels import _clipped_pearson, _pearson, _row_bounds


def fft_length(n: int) -> int:
    """The smallest ``2**a 3**b 5**c >= n``: a fast real-FFT length (the work here grows with it).

    The lengths ``scipy.fft.next_fast_len(n, real=True)`` gives, computed here so that the
    method does not import scipy.fft (and scipy.special with it: 3.6 MiB and 30-90 ms of a
    fresh process); the transforms are NumPy's, the same pocketfft.
    """
    n = max(1, int(n))
    best = 1 << (n - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best


def _cut(img, top, left, width, out):
    """``out[:, :width] = img[top:, left:]`` (pixels outside the image are zero) and ``out[:, width:] = 0``."""
    rows = out.shape[0]
    height, image_width = img.shape
    r0, r1 = max(top, 0), min(top + rows, height)
    c0, c1 = max(left, 0), min(left + width, image_width)
    if r0 > top or r1 < top + rows or c0 > left or c1 < left + width:
        out[:, :width] = 0.0
    out[:, width:] = 0.0
    if r1 > r0 and c1 > c0:
        out[r0 - top : r1 - top, c0 - left : c1 - left] = img[r0:r1, c0:c1]


def _row_spectra(img, top, left_a, width_a, left_b, width_b, length, fa, fb, local):
    """The row spectra of a strip: ``fa[r]`` of image row ``top + r`` cut to columns ``left_a``
    .. ``left_a + width_a`` and ``fb[r]`` cut to ``left_b`` .. ``left_b + width_b``, each
    zero-padded to ``length`` (pixels outside the image are zero).

    No copy of the image is made. A cut is transformed from a contiguous strip (NumPy's
    own zero-padding of a strided view is 40 % slower), except the neighbourhood when it
    lies inside the image and needs no padding (``width_b == length``, e.g. pySTEM's
    defaults): it is transformed straight from the image, and the patch's strip is then
    cut into ``fb``'s memory before ``fb`` is written. Otherwise the strip is
    ``local.strip``, a buffer of the thread allocated on first use.
    """
    rows = fa.shape[0]
    height, image_width = img.shape
    if width_b == length and top >= 0 and top + rows <= height and left_b >= 0 and left_b + width_b <= image_width:
        strip = fb.view(np.float64)[:, :length]  # read by the first transform, then overwritten by the second
        _cut(img, top, left_a, width_a, strip)
        np.fft.rfft(strip, axis=-1, out=fa)
        np.fft.rfft(img[top : top + rows, left_b : left_b + width_b], axis=-1, out=fb)
        return
    if getattr(local, "strip", None) is None:
        local.strip = np.empty((rows, length))
    _cut(img, top, left_a, width_a, local.strip)
    np.fft.rfft(local.strip, axis=-1, out=fa)
    _cut(img, top, left_b, width_b, local.strip)
    np.fft.rfft(local.strip, axis=-1, out=fb)


def inverse_weights(lags: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Cosine and sine weights of the real inverse DFT evaluated at ``lags``.

    For the half spectrum ``X[0 .. length // 2]`` of a real sequence ``x`` of length
    ``length``, ``x[l] = sum_f cos_w[u, f] Re X[f] + sin_w[u, f] Im X[f]`` for
    ``l = lags[u]``. Returns two ``(len(lags), length // 2 + 1)`` float64 arrays.
    """
    f = np.arange(length // 2 + 1)
    weight = np.full(f.size, 2.0)
    weight[0] = 1.0
    if length % 2 == 0:
        weight[-1] = 1.0
    phase = 2.0 * np.pi * np.outer(np.asarray(lags, dtype=np.float64), f) / length
    return weight * np.cos(phase) / length, -weight * np.sin(phase) / length


@numba.njit(cache=True, nogil=True)
def _score(sab, yc, xc, m, n, py, px, height, width, npix, mean, inv, ii1, ii2, flat_pp):
    """Pearson score from the cross sum of the (clipped) patch at (yc, xc) and shift (m, n).

    Full boxes use the patch statistics maps; clipped ones (rows and columns where
    the pixel and its shifted partner both lie inside) the integral images, and are 0
    when either box is flat.
    """
    top, bottom = _row_bounds(yc, py, m, height)
    left = max(xc - px, 0, -n)
    right = min(xc + px, width - 1, width - 1 - n)
    if top == yc - py and bottom == yc + py and left == xc - px and right == xc + px:
        return _pearson(sab, npix, mean[top, left], inv[top, left], mean[top + m, left + n], inv[top + m, left + n])
    return _clipped_pearson(sab, top, bottom, left, right, m, n, ii1, ii2, flat_pp)


@numba.njit(cache=True, nogil=True, inline="always")
def _add_row(fa, fb, row, b_rows, sign, acc_re, acc_im):
    """acc[u, f] += sign * conj(fa[row, f]) * fb[row + b_rows[u], f]."""
    nf = acc_re.shape[1]
    for u in range(b_rows.size):
        rb = row + b_rows[u]
        for f in range(nf):
            ar = fa[row, f].real
            ai = fa[row, f].imag
            br = fb[rb, f].real
            bi = fb[rb, f].imag
            acc_re[u, f] += sign * (ar * br + ai * bi)
            acc_im[u, f] += sign * (ar * bi - ai * br)


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _inverse_at(acc_re, acc_im, cos_w, sin_w):
    """One value of the real inverse DFT: sum_f Re X[f] cos_w[f] + Im X[f] sin_w[f]."""
    total = 0.0
    for f in range(acc_re.size):
        total += acc_re[f] * cos_w[f] + acc_im[f] * sin_w[f]
    return total


@numba.njit(cache=True, nogil=True)
def _lcm_fft_column(
    fa, fb, j, r0, chunk, ys, xs, b_rows, shift_u, shift_v, cos_w, sin_w, shifts, py, px, height, width, mean,
    inv, ii1, ii2, flat_pp, out,
):
    """Scores of grid column ``j`` from its row spectra (serial; runs without the GIL).

    ``fa[r]`` and ``fb[r]`` are the real FFTs along x of image row ``r0 + r`` cut to the
    patch columns and to the neighbourhood columns of the grid column; ``b_rows[u]`` is
    the row shift of row lag ``u``. The cross sums slide down the column and are summed
    afresh every ``chunk`` centres.
    """
    ny = ys.size
    n_shifts = shifts.shape[0]
    nf = cos_w.shape[1]
    n_u = b_rows.size
    npix = float((2 * py + 1) * (2 * px + 1))
    m_lo = min(0, shifts[:, 0].min())
    m_hi = max(0, shifts[:, 0].max())
    xc = xs[j]
    interior_x = xc - px + min(0, shifts[:, 1].min()) >= 0 and xc + px + max(0, shifts[:, 1].max()) <= width - 1
    acc_re = np.zeros((n_u, nf))
    acc_im = np.zeros((n_u, nf))
    top_prev = 0
    bottom_prev = -1
    for i in range(ny):
        yc = ys[i]
        top = yc - py - r0  # strip rows of the patch
        bottom = yc + py - r0
        if top > bottom_prev or i % chunk == 0:
            acc_re[:, :] = 0.0
            acc_im[:, :] = 0.0
            for y in range(top, bottom + 1):
                _add_row(fa, fb, y, b_rows, 1.0, acc_re, acc_im)
        else:
            for y in range(bottom_prev + 1, bottom + 1):
                _add_row(fa, fb, y, b_rows, 1.0, acc_re, acc_im)
            for y in range(top_prev, top):
                _add_row(fa, fb, y, b_rows, -1.0, acc_re, acc_im)
        top_prev = top
        bottom_prev = bottom
        if interior_x and yc - py + m_lo >= 0 and yc + py + m_hi <= height - 1:
            # Every shifted patch is inside: statistics from the full-patch maps.
            ra = yc - py
            ca = xc - px
            mean_a = npix * mean[ra, ca]
            inv_a = inv[ra, ca]
            for k in range(n_shifts):
                sab = _inverse_at(acc_re[shift_u[k]], acc_im[shift_u[k]], cos_w[shift_v[k]], sin_w[shift_v[k]])
                rb = ra + shifts[k, 0]
                cb = ca + shifts[k, 1]
                r = (sab - mean_a * mean[rb, cb]) * inv_a * inv[rb, cb]
                out[i, j, k] = min(1.0, max(-1.0, r))
        else:
            for k in range(n_shifts):
                sab = _inverse_at(acc_re[shift_u[k]], acc_im[shift_u[k]], cos_w[shift_v[k]], sin_w[shift_v[k]])
                out[i, j, k] = _score(
                    sab, yc, xc, shifts[k, 0], shifts[k, 1], py, px, height, width, npix, mean, inv, ii1, ii2, flat_pp
                )


def _threads(workers) -> int:
    """Threads for ``workers`` with scipy.fft's meaning (negative: counted back from the CPUs)."""
    if workers is None:
        return max(1, numba.get_num_threads())
    workers = int(workers)
    if workers < 0:
        return max(1, (os.cpu_count() or 1) + 1 + workers)
    return max(1, workers)


def lcm_fft(img, shifts, py, px, grid, mean, inv, ii1, ii2, flat_pp, out, batch, workers, progress=None):
    """Local correlation map by FFT correlations of patch rows (see the module docstring).

    Parameters
    ----------
    img : (H, W) float64 ndarray
        The normalized image (zero mean, unit standard deviation, or all zeros).
    shifts : (N, 2) int64 ndarray
        Translations ``(m, n)``.
    py, px : int
        Half sizes of the patch.
    grid : DescriptorGrid
        The centres.
    mean, inv : (H - 2 py, W - 2 px) float64 ndarray
        Mean and inverse norm of every full patch, by top-left pixel.
    ii1, ii2 : (H + 1, W + 1) float64 ndarray
        Integral images of ``img`` and ``img**2``.
    flat_pp : float
        Variance per pixel below which a clipped box is flat.
    out : (ny, nx, N) float32 ndarray
        Written in place.
    batch : int
        Grid points per task, rounded down to whole grid columns (at least one column).
    workers : int or None
        Threads, each taking whole tasks: None numba's thread count, else ``scipy.fft``'s
        meaning (negative values count back from the number of CPUs, -1 all of them).
    progress : callable, optional
        Called, in column order, with the number of grid points of every finished task.

    Returns
    -------
    out : (ny, nx, N) float32 ndarray
        The scores, ``out[i, j, k]`` for grid point ``(i, j)`` and shift ``k``.
    """
    img = np.asarray(img, dtype=np.float64)  # the strips are transformed from it: float64 spectra (no copy if so)
    height, width = img.shape
    shifts = np.ascontiguousarray(shifts, dtype=np.int64)
    ny, nx = grid.ny, grid.nx
    if ny == 0 or nx == 0:
        return out
    m0, m1 = int(shifts[:, 0].min()), int(shifts[:, 0].max())
    n0, n1 = int(shifts[:, 1].min()), int(shifts[:, 1].max())
    width_b = 2 * px + 1 + n1 - n0  # neighbourhood columns
    length = fft_length(width_b)
    lags_u, shift_u = np.unique(shifts[:, 0] - m0, return_inverse=True)
    lags_v, shift_v = np.unique(shifts[:, 1] - n0, return_inverse=True)
    cos_w, sin_w = inverse_weights(lags_v, length)
    b_rows = np.ascontiguousarray(lags_u + m0, dtype=np.int64)  # row offset of the neighbourhood per row lag
    shift_u = np.ascontiguousarray(shift_u.ravel(), dtype=np.int64)
    shift_v = np.ascontiguousarray(shift_v.ravel(), dtype=np.int64)
    ys = np.ascontiguousarray(grid.rows(), dtype=np.int64)
    xs = np.ascontiguousarray(grid.cols(), dtype=np.int64)
    r0 = int(ys[0]) - py + min(0, m0)  # image row of strip row 0
    n_rows = int(ys[-1]) + py + max(0, m1) - r0 + 1
    # Sum afresh every `chunk` centres: the sliding rows outweigh the restarts ten to one.
    chunk = max(1, -(-10 * (2 * py + 1) // (2 * max(1, grid.stride))))
    cols_per_batch = max(1, int(batch) // ny)
    local = threading.local()

    def column(j):
        # The two row spectra of the strip, buffers of the thread reused by all its columns.
        if getattr(local, "fa", None) is None:
            local.fa = np.empty((n_rows, length // 2 + 1), dtype=np.complex128)
            local.fb = np.empty_like(local.fa)
        left = int(xs[j]) - px  # patch columns, then the neighbourhood's
        _row_spectra(img, r0, left, 2 * px + 1, left + n0, width_b, length, local.fa, local.fb, local)
        _lcm_fft_column(
            local.fa, local.fb, j, r0, chunk, ys, xs, b_rows, shift_u, shift_v, cos_w, sin_w, shifts, py, px, height,
            width, mean, inv, ii1, ii2, flat_pp, out,
        )

    def columns(j0):
        for j in range(j0, min(nx, j0 + cols_per_batch)):
            column(j)
        return min(nx, j0 + cols_per_batch) - j0

    starts = range(0, nx, cols_per_batch)
    threads = min(_threads(workers), len(starts))
    if threads == 1:
        done = map(columns, starts)
    else:
        pool = concurrent.futures.ThreadPoolExecutor(threads)
        done = pool.map(columns, starts)
    try:
        for n in done:
            if progress is not None:
                progress(n * ny)
    finally:
        if threads > 1:
            pool.shutdown(cancel_futures=True)
    return out
