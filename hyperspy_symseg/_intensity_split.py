"""Non-crystalline patterns told apart by intensity alone.

Where there is no lattice the symmetry scores are noise: over amorphous carbon they
scatter widely from one grid point to the next, over vacuum they sit near zero. Two
non-crystalline regions (a carbon film and a vacuum hole in it, a support and a
contaminant) differ in their local mean and local std, two of the descriptor's ~80
channels, and k-means, whose clusters all have one spread, cut the wide carbon cluster
and gave its quieter points to the tight vacuum one. On the suite's particle on holey
carbon at 15 px per period and no noise, 45 % of the carbon came out as hole, although
the carbon's local mean (0.04-0.10 in image units) never reaches the hole's (0).

So when two or more patterns are non-crystalline (the median of their crystallinity
channel below :data:`NONCRYSTAL_FRACTION` of a crystal's) and at least one is a crystal
(which sets that scale), their points are shared out again among them by the two
intensity channels alone. A Gaussian mixture with diagonal covariances is fitted on their
points that lie farther than the band width from every crystalline pattern (where a patch
straddles a crystal's edge its intensity channels take the crystal's values) and whose own
crystallinity is low. It has one component more than there are such patterns: a region
without a lattice is seldom one Gaussian (a carbon film of varying thickness), and with
one component per pattern the mixture split the film in two and left the hole with its
thin part. The two components that overlap most (the smallest Bhattacharyya distance)
merge; the groups are matched to the patterns by their overlap with the k-means
labels, and every point of those patterns takes its most likely component, judged with
the variance pooled over the components: with each component's own variance the wide
carbon took the hole's edge, half a box deep (256 px holey-carbon particles at 8 and
12 px per period, which k-means gets right: 0.970 / 0.967 without the split, 0.965 /
0.962 with own variances, 0.969 / 0.967 pooled). HRTEM particles on holey carbon (phase
contrast, ``simulate.hrtem_imaging``, not in the suite), 320-512 px at 8-10 px per period:
0.87 / 0.94 / 0.67 / 0.98 -> 0.98 / 0.98 / 0.95 / 0.99 (at 15 px per period the hole is not
found with or without the split, 0.75).

Measured (``benchmarks/bench_accuracy.py``, 360 cases): the holey-carbon particle mean
0.949 / 0.923 / 0.869 / 0.845 / 0.936 -> 0.967 / 0.986 / 0.972 / 0.966 / 0.957 at 4 / 8 /
15 / 25 / 40 px per period (minima at 8 / 15 / 25 px 0.733 / 0.728 / 0.782 -> 0.985 /
0.966 / 0.962); no other scene moved. With other specimen seeds (``--quick --seed 1``, 4 /
15 / 40 px) 0.962 / 0.874 / 0.952 -> 0.985 / 0.975 / 0.953. One component per pattern
gave 0.966 / 0.986 / 0.966 / 0.888 / 0.957 (0.881 at 15 px with seed 1), two spare
components 0.80-0.83 at 25 px. The threshold: the amorphous patterns of that scene have
median crystallinities of at most 0.12 of a crystal's; at 0.25 the weaker graphene grain
of the contaminated-graphene scene at 40 px per period (0.17-0.20: a grain-boundary stripe
of it is labelled with it) counted as non-crystalline, was shared out with the contaminant
by intensity, and the scene lost 0.011. ``bench_real.py``: unchanged within 0.001.
Rejected: k-means or k-medians in the same plane (they split the carbon instead of
isolating the small, tight hole), the local mean alone (the carbon's two thicknesses lie
farther apart in it than the thin carbon and the hole), merging the spare component by
the distance between the components' mean symmetry scores or by overlap with the k-means
labels (wrong where k-means was wrong) or by the log-likelihood lost (see
:func:`_merged_pair`), classes refitted on each pattern's deepest points
(worse at 4 and 8 px per period). ``n_patterns="auto"`` does not use the split: letting
it (each k >= 3 refitted without bands and split, the profile test waived between the
split patterns) gave the holey-carbon particle its third pattern at 10 of 20 cases, but
also split the vacuum around particles by intensity into compact regions (particle on
vacuum right at 12 of 20 cases instead of 20, thick particle on carbon 15 instead of 20):
right k 92.8 % -> 92.2 %.

The mixture is part of the model, so every route to the labels (fit, predict, tiles,
lazy chunks, a saved model) applies the same rule to the same features.

NumPy in, NumPy out; no HyperSpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: A pattern is non-crystalline when the median of its crystallinity channel is below
#: this fraction of a crystal's typical value.
NONCRYSTAL_FRACTION = 0.15
#: Fewest fitting points per non-crystalline pattern (on average).
MIN_POINTS = 10
#: Starts of the Gaussian mixture (k-means initialisations); the mixture has one component
#: more than the patterns it shares out, and the two that overlap most merge.
N_INIT = 3
#: Expectation-maximisation: at most this many iterations, until the mean log-likelihood
#: gains less than ``TOL`` (scikit-learn's defaults); ``REG`` is added to every variance.
MAX_ITER, TOL, REG = 100, 1e-3, 1e-6


@dataclass(frozen=True)
class IntensitySplit:
    """Labels among non-crystalline patterns decided by a Gaussian mixture's components on intensity channels.

    Parameters
    ----------
    patterns : (m,) int ndarray
        The non-crystalline patterns; component ``i`` of the mixture labels its points ``patterns[i]``.
    means : (m, c) float64 ndarray
        The components' means in the ``c`` channels.
    variance : (c,) float64 ndarray
        The variance of each channel pooled over the components (weighted), which the
        points are classified with.
    weights : (m,) float64 ndarray
        The components' weights (sum 1).
    channels : tuple of int
        Indices of the ``c`` intensity channels in the descriptor vector.
    """

    patterns: np.ndarray
    means: np.ndarray
    variance: np.ndarray
    weights: np.ndarray
    channels: tuple

    def apply(self, features: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """A copy of ``labels`` (n,) in which the points of :attr:`patterns` take their most likely component's label.

        ``features``: (n, n_operations) descriptors of the same points.
        """
        labels = np.array(labels, copy=True)
        inside = np.isin(labels, self.patterns)
        if inside.any():
            values = np.asarray(features)[inside][:, list(self.channels)].astype(np.float64)
            labels[inside] = self.patterns[self.components(values)].astype(labels.dtype)
        return labels

    def components(self, values: np.ndarray) -> np.ndarray:
        """(n,) int64: the most likely component of each row of ``values`` (n, c)."""
        log_p = np.log(self.weights)[None, :] - 0.5 * (((values[:, None, :] - self.means[None]) ** 2)
                                                       / self.variance).sum(axis=-1)
        return np.argmax(log_p, axis=1)

    def relabelled(self, order: np.ndarray) -> "IntensitySplit":
        """The same split for labels renumbered so that new label ``i`` is old ``order[i]``."""
        new_of_old = np.argsort(order)
        return IntensitySplit(new_of_old[self.patterns], self.means, self.variance, self.weights, self.channels)


def fit_intensity_split(features: np.ndarray, labels: np.ndarray, n_patterns: int, crystallinity: int,
                        channels: tuple, crystal_value: float, width: float = 0.0,
                        random_state=0) -> IntensitySplit | None:
    """The :class:`IntensitySplit` of a labelled fit, or None where it does not apply.

    None when fewer than two patterns are non-crystalline, when none is crystalline,
    or when fewer than :data:`MIN_POINTS` points per such pattern are left to fit.

    Parameters
    ----------
    features : (n, n_operations) ndarray
        Descriptors of the fitted grid points.
    labels : (..., ny, nx) int ndarray
        Their nearest-centre labels in [0, n_patterns), on the grids of the fitted frames
        (n = their number of elements).
    n_patterns : int
    crystallinity : int
        Index of the crystallinity channel.
    channels : tuple of int
        Indices of the intensity channels the split uses.
    crystal_value : float
        The crystallinity channel's value in a typical crystal (> 0).
    width : float
        Points within this many grid points of a crystalline pattern's take no part in
        the fit (they are still assigned).
    random_state : int or None
        Seed of the mixture's starts.

    Returns
    -------
    IntensitySplit or None
    """
    from scipy import ndimage
    from scipy.optimize import linear_sum_assignment

    features = np.asarray(features)
    grids = np.asarray(labels).reshape((-1,) + np.shape(labels)[-2:])
    labels = grids.ravel()
    column = features[:, crystallinity].astype(np.float64)
    limit = NONCRYSTAL_FRACTION * crystal_value
    present = [k for k in range(n_patterns) if np.any(labels == k)]
    amorphous = [k for k in present if np.median(column[labels == k]) < limit]
    if len(amorphous) < 2 or len(amorphous) == len(present):
        return None  # fewer than two to share out, or no crystal to set the crystallinity scale
    patterns = np.asarray(amorphous, dtype=np.int64)
    m = len(patterns)
    inside = np.isin(labels, patterns)
    far = np.concatenate([ndimage.distance_transform_edt(np.isin(g, patterns)).ravel() > width for g in grids])
    fit = inside & far & (column < limit)
    if np.count_nonzero(fit) < MIN_POINTS * m:
        return None
    values = features[:, list(channels)].astype(np.float64)
    weights, means, variances = diagonal_mixture(values[fit], m + 1, random_state)  # one spare component
    group = _merged_pair(means, variances)
    channels = tuple(int(c) for c in channels)
    split = IntensitySplit(np.arange(m + 1), means, (weights[:, None] * variances).sum(axis=0), weights, channels)
    overlap = np.zeros((m, m))
    np.add.at(overlap, (np.searchsorted(patterns, labels[inside]), group[split.components(values[inside])]), 1)
    rows, cols = linear_sum_assignment(-overlap)
    pattern_of = np.empty(m, dtype=np.int64)
    pattern_of[cols] = patterns[rows]
    return IntensitySplit(pattern_of[group], split.means, split.variance, split.weights, channels)


def diagonal_mixture(X: np.ndarray, n_components: int, random_state=0, n_init: int = N_INIT):
    """A Gaussian mixture with diagonal covariances fitted by expectation-maximisation.

    Each of ``n_init`` starts takes the labels of a k-means start (k-means++, one start,
    seeded from ``random_state``), then iterates until the mean log-likelihood gains less
    than :data:`TOL` (at most :data:`MAX_ITER` times); the start with the highest wins.
    What scikit-learn's ``GaussianMixture(covariance_type="diag")`` does, without its
    import (0.5-1 s in a fresh process) or its version in the labels.

    Parameters
    ----------
    X : (n, c) float64 ndarray
    n_components : int
    random_state : int or None
    n_init : int

    Returns
    -------
    weights : (n_components,) float64 ndarray
    means, variances : (n_components, c) float64 ndarrays
    """
    from ._kmeans import kmeans
    from ._learn import nearest_centre

    X = np.asarray(X, dtype=np.float64)
    seeds = np.random.default_rng(random_state).integers(2**31 - 1, size=n_init)
    best = None
    for seed in seeds:
        centres, _ = kmeans(X, n_components, n_init=1, random_state=int(seed))
        responsibilities = np.eye(n_components)[nearest_centre(X, centres, distances=False)]
        score, params = expectation_maximisation(X, _m_step(X, responsibilities))
        if best is None or score > best[0]:
            best = (score, params)
    return best[1]


def expectation_maximisation(X: np.ndarray, params: tuple) -> tuple:
    """``(mean log-likelihood, (weights, means, variances))`` after EM from ``params``.

    Each iteration is an expectation step, whose mean log-likelihood is the score, then a
    maximisation step; it stops when the score gains less than :data:`TOL`.
    """
    score = -np.inf
    for _ in range(MAX_ITER):
        log_r, new_score = _e_step(X, *params)
        params = _m_step(X, np.exp(log_r))
        converged = abs(new_score - score) < TOL
        score = new_score
        if converged:
            break
    return score, params


def _m_step(X, responsibilities):
    counts = responsibilities.sum(axis=0) + 10 * np.finfo(np.float64).eps
    means = responsibilities.T @ X / counts[:, None]
    variances = responsibilities.T @ (X * X) / counts[:, None] - means**2 + REG
    return counts / len(X), means, variances


def _e_step(X, weights, means, variances):
    """(log responsibilities (n, k), mean log-likelihood) of X under a diagonal mixture."""
    log_p = (np.log(weights)[None, :] - 0.5 * (X.shape[1] * np.log(2 * np.pi) + np.log(variances).sum(axis=1))[None, :]
             - 0.5 * (((X[:, None, :] - means[None]) ** 2) / variances[None]).sum(axis=-1))
    top = log_p.max(axis=1, keepdims=True)
    log_norm = top[:, 0] + np.log(np.exp(log_p - top).sum(axis=1))
    return log_p - log_norm[:, None], float(log_norm.mean())


def bhattacharyya_distances(means: np.ndarray, variances: np.ndarray) -> np.ndarray:
    """(n, n) Bhattacharyya distances between Gaussians with diagonal covariances.

    ``D = 1/8 sum (m1 - m2)^2 / v + 1/2 sum ln(v / sqrt(v1 v2))`` with ``v = (v1 + v2) / 2``
    per channel: how much two densities overlap (``exp(-D)`` is the integral of
    ``sqrt(p1 p2)``), whatever their weights.
    """
    m, v = np.asarray(means, dtype=np.float64), np.asarray(variances, dtype=np.float64)
    pooled = 0.5 * (v[:, None, :] + v[None, :, :])
    return (0.125 * ((m[:, None, :] - m[None, :, :]) ** 2 / pooled).sum(axis=-1)
            + 0.5 * np.log(pooled / np.sqrt(v[:, None, :] * v[None, :, :])).sum(axis=-1))


def _merged_pair(means, variances) -> np.ndarray:
    """(n,) int: the groups of a mixture's n components after merging the two that overlap
    most (the smallest :func:`bhattacharyya_distances`), numbered 0..n-2 in the order of
    their first component.

    A region without a lattice is seldom one Gaussian in local mean and std (a carbon film
    of varying thickness); the spare component takes that up. On the suite's holey carbon
    the film's two thicknesses overlap and the hole lies 4-5 of the thin film's standard
    deviations away with a third to a fifth of its spread. The distance ignores the
    weights: merging by the log-likelihood lost (which counts points) joined the hole
    with the carbon on an HRTEM holey-carbon particle, where the spare component was a
    few per cent of points at the particle's edge (0.981 without the split, 0.854 with
    that merge, 0.985 with this one).
    """
    d = bhattacharyya_distances(means, variances)
    d[np.tril_indices(len(d))] = np.inf
    i, j = np.unravel_index(np.argmin(d), d.shape)
    group = np.arange(len(d))
    group[j] = i
    return np.unique(group, return_inverse=True)[1]
