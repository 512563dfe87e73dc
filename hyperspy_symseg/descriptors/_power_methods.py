"""The two ways of computing sliding-window power spectra (see :mod:`.power_spectrum`).

``dft``: separable matrix products (BLAS) with the phases taken from the window centre;
``fft``: batches of windows and ``scipy.fft.rfft2``. Serial numba kernels (nogil) run
on blocks of grid rows in a thread pool, each with single-threaded BLAS / FFT.

Kernels take and return NumPy arrays and never import HyperSpy.
"""

from __future__ import annotations

import contextlib
import math
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

#: Grid rows whose image rows are transformed along x together by the dft method.
_DFT_BLOCK_ROWS = 256

#: Bytes of row segments and their x transforms per block of the dft method.
_BLOCK_BYTES = 32 * 2**20

#: Windows transformed together by the fft method.
_FFT_BATCH = 256


def hann_window(length: int) -> np.ndarray:
    """The 1D Hann taper of a window of ``length`` pixels (float64, shape ``(length,)``).

    ``h(n) = sin(pi (n + 1) / (length + 1))**2`` for ``n = 0 .. length - 1``, i.e.
    ``numpy.hanning(length + 2)[1:-1]``: zero one pixel outside both ends of the
    window, positive on every window pixel, symmetric, and 1 at the centre of an
    odd-length window. The 2D taper is ``outer(hann_window(Ly), hann_window(Lx))``.
    """
    n = np.arange(length, dtype=np.float64)
    return np.sin(np.pi * (n + 1) / (length + 1)) ** 2


def _taper(length: int, taper: str) -> np.ndarray:
    return hann_window(length) if taper == "hann" else np.ones(length)



# ----------------------------------------------------------------------- kernels
# Serial kernels (nogil): the drivers run them, and BLAS / pocketfft with one thread
# each, on blocks of grid rows in a thread pool, which keeps numba's, OpenBLAS's and
# pocketfft's thread pools from competing for the cores.


@numba.njit(cache=True, nogil=True)
def _fold_segments(img, r0, r1, xc0, stride, nx, wx, even, odd):
    """Even and odd parts of the window rows about the windows' centre columns (dft method).

    For image row ``r0 <= r < r1`` and grid column ``j`` (centre column ``xc = xc0 + j
    stride``), row ``q = (r - r0) nx + j`` of ``even`` (``wx + 1`` columns) holds
    ``I(r, xc)`` and ``I(r, xc + c) + I(r, xc - c)`` for ``c = 1 .. wx``, and that of
    ``odd`` (``wx`` columns) ``I(r, xc + c) - I(r, xc - c)``: with the phase taken from
    the centre and a symmetric taper, the cosine part of the x DFT needs only the first
    and the sine part only the second, half the products of the whole window.
    """
    for r in range(r0, r1):
        base = (r - r0) * nx
        for j in range(nx):
            xc = xc0 + j * stride
            q = base + j
            even[q, 0] = img[r, xc]
            for c in range(1, wx + 1):
                right = img[r, xc + c]
                left = img[r, xc - c]
                even[q, c] = right + left
                odd[q, c - 1] = right - left


@numba.njit(cache=True, nogil=True)
def _power_from_dft(y, nkx, groups, what_re, what_im, means, invs, row, col0, stride, wy, wx, log, out):
    """Power of one grid row from the y transforms of its x transforms (dft method).

    y : (2, n_c + n_s, nx * nkx) float64, real (``y[0]``) and imaginary (``y[1]``) parts.
        Row ``|a|`` holds ``C_a = sum_r T(r) cos(2 pi a (r - wy) / Ly) X(r)`` and row
        ``n_c + |a| - 1`` (``a != 0``) ``S_a = sum_r T(r) sin(2 pi a (r - wy) / Ly) X(r)``,
        where ``X(r)`` is the tapered x DFT (phase from the centre column) of window row
        ``r``; column ``j nkx + b`` is grid column ``j`` and frequency ``b``. The DFT of
        the tapered window at ``(a, b)`` is ``C_|a| - i sign(a) S_|a|`` (times a phase
        factor of modulus 1, which the power does not see).
    groups : (G, 6) int64, runs of channels ``k0 .. k1 - 1`` of one ``a`` and consecutive
        ``b`` from ``b0``: ``(k0, k1, b0, row of C, row of S or -1, sign(a))``.
    what_re, what_im : (N,) ``DFT(T)`` of the channels (same phases). means, invs : patch
        statistics maps (``invs == 0`` marks a flat window). out : (nx, N) float32.
    """
    nx = out.shape[0]
    yr = y[0]
    yi = y[1]
    r = row - wy
    m = np.empty(nx)
    for j in range(nx):
        m[j] = means[r, col0 + j * stride - wx]
    # Group by group (one a, consecutive b), then window by window: the loads of y
    # sweep its rows in order. Index arithmetic, no slices (a view costs reference counting).
    for g in range(groups.shape[0]):
        k0, k1, b0, rc, rs, sg = groups[g, 0], groups[g, 1], groups[g, 2], groups[g, 3], groups[g, 4], groups[g, 5]
        for j in range(nx):
            q = j * nkx + b0
            mj = m[j]
            if rs < 0:
                for k in range(k0, k1):
                    re = yr[rc, q] - mj * what_re[k]
                    im = yi[rc, q] - mj * what_im[k]
                    out[j, k] = re * re + im * im
                    q += 1
            else:
                for k in range(k0, k1):
                    re = yr[rc, q] + sg * yi[rs, q] - mj * what_re[k]
                    im = yi[rc, q] - sg * yr[rs, q] - mj * what_im[k]
                    out[j, k] = re * re + im * im
                    q += 1
    for j in range(nx):
        if invs[r, col0 + j * stride - wx] == 0.0:
            for k in range(out.shape[1]):
                out[j, k] = 0.0
        elif log:
            for k in range(out.shape[1]):
                out[j, k] = math.log1p(out[j, k])


def _channel_groups(channels: np.ndarray, n_c: int) -> np.ndarray:
    """Runs of channels with one ``a`` and consecutive ``b`` (see :func:`_power_from_dft`)."""
    groups = []
    k0 = 0
    for k in range(1, len(channels) + 1):
        if k == len(channels) or channels[k, 0] != channels[k0, 0] or channels[k, 1] != channels[k - 1, 1] + 1:
            a = int(channels[k0, 0])
            groups.append((k0, k, int(channels[k0, 1]), abs(a), n_c + abs(a) - 1 if a else -1, int(np.sign(a))))
            k0 = k
    return np.array(groups, dtype=np.int64).reshape(-1, 6)


@numba.njit(cache=True, nogil=True)
def _gather_windows(img, ys, xs, wy, wx, ty, tx, means, invs, out):
    """Mean-removed, tapered windows centred on ``(ys, xs)`` into ``out`` (B, Ly, Lx)."""
    ly = 2 * wy + 1
    lx = 2 * wx + 1
    for b in range(ys.shape[0]):
        r0 = ys[b] - wy
        c0 = xs[b] - wx
        if invs[r0, c0] == 0.0:
            out[b] = 0.0
            continue
        m = means[r0, c0]
        for r in range(ly):
            t = ty[r]
            for c in range(lx):
                out[b, r, c] = (img[r0 + r, c0 + c] - m) * t * tx[c]


@numba.njit(cache=True, nogil=True)
def _power_from_fft(spec, ch_a, ch_b, log, out):
    """Power of the channels ``spec[:, ch_a, ch_b]`` of a batch of rfft2 spectra."""
    n_ch = ch_a.shape[0]
    for i in range(spec.shape[0]):
        for k in range(n_ch):
            z = spec[i, ch_a[k], ch_b[k]]
            p = z.real * z.real + z.imag * z.imag
            out[i, k] = math.log1p(p) if log else p


# ----------------------------------------------------------------------- drivers


def _prime_factor_sum(n: int) -> int:
    """Sum of the prime factors of ``n`` with multiplicity (``65 -> 5 + 13``)."""
    total, p = 0, 2
    while p * p <= n:
        while n % p == 0:
            total += p
            n //= p
        p += 1
    return total + (n if n > 1 else 0)


def _choose_method(window_y: int, window_x: int, channels: np.ndarray, stride: int) -> str:
    """The faster method by a cost model measured on a 2-core machine (microseconds per window).

    dft: ``8 nky Ly nkx`` flops of the y transform plus ``4 Lx nkx (Ly + stride) / stride``
    of the x transform, at ~20 GFLOP/s. fft: pocketfft costs about 0.3 ns per pixel and
    per unit of the sum of the prime factors of each axis length (the window sizes are
    odd, often prime: 41 px costs as much as 65 = 5 x 13 px).
    """
    ly, lx = 2 * window_y + 1, 2 * window_x + 1
    nky = len(np.unique(channels[:, 0]))
    nkx = int(channels[:, 1].max()) + 1
    dft = (8.0 * nky * ly * nkx + 4.0 * lx * nkx * (ly + stride) / stride) / 2e4
    fft = 3e-4 * ly * lx * (_prime_factor_sum(ly) + _prime_factor_sum(lx))
    return "dft" if dft <= fft else "fft"


def _n_workers(workers) -> int:
    if workers is None or workers < 1:
        return max(1, numba.get_num_threads())
    return int(workers)


@contextlib.contextmanager
def _single_threaded_blas():
    """BLAS with one thread inside the block (our own thread pool runs the blocks)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _run_blocks(task, n_items: int, block: int, workers: int, progress):
    """``task(start, stop)`` on consecutive blocks of items, ``workers`` at a time.

    ``task`` returns the number of grid points it finished, passed to ``progress``.
    """
    blocks = [(s, min(n_items, s + block)) for s in range(0, n_items, block)]
    if workers <= 1 or len(blocks) <= 1:
        for s, e in blocks:
            done = task(s, e)
            if progress is not None:
                progress(done)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done in pool.map(lambda b: task(*b), blocks):
            if progress is not None:
                progress(done)


def _spectra_dft(img, grid, wy, wx, taper, channels, log, means, invs, out, workers, progress):
    ly, lx = 2 * wy + 1, 2 * wx + 1
    nkx = int(channels[:, 1].max()) + 1
    a_abs = np.abs(channels[:, 0])
    n_c = int(a_abs.max()) + 1  # |a| = 0 .. max
    # Phases from the window centre and symmetric tapers: the x DFT of a window row is
    # sum_c tx(c) cos(2 pi b c / Lx) even(c) - i sum_c tx(c) sin(2 pi b c / Lx) odd(c)
    # (_fold_segments), and the y DFT of a and -a share their cosine and sine parts.
    tx, ty = _taper(lx, taper), _taper(ly, taper)
    c = np.arange(wx + 1)
    ex = tx[wx:, None] * np.exp(-2j * np.pi * np.outer(c, np.arange(nkx)) / lx)  # (wx + 1, nkx)
    mx_even = np.ascontiguousarray(ex.real)
    mx_odd = np.ascontiguousarray(ex.imag[1:])
    phase = 2 * np.pi * np.outer(np.arange(n_c), np.arange(ly) - wy) / ly
    fy = np.concatenate([ty * np.cos(phase), (ty * np.sin(phase))[1:]])
    groups = _channel_groups(channels, n_c)
    # DFT(T) of the channels, same phases, for the window mean: F = DFT(T W) - mean(W) DFT(T).
    ch_b = channels[:, 1]
    dft_ty = (ty * np.exp(-2j * np.pi * np.outer(channels[:, 0], np.arange(ly) - wy) / ly)).sum(axis=1)
    dft_tx = (tx * np.exp(-2j * np.pi * np.outer(ch_b, np.arange(lx) - wx) / lx)).sum(axis=1)
    what = dft_ty * dft_tx
    what_re, what_im = np.ascontiguousarray(what.real), np.ascontiguousarray(what.imag)
    rows = grid.rows()
    n_cols = grid.nx * nkx

    def task(i0, i1):
        # x transforms of all image rows under grid rows i0..i1-1, then one y
        # transform per grid row.
        r0, r1 = rows[i0] - wy, rows[i1 - 1] + wy + 1
        even = np.empty(((r1 - r0) * grid.nx, wx + 1))
        odd = np.empty(((r1 - r0) * grid.nx, wx))
        _fold_segments(img, r0, r1, grid.x0, grid.stride, grid.nx, wx, even, odd)
        ax = np.empty((2, r1 - r0, n_cols))
        np.matmul(even, mx_even, out=ax[0].reshape(-1, nkx))
        np.matmul(odd, mx_odd, out=ax[1].reshape(-1, nkx))
        y = np.empty((2, len(fy), n_cols))
        for i in range(i0, i1):
            top = rows[i] - wy - r0
            np.matmul(fy, ax[0, top : top + ly], out=y[0])
            np.matmul(fy, ax[1, top : top + ly], out=y[1])
            _power_from_dft(y, nkx, groups, what_re, what_im, means, invs, rows[i], grid.x0, grid.stride, wy, wx,
                            log, out[i])
        return (i1 - i0) * grid.nx

    # Blocks of grid rows: at least 4 per worker, x transforms of <= ~256 image rows
    # and <= ~32 MB of row segments per block.
    row_bytes = grid.nx * (lx + 2 * nkx) * 8
    fit = (_BLOCK_BYTES // row_bytes - 2 * wy) // grid.stride
    block = max(1, min(_DFT_BLOCK_ROWS // grid.stride, -(-grid.ny // (4 * workers)), fit))
    with _single_threaded_blas():
        _run_blocks(task, grid.ny, block, workers, progress)


def _spectra_fft(img, grid, wy, wx, taper, channels, log, means, invs, out, workers, progress):
    ly, lx = 2 * wy + 1, 2 * wx + 1
    ty, tx = _taper(ly, taper), _taper(lx, taper)
    ch_a = np.ascontiguousarray(channels[:, 0] % ly, dtype=np.int64)
    ch_b = np.ascontiguousarray(channels[:, 1], dtype=np.int64)
    ys_all = np.repeat(grid.rows(), grid.nx).astype(np.int64)
    xs_all = np.tile(grid.cols(), grid.ny).astype(np.int64)
    flat_out = out.reshape(-1, len(channels))
    import scipy.fft  # here, not at import: scipy.fft and scipy.special, 30-90 ms of a fresh process

    def task(start, stop):
        windows = np.empty((stop - start, ly, lx))
        _gather_windows(img, ys_all[start:stop], xs_all[start:stop], wy, wx, ty, tx, means, invs, windows)
        spec = scipy.fft.rfft2(windows, workers=1)
        _power_from_fft(spec, ch_a, ch_b, log, flat_out[start:stop])
        return stop - start

    _run_blocks(task, ys_all.size, _FFT_BATCH, workers, progress)
