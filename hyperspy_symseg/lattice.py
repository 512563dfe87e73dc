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
from dataclasses import dataclass, field

import numba
import numpy as np
import scipy.ndimage

from ._threading import serialised, single_threaded_blas

#: Largest tile (px) of the spectrum estimate; larger images are averaged over tiles.
TILE = 512
#: A Bragg peak must stand this many times above the azimuthal median (3 x 3 mean).
THRESHOLD = 4.0
#: ... and this many times above its 3 x 3 mean 3 bins away in every direction, which
#: rejects streaks (scan artefacts, straight edges) that rise above the median too.
COMPACTNESS = 2.0
#: An indexed peak lies within this many frequency bins of ``h b1 + k b2`` ...
INDEX_TOLERANCE = 0.75
#: ... plus this fraction of ``|h b1 + k b2|`` (scan distortion and drift stretch high orders).
RELATIVE_TOLERANCE = 0.01
#: Bases indexing at least this fraction of the best basis's power count as equally good ...
SCORE_TOLERANCE = 0.95
#: ... and at least this fraction are compared by how many of their own low-order
#: reflections are present.
OCCUPANCY_SHARE = 0.6
#: Highest Miller index used for indexing.
MAX_ORDER = 12
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


# --------------------------------------------------------------------- spectrum

#: At most this many tiles (per axis) enter the Welch average.
MAX_TILES_PER_AXIS = 3


def _tiles(shape, tile):
    """Top-left corners of tiles covering an image (half-overlapping, at most 3 per axis)."""
    starts = []
    for n in shape:
        if n <= tile:
            starts.append([0])
        else:
            count = min(MAX_TILES_PER_AXIS, int(math.ceil((n - tile) / (tile / 2))) + 1)
            starts.append(np.linspace(0, n - tile, count).round().astype(int).tolist())
    return [(y, x) for y in starts[0] for x in starts[1]], tuple(min(n, tile) for n in shape)


def _hann(n: int) -> np.ndarray:
    """The periodic (DFT-even) Hann window, for which the sub-bin estimator is exact."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def power_spectrum(image: np.ndarray, tile: int = TILE) -> np.ndarray:
    """Hann-tapered, mean-removed power spectrum, Welch-averaged over tiles.

    Parameters
    ----------
    image : (H, W) real ndarray
    tile : int
        Largest tile size; the spectrum has shape ``(min(H, tile), min(W, tile))``.

    Returns
    -------
    (h, w) float64 ndarray
        In FFT order (zero frequency at ``[0, 0]``; ``numpy.fft.fftfreq`` frequencies).
    """
    import scipy.fft

    image = np.asarray(image, dtype=np.float64)
    corners, (h, w) = _tiles(image.shape, tile)
    taper = np.outer(_hann(h), _hann(w))
    half = np.zeros((h, w // 2 + 1))
    for y, x in corners:
        block = image[y:y + h, x:x + w]
        block = (block - block.mean()) * taper
        half += np.abs(scipy.fft.rfft2(block, workers=-1)) ** 2
    half /= len(corners)
    # The full plane from the half plane: P(-k) = P(k) for a real image.
    full = np.empty((h, w))
    full[:, : w // 2 + 1] = half
    cols = np.arange(w // 2 + 1, w)
    full[:, cols] = half[(-np.arange(h)) % h][:, w - cols]
    return full


@numba.njit(cache=True, nogil=True)
def _ring_medians(ring, values, n_rings, exclude):
    """Median of ``values`` over the pixels of each ring not excluded (counting sort by ring)."""
    counts = np.zeros(n_rings + 1, dtype=np.int64)
    for i in range(ring.shape[0]):
        if not exclude[i]:
            counts[ring[i] + 1] += 1
    starts = np.cumsum(counts)
    fill = starts[:-1].copy()
    buffer = np.empty(values.shape[0])
    for i in range(ring.shape[0]):
        if exclude[i]:
            continue
        r = ring[i]
        buffer[fill[r]] = values[i]
        fill[r] += 1
    medians = np.full(n_rings, np.nan)
    for r in range(n_rings):
        a, b = starts[r], starts[r + 1]
        if b > a:
            medians[r] = np.median(buffer[a:b])
    return medians


@serialised
@numba.njit(cache=True, nogil=True, parallel=True)
def _box3(a):
    """3 x 3 box sum with periodic boundaries."""
    h, w = a.shape
    out = np.empty_like(a)
    for i in numba.prange(h):
        for j in range(w):
            acc = 0.0
            for di in (-1, 0, 1):
                for dj in (-1, 0, 1):
                    acc += a[(i + di) % h, (j + dj) % w]
            out[i, j] = acc
    return out


def _frequencies(shape):
    """(ky (h,), kx (w,)) in cycles per pixel, FFT order."""
    return np.fft.fftfreq(shape[0]), np.fft.fftfreq(shape[1])


def _radial_background(spectrum: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
    """Azimuthal median of the spectrum at each |k| (rings one frequency step wide).

    Pixels where ``exclude`` is True (e.g. around peaks found in a first pass) are left
    out, so the median stays the background even where Bragg peaks fill much of a ring
    (small images, or several lattices of one period); rings left empty are interpolated.
    """
    h, w = spectrum.shape
    ky, kx = _frequencies((h, w))
    radius = np.hypot(ky[:, None], kx[None, :]) * min(h, w)
    ring = np.rint(radius).astype(np.int64).ravel()
    n_rings = int(ring.max()) + 1
    mask = np.zeros(h * w, dtype=np.bool_) if exclude is None else np.ascontiguousarray(exclude).ravel()
    medians = _ring_medians(ring, spectrum.ravel(), n_rings, mask)
    valid = np.isfinite(medians)
    if not valid.any():
        medians = np.ones(n_rings)
    elif not valid.all():
        idx = np.arange(n_rings)
        medians = np.interp(idx, idx[valid], medians[valid])
    background = np.interp(radius.ravel(), np.arange(n_rings), medians).reshape(h, w)
    return np.maximum(background, np.finfo(float).tiny)


@dataclass
class _Peaks:
    k: np.ndarray  # (n, 2) cycles/px, half plane, strongest first
    excess: np.ndarray  # (n,) excess power (spectrum - background) over 3 x 3 bins
    ratio: np.ndarray  # (n,) 3 x 3 spectrum over background
    bin_size: float  # cycles/px of the coarser frequency step
    total: float  # spectrum power in the searched band, one half plane
    ratio_map: np.ndarray = field(repr=False, default=None)  # (h, w) 3 x 3 spectrum over background
    threshold: float = THRESHOLD

    def ratio_at(self, k: np.ndarray) -> np.ndarray:
        """(n,) largest ratio within one bin of each frequency ``k`` (n, 2) in cycles/px."""
        h, w = self.ratio_map.shape
        rows = np.rint(np.asarray(k)[:, 0] * h).astype(np.int64)
        cols = np.rint(np.asarray(k)[:, 1] * w).astype(np.int64)
        best = np.zeros(len(rows))
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                best = np.maximum(best, self.ratio_map[(rows + di) % h, (cols + dj) % w])
        return best


def find_bragg_peaks(spectrum: np.ndarray, threshold: float = THRESHOLD, min_period: float = 2.0,
                     max_period: float | None = None) -> _Peaks:
    """Bragg peaks of a power spectrum in FFT order (one of each +-k pair)."""
    h, w = spectrum.shape
    summed = _box3(spectrum)
    # Two passes: the peaks of a first pass are left out of the background of the second.
    first = summed / (9.0 * _radial_background(spectrum))
    near_peaks = scipy.ndimage.maximum_filter(first > threshold, size=5, mode="wrap")
    background = _radial_background(spectrum, near_peaks)
    ratio = summed / (9.0 * background)
    ky, kx = _frequencies((h, w))
    k = np.hypot(ky[:, None], kx[None, :])
    if max_period is None:
        max_period = min(h, w) / 4.0
    band = (k >= 1.0 / max_period) & (k <= 1.0 / min_period)
    half = (ky[:, None] > 0) | ((ky[:, None] == 0) & (kx[None, :] > 0))
    total = float(spectrum[band].sum()) / 2.0
    rows, cols = np.nonzero(band & half & (ratio > threshold))
    if rows.size:
        # Local maxima of the ratio over 5 x 5 bins.
        keep = np.ones(rows.size, dtype=bool)
        centre = ratio[rows, cols]
        for di in range(-2, 3):
            for dj in range(-2, 3):
                if di or dj:
                    keep &= centre >= ratio[(rows + di) % h, (cols + dj) % w]
        rows, cols = rows[keep], cols[keep]
        # Compact: along no axis does the ratio stay within a factor COMPACTNESS of the peak
        # 3 bins away on *both* sides, as it does along a streak (a neighbouring peak, e.g.
        # of another grain in a small image, raises one side only).
        for di, dj in ((3, 0), (0, 3), (3, 3), (3, -3)):
            centre = ratio[rows, cols]
            plus = ratio[(rows + di) % h, (cols + dj) % w]
            minus = ratio[(rows - di) % h, (cols - dj) % w]
            keep = (centre >= COMPACTNESS * plus) | (centre >= COMPACTNESS * minus)
            rows, cols = rows[keep], cols[keep]
        rows, cols = _climb(spectrum - background, rows, cols)
        unique = np.unique(rows * w + cols, return_index=True)[1]
        rows, cols = rows[unique], cols[unique]
    excess = summed[rows, cols] - 9.0 * background[rows, cols]
    positive = excess > 0
    rows, cols, excess = rows[positive], cols[positive], excess[positive]
    # Sub-bin position (a first estimate; the lattice's strongest peaks are refined on a fine grid).
    mag = np.sqrt(spectrum)
    dy = _hann_offset(mag[(rows - 1) % h, cols], mag[rows, cols], mag[(rows + 1) % h, cols])
    dx = _hann_offset(mag[rows, (cols - 1) % w], mag[rows, cols], mag[rows, (cols + 1) % w])
    kk = np.column_stack([ky[rows] + dy / h, kx[cols] + dx / w])
    order = np.argsort(-excess, kind="stable")
    return _Peaks(kk[order], excess[order], ratio[rows, cols][order], 1.0 / min(h, w), total, ratio, threshold)


def _climb(spectrum, rows, cols, steps: int = 2):
    """Move each position to the largest value among its 3 x 3 neighbours, repeatedly.

    Used on the excess over the radial background: the ratio to the background peaks up
    to a bin away from the excess's own maximum where the background falls steeply.
    """
    h, w = spectrum.shape
    for _ in range(steps):
        best = spectrum[rows, cols]
        new_r, new_c = rows.copy(), cols.copy()
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                r, c = (rows + di) % h, (cols + dj) % w
                better = spectrum[r, c] > best
                best = np.where(better, spectrum[r, c], best)
                new_r, new_c = np.where(better, r, new_r), np.where(better, c, new_c)
        if np.array_equal(new_r, rows) and np.array_equal(new_c, cols):
            break
        rows, cols = new_r, new_c
    return rows, cols


def _zoom(image, corners, shape, k, step: float = 0.25, n: int = 5):
    """Sub-bin peak positions by evaluating the tapered DTFT on a fine grid around each peak.

    For each ``k`` (cycles/px), the power on an ``n x n`` grid ``step`` bins apart
    (separable products, summed over the tiles), then a quadratic fit to the log power
    of the 3 x 3 around its maximum. Robust where a three-bin estimator is not (scan
    noise sidebands, neighbouring peaks).
    """
    h, w = shape
    taper = np.outer(_hann(h), _hann(w)).astype(np.float32)
    yy, xx = np.arange(h), np.arange(w)
    offsets = (np.arange(n) - n // 2) * step
    out = np.array(k, dtype=np.float64, copy=True)
    blocks = []
    for y, x in corners[:4]:
        block = image[y:y + h, x:x + w].astype(np.float32)
        blocks.append((block - block.mean()) * taper)
    for p in range(len(out)):
        for _ in range(2):
            ky = out[p, 0] + offsets / h
            kx = out[p, 1] + offsets / w
            ey = np.exp(-2j * np.pi * np.outer(ky, yy)).astype(np.complex64)
            ex = np.exp(-2j * np.pi * np.outer(xx, kx)).astype(np.complex64)
            power = sum(np.abs(ey @ (b @ ex)) ** 2 for b in blocks)
            i, j = np.unravel_index(np.argmax(power), power.shape)
            i, j = min(max(i, 1), n - 2), min(max(j, 1), n - 2)
            logs = np.log(np.maximum(power[i - 1:i + 2, j - 1:j + 2].astype(np.float64), 1e-300))
            di = _parabola_vertex(logs[0, 1], logs[1, 1], logs[2, 1])
            dj = _parabola_vertex(logs[1, 0], logs[1, 1], logs[1, 2])
            out[p, 0] = ky[i] + di * step / h
            out[p, 1] = kx[j] + dj * step / w
    return out


def _parabola_vertex(a, b, c):
    denom = a - 2.0 * b + c
    return float(np.clip(0.5 * (a - c) / denom, -1.0, 1.0)) if denom < 0 else 0.0


def _hann_offset(before, centre, after):
    """Sub-bin offset of a peak from three DFT magnitudes under a periodic Hann taper."""
    denom = before + 2.0 * centre + after
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(denom > 0, 2.0 * (after - before) / denom, 0.0)
    return np.clip(d, -0.5, 0.5)


# --------------------------------------------------------------------- indexing

#: The lowest-order reflections of a reciprocal basis, one of each +-pair.
_LOW_ORDERS = np.array([[1, 0], [0, 1], [1, 1], [1, -1], [2, 0], [0, 2]])
#: Every reflection of a lattice up to order 6 (aliases of its harmonics are no new lattice).
_ORDERS = np.array([[h, k] for h in range(-6, 7) for k in range(-6, 7) if (h, k) != (0, 0)])


def _with_mirrors(k, weights):
    return np.concatenate([k, -k]), np.concatenate([weights, weights])


def _index(peaks_k, basis, tolerance):
    """(hk int (n, 2), indexed bool (n,)) of peaks against a reciprocal basis (rows b1, b2)."""
    hk_float = peaks_k @ np.linalg.inv(basis)
    hk = np.rint(hk_float)
    fit = hk @ basis
    residual = np.linalg.norm(peaks_k - fit, axis=1)
    ok = (residual <= tolerance + RELATIVE_TOLERANCE * np.linalg.norm(fit, axis=1)) & (np.abs(hk).max(axis=1) <= MAX_ORDER) & (np.abs(hk).sum(axis=1) > 0)
    return hk.astype(np.int64), ok


def _best_basis(peaks: _Peaks, explained: np.ndarray, max_period: float, rejected=(), n_candidates: int = 14):
    """The reciprocal basis indexing most of the unexplained peaks' excess power, or None.

    Candidate basis vectors are the strongest unexplained peaks and a few explained ones
    (two grains may share reflections, e.g. along a twin's mirror line); only the
    unexplained power counts in the score.
    """
    idx = np.concatenate([np.flatnonzero(~explained)[:n_candidates], np.flatnonzero(explained)[:6]])
    if np.count_nonzero(~explained) == 0:
        return None
    k_av = peaks.k
    w_av = peaks.excess * ~explained
    tolerance = INDEX_TOLERANCE * peaks.bin_size
    cand, _ = _with_mirrors(peaks.k[idx], peaks.excess[idx])
    i, j = np.triu_indices(len(cand), 1)
    bases = np.stack([cand[i], cand[j]], axis=1)  # (pairs, 2, 2)
    det = np.abs(np.linalg.det(bases))
    scale = np.maximum(np.linalg.norm(cand[i], axis=1), np.linalg.norm(cand[j], axis=1))
    # Non-collinear by more than about one bin at the pair's scale.
    good = det >= 2.0 * tolerance * scale
    if not good.any():  # only collinear peaks: a one-dimensional periodicity
        return None
    bases, det = bases[good], det[good]
    hk = np.rint(k_av[None, :, :] @ np.linalg.inv(bases))  # (pairs, peaks, 2)
    fit = hk @ bases
    residual = np.linalg.norm(k_av[None] - fit, axis=2)
    order = np.abs(hk).max(axis=2)
    ok = (residual <= tolerance + RELATIVE_TOLERANCE * np.linalg.norm(fit, axis=2)) & (order <= MAX_ORDER) & (order > 0)
    score = (ok * w_av[None, :]).sum(axis=1) / float(w_av.sum())
    # Among the bases indexing a good share of the best's power, the one whose own
    # low-order reflections are present (a supercell leaves most of them empty: a finer
    # reciprocal lattice also indexes stray peaks at its extra points), then the
    # coarsest reciprocal lattice (the smallest real cell). Cells longer than max_period
    # (e.g. from two points of one streak) are not lattices.
    keep = np.flatnonzero(score >= OCCUPANCY_SHARE * score.max()) if score.max() > 0 else np.array([], int)
    best_key, best_basis = None, None
    for p in keep:
        basis = _reduce_reciprocal(bases[p])
        if np.linalg.norm(np.linalg.inv(basis).T, axis=1).max() > max_period:
            continue
        if any(np.allclose(basis, r) for r in rejected):
            continue
        occupancy = int((peaks.ratio_at(_LOW_ORDERS[:4] @ basis) >= peaks.threshold).sum())
        key = (occupancy, score[p] >= SCORE_TOLERANCE * score.max(), det[p])
        if best_key is None or key > best_key:
            best_key, best_basis = key, basis
    return best_basis


def _reduce_reciprocal(basis):
    """A basis of the same reciprocal lattice whose real-space dual is Lagrange-reduced."""
    real = lagrange_reduce(np.linalg.inv(basis).T)
    return np.linalg.inv(real).T


def lagrange_reduce(vectors: np.ndarray) -> np.ndarray:
    """The two shortest vectors of the 2D lattice spanned by the rows of ``vectors``.

    Returns a (2, 2) float64 array with ``|a1| <= |a2|`` and an angle of 60-90
    degrees between them (``a1 . a2 >= 0``), ``a1`` pointing into ``dx >= 0`` (or
    ``dy < 0`` when ``dx == 0``), so the result is unique for a given lattice up to
    the lattice's own symmetry.
    """
    a, b = (np.asarray(v, dtype=np.float64).copy() for v in vectors)
    for _ in range(100):
        if b @ b < a @ a:
            a, b = b, a
        m = round(float(a @ b) / float(a @ a))
        if m == 0:
            break
        b = b - m * a
    if b @ b < a @ a:
        a, b = b, a
    if a[1] < 0 or (a[1] == 0 and a[0] > 0):
        a = -a
    if a @ b < 0:
        b = -b
    return np.array([a, b])


def _invertible(m: np.ndarray) -> bool:
    """Whether a 2 x 2 basis spans two dimensions (not collinear to rounding)."""
    return bool(np.all(np.isfinite(m)) and abs(np.linalg.det(m)) > 1e-9 * np.prod(np.linalg.norm(m, axis=1)))


def _refine(peaks_k, weights, basis, tolerance):
    """Least-squares reciprocal basis over all peaks it indexes; (basis, hk, indexed)."""
    for _ in range(3):
        hk, ok = _index(peaks_k, basis, tolerance)
        if ok.sum() < 2:
            break
        sw = np.sqrt(weights[ok])[:, None]
        solution, *_ = np.linalg.lstsq(hk[ok] * sw, peaks_k[ok] * sw, rcond=None)
        if np.linalg.matrix_rank(hk[ok]) < 2 or not _invertible(solution):
            break  # keep the last basis that indexes (a collinear fit cannot be inverted)
        basis = solution
    hk, ok = _index(peaks_k, basis, tolerance)
    return basis, hk, ok


#: A lattice needs three of its six lowest-order peaks this many times the threshold
#: (a 1D periodicity: its peak).
STRONG = 3.0



def _is_lattice(peaks: _Peaks, reciprocal: np.ndarray, threshold: float, further: bool = False,
                taken: np.ndarray | None = None, streaks: np.ndarray | None = None) -> bool:
    """Whether a reciprocal basis is a lattice rather than chance alignments of noise peaks.

    At least three of the lowest-order reflections ``b1, b2, b1 + b2, b1 - b2, 2 b1,
    2 b2``, spanning two dimensions, stand ``STRONG * threshold`` above the background.
    Noise and amorphous rings reach ratios of ~5-10 at their strongest bins, crystals
    hundreds (thousands in real images); a structure factor may weaken one of them
    (e.g. ``b2`` of STO [110] in ABF), so three are enough.

    A ``further`` lattice (a grain next to the dominant one, which occupies less of the
    image and so has weaker peaks) needs two strong reflections spanning two dimensions
    and a third above the plain ``threshold``: a second graphene grain's ``b1 - b2`` is
    often only ~5 times its background.

    ``taken``: (n, 2) peaks (cycles/px) of the lattices already found; a reflection on
    one of them is no evidence for another lattice (harmonics of a dumbbell or a
    superstructure would otherwise pass for one); within 3 bins, since a tapered peak's
    main lobe is 2 bins wide on either side and the ratio is looked up within one bin of
    ``g``. ``streaks``: (m, 2) the detected peaks
    of those lattices; scan distortions (line jitter) smear every Bragg peak along the
    slow-scan direction, so a reflection sharing the ``kx`` of one is no evidence either,
    nor one close to a much stronger one of them (a side lobe).
    """
    g = _LOW_ORDERS @ reciprocal
    ratio = peaks.ratio_at(g)
    if taken is not None and len(taken):
        ratio = np.where(_on_taken(g, taken, 3.0 * peaks.bin_size), 0.0, ratio)
    if streaks is not None and len(streaks):
        on_streak = (np.abs(np.abs(g[:, None, 1]) - np.abs(streaks[None, :, 1])) <= 0.25 * peaks.bin_size).any(axis=1)
        # Side lobes: a grain cut off by its boundary spreads its peaks over several
        # bins along the boundary normal; a reflection near a much stronger earlier
        # peak is one of those.
        strong = peaks.ratio_at(streaks)
        near = np.minimum(np.linalg.norm(g[:, None] - streaks[None], axis=-1),
                          np.linalg.norm(g[:, None] + streaks[None], axis=-1)) <= SIDE_LOBE_BINS * peaks.bin_size
        shadowed = (near & (strong[None, :] >= SIDE_LOBE_RATIO * ratio[:, None])).any(axis=1)
        ratio = np.where(on_streak | shadowed, 0.0, ratio)
    strong = ratio >= STRONG * threshold
    if further:
        return bool(strong.sum() >= 2 and np.linalg.matrix_rank(_LOW_ORDERS[strong]) == 2
                    and (ratio >= threshold).sum() >= 3)
    return bool(strong.sum() >= 3 and np.linalg.matrix_rank(_LOW_ORDERS[strong]) == 2)


def _on_taken(g: np.ndarray, taken: np.ndarray, tolerance: float) -> np.ndarray:
    """(n,) whether each frequency ``g`` (n, 2) is, modulo the sampling (aliasing), +- a taken one."""
    d = g[:, None, :] - taken[None]
    s = g[:, None, :] + taken[None]
    d -= np.rint(d)
    s -= np.rint(s)
    return np.minimum(np.linalg.norm(d, axis=-1), np.linalg.norm(s, axis=-1)).min(axis=1) <= tolerance


#: A reflection within this many bins of an earlier lattice's peak at least
#: SIDE_LOBE_RATIO times stronger is a side lobe of that peak, no new lattice.
SIDE_LOBE_BINS = 8.0
SIDE_LOBE_RATIO = 4.0

#: Peaks per lattice refined on a fine frequency grid (the strongest ones).
ZOOM_PEAKS = 8


def _zoom_basis(image, corners, tile_shape, k, hk, weights, basis):
    """The reciprocal basis from the strongest indexed peaks, refined on a fine grid."""
    top = np.argsort(-weights, kind="stable")[:ZOOM_PEAKS]
    if np.linalg.matrix_rank(hk[top]) < 2:
        return basis
    with single_threaded_blas():  # thin complex products: 2 BLAS threads made this 7x slower on a busy machine
        refined = _zoom(np.asarray(image, dtype=np.float32), corners, tile_shape, k[top])
    sw = np.sqrt(weights[top])[:, None]
    solution, *_ = np.linalg.lstsq(hk[top] * sw, refined * sw, rcond=None)
    return solution


def _patterson_min_separation(vectors, hk, excess, resolution=24):
    """Shortest distance between columns from the Patterson function of the indexed peaks."""
    # Patterson over the cell: P(r) = sum |F_hk|^2 cos(2 pi g.r), with g.r = hk . (fractional r).
    f = np.linspace(0.0, 1.0, resolution, endpoint=False)
    frac = np.stack(np.meshgrid(f, f, indexing="ij"), axis=-1).reshape(-1, 2)
    phase = 2.0 * np.pi * frac @ hk.T.astype(np.float64)  # (points, peaks): g.r = hk . frac
    pat = (np.cos(phase) * excess[None, :]).sum(axis=1).reshape(resolution, resolution)
    top = pat[0, 0]
    low = pat.min()
    if not top > low:
        return float(np.min(np.linalg.norm(vectors, axis=1)))
    norm = (pat - low) / (top - low)
    # Local maxima (periodic) above a third of the origin peak, other than the origin.
    peaks = (norm == scipy.ndimage.maximum_filter(norm, size=3, mode="wrap")) & (norm > 0.33)
    peaks[0, 0] = False
    lengths = [float(np.min(np.linalg.norm(vectors, axis=1)))]
    for i, j in zip(*np.nonzero(peaks)):
        base = np.array([f[i], f[j]])
        for di in (-1, 0):
            for dj in (-1, 0):
                r = (base + (di, dj)) @ vectors
                lengths.append(float(np.linalg.norm(r)))
    return float(min(lengths))


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
        if not accepted or any(_related(vectors, lat.vectors) for lat in lattices):
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
    if not lattices and len(peaks.k) and peaks.ratio.max() >= 2 * STRONG * threshold:
        lattices = _one_dimensional(peaks, total)
        shares = [lat.share for lat in lattices]
    power_sum = sum(shares)
    for lat, share in zip(lattices, shares):
        lat.share = share / power_sum
    quality = min(1.0, power_sum / max(total, 1e-300))
    return LatticeResult(lattices, float(quality), tuple(image.shape))


#: A weak further lattice's vectors are within this factor of the dominant one's.
WEAK_CELL_FACTOR = 1.5


def _similar_cell(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two lattices have shortest and longest vectors within ``WEAK_CELL_FACTOR``."""
    la, lb = np.sort(np.linalg.norm(a, axis=1)), np.sort(np.linalg.norm(b, axis=1))
    return bool(np.all(la <= WEAK_CELL_FACTOR * lb) and np.all(lb <= WEAK_CELL_FACTOR * la))


def _related(a: np.ndarray, b: np.ndarray, tolerance: float = 0.06) -> bool:
    """Whether one 2D lattice is a sublattice of the other (a superstructure, or the same lattice)."""
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return False
    for x, y in ((a, b), (b, a)):
        m = x @ np.linalg.inv(y)
        if np.all(np.abs(m - np.rint(m)) < tolerance):
            return True
    return False


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
