"""Linear unmixing: N-FINDR endmembers and (fully constrained) NNLS abundances.

Every sample (a descriptor vector, a spectrum) is modelled as a non-negative mixture
of a few *endmembers*, ``x = sum_k a_k e_k + noise`` with ``a_k >= 0`` and, for the
"physics" constraint of spectral unmixing, ``sum_k a_k = 1``. With the sliding-window
power spectra of :mod:`hyperspy_symseg.descriptors.power_spectrum` this segments an
image into phases with a fraction map per phase (Vasudevan et al. 2020, AI for
atoms workshop; Borodinov et al. 2020).

* :func:`nfindr` (Winter 1999): the endmembers are the ``p`` samples spanning the
  simplex of largest volume in the ``p - 1`` leading principal components.
* :func:`abundances`: exact least-squares abundances with ``a >= 0`` (NNLS) and
  optionally ``sum a = 1`` (FCLS), by an active-set method per sample in numba.
* :class:`NFINDR`: both as a scikit-learn style estimator, for HyperSpy's
  ``decomposition(algorithm=NFINDR(n))`` (factors = endmembers, loadings = abundances).

NumPy and numba only; no HyperSpy.
"""

from __future__ import annotations

import numbers

import numba
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from . import _validation as check
from ._threading import serialised

__all__ = ["NFINDR", "abundances", "nfindr"]

#: Rows processed at once when streaming over a (samples, features) array.
_CHUNK_ROWS = 65536

#: Samples handled by one task of the active-set kernel.
_KERNEL_BLOCK = 1024


def _as_samples(X, name: str = "X") -> np.ndarray:
    return check.check_samples(X, name)


# ------------------------------------------------------------------------ N-FINDR


def _principal_coordinates(X: np.ndarray, n_dims: int) -> np.ndarray:
    """(n_samples, n_dims) float64 coordinates along the leading principal axes."""
    n_samples, n_features = X.shape
    shift = X[:: max(1, n_samples // 4096)].mean(axis=0, dtype=np.float64)
    total = np.zeros(n_features)
    cov = np.zeros((n_features, n_features))
    for start in range(0, n_samples, _CHUNK_ROWS):
        c = X[start : start + _CHUNK_ROWS].astype(np.float64) - shift
        total += c.sum(axis=0)
        cov += c.T @ c
    delta = total / n_samples
    cov = cov / n_samples - np.outer(delta, delta)
    variance, axes = np.linalg.eigh(cov)
    axes = axes[:, np.argsort(variance)[::-1][:n_dims]]
    mean = shift + delta
    out = np.empty((n_samples, n_dims))
    for start in range(0, n_samples, _CHUNK_ROWS):
        out[start : start + _CHUNK_ROWS] = (X[start : start + _CHUNK_ROWS].astype(np.float64) - mean) @ axes
    return out


def _cofactors(E: np.ndarray, j: int) -> np.ndarray:
    """Cofactors of column ``j`` of the square matrix ``E``: ``det`` with column ``j``
    replaced by ``v`` is ``cofactors @ v`` (valid for singular ``E`` too)."""
    p = E.shape[0]
    if p == 1:
        return np.ones(1)
    others = np.delete(E, j, axis=1)
    minors = np.stack([np.delete(others, i, axis=0) for i in range(p)])
    signs = (-1.0) ** (np.arange(p) + j)
    return signs * np.linalg.det(minors)


def _greedy_start(Y: np.ndarray, p: int) -> np.ndarray:
    """Affinely independent start: the sample farthest from the mean, then repeatedly
    the sample farthest from the affine hull of those chosen (Gram-Schmidt)."""
    first = int(np.argmax(np.einsum("ij,ij->i", Y, Y)))
    chosen = [first]
    residual = Y - Y[first]
    for _ in range(1, p):
        k = int(np.argmax(np.einsum("ij,ij->i", residual, residual)))
        chosen.append(k)
        direction = residual[k] / max(np.linalg.norm(residual[k]), 1e-300)
        residual = residual - np.outer(residual @ direction, direction)
    return np.array(chosen, dtype=np.int64)


def nfindr(X, n_endmembers: int, random_state=None, max_iter: int = 100) -> np.ndarray:
    """Indices of the samples spanning the simplex of largest volume (N-FINDR).

    The samples are reduced to their ``p - 1`` leading principal components
    (``p = n_endmembers``); the volume of the simplex of samples ``e_1 .. e_p`` is
    proportional to ``|det E|`` with ``E = [[1, ..., 1], [e_1, ..., e_p]]`` (p x p).
    Winter's iterative replacement: starting from ``p`` random samples, each endmember
    position in turn is given the sample that maximises the volume when it replaces
    that endmember, until a full pass changes nothing. Replacing column ``j`` of ``E``
    by ``[1, y]`` gives ``det = c_j . [1, y]`` with ``c_j`` the cofactors of column
    ``j``, so trying every sample is one matrix-vector product, and keeping the best
    equals trying the samples one by one and keeping every increase. If the random
    start is degenerate (zero volume), the greedy farthest-point start is used.

    Parameters
    ----------
    X : (n_samples, n_features) array
        Samples (float or integer); not modified.
    n_endmembers : int
        Number of endmembers ``p`` (>= 1, <= n_samples, and at most
        ``n_features + 1``). For ``p = 1`` the sample nearest the mean is returned.
    random_state : int, numpy.random.Generator or None
        Seed of the random start; the same seed gives the same endmembers.
    max_iter : int
        Maximum number of passes over the endmember positions.

    Returns
    -------
    (n_endmembers,) int64 ndarray
        Sample indices of the endmembers, in increasing order.
    """
    X = _as_samples(X)
    n_samples, n_features = X.shape
    p = check.check_int("n_endmembers", n_endmembers, 1, n_samples)
    if p - 1 > n_features:
        raise ValueError(
            f"n_endmembers must be at most n_features + 1 = {n_features + 1} (a simplex of p points "
            f"spans p - 1 dimensions); got {p}."
        )
    max_iter = check.check_int("max_iter", max_iter, 1)
    random_state = check.check_random_state(random_state)
    if p == 1:
        mean = X.mean(axis=0, dtype=np.float64)
        d = np.einsum("ij,ij->i", X - mean, X - mean)
        return np.array([int(np.argmin(d))], dtype=np.int64)
    Y = _principal_coordinates(X, p - 1)
    rng = np.random.default_rng(random_state)
    idx = rng.choice(n_samples, size=p, replace=False).astype(np.int64)

    def matrix(indices):
        return np.vstack([np.ones(p), Y[indices].T])

    scale = float(np.abs(Y).max()) or 1.0
    tiny = 1e-12 * scale ** (p - 1)
    volume = abs(np.linalg.det(matrix(idx)))
    if volume <= tiny:
        idx = _greedy_start(Y, p)
        volume = abs(np.linalg.det(matrix(idx)))
    for _ in range(max_iter):
        changed = False
        for j in range(p):
            c = _cofactors(matrix(idx), j)
            scores = np.abs(Y @ c[1:] + c[0])
            best = int(np.argmax(scores))
            if scores[best] > volume * (1.0 + 1e-10) and best not in idx:
                idx[j] = best
                volume = abs(np.linalg.det(matrix(idx)))
                changed = True
        if not changed:
            break
    if volume <= tiny:
        raise ValueError(
            f"The samples span fewer than n_endmembers - 1 = {p - 1} dimensions; use fewer endmembers."
        )
    return np.sort(idx)


# --------------------------------------------------------------------- abundances


@numba.njit(cache=True, nogil=True)
def _solve_free(G, b, free, sum_to_one, idx, M, u, v, s):
    """Least squares on the free set: ``s_F`` minimising ``s G s - 2 b s`` over the
    free coordinates (others 0), with ``sum s = 1`` if ``sum_to_one``. Cholesky of
    ``G_FF`` (a tiny ridge keeps it positive definite). ``s`` is written in place."""
    p = G.shape[0]
    k = 0
    for i in range(p):
        if free[i]:
            idx[k] = i
            k += 1
    ridge = 0.0
    for a in range(k):
        ridge = max(ridge, G[idx[a], idx[a]])
    ridge *= 1e-13
    for a in range(k):
        for c in range(a + 1):
            acc = G[idx[a], idx[c]]
            for t in range(c):
                acc -= M[a, t] * M[c, t]
            if a == c:
                M[a, a] = np.sqrt(max(acc, ridge))
            else:
                M[a, c] = acc / M[c, c]
    # Solve M M^T u = b_F and M M^T v = 1.
    for a in range(k):
        accu = b[idx[a]]
        accv = 1.0
        for t in range(a):
            accu -= M[a, t] * u[t]
            accv -= M[a, t] * v[t]
        u[a] = accu / M[a, a]
        v[a] = accv / M[a, a]
    for a in range(k - 1, -1, -1):
        accu = u[a]
        accv = v[a]
        for t in range(a + 1, k):
            accu -= M[t, a] * u[t]
            accv -= M[t, a] * v[t]
        u[a] = accu / M[a, a]
        v[a] = accv / M[a, a]
    lam = 0.0
    if sum_to_one:
        su = 0.0
        sv = 0.0
        for a in range(k):
            su += u[a]
            sv += v[a]
        lam = (su - 1.0) / sv
    for i in range(p):
        s[i] = 0.0
    for a in range(k):
        s[idx[a]] = u[a] - lam * v[a]


@numba.njit(cache=True, nogil=True)
def _active_set(G, b, sum_to_one, a, free, g, s, idx, M, u, v):
    """Lawson-Hanson active set for ``min a G a - 2 b a``, ``a >= 0`` (``sum a = 1``).

    Without the sum constraint this is NNLS in normal-equation form, started from
    ``a = 0``; with it, the equality enters the KKT system of every free-set solve
    and the start is the best single endmember (a feasible vertex). ``a`` is written
    in place.
    """
    p = G.shape[0]
    scale = 0.0
    for i in range(p):
        scale = max(scale, G[i, i], abs(b[i]))
    tol = 1e-11 * scale
    for i in range(p):
        a[i] = 0.0
        free[i] = False
    if sum_to_one:
        best = 0
        best_f = np.inf
        for i in range(p):
            f = G[i, i] - 2.0 * b[i]
            if f < best_f:
                best_f = f
                best = i
        a[best] = 1.0
        free[best] = True
    for _ in range(3 * p + 10):
        # Gradient (halved) g = G a - b; with the sum constraint its multiplier makes
        # g_i + lam = 0 on the free set.
        n_free = 0
        lam = 0.0
        for i in range(p):
            acc = -b[i]
            for t in range(p):
                acc += G[i, t] * a[t]
            g[i] = acc
            if free[i]:
                lam -= acc
                n_free += 1
        if sum_to_one and n_free > 0:
            lam /= n_free
        else:
            lam = 0.0
        j = -1
        worst = -tol
        for i in range(p):
            if not free[i] and g[i] + lam < worst:
                worst = g[i] + lam
                j = i
        if j < 0:
            break  # KKT conditions hold
        free[j] = True
        first = True
        for _inner in range(p + 1):
            _solve_free(G, b, free, sum_to_one, idx, M, u, v, s)
            if first and s[j] <= 0.0:
                # Numerically no descent along the new coordinate: converged.
                free[j] = False
                j = -2
                break
            first = False
            feasible = True
            for i in range(p):
                if free[i] and s[i] <= 0.0:
                    feasible = False
            if feasible:
                for i in range(p):
                    a[i] = s[i]
                break
            alpha = 1.0
            for i in range(p):
                if free[i] and s[i] <= 0.0:
                    alpha = min(alpha, a[i] / (a[i] - s[i]))
            for i in range(p):
                a[i] += alpha * (s[i] - a[i])
            for i in range(p):
                if free[i] and a[i] <= 1e-15 * (1.0 + abs(s[i])):
                    free[i] = False
                    a[i] = 0.0
        if j == -2:
            break


@serialised
@numba.njit(cache=True, nogil=True, parallel=True)
def _abundances_kernel(G, B, rows, sum_to_one, out):
    """Active-set abundances of the samples ``rows`` (their ``B = X E^T`` rows)."""
    p = G.shape[0]
    n = rows.shape[0]
    n_blocks = (n + _KERNEL_BLOCK - 1) // _KERNEL_BLOCK
    for blk in numba.prange(n_blocks):
        a = np.empty(p)
        free = np.zeros(p, dtype=np.bool_)
        g = np.empty(p)
        s = np.empty(p)
        idx = np.empty(p, dtype=np.int64)
        M = np.empty((p, p))
        u = np.empty(p)
        v = np.empty(p)
        for r in range(blk * _KERNEL_BLOCK, min(n, (blk + 1) * _KERNEL_BLOCK)):
            row = rows[r]
            _active_set(G, B[row], sum_to_one, a, free, g, s, idx, M, u, v)
            for i in range(p):
                out[row, i] = a[i]


def abundances(X, endmembers, sum_to_one: bool = True) -> np.ndarray:
    """Non-negative least-squares abundances of every sample.

    For each sample ``x`` the abundances ``a`` minimise ``||x - a @ endmembers||^2``
    subject to ``a >= 0`` (NNLS) and, if ``sum_to_one``, ``sum(a) = 1`` (fully
    constrained least squares, FCLS). Exact: per sample, a Lawson-Hanson active-set
    method on the normal equations (``G = E E^T``, ``b = E x``), the sum constraint
    solved with the free-set system (its Lagrange multiplier), not approximated by a
    heavily weighted row of ones. Samples whose unconstrained (or sum-constrained)
    solution is already non-negative take a vectorized shortcut.

    Parameters
    ----------
    X : (n_samples, n_features) array
    endmembers : (n_endmembers, n_features) array
        Endmember spectra (rows); linearly independent for NNLS, affinely independent
        for FCLS (a tiny ridge regularises nearly dependent ones).
    sum_to_one : bool

    Returns
    -------
    (n_samples, n_endmembers) float64 ndarray, >= 0 (rows sum to 1 if ``sum_to_one``).
    """
    X = _as_samples(X)
    E = np.asarray(endmembers, dtype=np.float64)
    if E.ndim != 2 or E.shape[1] != X.shape[1] or len(E) < 1:
        raise ValueError(
            f"endmembers must be an (n_endmembers, n_features) array with n_features = {X.shape[1]}, "
            f"got shape {E.shape}."
        )
    if not np.isfinite(E).all():
        raise ValueError("endmembers contain NaN or infinite values.")
    if not isinstance(sum_to_one, (bool, np.bool_)):
        raise TypeError(f"sum_to_one must be True or False, got {sum_to_one!r}.")
    sum_to_one = bool(sum_to_one)
    n, p = len(X), len(E)
    G = E @ E.T
    B = np.empty((n, p))
    for start in range(0, n, _CHUNK_ROWS):
        B[start : start + _CHUNK_ROWS] = X[start : start + _CHUNK_ROWS].astype(np.float64) @ E.T
    # Shortcut: the solution with every endmember free, accepted where it is >= 0.
    # With a well-conditioned G it equals the active-set result there.
    out = np.zeros((n, p))
    singular_values = np.linalg.svd(G, compute_uv=False)
    if singular_values[-1] > 1e-8 * singular_values[0]:
        ginv = np.linalg.inv(G)
        ginv = 0.5 * (ginv + ginv.T)
        out = B @ ginv
        if sum_to_one:
            w = ginv.sum(axis=0)
            lam = (out.sum(axis=1) - 1.0) / w.sum()
            out -= lam[:, None] * w
        todo = np.flatnonzero((out < 0).any(axis=1))
    else:
        todo = np.arange(n)
    if len(todo):
        _abundances_kernel(G, B, todo.astype(np.int64), sum_to_one, out)
    return out


# ---------------------------------------------------------------------- estimator


class NFINDR(TransformerMixin, BaseEstimator):
    """N-FINDR endmembers and NNLS / FCLS abundances as a scikit-learn estimator.

    For HyperSpy: ``s.decomposition(algorithm=NFINDR(3))`` stores the endmembers as
    factors (``components_.T``) and the abundance maps as loadings
    (``fit_transform(X)``); see ``s.get_decomposition_loadings()``. Unlike PCA there
    is no mean and no explained variance: the model is ``X ~ A @ components_``.

    Parameters
    ----------
    n_components : int
        Number of endmembers (>= 1).
    random_state : int, numpy.random.Generator or None
        Seed of N-FINDR's random start.
    sum_to_one : bool
        Abundances constrained to sum to one (FCLS) or only non-negative (NNLS).
    max_iter : int
        Maximum number of N-FINDR passes.

    Attributes
    ----------
    components_ : (n_components, n_features) float64 ndarray
        The endmember spectra (samples of the fitted data).
    endmember_indices_ : (n_components,) int64 ndarray
        Their sample indices in the fitted data.
    n_components_ : int
    """

    def __init__(self, n_components: int = 3, random_state=None, sum_to_one: bool = True, max_iter: int = 100):
        self.n_components = n_components
        self.random_state = random_state
        self.sum_to_one = sum_to_one
        self.max_iter = max_iter

    def fit(self, X, y=None):
        X = _as_samples(X)
        if isinstance(self.n_components, numbers.Integral) and not isinstance(self.n_components, bool):
            n = int(self.n_components)
        else:
            raise TypeError(f"n_components must be an integer >= 1, got {self.n_components!r}.")
        if not 1 <= n <= min(len(X), X.shape[1] + 1):
            raise ValueError(
                f"n_components must be an integer in [1, {min(len(X), X.shape[1] + 1)}] for N-FINDR here (at most the "
                f"{len(X)} samples (grid points) and the {X.shape[1]} features + 1); got {n}. Use fewer components "
                "or a smaller stride."
            )
        try:
            idx = nfindr(X, n, random_state=self.random_state, max_iter=self.max_iter)
        except ValueError as error:
            if "span fewer" not in str(error):
                raise
            raise ValueError(
                f"N-FINDR with n_components={n} needs samples spanning at least {n - 1} dimension(s); these span "
                "fewer (e.g. the descriptors of a flat or constant image). Use fewer components (n_components) or "
                "decomposition_algorithm='PCA'."
            ) from None
        self.endmember_indices_ = idx
        self.components_ = np.asarray(X[idx], dtype=np.float64)
        self.n_components_ = len(idx)
        return self

    def transform(self, X):
        """(n_samples, n_components) float64 abundances of X."""
        if not hasattr(self, "components_"):
            raise AttributeError("This NFINDR instance is not fitted yet; call fit(X) first.")
        return abundances(X, self.components_, sum_to_one=self.sum_to_one)

    #: ``fit_transform`` is ``fit(X).transform(X)``: its result is the model's loadings.
    fit_transform_is_transform = True

    def fit_transform(self, X, y=None):
        return self.fit(X).transform(X)
