"""Batched 2D Gaussian refinement of atom columns (numba, no HyperSpy).

Model of column ``i`` on the pixels of its window (a disk of radius ``R`` around its
starting position)::

    mu(r) = N_i(r) + B_i + A_i * exp(-Q_i(r) / 2),
    Q_i(r) = a_i dy**2 + 2 b_i dy dx + c_i dx**2,   (dy, dx) = r - (y_i, x_i)

``N_i`` is the sum of the Gaussians of the neighbouring columns (their amplitudes and
shapes from the previous sweep, without their backgrounds), so overlapping neighbours
are subtracted rather than absorbed into the fit. Every column is fitted in parallel
(Jacobi sweeps), which makes the result independent of thread scheduling; sweeps are
repeated until the positions stop moving, each re-fitting only the columns whose
neighbours changed, whose window was re-centred (first two sweeps) or whose fit hit the
iteration limit. Mutual nearest neighbours closer than ``JOINT_SEPARATION`` widths are
fitted together instead (:mod:`._pairs`); the single-column Levenberg-Marquardt kernel
is in :mod:`._lm`.

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

from ._jit import parallel_and_serial, parallel_pays
from ._lm import STATUS_CONVERGED, STATUS_FAILED, STATUS_MAX_ITER, _add_column, _fit_one, _window  # noqa: F401
from ._pairs import JOINT_SEPARATION, _sweep_pairs, _sweep_pairs_serial, find_pairs

#: Parameter order of the ``params`` arrays.
PARAMS = ("y", "x", "amplitude", "background", "a", "b", "c")
#: Columns of the ``info`` array returned by :func:`fit_columns`.
INFO = ("y_err", "x_err", "amplitude_err", "background_err", "chi2", "n_iter", "n_pixels", "status")

#: During the first two sweeps a window is re-centred on its column when the column
#: has moved further than this (px) from the window centre.
RECENTRE = 0.25


def _sweep_columns(
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
            _add_column(py, px, n, params[j], nb)
        _fit_one(py, px, vals, nb, n, params[i], poisson, elliptical, fixed_width, max_iter, tol, min_prec,
                 max_prec, centres[i, 0], centres[i, 1], max_shift, out[i], info[i])


#: One Jacobi sweep over the columns, in parallel (numba threads), or on the calling
#: thread: a parallel region costs a wake-up of every worker thread (milliseconds on a
#: busy machine), more than a few dozen column fits. Separate cache entries (:mod:`._jit`).
_sweep, _sweep_serial = parallel_and_serial(_sweep_columns)
#: Below this many columns to fit, a sweep runs on the calling thread, ...
MIN_PARALLEL = 24
#: ... and below this many also when no core is free (:func:`._jit.cores_are_free`): ~30 us
#: a column, so ~30 ms of work at the limit. On a 2-core machine shared with another busy
#: process a parallel sweep waits for the worker that shares its core: 471 columns took
#: 22 ms in parallel against 13 ms on one thread, sweeps of 50-180 columns 6-12 ms against
#: 1.5-5 ms.
MIN_PARALLEL_BUSY = 1000


def _parallel_pays(columns: int) -> bool:
    return parallel_pays(columns, MIN_PARALLEL, MIN_PARALLEL_BUSY)


@numba.njit(cache=True, nogil=True)
def _neighbour_csr(pos, reach, cell, ptr):
    """CSR lists of the other points within ``reach`` (``d^2 <= reach^2``) of each point, ascending.

    Points are binned on a grid of ``cell >= reach`` px, so each one's neighbours lie in
    its own and the 8 adjacent cells. Fills ``ptr`` ((N + 1,)); returns ``idx``.
    """
    n = pos.shape[0]
    r2 = reach * reach
    y0 = pos[0, 0]
    x0 = pos[0, 1]
    for i in range(n):
        y0 = min(y0, pos[i, 0])
        x0 = min(x0, pos[i, 1])
    cy = np.empty(n, np.int64)
    cx = np.empty(n, np.int64)
    gy = 1
    gx = 1
    for i in range(n):
        cy[i] = int((pos[i, 0] - y0) / cell)
        cx[i] = int((pos[i, 1] - x0) / cell)
        gy = max(gy, cy[i] + 1)
        gx = max(gx, cx[i] + 1)
    # points by cell (counting sort, ascending index within a cell)
    start = np.zeros(gy * gx + 1, np.int64)
    for i in range(n):
        start[cy[i] * gx + cx[i] + 1] += 1
    for c in range(gy * gx):
        start[c + 1] += start[c]
    fill = start[:-1].copy()
    members = np.empty(n, np.int64)
    for i in range(n):
        c = cy[i] * gx + cx[i]
        members[fill[c]] = i
        fill[c] += 1
    ptr[0] = 0
    for sweep in range(2):  # count, then fill
        if sweep == 1:
            idx = np.empty(ptr[n], np.int64)
        for i in range(n):
            k = 0
            for a in range(max(cy[i] - 1, 0), min(cy[i] + 1, gy - 1) + 1):
                for b in range(max(cx[i] - 1, 0), min(cx[i] + 1, gx - 1) + 1):
                    c = a * gx + b
                    for t in range(start[c], start[c + 1]):
                        j = members[t]
                        if j == i:
                            continue
                        dy = pos[i, 0] - pos[j, 0]
                        dx = pos[i, 1] - pos[j, 1]
                        if dy * dy + dx * dx <= r2:
                            if sweep == 1:
                                # insertion into the sorted list of i
                                q = ptr[i] + k
                                while q > ptr[i] and idx[q - 1] > j:
                                    idx[q] = idx[q - 1]
                                    q -= 1
                                idx[q] = j
                            k += 1
            if sweep == 0:
                ptr[i + 1] = ptr[i] + k
    return idx


def neighbour_lists(positions: np.ndarray, reach: float) -> tuple[np.ndarray, np.ndarray]:
    """CSR lists of the other columns within ``reach`` px of each column.

    Returns ``(ptr, idx)`` int64 arrays: the neighbours of column ``i`` are
    ``idx[ptr[i]:ptr[i + 1]]``, ascending. The same lists as ``cKDTree.query_pairs(reach)``
    in both directions (:func:`neighbour_lists_kdtree`, the reference in the tests) from a
    grid in numba: ~0.05 ms instead of 0.3-0.6 ms for 470 columns, six times per
    ``locate_columns``.
    """
    pos = np.ascontiguousarray(np.asarray(positions, dtype=np.float64).reshape(-1, 2))
    n = len(pos)
    if n == 0:
        return np.zeros(1, np.int64), np.zeros(0, np.int64)
    reach = float(reach)
    if not (np.isfinite(pos).all() and math.isfinite(reach)) or reach < 0:
        return neighbour_lists_kdtree(pos, reach)
    span = float(max(np.ptp(pos[:, 0]), np.ptp(pos[:, 1])))
    # any cell at least as large as the reach works; about one point a cell at most
    # (strictly larger than the reach: rounding cannot put two points within reach two cells apart)
    cell = max(reach * (1.0 + 1e-6), span / max(1.0, math.sqrt(n)), 1e-9)
    ptr = np.empty(n + 1, np.int64)
    idx = _neighbour_csr(pos, reach, cell, ptr)
    return ptr, idx


def neighbour_lists_kdtree(positions: np.ndarray, reach: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`neighbour_lists` through ``scipy.spatial.cKDTree.query_pairs`` (also for non-finite input)."""
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


@numba.njit(cache=True, nogil=True, inline="always")
def _max_nan(a, b):
    """``np.maximum``: the larger of two floats, NaN when either is NaN."""
    if a != a:
        return a
    if b != b:
        return b
    return a if a >= b else b


@numba.njit(cache=True, nogil=True)
def _sweep_update(out, params, last_step, todo, sweep_tol, step, flip, changed):
    """After a sweep: damp reversed steps, and flag the columns that changed (in place).

    ``step = out - params``; where ``step . last_step < 0`` (positions) the column takes
    half the step (``out = params + step / 2``, ``flip``). ``changed``: a fitted column
    (``todo``) whose position moved by ``sweep_tol`` px or more (finite), or whose
    amplitude / background changed by ``sweep_tol`` of its amplitude or whose precision
    by ``sweep_tol`` of its scale. The arithmetic of the NumPy expressions (the tests'
    reference), without their dozen (N, 7) temporaries a sweep.
    """
    n = params.shape[0]
    for i in range(n):
        for k in range(7):
            step[i, k] = out[i, k] - params[i, k]
        flip[i] = step[i, 0] * last_step[i, 0] + step[i, 1] * last_step[i, 1] < 0
        if flip[i]:
            for k in range(7):
                out[i, k] = params[i, k] + 0.5 * step[i, k]
                step[i, k] *= 0.5
        moved = _max_nan(abs(out[i, 0] - params[i, 0]), abs(out[i, 1] - params[i, 1]))
        amp_scale = abs(params[i, 2]) + 1e-12
        prec_scale = _max_nan(abs(params[i, 4]), abs(params[i, 6])) + 1e-12
        d_amp = _max_nan(abs(out[i, 2] - params[i, 2]), abs(out[i, 3] - params[i, 3]))
        d_prec = _max_nan(_max_nan(abs(out[i, 4] - params[i, 4]), abs(out[i, 5] - params[i, 5])),
                          abs(out[i, 6] - params[i, 6]))
        rel = _max_nan(d_amp / amp_scale, d_prec / prec_scale)
        changed[i] = todo[i] and (moved >= sweep_tol or rel >= sweep_tol) and math.isfinite(moved)


@numba.njit(cache=True, nogil=True)
def _near_changed(ptr, idx, changed, near):
    """``near[i]``: whether a neighbour of column ``i`` (CSR lists) changed."""
    for i in range(ptr.shape[0] - 1):
        near[i] = False
        for t in range(ptr[i], ptr[i + 1]):
            if changed[idx[t]]:
                near[i] = True
                break


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
    joint_separation: float = JOINT_SEPARATION,
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
    joint_separation : float
        Mutual nearest neighbours closer than this many widths (the larger major
        width of the two) are fitted together, one model of both columns on the union
        of their windows (:mod:`._pairs`); 0 fits every column alone.

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
        if sweeps <= 3:
            # neighbour lists from the first sweeps' positions and widths; later sweeps
            # move columns by far less than the 4 sigma margin of the reach
            if neighbour_reach is None:
                sig = 1.0 / np.sqrt(np.clip(np.minimum(params[:, 4], params[:, 6]), min_prec, None))
                reach = radius + 4.0 * float(np.percentile(sig, 99))
            else:
                reach = float(neighbour_reach)
            ptr, idx = neighbour_lists(params[:, :2], reach)
        if sweeps == 1:
            # mutual nearest neighbours that overlap strongly are fitted together
            pairs = find_pairs(params, ptr, idx, joint_separation, min_prec) if joint_separation > 0 \
                else np.zeros((0, 2), np.int64)
            pairs = pairs[active[pairs[:, 0]] & active[pairs[:, 1]]]
            paired = np.zeros(n, dtype=np.bool_)
            paired[pairs.ravel()] = True
        out = np.empty_like(params)
        ell = bool(elliptical) and not fixed_width
        single = todo & ~paired
        kernel = _sweep if _parallel_pays(int(single.sum())) else _sweep_serial
        kernel(image, params, centres, ptr, idx, float(radius), poisson, ell, bool(fixed_width), int(max_iter),
               float(tol), min_prec, max_prec, float(max_shift), single, out, info)
        if len(pairs):
            kernel = _sweep_pairs if _parallel_pays(2 * len(pairs)) else _sweep_pairs_serial
            kernel(image, params, centres, ptr, idx, pairs, float(radius), poisson, ell, bool(fixed_width),
                   int(max_iter), float(tol), min_prec, max_prec, float(max_shift), todo, out, info)
        # Strongly overlapping neighbours make the Jacobi sweeps oscillate (each column
        # over-corrects for the other's last move): a column whose step reverses
        # direction takes half a step, which removes that mode. Then what changed enough
        # to matter for the neighbours' models (:func:`_sweep_update`).
        step = np.empty_like(params)
        flip = np.empty(n, dtype=np.bool_)
        changed = np.empty(n, dtype=np.bool_)
        _sweep_update(out, params, last_step, todo, float(sweep_tol), step, flip, changed)
        last_step = step
        params = out
        if ptr[-1] == 0:  # no column has a neighbour: every fit is final (windows stay)
            break
        # Windows follow the columns for two sweeps (those that moved off their window
        # centre by more than RECENTRE px), then stay put so that every column's
        # objective is fixed and the sweeps converge to a fixed point.
        recentre = np.zeros(n, dtype=np.bool_)
        if sweeps <= 2:
            off = np.hypot(params[:, 0] - centres[:, 0], params[:, 1] - centres[:, 1])
            recentre = todo & (off > RECENTRE) & np.isfinite(off)
            centres[recentre] = params[recentre, :2]
        # Next sweep (block Jacobi): a column is at its optimum for fixed neighbours and
        # window, so only the neighbours of changed columns, re-centred windows, damped
        # (half) steps and fits stopped by the iteration limit are fitted again.
        near = np.empty(n, dtype=np.bool_)
        _near_changed(ptr, idx, changed, near)
        unfinished = todo & (info[:, 7] == STATUS_MAX_ITER)
        todo = active & (near | recentre | (flip & changed) | unfinished)
        if not todo.any():
            break
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
