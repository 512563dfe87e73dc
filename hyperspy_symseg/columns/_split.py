"""Split merged columns: one candidate that is really two overlapping columns (numba, no HyperSpy).

Below ~2.5 widths two columns of a dumbbell make one peak in the smoothed image, so
detection gives ONE candidate and the single-column fit sits between them with a
Gaussian stretched along the pair axis (two Gaussians of width ``s`` a distance ``d``
apart have second moments ``s**2 + d**2 / 4`` along that axis). Each column whose
fit is elongated is therefore tested: on a disk around it (other columns subtracted as
in the refinement) it is fitted again as one elliptical column (7 parameters) and as
two columns with one shared elliptical shape and one background (10 parameters, the
pair kernel of :mod:`._pairs`, started at ``+-sqrt(s_major**2 - s_minor**2)`` along the
major axis). The two-column model nests the one-column model (two coincident columns),
so the deviance ``D = 2 (cost_1 - cost_2) >= 0``; the split is kept when ``D``, scaled
by the Pearson dispersion of the pair fit (a quasi-likelihood: model error such as
scan distortion inflates ``D`` at high dose and the dispersion with it), exceeds the
BIC penalty ``3 log n`` (3 extra parameters, ``n`` pixels). An elongated single
Gaussian (an astigmatic probe) is exactly the one-column model and is not split.

Least squares (``poisson=False``) uses ``D = n log(SSE_1 / SSE_2)`` (Gaussian
likelihood, variance profiled out).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ._jit import parallel_and_serial
from ._lm import STATUS_FAILED, _add_column, _fit_one, _window
from ._pairs import _cost_normal2, _fit_two

#: Result columns of :func:`split_tests`.
SPLIT_INFO = ("deviance", "dispersion", "n_pixels", "separation")


@numba.njit(cache=True, nogil=True)
def _major_axis(a, b, c):
    """(s_major, s_minor, vy, vx) of the precision matrix [[a, b], [b, c]]."""
    tr = 0.5 * (a + c)
    disc = math.sqrt(max(0.25 * (a - c) ** 2 + b * b, 0.0))
    lo = max(tr - disc, 1e-300)
    hi = max(tr + disc, 1e-300)
    if abs(b) > 1e-15:
        vy, vx = b, lo - a
    elif a <= c:
        vy, vx = 1.0, 0.0
    else:
        vy, vx = 0.0, 1.0
    nrm = math.hypot(vy, vx)
    return 1.0 / math.sqrt(lo), 1.0 / math.sqrt(hi), vy / nrm, vx / nrm


def _split_impl(image, params, cand, nb_ptr, nb_idx, radius, poisson, max_iter, tol, min_prec, max_prec,
                max_shift, min_ratio, axis, single, pair1, pair2, info1, info2, res):
    m = int(2 * math.ceil(radius) + 1)
    cap = m * m
    for k in numba.prange(cand.shape[0]):
        i = cand[k]
        py = np.empty(cap)
        px = np.empty(cap)
        vals = np.empty(cap)
        nb = np.zeros(cap)
        cy, cx = params[i, 0], params[i, 1]
        n = _window(image, cy, cx, radius, py, px, vals)
        for t in range(nb_ptr[i], nb_ptr[i + 1]):
            j = nb_idx[t]
            _add_column(py, px, n, params[j], nb)
        # one elliptical column on this window
        inf0 = np.empty(8)
        _fit_one(py, px, vals, nb, n, params[i], poisson, True, False, max_iter, tol, min_prec, max_prec, cy, cx,
                 max_shift, single[k], inf0)
        for t in range(4):
            res[k, t] = math.nan
        res[k, 2] = n
        if inf0[7] == STATUS_FAILED:
            info1[k, 7] = info2[k, 7] = STATUS_FAILED
            continue
        p = single[k]
        smaj, smin, vy, vx = _major_axis(p[4], p[5], p[6])
        if smaj < min_ratio * smin:  # round: not tested
            continue
        h = math.sqrt(max(smaj * smaj - smin * smin, 0.04 * smin * smin))
        if not math.isnan(axis[0]):  # start along the pair vector the lattice predicts
            h = math.hypot(axis[0], axis[1])
            vy, vx = axis[0] / h, axis[1] / h
        q1 = np.empty(7)
        q2 = np.empty(7)
        amp = p[2] * smaj / (2.0 * smin)
        for g in range(2):
            q = q1 if g == 0 else q2
            sgn = 1.0 if g == 0 else -1.0
            q[0] = p[0] + sgn * h * vy
            q[1] = p[1] + sgn * h * vx
            q[2] = amp
            q[3] = p[3]
            q[4] = 1.0 / (smin * smin)
            q[5] = 0.0
            q[6] = 1.0 / (smin * smin)
        c1 = np.array([cy, cx])
        _fit_two(py, px, vals, nb, n, q1, q2, poisson, True, False, max_iter, tol, min_prec, max_prec, c1, c1,
                 max_shift, pair1[k], pair2[k], info1[k], info2[k])
        if info1[k, 7] == STATUS_FAILED:
            continue
        # the two costs on the same pixels (a zero-amplitude second column = one column)
        npar = 10
        hh = np.zeros((npar, npar))
        gg = np.zeros(npar)
        dd = np.zeros(npar)
        z = single[k].copy()
        z[2] = 0.0
        cost1, _ = _cost_normal2(py, px, vals, nb, n, single[k], z, poisson, True, False, npar, hh, gg, dd)
        cost2, chi2 = _cost_normal2(py, px, vals, nb, n, pair1[k], pair2[k], poisson, True, False, npar, hh, gg, dd)
        if poisson:
            dev = 2.0 * (cost1 - cost2)
            disp = max(chi2 / (n - npar), 1.0)
        else:
            dev = n * math.log(max(cost1, 1e-300) / max(cost2, 1e-300))
            disp = 1.0
        res[k, 0] = dev
        res[k, 1] = disp
        res[k, 3] = math.hypot(pair1[k, 0] - pair2[k, 0], pair1[k, 1] - pair2[k, 1])


#: parallel and serial builds with separate cache entries (:mod:`._jit`)
_split, _split_serial = parallel_and_serial(_split_impl)


def split_tests(image: np.ndarray, params: np.ndarray, cand: np.ndarray, nb_ptr: np.ndarray, nb_idx: np.ndarray, *,
                radius: float, poisson: bool, sigma_range: tuple[float, float], max_shift: float,
                max_iter: int = 100, tol: float = 1e-6, min_ratio: float = 1.0, half_vector=None):
    """One- and two-column fits of the candidates ``cand`` (indices into ``params``).

    The neighbours ``nb_idx[nb_ptr[i]:nb_ptr[i + 1]]`` of each candidate (CSR, without
    the candidate itself) are subtracted with their ``params``. Returns ``(single,
    pair1, pair2, info1, info2, res)``: the refitted one-column parameters, the two
    columns (7 parameters each, see :data:`._refine.PARAMS`), their ``info`` rows and
    ``res`` with the columns :data:`SPLIT_INFO` (deviance of one against two columns,
    the pair fit's Pearson dispersion (>= 1, Poisson only), window pixels, separation
    of the two columns in px). Candidates whose one-column fit has a major / minor width
    ratio below ``min_ratio`` get no two-column fit (their ``res`` is NaN, never split).
    ``half_vector`` (dy, dx) px, optional: start the two columns at the centre plus and
    minus this vector (the pair of the lattice's motif) instead of along the major axis
    of the one-column fit, whose orientation neighbours and width bounds can turn.
    """
    image = np.ascontiguousarray(image, dtype=np.float64)
    params = np.ascontiguousarray(params, dtype=np.float64)
    cand = np.ascontiguousarray(cand, dtype=np.int64)
    k = len(cand)
    single = np.empty((k, 7))
    pair1 = np.full((k, 7), np.nan)
    pair2 = np.full((k, 7), np.nan)
    info1 = np.full((k, 8), np.nan)
    info2 = np.full((k, 8), np.nan)
    res = np.full((k, 4), np.nan)
    if k == 0:
        return single, pair1, pair2, info1, info2, res
    axis = np.full(2, np.nan)  # NaN: along each one-column fit's major axis
    if half_vector is not None:
        hv = np.asarray(half_vector, dtype=np.float64).reshape(2)
        if not np.all(np.isfinite(hv)) or np.hypot(*hv) <= 0:
            raise ValueError(f"half_vector must be a finite non-zero (dy, dx), got {half_vector!r}")
        axis[:] = hv
    smin, smax = sigma_range
    kernel = _split if k >= 48 else _split_serial
    kernel(image, params, cand, np.ascontiguousarray(nb_ptr, np.int64), np.ascontiguousarray(nb_idx, np.int64),
           float(radius), bool(poisson), int(max_iter), float(tol), 1.0 / smax**2, 1.0 / smin**2, float(max_shift),
           float(min_ratio), axis, single, pair1, pair2, info1, info2, res)
    return single, pair1, pair2, info1, info2, res


def accept_splits(res: np.ndarray, pair1: np.ndarray, pair2: np.ndarray, info1: np.ndarray, info2: np.ndarray, *,
                  min_snr: float, min_separation_sigma: float = 1.0, penalty: float = 1.0) -> np.ndarray:
    """Which tested candidates are two columns (see the module docstring for the test).

    Both columns significant (amplitude >= ``min_snr`` standard errors), at least
    ``min_separation_sigma`` of the pair's (major) width apart, and the dispersion-scaled
    deviance above ``penalty`` times the BIC penalty ``3 log n``.
    """
    dev, disp, npix, sep = res.T
    with np.errstate(divide="ignore", invalid="ignore"):
        snr1 = pair1[:, 2] / info1[:, 2]
        snr2 = pair2[:, 2] / info2[:, 2]
        lam = 0.5 * (pair1[:, 4] + pair1[:, 6]) - np.sqrt(0.25 * (pair1[:, 4] - pair1[:, 6]) ** 2 + pair1[:, 5] ** 2)
        s_major = 1.0 / np.sqrt(lam)
        bic = 3.0 * np.log(np.maximum(npix, 2.0))
        ok = (
            np.isfinite(dev) & (dev / disp > penalty * bic)
            & (info1[:, 7] != STATUS_FAILED) & (info2[:, 7] != STATUS_FAILED)
            & (snr1 >= min_snr) & (snr2 >= min_snr)
            & (sep >= min_separation_sigma * s_major)
        )
    return np.asarray(ok, dtype=bool)
