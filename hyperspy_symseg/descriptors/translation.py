"""Translational-symmetry descriptors: the local correlation map.

For a patch ``P`` of half sizes ``(patch_y, patch_x)`` centred on pixel ``(y, x)``
and a shift ``(m, n)``, the score is Pearson's correlation between ``P(y, x)``
and ``P(y + m, x + n)`` (Wang et al., Microsc. Microanal. 27, 1454 (2021),
eq. 2-3). Every sum in it is a box sum:

* ``sum I`` and ``sum I**2`` over a patch come from integral images, once per image;
* ``sum I(r) I(r + t)`` over a patch is a box sum of the product image, kept as
  running column sums that slide down the image (each image row is added once
  and removed once per shift) and prefix sums along each grid row (running window
  sums where every box of the row is full and the stride is 1).

So the ``direct`` method (kernel in module ``_translation_direct``) costs O(shifts x
pixels), independent of the patch area. It runs as a fixed number of tasks (blocks of
grid rows, every shift; each task writes its output rows once, contiguously) shared
among Python threads as they become free
(:mod:`hyperspy_symseg._tasks`), so the scores do not depend on the number of threads.
The ``fft`` method follows the paper's Appendix B (module ``_translation_fft``): the
cross sums for every shift come from FFT correlations of the patch rows with their
neighbourhoods, shared by the centres of a grid column; patch means and norms come
from the same integral images.

Edges. With ``edges="exclude"`` (pySTEM's choice) descriptors exist only where the
patch and every shifted patch lie inside the image, i.e. at least ``patch + max
|shift|`` pixels from the edge. With ``edges="shrink"`` the grid reaches to
``max(patch, max |shift|)`` pixels from the edge: where a shifted patch would leave
the image, the score is the Pearson correlation over the rows and columns of the
patch for which both the patch pixel and its shifted partner lie inside (at least
half the patch along each axis), so the
border gets labels from its own texture instead of a copy of the nearest interior
label. Away from the edges both give identical scores.

Both methods work in float64 on the image with its mean removed and its standard
deviation scaled to one, which makes the score exactly invariant to an added
constant and free of the cancellation that large offsets cause. A patch whose
variance is below ``FLAT_TOLERANCE`` times the image variance is *flat*; every
score involving a flat patch is defined as 0 (no evidence of symmetry), never NaN.
For a tile of a larger image, "the image" is the whole image (``reference_std``), so
tiles and the whole image agree. Any finite magnitude works (1e-300 to 1e300): the
image is scaled by a power of two first, which changes no bit of the result.

Kernels take and return NumPy arrays and never import HyperSpy.
"""

from __future__ import annotations

import contextlib
import math

import numba
import numpy as np

from .._tasks import run_tasks
from .._threading import num_threads, serialised
from ._grid import DescriptorGrid, descriptor_grid
from ._pearson_kernels import _clipped_pearson, _pearson, _row_bounds  # noqa: F401 (tests import them from here)
from ._translation_direct import _lcm_direct_rows
from ._translation_fft import lcm_fft

#: How descriptors treat the image edges (see the module docstring).
EDGES = ("shrink", "exclude")

#: A patch whose variance is below this fraction of the image variance is flat (its
#: standard deviation below 3e-4 of the image's: no detector's noise is that small, so
#: in a recorded image only constant or clipped regions are flat). At 1e-10 the
#: noise-free vacuum hole of the suite's holey-carbon particle at 4 px per period, whose
#: values are ~1e-6 of the image's with a faint row structure, correlated like a crystal
#: (0.915 -> 0.984 at 1e-7; 1e-8 left it at 0.906; 1e-6 dropped the same scene at 40 px,
#: noise-free, from 0.957 to 0.702: its vacuum then went flat next to the particle). No
#: other suite scene moved by more than 0.001 and ``bench_real.py`` did not move.
FLAT_TOLERANCE = 1e-7

#: An image whose standard deviation is below this fraction of its largest magnitude
#: is constant: what varies is the rounding of float64 arithmetic (its mean).
ROUNDING = 1e-13


@numba.njit(cache=True, nogil=True, inline="always")
def _row_peak(image, y):
    """Largest magnitude of row ``y``."""
    acc = 0.0
    for x in range(image.shape[1]):
        acc = max(acc, abs(image[y, x]))
    return acc


@numba.njit(cache=True, nogil=True, inline="always")
def _row_sum(image, y, pre):
    """Sum of row ``y`` scaled by ``pre``."""
    acc = 0.0
    for x in range(image.shape[1]):
        acc += image[y, x] * pre
    return acc


@numba.njit(cache=True, nogil=True, inline="always")
def _row_squares(image, y, pre, mean):
    """Sum of the squared deviations from ``mean`` of row ``y`` scaled by ``pre``."""
    acc = 0.0
    for x in range(image.shape[1]):
        d = image[y, x] * pre - mean
        acc += d * d
    return acc


@numba.njit(cache=True, nogil=True, inline="always")
def _ordered_sum(values):
    """Sum in index order: a plain loop, which numba's parallel pass leaves serial (``values.sum()``
    in a ``parallel=True`` kernel becomes a reduction split by thread, its rounding
    depending on the number of threads)."""
    acc = 0.0
    for i in range(values.shape[0]):
        acc += values[i]
    return acc


@serialised
@numba.njit(cache=True, nogil=True, parallel=True)
def _normalize_kernel(image, out):
    """Write (image - mean) / std into ``out``; return std (0 for a constant image).

    The image is first scaled by the power of two nearest its largest magnitude, which
    is exact (bit for bit the same result) and keeps squares and sums of any finite
    float64 image, e.g. 1e200 or 1e-200, free of overflow and underflow. A standard
    deviation below ``ROUNDING`` times the largest magnitude is rounding noise: the image
    is constant and ``out`` all zeros.
    """
    height, width = image.shape
    rows = np.empty(height)
    for y in numba.prange(height):
        rows[y] = _row_peak(image, y)
    peak = rows.max()
    exponent = math.frexp(peak)[1] if peak > 0 else 0
    pre = math.ldexp(1.0, -exponent)
    for y in numba.prange(height):
        rows[y] = _row_sum(image, y, pre)
    mean = _ordered_sum(rows) / (height * width)
    for y in numba.prange(height):
        rows[y] = _row_squares(image, y, pre, mean)
    std = math.sqrt(_ordered_sum(rows) / (height * width))
    if std <= ROUNDING * peak * pre:
        # Variations at the level of the rounding of the mean: a constant image.
        for y in numba.prange(height):
            for x in range(width):
                out[y, x] = 0.0
        return 0.0
    scale = 1.0 / std
    for y in numba.prange(height):
        for x in range(width):
            out[y, x] = (image[y, x] * pre - mean) * scale
    return math.ldexp(std, exponent)


@numba.njit(cache=True, nogil=True, inline="always")
def _normalize_rows(image, out):
    """The body of :func:`_normalize_serial`, inlined into the kernels that call it."""
    height, width = image.shape
    rows = np.empty(height)
    for y in range(height):
        rows[y] = _row_peak(image, y)
    peak = rows.max()
    exponent = math.frexp(peak)[1] if peak > 0 else 0
    pre = math.ldexp(1.0, -exponent)
    for y in range(height):
        rows[y] = _row_sum(image, y, pre)
    mean = _ordered_sum(rows) / (height * width)
    for y in range(height):
        rows[y] = _row_squares(image, y, pre, mean)
    std = math.sqrt(_ordered_sum(rows) / (height * width))
    if std <= ROUNDING * peak * pre:
        for y in range(height):
            for x in range(width):
                out[y, x] = 0.0
        return 0.0
    scale = 1.0 / std
    for y in range(height):
        for x in range(width):
            out[y, x] = (image[y, x] * pre - mean) * scale
    return math.ldexp(std, exponent)


@numba.njit(cache=True, nogil=True)
def _normalize_serial(image, out):
    """:func:`_normalize_kernel` on one thread: the same arithmetic in the same order, the same bits.

    For small images, where loading a parallel kernel from numba's cache costs more
    CPU than its work (benchmarks/bench_lcm.py --fresh).
    """
    return _normalize_rows(image, out)


def as_float_image(image: np.ndarray) -> np.ndarray:
    """``image`` as native float32 or float64, the types the kernels compile for.

    Integers, float16, long double and non-native byte orders (e.g. big-endian ``>f4``
    from some files) are converted to float64; float32 and float64 are returned as they are.
    """
    image = np.asarray(image)
    if image.dtype.kind not in "fiu":
        raise TypeError(f"image must be real (float or integer), got dtype {image.dtype}")
    if image.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        image = image.astype(np.float64)
    return image


def normalized_image(image: np.ndarray, return_variance: bool = False, return_std: bool = False):
    """Float64 copy of a 2D image with zero mean and unit standard deviation.

    A constant image is only centred (it is all zeros afterwards). With
    ``return_variance`` also returns the copy's variance (1, or 0 if constant); with
    ``return_std`` the standard deviation of ``image`` in its own units instead.
    Any real dtype and magnitude (finite) is accepted (see :func:`as_float_image`).
    """
    image = as_float_image(image)
    out = np.empty(image.shape, dtype=np.float64)
    std = _normalize_kernel(np.ascontiguousarray(image), out)
    if return_std:
        return out, float(std)
    if return_variance:
        return out, (1.0 if std > 0 else 0.0)
    return out


def image_std(image: np.ndarray) -> float:
    """Population standard deviation of an image, free of overflow (power-of-two scaling).

    0 for a constant image, also when rounding makes its values differ (``ROUNDING``).
    """
    image = np.asarray(image, dtype=np.float64)
    peak = float(np.max(np.abs(image))) if image.size else 0.0
    if not peak > 0:
        return 0.0
    exponent = math.frexp(peak)[1]
    std = float(np.std(np.ldexp(image, -exponent)))
    return 0.0 if std <= ROUNDING * peak * math.ldexp(1.0, -exponent) else math.ldexp(std, exponent)


def flat_variance(std: float, reference_std: float | None) -> float:
    """Variance, in units of an image normalized by its own ``std``, that flatness is judged against.

    Without a reference it is the normalized image's own variance (1, or 0 if
    constant). With ``reference_std`` (the standard deviation of the whole image a
    tile is cut from) it is that image's variance, so a tile's patches are flat exactly
    when they would be in the whole image, whatever the tile holds.
    """
    if std <= 0:
        return 0.0
    if reference_std is None:
        return 1.0
    return (float(reference_std) / std) ** 2


def patch_statistics(image: np.ndarray, patch_y: int, patch_x: int, integrals=None, variance=None):
    """Mean and inverse norm of every patch that fits in a normalized image.

    Returns two float64 arrays of shape ``(H - 2 patch_y, W - 2 patch_x)``; element
    ``[r, c]`` belongs to the patch whose top-left pixel is ``(r, c)``. The inverse
    norm is ``1 / sqrt(sum (I - mean)**2)``, or 0 for a flat patch (variance below
    ``FLAT_TOLERANCE`` times the image variance), which makes its scores 0. Box sums
    come from the image's integral images (``integrals``, computed if not given), in
    float64; ``variance`` is the image's variance if known.
    """
    image = np.ascontiguousarray(image, dtype=np.float64)
    shape = (image.shape[0] - 2 * patch_y, image.shape[1] - 2 * patch_x)
    npix = (2 * patch_y + 1) * (2 * patch_x + 1)
    flat = FLAT_TOLERANCE * npix * float(image.var() if variance is None else variance)
    mean = np.empty(shape)
    inv = np.empty(shape)
    if integrals is None and image.size <= SERIAL_PRELUDE_PIXELS:
        ring = np.empty((2, 2 * patch_y + 2, image.shape[1] + 1))
        _integrate_stats(image, patch_y, patch_x, flat, ring[0], ring[1], mean, inv)
        return mean, inv
    ii1, ii2 = integral_images(image) if integrals is None else integrals
    _stats_from_integrals(ii1, ii2, patch_y, patch_x, flat, mean, inv)
    return mean, inv


@numba.njit(cache=True, nogil=True, inline="always")
def _stats_row(ii1, ii2, ia, ib, r, py, px, flat, mean, inv):
    """Mean and inverse norm of the patches whose top row is ``r``; ``ia``, ``ib`` are the
    rows of the integral images holding image rows ``r`` and ``r + 2 py + 1``."""
    w = 2 * px + 1
    npix = float((2 * py + 1) * w)
    for c in range(mean.shape[1]):
        s1 = ii1[ib, c + w] - ii1[ia, c + w] - ii1[ib, c] + ii1[ia, c]
        s2 = ii2[ib, c + w] - ii2[ia, c + w] - ii2[ib, c] + ii2[ia, c]
        m = s1 / npix
        ss = s2 - s1 * m
        mean[r, c] = m
        inv[r, c] = 1.0 / math.sqrt(ss) if ss > flat else 0.0


@serialised
@numba.njit(cache=True, nogil=True, parallel=True)
def _stats_from_integrals(ii1, ii2, py, px, flat, mean, inv):
    h = 2 * py + 1
    for r in numba.prange(mean.shape[0]):
        _stats_row(ii1, ii2, r, r + h, r, py, px, flat, mean, inv)


@numba.njit(cache=True, nogil=True, inline="always")
def _integrate_rows(img, py, px, flat, ii1, ii2, mean, inv):
    """Integral images of ``img`` and ``img**2`` and the patch statistics from them, on one thread.

    The arithmetic of :func:`_integral_images` and :func:`_stats_from_integrals` (the
    same bits). Image row ``y`` of the tables is kept in row ``y % len(ii1)``: with
    ``H + 1`` rows they are the whole tables; with ``2 py + 2`` rows a ring holding just
    the rows the statistics need, when nothing else reads the tables.
    """
    height, width = img.shape
    kept = ii1.shape[0]
    h = 2 * py + 1
    for x in range(width + 1):
        ii1[0, x] = 0.0
        ii2[0, x] = 0.0
    for y in range(height):
        above = y % kept
        row = (y + 1) % kept
        a1 = 0.0
        a2 = 0.0
        ii1[row, 0] = 0.0
        ii2[row, 0] = 0.0
        for x in range(width):
            v = img[y, x]
            a1 += v
            a2 += v * v
            # a row's running sum plus the table's row above, as _integral_images adds them
            ii1[row, x + 1] = a1 + ii1[above, x + 1]
            ii2[row, x + 1] = a2 + ii2[above, x + 1]
        r = y + 1 - h
        if 0 <= r < mean.shape[0]:  # (no statistics rows: the tables only)
            _stats_row(ii1, ii2, r % kept, row, r, py, px, flat, mean, inv)


@numba.njit(cache=True, nogil=True)
def _integrate_stats(img, py, px, flat, ii1, ii2, mean, inv):
    """:func:`_integrate_rows` called from Python (the integral images alone, or the patch statistics)."""
    _integrate_rows(img, py, px, flat, ii1, ii2, mean, inv)


@numba.njit(cache=True, nogil=True)
def _prelude_serial(image, img, py, px, flat_per_variance, ii1, ii2, mean, inv):
    """:func:`_normalize_serial` then :func:`_integrate_stats` in one kernel; returns the image's std.

    The flat threshold is ``flat_per_variance`` times the normalized image's variance
    (1, or 0 for a constant image), as :func:`flat_variance` gives it without a
    reference. One kernel instead of two: a fresh process loads one fewer from numba's
    cache (each load costs 3-8 ms of CPU).
    """
    std = _normalize_rows(image, img)
    variance = 1.0 if std > 0 else 0.0
    _integrate_rows(img, py, px, flat_per_variance * variance, ii1, ii2, mean, inv)
    return std


@serialised
@numba.njit(cache=True, nogil=True, parallel=True)
def _integral_images(img, ii1, ii2):
    """ii1[r, c] = sum of img[:r, :c]; ii2 the same for img**2 ((H+1, W+1) float64)."""
    height, width = img.shape
    for y in numba.prange(height):
        a1 = 0.0
        a2 = 0.0
        ii1[y + 1, 0] = 0.0
        ii2[y + 1, 0] = 0.0
        for x in range(width):
            v = img[y, x]
            a1 += v
            a2 += v * v
            ii1[y + 1, x + 1] = a1
            ii2[y + 1, x + 1] = a2
    ii1[0, :] = 0.0
    ii2[0, :] = 0.0
    block = 64
    for b in numba.prange((width + block) // block):
        for y in range(1, height + 1):
            for x in range(b * block, min(width + 1, (b + 1) * block)):
                ii1[y, x] += ii1[y - 1, x]
                ii2[y, x] += ii2[y - 1, x]


def integral_images(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Summed-area tables of ``image`` and ``image**2``, shape ``(H + 1, W + 1)``.

    ``ii[r, c]`` is the sum over ``image[:r, :c]``, so the sum over rows
    ``t..b`` and columns ``l..r`` (inclusive) is
    ``ii[b+1, r+1] - ii[t, r+1] - ii[b+1, l] + ii[t, l]``.
    """
    image = np.ascontiguousarray(image, dtype=np.float64)
    ii1 = np.empty((image.shape[0] + 1, image.shape[1] + 1))
    ii2 = np.empty_like(ii1)
    if image.size <= SERIAL_PRELUDE_PIXELS:  # the serial kernel of the descriptors' prelude, same bits
        no_rows = np.empty((0, 0))
        _integrate_stats(image, 0, 0, 0.0, ii1, ii2, no_rows, no_rows)
    else:
        _integral_images(image, ii1, ii2)
    return ii1, ii2


#: Images up to this many pixels are normalised, and get their integral images and
#: patch statistics, on one thread: a few milliseconds of work, less than the seven
#: parallel regions it takes cost on a machine whose cores are busy with other work
#: (measured on 2 shared cores: 13 ms on one thread, 130 ms on two). They run as one
#: serial kernel (:func:`_prelude_serial`; two for a tile): a fresh process loads each
#: parallel kernel from numba's cache in about twice the CPU time of a serial one (7.5
#: vs 4 ms here), and the serial ones start no thread pool.
SERIAL_PRELUDE_PIXELS = 1 << 22

@contextlib.contextmanager
def one_thread_if_small(shape):
    """numba's parallel kernels on one thread inside the block for images up to ``SERIAL_PRELUDE_PIXELS``."""
    threads = numba.get_num_threads()
    small = int(np.prod(shape)) <= SERIAL_PRELUDE_PIXELS
    if small:
        numba.set_num_threads(1)
    try:
        yield
    finally:
        if small:
            numba.set_num_threads(threads)


#: Tasks the direct method splits the grid rows into. Each task starts its running
#: sums afresh (about a patch height of extra rows per shift), so few but enough to share
#: out among the threads; a fixed number, so the scores do not depend on the threads.
DIRECT_TASKS = 8


def _direct_task_rows(ny: int) -> int:
    """Grid rows per task of the direct method."""
    return max(1, -(-ny // DIRECT_TASKS))


def shift_margins(shifts: np.ndarray, patch_y: int, patch_x: int) -> tuple[int, int]:
    """Distance from the image edge of the first centre whose shifted patches all fit."""
    return (
        int(patch_y + np.abs(shifts[:, 0]).max()),
        int(patch_x + np.abs(shifts[:, 1]).max()),
    )


def local_correlation_grid(shape, shifts, patch_y, patch_x, stride, edges: str = "shrink") -> DescriptorGrid:
    """The descriptor grid that :func:`local_correlation_map` uses for an image shape.

    The grid contains the centres ``margin + k * stride`` (``margin = patch + max
    |shift|``) that keep ``margin`` pixels from the far edge; with ``edges="shrink"``
    it is extended by whole strides towards the edges while centres stay at least
    ``max(patch, max |shift|)`` pixels inside, where every clipped patch keeps at
    least half of its rows and columns.
    """
    if edges not in EDGES:
        raise ValueError(f"edges must be one of {', '.join(map(repr, EDGES))}; got {edges!r}.")
    margin_y, margin_x = shift_margins(shifts, patch_y, patch_x)
    if edges == "exclude":
        return descriptor_grid(shape, margin_y, margin_x, stride)
    inner_y = max(patch_y, int(np.abs(shifts[:, 0]).max()))
    inner_x = max(patch_x, int(np.abs(shifts[:, 1]).max()))
    return descriptor_grid(shape, margin_y, margin_x, stride, inner_y=inner_y, inner_x=inner_x)


def _boxes_stay_inside(shape, shifts, patch_y, patch_x, grid: DescriptorGrid) -> bool:
    """Whether every patch of the grid and every shifted patch lie inside the image (no clipping)."""
    reach_y = patch_y + int(np.abs(shifts[:, 0]).max())
    reach_x = patch_x + int(np.abs(shifts[:, 1]).max())
    last_y = grid.y0 + (grid.ny - 1) * grid.stride
    last_x = grid.x0 + (grid.nx - 1) * grid.stride
    return (grid.y0 >= reach_y and grid.x0 >= reach_x
            and last_y + reach_y <= shape[0] - 1 and last_x + reach_x <= shape[1] - 1)


def _prelude(image, shifts, patch_y, patch_x, grid, reference_std):
    """(normalized image, flat variance, integral images, patch means, patch inverse norms).

    Images up to ``SERIAL_PRELUDE_PIXELS`` go through one serial kernel (two for a tile,
    ``reference_std`` given); when no box is clipped (e.g. ``edges="exclude"``) the
    kernels read no integral image, and only a ring of ``2 patch_y + 2`` rows of them is
    kept (16 MB less at 1024 x 1024). Larger images go through the parallel kernels on
    every thread. The same bits either way.
    """
    image = as_float_image(image)
    if image.size > SERIAL_PRELUDE_PIXELS:
        img, std = normalized_image(image, return_std=True)
        variance = flat_variance(std, reference_std)
        ii1, ii2 = integral_images(img)
        mean, inv = patch_statistics(img, patch_y, patch_x, (ii1, ii2), variance)
        return img, variance, ii1, ii2, mean, inv
    img = np.empty(image.shape, dtype=np.float64)
    height, width = image.shape
    rows = 2 * patch_y + 2 if _boxes_stay_inside(image.shape, shifts, patch_y, patch_x, grid) else height + 1
    tables = np.empty((2, rows, width + 1))
    mean = np.empty((height - 2 * patch_y, width - 2 * patch_x))
    inv = np.empty_like(mean)
    npix = (2 * patch_y + 1) * (2 * patch_x + 1)
    if reference_std is None:  # one kernel; the threshold as below: (FLAT_TOLERANCE * npix) * variance
        std = float(_prelude_serial(np.ascontiguousarray(image), img, patch_y, patch_x, FLAT_TOLERANCE * npix,
                                    tables[0], tables[1], mean, inv))
        return img, flat_variance(std, None), tables[0], tables[1], mean, inv
    std = float(_normalize_serial(np.ascontiguousarray(image), img))
    variance = flat_variance(std, reference_std)
    flat = FLAT_TOLERANCE * npix * float(variance)  # as patch_statistics computes it
    _integrate_stats(img, patch_y, patch_x, flat, tables[0], tables[1], mean, inv)
    return img, variance, tables[0], tables[1], mean, inv


def local_correlation_map(
    image: np.ndarray,
    shifts: np.ndarray,
    patch_y: int,
    patch_x: int,
    stride: int = 1,
    method: str = "direct",
    edges: str = "shrink",
    out: np.ndarray | None = None,
    fft_batch: int = 128,
    fft_workers: int | None = None,
    progress=None,
    grid: DescriptorGrid | None = None,
    reference_std: float | None = None,
) -> tuple[np.ndarray, DescriptorGrid]:
    """Pearson scores of translations for every centre of a stride grid.

    Parameters
    ----------
    image : (H, W) ndarray
        Real image, any float or integer dtype. Not modified. Each axis needs at
        least ``2 * (patch + max |shift|) + 1`` pixels.
    shifts : (N, 2) int ndarray
        Translations ``(m, n) = (dy, dx)`` in pixels.
    patch_y, patch_x : int
        Half height and half width (>= 1) of the patch.
    stride : int
        Grid spacing in pixels (>= 1).
    method : {"direct", "fft"}
        Running box sums, or FFT correlations of the patch rows (paper, Appendix B).
    edges : {"shrink", "exclude"}
        Whether the grid reaches into the edge margin with clipped patches (see the
        module docstring).
    out : (ny, nx, N) float32 ndarray, optional
        Where to write the result.
    fft_batch : int
        Grid points per task of the ``fft`` method, rounded down to whole grid columns
        (at least one).
    fft_workers : int, optional
        Threads of the ``fft`` method (``scipy.fft``'s meaning: -1 all CPUs; None
        numba's thread count).
    progress : callable, optional
        Called with the number of grid points just finished (once for ``direct``,
        after every batch for ``fft``), e.g. a progress bar's ``update``.
    grid : DescriptorGrid, optional
        Evaluate on these centres instead of the image's own grid (e.g. a part of the
        grid of a larger image, in the coordinates of this tile of it). Centres within
        ``patch + max |shift|`` of an edge of ``image`` get clipped patches, so a tile
        must extend that far beyond its centres except at the true image edges.
    reference_std : float, optional
        Standard deviation of the whole image ``image`` is a tile of: patches are flat
        (score 0) when their variance is below ``FLAT_TOLERANCE`` times the whole
        image's variance, so a tile gives the whole image's scores whatever it holds.
        None: ``image`` is the whole image.

    Returns
    -------
    scores : (ny, nx, N) float32 ndarray
        ``scores[i, j, k]`` is the score of shift ``k`` at grid point ``(i, j)``.
    grid : DescriptorGrid
        Where the grid points are (see :func:`local_correlation_grid`).
    """
    shifts = np.ascontiguousarray(shifts, dtype=np.int64)
    reach_y = patch_y + int(np.abs(shifts[:, 0]).max())
    reach_x = patch_x + int(np.abs(shifts[:, 1]).max())
    shape = np.shape(image)
    if grid is None and (len(shape) != 2 or shape[0] < 2 * reach_y + 1 or shape[1] < 2 * reach_x + 1):
        raise ValueError(
            f"The image ({' x '.join(map(str, shape))} px) is too small for patch_y={patch_y}, patch_x={patch_x} "
            f"and shifts up to ({reach_y - patch_y}, {reach_x - patch_x}) px: it needs at least "
            f"{2 * reach_y + 1} x {2 * reach_x + 1} px (2 * (patch + max |shift|) + 1)."
        )
    if grid is None:
        grid = local_correlation_grid(image.shape, shifts, patch_y, patch_x, stride, edges)
    stride = grid.stride
    if out is None:
        out = np.empty(grid.shape + (len(shifts),), dtype=np.float32)
    img, variance, ii1, ii2, mean, inv = _prelude(image, shifts, patch_y, patch_x, grid, reference_std)
    flat_pp = FLAT_TOLERANCE * variance
    if method == "direct":
        rows = _direct_task_rows(grid.ny)

        def task(t, _):
            _lcm_direct_rows(img, shifts, patch_y, patch_x, grid.y0, grid.x0, t * rows, min(grid.ny, (t + 1) * rows),
                             grid.nx, stride, mean, inv, ii1, ii2, flat_pp, out)

        run_tasks(task, -(-grid.ny // rows), num_threads())
        if progress is not None:
            progress(grid.ny * grid.nx)
    elif method == "fft":
        lcm_fft(img, shifts, patch_y, patch_x, grid, mean, inv, ii1, ii2, flat_pp, out, fft_batch, fft_workers, progress)
    else:
        raise ValueError(f"method must be 'direct' or 'fft', got {method!r}.")
    return out, grid
