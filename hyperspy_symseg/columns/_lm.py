"""Levenberg-Marquardt fit of one Gaussian column on its window pixels (numba, no HyperSpy).

The single-column kernels of :mod:`hyperspy_symseg.columns._refine` (see its docstring
for the model, the objectives and the parameter order): Cholesky solves, the cost and
normal equations, the damped Gauss-Newton (Fisher scoring) loop and the window gather.
"""

from __future__ import annotations

import math

import numba
import numpy as np

STATUS_CONVERGED = 0
STATUS_MAX_ITER = 1
STATUS_FAILED = 2  # too few pixels or singular normal equations

_MIN_MU = 1e-12


@numba.njit(cache=True, nogil=True, inline="always")
def _pixel_cost(yk, mu, poisson):
    """One pixel's objective term and Fisher weight: ``(ok, term, w)``.

    Poisson: ``mu - y log mu`` and ``w = 1 / mu`` (``ok`` False where ``mu`` is not
    positive, ``<= _MIN_MU``); least squares: ``(y - mu)**2`` and ``w = 1``. The one
    per-pixel cost of the single-column (:func:`_cost_and_normal`) and pair
    (``_pairs._cost_normal2``) models, inlined into both.
    """
    if poisson:
        if mu <= _MIN_MU:
            return False, math.inf, 0.0
        return True, mu - yk * math.log(mu), 1.0 / mu
    return True, (yk - mu) * (yk - mu), 1.0


@numba.njit(cache=True, nogil=True)
def _cholesky_solve(h, g, n, out, lmat, tmp):
    """Solve ``h x = g`` for symmetric positive definite ``h[:n, :n]``; False if not SPD.

    ``lmat`` (7, 7) and ``tmp`` (7,) are scratch arrays.
    """
    for i in range(n):
        for j in range(i + 1):
            s = h[i, j]
            for k in range(j):
                s -= lmat[i, k] * lmat[j, k]
            if i == j:
                if s <= 0.0 or not math.isfinite(s):
                    return False
                lmat[i, i] = math.sqrt(s)
            else:
                lmat[i, j] = s / lmat[j, j]
    for i in range(n):
        s = g[i]
        for k in range(i):
            s -= lmat[i, k] * tmp[k]
        tmp[i] = s / lmat[i, i]
    for i in range(n - 1, -1, -1):
        s = tmp[i]
        for k in range(i + 1, n):
            s -= lmat[k, i] * out[k]
        out[i] = s / lmat[i, i]
    return True


@numba.njit(cache=True, nogil=True)
def _expand(theta, elliptical, p):
    """Free parameters -> the 7 model parameters."""
    p[0] = theta[0]
    p[1] = theta[1]
    p[2] = theta[2]
    p[3] = theta[3]
    p[4] = theta[4]
    if elliptical:
        p[5] = theta[5]
        p[6] = theta[6]
    else:
        p[5] = 0.0
        p[6] = theta[4]


@numba.njit(cache=True, nogil=True)
def _valid(p, min_prec, max_prec):
    a, b, c = p[4], p[5], p[6]
    if not (a > min_prec and c > min_prec and a < max_prec and c < max_prec):
        return False
    det = a * c - b * b
    if det <= 0.0:
        return False
    # both eigenvalues of the precision matrix within [min_prec, max_prec]
    tr = 0.5 * (a + c)
    disc = math.sqrt(max(tr * tr - det, 0.0))
    return tr - disc > min_prec and tr + disc < max_prec


@numba.njit(cache=True, nogil=True)
def _cost_and_normal(
    py, px, vals, nb, n, p, poisson, elliptical, npar, h, g, want_normal, d
):
    """Cost and (optionally) the normal equations ``h``, ``g`` at parameters ``p``.

    ``g`` is ``sum w (y - mu) dmu``: the LM step solves ``(h + lambda D) d = g``.
    Returns ``(cost, pearson_chi2)`` or ``(inf, inf)`` where the Poisson mean is not positive.

    The sums over pixels run on scalar accumulators (the 28 + 7 entries of the full
    7-parameter normal equations, kept in registers); a circular fit (5 parameters,
    ``c = a``, ``b = 0``) and a fixed width (4) are contractions of them afterwards.
    ``d`` is unused scratch kept for the signature.
    """
    y0, x0, amp, bg, a, b, c = p[0], p[1], p[2], p[3], p[4], p[5], p[6]
    cost = 0.0
    chi2 = 0.0
    g0 = g1 = g2 = g3 = g4 = g5 = g6 = 0.0
    h00 = h10 = h11 = h20 = h21 = h22 = h30 = h31 = h32 = h33 = 0.0
    h40 = h41 = h42 = h43 = h44 = h50 = h51 = h52 = h53 = h54 = h55 = 0.0
    h60 = h61 = h62 = h63 = h64 = h65 = h66 = 0.0
    for k in range(n):
        dy = py[k] - y0
        dx = px[k] - x0
        q = a * dy * dy + 2.0 * b * dy * dx + c * dx * dx
        e = math.exp(-0.5 * q)
        mu = nb[k] + bg + amp * e
        yk = vals[k]
        ok, term, w = _pixel_cost(yk, mu, poisson)
        if not ok:
            return math.inf, math.inf
        cost += term
        r = yk - mu
        wr = w * r
        chi2 += wr * r
        if want_normal:
            ae = amp * e
            d0 = ae * (a * dy + b * dx)
            d1 = ae * (b * dy + c * dx)
            d2 = e
            d4 = -0.5 * ae * dy * dy
            d5 = -ae * dy * dx
            d6 = -0.5 * ae * dx * dx
            g0 += wr * d0
            g1 += wr * d1
            g2 += wr * d2
            g3 += wr
            g4 += wr * d4
            g5 += wr * d5
            g6 += wr * d6
            w0 = w * d0
            w1 = w * d1
            w2 = w * d2
            w4 = w * d4
            w5 = w * d5
            w6 = w * d6
            h00 += w0 * d0
            h10 += w1 * d0
            h11 += w1 * d1
            h20 += w2 * d0
            h21 += w2 * d1
            h22 += w2 * d2
            h30 += w0
            h31 += w1
            h32 += w2
            h33 += w
            h40 += w4 * d0
            h41 += w4 * d1
            h42 += w4 * d2
            h43 += w4
            h44 += w4 * d4
            h50 += w5 * d0
            h51 += w5 * d1
            h52 += w5 * d2
            h53 += w5
            h54 += w5 * d4
            h55 += w5 * d5
            h60 += w6 * d0
            h61 += w6 * d1
            h62 += w6 * d2
            h63 += w6
            h64 += w6 * d4
            h65 += w6 * d5
            h66 += w6 * d6
    if want_normal:
        g[0], g[1], g[2], g[3] = g0, g1, g2, g3
        h[0, 0] = h00
        h[1, 0] = h10
        h[1, 1] = h11
        h[2, 0] = h20
        h[2, 1] = h21
        h[2, 2] = h22
        h[3, 0] = h30
        h[3, 1] = h31
        h[3, 2] = h32
        h[3, 3] = h33
        if npar == 7:
            g[4], g[5], g[6] = g4, g5, g6
            h[4, 0], h[4, 1], h[4, 2], h[4, 3], h[4, 4] = h40, h41, h42, h43, h44
            h[5, 0], h[5, 1], h[5, 2], h[5, 3], h[5, 4], h[5, 5] = h50, h51, h52, h53, h54, h55
            h[6, 0], h[6, 1], h[6, 2], h[6, 3], h[6, 4], h[6, 5], h[6, 6] = h60, h61, h62, h63, h64, h65, h66
        elif npar == 5:
            # circular width: d mu / d a_circ = d4 + d6 (c tied to a, b = 0)
            g[4] = g4 + g6
            h[4, 0] = h40 + h60
            h[4, 1] = h41 + h61
            h[4, 2] = h42 + h62
            h[4, 3] = h43 + h63
            h[4, 4] = h44 + 2.0 * h64 + h66
        for i in range(npar):
            for j in range(i + 1, npar):
                h[i, j] = h[j, i]
    return cost, chi2


@numba.njit(cache=True, nogil=True, inline="always")
def _damped_solve(h, g, lam, npar, hd, step, lmat, tmp):
    """The Levenberg-Marquardt step: solve ``(H + lam diag(H) + 1e-12) step = g``; False if not SPD.

    ``hd`` (the damped matrix), ``lmat`` and ``tmp`` are scratch arrays. Shared by the
    single-column fit (:func:`_fit_one`) and the pair fit (``_pairs._fit_two``).
    """
    for i in range(npar):
        for j in range(npar):
            hd[i, j] = h[i, j]
        hd[i, i] = h[i, i] * (1.0 + lam) + 1e-12
    return _cholesky_solve(hd, g, npar, step, lmat, tmp)


@numba.njit(cache=True, nogil=True, inline="always")
def _accept_or_reject(ok, moved, tol, cost, c_new, chi2, chi_new, lam, theta, trial, n_theta, g, g2, h, h2, npar):
    """Take or refuse a Levenberg-Marquardt trial step; returns ``(cost, chi2, lam, converged)``.

    ``ok``: the trial is valid and does not raise the cost ``c_new``. Taken: ``theta[:n_theta]``,
    the gradient ``g`` and the normal matrix ``h`` become the trial's (``trial``, ``g2``,
    ``h2``), the damping falls tenfold, and the fit has converged when the position moved
    less than ``tol`` px (``moved``) and the cost fell by less than 1e-9 of itself. Refused:
    the damping rises tenfold, and past 1e10 no step lowers the cost (a minimum to machine
    precision), which counts as converged too.
    """
    if ok:
        rel = (cost - c_new) / max(abs(cost), 1e-300)
        for i in range(n_theta):
            theta[i] = trial[i]
        for i in range(npar):
            g[i] = g2[i]
            for j in range(npar):
                h[i, j] = h2[i, j]
        return c_new, chi_new, max(lam * 0.1, 1e-9), moved < tol and rel < 1e-9
    lam *= 10.0
    return cost, chi2, lam, lam > 1e10


@numba.njit(cache=True, nogil=True, inline="always")
def _standard_error(h, npar, k, disp, e, col, lmat, tmp):
    """``(ok, sqrt(disp * (H^-1)[k, k]))``: parameter ``k``'s standard error; ok is False where H is not SPD."""
    for i in range(npar):
        e[i] = 0.0
    e[k] = 1.0
    if _cholesky_solve(h, e, npar, col, lmat, tmp):
        return True, math.sqrt(max(col[k] * disp, 0.0))
    return False, 0.0


@numba.njit(cache=True, nogil=True)
def _fit_one(
    py, px, vals, nb, n, p0, poisson, elliptical, fixed_width, max_iter, tol, min_prec, max_prec, cy, cx,
    max_shift, p_out, info
):
    """Levenberg-Marquardt fit of one column on its window pixels; writes p_out, info.

    ``fixed_width`` keeps the circular width of ``p0`` (4 free parameters).
    """
    npar = 4 if fixed_width else (7 if elliptical else 5)
    theta = np.empty(7)
    for i in range(7):
        theta[i] = p0[i]
    p = np.empty(7)
    trial = np.empty(7)
    ptrial = np.empty(7)
    step = np.zeros(7)
    h = np.zeros((7, 7))
    hd = np.zeros((7, 7))
    g = np.zeros(7)
    g2 = np.zeros(7)
    h2 = np.zeros((7, 7))
    dvec = np.empty(7)
    lmat = np.zeros((7, 7))
    tmp = np.zeros(7)
    for i in range(7):
        p_out[i] = p0[i]
    for i in range(8):
        info[i] = math.nan
    info[6] = n
    if n <= npar:
        info[7] = STATUS_FAILED
        info[5] = 0
        return
    _expand(theta, elliptical, p)
    if not _valid(p, min_prec, max_prec):
        info[7] = STATUS_FAILED
        info[5] = 0
        return
    cost, chi2 = _cost_and_normal(py, px, vals, nb, n, p, poisson, elliptical, npar, h, g, True, dvec)
    if not math.isfinite(cost):
        # start from a positive background so that the Poisson mean is positive
        theta[3] = max(theta[3], 1e-3 * (abs(theta[2]) + 1e-3))
        _expand(theta, elliptical, p)
        cost, chi2 = _cost_and_normal(py, px, vals, nb, n, p, poisson, elliptical, npar, h, g, True, dvec)
        if not math.isfinite(cost):
            info[7] = STATUS_FAILED
            info[5] = 0
            return
    lam = 1e-3
    status = STATUS_MAX_ITER
    it = 0
    while it < max_iter:
        it += 1
        if not _damped_solve(h, g, lam, npar, hd, step, lmat, tmp):
            lam *= 10.0
            if lam > 1e12:
                status = STATUS_FAILED
                break
            continue
        for i in range(7):
            trial[i] = theta[i]
        for i in range(npar):
            trial[i] = theta[i] + step[i]
        _expand(trial, elliptical, ptrial)
        ok = _valid(ptrial, min_prec, max_prec) and (
            (ptrial[0] - cy) ** 2 + (ptrial[1] - cx) ** 2 <= max_shift * max_shift
        )
        c_new, chi_new = cost, chi2
        if ok:
            c_new, chi_new = _cost_and_normal(
                py, px, vals, nb, n, ptrial, poisson, elliptical, npar, h2, g2, True, dvec
            )
            ok = c_new <= cost
        moved = max(abs(step[0]), abs(step[1]))
        cost, chi2, lam, converged = _accept_or_reject(ok, moved, tol, cost, c_new, chi2, chi_new, lam, theta, trial,
                                                       7, g, g2, h, h2, npar)
        if converged:
            status = STATUS_CONVERGED
            break
    _expand(theta, elliptical, p)
    for i in range(7):
        p_out[i] = p[i]
    info[5] = it
    info[7] = status
    dof = n - npar
    disp = chi2 / dof
    info[4] = disp
    # covariance = dispersion * H^-1 : the diagonal entries for y, x, A, B
    e = np.zeros(7)
    col = np.zeros(7)
    for k in range(4):
        solved, se = _standard_error(h, npar, k, disp, e, col, lmat, tmp)
        if solved:
            info[k] = se
        else:
            info[7] = STATUS_FAILED


@numba.njit(cache=True, nogil=True, inline="always")
def _add_column(py, px, n, column, nb):
    """Add one fitted column's Gaussian (a parameter row: y, x, amplitude, ., a, b, c) to ``nb[:n]``.

    The neighbour model of a fit window: pixels farther than sqrt(60) Mahalanobis units
    get nothing.
    """
    yj, xj, aj = column[0], column[1], column[2]
    pa, pb, pc = column[4], column[5], column[6]
    for s in range(n):
        dy = py[s] - yj
        dx = px[s] - xj
        q = pa * dy * dy + 2.0 * pb * dy * dx + pc * dx * dx
        if q < 60.0:
            nb[s] += aj * math.exp(-0.5 * q)


@numba.njit(cache=True, nogil=True)
def _window(image, cy, cx, radius, py, px, vals):
    """Pixels of ``image`` within ``radius`` of ``(cy, cx)``; returns their count."""
    ny, nx = image.shape
    r2 = radius * radius
    i0 = max(int(math.floor(cy - radius)), 0)
    i1 = min(int(math.ceil(cy + radius)), ny - 1)
    j0 = max(int(math.floor(cx - radius)), 0)
    j1 = min(int(math.ceil(cx + radius)), nx - 1)
    n = 0
    for i in range(i0, i1 + 1):
        dy = i - cy
        for j in range(j0, j1 + 1):
            dx = j - cx
            if dy * dy + dx * dx <= r2:
                py[n] = i
                px[n] = j
                vals[n] = image[i, j]
                n += 1
    return n
