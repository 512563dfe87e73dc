"""Translational-symmetry descriptors: the local correlation map.

For a patch ``P`` of half sizes ``(patch_y, patch_x)`` centred on pixel ``(y, x)``
and a shift ``(m, n)``, the score is Pearson's correlation between ``P(y, x)``
and ``P(y + m, x + n)`` (Wang et al., Microsc. Microanal. 27, 1454 (2021),
eq. 2-3). Every sum in it is a box sum:

* ``sum I`` and ``sum I**2`` over a patch come from integral images, once per image;
* ``sum I(r) I(r + t)`` over a patch is a box sum of the product image, kept as
  running column sums that slide down the image (each image row is added once
  and removed once per shift) and prefix sums along each grid row.

So the ``direct`` method costs O(shifts x pixels), independent of the patch area.
The ``fft`` method follows the paper's Appendix B: per centre, the cross sums for
every shift of the window come from one real FFT correlation of the patch with its
neighbourhood; patch means and norms come from the same integral images.

Both methods work in float64 on the image with its mean removed and its standard
deviation scaled to one, which makes the score exactly invariant to an added
constant and free of the cancellation that large offsets cause. A patch whose
variance is below ``FLAT_TOLERANCE`` times the image variance is *flat*; every
score involving a flat patch is defined as 0 (no evidence of symmetry), never NaN.

Kernels take and return NumPy arrays and never import HyperSpy.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import scipy.fft

from ._grid import DescriptorGrid, descriptor_grid

#: A patch whose variance is below this fraction of the image variance is flat.
FLAT_TOLERANCE = 1e-10

#: Shifts processed together by one task of the direct kernel. 16 float32 scores
#: fill a 64-byte cache line of the output.
_SHIFT_GROUP = 16


@numba.njit(cache=True, nogil=True, parallel=True)
def _normalize_kernel(image, out):
    height, width = image.shape
    rows = np.empty(height)
    for y in numba.prange(height):
        acc = 0.0
        for x in range(width):
            acc += image[y, x]
        rows[y] = acc
    mean = rows.sum() / (height * width)
    for y in numba.prange(height):
        acc = 0.0
        for x in range(width):
            d = image[y, x] - mean
            acc += d * d
        rows[y] = acc
    std = math.sqrt(rows.sum() / (height * width))
    scale = 1.0 / std if std > 0 else 1.0
    for y in numba.prange(height):
        for x in range(width):
            out[y, x] = (image[y, x] - mean) * scale
    return std


def normalized_image(image: np.ndarray) -> np.ndarray:
    """Float64 copy of a 2D image with zero mean and unit standard deviation.

    A constant image is only centred (it is all zeros afterwards).
    """
    image = np.asarray(image)
    if image.dtype.kind not in "fiu":
        raise TypeError(f"image must be real (float or integer), got dtype {image.dtype}")
    if image.dtype.kind != "f":
        image = image.astype(np.float64)
    out = np.empty(image.shape, dtype=np.float64)
    _normalize_kernel(np.ascontiguousarray(image), out)
    return out


@numba.njit(cache=True, nogil=True, parallel=True)
def _patch_statistics_kernel(img, py, px, flat, mean, inv):
    height, width = img.shape
    ny = height - 2 * py
    nx = width - 2 * px
    npix = (2 * py + 1) * (2 * px + 1)
    # Horizontal box sums of I and I**2 along every row (sliding window).
    h1 = np.empty((height, nx))
    h2 = np.empty((height, nx))
    for y in numba.prange(height):
        a1 = 0.0
        a2 = 0.0
        for x in range(2 * px + 1):
            v = img[y, x]
            a1 += v
            a2 += v * v
        h1[y, 0] = a1
        h2[y, 0] = a2
        for c in range(1, nx):
            v = img[y, c + 2 * px]
            w = img[y, c - 1]
            a1 += v - w
            a2 += v * v - w * w
            h1[y, c] = a1
            h2[y, c] = a2
    # Vertical box sums of those, a block of columns per task.
    block = 64
    n_blocks = (nx + block - 1) // block
    for bk in numba.prange(n_blocks):
        c0 = bk * block
        c1 = min(nx, c0 + block)
        s1 = np.zeros(c1 - c0)
        s2 = np.zeros(c1 - c0)
        for y in range(2 * py + 1):
            for c in range(c0, c1):
                s1[c - c0] += h1[y, c]
                s2[c - c0] += h2[y, c]
        for r in range(ny):
            if r > 0:
                for c in range(c0, c1):
                    s1[c - c0] += h1[r + 2 * py, c] - h1[r - 1, c]
                    s2[c - c0] += h2[r + 2 * py, c] - h2[r - 1, c]
            for c in range(c0, c1):
                m = s1[c - c0] / npix
                ss = s2[c - c0] - s1[c - c0] * m
                mean[r, c] = m
                inv[r, c] = 1.0 / math.sqrt(ss) if ss > flat else 0.0


def patch_statistics(image: np.ndarray, patch_y: int, patch_x: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and inverse norm of every patch that fits in a normalized image.

    Returns two float64 arrays of shape ``(H - 2 patch_y, W - 2 patch_x)``; element
    ``[r, c]`` belongs to the patch whose top-left pixel is ``(r, c)``. The inverse
    norm is ``1 / sqrt(sum (I - mean)**2)``, or 0 for a flat patch (variance below
    ``FLAT_TOLERANCE`` times the image variance), which makes its scores 0.
    Sums slide along rows, then down columns, in float64.
    """
    image = np.ascontiguousarray(image, dtype=np.float64)
    shape = (image.shape[0] - 2 * patch_y, image.shape[1] - 2 * patch_x)
    npix = (2 * patch_y + 1) * (2 * patch_x + 1)
    flat = FLAT_TOLERANCE * npix * float(image.var())
    mean = np.empty(shape)
    inv = np.empty(shape)
    _patch_statistics_kernel(image, patch_y, patch_x, flat, mean, inv)
    return mean, inv


@numba.njit(cache=True, nogil=True, inline="always")
def _pearson(sab, npix, mean_a, inv_a, mean_b, inv_b):
    """Pearson correlation from the cross sum and the two patches' statistics."""
    r = (sab - npix * mean_a * mean_b) * inv_a * inv_b
    return min(1.0, max(-1.0, r))


@numba.njit(cache=True, nogil=True, parallel=True)
def _lcm_direct_kernel(img, shifts, py, px, y0, x0, ny, nx, stride, mean, inv, n_blocks, out):
    n_shifts = shifts.shape[0]
    width = img.shape[1]
    npix = float((2 * py + 1) * (2 * px + 1))
    n_groups = (n_shifts + _SHIFT_GROUP - 1) // _SHIFT_GROUP
    rows_per_block = (ny + n_blocks - 1) // n_blocks
    xlo = x0 - px  # first column any patch of the grid touches
    xhi = x0 + (nx - 1) * stride + px + 1  # one past the last
    span = xhi - xlo
    for task in numba.prange(n_groups * n_blocks):
        k0 = (task // n_blocks) * _SHIFT_GROUP
        k1 = min(n_shifts, k0 + _SHIFT_GROUP)
        i0 = (task % n_blocks) * rows_per_block
        i1 = min(ny, i0 + rows_per_block)
        col = np.zeros((k1 - k0, span))
        prefix = np.zeros(span + 1)
        scores = np.empty((k1 - k0, nx))
        for i in range(i0, i1):
            yc = y0 + i * stride
            ra = yc - py
            for kk in range(k1 - k0):
                m = shifts[k0 + kk, 0]
                n = shifts[k0 + kk, 1]
                c = col[kk]
                # Column sums over the patch rows of the product image I(r) I(r + (m, n)),
                # for the columns xlo..xhi-1 (c[0] is column xlo).
                if i == i0 or stride > 2 * py + 1:
                    c[:] = 0.0
                    for yy in range(yc - py, yc + py + 1):
                        a = img[yy, xlo:xhi]
                        b = img[yy + m, xlo + n : xhi + n]
                        for x in range(span):
                            c[x] += a[x] * b[x]
                else:
                    # Slide down by `stride` rows: add the rows entering the
                    # patch, remove the rows leaving it.
                    for s in range(stride):
                        ya = yc + py - stride + 1 + s
                        yr = yc - py - stride + s
                        a = img[ya, xlo:xhi]
                        b = img[ya + m, xlo + n : xhi + n]
                        ar = img[yr, xlo:xhi]
                        br = img[yr + m, xlo + n : xhi + n]
                        for x in range(span):
                            c[x] += a[x] * b[x] - ar[x] * br[x]
                for x in range(span):
                    prefix[x + 1] = prefix[x] + c[x]
                # Box sums along the grid row and the scores, contiguous in j.
                mean_a = mean[ra, xlo : xlo + span]
                inv_a = inv[ra, xlo : xlo + span]
                mean_b = mean[ra + m, xlo + n : xlo + n + span]
                inv_b = inv[ra + m, xlo + n : xlo + n + span]
                sc = scores[kk]
                for j in range(nx):
                    q = j * stride  # patch of grid column j starts at column xlo + q
                    sab = prefix[q + 2 * px + 1] - prefix[q]
                    sc[j] = _pearson(sab, npix, mean_a[q], inv_a[q], mean_b[q], inv_b[q])
            # Write the group's shifts for each grid point together (one cache line).
            for j in range(nx):
                for kk in range(k1 - k0):
                    out[i, j, k0 + kk] = scores[kk, j]


@numba.njit(cache=True, nogil=True, parallel=True)
def _lcm_normalize_kernel(sab, ys, xs, shifts, py, px, mean, inv, out):
    """Scores for a batch of centres from their cross sums ``sab`` (batch, N)."""
    npix = float((2 * py + 1) * (2 * px + 1))
    for b in numba.prange(sab.shape[0]):
        ra = ys[b] - py
        ca = xs[b] - px
        for k in range(shifts.shape[0]):
            m = shifts[k, 0]
            n = shifts[k, 1]
            out[b, k] = _pearson(sab[b, k], npix, mean[ra, ca], inv[ra, ca], mean[ra + m, ca + n], inv[ra + m, ca + n])


def shift_margins(shifts: np.ndarray, patch_y: int, patch_x: int) -> tuple[int, int]:
    """Distance from the image edge of the first centre whose shifted patches all fit."""
    return (
        int(patch_y + np.abs(shifts[:, 0]).max()),
        int(patch_x + np.abs(shifts[:, 1]).max()),
    )


def local_correlation_grid(shape, shifts, patch_y, patch_x, stride) -> DescriptorGrid:
    """The descriptor grid that :func:`local_correlation_map` uses for an image shape."""
    margin_y, margin_x = shift_margins(shifts, patch_y, patch_x)
    return descriptor_grid(shape, margin_y, margin_x, stride)


def local_correlation_map(
    image: np.ndarray,
    shifts: np.ndarray,
    patch_y: int,
    patch_x: int,
    stride: int = 1,
    method: str = "direct",
    out: np.ndarray | None = None,
    fft_batch: int = 512,
    fft_workers: int | None = None,
) -> tuple[np.ndarray, DescriptorGrid]:
    """Pearson scores of translations for every centre of a stride grid.

    Parameters
    ----------
    image : (H, W) ndarray
        Real image, any float or integer dtype. Not modified.
    shifts : (N, 2) int ndarray
        Translations ``(m, n) = (dy, dx)`` in pixels.
    patch_y, patch_x : int
        Half height and half width (>= 1) of the patch.
    stride : int
        Grid spacing in pixels (>= 1).
    method : {"direct", "fft"}
        Running box sums, or per-centre FFT correlation (paper, Appendix B).
    out : (ny, nx, N) float32 ndarray, optional
        Where to write the result.
    fft_batch : int
        Centres transformed together by the ``fft`` method.
    fft_workers : int, optional
        Threads for ``scipy.fft`` in the ``fft`` method.

    Returns
    -------
    scores : (ny, nx, N) float32 ndarray
        ``scores[i, j, k]`` is the score of shift ``k`` at grid point ``(i, j)``.
    grid : DescriptorGrid
        Where the grid points are (see :func:`local_correlation_grid`).
    """
    shifts = np.ascontiguousarray(shifts, dtype=np.int64)
    grid = local_correlation_grid(image.shape, shifts, patch_y, patch_x, stride)
    if out is None:
        out = np.empty(grid.shape + (len(shifts),), dtype=np.float32)
    img = normalized_image(image)
    mean, inv = patch_statistics(img, patch_y, patch_x)
    if method == "direct":
        n_groups = -(-len(shifts) // _SHIFT_GROUP)
        threads = numba.get_num_threads()
        n_blocks = int(min(grid.ny, max(1, -(-4 * threads // n_groups))))
        _lcm_direct_kernel(
            img, shifts, patch_y, patch_x, grid.y0, grid.x0, grid.ny, grid.nx, stride, mean, inv, n_blocks, out
        )
    elif method == "fft":
        _lcm_fft(img, shifts, patch_y, patch_x, grid, mean, inv, out, fft_batch, fft_workers)
    else:
        raise ValueError(f"method must be 'direct' or 'fft', got {method!r}.")
    return out, grid


def _lcm_fft(img, shifts, py, px, grid, mean, inv, out, batch, workers):
    """Appendix B of the paper, batched over centres.

    The patch ``A`` (size 2p+1) and its neighbourhood ``B`` (size 2(p+w)+1, w the
    largest shift) are zero-padded to a fast FFT length ``>= 2(p+w)+1``; the circular
    correlation ``c = irfft2(conj(rfft2(A)) * rfft2(B))`` then holds, without wrap
    around, ``c[m + wy, n + wx] = sum_ij A(i, j) B(i + m + wy, j + n + wx)``, which is
    ``sum_P I(r) I(r + (m, n))`` for every shift in the window at once.
    """
    wy = int(np.abs(shifts[:, 0]).max())
    wx = int(np.abs(shifts[:, 1]).max())
    fy = scipy.fft.next_fast_len(2 * (py + wy) + 1, real=True)
    fx = scipy.fft.next_fast_len(2 * (px + wx) + 1, real=True)
    patches = np.lib.stride_tricks.sliding_window_view(img, (2 * py + 1, 2 * px + 1))
    hoods = np.lib.stride_tricks.sliding_window_view(img, (2 * (py + wy) + 1, 2 * (px + wx) + 1))
    ys_all = np.repeat(grid.rows(), grid.nx)
    xs_all = np.tile(grid.cols(), grid.ny)
    flat_out = out.reshape(-1, len(shifts))
    lag_y = shifts[:, 0] + wy
    lag_x = shifts[:, 1] + wx
    for start in range(0, ys_all.size, batch):
        ys = ys_all[start : start + batch]
        xs = xs_all[start : start + batch]
        a = patches[ys - py, xs - px]
        b = hoods[ys - py - wy, xs - px - wx]
        fa = scipy.fft.rfft2(a, s=(fy, fx), workers=workers)
        fb = scipy.fft.rfft2(b, s=(fy, fx), workers=workers)
        np.conjugate(fa, out=fa)
        fa *= fb
        corr = scipy.fft.irfft2(fa, s=(fy, fx), workers=workers)
        sab = np.ascontiguousarray(corr[:, lag_y, lag_x])
        _lcm_normalize_kernel(sab, ys, xs, shifts, py, px, mean, inv, flat_out[start : start + batch])
