"""Lattice analysis, step 1-2: the power spectrum of an image and its Bragg peaks.

NumPy and numba only (no HyperSpy). :func:`power_spectrum` is the Hann-tapered,
mean-removed spectrum, Welch-averaged over tiles; :func:`find_bragg_peaks` the local
maxima of the spectrum over its azimuthal median; :func:`_zoom` refines peak positions
on a fine frequency grid. The driver is :func:`hyperspy_symseg.lattice.find_lattice`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numba
import numpy as np

from ._ring_medians import dilate_above, ring_interp, ring_medians
from ._threading import serialised

#: Largest tile (px) of the spectrum estimate; larger images are averaged over tiles.
TILE = 512
#: A Bragg peak must stand this many times above the azimuthal median (3 x 3 mean).
THRESHOLD = 4.0
#: ... and this many times above its 3 x 3 mean 3 bins away in every direction, which
#: rejects streaks (scan artefacts, straight edges) that rise above the median too.
COMPACTNESS = 2.0

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
    taper = _taper((h, w))
    half = np.zeros((h, w // 2 + 1))
    for y, x in corners:
        block = image[y:y + h, x:x + w]
        block = (block - block.mean()) * taper
        # one worker: a tile is at most TILE^2 px, where more threads gained nothing on 2
        # cores (384^2: 0.50 ms with one, 0.63-0.71 ms with two; the same numbers)
        half += np.abs(scipy.fft.rfft2(block, workers=1)) ** 2
    half /= len(corners)
    # The full plane from the half plane: P(-k) = P(k) for a real image, i.e. column
    # c > w / 2 is column w - c with its rows r -> -r mod h (slices, not a gather).
    full = np.empty((h, w))
    c0 = w // 2 + 1
    full[:, :c0] = half
    if c0 < w:
        full[0, c0:] = half[0, w - c0:0:-1]
        full[1:, c0:] = half[:0:-1, w - c0:0:-1]
    return full


@functools.lru_cache(maxsize=4)
def _taper(shape):
    """``outer(_hann(h), _hann(w))`` of a tile shape, read-only, kept for the last few shapes."""
    taper = np.outer(_hann(shape[0]), _hann(shape[1]))
    taper.flags.writeable = False
    return taper


@numba.njit(cache=True, nogil=True, inline="always")
def _box3_row(a, out, i):
    # the nine terms in the order (di, dj) = (-1, -1), (-1, 0), ..., (1, 1); the
    # neighbours' indices without a modulo per term
    h, w = a.shape
    up, down = (i - 1) % h, (i + 1) % h
    for j in range(w):
        left = j - 1 if j > 0 else w - 1
        right = j + 1 if j < w - 1 else 0
        acc = 0.0
        acc += a[up, left]
        acc += a[up, j]
        acc += a[up, right]
        acc += a[i, left]
        acc += a[i, j]
        acc += a[i, right]
        acc += a[down, left]
        acc += a[down, j]
        acc += a[down, right]
        out[i, j] = acc


@serialised
@numba.njit(cache=True, nogil=True, parallel=True)
def _box3_parallel(a):
    """3 x 3 box sum with periodic boundaries."""
    out = np.empty_like(a)
    for i in numba.prange(a.shape[0]):
        _box3_row(a, out, i)
    return out


@numba.njit(cache=True, nogil=True)
def _box3_serial(a):
    """:func:`_box3_parallel` on one thread (the same sums in the same order)."""
    out = np.empty_like(a)
    for i in range(a.shape[0]):
        _box3_row(a, out, i)
    return out


#: Spectra up to this many pixels are box-summed on one thread (a 256 x 256 spectrum is
#: ~0.5 ms of work, less than a parallel launch on a busy 2-core machine).
SERIAL_BOX3_SIZE = 2**18


def _box3(a):
    """3 x 3 box sum with periodic boundaries (one thread for small arrays)."""
    return (_box3_serial if a.size <= SERIAL_BOX3_SIZE else _box3_parallel)(a)


def _frequencies(shape):
    """(ky (h,), kx (w,)) in cycles per pixel, FFT order."""
    return np.fft.fftfreq(shape[0]), np.fft.fftfreq(shape[1])


@functools.lru_cache(maxsize=4)
def _rings(shape):
    """(|k| (h, w) in cycles/px, ring index (h*w,) int64, number of rings) of a spectrum's grid.

    Ring ``r`` holds the bins whose ``|k| min(h, w)`` rounds to ``r`` (rings one frequency
    step wide). Kept for the last few shapes (frames of a series, tiles of one size), so
    callers must not modify them (``k`` is read-only; ``ring`` stays writeable only to
    keep the numba kernel's signature).
    """
    h, w = shape
    ky, kx = _frequencies((h, w))
    k = np.hypot(ky[:, None], kx[None, :])
    ring = np.rint(k * min(h, w)).astype(np.int64).ravel()
    k.flags.writeable = False
    return k, ring, int(ring.max()) + 1


@functools.lru_cache(maxsize=4)
def _ring_layout(shape):
    """(order, starts, lower, frac) of a spectrum's rings (:func:`_rings`), kept for the last few shapes.

    ``order[starts[r]:starts[r + 1]]`` are the flat bins of ring ``r`` (ascending); a
    bin's radius ``|k| min(h, w)`` (in rings) is ``lower + frac``, ``lower`` its integer
    part, ``frac = radius - lower`` (``numpy.interp``'s ``x - xp[j]``). Read-only.
    """
    k, ring, n_rings = _rings(shape)
    order = np.argsort(ring, kind="stable")
    starts = np.zeros(n_rings + 1, dtype=np.int64)
    np.cumsum(np.bincount(ring, minlength=n_rings), out=starts[1:])
    radius = (k * min(shape)).ravel()
    lower = np.floor(radius).astype(np.int64)
    frac = radius - lower
    for a in (order, starts, lower, frac):
        a.flags.writeable = False
    return order, starts, lower, frac


_NO_MEDIANS = np.zeros(0)


def _radial_background(spectrum: np.ndarray, exclude: np.ndarray | None = None,
                       previous: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Azimuthal median of the spectrum at each |k| (rings one frequency step wide).

    Pixels where ``exclude`` is True (e.g. around peaks found in a first pass) are left
    out, so the median stays the background even where Bragg peaks fill much of a ring
    (small images, or several lattices of one period); rings left empty are interpolated.
    ``previous``: the ring medians of a call on the same spectrum without ``exclude``
    (the rings without an excluded pixel keep them). Returns ``(background (h, w),
    ring medians)``, the medians before the interpolation of empty rings.
    """
    h, w = spectrum.shape
    _, ring, n_rings = _rings((int(h), int(w)))
    order, starts, lower, frac = _ring_layout((int(h), int(w)))
    mask = np.zeros(h * w, dtype=np.bool_) if exclude is None else np.ascontiguousarray(exclude).ravel()
    values = np.ascontiguousarray(spectrum, dtype=np.float64).ravel()
    raw = ring_medians(order, starts, ring, values, values.view(np.int64), mask,
                       _NO_MEDIANS if previous is None else previous)
    medians = raw
    valid = np.isfinite(medians)
    if not valid.any():
        medians = np.ones(n_rings)
    elif not valid.all():
        idx = np.arange(n_rings)
        medians = np.interp(idx, idx[valid], medians[valid])
    background = np.empty(h * w)
    ring_interp(medians, lower, frac, np.finfo(float).tiny, background)
    return background.reshape(h, w), raw


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
    background, medians = _radial_background(spectrum)
    near_peaks = np.zeros((h, w), dtype=np.bool_)  # the 5 x 5 bins around ratios above the threshold
    dilate_above(summed, background, float(threshold), near_peaks)
    background, _ = _radial_background(spectrum, near_peaks, previous=medians)
    ratio = summed / (9.0 * background)
    ky, kx = _frequencies((h, w))
    if max_period is None:
        max_period = min(h, w) / 4.0
    band, searched = _band((int(h), int(w)), float(min_period), float(max_period))
    total = float(spectrum.ravel()[band].sum()) / 2.0
    rows, cols = np.nonzero(searched & (ratio > threshold))
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
        rows, cols = _climb(spectrum, background, rows, cols)
        unique = np.unique(rows * w + cols, return_index=True)[1]
        rows, cols = rows[unique], cols[unique]
    excess = summed[rows, cols] - 9.0 * background[rows, cols]
    positive = excess > 0
    rows, cols, excess = rows[positive], cols[positive], excess[positive]
    # Sub-bin position (a first estimate; the lattice's strongest peaks are refined on a fine grid).
    def mag(r, c):
        return np.sqrt(spectrum[r, c])

    dy = _hann_offset(mag((rows - 1) % h, cols), mag(rows, cols), mag((rows + 1) % h, cols))
    dx = _hann_offset(mag(rows, (cols - 1) % w), mag(rows, cols), mag(rows, (cols + 1) % w))
    kk = np.column_stack([ky[rows] + dy / h, kx[cols] + dx / w])
    order = np.argsort(-excess, kind="stable")
    return _Peaks(kk[order], excess[order], ratio[rows, cols][order], 1.0 / min(h, w), total, ratio, threshold)


@functools.lru_cache(maxsize=8)
def _band(shape, min_period, max_period):
    """(flat indices of the bins with ``1 / max_period <= |k| <= 1 / min_period``, the
    (h, w) mask of those in the half plane ``ky > 0 or (ky = 0 and kx > 0)``), read-only."""
    ky, kx = _frequencies(shape)
    k = _rings(shape)[0]
    band = (k >= 1.0 / max_period) & (k <= 1.0 / min_period)
    half = (ky[:, None] > 0) | ((ky[:, None] == 0) & (kx[None, :] > 0))
    searched = band & half
    index = np.flatnonzero(band)
    for a in (index, searched):
        a.flags.writeable = False
    return index, searched


def _climb(spectrum, background, rows, cols, steps: int = 2):
    """Move each position to the largest excess among its 3 x 3 neighbours, repeatedly.

    The excess ``spectrum - background`` over the radial background, evaluated at the
    visited bins only: the ratio to the background peaks up to a bin away from the
    excess's own maximum where the background falls steeply.
    """
    h, w = spectrum.shape

    def excess(r, c):
        return spectrum[r, c] - background[r, c]

    for _ in range(steps):
        best = excess(rows, cols)
        new_r, new_c = rows.copy(), cols.copy()
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                r, c = (rows + di) % h, (cols + dj) % w
                value = excess(r, c)
                better = value > best
                best = np.where(better, value, best)
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
    taper = _taper((h, w)).astype(np.float32)
    yy, xx = np.arange(h), np.arange(w)
    offsets = (np.arange(n) - n // 2) * step
    out = np.array(k, dtype=np.float64, copy=True)
    if not len(out):
        return out
    blocks = []
    for y, x in corners[:4]:
        block = image[y:y + h, x:x + w].astype(np.float32)
        # complex64 once (exact), not at every product: ``b @ ex`` would cast it each time
        blocks.append(((block - block.mean()) * taper).astype(np.complex64))
    for _ in range(2):
        # All peaks at once in the big product (one (h, w) x (w, n * peaks) product per
        # tile instead of one per peak and tile); everything else per peak, as before.
        ky = out[:, 0, None] + offsets / h  # (peaks, n): row p is out[p, 0] + offsets / h
        kx = out[:, 1, None] + offsets / w
        # every peak's phase factors in one exp each (the same numbers as one peak at a time)
        ey_all = np.exp(-2j * np.pi * np.outer(ky, yy)).astype(np.complex64)
        ey = [ey_all[p * n:(p + 1) * n] for p in range(len(out))]
        ex = np.exp(-2j * np.pi * np.outer(xx, kx)).astype(np.complex64)
        power = [0] * len(out)
        for b in blocks:
            bx = b @ ex
            for p in range(len(out)):
                power[p] = power[p] + np.abs(ey[p] @ np.ascontiguousarray(bx[:, p * n:(p + 1) * n])) ** 2
        for p in range(len(out)):
            i, j = np.unravel_index(np.argmax(power[p]), power[p].shape)
            i, j = min(max(i, 1), n - 2), min(max(j, 1), n - 2)
            logs = np.log(np.maximum(power[p][i - 1:i + 2, j - 1:j + 2].astype(np.float64), 1e-300))
            di = _parabola_vertex(logs[0, 1], logs[1, 1], logs[2, 1])
            dj = _parabola_vertex(logs[1, 0], logs[1, 1], logs[1, 2])
            out[p, 0] = ky[p][i] + di * step / h
            out[p, 1] = kx[p][j] + dj * step / w
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
