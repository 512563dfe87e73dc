"""Training-free denoising that exploits the lattice periodicity (numba, no HyperSpy).

*Lattice non-local means*: every pixel is averaged with the pixels one, two, ...
lattice translations away, each weighted by how similar the patches around the two
pixels are. Shot noise is made uniform first by the Anscombe transform
``2 sqrt(x + 3/8)`` (variance ~1 for Poisson counts), so one similarity threshold
fits bright columns and dark background alike; the weights are computed there but
the *counts themselves* are averaged, so no inverse transform (and no low-count bias)
is needed. A vacancy, a dopant or a boundary makes its patches unlike their
translated copies: they get no weight, and the defect keeps its contrast instead of
being painted over with the lattice average.

Translations come from the autocorrelation of the image (its strongest peaks, which
for a multi-grain image include every grain's lattice) or from given lattice vectors.
Translated copies are resampled with the cubic convolution kernel (Keys, a = -1/2),
whose support is 4 px, so tiles with enough overlap give exactly the full-image result.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from scipy import ndimage

from ._acf import autocorrelation


def anscombe(x: np.ndarray) -> np.ndarray:
    """Variance-stabilising transform of Poisson counts: ``2 sqrt(x + 3/8)``."""
    return 2.0 * np.sqrt(np.maximum(np.asarray(x, dtype=np.float64), 0.0) + 0.375)


@numba.njit(cache=True, nogil=True)
def _keys(t):
    """Cubic convolution weights for the 4 samples at offsets -1, 0, 1, 2 (fraction t in [0, 1))."""
    a = -0.5
    w = np.empty(4)
    for k in range(4):
        x = abs(k - 1 - t)
        if x <= 1.0:
            w[k] = (a + 2.0) * x**3 - (a + 3.0) * x**2 + 1.0
        elif x < 2.0:
            w[k] = a * x**3 - 5.0 * a * x**2 + 8.0 * a * x - 4.0 * a
        else:
            w[k] = 0.0
    return w


@numba.njit(parallel=True, cache=True, nogil=True)
def _accumulate(guide, data, ty, tx, radius, inv_h2, offset, num, den):
    """Add the weighted translated copy ``data(p + t)`` to ``num`` and its weights to ``den``."""
    ny, nx = guide.shape
    iy0 = int(math.floor(ty))
    ix0 = int(math.floor(tx))
    wy = _keys(ty - iy0)
    wx = _keys(tx - ix0)
    diff = np.zeros((ny, nx))
    valid = np.zeros((ny, nx), dtype=np.uint8)
    shifted = np.zeros((ny, nx))
    for i in numba.prange(ny):
        si = i + iy0
        if si - 1 < 0 or si + 2 > ny - 1:
            continue
        for j in range(nx):
            sj = j + ix0
            if sj - 1 < 0 or sj + 2 > nx - 1:
                continue
            g = 0.0
            d = 0.0
            for a in range(4):
                ra = si - 1 + a
                rg = 0.0
                rd = 0.0
                for b in range(4):
                    cb = sj - 1 + b
                    rg += wx[b] * guide[ra, cb]
                    rd += wx[b] * data[ra, cb]
                g += wy[a] * rg
                d += wy[a] * rd
            e = guide[i, j] - g
            diff[i, j] = e * e
            shifted[i, j] = d
            valid[i, j] = 1
    # horizontal then vertical patch sums (direct sums: tiles reproduce them exactly)
    hsum = np.zeros((ny, nx))
    hbad = np.zeros((ny, nx), dtype=np.int32)
    for i in numba.prange(ny):
        for j in range(nx):
            s = 0.0
            bad = 0
            for k in range(j - radius, j + radius + 1):
                if k < 0 or k >= nx or valid[i, k] == 0:
                    bad += 1
                else:
                    s += diff[i, k]
            hsum[i, j] = s
            hbad[i, j] = bad
    n_patch = (2 * radius + 1) ** 2
    for i in numba.prange(ny):
        for j in range(nx):
            if valid[i, j] == 0:
                continue
            s = 0.0
            bad = 0
            for k in range(i - radius, i + radius + 1):
                if k < 0 or k >= ny:
                    bad += 1
                else:
                    s += hsum[k, j]
                    bad += hbad[k, j]
            if bad > 0:
                continue
            dist = s / n_patch - offset
            if dist < 0.0:
                dist = 0.0
            w = math.exp(-dist * inv_h2)
            num[i, j] += w * shifted[i, j]
            den[i, j] += w


def lattice_nlm(
    data: np.ndarray,
    translations: np.ndarray,
    *,
    patch_radius: int = 3,
    h: float = 1.0,
    poisson: bool = True,
    noise_sigma: float | None = None,
    guide: np.ndarray | None = None,
    guide_variance: float | None = None,
) -> np.ndarray:
    """Lattice non-local means of one image.

    Parameters
    ----------
    data : (H, W) ndarray of float
        Counts (``poisson=True``) or any image with white noise of ``noise_sigma``.
    translations : (T, 2) float ndarray
        Shifts ``(dy, dx)`` in px at which the image repeats itself; both signs should
        be present for the borders to be treated alike.
    patch_radius : int
        Half size of the square patches compared, px.
    h : float
        Similarity scale in units of the noise variance: patches whose mean squared
        difference exceeds the noise floor by ``d`` get weight ``exp(-d / h**2)``.
    poisson : bool
        Compare patches after the Anscombe transform (noise variance 1).
    noise_sigma : float, optional
        Pixel noise for ``poisson=False``; default a robust estimate.
    guide, guide_variance : optional
        Compare patches of ``guide`` (already variance-stabilised, e.g. a first-pass
        estimate) instead of the data, whose noise variance is ``guide_variance``.

    Returns
    -------
    (H, W) float64 ndarray
        The weighted average of the data over the translations (the pixel itself with
        weight 1).
    """
    from ._detect import robust_noise_sigma

    y = np.ascontiguousarray(data, dtype=np.float64)
    if guide is None:
        if poisson:
            guide = anscombe(y)
        else:
            s = robust_noise_sigma(y) if noise_sigma is None else float(noise_sigma)
            guide = y / max(s, 1e-300)
        var = 1.0
    else:
        var = 1.0 if guide_variance is None else float(guide_variance)
    guide = np.ascontiguousarray(guide, dtype=np.float64)
    num = y.copy()
    den = np.ones_like(y)
    offset = 2.0 * var
    inv_h2 = 1.0 / (h * h * max(var, 1e-12))
    for ty, tx in np.asarray(translations, dtype=np.float64).reshape(-1, 2):
        _accumulate(guide, y, float(ty), float(tx), int(patch_radius), inv_h2, offset, num, den)
    return num / den


def translations_from_autocorrelation(
    image: np.ndarray, n_max: int = 48, max_radius: float | None = None, min_value: float = 0.25,
    min_radius: float | None = None,
) -> np.ndarray:
    """Shifts (both signs) at the strongest autocorrelation peaks, sub-pixel.

    Parameters
    ----------
    image : (H, W) ndarray
    n_max : int
        At most this many translations (an even number: pairs +-t).
    max_radius : float, optional
        Largest shift in px; default a quarter of the smaller image side.
    min_value : float
        Peaks below ``min_value`` times the strongest peak are ignored.
    min_radius : float, optional
        Smallest shift considered, px (default: end of the central lobe).

    Returns
    -------
    (T, 2) float64 ndarray of (dy, dx), sorted by decreasing peak height.
    """
    acf = autocorrelation(image)
    hgt, wid = acf.shape
    cy, cx = hgt // 2, wid // 2
    yy, xx = np.mgrid[:hgt, :wid]
    r = np.hypot(yy - cy, xx - cx)
    if max_radius is None:
        max_radius = min(hgt, wid) / 4.0
    if min_radius is None:
        rb = np.rint(r).astype(int)
        prof = np.bincount(rb.ravel(), acf.ravel()) / np.maximum(np.bincount(rb.ravel()), 1)
        min_radius = 1.0
        for k in range(1, len(prof) - 1):
            if prof[k] <= prof[k + 1]:
                min_radius = float(k)
                break
    peaks = (acf == ndimage.maximum_filter(acf, size=3)) & (r > min_radius) & (r <= max_radius) & (acf > 0)
    peaks[0, :] = peaks[-1, :] = peaks[:, 0] = peaks[:, -1] = False
    peaks &= (yy > cy) | ((yy == cy) & (xx > cx))
    iy, ix = np.nonzero(peaks)
    if len(iy) == 0:
        return np.zeros((0, 2))
    vals = acf[iy, ix]
    keep = vals >= min_value * vals.max()
    iy, ix, vals = iy[keep], ix[keep], vals[keep]
    order = np.argsort(-vals, kind="stable")[: max(1, n_max // 2)]
    out = []
    for k in order:
        i, j = iy[k], ix[k]
        oy = _vertex(acf[i - 1, j], acf[i, j], acf[i + 1, j])
        ox = _vertex(acf[i, j - 1], acf[i, j], acf[i, j + 1])
        out.append((i - cy + oy, j - cx + ox))
    t = np.array(out, dtype=np.float64)
    return np.concatenate([t, -t])


def _vertex(m: float, c: float, p: float) -> float:
    d = m - 2.0 * c + p
    return 0.0 if d >= 0 else float(np.clip(0.5 * (m - p) / d, -0.5, 0.5))


def translations_from_vectors(vectors: np.ndarray, max_radius: float, n_max: int = 48) -> np.ndarray:
    """All lattice translations ``n1 v1 + n2 v2`` (not 0) within ``max_radius``, shortest first."""
    v = np.asarray(vectors, dtype=np.float64).reshape(2, 2)
    shortest = min(np.hypot(*v[0]), np.hypot(*v[1]))
    m = int(math.ceil(max_radius / max(shortest * 0.5, 1e-9))) + 1
    n1, n2 = np.meshgrid(np.arange(-m, m + 1), np.arange(-m, m + 1), indexing="ij")
    t = n1.reshape(-1, 1) * v[0] + n2.reshape(-1, 1) * v[1]
    length = np.hypot(t[:, 0], t[:, 1])
    sel = (length > 1e-9) & (length <= max_radius)
    t, length = t[sel], length[sel]
    order = np.argsort(length, kind="stable")[:n_max]
    return t[order]
