"""Batched Gaussian refinement against SciPy references; neighbours; widths; Cramer-Rao bound."""

import math

import numpy as np
import pytest
from scipy.optimize import least_squares, minimize

from hyperspy_symseg.columns import _refine
from hyperspy_symseg.columns._crlb import gaussian_column_crlb

H = W = 41
YY, XX = np.mgrid[:H, :W].astype(float)


def model(p, yy=YY, xx=XX):
    y0, x0, amp, bg, a, b, c = p
    dy, dx = yy - y0, xx - x0
    return bg + amp * np.exp(-0.5 * (a * dy * dy + 2 * b * dy * dx + c * dx * dx))


TRUE = (20.3, 19.6, 30.0, 2.0, 1 / 2.5**2, 0.02, 1 / 2.0**2)


@pytest.fixture(scope="module")
def noisy():
    rng = np.random.default_rng(0)
    return rng.poisson(model(TRUE)).astype(float)


def start(image):
    return _refine.initial_params(np.array([[20.0, 20.0]]), image, 2.2, 2.0)


def window_mask(p0, radius):
    return (YY - p0[0, 0]) ** 2 + (XX - p0[0, 1]) ** 2 <= radius**2


def test_least_squares_equals_scipy(noisy):
    p0 = start(noisy)
    p, info, _ = _refine.fit_columns(noisy, p0, radius=8.0, noise="gaussian")
    m = window_mask(p0, 8.0)
    ref = least_squares(lambda th: (noisy - model(th))[m], p0[0], xtol=1e-15, ftol=1e-15, gtol=1e-15)
    assert info[0, 7] == _refine.STATUS_CONVERGED
    np.testing.assert_allclose(p[0, :2], ref.x[:2], atol=1e-4)
    np.testing.assert_allclose(p[0], ref.x, rtol=1e-4, atol=1e-6)
    # standard errors: s^2 (J^T J)^-1 with s^2 = RSS / (n - p)
    jac = ref.jac
    s2 = np.sum(ref.fun**2) / (m.sum() - 7)
    se = np.sqrt(np.diag(s2 * np.linalg.inv(jac.T @ jac)))
    np.testing.assert_allclose(info[0, :4], se[:4], rtol=1e-3)


def test_poisson_likelihood_equals_scipy(noisy):
    p0 = start(noisy)
    p, info, _ = _refine.fit_columns(noisy, p0, radius=8.0, noise="poisson")
    m = window_mask(p0, 8.0)
    y = noisy[m]

    def nll(th):
        mu = model(th)[m]
        return np.inf if np.any(mu <= 0) else float(np.sum(mu - y * np.log(mu)))

    ref = minimize(nll, p[0] + np.array([0.05, -0.05, 0.3, 0.05, 0.002, 0.001, 0.002]), method="Nelder-Mead",
                   options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 40000, "maxfev": 40000})
    assert nll(p[0]) <= ref.fun + 1e-7
    np.testing.assert_allclose(p[0, :2], ref.x[:2], atol=1e-4)
    # the least-squares and likelihood estimates differ (the test can fail)
    p_ls, _, _ = _refine.fit_columns(noisy, p0, radius=8.0, noise="gaussian")
    assert np.abs(p_ls[0, :2] - p[0, :2]).max() > 1e-3


def test_circular_fit_recovers_noise_free_column():
    truth = (20.4, 19.7, 50.0, 3.0, 1 / 2.2**2, 0.0, 1 / 2.2**2)
    img = model(truth)
    p, info, _ = _refine.fit_columns(img, start(img), radius=8.0, elliptical=False)
    np.testing.assert_allclose(p[0], truth, atol=1e-6)


def test_overlapping_pair_needs_the_neighbour():
    """Two columns 3 sigma apart, windows reaching into each other: with the neighbour
    subtracted the pair is exact; fitted alone each is pulled towards the other."""
    yy, xx = np.mgrid[:40, :48].astype(float)
    pa = (20.2, 21.7, 40.0, 1.0, 0.25, 0.0, 0.25)
    pb = (20.9, 27.6, 25.0, 1.0, 0.25, 0.0, 0.25)
    img = model(pa, yy, xx) + model(pb, yy, xx) - 1.0
    p0 = _refine.initial_params(np.array([[20.0, 22.0], [21.0, 27.0]]), img, 1.8, 1.0)
    p, info, sweeps = _refine.fit_columns(img, p0, radius=6.0, max_sweeps=60, sweep_tol=1e-9)
    np.testing.assert_allclose(p[0, :2], pa[:2], atol=1e-4)
    np.testing.assert_allclose(p[1, :2], pb[:2], atol=1e-4)
    np.testing.assert_allclose(p[:, 2], [pa[2], pb[2]], rtol=1e-4)
    assert sweeps > 1
    alone, _, _ = _refine.fit_columns(img, p0, radius=6.0, neighbour_reach=0.0)
    assert np.abs(alone[0, 1] - pa[1]) > 0.05  # without the neighbour the fit is biased


def test_fixed_columns_are_not_moved():
    img = model(TRUE)
    p0 = start(img)
    p, info, _ = _refine.fit_columns(img, p0, radius=8.0, active=np.array([False]))
    np.testing.assert_array_equal(p, p0)


def test_neighbour_lists_brute_force():
    rng = np.random.default_rng(1)
    pts = rng.uniform(0, 50, (80, 2))
    ptr, idx = _refine.neighbour_lists(pts, 7.5)
    d = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))
    for i in range(len(pts)):
        expected = set(np.flatnonzero((d[i] <= 7.5) & (np.arange(len(pts)) != i)))
        assert set(idx[ptr[i]:ptr[i + 1]].tolist()) == expected


@pytest.mark.parametrize("case", ["uniform", "clustered", "lattice_on_the_reach", "duplicates", "zero_reach",
                                  "one_point", "far_apart", "non_finite"])
def test_neighbour_lists_equal_the_kdtree_reference(case):
    """The grid kernel gives cKDTree.query_pairs' lists exactly (order within a list ascending)."""
    rng = np.random.default_rng(7)
    reach = 7.5
    if case == "uniform":
        pts = rng.uniform(0, 400, (600, 2))
    elif case == "clustered":
        pts = np.concatenate([rng.normal(50, 3, (100, 2)), rng.uniform(0, 2000, (50, 2))])
    elif case == "lattice_on_the_reach":  # neighbours at exactly the reach: included (d <= reach)
        yy, xx = np.mgrid[0:20, 0:20]
        pts = np.column_stack([yy.ravel(), xx.ravel()]).astype(float) * 18.0
        reach = 18.0
    elif case == "duplicates":
        pts = np.repeat(rng.uniform(0, 30, (20, 2)), 3, axis=0)
    elif case == "zero_reach":
        pts = np.repeat(rng.uniform(0, 30, (20, 2)), 2, axis=0)
        reach = 0.0
    elif case == "one_point":
        pts = np.array([[3.0, 4.0]])
    elif case == "far_apart":
        pts = np.array([[0.0, 0.0], [1e6, 1e6], [1e6, 1e6 + 5.0]])
    else:  # refused as by cKDTree
        pts = rng.uniform(0, 50, (30, 2))
        pts[4, 0] = np.nan
        with pytest.raises(ValueError, match="finite"):
            _refine.neighbour_lists(pts, reach)
        return
    ptr, idx = _refine.neighbour_lists(pts, reach)
    ref_ptr, ref_idx = _refine.neighbour_lists_kdtree(pts, reach)
    np.testing.assert_array_equal(ptr, ref_ptr)
    np.testing.assert_array_equal(idx, ref_idx)
    assert ptr.dtype == idx.dtype == np.int64
    if case == "lattice_on_the_reach":  # an inner lattice point has its 4 nearest neighbours
        i = 5 * 20 + 5
        assert idx[ptr[i]:ptr[i + 1]].tolist() == [i - 20, i - 1, i + 1, i + 20]
    if case == "far_apart":
        assert ptr.tolist() == [0, 0, 1, 2] and idx.tolist() == [2, 1]


def test_shape_from_precision_matches_eigendecomposition():
    rng = np.random.default_rng(2)
    for _ in range(20):
        s1, s2 = rng.uniform(1, 4, 2)
        theta = rng.uniform(-89, 89)
        t = math.radians(theta)
        u = np.array([-math.sin(t), math.cos(t)])  # (dy, dx) of the major axis
        v = np.array([math.cos(t), math.sin(t)])
        major, minor = max(s1, s2), min(s1, s2)
        cov = major**2 * np.outer(u, u) + minor**2 * np.outer(v, v)
        prec = np.linalg.inv(cov)
        smaj, smin, ang = _refine.shape_from_precision(prec[0, 0], prec[0, 1], prec[1, 1])
        assert smaj == pytest.approx(major) and smin == pytest.approx(minor)
        assert (ang - theta + 90) % 180 - 90 == pytest.approx(0, abs=1e-6)


def test_crlb_equals_finite_difference_fisher():
    amp, sigma, bg = 40.0, 2.1, 3.0
    got = gaussian_column_crlb(amp, sigma, bg, n_offsets=1)
    g = np.arange(-14, 15, dtype=float)
    yy, xx = np.meshgrid(g, g, indexing="ij")

    def mu(th):
        y0, x0, a, b, s = th
        return b + a * np.exp(-((yy - y0) ** 2 + (xx - x0) ** 2) / (2 * s * s))

    th = np.array([0.0, 0.0, amp, bg, sigma])
    eps = 1e-6
    jac = np.stack([(mu(th + eps * e) - mu(th - eps * e)).ravel() / (2 * eps) for e in np.eye(5)], axis=1)
    fisher = jac.T @ (jac / mu(th).ravel()[:, None])
    var = np.diag(np.linalg.inv(fisher))
    assert got["position"] == pytest.approx(math.sqrt(var[0]), rel=1e-5)
    assert got["amplitude"] == pytest.approx(math.sqrt(var[2]), rel=1e-5)
    # the textbook limit: no background, only the position unknown -> sigma / sqrt(2 pi A)... with
    # all nuisance parameters free the bound is larger
    assert got["position"] > 1.0 / math.sqrt(2 * math.pi * amp)


def test_crlb_bad_input():
    with pytest.raises(ValueError, match="sigma must be a finite number > 0"):
        gaussian_column_crlb(10.0, 0.0)
    with pytest.raises(ValueError, match="background must be a finite number >= 0"):
        gaussian_column_crlb(10.0, 2.0, -1.0)


def test_fixed_width_equals_scipy(noisy):
    """The second-chance fit: circular width held at the start value, 4 free parameters."""
    p0 = start(noisy)
    p0[0, 4] = p0[0, 6] = 1 / 2.3**2
    p0[0, 5] = 0.0
    p, info, _ = _refine.fit_columns(noisy, p0, radius=8.0, noise="gaussian", fixed_width=True, elliptical=False)
    assert p[0, 4] == p0[0, 4] and p[0, 6] == p0[0, 6] and p[0, 5] == 0.0
    m = window_mask(p0, 8.0)

    def res(th):
        return (noisy - model((th[0], th[1], th[2], th[3], p0[0, 4], 0.0, p0[0, 4])))[m]

    ref = least_squares(res, p0[0, :4], xtol=1e-15, ftol=1e-15, gtol=1e-15)
    np.testing.assert_allclose(p[0, :4], ref.x, atol=1e-5)
    s2 = np.sum(ref.fun**2) / (m.sum() - 4)
    se = np.sqrt(np.diag(s2 * np.linalg.inv(ref.jac.T @ ref.jac)))
    np.testing.assert_allclose(info[0, :4], se, rtol=1e-3)


def _pair_image(sep_sigma, s=2.0, seed=None):
    yy, xx = np.mgrid[:40, :48].astype(float)
    dx = np.sqrt((sep_sigma * s) ** 2 - 0.09)
    pa = (20.2, 21.7, 40.0, 1.0, 1 / (1.1 * s) ** 2, 0.01, 1 / s**2)  # one (elliptical) probe for both
    pb = (20.5, 21.7 + dx, 25.0, 1.0, 1 / (1.1 * s) ** 2, 0.01, 1 / s**2)
    img = model(pa, yy, xx) + model(pb, yy, xx) - 1.0
    if seed is not None:
        img = np.random.default_rng(seed).poisson(img).astype(float)
    return img, pa, pb, yy, xx


@pytest.mark.parametrize("sep_sigma", [2.5, 2.0, 1.5])
def test_overlapping_pair_below_2_5_sigma_is_fitted_jointly_and_exactly(sep_sigma):
    """Jacobi sweeps with the neighbour subtracted stall below ~2.5 sigma (0.1-0.3 px off);
    the joint fit of the pair recovers both columns of a noise-free pair exactly."""
    img, pa, pb, _, _ = _pair_image(sep_sigma)
    p0 = _refine.initial_params(np.array([[pa[0] - 0.3, pa[1] - 0.3], [pb[0] + 0.3, pb[1] + 0.3]]), img, 1.8, 1.0)
    ptr, idx = _refine.neighbour_lists(p0[:, :2], 20.0)
    np.testing.assert_array_equal(_refine.find_pairs(p0, ptr, idx), [[0, 1]])
    p, info, _ = _refine.fit_columns(img, p0, radius=6.0, max_sweeps=8, sweep_tol=5e-4, tol=1e-5)
    np.testing.assert_allclose(p[0], pa, atol=1e-6)
    np.testing.assert_allclose(p[1], pb, atol=1e-6)
    assert np.all(info[:, 7] == _refine.STATUS_CONVERGED)
    jacobi, _, _ = _refine.fit_columns(img, p0, radius=6.0, max_sweeps=8, sweep_tol=5e-4, tol=1e-5,
                                       joint_separation=0.0)
    assert np.abs(jacobi[:, :2] - np.array([pa[:2], pb[:2]])).max() > 0.03


def test_joint_pair_fit_equals_scipy_least_squares():
    """Brute-force reference: SciPy least squares of the two-Gaussian model (one shared
    shape and background) on the union of the two windows, noisy counts, 2 sigma apart."""
    img, pa, pb, yy, xx = _pair_image(2.0, seed=3)

    def resid(th, mask):
        a = (th[0], th[1], th[2], th[9], th[6], th[7], th[8])
        b = (th[3], th[4], th[5], 0.0, th[6], th[7], th[8])
        return (img - model(a, yy, xx) - model(b, yy, xx))[mask]

    def union(c):
        return ((yy - c[0, 0]) ** 2 + (xx - c[0, 1]) ** 2 <= 36.0) | ((yy - c[1, 0]) ** 2 + (xx - c[1, 1]) ** 2 <= 36.0)

    # parameters (y1, x1, A1, y2, x2, A2, a, b, c, B): one shape for both columns
    th_true = np.r_[np.array(pa)[[0, 1, 2]], np.array(pb)[[0, 1, 2]], np.array(pa)[[4, 5, 6]], pa[3]]
    first = least_squares(resid, th_true, args=(union(np.array([pa[:2], pb[:2]])),))
    # our windows are centred on the starts: start at SciPy's optimum, so they stay put
    starts = first.x[[0, 1, 3, 4]].reshape(2, 2)
    mask = union(starts)
    p0 = _refine.initial_params(starts, img, 2.0, 1.0)
    p, info, _ = _refine.fit_columns(img, p0, radius=6.0, noise="gaussian", max_sweeps=8, tol=1e-9,
                                     sweep_tol=1e-9)
    th0 = np.r_[p0[0, [0, 1, 2]], p0[1, [0, 1, 2]], p0[0, [4, 5, 6]], p0[0, 3]]
    ref = least_squares(resid, th0, args=(mask,), xtol=1e-15, ftol=1e-15, gtol=1e-15)
    np.testing.assert_allclose(p[0, :2], ref.x[:2], atol=1e-4)
    np.testing.assert_allclose(p[1, :2], ref.x[3:5], atol=1e-4)
    np.testing.assert_allclose(p[:, 2], ref.x[[2, 5]], rtol=1e-4)
    np.testing.assert_allclose(p[:, 3], ref.x[9], rtol=1e-4)
    np.testing.assert_allclose(p[0, 4:], ref.x[6:9], rtol=1e-4)
    np.testing.assert_allclose(p[1, 4:], ref.x[6:9], rtol=1e-4)
    # standard errors: s^2 (J^T J)^-1
    s2 = np.sum(ref.fun**2) / (mask.sum() - 10)
    cov = s2 * np.linalg.inv(ref.jac.T @ ref.jac)
    np.testing.assert_allclose(info[0, :2], np.sqrt(np.diag(cov)[:2]), rtol=1e-3)
    np.testing.assert_allclose(info[1, :2], np.sqrt(np.diag(cov)[3:5]), rtol=1e-3)


def test_find_pairs_brute_force():
    rng = np.random.default_rng(4)
    pts = rng.uniform(0, 60, (120, 2))
    params = _refine.initial_params(pts, np.ones((64, 64)), 2.0, 0.0)
    ptr, idx = _refine.neighbour_lists(pts, 12.0)
    got = {tuple(r) for r in _refine.find_pairs(params, ptr, idx, 3.5)}
    d = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    nn = d.argmin(1)
    want = {(i, int(nn[i])) for i in range(len(pts)) if nn[nn[i]] == i and i < nn[i] and d[i, nn[i]] < 7.0}
    assert got == want and len(want) > 3


def _find_pairs_numpy(params, ptr, idx, separation=_refine.JOINT_SEPARATION, min_prec=0.0):
    """The NumPy form of find_pairs (nearest neighbour by a lexsort), the reference of its numba kernel."""
    n = len(params)
    if n < 2 or len(idx) == 0:
        return np.zeros((0, 2), np.int64)
    sig = 1.0 / np.sqrt(np.clip(np.minimum(params[:, 4], params[:, 6]), max(min_prec, 1e-300), None))
    owner = np.repeat(np.arange(n), np.diff(ptr))
    dist = np.hypot(params[owner, 0] - params[idx, 0], params[owner, 1] - params[idx, 1])
    dist = np.where(np.isfinite(dist), dist, np.inf)
    nearest = np.full(n, -1, np.int64)
    best = np.full(n, np.inf)
    order = np.lexsort((idx, dist, owner))
    first = np.ones(len(order), bool)
    first[1:] = owner[order][1:] != owner[order][:-1]
    sel = order[first]
    nearest[owner[sel]] = idx[sel]
    best[owner[sel]] = dist[sel]
    a = np.arange(n)
    mutual = (nearest >= 0) & (nearest[np.clip(nearest, 0, None)] == a) & (a < nearest)
    close = best < separation * np.maximum(sig, sig[np.clip(nearest, 0, None)])
    keep = np.flatnonzero(mutual & close)
    return np.column_stack([keep, nearest[keep]]).astype(np.int64), nearest, best


@pytest.mark.parametrize("case", ["random", "ties", "non_finite"])
def test_nearest_in_lists_equals_the_lexsort_reference(case):
    from hyperspy_symseg.columns import _pairs

    rng = np.random.default_rng(11)
    if case == "ties":  # a square lattice: four neighbours at one distance, the lowest index wins
        yy, xx = np.mgrid[0:12, 0:12]
        pts = np.column_stack([yy.ravel(), xx.ravel()]).astype(float) * 3.0
        pts[::7] += 0.4
    else:
        pts = rng.uniform(0, 80, (300, 2))
    params = _refine.initial_params(pts, np.ones((90, 90)), 2.0, 0.0)
    params[:, 4] = params[:, 6] = 1.0 / rng.uniform(1.0, 3.0, len(pts)) ** 2
    ptr, idx = _refine.neighbour_lists(pts, 9.0)
    if case == "non_finite":  # a failed fit's position (the lists were made before)
        params[[5, 17], 0] = [np.nan, np.inf]
    want, nearest, best = _find_pairs_numpy(params, ptr, idx, 3.5)
    got_nearest = np.full(len(pts), -1, np.int64)
    got_best = np.full(len(pts), np.inf)
    _pairs._nearest_in_lists(np.ascontiguousarray(params[:, :2]), ptr, idx, got_nearest, got_best)
    np.testing.assert_array_equal(got_nearest, nearest)
    np.testing.assert_array_equal(got_best, best)
    got = _refine.find_pairs(params, ptr, idx, 3.5)
    np.testing.assert_array_equal(got, want)
    assert len(want) >= 3


def _sweep_update_numpy(out, params, last_step, todo, sweep_tol):
    """The NumPy form of a sweep's bookkeeping (fit_columns before _sweep_update): the reference."""
    out = out.copy()
    step = out - params
    flip = np.einsum("ij,ij->i", step[:, :2], last_step[:, :2]) < 0
    if flip.any():
        out[flip] = params[flip] + 0.5 * step[flip]
        step[flip] *= 0.5
    moved = np.abs(out[:, :2] - params[:, :2]).max(axis=1)
    amp_scale = np.abs(params[:, 2]) + 1e-12
    prec_scale = np.maximum(np.abs(params[:, 4]), np.abs(params[:, 6])) + 1e-12
    with np.errstate(invalid="ignore"):
        rel = np.maximum(
            np.abs(out[:, 2:4] - params[:, 2:4]).max(axis=1) / amp_scale,
            np.abs(out[:, 4:7] - params[:, 4:7]).max(axis=1) / prec_scale,
        )
    changed = todo & ((moved >= sweep_tol) | (rel >= sweep_tol))
    changed &= np.isfinite(moved)
    return out, step, flip, changed


def test_sweep_update_equals_the_numpy_reference():
    rng = np.random.default_rng(21)
    n = 4000
    params = np.column_stack([rng.uniform(0, 300, (n, 2)), rng.uniform(10, 100, n), rng.normal(0, 5, n),
                              rng.uniform(0.05, 0.5, n), rng.normal(0, 0.02, n), rng.uniform(0.05, 0.5, n)])
    scale = 10.0 ** rng.uniform(-6, -1, (n, 1))  # steps from far below to far above the tolerance
    out = params + rng.normal(0, 1, (n, 7)) * scale * np.abs(params).clip(1e-3, None)
    same = rng.random(n) < 0.2  # not fitted: out == params
    out[same] = params[same]
    last_step = rng.normal(0, 1, (n, 7)) * scale
    last_step[rng.random(n) < 0.1] = 0.0
    bad = rng.choice(n, 40, replace=False)  # failed fits: NaN / inf anywhere
    out[bad[:10], 0] = np.nan
    out[bad[10:20], 3] = np.nan
    out[bad[20:30], 5] = np.inf
    params[bad[30:], 2] = np.nan
    todo = rng.random(n) < 0.8
    want_out, want_step, want_flip, want_changed = _sweep_update_numpy(out, params, last_step, todo, 5e-4)
    got_out, step = out.copy(), np.empty_like(out)
    flip, changed = np.empty(n, bool), np.empty(n, bool)
    _refine._sweep_update(got_out, params, last_step, todo, 5e-4, step, flip, changed)
    np.testing.assert_array_equal(got_out, want_out)
    np.testing.assert_array_equal(step, want_step)
    np.testing.assert_array_equal(flip, want_flip)
    np.testing.assert_array_equal(changed, want_changed)
    assert 0.1 * n < flip.sum() < 0.9 * n and 0.1 * n < changed.sum() < 0.9 * n  # both outcomes, often


def test_near_changed_equals_the_numpy_reference():
    rng = np.random.default_rng(22)
    pts = rng.uniform(0, 200, (500, 2))
    ptr, idx = _refine.neighbour_lists(pts, 12.0)
    changed = rng.random(500) < 0.05
    owner = np.repeat(np.arange(500), np.diff(ptr))
    want = np.zeros(500, bool)
    want[owner[changed[idx]]] = True
    near = np.ones(500, bool)
    _refine._near_changed(ptr, idx, changed, near)
    np.testing.assert_array_equal(near, want)
    assert 0 < near.sum() < 500
