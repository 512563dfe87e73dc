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

Translations are the integer combinations of the lattice vectors of every lattice the
lattice analysis finds (each grain of a multi-grain image brings its own).
Translated copies are resampled with the cubic convolution kernel (Keys, a = -1/2),
whose support is 4 px, so tiles with enough overlap give exactly the full-image result.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .._threading import serialised


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


@serialised
@numba.njit(parallel=True, cache=True, nogil=True)
def _accumulate(guide, data, ty, tx, radius, inv_h2, offset, mf, mf_threshold, num, den, work, valid, hbad):
    """Add the weighted translated copy ``data(p + t)`` to ``num`` and its weights to ``den``.

    ``mf`` holds the normalised 1D weights of the column-shaped (Gaussian) matched filter
    (empty: no matched-filter test); its 2D statistic ``m`` is N(0, 1) for equal patches.
    """
    ny, nx = guide.shape
    iy0 = int(math.floor(ty))
    ix0 = int(math.floor(tx))
    wy = _keys(ty - iy0)
    wx = _keys(tx - ix0)
    # work buffers (reused across translations): diff, signed, shifted, hsum, hm, mstat
    diff = work[0]
    signed = work[1]
    shifted = work[2]
    hsum = work[3]
    hm = work[4]
    mstat = work[5]
    for i in numba.prange(ny):
        si = i + iy0
        for j in range(nx):
            valid[i, j] = 0
            diff[i, j] = 0.0
            signed[i, j] = 0.0
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
            signed[i, j] = e
            shifted[i, j] = d
            valid[i, j] = 1
    # horizontal then vertical patch sums (direct sums: tiles reproduce them exactly)
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
    # matched filter of the signed difference (invalid pixels count as 0)
    nm = mf.shape[0]
    rm = nm // 2
    if nm > 0:
        mnorm = 0.0
        for a in range(nm):
            for b in range(nm):
                mnorm += (mf[a] * mf[b]) ** 2
        mnorm = 1.0 / math.sqrt(2.0 * mnorm)  # difference of two unit-variance images
        for i in numba.prange(ny):
            for j in range(nx):
                s = 0.0
                for b in range(nm):
                    k = j - rm + b
                    if 0 <= k < nx:
                        s += mf[b] * signed[i, k]
                hm[i, j] = s
        for i in numba.prange(ny):
            for j in range(nx):
                s = 0.0
                for a in range(nm):
                    k = i - rm + a
                    if 0 <= k < ny:
                        s += mf[a] * hm[k, j]
                mstat[i, j] = s * mnorm
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
            if nm > 0:
                # a column-shaped difference (a dopant, a vacancy) is tested with the
                # matched filter, far more sensitive than the mean squared difference
                extra = mstat[i, j] * mstat[i, j] - mf_threshold
                if extra > 0.0:
                    dist += MF_SCALE * extra / inv_h2
            w = math.exp(-dist * inv_h2)
            num[i, j] += w * shifted[i, j]
            den[i, j] += w


#: The matched-filter statistic m (N(0, 1) for equal patches) lowers a weight by
#: exp(-(m**2 - threshold)) above the threshold.
MF_SCALE = 1.0


def matched_filter_weights(sigma: float) -> np.ndarray:
    """Normalised 1D Gaussian weights (radius 3 sigma) of the matched filter; empty for sigma <= 0."""
    if not sigma > 0:
        return np.zeros(0)
    r = int(math.ceil(3.0 * sigma))
    x = np.arange(-r, r + 1, dtype=np.float64)
    w = np.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


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
    column_sigma: float = 0.0,
    mf_threshold: float = 4.0,
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
    column_sigma : float
        Width (px) of the column-shaped matched filter that also compares the two
        neighbourhoods; 0 turns it off. Its statistic ``m`` (standard normal for equal
        neighbourhoods) lowers the weight by ``exp(-(m**2 - mf_threshold))`` above
        ``mf_threshold``, which keeps dopants at low dose.

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
    mf = matched_filter_weights(column_sigma)
    work = np.zeros((6,) + y.shape)
    valid = np.zeros(y.shape, dtype=np.uint8)
    hbad = np.zeros(y.shape, dtype=np.int32)
    for ty, tx in np.asarray(translations, dtype=np.float64).reshape(-1, 2):
        _accumulate(guide, y, float(ty), float(tx), int(patch_radius), inv_h2, offset, mf, float(mf_threshold),
                    num, den, work, valid, hbad)
    return num / den


def translations_from_vectors(vectors: np.ndarray, max_radius: float, n_max: int = 48) -> np.ndarray:
    """The ``n_max`` shortest lattice translations ``n1 v1 + n2 v2`` (not 0) within ``max_radius``.

    Both signs of every translation are included (``n_max`` is rounded down to even).
    A NaN second vector (one-dimensional periodicity) gives the multiples of ``v1``.
    """
    v = np.asarray(vectors, dtype=np.float64).reshape(2, 2)
    if not np.all(np.isfinite(v[1])):
        m = int(max_radius // max(np.hypot(*v[0]), 1e-9))
        k = np.arange(1, m + 1)
        t = (k[:, None] * v[0][None, :])[: max(1, n_max // 2)]
        return np.concatenate([t, -t])
    shortest = min(np.hypot(*v[0]), np.hypot(*v[1]))
    m = int(math.ceil(max_radius / max(shortest * 0.5, 1e-9))) + 1
    n1, n2 = np.meshgrid(np.arange(-m, m + 1), np.arange(-m, m + 1), indexing="ij")
    t = n1.reshape(-1, 1) * v[0] + n2.reshape(-1, 1) * v[1]
    length = np.hypot(t[:, 0], t[:, 1])
    sel = (length > 1e-9) & (length <= max_radius)
    t, length = t[sel], length[sel]
    order = np.argsort(np.round(length, 6), kind="stable")[: 2 * (n_max // 2)]
    return t[order]
