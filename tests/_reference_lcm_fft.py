"""The fft method of the local correlation map as it was before issue 12: the slow reference.

One 2D correlation per centre, as Appendix B of the paper describes it: the patch and its
neighbourhood, cut from the zero-padded image, are zero-padded to an FFT length
``>= 2 (patch + max |shift|) + 1`` and ``irfft2(conj(rfft2(A)) * rfft2(B))`` holds the
cross sums of every shift of the window. Kept verbatim (apart from a serial score loop)
to pin the new implementation to it.
"""

import numba
import numpy as np
import scipy.fft

from hyperspy_symseg.descriptors.translation import _clipped_pearson, _pearson, _row_bounds


def fft_length(n: int) -> int:
    """Smallest 2**a 3**b >= n."""
    n = int(n)
    best = 1 << max(0, (n - 1).bit_length())
    p3 = 1
    while p3 < 2 * n:
        p2 = p3
        while p2 < n:
            p2 *= 2
        best = min(best, p2)
        p3 *= 3
    return best


@numba.njit(cache=True)
def _scores_from_sums(sab, ys, xs, shifts, py, px, height, width, mean, inv, ii1, ii2, flat_pp, out):
    npix = float((2 * py + 1) * (2 * px + 1))
    for b in range(sab.shape[0]):
        yc = ys[b]
        xc = xs[b]
        for k in range(shifts.shape[0]):
            m = shifts[k, 0]
            n = shifts[k, 1]
            top, bottom = _row_bounds(yc, py, m, height)
            left = max(xc - px, 0, -n)
            right = min(xc + px, width - 1, width - 1 - n)
            if top == yc - py and bottom == yc + py and left == xc - px and right == xc + px:
                ra = top
                ca = left
                out[b, k] = _pearson(sab[b, k], npix, mean[ra, ca], inv[ra, ca], mean[ra + m, ca + n], inv[ra + m, ca + n])
            else:
                out[b, k] = _clipped_pearson(sab[b, k], top, bottom, left, right, m, n, ii1, ii2, flat_pp)


def lcm_fft_reference(img, shifts, py, px, grid, mean, inv, ii1, ii2, flat_pp, out, batch=128, workers=None):
    """Same arguments and result as ``_translation_fft.lcm_fft``."""
    height, width = img.shape
    wy = int(np.abs(shifts[:, 0]).max())
    wx = int(np.abs(shifts[:, 1]).max())
    fy = fft_length(2 * (py + wy) + 1)
    fx = fft_length(2 * (px + wx) + 1)
    pad_y, pad_x = py + wy, px + wx
    padded = np.zeros((height + 2 * pad_y, width + 2 * pad_x))
    padded[pad_y : pad_y + height, pad_x : pad_x + width] = img
    patches = np.lib.stride_tricks.sliding_window_view(padded, (2 * py + 1, 2 * px + 1))
    hoods = np.lib.stride_tricks.sliding_window_view(padded, (2 * (py + wy) + 1, 2 * (px + wx) + 1))
    ys_all = np.repeat(grid.rows(), grid.nx)
    xs_all = np.tile(grid.cols(), grid.ny)
    flat_out = out.reshape(-1, len(shifts))
    lag_y = shifts[:, 0] + wy
    lag_x = shifts[:, 1] + wx
    for start in range(0, ys_all.size, batch):
        ys = ys_all[start : start + batch]
        xs = xs_all[start : start + batch]
        a = patches[ys + pad_y - py, xs + pad_x - px]
        b = hoods[ys, xs]
        fa = scipy.fft.rfft2(a, s=(fy, fx), workers=workers)
        fb = scipy.fft.rfft2(b, s=(fy, fx), workers=workers)
        np.conjugate(fa, out=fa)
        fa *= fb
        corr = scipy.fft.irfft2(fa, s=(fy, fx), workers=workers)
        sab = np.ascontiguousarray(corr[:, lag_y, lag_x])
        _scores_from_sums(sab, ys, xs, shifts, py, px, height, width, mean, inv, ii1, ii2, flat_pp, flat_out[start : start + batch])
    return out
