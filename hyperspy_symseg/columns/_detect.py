"""Candidate atom columns and their centres of mass (NumPy/SciPy/numba, no HyperSpy).

Detection is background-robust by construction:

1. a matched filter (Gaussian of about the column width) averages the shot noise;
2. a rolling *floor* (minimum filter over one column separation, smoothed) follows
   thickness ramps and vacuum edges; the column signal is what rises above it;
3. candidates are the local maxima within ``min_separation / 2`` that rise above the
   floor by ``threshold`` times the local noise of the filtered image (Poisson
   variance from the counts, or a robust global estimate for other data).

The final decision (is it a column?) is taken after the Gaussian fit, from the
significance of the fitted amplitude; these candidates only have to include every
column.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ._jit import parallel_and_serial, parallel_pays

#: Images of at least this many pixels are smoothed and scanned for maxima on all numba
#: threads when a core is free (:func:`._jit.cores_are_free`), ...
MIN_PARALLEL_PIXELS = 128 * 128
#: ... and from this many on also on a busy machine. A smaller image is ~1 ms of work a
#: kernel, less than what a parallel region can lose on a shared 2-core machine: with
#: another process busy on one core, each of the detection's four parallel launches on a
#: 384^2 image waited 5-10 ms for the worker sharing that core (find_atom_columns median
#: 160 -> 89 ms with these on the calling thread, best case 51 -> 55 ms).
MIN_PARALLEL_PIXELS_BUSY = 512 * 512


def _parallel_pays(pixels: int) -> bool:
    return parallel_pays(pixels, MIN_PARALLEL_PIXELS, MIN_PARALLEL_PIXELS_BUSY)


def robust_noise_sigma(image: np.ndarray) -> float:
    """Standard deviation of white noise in ``image`` from the MAD of pixel differences.

    Uses the difference of each pixel with the mean of its 4 neighbours, whose
    variance is ``1.25 sigma**2`` for white noise; smooth structure (columns a few
    pixels wide) contributes little.
    """
    img = np.asarray(image, dtype=np.float64)
    if min(img.shape) < 3:
        return float(np.std(img))
    c = img[1:-1, 1:-1]
    lap = c - 0.25 * (img[:-2, 1:-1] + img[2:, 1:-1] + img[1:-1, :-2] + img[1:-1, 2:])
    mad = np.median(np.abs(lap - np.median(lap)))
    return float(1.4826 * mad / math.sqrt(1.25))


@numba.njit(cache=True, nogil=True, inline="always")
def _reflect(k, n):
    """Index ``k`` of a line of ``n`` samples extended by mirroring (SciPy's "reflect": d c b a | a b c d | d c b a)."""
    m = k % (2 * n)
    return m if m < n else 2 * n - 1 - m


def _smooth_impl(img, w, tmp, out):
    """Separable correlation with the symmetric kernel ``w`` (``w[d]``: weight at distance d), axis 0 then 1.

    SciPy's ``correlate1d`` arithmetic for a symmetric kernel, term by term: ``x[i] w[0]``,
    then ``(x[i - d] + x[i + d]) w[d]`` added for d from the kernel's radius down to 1,
    so the result is ``ndimage.gaussian_filter(..., mode="reflect")`` bit for bit.
    """
    ny, nx = img.shape
    r = w.shape[0] - 1
    for i in numba.prange(ny):
        for j in range(nx):
            tmp[i, j] = img[i, j] * w[0]
        for d in range(r, 0, -1):
            lo = _reflect(i - d, ny)
            hi = _reflect(i + d, ny)
            wd = w[d]
            for j in range(nx):
                tmp[i, j] += (img[lo, j] + img[hi, j]) * wd
    for i in numba.prange(ny):
        row = np.empty(nx + 2 * r)
        for t in range(nx + 2 * r):
            row[t] = tmp[i, _reflect(t - r, nx)]
        for j in range(nx):
            out[i, j] = row[j + r] * w[0]
        for d in range(r, 0, -1):
            wd = w[d]
            for j in range(nx):
                out[i, j] += (row[j + r - d] + row[j + r + d]) * wd


_smooth, _smooth_serial = parallel_and_serial(_smooth_impl)


def gaussian_weights(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """Weights ``w[d]``, d = 0 .. radius, of SciPy's normalised Gaussian kernel (radius ``int(truncate sigma + 0.5)``)."""
    lw = int(truncate * float(sigma) + 0.5)
    x = np.arange(-lw, lw + 1)
    phi = np.exp(-0.5 / (sigma * sigma) * x**2)
    phi = phi / phi.sum()
    return np.ascontiguousarray(phi[::-1][lw:])


def smooth(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian filter of ``sigma`` px (truncated at 4 sigma, mirrored borders).

    The same numbers as ``ndimage.gaussian_filter(image, sigma, mode="reflect",
    truncate=4.0)``, in numba on all threads (3x faster on 2 cores at 1024^2).
    """
    img = np.ascontiguousarray(image, dtype=np.float64)
    if img.ndim != 2 or min(img.shape) == 0 or not sigma > 0:
        from scipy import ndimage  # here, not at import: ~0.1 s of a fresh process

        return ndimage.gaussian_filter(img, sigma, mode="reflect", truncate=4.0)
    out = np.empty_like(img)
    kernel = _smooth if _parallel_pays(img.size) else _smooth_serial
    kernel(img, gaussian_weights(sigma), np.empty_like(img), out)
    return out


def floor_map(smoothed: np.ndarray, min_separation: float) -> np.ndarray:
    """Rolling floor of a smoothed image: a grey opening (minimum then maximum filter over
    1.2 column separations) that removes the columns and keeps ramps, smoothed.

    The floor varies on the scale of the separation, so it is computed on blocks of
    ``separation / 6`` px (block minima) and interpolated back.
    """
    from scipy import ndimage  # here, not at import: ~0.1 s of a fresh process

    h, w = smoothed.shape
    step = max(1, int(min_separation // 6))
    if step > 1:
        hb, wb = -(-h // step), -(-w // step)
        pad = smoothed if (hb * step, wb * step) == (h, w) else \
            np.pad(smoothed, ((0, hb * step - h), (0, wb * step - w)), mode="edge")
        # block minima as step**2 strided minima: the same numbers as
        # pad.reshape(hb, step, wb, step).min(axis=(1, 3)), 4-5x faster
        small = pad[::step, ::step].copy()
        for i in range(step):
            for j in range(step):
                if i or j:
                    np.minimum(small, pad[i::step, j::step], out=small)
    else:
        small = smoothed
    size = max(3, int(round(1.2 * min_separation / step)) | 1)
    # opening (removes peaks, keeps ramps): SciPy's minimum then maximum filter (mode
    # "reflect", odd size), the same numbers in numba (square_max; negation is exact)
    low = -square_max(-small, size // 2, mode="reflect")
    low = square_max(low, size // 2, mode="reflect")
    low = ndimage.uniform_filter(low, size=size, mode="reflect")
    if step == 1:
        return low
    # block centres at (k + 0.5) step - 0.5 px: interpolate linearly back to every pixel
    yi = np.clip((np.arange(h) + 0.5) / step - 0.5, 0, low.shape[0] - 1)
    xi = np.clip((np.arange(w) + 0.5) / step - 0.5, 0, low.shape[1] - 1)
    return bilinear(low, yi, xi)


def bilinear(grid: np.ndarray, yi: np.ndarray, xi: np.ndarray) -> np.ndarray:
    """``grid`` sampled at every ``(yi[r], xi[c])`` (coordinates in ``[0, n - 1]``), bilinearly.

    The same numbers as ``ndimage.map_coordinates(grid, meshgrid(yi, xi), order=1)``,
    as two interpolation-matrix products (``Wy @ grid @ Wx.T``, two weights per row):
    a few multiply-adds per output pixel instead of a general coordinate transform,
    computed in numba with SciPy's sparse-product arithmetic (the same numbers).
    """
    grid = np.ascontiguousarray(grid, dtype=np.float64)
    iy0, iy1, fy = _interp_weights(yi, grid.shape[0])
    ix0, ix1, fx = _interp_weights(xi, grid.shape[1])
    out = np.empty((len(fy), len(fx)))
    kernel = _bilinear if _parallel_pays(out.size) else _bilinear_serial
    kernel(grid, iy0, iy1, fy, ix0, ix1, fx, np.empty((grid.shape[0], len(fx))), out)
    return out


def _interp_weights(coords: np.ndarray, n: int):
    """The two grid indices and the fraction of every coordinate: its row of ``W``."""
    c = np.asarray(coords, dtype=np.float64)
    i0 = np.clip(np.floor(c).astype(np.int64), 0, n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    return i0, i1, c - i0


@numba.njit(cache=True, nogil=True, inline="always")
def _interp2(x0, x1, i0, i1, f):
    """One row of the sparse product ``W @ x`` of :func:`bilinear`, term by term.

    SciPy's CSR product adds the stored entries in order to 0.0; when both indices are
    the same (the last grid point) the matrix holds one summed weight ``(1 - f) + f``.
    """
    if i0 == i1:
        return 0.0 + ((1.0 - f) + f) * x0
    return 0.0 + (1.0 - f) * x0 + f * x1


def _bilinear_impl(grid, iy0, iy1, fy, ix0, ix1, fx, rows, out):
    """``Wy @ grid @ Wx.T`` (:func:`bilinear`), the products' arithmetic term by term."""
    for k in numba.prange(grid.shape[0]):
        for c in range(fx.shape[0]):
            rows[k, c] = _interp2(grid[k, ix0[c]], grid[k, ix1[c]], ix0[c], ix1[c], fx[c])
    for r in numba.prange(fy.shape[0]):
        a, b, f = iy0[r], iy1[r], fy[r]
        for c in range(fx.shape[0]):
            out[r, c] = _interp2(rows[a, c], rows[b, c], a, b, f)


_bilinear, _bilinear_serial = parallel_and_serial(_bilinear_impl)


def disk(radius: float) -> np.ndarray:
    r = int(math.floor(radius))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    return (yy**2 + xx**2) <= radius**2


def _square_max_impl(img, half, out):
    """``out`` = maximum of ``img`` over the ``(2 half + 1)`` square around each pixel, clipped at the border.

    Separable: a running maximum along each row (van Herk / Gil-Werman, 3 comparisons a
    pixel whatever the window), then along the columns. For finite values the clipped
    window gives SciPy's ``maximum_filter(size=2 half + 1)`` exactly in the modes
    "nearest" and "reflect": the repeated or mirrored samples lie inside the clipped
    window already, and maxima are exact.
    """
    ny, nx = img.shape
    k = 2 * half + 1
    rowmax = np.empty((ny, nx))
    length = nx + 2 * half
    for i in numba.prange(ny):
        g = np.empty(length)
        sfx = np.empty(length)
        for t in range(length):
            j = t - half
            v = img[i, j] if 0 <= j < nx else -np.inf
            if t % k == 0 or v > g[t - 1]:
                g[t] = v
            else:
                g[t] = g[t - 1]
        for t in range(length - 1, -1, -1):
            j = t - half
            v = img[i, j] if 0 <= j < nx else -np.inf
            if t % k == k - 1 or t == length - 1 or v > sfx[t + 1]:
                sfx[t] = v
            else:
                sfx[t] = sfx[t + 1]
        for j in range(nx):
            a = sfx[j]
            b = g[j + 2 * half]
            rowmax[i, j] = a if a >= b else b
    for i in numba.prange(ny):
        lo = max(i - half, 0)
        hi = min(i + half, ny - 1)
        for j in range(nx):
            out[i, j] = rowmax[lo, j]
        for r in range(lo + 1, hi + 1):
            for j in range(nx):
                v = rowmax[r, j]
                if v > out[i, j]:
                    out[i, j] = v


_square_max, _square_max_serial = parallel_and_serial(_square_max_impl)


def square_max(image: np.ndarray, half: int, mode: str = "nearest") -> np.ndarray:
    """``ndimage.maximum_filter(image, size=2 * half + 1, mode=mode)``, the same numbers, in numba.

    ``mode`` "nearest" or "reflect" (the same result); SciPy is used for images with
    non-finite values.
    """
    img = np.ascontiguousarray(image, dtype=np.float64)
    if img.ndim != 2 or min(img.shape) == 0 or not np.isfinite(img).all():
        from scipy import ndimage

        return ndimage.maximum_filter(img, size=2 * int(half) + 1, mode=mode)
    out = np.empty_like(img)
    kernel = _square_max if _parallel_pays(img.size) else _square_max_serial
    kernel(img, int(half), out)
    return out


def local_maxima(image: np.ndarray, half: int) -> np.ndarray:
    """Pixels equal to the maximum of the ``(2 half + 1)`` square around them (clipped at the border).

    The same boolean array as ``image == ndimage.maximum_filter(image, size=2 * half + 1,
    mode="nearest")`` (:func:`square_max`).
    """
    img = np.asarray(image, dtype=np.float64)
    return img == square_max(img, half)


def find_candidates(
    image: np.ndarray,
    min_separation: float,
    *,
    smoothing: float | None = None,
    threshold: float = 3.0,
    poisson: bool = False,
    noise_sigma: float | None = None,
) -> dict[str, np.ndarray]:
    """Local maxima that rise significantly above the rolling floor.

    Parameters
    ----------
    image : (H, W) float ndarray
    min_separation : float
        Shortest distance between columns, px (> 0).
    smoothing : float, optional
        Gaussian matched-filter sigma in px; default ``max(0.7, 0.12 * min_separation)``.
    threshold : float
        Minimum height above the floor, in units of the filtered image's local noise.
    poisson : bool
        Counts: the noise variance of the filtered image is the filtered counts times
        the kernel's squared norm. Otherwise a global noise estimate is used.
    noise_sigma : float, optional
        Pixel noise for non-Poisson data; default :func:`robust_noise_sigma`.

    Returns
    -------
    dict with ``positions`` ((N, 2) int64 row, col), ``height`` (N,) (above the floor,
    filtered), ``significance`` (N,), ``smoothed`` and ``floor`` ((H, W) float64).
    """
    from scipy import ndimage  # here, not at import: ~0.1 s of a fresh process

    img = np.asarray(image, dtype=np.float64)
    if smoothing is None:
        smoothing = max(0.7, 0.12 * min_separation)
    sm = smooth(img, smoothing)
    fl = floor_map(sm, min_separation)
    # squared norm of the (discrete) Gaussian kernel: 1 / (4 pi s^2) in the continuum
    k2 = 1.0 / (4.0 * math.pi * smoothing**2)
    if poisson:
        var = np.maximum(sm, 0.0) * k2
        floor_var = max(float(np.percentile(var, 5)), k2 * 0.25)  # at least ~ half a count
        noise_const = 0.0
    else:
        s = robust_noise_sigma(img) if noise_sigma is None else float(noise_sigma)
        var, floor_var = sm, 0.0  # (unused)
        noise_const = max(s, 1e-12 * (float(np.abs(img).max()) + 1e-300)) * math.sqrt(k2)
    # maximum over a square of half side min_separation / 2: no other column fits in
    # it (its corners are 0.71 min_separation away), and the filter is separable
    half = max(1, int(math.floor(0.5 * min_separation)))
    is_max = local_maxima(sm, half)
    # the local maxima that rise above the floor by threshold times the noise, in one pass
    flat = np.empty(img.size, np.int64)
    found = _significant_maxima(sm, fl, is_max, var, float(floor_var), float(noise_const), bool(poisson),
                                float(threshold), flat)
    iy, ix = np.divmod(flat[:found], img.shape[1])
    height_c = sm[iy, ix] - fl[iy, ix]
    noise_c = np.sqrt(np.maximum(var[iy, ix], floor_var)) if poisson else noise_const
    sig_c = height_c / noise_c
    # flat plateaux give several equal maxima: keep one per plateau (ndimage.label's
    # 4-connected components, only needed when two maxima touch)
    if len(iy) > 1 and _any_4_adjacent(flat[:found], img.shape[1]):
        keep = np.zeros(img.shape, bool)
        keep[iy, ix] = True
        lab, nlab = ndimage.label(keep)
        if nlab < len(iy):
            first = np.unique(lab[iy, ix], return_index=True)[1]
            iy, ix, height_c, sig_c = iy[first], ix[first], height_c[first], sig_c[first]
    order = np.argsort(-sig_c, kind="stable")
    iy, ix = iy[order], ix[order]
    return {
        "positions": np.column_stack([iy, ix]).astype(np.int64),
        "height": height_c[order],
        "significance": sig_c[order],
        "smoothed": sm,
        "floor": fl,
    }


@numba.njit(cache=True, nogil=True)
def _significant_maxima(sm, fl, is_max, var, floor_var, noise_const, poisson, threshold, out):
    """Row-major flat indices of the pixels where ``is_max & ((sm - fl) / noise > threshold)``; returns their count.

    ``noise`` is ``sqrt(max(var, floor_var))`` (Poisson) or ``noise_const``: the same
    elementwise arithmetic as the NumPy expression, without its five full-image temporaries.
    """
    ny, nx = sm.shape
    k = 0
    for i in range(ny):
        for j in range(nx):
            if not is_max[i, j]:
                continue
            if poisson:
                noise = math.sqrt(max(var[i, j], floor_var))
            else:
                noise = noise_const
            if (sm[i, j] - fl[i, j]) / noise > threshold:
                out[k] = i * nx + j
                k += 1
    return k


def _any_4_adjacent(flat: np.ndarray, width: int) -> bool:
    """Whether two of the (ascending) row-major pixel indices ``flat`` are 4-neighbours."""
    right = (np.diff(flat) == 1) & ((flat[:-1] % width) != width - 1)
    if right.any():
        return True
    below = flat + width
    pos = np.searchsorted(flat, below)
    pos = np.minimum(pos, len(flat) - 1)
    return bool(np.any(flat[pos] == below))


def _centre_of_mass_impl(image, floor, starts, radius, n_iter, out):
    ny, nx = image.shape
    r2 = radius * radius
    for i in numba.prange(starts.shape[0]):
        cy = starts[i, 0]
        cx = starts[i, 1]
        for _ in range(n_iter):
            i0 = max(int(math.floor(cy - radius)), 0)
            i1 = min(int(math.ceil(cy + radius)), ny - 1)
            j0 = max(int(math.floor(cx - radius)), 0)
            j1 = min(int(math.ceil(cx + radius)), nx - 1)
            sw = 0.0
            sy = 0.0
            sx = 0.0
            for y in range(i0, i1 + 1):
                for x in range(j0, j1 + 1):
                    d2 = (y - cy) ** 2 + (x - cx) ** 2
                    if d2 <= r2:
                        w = image[y, x] - floor[y, x]
                        if w > 0.0:
                            sw += w
                            sy += w * y
                            sx += w * x
            if sw <= 0.0:
                break
            ny_, nx_ = sy / sw, sx / sw
            # never leave the start's neighbourhood
            if (ny_ - starts[i, 0]) ** 2 + (nx_ - starts[i, 1]) ** 2 > r2:
                break
            done = abs(ny_ - cy) < 1e-4 and abs(nx_ - cx) < 1e-4
            cy, cx = ny_, nx_
            if done:
                break
        out[i, 0] = cy
        out[i, 1] = cx


#: parallel, and on the calling thread below MIN_PARALLEL starts (a parallel region
#: wakes every worker); separate cache entries (:mod:`._jit`)
_centre_of_mass, _centre_of_mass_serial = parallel_and_serial(_centre_of_mass_impl)
MIN_PARALLEL = 2000


def centre_of_mass(
    image: np.ndarray, floor: np.ndarray, starts: np.ndarray, radius: float, n_iter: int = 5
) -> np.ndarray:
    """Iterated centre of mass of ``image - floor`` (clipped at 0) in a disk of ``radius``.

    Returns (N, 2) float64 (row, col) positions; a column whose window holds nothing
    above the floor keeps its start.
    """
    starts = np.ascontiguousarray(np.asarray(starts, dtype=np.float64).reshape(-1, 2))
    out = np.empty_like(starts)
    if len(starts):
        kernel = _centre_of_mass if len(starts) >= MIN_PARALLEL else _centre_of_mass_serial
        kernel(
            np.ascontiguousarray(image, dtype=np.float64), np.ascontiguousarray(floor, dtype=np.float64),
            starts, float(radius), int(n_iter), out,
        )
    return out
