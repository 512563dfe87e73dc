"""Bands are not regions: refit k-means centres on region interiors when a pattern is a band.

Where a patch straddles two regions its scores lie between theirs, so a particle on a
support leaves a continuum of grid points between the particle's and the support's
clusters. Asked for three patterns on a particle on holey carbon (carbon, particle, a
vacuum hole), k-means cuts that continuum out as a ring around the particle, which
lowers its inertia far more than the step between carbon and vacuum does, and hole and
carbon come out as one pattern. A band along the boundaries of the labelling with one
pattern fewer (:func:`hyperspy_symseg.auto.band_fractions`) that is no compact region
(perimeter ratio above :data:`MIN_BAND_RATIO`) is taken as that artefact: the centres
are then fitted again on the grid points farther than the band width from every
boundary, and every point is assigned to the nearest of them.

Measured with ``n_patterns`` = 3 on the suite (``benchmarks/bench_accuracy.py`` scenes, 30
and 8 counts, 4-40 px per period): the holey-carbon particle 0.826 -> 0.929 on average
over its 10 cases (0.77-0.86 -> 0.85-0.99; 0.988 at 8 px and 8 counts, where k-means
found the hole anyway); no other case triggers it. Genuine regions have perimeter ratios
of 0.3-2 (a triple junction's third grain at 40 px lies along the two-pattern boundary
with a band fraction of 1.0 but a ratio of 0.6: refitting it cost 0.01), the rings
4.4-11. The patterns that are not bands keep their deepest points even when they are
thinner than twice the band width (a small hole at 40 px per period); protecting only
compact patterns instead left 25-40 px at 30 counts worse than without the refit.

NumPy in, NumPy out; no HyperSpy.
"""

from __future__ import annotations

import numpy as np

from ._label_geometry import MAX_BAND_FRACTION, band_fractions, boundary_points, label_frames, perimeter_ratios

#: Smallest perimeter ratio (:func:`hyperspy_symseg.auto.perimeter_ratios`) of a band
#: pattern: compact regions (0.3-2 on the suite and the real images) are never bands.
MIN_BAND_RATIO = 3.0
#: Fewest interior points per pattern asked for before refitting.
MIN_INTERIOR_PER_PATTERN = 10


def band_patterns(labels: np.ndarray, previous: np.ndarray, n_patterns: int, width: float) -> np.ndarray:
    """(n_patterns,) bool: which patterns of ``labels`` are bands along ``previous``'s boundaries.

    A band has more than :data:`~hyperspy_symseg.auto.MAX_BAND_FRACTION` of its points
    within ``width`` grid points of a boundary of ``previous`` (the labelling with one
    pattern fewer) and a perimeter ratio above :data:`MIN_BAND_RATIO`.

    Parameters
    ----------
    labels, previous : (..., ny, nx) int ndarrays
        Two labellings of the same grid (frames first).
    n_patterns : int
        Patterns of ``labels``.
    width : float
        Band half width in grid points.
    """
    fractions = band_fractions(labels, previous, n_patterns, width)
    ratios = perimeter_ratios(labels, n_patterns)
    return (fractions > MAX_BAND_FRACTION) & (ratios > MIN_BAND_RATIO)


def interior_mask(labels: np.ndarray, width: float, protected=None) -> np.ndarray:
    """(n_points,) bool: grid points farther than ``width`` from every boundary of ``labels``.

    A ``protected`` pattern (bool per label) keeps its points deeper than the smaller of
    ``width`` and half its deepest point's depth, so a small compact region is not lost.
    ``labels`` is ``(..., ny, nx)``; the mask is in the same (flattened) order.
    """
    import scipy.ndimage as ndi

    frames = label_frames(labels)
    keep = np.zeros(frames.shape, dtype=bool)
    protected = np.zeros(int(frames.max()) + 1, dtype=bool) if protected is None else np.asarray(protected, bool)
    for f in range(frames.shape[0]):
        p = frames[f]
        edge = boundary_points(p)
        if not edge.any():
            keep[f] = True
            continue
        depth = ndi.distance_transform_edt(~edge)
        for j in np.unique(p):
            inside = p == j
            w = width
            if j < len(protected) and protected[j]:
                w = min(width, 0.5 * float(depth[inside].max()))
            keep[f] |= inside & (depth > w)
    return keep.ravel()


def refit_without_bands(X: np.ndarray, labels: np.ndarray, grid_shape, n_clusters: int, width: float, fit):
    """New centres fitted on region interiors if a pattern of ``labels`` is a band, else None.

    Parameters
    ----------
    X : (n_points, n_features) ndarray
        The points clustered, in grid order.
    labels : (n_points,) int ndarray
        Their k-means labels (``n_clusters`` patterns).
    grid_shape : tuple of int
        ``(..., ny, nx)`` of the grid; a grid without two spatial axes of at least 3
        points is left alone.
    width : float
        Band half width in grid points (the reach of a grid point's descriptor).
    fit : callable
        ``fit(points, k) -> (labels of points, centres, inertia)``: the k-means to use
        (same seeds, subsampling and initialisations as the first fit).

    Returns
    -------
    ((n_clusters, n_features) ndarray, float) or None
        The centres and inertia of the refit, or None where no pattern is a band.
    """
    grid_shape = tuple(int(s) for s in grid_shape)
    if n_clusters < 3 or len(grid_shape) < 2 or min(grid_shape[-2:]) < 3 or int(np.prod(grid_shape)) != len(X):
        return None
    grid = np.asarray(labels).reshape(grid_shape)
    previous = fit(X, n_clusters - 1)[0]
    bands = band_patterns(grid, np.asarray(previous).reshape(grid_shape), n_clusters, width)
    if not bands.any():
        return None
    keep = interior_mask(grid, width, protected=~bands)
    if keep.sum() < MIN_INTERIOR_PER_PATTERN * n_clusters:
        return None
    _, centres, inertia = fit(X[keep], n_clusters)
    return centres, inertia
