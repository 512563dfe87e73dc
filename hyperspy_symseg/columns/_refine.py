"""Batched 2D Gaussian refinement of atom columns (numba, no HyperSpy).

Model of column ``i`` on the pixels of its window (a disk of radius ``R`` around its
starting position)::

    mu(r) = N_i(r) + B_i + A_i * exp(-Q_i(r) / 2),
    Q_i(r) = a_i dy**2 + 2 b_i dy dx + c_i dx**2,   (dy, dx) = r - (y_i, x_i)

``N_i`` is the sum of the Gaussians of the neighbouring columns (their amplitudes and
shapes from the previous sweep, without their backgrounds), so overlapping neighbours
are subtracted rather than absorbed into the fit. Every column is fitted in parallel
(Jacobi sweeps), which makes the result independent of thread scheduling; sweeps are
repeated until the positions stop moving.

Objectives (``noise``):

* ``"gaussian"``: least squares, ``sum (y - mu)**2``;
* ``"poisson"``: Poisson maximum likelihood, ``sum mu - y log mu``; the Levenberg-
  Marquardt step uses the Fisher information ``sum w dmu dmu^T`` with ``w = 1 / mu``
  (Fisher scoring), so it attains the Cramer-Rao bound on count data.

Parameters per column: ``(y, x, A, B, a, b, c)`` in pixels, ``(a, b, c)`` the precision
matrix ``[[a, b], [b, c]]`` of the Gaussian in ``(y, x)`` order. A circular fit ties
``c = a`` and ``b = 0``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .._threading import serialised

#: Parameter order of the ``params`` arrays.
PARAMS = ("y", "x", "amplitude", "background", "a", "b", "c")
#: Columns of the ``info`` array returned by :func:`fit_columns`.
INFO = ("y_err", "x_err", "amplitude_err", "background_err", "chi2", "n_iter", "n_pixels", "status")

STATUS_CONVERGED = 0
STATUS_MAX_ITER = 1
STATUS_FAILED = 2  # too few pixels or singular normal equations

_MIN_MU = 1e-12


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
    """
    y0, x0, amp, bg, a, b, c = p[0], p[1], p[2], p[3], p[4], p[5], p[6]
    cost = 0.0
    chi2 = 0.0
    if want_normal:
        for i in range(npar):
            g[i] = 0.0
            for j in range(npar):
                h[i, j] = 0.0
    for k in range(n):
        dy = py[k] - y0
        dx = px[k] - x0
        q = a * dy * dy + 2.0 * b * dy * dx + c * dx * dx
        e = math.exp(-0.5 * q)
        mu = nb[k] + bg + amp * e
        yk = vals[k]
        if poisson:
            if mu <= _MIN_MU:
                return math.inf, math.inf
            cost += mu - yk * math.log(mu)
            w = 1.0 / mu
        else:
            w = 1.0
            cost += (yk - mu) * (yk - mu)
        r = yk - mu
        chi2 += w * r * r
        if want_normal:
            ae = amp * e
            # d mu / d theta
            d[0] = ae * (a * dy + b * dx)
            d[1] = ae * (b * dy + c * dx)
            d[2] = e
            d[3] = 1.0
            if elliptical:
                d[4] = -0.5 * ae * dy * dy
                d[5] = -ae * dy * dx
                d[6] = -0.5 * ae * dx * dx
            else:
                d[4] = -0.5 * ae * (dy * dy + dx * dx)
            for i in range(npar):
                wi = w * d[i]
                g[i] += wi * r
                for j in range(i + 1):
                    h[i, j] += wi * d[j]
    if want_normal:
        for i in range(npar):
            for j in range(i + 1, npar):
                h[i, j] = h[j, i]
    return cost, chi2


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
        for i in range(npar):
            for j in range(npar):
                hd[i, j] = h[i, j]
            hd[i, i] = h[i, i] * (1.0 + lam) + 1e-12
        if not _cholesky_solve(hd, g, npar, step, lmat, tmp):
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
        if ok:
            c_new, chi_new = _cost_and_normal(
                py, px, vals, nb, n, ptrial, poisson, elliptical, npar, h2, g2, True, dvec
            )
            ok = c_new <= cost
        if ok:
            moved = max(abs(step[0]), abs(step[1]))
            rel = (cost - c_new) / max(abs(cost), 1e-300)
            for i in range(7):
                theta[i] = trial[i]
            for i in range(npar):
                g[i] = g2[i]
                for j in range(npar):
                    h[i, j] = h2[i, j]
            cost = c_new
            chi2 = chi_new
            lam = max(lam * 0.1, 1e-9)
            if moved < tol and rel < 1e-9:
                status = STATUS_CONVERGED
                break
        else:
            lam *= 10.0
            if lam > 1e10:
                # no step lowers the cost: a minimum to machine precision
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
        for i in range(npar):
            e[i] = 0.0
        e[k] = 1.0
        if _cholesky_solve(h, e, npar, col, lmat, tmp):
            info[k] = math.sqrt(max(col[k] * disp, 0.0))
        else:
            info[7] = STATUS_FAILED


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


@serialised
@numba.njit(parallel=True, cache=True, nogil=True)
def _sweep(
    image, params, centres, nb_ptr, nb_idx, radius, poisson, elliptical, fixed_width, max_iter, tol, min_prec,
    max_prec, max_shift, active, out, info,
):
    n_col = params.shape[0]
    m = int(2 * math.ceil(radius) + 1)
    cap = m * m
    for i in numba.prange(n_col):
        if not active[i]:
            for k in range(7):
                out[i, k] = params[i, k]
            continue
        py = np.empty(cap)
        px = np.empty(cap)
        vals = np.empty(cap)
        nb = np.zeros(cap)
        n = _window(image, centres[i, 0], centres[i, 1], radius, py, px, vals)
        for t in range(nb_ptr[i], nb_ptr[i + 1]):
            j = nb_idx[t]
            if not active[j] and params[j, 2] == 0.0:
                continue
            yj, xj, aj = params[j, 0], params[j, 1], params[j, 2]
            pa, pb, pc = params[j, 4], params[j, 5], params[j, 6]
            for k in range(n):
                dy = py[k] - yj
                dx = px[k] - xj
                q = pa * dy * dy + 2.0 * pb * dy * dx + pc * dx * dx
                if q < 60.0:
                    nb[k] += aj * math.exp(-0.5 * q)
        _fit_one(py, px, vals, nb, n, params[i], poisson, elliptical, fixed_width, max_iter, tol, min_prec,
                 max_prec, centres[i, 0], centres[i, 1], max_shift, out[i], info[i])


def neighbour_lists(positions: np.ndarray, reach: float) -> tuple[np.ndarray, np.ndarray]:
    """CSR lists of the other columns within ``reach`` px of each column.

    Returns ``(ptr, idx)`` int64 arrays: the neighbours of column ``i`` are
    ``idx[ptr[i]:ptr[i + 1]]``.
    """
    from scipy.spatial import cKDTree

    n = len(positions)
    if n == 0:
        return np.zeros(1, np.int64), np.zeros(0, np.int64)
    tree = cKDTree(positions)
    pairs = tree.query_pairs(reach, output_type="ndarray")
    if len(pairs) == 0:
        return np.zeros(n + 1, np.int64), np.zeros(0, np.int64)
    both = np.concatenate([pairs, pairs[:, ::-1]])
    order = np.lexsort((both[:, 1], both[:, 0]))
    both = both[order]
    counts = np.bincount(both[:, 0], minlength=n)
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(counts, out=ptr[1:])
    return ptr, np.ascontiguousarray(both[:, 1], dtype=np.int64)


def initial_params(
    positions: np.ndarray, image: np.ndarray, sigma: float, background: np.ndarray | float
) -> np.ndarray:
    """(N, 7) starting parameters: positions, amplitude = value above background, circular sigma."""
    positions = np.asarray(positions, dtype=np.float64).reshape(-1, 2)
    n = len(positions)
    p = np.zeros((n, 7))
    p[:, :2] = positions
    if n:
        ny, nx = image.shape
        iy = np.clip(np.rint(positions[:, 0]).astype(np.int64), 0, ny - 1)
        ix = np.clip(np.rint(positions[:, 1]).astype(np.int64), 0, nx - 1)
        bg = np.broadcast_to(np.asarray(background, dtype=np.float64), (n,)) if np.ndim(background) < 2 else \
            np.asarray(background, dtype=np.float64)[iy, ix]
        p[:, 3] = bg
        p[:, 2] = np.maximum(image[iy, ix] - bg, 1e-3 * max(float(np.abs(image).max()), 1e-12))
    p[:, 4] = p[:, 6] = 1.0 / sigma**2
    return p


def fit_columns(
    image: np.ndarray,
    params: np.ndarray,
    *,
    radius: float,
    noise: str = "gaussian",
    elliptical: bool = True,
    neighbour_reach: float | None = None,
    max_sweeps: int = 6,
    max_iter: int = 50,
    tol: float = 1e-6,
    sweep_tol: float = 1e-4,
    sigma_range: tuple[float, float] = (0.3, 50.0),
    active: np.ndarray | None = None,
    max_shift: float | None = None,
    fixed_width: bool = False,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Fit every column, neighbours subtracted, until positions move less than ``sweep_tol``.

    Parameters
    ----------
    image : (H, W) float64 ndarray
    params : (N, 7) float64 ndarray
        Starting parameters ``(y, x, A, B, a, b, c)`` (see :data:`PARAMS`), pixels.
    radius : float
        Fit window radius in px (a disk around each column's current position).
    noise : {"gaussian", "poisson"}
        Least squares or Poisson maximum likelihood.
    elliptical : bool
        Free elliptical Gaussian (7 parameters) or circular (5).
    neighbour_reach : float, optional
        Columns closer than this are modelled in each other's windows; default
        ``radius + 4 * sigma_max``.
    max_sweeps : int
        Jacobi sweeps at most (1 = no neighbour updates beyond the start).
    active : (N,) bool ndarray, optional
        Columns to fit; the others are kept fixed (still subtracted as neighbours).
    max_shift : float, optional
        A column may not move further than this (px) from its window centre in one
        sweep; default ``radius``.
    fixed_width : bool
        Keep each column's width (circular, ``a`` of ``params``; 4 free parameters).

    Returns
    -------
    params : (N, 7) float64 ndarray
    info : (N, 8) float64 ndarray
        Columns :data:`INFO`: standard errors of y, x, A, B (dispersion-scaled inverse
        Fisher information), the reduced (Pearson) chi-square, LM iterations, window
        pixels and status (0 converged, 1 iteration limit, 2 failed).
    n_sweeps : int
    """
    image = np.ascontiguousarray(image, dtype=np.float64)
    params = np.array(params, dtype=np.float64, order="C", copy=True)
    n = len(params)
    if active is None:
        active = np.ones(n, dtype=np.bool_)
    active = np.ascontiguousarray(active, dtype=np.bool_)
    info = np.full((n, 8), np.nan)
    if n == 0:
        return params, np.zeros((0, 8)), 0
    poisson = noise == "poisson"
    if max_shift is None:
        max_shift = radius
    smin, smax = sigma_range
    min_prec, max_prec = 1.0 / smax**2, 1.0 / smin**2
    sweeps = 0
    centres = params[:, :2].copy()
    todo = active.copy()
    last_step = np.zeros_like(params)
    for sweeps in range(1, max_sweeps + 1):
        if sweeps <= 2:
            # windows follow the columns for two sweeps, then stay put so that every
            # column's objective is fixed and the sweeps converge to a fixed point
            centres = params[:, :2].copy()
        if neighbour_reach is None:
            sig = 1.0 / np.sqrt(np.clip(np.minimum(params[:, 4], params[:, 6]), min_prec, None))
            reach = radius + 4.0 * float(np.percentile(sig, 99))
        else:
            reach = float(neighbour_reach)
        ptr, idx = neighbour_lists(params[:, :2], reach)
        out = np.empty_like(params)
        _sweep(image, params, centres, ptr, idx, float(radius), poisson, bool(elliptical) and not fixed_width,
               bool(fixed_width), int(max_iter), float(tol), min_prec, max_prec, float(max_shift), todo, out, info)
        # Strongly overlapping neighbours make the Jacobi sweeps oscillate (each column
        # over-corrects for the other's last move): a column whose step reverses
        # direction takes half a step, which removes that mode.
        step = out - params
        flip = np.einsum("ij,ij->i", step[:, :2], last_step[:, :2]) < 0
        if flip.any():
            out[flip] = params[flip] + 0.5 * step[flip]
            step[flip] *= 0.5
        last_step = step
        # what changed enough to matter for the column itself or its neighbours
        moved = np.abs(out[:, :2] - params[:, :2]).max(axis=1)
        # amplitude and background relative to the amplitude, the shape relative to the
        # precision's scale (a background or an off-diagonal term near 0 has no scale of its own)
        amp_scale = np.abs(params[:, 2]) + 1e-12
        prec_scale = np.maximum(np.abs(params[:, 4]), np.abs(params[:, 6])) + 1e-12
        with np.errstate(invalid="ignore"):
            rel = np.maximum(
                np.abs(out[:, 2:4] - params[:, 2:4]).max(axis=1) / amp_scale,
                np.abs(out[:, 4:7] - params[:, 4:7]).max(axis=1) / prec_scale,
            )
        changed = todo & ((moved >= sweep_tol) | (rel >= sweep_tol))
        changed &= np.isfinite(moved)
        params = out
        if not changed.any() or ptr[-1] == 0:
            break
        # next sweep: the columns that changed and their neighbours
        owner = np.repeat(np.arange(n), np.diff(ptr))
        near = np.zeros(n, dtype=np.bool_)
        near[owner[changed[idx]]] = True
        todo = active & (changed | near)
    return params, info, sweeps


def shape_from_precision(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Widths and orientation of Gaussians with precision ``[[a, b], [b, c]]`` in (y, x).

    Returns ``(sigma_major, sigma_minor, angle)``: standard deviations in px along the
    principal axes and the angle (degrees, counter-clockwise as displayed from +x, in
    (-90, 90]) of the major axis.
    """
    a, b, c = (np.asarray(v, dtype=np.float64) for v in (a, b, c))
    tr = 0.5 * (a + c)
    disc = np.sqrt(np.maximum(0.25 * (a - c) ** 2 + b * b, 0.0))
    lam_small = tr - disc  # smallest precision eigenvalue -> major axis
    lam_big = tr + disc
    with np.errstate(divide="ignore", invalid="ignore"):
        s_major = 1.0 / np.sqrt(lam_small)
        s_minor = 1.0 / np.sqrt(lam_big)
    # eigenvector (vy, vx) of [[a, b], [b, c]] for lam_small
    vy = np.where(np.abs(b) > 1e-15, b, np.where(a <= c, 1.0, 0.0))
    vx = np.where(np.abs(b) > 1e-15, lam_small - a, np.where(a <= c, 0.0, 1.0))
    # direction (dy, dx) = (-sin t, cos t)
    angle = np.degrees(np.arctan2(-vy, vx))
    angle = np.where(angle > 90.0, angle - 180.0, angle)
    angle = np.where(angle <= -90.0, angle + 180.0, angle)
    return s_major, s_minor, angle
