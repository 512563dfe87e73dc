"""Lattice analysis: the two shortest real-space lattice vectors of an image.

NumPy in, NumPy out; no HyperSpy (:func:`estimate_lattice` reads a signal's data
and axes by duck typing). The steps:

1. **Spectrum.** The power spectrum of the image with its mean removed and a 2D
   Hann taper; images larger than ``tile`` pixels are averaged over half-overlapping
   tiles (Welch), which lowers the noise and bounds the cost.
2. **Bragg peaks.** The spectrum over its *azimuthal median* at the same spatial
   frequency: Bragg peaks of a lattice stand far above it, while amorphous rings,
   shot noise and smooth backgrounds (vacuum, thickness ramps) do not. Peaks are the
   local maxima of this ratio (smoothed over 3 x 3 bins) above ``threshold``, with a
   log-parabolic sub-bin position.
3. **Indexing.** For pairs of strong peaks ``(b1, b2)``, the peaks that are integer
   combinations ``h b1 + k b2`` (within ``0.75`` bin) are counted by their excess
   power; the pair indexing the most wins (ties: the larger reciprocal cell, i.e. the
   primitive cell). Its basis is refined by least squares over all indexed peaks,
   which makes the error of a lattice vector a fraction of a bin divided by the
   highest order seen. The indexed peaks are removed and the search repeats for
   further lattices (grains, phases), reported by decreasing share of the Bragg power.
4. **Real space.** ``A = inv(B).T`` gives the real-space vectors, reduced to the two
   shortest (Lagrange-Gauss reduction) with an angle of 60-90 degrees between them.
   A radial FFT peak is a d-spacing ``1 / |g|``, not a lattice vector: hexagonal
   ``a = 14 px`` has ``d = 12.1 px``; the inverse of the 2D basis gives ``a``.
5. **Column separation.** The Patterson function of the indexed peaks (the Fourier
   series of their excess power) over one cell: its shortest maximum other than the
   lattice points is the shortest distance between two columns (shorter than a
   lattice vector for honeycomb, perovskite or dumbbell cells).

Contrast reversal (HRTEM) does not change a power spectrum, so bright and dark
columns are treated alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

# The steps live in two modules (spectrum and peaks; indexing and reduction); their
# public names and constants stay importable from here.
from ._lattice_indexing import (  # noqa: F401
    _ORDERS, INDEX_TOLERANCE, MAX_ORDER, OCCUPANCY_SHARE, RELATIVE_TOLERANCE, SCORE_TOLERANCE, STRONG,
    _best_basis, _index, _is_lattice, _modulation, _patterson_min_separation, _refine, _related, _similar_cell,
    _zoom_basis, coarsest_reciprocal, lagrange_reduce,
)
from ._lattice_spectrum import (  # noqa: F401
    COMPACTNESS, THRESHOLD, TILE, _Peaks, _tiles, find_bragg_peaks, power_spectrum,
)

#: A further lattice holding at least this share of the first one's Bragg power passes
#: the dominant lattice's test...
MIN_SHARE = 0.05
#: ... a weaker one (a grain of weak contrast: a second graphene grain holds 2-5 % of
#: the first one's power in the labelled HRTEM set) needs at least this share and the
#: same test, or WEAK_RELAXED_SHARE and two strong reflections, counting only
#: reflections that are new evidence (see :func:`_is_lattice`), and a cell like the
#: dominant one's (:func:`_similar_cell`).
MIN_SHARE_WEAK = 0.01
WEAK_RELAXED_SHARE = 0.03


@dataclass
class LatticeInfo:
    """One lattice found in an image.

    Attributes
    ----------
    vectors : (2, 2) float64 ndarray
        The two shortest lattice vectors, rows ``(dy, dx)`` in pixels, ``|a1| <= |a2|``,
        60-90 degrees apart. For a one-dimensional periodicity (fringes in one
        direction only) the second row is NaN.
    reciprocal : (2, 2) float64 ndarray
        The reciprocal basis, rows in cycles per pixel (``vectors @ reciprocal.T = I``).
    share : float
        This lattice's share of the image's Bragg-peak power, in (0, 1].
    strength : float
        Excess power of its indexed peaks over the spectrum's background, as a
        fraction of the image's (high-pass) variance, in [0, 1].
    n_peaks : int
        Bragg peaks indexed (each +-g pair counted once).
    max_order : int
        The highest order ``max(|h|, |k|)`` among them.
    min_separation_px : float
        Shortest distance between columns from the Patterson function (<= ``|a1|``).
    peaks : (n, 2) float64 ndarray
        The indexed peaks ``(ky, kx)`` in cycles per pixel (half plane).
    """

    vectors: np.ndarray
    reciprocal: np.ndarray
    share: float
    strength: float
    n_peaks: int
    max_order: int
    min_separation_px: float
    peaks: np.ndarray = field(repr=False)

    @property
    def lengths_px(self) -> np.ndarray:
        """(2,) lengths of the two lattice vectors in px (NaN for a missing one)."""
        return np.hypot(self.vectors[:, 0], self.vectors[:, 1])

    @property
    def angle_deg(self) -> float:
        """Angle between the two lattice vectors, degrees (NaN for 1D)."""
        a, b = self.vectors
        if not np.all(np.isfinite(b)):
            return float("nan")
        cos = float(a @ b) / float(np.linalg.norm(a) * np.linalg.norm(b))
        return math.degrees(math.acos(max(-1.0, min(1.0, cos))))

    @property
    def orientation_deg(self) -> float:
        """Direction of ``a1`` in degrees counter-clockwise from +x as displayed (y down)."""
        dy, dx = self.vectors[0]
        return math.degrees(math.atan2(-dy, dx))

    @property
    def period_px(self) -> float:
        """The longer of the two lattice vectors (the cell's extent), px."""
        lengths = self.lengths_px
        return float(np.nanmax(lengths))

    @property
    def is_2d(self) -> bool:
        return bool(np.all(np.isfinite(self.vectors)))


@dataclass
class LatticeResult:
    """The lattices found in an image, the dominant (largest Bragg power) first.

    Attributes
    ----------
    lattices : list of LatticeInfo
        Empty when the image shows no lattice.
    quality : float
        Share of the image's high-pass variance in Bragg peaks of the found lattices,
        in [0, 1]: about 0.5-0.95 for crystals (lower at low dose), below ~0.02 for
        vacuum, noise or amorphous material.
    shape : (int, int)
        The image shape.
    """

    lattices: list
    quality: float
    shape: tuple
    scale: tuple = (1.0, 1.0)
    units: str = "px"

    @property
    def found(self) -> bool:
        return bool(self.lattices)

    @property
    def lengths(self) -> np.ndarray:
        """(2,) lengths of the dominant lattice's vectors in calibrated ``units``."""
        return np.hypot(*(self.vectors_calibrated.T))

    @property
    def vectors_calibrated(self) -> np.ndarray:
        """(2, 2) the dominant lattice's vectors, rows (dy, dx) in calibrated ``units``."""
        return self.vectors * np.asarray(self.scale, dtype=np.float64)[None, :]

    def to_dict(self) -> dict:
        """Plain values (for a signal's metadata): every lattice found, in px and units."""
        out = {"quality": float(self.quality), "n_lattices": len(self.lattices), "units": self.units}
        for i, lat in enumerate(self.lattices):
            out[f"lattice_{i}"] = {
                "vectors_px": lat.vectors, "lengths_px": lat.lengths_px, "angle_deg": lat.angle_deg,
                "orientation_deg": lat.orientation_deg, "share": float(lat.share), "strength": float(lat.strength),
                "min_separation_px": float(lat.min_separation_px),
                "vectors": lat.vectors * np.asarray(self.scale, dtype=np.float64)[None, :],
            }
        return out

    def __repr__(self) -> str:
        if not self.lattices:
            return f"<LatticeResult: no lattice (quality {self.quality:.2f})>"
        parts = []
        for lat in self.lattices:
            lengths = ", ".join(f"{v:.4g}" for v in lat.lengths_px if np.isfinite(v))
            parts.append(f"|a| = {lengths} px at {lat.angle_deg:.1f} deg ({lat.share:.0%})")
        return f"<LatticeResult: {'; '.join(parts)}; quality {self.quality:.2f}>"

    def _dominant(self) -> LatticeInfo:
        if not self.lattices:
            raise ValueError(
                "no lattice was found in the image (no Bragg peaks stand out of the power spectrum): "
                "it looks like vacuum, noise or amorphous material. Give the sizes explicitly "
                "(e.g. patch_x, patch_y, window_x, window_y) if it does hold a lattice."
            )
        return self.lattices[0]

    @property
    def vectors(self) -> np.ndarray:
        """(2, 2) lattice vectors of the dominant lattice, rows (dy, dx) px."""
        return self._dominant().vectors

    @property
    def lengths_px(self) -> np.ndarray:
        return self._dominant().lengths_px

    @property
    def angle_deg(self) -> float:
        return self._dominant().angle_deg

    @property
    def min_separation_px(self) -> float:
        """Shortest column separation over all found lattices, px."""
        self._dominant()
        return float(min(lat.min_separation_px for lat in self.lattices))

    @property
    def period_px(self) -> float:
        """The longest lattice-vector length among the significant lattices, px.

        The scale the automatic parameters follow: a window reaching it reaches a
        lattice vector of every lattice found.
        """
        self._dominant()
        return float(max(lat.period_px for lat in self.lattices))


def find_lattice(image: np.ndarray, *, max_lattices: int = 3, tile: int = TILE, threshold: float = THRESHOLD,
                 min_period: float = 2.0, max_period: float | None = None) -> LatticeResult:
    """The lattice(s) of an image from its power spectrum.

    Parameters
    ----------
    image : (H, W) real ndarray
        At least 32 x 32 pixels, finite. Not modified.
    max_lattices : int
        At most this many lattices are reported (grains, phases), dominant first.
    tile : int
        Tile size of the Welch spectrum for large images (px).
    threshold : float
        A Bragg peak stands this many times above the spectrum's azimuthal median.
    min_period, max_period : float
        Spatial periods (px) searched; ``max_period`` defaults to a quarter of the
        (tile) size, so that at least four periods fit.

    Returns
    -------
    LatticeResult
        ``.lattices`` (list of :class:`LatticeInfo`, dominant first; empty if none),
        ``.quality`` in [0, 1], and the dominant lattice's ``.vectors`` ((2, 2) float64,
        rows (dy, dx) px), ``.lengths_px``, ``.angle_deg``, ``.min_separation_px``.

    Examples
    --------
    >>> import numpy as np
    >>> from hyperspy_symseg import simulate
    >>> from hyperspy_symseg.lattice import find_lattice
    >>> sim = simulate.simulate_image(
    ...     simulate.Scene((256, 256), 0.02, [simulate.Region(simulate.Lattice.hexagonal(0.28, rotation=10))]),
    ...     simulate.GaussianProbe(0.08), random_state=0)
    >>> lattice = find_lattice(sim.image.data)
    >>> np.round(lattice.lengths_px, 1)  # 0.28 nm / 0.02 nm per px
    array([14., 14.])
    >>> round(lattice.angle_deg)
    60

    See Also
    --------
    estimate_lattice : the same on a HyperSpy signal, with calibrated lengths.
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"image must be a 2D array, got shape {image.shape}.")
    if min(image.shape) < 32:
        raise ValueError(f"image must be at least 32 x 32 px for a lattice analysis, got {image.shape}.")
    if image.dtype.kind not in "fiu":
        raise TypeError(f"image must hold real numbers, got dtype {image.dtype}.")
    if not np.all(np.isfinite(image)):
        raise ValueError("image contains NaN or infinite pixels; replace them first.")
    peak = float(np.max(np.abs(image)))
    if peak > 1e100 or 0 < peak < 1e-100:  # squares would over/underflow: an exact power-of-two rescale
        image = np.ldexp(np.asarray(image, dtype=np.float64), -math.frexp(peak)[1])
    spectrum = power_spectrum(image, tile)
    corners, tile_shape = _tiles(image.shape, tile)
    if max_period is None:
        max_period = min(spectrum.shape) / 4.0
    peaks = find_bragg_peaks(spectrum, threshold, min_period, max_period)
    total = peaks.total
    explained = np.zeros(len(peaks.k), dtype=bool)
    tolerance = INDEX_TOLERANCE * peaks.bin_size
    lattices, shares = [], []
    first_power = None
    rejected = []
    while len(lattices) < max_lattices and (~explained).any():
        basis = _best_basis(peaks, explained, max_period, rejected)
        if basis is None:
            break
        basis, hk, ok = _refine(peaks.k, peaks.excess, basis, tolerance)
        power = float(peaks.excess[ok & ~explained].sum())
        if ok.sum() < 2 or (first_power is not None and power < MIN_SHARE_WEAK * first_power):
            break
        vectors = lagrange_reduce(np.linalg.inv(basis).T)
        reciprocal = np.linalg.inv(vectors).T
        if first_power is None:
            accepted = _is_lattice(peaks, reciprocal, threshold)
        else:
            taken = np.concatenate([peaks.k[explained]] + [_ORDERS @ lat.reciprocal for lat in lattices])
            clues = dict(taken=taken, streaks=peaks.k[explained])
            if power >= MIN_SHARE * first_power and _is_lattice(peaks, reciprocal, threshold):
                accepted = True
            elif not _similar_cell(vectors, lattices[0].vectors):
                accepted = False  # a weak lattice is another grain of a like cell, not stray peaks
            else:
                accepted = _is_lattice(peaks, reciprocal, threshold, **clues) or (
                    power >= WEAK_RELAXED_SHARE * first_power
                    and _is_lattice(peaks, reciprocal, threshold, further=True, **clues))
        known = any(_related(vectors, lat.vectors) or _modulation(vectors, lat.vectors) for lat in lattices)
        if not accepted or known:
            if first_power is None:
                break
            rejected.append(basis)  # look for another basis among the unexplained peaks
            explained |= ok
            continue
        if first_power is None:
            first_power = power
        basis = _zoom_basis(image, corners, tile_shape, peaks.k[ok], hk[ok], peaks.excess[ok], basis)
        vectors = lagrange_reduce(np.linalg.inv(basis).T)
        reciprocal = np.linalg.inv(vectors).T
        hk_r = np.rint(peaks.k[ok] @ np.linalg.inv(reciprocal)).astype(np.int64)
        separation = _patterson_min_separation(vectors, hk_r, peaks.excess[ok])
        lattices.append(LatticeInfo(
            vectors=vectors, reciprocal=reciprocal, share=power,
            strength=min(1.0, float(peaks.excess[ok].sum()) / max(total, 1e-300)),
            n_peaks=int(ok.sum()), max_order=int(np.abs(hk_r).max()), min_separation_px=separation,
            peaks=peaks.k[ok],
        ))
        shares.append(power)
        explained |= ok
    lattices = _without_false_supercells(lattices, peaks, tolerance)
    if not lattices and len(peaks.k) and peaks.ratio.max() >= 2 * STRONG * threshold:
        lattices = _one_dimensional(peaks, total)
        shares = [lat.share for lat in lattices]
    power_sum = sum(shares)
    for lat, share in zip(lattices, shares):
        lat.share = share / power_sum
    quality = min(1.0, power_sum / max(total, 1e-300))
    return LatticeResult(lattices, float(quality), tuple(image.shape))


def _without_false_supercells(lattices: list, peaks: _Peaks, tolerance: float) -> list:
    """The lattices, each reduced to its true cell where its basis was a supercell
    (:data:`~hyperspy_symseg._lattice_indexing.SUPERCELL_SHARE`); judged on the peaks no
    other lattice indexes."""
    index = [_index(peaks.k, lat.reciprocal, tolerance) for lat in lattices]
    out = []
    for i, lat in enumerate(lattices):
        hk, ok = index[i]
        own = ok.copy()
        for j, (_, other) in enumerate(index):
            if j != i:
                own &= ~other
        basis = coarsest_reciprocal(lat.reciprocal, hk[own], peaks.excess[own])
        if basis is None:
            out.append(lat)
            continue
        vectors = lagrange_reduce(np.linalg.inv(basis).T)
        reciprocal = np.linalg.inv(vectors).T
        hk_r = np.rint(peaks.k[ok] @ np.linalg.inv(reciprocal)).astype(np.int64)
        out.append(replace(lat, vectors=vectors, reciprocal=reciprocal, max_order=int(np.abs(hk_r).max()),
                           min_separation_px=_patterson_min_separation(vectors, hk_r, peaks.excess[ok])))
    return out


def _one_dimensional(peaks: _Peaks, total: float) -> list:
    """A 1D periodicity (collinear peaks only): the period along the strongest peak."""
    g = peaks.k[0]
    tolerance = INDEX_TOLERANCE * peaks.bin_size
    unit = g / np.linalg.norm(g)
    along = peaks.k @ unit
    orders = np.rint(along / np.linalg.norm(g))
    ok = (np.linalg.norm(peaks.k - orders[:, None] * g, axis=1) <= tolerance) & (orders != 0)
    if ok.sum() >= 1:
        weights = peaks.excess[ok]
        g = unit * float(np.sum(weights * along[ok] * orders[ok]) / np.sum(weights * orders[ok] ** 2))
    a1 = g / float(g @ g)
    if a1[1] < 0 or (a1[1] == 0 and a1[0] > 0):
        a1 = -a1
    vectors = np.array([a1, [np.nan, np.nan]])
    power = float(peaks.excess[ok].sum())
    return [LatticeInfo(vectors, np.array([g, [np.nan, np.nan]]), power, min(1.0, power / max(total, 1e-300)),
                        int(ok.sum()), int(np.abs(orders[ok]).max()) if ok.any() else 1,
                        float(np.linalg.norm(a1)), peaks.k[ok])]


def estimate_lattice(signal, frame: int = 0, **kwargs) -> LatticeResult:
    """The lattice(s) of an image signal, in pixels and calibrated units.

    Parameters
    ----------
    signal : hyperspy.signals.Signal2D
        An image or image stack (eager or lazy); for a stack, frame ``frame`` (a flat
        navigation index) is analysed. Not modified.
    frame : int
        Which frame of a stack.
    **kwargs
        Passed to :func:`find_lattice` (``max_lattices``, ``tile``, ``threshold``,
        ``min_period``, ``max_period``).

    Returns
    -------
    LatticeResult
        The lattices found (dominant first) with ``.vectors`` ((2, 2) px, rows (dy, dx)),
        ``.lengths_px``, ``.angle_deg``, ``.quality``, ``.min_separation_px`` and the
        calibrated ``.vectors_calibrated`` and ``.lengths`` in ``.units``.

    Examples
    --------
    >>> import hyperspy_symseg as ss
    >>> from hyperspy_symseg import simulate
    >>> sim = simulate.two_grain_image(shape=(256, 256), random_state=0)
    >>> lattice = ss.estimate_lattice(sim.image)
    >>> [round(float(v), 2) for v in lattice.lengths]  # hexagonal a = 0.3 nm
    [0.3, 0.3]
    >>> lattice.units
    'nm'
    >>> len(lattice.lattices)  # the two grains
    2

    See Also
    --------
    find_lattice : the same on a NumPy array.
    hyperspy_symseg.symmetry_segmentation : uses it to choose patch and window sizes.
    """
    from . import _validation as check

    axes = signal.axes_manager.signal_axes
    if len(axes) != 2:
        raise ValueError(f"signal must be an image (2 signal dimensions), got {len(axes)}.")
    data = signal.data
    n_frames = int(np.prod(data.shape[:-2], dtype=np.int64))
    frame = check.check_int("frame", frame, 0, n_frames - 1)
    image = data.reshape((-1,) + data.shape[-2:])[frame]
    image = np.asarray(image.compute() if hasattr(image, "compute") else image)
    check.check_image_dtype(image.dtype)
    result = find_lattice(image.astype(np.float64, copy=False), **kwargs)
    x_axis, y_axis = axes
    units = x_axis.units if isinstance(x_axis.units, str) and x_axis.units not in ("", "<undefined>") else "px"
    scale = (abs(float(y_axis.scale)), abs(float(x_axis.scale))) if units != "px" else (1.0, 1.0)
    result.scale, result.units = scale, units
    return result
