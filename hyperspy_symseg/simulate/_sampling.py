"""Sampling rules: the pixel size that gives a lattice period, and a probe scaled to the lattice."""

from __future__ import annotations

from collections.abc import Sequence

from ._lattices import Amorphous, Lattice
from ._probes import GaussianProbe
from ._utils import _positive

#: Default probe FWHM as a fraction of the smallest nearest-neighbour column distance.
PROBE_FWHM_FRACTION = 0.35


def pixel_size_for_period(lattice: Lattice, period_px: float) -> float:
    """Pixel size (nm) at which ``lattice`` has a period of ``period_px`` pixels.

    ``pixel_size = lattice.period / period_px``, with :attr:`Lattice.period` the
    length of the shortest translation that maps the columns (and their intensities)
    onto themselves: the period a lattice analysis of the image finds.

    Parameters
    ----------
    lattice : Lattice
        The lattice that sets the sampling (the first crystal of a scene).
    period_px : float
        Pixels per period, > 0 (real images: ~4 to ~40).

    Returns
    -------
    float
        Pixel size in nm.

    See Also
    --------
    probe_for_lattice : the probe that keeps columns resolved at that sampling.
    Lattice.period

    Examples
    --------
    >>> from hyperspy_symseg import simulate
    >>> round(simulate.pixel_size_for_period(simulate.Lattice.hexagonal(0.3), 15), 6)
    0.02
    >>> round(simulate.pixel_size_for_period(simulate.Lattice.square(0.4), 4), 6)
    0.1
    """
    if not isinstance(lattice, Lattice):
        raise TypeError(f"lattice must be a Lattice, got {type(lattice).__name__}")
    period_px = _positive("period_px", period_px)
    return lattice.period / period_px


def probe_for_lattice(
    lattices: Lattice | Amorphous | Sequence[Lattice | Amorphous], fraction: float = PROBE_FWHM_FRACTION
) -> GaussianProbe:
    """A Gaussian probe scaled to the lattice(s): FWHM = 0.35 x nearest-neighbour distance.

    The rule of the ready-made scenes with ``period_px``: the probe FWHM is
    ``fraction`` (default 0.35) times the smallest nearest-neighbour column distance
    of the given lattices (an :class:`Amorphous` content counts with its
    ``min_distance``). Neighbouring columns then stay resolved (the image of two
    unit columns dips to 1 % of the peak between them) down to 4 pixels per period
    (FWHM 1.4 px), and the probe is a fixed fraction of the structure at every
    sampling, as in a real microscope whose magnification is changed. Real HAADF
    images show 0.3-0.5; the ready-made scenes' fixed default ``GaussianProbe(0.09)``
    is 0.3 of the 0.3 nm hexagonal lattice.

    Parameters
    ----------
    lattices : Lattice, Amorphous or sequence of them
        The scene's contents (Vacuum and None entries are skipped).
    fraction : float
        FWHM over nearest-neighbour distance, in (0, 2]; default 0.35.

    Returns
    -------
    GaussianProbe

    See Also
    --------
    pixel_size_for_period, GaussianProbe

    Examples
    --------
    >>> from hyperspy_symseg import simulate
    >>> simulate.probe_for_lattice(simulate.Lattice.hexagonal(0.3))
    GaussianProbe(fwhm=0.105)
    >>> round(simulate.probe_for_lattice(simulate.Lattice.honeycomb(0.246)).fwhm, 4)
    0.0497
    """
    fraction = _positive("fraction", fraction)
    if fraction > 2:
        raise ValueError(f"fraction must be in (0, 2], got {fraction}")
    items = [lattices] if isinstance(lattices, (Lattice, Amorphous)) else list(lattices)
    distances = []
    for item in items:
        if isinstance(item, Lattice):
            distances.append(item.nearest_neighbour_distance())
        elif isinstance(item, Amorphous):
            distances.append(item.min_distance)
    if not distances:
        raise ValueError("lattices must contain at least one Lattice or Amorphous content")
    return GaussianProbe(fwhm=float(f"{fraction * min(distances):.12g}"))  # drop the last-bit noise of the distance
