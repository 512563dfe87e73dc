"""Imaging defaults of the ready-made scenes and their sampling (pixel size or period)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._lattices import Amorphous, Lattice
from ._noise import ConstantBackground, LowFrequencyBackground, ScanNoise
from ._probes import GaussianProbe, HRTEMTransfer
from ._sampling import pixel_size_for_period, probe_for_lattice
from ._utils import _image_shape, _positive

_IMAGING_KEYS = {"probe", "peak_counts", "dose", "peak_fraction", "scan_noise", "background", "read_noise", "shift"}

#: Pixel size (nm) of the ready-made scenes when neither ``pixel_size`` nor ``period_px`` is given.
DEFAULT_PIXEL_SIZE = 0.02


def _check_imaging(kwargs: dict) -> None:
    unknown = set(kwargs) - _IMAGING_KEYS
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")


def _merge(defaults: dict, overrides: dict) -> dict:
    """``defaults`` updated by ``overrides`` (checked); a ``dose`` replaces the default ``peak_counts``."""
    _check_imaging(overrides)
    out = dict(defaults)
    if overrides.get("dose") is not None and "peak_counts" not in overrides:
        out["peak_counts"] = None
    out.update(overrides)
    return out


def _default_imaging(kwargs: dict) -> dict:
    """HAADF-like defaults: ~100 counts at a column peak, light scan noise, weak background."""
    out = {
        "probe": GaussianProbe(fwhm=0.09),
        "peak_counts": 100.0,
        "scan_noise": ScanNoise(sigma=0.01, frequency=50.0, phase=90.0),
        "background": [ConstantBackground(0.05), LowFrequencyBackground(amplitude=0.02, length=2.0)],
    }
    return _merge(out, kwargs)


def hrtem_imaging(
    shape: tuple[int, int] = (512, 512),
    pixel_size: float = DEFAULT_PIXEL_SIZE,
    *,
    energy: float = 80.0,
    defocus: float = -6.0,
    cs: float = 0.0,
    contrast: float = 0.1,
    peak_counts: float | None = 400.0,
    background_amplitude: float = 0.02,
    background_length: float = 0.25,
    **imaging: Any,
) -> dict:
    """Imaging keyword arguments for HRTEM (phase contrast) instead of HAADF-STEM.

    For any ready-made scene (``simulate.two_grain_image(**hrtem_imaging(...))``) or
    :func:`simulate_image`: an :class:`HRTEMTransfer` probe (weak-phase object through
    the CTF, bright field 1; ``focal_spread`` 2 nm, ``convergence`` 0.1 mrad), no scan
    noise, ``peak_counts`` at the bright field, and a weak
    :class:`LowFrequencyBackground` (standard deviation ``background_amplitude``,
    correlation length ``background_length`` times the field of view: thickness and
    contamination variations).

    With ``cs = 0`` the sign of ``defocus`` sets the contrast: ``defocus < 0``
    (underfocus) gives dark columns for lattices of 0.25-0.4 nm at 80 kV, ``defocus >
    0`` the reversed, bright columns.

    Parameters
    ----------
    shape, pixel_size
        The image the background is scaled to.
    energy, defocus, cs, contrast
        As :class:`HRTEMTransfer` (keV, nm, mm, isolated-column contrast).
    peak_counts : float or None
        Counts per pixel at the bright field (None: noise-free).
    background_amplitude, background_length : float
        Standard deviation (image units, >= 0) and correlation length (fraction of the
        field of view, > 0) of the low-frequency background.
    **imaging
        Further imaging arguments (``background=None`` removes the background, ``dose``
        replaces ``peak_counts``, ...); they win.

    Returns
    -------
    dict
        Keyword arguments for a ready-made scene or :func:`simulate_image`.

    See Also
    --------
    HRTEMTransfer, contaminated_graphene

    Examples
    --------
    >>> from hyperspy_symseg import simulate
    >>> opts = simulate.hrtem_imaging((128, 128), 0.02, defocus=-6.0, peak_counts=None, background=None)
    >>> sim = simulate.two_grain_image((128, 128), 0.02, random_state=0, **opts)
    >>> sim.image.metadata.General.title.startswith("Simulated HRTEM"), round(float(sim.image.data.mean()), 2)
    (True, 1.0)
    """
    ny, nx = _image_shape("shape", shape)
    px = _positive("pixel_size", pixel_size)
    amplitude = _positive("background_amplitude", background_amplitude, allow_zero=True)
    background_length = _positive("background_length", background_length)
    out = {
        "probe": HRTEMTransfer(energy=energy, defocus=defocus, cs=cs, contrast=contrast),
        "peak_counts": peak_counts,
        "scan_noise": None,
        "background": ([LowFrequencyBackground(amplitude=amplitude, length=background_length * min(ny, nx) * px)]
                       if amplitude > 0 else None),
    }
    return _merge(out, imaging)


def _sampling(
    pixel_size: float | None,
    period_px: float | None,
    first: Lattice,
    contents: Sequence[Lattice | Amorphous],
    imaging: dict,
    *,
    default_period: float | None = None,
) -> float:
    """The scene's pixel size; with a period, also the default probe (set in ``imaging``).

    ``period_px`` (or ``default_period`` when neither is given) gives
    ``pixel_size_for_period(first, period_px)`` and a ``probe_for_lattice(contents)``
    unless ``imaging`` has a probe; otherwise ``pixel_size`` (default 0.02 nm) with the
    scene's own probe default.
    """
    if pixel_size is not None and period_px is not None:
        raise ValueError("give pixel_size or period_px, not both")
    if period_px is None and pixel_size is None:
        period_px = default_period
    if period_px is None:
        return DEFAULT_PIXEL_SIZE if pixel_size is None else _positive("pixel_size", pixel_size)
    px = pixel_size_for_period(first, period_px)
    imaging.setdefault("probe", probe_for_lattice(list(contents)))
    return px


#: Mean of :func:`distorted_imaging`'s low-frequency background, in units of its standard
#: deviation: a detector's background is positive, and a field of mean 0 left the image
#: clipped to zero on ~40 % of its pixels (columns cut down to their tips there).
BACKGROUND_LEVEL_SIGMAS = 3.0


def distorted_imaging(
    shape: tuple[int, int] = (512, 512),
    pixel_size: float = DEFAULT_PIXEL_SIZE,
    *,
    background_amplitude: float = 0.25,
    background_length: float = 0.2,
    jitter: float = 0.5,
    shear: float = 0.04,
    stretch: float = 0.02,
    **imaging: Any,
) -> dict:
    """Imaging keyword arguments with a strong low-frequency background and scan distortions.

    For any ready-made scene (``simulate.two_grain_image(**distorted_imaging(...))``)
    or :func:`simulate_image` (the scene's defaults stay for the probe and the dose):

    * ``ConstantBackground(0.05)`` and a :class:`LowFrequencyBackground` of standard
      deviation ``background_amplitude`` (image units: a fraction of a column peak)
      and correlation length ``background_length`` times the field of view, so it
      stays low-frequency at every sampling, and mean :data:`BACKGROUND_LEVEL_SIGMAS`
      standard deviations, so it stays positive (nothing is clipped to zero);
    * :class:`ScanNoise` with row jitter of ``jitter`` pixels (standard deviation,
      50 Hz) and a drift that shears the image by ``shear`` (x displacement of the last
      row over the image height) and stretches it along y by ``stretch``.

    Parameters
    ----------
    shape, pixel_size
        The image the distortions are scaled to (rows, columns; nm per pixel).
    background_amplitude : float
        >= 0; 0.25 is strong (the columns' peak is 1).
    background_length : float
        > 0, fraction of the smaller side of the field of view.
    jitter : float
        >= 0, pixels.
    shear, stretch : float
        Fractions (any sign).
    **imaging
        Further imaging arguments (``probe``, ``peak_counts``, ...); they win.

    Returns
    -------
    dict
        Keyword arguments for a ready-made scene or :func:`simulate_image`.

    See Also
    --------
    ScanNoise, LowFrequencyBackground

    Examples
    --------
    >>> from hyperspy_symseg import simulate
    >>> opts = simulate.distorted_imaging((128, 128), 0.02, jitter=0.0, shear=0.05)
    >>> sim = simulate.two_grain_image((128, 128), 0.02, random_state=0, **opts)
    >>> d = sim.scan_displacement  # (dy, dx) nm of each row
    >>> round(float((d[0, 1] - d[-1, 1]) / (127 * 0.02)), 2)  # the drift part of x: the shear
    0.05
    """
    ny, nx = _image_shape("shape", shape)
    px = _positive("pixel_size", pixel_size)
    amplitude = _positive("background_amplitude", background_amplitude, allow_zero=True)
    background_length = _positive("background_length", background_length)
    jitter = _positive("jitter", jitter, allow_zero=True)
    line_time = 1e-3
    frame = (ny - 1) * line_time  # time from the first to the last row
    height = (ny - 1) * px
    # the specimen drifts by -drift * t, features appear moved by +drift * t
    drift = (stretch * height / frame, shear * height / frame)
    out = {
        "scan_noise": ScanNoise(sigma=jitter * px, frequency=50.0, phase=90.0, drift=drift, line_time=line_time),
        "background": [ConstantBackground(0.05),
                       LowFrequencyBackground(amplitude=amplitude, length=background_length * min(ny, nx) * px,
                                              level=BACKGROUND_LEVEL_SIGMAS * amplitude)],
    }
    return _merge(out, imaging)
