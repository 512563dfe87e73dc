"""Fisher separability of symmetry operations for a given segmentation.

Implements the separability analysis of Wang, Freysoldt et al., Microsc. Microanal.
27, 1454 (2021), eq. 4: once a representative frame has been segmented with many
symmetry operations, each operation (descriptor feature) is scored by how well it
separates the patterns, and the best few are kept to segment the other frames.

Pure NumPy (plus a numba kernel), no HyperSpy:

* :func:`fisher_separability` scores every feature of a (samples, features) array
  against integer pattern labels, streaming over row chunks in float64.
* :func:`rank_operations` returns the indices of the most separable features.
* :func:`separability_map` lays the scores of translation operations out on the
  2D grid of their shifts ``(m, n)`` (the map of the paper's Fig. 1f).
"""

from __future__ import annotations

import numba
import numpy as np

from ._threading import serialised
from ._validation import as_integer_array, check_int, check_samples, check_vector, integer_labels

#: Rows processed at once when streaming over a (samples, features) array.
CHUNK_ROWS = 65536

#: Relative floor of the within-class scatter: a perfectly separating feature
#: scores ``1 / WITHIN_FLOOR`` instead of infinity.
WITHIN_FLOOR = 1e-12


@serialised
@numba.njit(cache=True, nogil=True, parallel=True)
def _block_moments_kernel(X, labels, block_rows, counts, means, m2):
    """Per-block, per-class sample counts, means and squared deviations.

    Rows ``[b * block_rows, (b + 1) * block_rows)`` form block ``b``. For each block
    and class, two passes over the block give the mean and the sum of squared
    deviations from it, in float64 whatever the dtype of ``X``. Rows with a
    negative label are skipped. ``counts`` (n_blocks, K), ``means`` and ``m2``
    (n_blocks, K, F) must be zero on entry.
    """
    n_rows, n_features = X.shape
    n_blocks, n_classes = counts.shape
    for b in numba.prange(n_blocks):
        start = b * block_rows
        stop = min(start + block_rows, n_rows)
        for i in range(start, stop):
            k = labels[i]
            if k < 0:
                continue
            counts[b, k] += 1.0
            for f in range(n_features):
                means[b, k, f] += X[i, f]
        for k in range(n_classes):
            if counts[b, k] > 0.0:
                inv = 1.0 / counts[b, k]
                for f in range(n_features):
                    means[b, k, f] *= inv
        for i in range(start, stop):
            k = labels[i]
            if k < 0:
                continue
            for f in range(n_features):
                d = X[i, f] - means[b, k, f]
                m2[b, k, f] += d * d


def _merge_moments(counts: np.ndarray, means: np.ndarray, m2: np.ndarray):
    """Combine per-group (count, mean, squared deviations) along axis 0.

    Uses the exact decomposition ``M2 = sum_g [M2_g + n_g (mean_g - mean)^2]``,
    which involves only differences of means, so nothing cancels.
    """
    total = counts.sum(axis=0)
    weighted = np.einsum("gk,gkf->kf", counts, means)
    mean = np.divide(weighted, total[:, None], out=np.zeros_like(weighted), where=total[:, None] > 0)
    spread = m2.sum(axis=0) + np.einsum("gk,gkf->kf", counts, (means - mean) ** 2)
    return total, mean, spread


def _check_labels(labels, n_samples: int, n_labels) -> tuple[np.ndarray, int]:
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != n_samples:
        raise ValueError(
            f"labels must be a 1D array with one label per sample (n_samples = {n_samples}); "
            f"got shape {labels.shape}."
        )
    labels = np.ascontiguousarray(integer_labels(labels, "labels"), dtype=np.int64)  # pattern indices, -1 = ignore
    if n_samples and labels.min() < -1:
        raise ValueError(
            f"labels must be pattern indices >= 0, or -1 to ignore a sample; got the value {labels.min()}."
        )
    top = int(labels.max()) if n_samples else -1
    if n_labels is None:
        n_labels = max(top + 1, 1)
    else:
        n_labels = check_int("n_labels", n_labels, 1)
        if top >= n_labels:
            raise ValueError(
                f"labels must lie in [0, n_labels) = [0, {n_labels}) or be -1 (ignored); got the label {top}."
            )
    if top < 0:
        raise ValueError(
            "labels must contain at least one labelled sample (>= 0); got none (no samples, or all -1 = ignored)."
        )
    return labels, n_labels


def fisher_separability(features, labels, n_labels: int | None = None) -> np.ndarray:
    """Fisher's separability of each feature for the given pattern labels.

    Eq. 4 of Wang et al. (2021)::

        S = sum_k N_k (mu_k - mu)^2 / sum_k N_k sigma_k^2

    with ``N_k``, ``mu_k`` and ``sigma_k^2`` the number of samples, mean and
    population (1/N_k) variance of the feature in class ``k``, and ``mu`` the mean
    over all labelled samples: the between-class scatter over the within-class
    scatter, 0 for a feature that carries no class information.

    Parameters
    ----------
    features : (n_samples, n_features) array of real numbers
        Any integer or float dtype (typically float32 descriptors). It is read in
        chunks of :data:`CHUNK_ROWS` rows and accumulated in float64, so it is
        never copied or upcast as a whole.
    labels : (n_samples,) integer array
        Pattern index of each sample, in ``[0, n_labels)``, or -1 to leave the
        sample out.
    n_labels : int, optional
        Number of patterns; by default ``labels.max() + 1``. Patterns without any
        sample are ignored (they contribute nothing to either scatter).

    Returns
    -------
    separability : (n_features,) float64 ndarray
        Always finite and >= 0:

        * a constant feature (zero total scatter, e.g. the Pearson score of the
          zero shift, which is 1 everywhere) scores 0, where the authors' code
          gives NaN;
        * the within-class scatter is floored at ``WITHIN_FLOOR = 1e-12`` times the
          total scatter, so a feature that separates the classes perfectly (zero
          within-class variance) scores ``1e12`` rather than infinity;
        * with a single populated class every feature scores 0.

    Raises
    ------
    ValueError
        If the shapes disagree, a label is out of range, every sample is ignored,
        or ``features`` contains NaN or infinite values.
    TypeError
        If ``features`` is not real-valued or ``labels`` is not integer.

    Notes
    -----
    Within each block of rows, class means and squared deviations from them are
    computed in two passes (float64), and blocks are merged exactly, so the
    result does not depend on the chunking beyond float64 rounding, and a float32
    array gives bit-for-bit the result of its float64 copy.
    """
    X = check_samples(features, "features", finite=False)  # NaN/inf are found (with their columns) below
    n_samples, n_features = X.shape
    labels, n_labels = _check_labels(labels, n_samples, n_labels)

    work_dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
    n_threads = numba.get_num_threads()
    count = np.zeros((1, n_labels))
    mean = np.zeros((1, n_labels, n_features))
    spread = np.zeros((1, n_labels, n_features))
    for start in range(0, n_samples, CHUNK_ROWS):
        rows = slice(start, min(n_samples, start + CHUNK_ROWS))
        chunk = np.ascontiguousarray(np.asarray(X[rows]), dtype=work_dtype)
        n_rows = chunk.shape[0]
        n_blocks = max(1, min(4 * n_threads, -(-n_rows // 512)))
        block_rows = -(-n_rows // n_blocks)
        counts = np.zeros((n_blocks, n_labels))
        means = np.zeros((n_blocks, n_labels, n_features))
        m2 = np.zeros((n_blocks, n_labels, n_features))
        _block_moments_kernel(chunk, labels[rows], block_rows, counts, means, m2)
        total, mu, dev = _merge_moments(
            np.concatenate([count, counts]), np.concatenate([mean, means]), np.concatenate([spread, m2])
        )
        count, mean, spread = total[None], mu[None], dev[None]

    count, mean, spread = count[0], mean[0], spread[0]
    if not np.all(np.isfinite(mean)) or not np.all(np.isfinite(spread)):
        bad = np.flatnonzero(~(np.all(np.isfinite(mean), axis=0) & np.all(np.isfinite(spread), axis=0)))
        raise ValueError(
            f"features contains NaN or infinite values (in feature column(s) {bad[:10].tolist()}); "
            "replace or drop them first."
        )
    n_total = count.sum()
    grand_mean = (count @ mean) / n_total
    between = count @ (mean - grand_mean) ** 2
    within = spread.sum(axis=0)
    total_scatter = between + within
    denominator = np.maximum(within, WITHIN_FLOOR * total_scatter)
    return np.divide(between, denominator, out=np.zeros(n_features), where=total_scatter > 0)


def rank_operations(separability, n: int) -> np.ndarray:
    """Indices of the ``n`` most separable operations, best first.

    Parameters
    ----------
    separability : (n_operations,) array of real numbers
        E.g. the output of :func:`fisher_separability`. NaN values (as produced
        by other implementations for constant features) rank below everything.
    n : int
        How many indices to return, in ``[1, n_operations]``.

    Returns
    -------
    indices : (n,) int64 ndarray
        Sorted by decreasing separability; equal scores keep the lower index first.
    """
    s = check_vector("separability", separability, "one score per operation")
    n = check_int("n", n, 1, s.shape[0])
    key = -s.astype(np.float64)
    # NaN sorts last in argsort; the stable sort keeps ties in index order.
    return np.argsort(key, kind="stable")[:n].astype(np.int64)


def _grid_axis(values: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Grid positions of one shift component and the index of each shift on it."""
    unique = np.unique(values)
    if unique.size == 1:
        return unique, np.zeros(values.shape[0], dtype=np.int64)
    gaps = np.diff(unique)
    step = int(gaps.min())
    if np.any(gaps % step):
        raise ValueError(
            f"shifts are not on a regular grid: the distinct {name} values {unique.tolist()} are not equally "
            f"spaced (their spacings {gaps.tolist()} are not all multiples of the smallest spacing {step}). "
            "separability_map needs shifts (m, n) on a grid with constant steps along m and along n, "
            "such as the one from translation_grid."
        )
    axis = unique[0] + step * np.arange((unique[-1] - unique[0]) // step + 1)
    return axis, (values - unique[0]) // step


def separability_map(separability, shifts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Separability of translation operations as a 2D map over their shifts.

    Parameters
    ----------
    separability : (N,) array of real numbers
        One score per translation, in the order of ``shifts``.
    shifts : (N, 2) integer array
        Translations ``(m, n)`` = (rows, columns) in pixels. The distinct ``m``
        values must be equally spaced, and so must the distinct ``n`` values.
        Whole missing rows or columns of the grid are allowed as long as every
        spacing is a multiple of the smallest one (e.g. ``m`` in {-10, -5, 5, 10}
        gives a step of 5 and an all-NaN row at ``m = 0``). The zero shift is an
        ordinary entry.

    Returns
    -------
    map : (n_m, n_n) float64 ndarray
        ``map[i, j]`` is the separability of the shift ``(m_values[i], n_values[j])``,
        NaN where no such shift was given (the paper's Fig. 1f).
    m_values : (n_m,) int64 ndarray
        Row shifts of the map rows, increasing with a constant step.
    n_values : (n_n,) int64 ndarray
        Column shifts of the map columns, increasing with a constant step.

    Raises
    ------
    ValueError
        If the shapes disagree, a shift is repeated, or the shifts are not on a
        regular grid.
    TypeError
        If the shifts are not integers.
    """
    s = check_vector("separability", separability, "one score per shift")
    shifts = np.asarray(shifts)
    if shifts.ndim != 2 or shifts.shape[1] != 2 or shifts.shape[0] != s.shape[0]:
        raise ValueError(
            "shifts must be an (N, 2) array of integer translations (m, n) = (rows, columns) with one row per "
            f"separability value (N = {s.shape[0]}); got shape {shifts.shape}."
        )
    shifts = as_integer_array(shifts, "shifts must hold integer translations in pixels")
    unique, counts = np.unique(shifts, axis=0, return_counts=True)
    if np.any(counts > 1):
        raise ValueError(f"shifts must be distinct; {unique[counts > 1][:5].tolist()} occur more than once.")
    m_values, rows = _grid_axis(shifts[:, 0], "m (row shift)")
    n_values, cols = _grid_axis(shifts[:, 1], "n (column shift)")
    out = np.full((m_values.size, n_values.size), np.nan)
    out[rows, cols] = s
    return out, m_values.astype(np.int64), n_values.astype(np.int64)
