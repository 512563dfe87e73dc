"""Geometry of label grids: boundaries, perimeters, bands. NumPy only; no HyperSpy.

Shared by the automatic number of patterns (:mod:`hyperspy_symseg.auto`, where these names
are public) and the band-aware k-means refit (:mod:`hyperspy_symseg._band_refit`).
"""

from __future__ import annotations

import numpy as np

#: Largest share of a new pattern's points within the patch reach of the boundaries of
#: the labelling with one pattern fewer (a band where patches straddle two regions).
MAX_BAND_FRACTION = 0.8


def label_frames(labels: np.ndarray) -> np.ndarray:
    """A label grid ``(..., ny, nx)`` as frames ``(n_frames, ny, nx)``."""
    labels = np.asarray(labels)
    return labels.reshape((-1,) + labels.shape[-2:])


def boundary_points(labels: np.ndarray) -> np.ndarray:
    """(ny, nx) bool: the points of a 2D label grid with a 4-neighbour of another label."""
    p = np.asarray(labels)
    edge = np.zeros(p.shape, dtype=bool)
    d = p[1:, :] != p[:-1, :]
    edge[1:, :] |= d
    edge[:-1, :] |= d
    d = p[:, 1:] != p[:, :-1]
    edge[:, 1:] |= d
    edge[:, :-1] |= d
    return edge


def perimeter_ratios(labels: np.ndarray, n_patterns: int) -> np.ndarray:
    """(n_patterns,) perimeter of each label's region over that of a disk of equal area.

    ``labels`` is an integer grid ``(..., ny, nx)`` (frames first); the perimeter counts
    4-neighbour pairs with different labels (image edges do not count), summed over the
    frames, and the area the label's grid points. 0 for an empty label.
    """
    labels = label_frames(labels)
    perimeter = np.zeros(n_patterns)
    for axis in (1, 2):
        a = np.moveaxis(labels, axis, 0)
        diff = a[1:] != a[:-1]
        for lab in (a[1:], a[:-1]):
            perimeter += np.bincount(lab[diff].ravel(), minlength=n_patterns)[:n_patterns]
    area = np.bincount(labels.ravel(), minlength=n_patterns)[:n_patterns].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(area > 0, perimeter / (2.0 * np.sqrt(np.pi * area)), 0.0)
    return ratio


def band_fractions(labels: np.ndarray, previous: np.ndarray, n_patterns: int, width: float) -> np.ndarray:
    """(n_patterns,) share of each label's grid points within ``width`` of a boundary of ``previous``.

    A pattern that appears when one more is allowed and lies almost entirely along the
    boundaries of the labelling with one pattern fewer is the band where patches
    straddle two regions, not a region.
    """
    labels = label_frames(labels)
    previous = np.asarray(previous).reshape(labels.shape)
    near = np.zeros(labels.shape, dtype=bool)
    for f in range(labels.shape[0]):
        edge = boundary_points(previous[f])
        if edge.any():
            import scipy.ndimage as ndi

            near[f] = ndi.distance_transform_edt(~edge) <= width
    area = np.bincount(labels.ravel(), minlength=n_patterns)[:n_patterns].astype(np.float64)
    inside = np.bincount(labels[near].ravel(), minlength=n_patterns)[:n_patterns]
    return np.where(area > 0, inside / np.maximum(area, 1), 0.0)
