"""The pair vector of a lattice's motif, shared by its merged column pairs (no HyperSpy).

A dumbbell lattice repeats one pair of close columns in every cell: the pair's
orientation and separation are properties of the lattice, not of each motif. The
splits of :mod:`._locate` estimate that vector once (from the accepted splits, or from
the elongation the one-column fits share), start every two-column fit at it and keep
only the splits along it; each motif then adds one parameter (the second amplitude) to
the one-column model instead of three, see ``PAIR_PENALTY``.
"""

from __future__ import annotations

import math

import numpy as np

from ._refine import shape_from_precision


#: A lattice's pair vector: the axis (mod 180 degrees) shared by at least this share of
#: the accepted splits, ...
PAIR_SHARE = 0.5
#: ... within this angle (degrees) of it, ...
PAIR_ANGLE_TOL = 15.0
#: ... and a split agrees with it within that angle and this relative separation.
PAIR_SEP_TOL = 0.3
#: A split along the lattice's pair vector needs this share of the BIC penalty ``3 log n``:
#: with the vector (and the shape) shared by the lattice a motif adds one parameter (its
#: second column's amplitude), not three.
PAIR_PENALTY = 1.0 / 3.0
#: Up to this many splits the densest axis is found among the splits' own axes (n x n
#: comparisons, in blocks); beyond it among 180 axis bins.
PAIRWISE_SPLITS = 4000


def _angle_gap(a, b):
    """|a - b| wrapped to [0, pi] (radians, broadcasting)."""
    return np.abs(np.angle(np.exp(1j * (a - b))))


def _support(axes: np.ndarray, angles: np.ndarray, tol: float, block: int = 256) -> np.ndarray:
    """For each of ``axes``, how many ``angles`` lie within ``tol`` (doubled angles, radians),
    ``block`` axes at a time (memory ``block x len(angles)``, not ``len(axes) x len(angles)``)."""
    out = np.empty(len(axes), dtype=np.int64)
    for i in range(0, len(axes), block):
        out[i:i + block] = (_angle_gap(axes[i:i + block, None], angles[None, :]) <= tol).sum(axis=1)
    return out


def shared_pair_vector(vectors: np.ndarray) -> np.ndarray | None:
    """The pair vector (dy, dx) px most splits share, or None when no axis holds ``PAIR_SHARE``.

    Axes are compared mod 180 degrees (doubled angles); the vector is the mean axis of
    the splits within ``PAIR_ANGLE_TOL`` of the densest one, its length their median
    separation.
    """
    v = np.asarray(vectors, dtype=np.float64).reshape(-1, 2)
    v = v[np.all(np.isfinite(v), axis=1)]
    if len(v) < 3:
        return None
    ang2 = 2.0 * np.arctan2(v[:, 0], v[:, 1])
    tol = 2.0 * math.radians(PAIR_ANGLE_TOL)
    if len(v) <= PAIRWISE_SPLITS:  # the split with the most others within the tolerance
        best = ang2[int(np.argmax(_support(ang2, ang2, tol)))]
    else:  # many: the densest of 180 axis bins (an n x n table of 30,000 splits took 21 GB)
        bins = np.linspace(-np.pi, np.pi, 181)
        centres = 0.5 * (bins[1:] + bins[:-1])
        best = centres[int(np.argmax(_support(centres, ang2, tol)))]
    near = _angle_gap(ang2, best) <= tol
    if near.sum() < PAIR_SHARE * len(v):
        return None
    axis = 0.5 * np.angle(np.exp(1j * ang2[near]).mean())
    sep = float(np.median(np.hypot(v[near, 0], v[near, 1])))
    return sep * np.array([math.sin(axis), math.cos(axis)])


def elongation_vector(single: np.ndarray) -> np.ndarray | None:
    """The pair vector the one-column fits ``single`` (7 parameters) suggest, or None.

    Two columns of width ``s`` a distance ``d`` apart fit as one Gaussian of major
    width ``sqrt(s**2 + d**2 / 4)`` along their axis: each fit gives the vector
    ``2 sqrt(s_major**2 - s_minor**2)`` along its major axis, and the vector is the one
    most of them share (:func:`shared_pair_vector`).
    """
    p = np.asarray(single, dtype=np.float64).reshape(-1, 7)
    smaj, smin, angle = shape_from_precision(p[:, 4], p[:, 5], p[:, 6])
    with np.errstate(invalid="ignore"):
        d = 2.0 * np.sqrt(np.maximum(smaj**2 - smin**2, 0.0))
    t = np.radians(angle)
    return shared_pair_vector(np.column_stack([-d * np.sin(t), d * np.cos(t)]))


def pair_agrees(vectors: np.ndarray, shared: np.ndarray) -> np.ndarray:
    """Which pair vectors lie along ``shared`` (``PAIR_ANGLE_TOL``) with its length (``PAIR_SEP_TOL``)."""
    v = np.asarray(vectors, dtype=np.float64).reshape(-1, 2)
    length = float(np.hypot(*shared))
    with np.errstate(invalid="ignore", divide="ignore"):
        sep = np.hypot(v[:, 0], v[:, 1])
        cos = np.abs(v @ shared) / (sep * length)
        return (cos >= math.cos(math.radians(PAIR_ANGLE_TOL))) & (np.abs(sep - length) <= PAIR_SEP_TOL * length)
