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


def normalized_image(image: np.ndarray) -> np.ndarray:
    """Float64 copy of a 2D image with zero mean and unit standard deviation.

    A constant image is only centred (it is all zeros afterwards).
    """
    out = np.array(image, dtype=np.float64, copy=True)
    out -= out.mean()
    std = out.std()
    if std > 0:
        out /= std
    return out


def patch_box_sums(image: np.ndarray, patch_y: int, patch_x: int) -> tuple[np.ndarray, np.ndarray]:
    """Sums of ``I`` and ``I**2`` over every patch that fits in the image.

    Returns two float64 arrays of shape ``(H - 2 patch_y, W - 2 patch_x)``; element
    ``[r, c]`` is the sum over the patch whose top-left pixel is ``(r, c)``, i.e.
    centred on ``(r + patch_y, c + patch_x)``.
    """
    h, w = 2 * patch_y + 1, 2 * patch_x + 1

    def box(a: np.ndarray) -> np.ndarray:
        ii = np.zeros((a.shape[0] + 1, a.shape[1] + 1))
        np.cumsum(a, axis=0, out=ii[1:, 1:])
        np.cumsum(ii[1:, 1:], axis=1, out=ii[1:, 1:])
        return ii[h:, w:] - ii[:-h, w:] - ii[h:, :-w] + ii[:-h, :-w]

    return box(image), box(image * image)


def patch_statistics(image: np.ndarray, patch_y: int, patch_x: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and inverse norm of every patch that fits in a normalized image.

    Returns two float64 arrays of shape ``(H - 2 patch_y, W - 2 patch_x)``; element
    ``[r, c]`` belongs to the patch whose top-left pixel is ``(r, c)``. The inverse
    norm is ``1 / sqrt(sum (I - mean)**2)``, or 0 for a flat patch (variance below
    ``FLAT_TOLERANCE`` times the image variance), which makes its scores 0.
    """
    s1, s2 = patch_box_sums(image, patch_y, patch_x)
    npix = (2 * patch_y + 1) * (2 * patch_x + 1)
    mean = s1 / npix
    ss = s2 - s1 * mean
    flat = FLAT_TOLERANCE * npix * float(image.var())
    inv_norm = np.zeros_like(ss)
    np.divide(1.0, np.sqrt(ss, where=ss > flat, out=inv_norm), where=ss > flat, out=inv_norm)
    return mean, inv_norm


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
