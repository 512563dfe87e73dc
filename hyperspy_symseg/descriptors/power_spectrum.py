"""Sliding-window power spectra (window FFT) as local descriptors.

For every centre ``(y, x)`` of the stride grid, the window ``W`` of half sizes
``(window_y, window_x)`` (``Ly x Lx = (2 window_y + 1) x (2 window_x + 1)`` pixels)
centred on it is

1. mean-removed: ``W - mean(W)``;
2. multiplied by a separable Hann taper ``T(r, c) = h_Ly(r) h_Lx(c)``, where, for a
   window of ``L`` pixels,
   ``h_L(n) = sin(pi (n + 1) / (L + 1))**2 = 0.5 - 0.5 cos(2 pi (n + 1) / (L + 1))``
   for ``n = 0 .. L - 1`` (``numpy.hanning(L + 2)[1:-1]``: the Hann window whose zeros
   lie one pixel outside the window, so every pixel has a positive weight, the taper is
   symmetric about the centre pixel and equals 1 there);
3. Fourier transformed, ``F(k_y, k_x) = sum_{r, c} W'(r, c) exp(-2 pi i (k_y r + k_x c))``
   with ``r, c`` counted from the window's top-left pixel (``numpy.fft.fft2``), and
   the power ``|F|**2`` kept, optionally as ``log(1 + |F|**2)``.

This is the sliding-window FFT descriptor of Borodinov et al. (2020) and Jany et al.
(2020) that Wang et al. (2021) compare with the local-correlation map (its inverse
Fourier transform is the window's autocorrelation).

Frequencies are ``k_y = a / Ly`` and ``k_x = b / Lx`` cycles per pixel with integer
indices ``|a| <= window_y`` and ``0 <= b <= window_x`` (the windows have odd sizes, so
there is no Nyquist row or column). The spectrum of a real window is centro-symmetric,
``P(-k) = P(k)``, so only the non-redundant half is kept: ``b > 0`` for every ``a``,
and ``a >= 0`` for ``b = 0``; that is ``(Ly Lx + 1) / 2`` channels, ordered by ``a``
then ``b``. ``crop`` in ``(0, 1]`` keeps only ``|k_y|, |k_x| <= crop * 0.5`` (0.5
cycles per pixel is the Nyquist frequency), the low frequencies where lattice peaks
of typical sampling lie.

Flat windows (variance below ``translation.FLAT_TOLERANCE`` times the image variance,
as for the translation descriptors; for a tile, the whole image's) get all-zero spectra.
Spectra scale with the square of the intensity: images whose spectra would over- or
underflow float32 (values beyond ~1e15 or a standard deviation below 1e-15) are refused
with a ValueError asking to rescale them. The image is centred by its global
mean in float64 before anything else, so adding a constant changes nothing and large
offsets cost no precision; spectra are float32, non-negative and never NaN.

Two exact ways of computing the same numbers, chosen by cost:

* ``"dft"``: the 2D DFT is separable. With the phases taken from the window centre
  (a factor of modulus 1, which the power does not see) and a symmetric taper, the
  taper-weighted DFT along x of a row segment is a cosine transform of its even part
  plus a sine transform of its odd part about the centre column: two real matrix
  products for a block of rows (shared by all grid rows whose windows cover that
  image row), half the products of a full DFT. The DFT along y of the ``Ly``
  consecutive rows of a grid row is a real matrix product with the cosine and sine
  rows, which ``a`` and ``-a`` share. The window mean enters as
  ``F = DFT(T W) - mean(W) DFT(T)``. BLAS-bound; only the kept frequencies are
  computed, so cropping makes it proportionally cheaper. For the default 41 x 41 px
  window it is 4x faster than pocketfft (41 is prime; 9x with the default crop).
* ``"fft"``: windows gathered in batches (numba), mean removed and tapered, then
  ``scipy.fft.rfft2``; faster for large windows with small prime factors (65, 81 px).

``method="auto"`` picks one by a cost model (``_power_methods._choose_method``). Blocks
of grid rows (or of windows) run in a thread pool, each with single-threaded BLAS /
FFT; both methods live in :mod:`hyperspy_symseg.descriptors._power_methods`.

Kernels take and return NumPy arrays and never import HyperSpy.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from .. import _validation as check
from ._grid import DescriptorGrid, descriptor_grid
from ._power_methods import _choose_method, _n_workers, _spectra_dft, _spectra_fft, hann_window
from .translation import ROUNDING, one_thread_if_small, patch_statistics

__all__ = [
    "METHODS",
    "TAPERS",
    "PowerSpectrumDescriptor",
    "hann_window",
    "power_spectrum_frequencies",
    "power_spectrum_map",
]

#: Real-space tapers of the window ("none": no taper, i.e. a box window).
TAPERS = ("hann", "none")

#: Ways of computing the spectra ("auto" picks the cheaper of the two).
METHODS = ("auto", "dft", "fft")


def power_spectrum_frequencies(window_y: int, window_x: int, crop: float | None = None) -> np.ndarray:
    """Frequency indices ``(a, b)`` of the kept channels, shape ``(N, 2)`` int64.

    Channel ``(a, b)`` is the frequency ``(k_y, k_x) = (a / Ly, b / Lx)`` cycles per
    pixel, ``Ly = 2 window_y + 1``, ``Lx = 2 window_x + 1``. The non-redundant half of
    the centro-symmetric spectrum (``b > 0``, or ``b = 0`` and ``a >= 0``), with
    ``|k_y|, |k_x| <= crop * 0.5`` if ``crop`` is given; ordered by ``a`` then ``b``.
    """
    ly, lx = 2 * window_y + 1, 2 * window_x + 1
    limit = 0.5 if crop is None else 0.5 * float(crop)
    a = np.arange(-window_y, window_y + 1)
    b = np.arange(0, window_x + 1)
    # A tiny slack keeps e.g. crop = 2 * 3 / 41 from dropping index 3 by rounding.
    a = a[np.abs(a) / ly <= limit + 1e-12]
    b = b[b / lx <= limit + 1e-12]
    aa, bb = np.meshgrid(a, b, indexing="ij")
    keep = (bb > 0) | (aa >= 0)
    return np.stack([aa[keep], bb[keep]], axis=1).astype(np.int64)


def power_spectrum_map(
    image: np.ndarray,
    window_y: int,
    window_x: int,
    stride: int = 1,
    log: bool = False,
    crop: float | None = None,
    taper: str | None = "hann",
    out: np.ndarray | None = None,
    method: str = "auto",
    fft_workers: int | None = None,
    progress=None,
    grid: DescriptorGrid | None = None,
    reference_std: float | None = None,
) -> tuple[np.ndarray, DescriptorGrid]:
    """Power spectra of the windows centred on every point of a stride grid.

    Parameters
    ----------
    image : (H, W) ndarray
        Real image, any float or integer dtype; not modified. Needs at least
        ``2 * window + 1`` pixels along each axis.
    window_y, window_x : int
        Half height and half width (>= 1) of the window; it is
        ``(2 window_y + 1) x (2 window_x + 1)`` pixels.
    stride : int
        Grid spacing in pixels (>= 1). Centres are ``window + k * stride`` from the
        top-left corner (:func:`~hyperspy_symseg.descriptors.descriptor_grid`).
    log : bool
        Return ``log(1 + |F|**2)`` instead of ``|F|**2``.
    crop : float in (0, 1] or None
        Keep only ``|k_y|, |k_x| <= crop * 0.5`` cycles per pixel; None or 1 keeps all.
    taper : {"hann", "none"} or None
        Real-space taper (see :func:`hann_window`); "none" or None: no taper.
    out : (ny, nx, N) float32 ndarray, optional
        Where to write the result.
    method : {"auto", "dft", "fft"}
        How to compute (module docstring); all give the same numbers.
    fft_workers : int, optional
        Threads (blocks of grid points run in parallel, each with single-threaded
        BLAS / FFT); None or -1: numba's thread count (all cores by default).
    progress : callable, optional
        Called with the number of grid points finished after every block.
    grid : DescriptorGrid, optional
        Evaluate on these centres (e.g. part of a larger image's grid, in the
        coordinates of this tile of it).
    reference_std : float, optional
        Standard deviation of the whole image ``image`` is a tile of: windows are flat
        (all-zero spectra) when their variance is below ``FLAT_TOLERANCE`` times the
        whole image's variance. None: ``image`` is the whole image.

    Returns
    -------
    spectra : (ny, nx, N) float32 ndarray
        ``spectra[i, j, k]`` is the power of channel ``k`` (frequency
        ``channels[k] / (Ly, Lx)``, see :func:`power_spectrum_frequencies`) at grid
        point ``(i, j)``.
    grid : DescriptorGrid
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"image must be 2D (rows, columns), got shape {image.shape}.")
    if image.dtype.kind not in "fiu":
        raise TypeError(f"image must be real (float or integer), got dtype {image.dtype}")
    window_y = check.check_int("window_y", window_y, 1)
    window_x = check.check_int("window_x", window_x, 1)
    stride = check.check_int("stride", stride, 1)
    crop = _check_crop(crop)
    taper = "none" if taper is None else taper
    check.check_choice("taper", taper, TAPERS)
    check.check_choice("method", method, METHODS)
    height, width = image.shape
    if height < 2 * window_y + 1 or width < 2 * window_x + 1:
        raise ValueError(
            f"The image ({height} x {width} px) is too small for window_y={window_y}, window_x={window_x}: "
            f"it needs at least {2 * window_y + 1} x {2 * window_x + 1} px."
        )
    channels = power_spectrum_frequencies(window_y, window_x, crop)
    if grid is None:
        grid = descriptor_grid(image.shape, window_y, window_x, stride)
    if out is None:
        out = np.empty(grid.shape + (len(channels),), dtype=np.float32)
    img = np.asarray(image, dtype=np.float64)
    magnitude = float(np.max(np.abs(img))) if img.size else 0.0
    img = np.ascontiguousarray(img - img.mean())
    _check_magnitude(img, window_y, window_x, reference_std, magnitude)
    variance = None if reference_std is None else float(reference_std) ** 2
    with one_thread_if_small(img.shape):
        means, invs = patch_statistics(img, window_y, window_x, variance=variance)
    if method == "auto":
        method = _choose_method(window_y, window_x, channels, stride)
    workers = _n_workers(fft_workers)
    compute = _spectra_dft if method == "dft" else _spectra_fft
    compute(img, grid, window_y, window_x, taper, channels, bool(log), means, invs, out, workers, progress)
    return out, grid


#: Image standard deviations below this make float32 power spectra meaningless
#: (squares of squares underflow); see :func:`_check_magnitude`.
MIN_STD = 1e-15


def _check_magnitude(img: np.ndarray, window_y: int, window_x: int, reference_std: float | None,
                     magnitude: float) -> None:
    """Refuse images whose power spectra over- or underflow float32 (every descriptor inf or 0).

    Pearson scores do not depend on the intensity scale; power spectra scale with its
    square, so images of values like 1e160 or 1e-170 must be rescaled by the user.
    ``img`` has its mean removed; ``magnitude`` is the largest |value| before that. A
    constant image (variations at the level of rounding) is fine: its spectra are 0.
    """
    peak = float(np.max(np.abs(img))) if img.size else 0.0
    if peak == 0.0:
        return
    # |F| <= sum of |window - mean| <= 2 peak Ly Lx; its square must fit in float32.
    limit = math.sqrt(float(np.finfo(np.float32).max)) / (2.0 * (2 * window_y + 1) * (2 * window_x + 1))
    if not peak <= limit:
        raise ValueError(
            f"The image values are too large for power_spectrum descriptors (max |value - mean| = {peak:.3g}; "
            f"float32 power spectra of {2 * window_y + 1} x {2 * window_x + 1} px windows need at most {limit:.3g}). "
            "Rescale the image, e.g. s / s.data.std()."
        )
    if reference_std is None:
        exponent = math.frexp(peak)[1]
        std = math.ldexp(float(np.std(np.ldexp(img, -exponent))), exponent)
    else:
        std = float(reference_std)
    if ROUNDING * magnitude < std < MIN_STD:
        raise ValueError(
            f"The image values are too small for power_spectrum descriptors (standard deviation {std:.3g} < "
            f"{MIN_STD:g}: float32 power spectra underflow). Rescale the image, e.g. s / s.data.std()."
        )


# -------------------------------------------------------------------- descriptor


@dataclass(frozen=True, eq=False)
class PowerSpectrumDescriptor:
    """Sliding-window power spectra (module docstring) as a descriptor family.

    Parameters
    ----------
    window_x, window_y : int
        Half width and half height of the window.
    log : bool
        ``log(1 + power)`` instead of the power.
    crop : float or None
        Low-frequency crop (fraction of the Nyquist frequency), None for all.
    taper : {"hann", "none"}
    channels : (N, 2) int64 ndarray
        Frequency indices ``(a, b)``: ``(k_y, k_x) = (a / (2 window_y + 1),
        b / (2 window_x + 1))`` cycles per pixel.
    name : str
    parameters : dict
        The user-facing parameters (kept in metadata).
    """

    window_x: int
    window_y: int
    log: bool
    crop: float | None
    taper: str
    channels: np.ndarray
    name: str = "power_spectrum"
    parameters: dict = field(default_factory=dict)

    nonnegative = True

    @property
    def quantity(self) -> str:
        return "log(1 + power spectrum)" if self.log else "Power spectrum"

    @property
    def n_operations(self) -> int:
        return len(self.channels)

    @property
    def window_shape(self) -> tuple[int, int]:
        """``(Ly, Lx)``: the window size in pixels."""
        return (2 * self.window_y + 1, 2 * self.window_x + 1)

    @property
    def frequencies(self) -> np.ndarray:
        """(N, 2) float64 ``(k_y, k_x)`` of the channels in cycles per pixel."""
        return self.channels / np.array(self.window_shape, dtype=np.float64)

    @property
    def min_shape(self) -> tuple[int, int]:
        return self.window_shape

    @property
    def size_hint(self) -> str:
        return f"window_y={self.window_y}, window_x={self.window_x}: it needs at least 2*window + 1"

    def grid(self, shape: tuple[int, int], stride: int) -> DescriptorGrid:
        return descriptor_grid(shape, self.window_y, self.window_x, stride)

    @property
    def halo(self) -> int:
        """Pixels around a grid point that its descriptor depends on."""
        return max(self.window_y, self.window_x)

    def compute(
        self, image: np.ndarray, stride: int, out: np.ndarray | None = None, fft_workers=None, progress=None,
        grid: DescriptorGrid | None = None, origin=(0, 0), reference_std: float | None = None,
    ) -> np.ndarray:
        """(ny, nx, N) float32 power spectra of ``image`` (H, W) on the stride grid (or ``grid``).

        ``reference_std``: standard deviation of the whole image a tile is cut from
        (sets the flat-window threshold, see :func:`power_spectrum_map`).
        """
        image = np.asarray(image)
        if grid is None:
            grid = self.grid(image.shape, stride)
        if out is None:
            out = np.empty(grid.shape + (self.n_operations,), dtype=np.float32)
        channels = self.channels
        full = power_spectrum_frequencies(self.window_y, self.window_x, self.crop)
        if len(full) == len(channels) and np.array_equal(full, channels):
            power_spectrum_map(
                image, self.window_y, self.window_x, grid.stride, self.log, self.crop, self.taper,
                out=out, fft_workers=fft_workers, progress=progress, grid=grid, reference_std=reference_std,
            )
            return out
        # A subset: compute the smallest crop holding the kept channels, then pick them.
        crop = self._covering_crop()
        spectra, _ = power_spectrum_map(
            image, self.window_y, self.window_x, grid.stride, self.log, crop, self.taper,
            fft_workers=fft_workers, progress=progress, grid=grid, reference_std=reference_std,
        )
        cover = power_spectrum_frequencies(self.window_y, self.window_x, crop)
        position = {(int(a), int(b)): k for k, (a, b) in enumerate(cover)}
        index = np.array([position[(int(a), int(b))] for a, b in channels], dtype=np.int64)
        np.take(spectra, index, axis=2, out=out)
        return out

    def _covering_crop(self) -> float | None:
        ly, lx = self.window_shape
        reach = max(np.abs(self.channels[:, 0]).max() / ly, self.channels[:, 1].max() / lx) / 0.5
        return None if reach >= 1 else float(reach)

    def operation_names(self) -> list[str]:
        """Readable names ``"k(k_y, k_x)"`` in cycles per pixel, e.g. ``"k(-0.0244, 0.0488)"``."""
        return [f"k({ky:.4f}, {kx:.4f})" for ky, kx in self.frequencies]

    def subset(self, indices) -> "PowerSpectrumDescriptor":
        """The same descriptor restricted to some channels."""
        indices = np.asarray(indices)
        if indices.ndim != 1 or indices.size == 0:
            raise ValueError("subset needs a 1D sequence of at least one channel index.")
        channels = np.ascontiguousarray(self.channels[indices])
        return PowerSpectrumDescriptor(
            self.window_x, self.window_y, self.log, self.crop, self.taper, channels, self.name, dict(self.parameters)
        )

    def metadata(self) -> dict:
        """Plain-value description for ``metadata`` of HyperSpy signals."""
        return {
            "descriptor": self.name,
            **{k: v for k, v in self.parameters.items() if v is not None},
            "operation_type": "power_spectrum",
            "window_shape": np.array(self.window_shape),
            "frequencies": self.frequencies,
            "frequency_indices": np.asarray(self.channels),
            "frequencies_order": "(k_y, k_x) = (rows, columns) in cycles per pixel; index / window size",
            "taper_definition": (
                "sin(pi (n + 1) / (L + 1))**2, n = 0..L-1, separable" if self.taper == "hann" else "none"
            ),
        }


def _check_crop(crop) -> float | None:
    if crop is None:
        return None
    if isinstance(crop, (bool, np.bool_)) or not isinstance(crop, numbers.Real):
        raise TypeError(f"crop must be None or a number in (0, 1] (a fraction of the Nyquist frequency), got {crop!r}.")
    crop = float(crop)
    if not (0.0 < crop <= 1.0):
        raise ValueError(f"crop must be None or a number in (0, 1] (a fraction of the Nyquist frequency), got {crop}.")
    return None if crop == 1.0 else crop


def _build_power_spectrum(name, window_x, window_y, log, crop, taper):
    window_x = check.check_int("window_x", window_x, 1)
    window_y = check.check_int("window_y", window_y, 1)
    if not isinstance(log, (bool, np.bool_)):
        raise TypeError(f"log must be True or False, got {log!r}.")
    log = bool(log)
    crop = _check_crop(crop)
    taper = "none" if taper is None else taper
    if not isinstance(taper, str) or taper not in TAPERS:
        raise ValueError(f"taper must be 'hann' or None (or 'none'); got {taper!r}.")
    channels = power_spectrum_frequencies(window_y, window_x, crop)
    parameters = {"window_x": window_x, "window_y": window_y, "log": log, "crop": crop, "taper": taper}
    return PowerSpectrumDescriptor(window_x, window_y, log, crop, taper, channels, name, parameters)


def _register():
    from ._registry import register

    # crop 0.5 keeps spatial periods >= 4 px (|k| <= 0.25 cycles/px), where lattice
    # fringes lie at the usual sampling: on the accuracy suite (benchmarks) it gave the
    # same accuracy as the full spectrum (mean 0.985, min 0.968) with a quarter of the
    # channels and 2.6x less time.
    register(
        "power_spectrum",
        {"window_x": 20, "window_y": 20, "log": False, "crop": 0.5, "taper": "hann"},
        _build_power_spectrum,
    )


_register()
