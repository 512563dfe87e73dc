"""The per-pixel objective shared by the one- and two-column fits, against NumPy references."""

import math

import numba
import numpy as np
import pytest

from hyperspy_symseg.columns import _lm, _pairs

RNG = np.random.default_rng(3)
YY, XX = np.mgrid[:15, :15].astype(float)
PY, PX = YY.ravel().copy(), XX.ravel().copy()
N = PY.size
P1 = np.array([7.2, 6.6, 20.0, 3.0, 1 / 2.1**2, 0.03, 1 / 1.8**2])
P2 = np.array([7.9, 9.4, 12.0, 3.0, 1 / 2.1**2, 0.03, 1 / 1.8**2])
NB = 0.5 * np.exp(-0.5 * ((PY - 1.0) ** 2 + (PX - 13.0) ** 2) / 4.0)


def gauss(p):
    dy, dx = PY - p[0], PX - p[1]
    return p[2] * np.exp(-0.5 * (p[4] * dy * dy + 2 * p[5] * dy * dx + p[6] * dx * dx))


VALS = RNG.poisson(NB + P1[3] + gauss(P1) + gauss(P2)).astype(float)


@numba.njit
def _pixel_cost_py(y, mu, poisson):
    out = np.empty((len(y), 3))
    for k in range(len(y)):
        ok, term, w = _lm._pixel_cost(y[k], mu[k], poisson)
        out[k, 0], out[k, 1], out[k, 2] = ok, term, w
    return out


@pytest.mark.parametrize("poisson", [True, False])
def test_pixel_cost_equals_numpy(poisson):
    y = np.array([0.0, 3.0, 17.0, 2.0, 5.0])
    mu = np.array([0.4, 2.5, 20.0, 1e-13, -1.0])
    got = _pixel_cost_py(y, mu, poisson)
    if poisson:
        ok = mu > 1e-12
        np.testing.assert_array_equal(got[:, 0], ok)
        np.testing.assert_array_equal(got[ok, 1], mu[ok] - y[ok] * np.log(mu[ok]))
        np.testing.assert_array_equal(got[ok, 2], 1.0 / mu[ok])
        assert np.all(np.isinf(got[~ok, 1]))
    else:
        np.testing.assert_array_equal(got[:, 0], 1.0)
        np.testing.assert_array_equal(got[:, 1], (y - mu) ** 2)
        np.testing.assert_array_equal(got[:, 2], 1.0)


def _jacobian(f, theta, h=1e-6):
    cols = []
    for i in range(len(theta)):
        tp, tm = theta.copy(), theta.copy()
        step = h * max(1.0, abs(theta[i]))
        tp[i] += step
        tm[i] -= step
        cols.append((f(tp) - f(tm)) / (2 * step))
    return np.array(cols).T


@pytest.mark.parametrize("poisson", [True, False])
def test_single_column_cost_and_normal_equations_equal_numpy(poisson):
    h, g, d = np.zeros((7, 7)), np.zeros(7), np.zeros(7)
    cost, chi2 = _lm._cost_and_normal(PY, PX, VALS, NB, N, P1, poisson, True, 7, h, g, True, d)
    mu = NB + P1[3] + gauss(P1)
    w = 1.0 / mu if poisson else np.ones(N)
    ref_cost = np.sum(mu - VALS * np.log(mu)) if poisson else np.sum((VALS - mu) ** 2)
    assert cost == pytest.approx(ref_cost, rel=1e-13)
    assert chi2 == pytest.approx(np.sum(w * (VALS - mu) ** 2), rel=1e-13)
    jac = _jacobian(lambda t: NB + t[3] + gauss(t), P1.copy())
    np.testing.assert_allclose(h, jac.T @ (w[:, None] * jac), rtol=1e-6, atol=1e-8 * np.abs(h).max())
    np.testing.assert_allclose(g, jac.T @ (w * (VALS - mu)), rtol=1e-6, atol=1e-8 * np.abs(g).max())


@pytest.mark.parametrize("poisson", [True, False])
def test_pair_cost_equals_numpy_and_the_single_column_cost_bit_for_bit(poisson):
    npar = 10
    h, g, d = np.zeros((npar, npar)), np.zeros(npar), np.zeros(npar)
    cost2, chi2 = _pairs._cost_normal2(PY, PX, VALS, NB, N, P1, P2, poisson, True, False, npar, h, g, d)
    mu = NB + P1[3] + gauss(P1) + gauss(P2)
    ref = np.sum(mu - VALS * np.log(mu)) if poisson else np.sum((VALS - mu) ** 2)
    assert cost2 == pytest.approx(ref, rel=1e-13)
    w = 1.0 / mu if poisson else np.ones(N)
    assert chi2 == pytest.approx(np.sum(w * (VALS - mu) ** 2), rel=1e-13)
    # a second column of zero amplitude: the pair model is the single-column model
    zero = P2.copy()
    zero[2] = 0.0
    c_pair, chi_pair = _pairs._cost_normal2(PY, PX, VALS, NB, N, P1, zero, poisson, True, False, npar, h, g, d)
    c_one, chi_one = _lm._cost_and_normal(PY, PX, VALS, NB, N, P1, poisson, True, 7, np.zeros((7, 7)), np.zeros(7),
                                          False, np.zeros(7))
    assert c_pair == c_one
    assert chi_pair == chi_one


def test_poisson_cost_is_infinite_where_the_mean_is_not_positive():
    p = P1.copy()
    p[3] = -50.0  # background far below zero: the mean is negative away from the column
    h, g, d = np.zeros((7, 7)), np.zeros(7), np.zeros(7)
    assert _lm._cost_and_normal(PY, PX, VALS, NB, N, p, True, True, 7, h, g, True, d) == (math.inf, math.inf)
    h2, g2, d2 = np.zeros((10, 10)), np.zeros(10), np.zeros(10)
    q = P2.copy()
    q[3] = -50.0
    assert _pairs._cost_normal2(PY, PX, VALS, NB, N, p, q, True, True, False, 10, h2, g2, d2) == (math.inf, math.inf)
    # least squares has no such limit
    c, _ = _lm._cost_and_normal(PY, PX, VALS, NB, N, p, False, True, 7, h, g, True, d)
    mu = NB + p[3] + gauss(p)
    assert c == pytest.approx(np.sum((VALS - mu) ** 2), rel=1e-13)
