"""Boundary refinement: grid points at a crystal / vacuum edge decided again with half the patch.

Why. A Pearson score has no scale: a patch that is a fraction ``f`` crystal and the rest
flat vacuum correlates with a crystal patch like ``sqrt(f)``, because the crystal holds
all of its variance. So k-means, which cuts the features halfway between the two
patterns, calls a patch crystal from ``f`` of about a quarter on, and a particle comes
out dilated by about a quarter of the patch on every side: measured on the accuracy suite
(``bench_accuracy.py``, particle on vacuum at 40 px per period, 30 counts), +11 % area
and accuracy 0.958. The intensity channels and the soft flatness of
:mod:`hyperspy_symseg.descriptors._augmented` pull the other way but do not cancel it.

The rule. After the clustering, for each pair of patterns whose typical patch variances
(the median over their interior grid points, of the raw image over a box of the fine
patch) differ by at least :data:`VARIANCE_RATIO`, i.e. a crystal next to vacuum or a
much dimmer region:

1. the *band* is the grid points within one patch half size of a boundary of the
   labelling; the *interior* the others;
2. the descriptor is computed again with a patch :data:`PATCH_FACTOR` as large (the same
   translations, background and channels), and a linear discriminant (shared covariance
   with Ledoit-Wolf shrinkage on standardised features, the classes' frequencies as
   priors) is fitted on it over the interior points, with the labels as classes;
3. a band point whose neighbourhood (the patch half size) holds exactly two patterns,
   its own and another one, may move only from the higher-variance to the lower-variance
   pattern (the direction of the bias); it moves if the discriminant prefers the other
   pattern and its own fine-box variance is below the mean of the two patterns', or, when
   the higher-variance pattern is clearly the less crystalline one (an amorphous
   overlayer on a crystal, see :data:`OVERLAYER_CRYSTALLINITY`), if that variance is below
   their geometric mean (nearer the other pattern's on a log scale) whatever the
   discriminant says.

The variance alone (3, second clause) is for an amorphous overlayer, whose small
patches still look amorphous across the whole band, so the discriminant keeps them:
graphene with an amorphous contaminant at 25 px per period, where 388 of the 419 band
points the rule may move are truly graphene and the discriminant moved 48 of them; the
geometric mean moves 205 more, 6 wrongly. It is kept from crystals next to something
dimmer: the thinning edge of a crystal has a low variance too, and on the real StatSTEM
Pb particle (``bench_real.py``) the clause cut its edge columns off (0.996 -> 0.987).

Everything else keeps its label: boundaries between crystals of similar contrast (grain
boundaries, phases, amorphous films of a crystal's contrast) have no such bias, and a
smaller patch only adds noise there (measured: -0.005 to -0.02 on the suite's grain
boundaries when every boundary was refined), and at junctions of three patterns a patch
straddling two crystals can look like the third (vacuum).

Measured on the suite at fixed ``n_patterns`` (``bench_accuracy.py --periods 15 25 40``,
off / on in one run, means over the four doses), 25 / 40 px per period: particle on
vacuum 0.964 / 0.954 -> 0.974 / 0.970, thick particle on vacuum 0.977 / 0.962 -> 0.982 /
0.974, graphene with contamination 0.875 / 0.828 -> 0.884 / 0.837 (0.914 / 0.850 with the
overlayer clause, 0.958 at 15 px), the interface with an intensity step at 40 px 0.985
-> 0.992; the thick particle on carbon 0.979 / 0.972 -> 0.981 / 0.969 and the holey-carbon
particle at 15 px 0.875 -> 0.869; every other scene within 0.003. At 4-8 px per period the patch is already the smallest automatic one and
nothing is refined.

The refinement is part of the model (:class:`BoundaryRefiner`, saved with it), so fit,
predict, tiles and dask chunks give the same labels; a tile needs :attr:`margin` more
grid points of context.

NumPy in, NumPy out; no HyperSpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .descriptors._grid import DescriptorGrid
from .descriptors._preprocess import box_mean_std

#: Fine patch half size as a fraction of the segmentation's. In a prototype (every boundary
#: refined, 40 px, 30 counts) 0.7 gave the particle on vacuum nothing (0.958 -> 0.957, 0.981
#: with 0.5) and the thick one 0.977 (0.979 with 0.5).
PATCH_FACTOR = 0.5
#: Smallest fine patch half size (px): the smallest automatic patch
#: (:data:`hyperspy_symseg.auto.MIN_PATCH`); below it nothing is refined.
MIN_FINE_PATCH = 6
#: Two patterns' boundary is refined when their typical patch variances differ by this
#: factor or more. The ratios of the standard deviations over the suite's scenes at
#: 15 / 25 / 40 px per period: a crystal next to vacuum 6.7 (8 counts) to 10^7
#: (noise-free), a thick particle next to carbon 3.1-12, graphene next to contamination
#: 2.6-3.2, an interface with an intensity step 2.0-2.3, a crystal next to amorphous
#: material of its contrast 1.2-1.8, grains and phases 1.0-1.3 (square them for the
#: variances). 25 (5x in standard deviation) left out the contamination and the
#: intensity step: 0.884 -> 0.875 and 0.992 -> 0.985 at 25 and 40 px.
VARIANCE_RATIO = 5.0
#: At most this many interior points train the discriminant.
MAX_TRAIN = 20000
#: The variance-alone clause moves a point from pattern i to j when i's median
#: crystallinity (the descriptor's crystallinity channel over interior points) is below this
#: fraction of j's. Measured: the contaminant of the suite's contaminated graphene 0.15-0.2
#: of the graphene's (15-25 px per period, 30 counts and clean); where a crystal is the
#: higher-variance pattern (next to vacuum, carbon, a dim matrix: the real Pb and PtIr
#: particles, the suite's particles and the interface with an intensity step) its
#: crystallinity is 20-100x its neighbour's and the clause never applies.
OVERLAYER_CRYSTALLINITY = 0.5


def boundary_points(labels: np.ndarray) -> np.ndarray:
    """(ny, nx) bool: grid points with a 4-neighbour of another label."""
    out = np.zeros(labels.shape, dtype=bool)
    dy = labels[:-1] != labels[1:]
    dx = labels[:, :-1] != labels[:, 1:]
    out[:-1] |= dy
    out[1:] |= dy
    out[:, :-1] |= dx
    out[:, 1:] |= dx
    return out


def band_mask(labels: np.ndarray, radius: float) -> np.ndarray:
    """(ny, nx) bool: grid points within ``radius`` grid steps (Euclidean) of a boundary point."""
    from scipy import ndimage as ndi  # here, not at import: 50 ms of a fresh process that refines nothing

    edges = boundary_points(labels)
    if not edges.any():
        return np.zeros(labels.shape, dtype=bool)
    return ndi.distance_transform_edt(~edges) <= radius


def near_labels(labels: np.ndarray, radius: int, n_patterns: int) -> np.ndarray:
    """(ny, nx, n_patterns) bool: which labels occur within a disc of ``radius`` grid steps."""
    from scipy import ndimage as ndi

    r = int(radius)
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    disc = yy * yy + xx * xx <= r * r
    return np.stack([ndi.binary_dilation(labels == c, structure=disc) for c in range(n_patterns)], axis=-1)


def fit_discriminant(X: np.ndarray, y: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Linear discriminant: ``scores = X @ weights.T + bias``, the argmax is the class.

    A shared covariance (the classes' own covariances, weighted by their frequencies),
    each shrunk by Ledoit-Wolf on standardised features, as scikit-learn's
    ``LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")`` does; the classes'
    frequencies are the priors.

    Parameters
    ----------
    X : (n, N) float ndarray
    y : (n,) int ndarray
        Classes in [0, n_classes); a class without samples gets a bias of -inf.
    n_classes : int

    Returns
    -------
    weights : (n_classes, N) float64 ndarray
    bias : (n_classes,) float64 ndarray
    """
    from sklearn.covariance import ledoit_wolf

    X = np.asarray(X, dtype=np.float64)
    n_features = X.shape[1]
    means = np.zeros((n_classes, n_features))
    priors = np.zeros(n_classes)
    covariance = np.zeros((n_features, n_features))
    for c in range(n_classes):
        Xc = X[y == c]
        priors[c] = len(Xc) / len(X)
        if len(Xc) == 0:
            continue
        means[c] = Xc.mean(axis=0)
        scale = Xc.std(axis=0)
        scale[scale == 0] = 1.0
        shrunk = ledoit_wolf((Xc - means[c]) / scale)[0]
        covariance += priors[c] * (scale[:, None] * shrunk * scale[None, :])
    present = priors > 0
    weights = np.zeros((n_classes, n_features))
    weights[present] = np.linalg.lstsq(covariance, means[present].T, rcond=None)[0].T
    bias = np.full(n_classes, -np.inf)
    bias[present] = -0.5 * np.einsum("ij,ij->i", means[present], weights[present]) + np.log(priors[present])
    return weights, bias


@dataclass(frozen=True, eq=False)
class BoundaryRefiner:
    """What a model needs to refine its labels at crystal / vacuum boundaries (see the module).

    Parameters
    ----------
    descriptor : descriptor object
        The fine descriptor (a patch :data:`PATCH_FACTOR` as large), evaluated on the
        segmentation's own grid.
    weights, bias : ndarrays
        The discriminant (:func:`fit_discriminant`) on the fine descriptor's channels.
    variances : (n_patterns,) float64 ndarray
        Each pattern's median fine-box variance of the raw image over its interior points.
    patch : int
        Half size (px) of the fine box (that of the variance).
    reach : float
        Half width (px) of the band around the boundaries: the segmentation's patch half size.
    stride : int
        The segmentation's grid step (px).
    overlayer : (n_patterns, n_patterns) bool ndarray, optional
        Pairs (i, j) whose moves may also be decided by the fine-box variance alone
        (:data:`OVERLAYER_CRYSTALLINITY`); None: none.
    """

    descriptor: object
    weights: np.ndarray
    bias: np.ndarray
    variances: np.ndarray
    patch: int
    reach: float
    stride: int
    overlayer: np.ndarray | None = None

    @property
    def n_patterns(self) -> int:
        return len(self.variances)

    @property
    def radius(self) -> int:
        """The band's and the neighbourhood's radius in grid steps."""
        return int(math.ceil(self.reach / self.stride))

    @property
    def margin(self) -> int:
        """Grid points of context a tile needs beyond those it labels."""
        return self.radius + 1

    @property
    def allowed(self) -> np.ndarray:
        """(n, n) bool: a band point of label i may move to label j (see :data:`VARIANCE_RATIO`)."""
        return allowed_moves(self.variances)

    def fine_inputs(self, image, grid: DescriptorGrid, origin=(0, 0), reference_std=None, prepared=None):
        """``(features (ny, nx, N), variance (ny, nx))`` of the fine descriptor on ``grid`` of ``image``
        (``prepared``: the image without its background, shared with the segmentation's descriptor)."""
        features = self.descriptor.compute(np.asarray(image), grid.stride, grid=grid, origin=origin,
                                           reference_std=reference_std, prepared=prepared)
        return features, fine_variance(image, grid, self.patch)

    def refine(self, labels: np.ndarray, fine, window=None) -> np.ndarray:
        """The refined labels of ``labels[window]``.

        Parameters
        ----------
        labels : (ny, nx) int ndarray
            The model's labels on a grid holding :attr:`margin` points of context around
            ``window`` (or the whole frame's grid).
        fine : callable
            ``fine(i0, i1, j0, j1)`` -> ``(features, variance)`` of the fine descriptor at
            the grid points ``labels[i0:i1, j0:j1]``; called once, only where a point may move.
        window : (slice, slice), optional
            The points to return (default: all).

        Returns
        -------
        (h, w) ndarray of the dtype of ``labels``
        """
        labels = np.asarray(labels)
        window = window or (slice(0, labels.shape[0]), slice(0, labels.shape[1]))
        out = labels[window].copy()
        band = band_mask(labels, self.reach / self.stride)[window]
        near = near_labels(labels, self.radius, self.n_patterns)[window]
        current = out.astype(np.int64)
        allowed = self.allowed
        # the one other pattern of a two-pattern neighbourhood (the argmax over a bool mask
        # with the own label removed), and whether the move is allowed at all
        others = near.copy()
        np.put_along_axis(others, current[..., None], False, axis=-1)
        other = others.argmax(axis=-1)
        candidate = band & (near.sum(axis=-1) == 2) & others.any(axis=-1) & allowed[current, other]
        if not candidate.any():
            return out
        rows, cols = np.nonzero(candidate)
        i0, i1, j0, j1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        r0, c0 = window[0].start or 0, window[1].start or 0
        features, variance = fine(i0 + r0, i1 + r0, j0 + c0, j1 + c0)
        scores = np.asarray(features, dtype=np.float64) @ self.weights.T + self.bias
        sub = (slice(i0, i1), slice(j0, j1))
        mine = np.take_along_axis(scores, current[sub][..., None], axis=-1)[..., 0]
        theirs = np.take_along_axis(scores, other[sub][..., None], axis=-1)[..., 0]
        mine_v, theirs_v = self.variances[current[sub]], self.variances[other[sub]]
        discriminant = (theirs > mine) & (variance < 0.5 * (mine_v + theirs_v))
        move = discriminant
        if self.overlayer is not None:
            move = move | (self.overlayer[current[sub], other[sub]] & (variance < np.sqrt(mine_v * theirs_v)))
        move &= candidate[sub]
        out[sub] = np.where(move, other[sub], out[sub])
        return out


def allowed_moves(variances: np.ndarray) -> np.ndarray:
    """(n, n) bool: from label i to j when ``var_i >= VARIANCE_RATIO var_j`` (and var_i > 0)."""
    v = np.asarray(variances, dtype=np.float64)
    return (v[:, None] > 0) & (v[:, None] >= VARIANCE_RATIO * v[None, :])


def fine_variance(image, grid: DescriptorGrid, patch: int) -> np.ndarray:
    """(ny, nx) variance of the raw image over a box of half size ``patch`` at the grid points."""
    std = box_mean_std(np.asarray(image, dtype=np.float64), grid.rows(), grid.cols(), int(patch))[1]
    return std * std


def _interiors(labels, reach: float, stride: int) -> list:
    """(ny, nx) bool per frame: the grid points farther than ``reach`` px from every boundary."""
    return [~band_mask(lab, reach / stride) for lab in labels]


def _interior_medians(labels, maps, interiors, n_patterns: int) -> np.ndarray | None:
    """(n_patterns,) float64: each pattern's median of ``maps`` over its interior points, or None
    when a pattern has none (``labels``, ``maps``, ``interiors``: one (ny, nx) array per frame)."""
    y = np.concatenate([np.asarray(lab)[inside].astype(np.int64) for lab, inside in zip(labels, interiors)])
    v = np.concatenate([np.asarray(m)[inside] for m, inside in zip(maps, interiors)])
    if n_patterns < 2 or np.bincount(y, minlength=n_patterns).min() == 0:
        return None
    return np.array([np.median(v[y == k]) for k in range(n_patterns)])


def pattern_variances(labels, variances, reach: float, stride: int, n_patterns: int) -> np.ndarray | None:
    """(n_patterns,) float64: each pattern's median fine-box variance over its interior grid
    points (farther than ``reach`` px from every boundary), or None when a pattern has none.

    ``labels`` and ``variances``: sequences of (ny, nx) arrays, one per fitted frame (see
    :func:`fit_refiner`). Cheap (no descriptor), so a fit can tell before computing the fine
    descriptor whether any pair of patterns would be refined (:func:`allowed_moves`).
    """
    return _interior_medians(labels, variances, _interiors(labels, reach, stride), n_patterns)


def fit_refiner(descriptor, patch: int, reach: float, stride: int, labels, features, variances, n_patterns: int,
                random_state=None, crystallinity=None) -> BoundaryRefiner | None:
    """The :class:`BoundaryRefiner` of a fitted labelling, or None when nothing would be refined.

    Parameters
    ----------
    descriptor : descriptor object
        The fine descriptor.
    patch, reach, stride
        See :class:`BoundaryRefiner`.
    labels : sequence of (ny, nx) int ndarrays
        The model's labels of each fitted frame.
    features : sequence of (ny, nx, N) ndarrays
        The fine descriptor at the same grid points.
    variances : sequence of (ny, nx) ndarrays
        :func:`fine_variance` at the same grid points.
    n_patterns : int
    random_state : numpy.random.Generator, int or None
        Draws the training subsample when there are more than :data:`MAX_TRAIN` interior points.
    crystallinity : sequence of (ny, nx) ndarrays, optional
        A crystallinity map at the same grid points (e.g. the descriptor's crystallinity
        channel), for :attr:`BoundaryRefiner.overlayer`; None: no variance-alone moves.

    Returns
    -------
    BoundaryRefiner or None
        None when a pattern has no interior point or no two patterns' variances differ
        by :data:`VARIANCE_RATIO`.
    """
    interiors = _interiors(labels, reach, stride)
    medians = _interior_medians(labels, variances, interiors, n_patterns)
    allowed = None if medians is None else allowed_moves(medians)
    if allowed is None or not allowed.any():
        return None
    X = np.concatenate([np.asarray(feat)[inside] for feat, inside in zip(features, interiors)])
    y = np.concatenate([np.asarray(lab)[inside].astype(np.int64) for lab, inside in zip(labels, interiors)])
    overlayer = None
    if crystallinity is not None:
        typical = _interior_medians(labels, crystallinity, interiors, n_patterns)
        overlayer = allowed & (typical[None, :] > 0) & (typical[:, None] < OVERLAYER_CRYSTALLINITY * typical[None, :])
    if len(y) > MAX_TRAIN:
        pick = np.sort(np.random.default_rng(random_state).choice(len(y), MAX_TRAIN, replace=False))
        X, y = X[pick], y[pick]
    weights, bias = fit_discriminant(X, y, n_patterns)
    return BoundaryRefiner(descriptor, weights, bias, medians, int(patch), float(reach), int(stride), overlayer)
