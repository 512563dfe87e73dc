"""INTERIM stand-in for ``hyperspy_symseg.lattice.find_lattice`` (to be replaced).

The lead engineer's lattice analysis lands in :mod:`hyperspy_symseg.lattice`; until then
the column finder and the denoiser use this small autocorrelation version with the same
interface: ``find_lattice(image) -> result`` with ``.vectors`` ((2, 2) float64 px, rows
the two shortest lattice vectors (dy, dx)), ``.min_separation_px`` (shortest distance
between columns) and ``.quality`` (0..1, low = no lattice). ``atom_columns._find_lattice``
prefers the real module whenever it is importable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ._acf import autocorrelation


@dataclass
class InterimLattice:
    vectors: np.ndarray
    min_separation_px: float
    quality: float
    peaks: np.ndarray  # (M, 2) sub-pixel autocorrelation peaks (dy, dx), half plane
    peak_values: np.ndarray  # (M,) normalised autocorrelation at the peaks


def _parabolic(a: np.ndarray, i: int, j: int) -> tuple[float, float]:
    def off(m, c, p):
        d = m - 2 * c + p
        return 0.0 if d >= 0 else float(np.clip(0.5 * (m - p) / d, -0.5, 0.5))

    return off(a[i - 1, j], a[i, j], a[i + 1, j]), off(a[i, j - 1], a[i, j], a[i, j + 1])


def find_lattice(image: np.ndarray, max_radius: float | None = None) -> InterimLattice:
    """The two shortest lattice vectors from autocorrelation peaks (interim)."""
    acf = autocorrelation(image)
    h, w = acf.shape
    cy, cx = h // 2, w // 2
    yy, xx = np.mgrid[:h, :w]
    r = np.hypot(yy - cy, xx - cx)
    if max_radius is None:
        max_radius = min(h, w) / 4.0
    # the central lobe ends at the first minimum of the radial profile
    rb = np.rint(r).astype(int)
    prof = np.bincount(rb.ravel(), acf.ravel()) / np.maximum(np.bincount(rb.ravel()), 1)
    first_min = 1
    for k in range(1, min(len(prof) - 1, int(max_radius))):
        if prof[k] <= prof[k + 1]:
            first_min = k
            break
    peaks = (acf == ndimage.maximum_filter(acf, size=3)) & (r > first_min) & (r <= max_radius) & (yy < h - 1) \
        & (xx < w - 1) & (yy > 0) & (xx > 0) & (acf > 0)
    # half plane: dy > 0 or (dy == 0 and dx > 0)
    peaks &= (yy > cy) | ((yy == cy) & (xx > cx))
    iy, ix = np.nonzero(peaks)
    if len(iy) == 0:
        return InterimLattice(np.full((2, 2), np.nan), float("nan"), 0.0, np.empty((0, 2)), np.empty(0))
    vals = acf[iy, ix]
    vec = np.array([[iy[k] - cy + o[0], ix[k] - cx + o[1]] for k, o in
                    enumerate(_parabolic(acf, i, j) for i, j in zip(iy, ix))], dtype=np.float64)
    order = np.argsort(-vals)
    vals, vec = vals[order], vec[order]
    # the strongest peak among the short ones (long vectors where several grains'
    # lattices coincide can be stronger than any one grain's own translation)
    lengths_all = np.hypot(vec[:, 0], vec[:, 1])
    shortest = lengths_all[vals >= 0.2 * vals[0]].min()
    near = lengths_all <= 2.5 * shortest
    top = vals[near].max()
    strong = (vals >= 0.5 * top) & near
    cand = vec[strong]
    lengths = np.hypot(cand[:, 0], cand[:, 1])
    v1 = cand[np.argmin(lengths)]
    v2 = None
    for k in np.argsort(lengths):
        v = cand[k]
        cross = abs(v1[0] * v[1] - v1[1] * v[0])
        if cross > 0.2 * np.hypot(*v1) * np.hypot(*v):
            v2 = v
            break
    if v2 is None:
        return InterimLattice(np.array([v1, [np.nan, np.nan]]), float(np.hypot(*v1)), 0.0, vec, vals)
    weak = vals >= 0.1 * top
    min_sep = float(min(np.hypot(vec[weak, 0], vec[weak, 1]).min(), np.hypot(*v1)))
    quality = float(np.clip(top, 0.0, 1.0))
    return InterimLattice(np.array([v1, v2]), min_sep, quality, vec, vals)
