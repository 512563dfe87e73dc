"""Probes: the point-spread function of the imaging (Gaussian, a round lens, HRTEM phase contrast)."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.constants as _const
import scipy.fft

from ._utils import _FWHM_PER_SIGMA, _image_shape, _positive, _real


# --------------------------------------------------------------------------- #
# probes
# --------------------------------------------------------------------------- #
def electron_wavelength(energy: float) -> float:
    """Relativistic electron wavelength in nm for a beam energy in keV.

    ``lambda = h / sqrt(2 m0 e V (1 + e V / (2 m0 c^2)))``; 200 keV gives 2.508 pm.
    """
    energy = _positive("energy", energy)
    v = energy * 1e3
    e, m0, c, h = _const.e, _const.m_e, _const.c, _const.h
    return h / math.sqrt(2 * m0 * e * v * (1 + e * v / (2 * m0 * c**2))) * 1e9


class _Probe:
    """Common interface: optical transfer function (OTF) on an FFT grid."""

    #: Imaging mode named in titles and metadata.
    _mode = "HAADF-STEM"
    #: Image level added to the columns' image (1 for the bright field of HRTEM).
    _bright_field = 0.0

    def _peak(self, otf: np.ndarray, shape: tuple[int, int]) -> float:
        """Divisor that gives an isolated unit column its peak height in image units."""
        return float(scipy.fft.irfft2(otf, s=shape).max())

    def _diffuse_otf(self, shape: tuple[int, int], pixel_size: float) -> np.ndarray:
        """Transfer (1 at zero frequency) that blurs the regions' diffuse levels."""
        return self.otf(shape, pixel_size)

    def otf(self, shape: tuple[int, int], pixel_size: float) -> np.ndarray:  # pragma: no cover - abstract
        """Fourier transform of the PSF on the rfft grid of ``shape``: (ny, nx//2+1) float64,
        normalised to 1 at zero frequency (so the PSF integrates to one)."""
        raise NotImplementedError

    def support_radius(self) -> float:  # pragma: no cover - abstract
        """Radius (nm) beyond which the PSF is negligible for rendering."""
        raise NotImplementedError

    def psf(self, shape: tuple[int, int], pixel_size: float) -> np.ndarray:
        """The PSF sampled on a ``shape`` grid, centred at pixel ``(ny // 2, nx // 2)``.

        Returns a (ny, nx) float64 array in nm^-2 (a density): ``psf.sum() *
        pixel_size**2 == 1``. The grid is periodic; make it larger than
        ``2 * support_radius()`` for a faithful picture.
        """
        shape = _image_shape("shape", shape)
        pixel_size = _positive("pixel_size", pixel_size)
        p = scipy.fft.irfft2(self.otf(shape, pixel_size), s=shape)
        p = np.roll(p, (shape[0] // 2, shape[1] // 2), axis=(0, 1))
        return p / pixel_size**2


@lru_cache(maxsize=32)
def _gaussian_otf(sigma_px: float, shape: tuple[int, int]) -> np.ndarray:
    ky = scipy.fft.fftfreq(shape[0])[:, None]
    kx = scipy.fft.rfftfreq(shape[1])[None, :]
    return np.exp(-2 * np.pi**2 * sigma_px**2 * (ky**2 + kx**2))


class GaussianProbe(_Probe):
    """Gaussian probe intensity of full width at half maximum ``fwhm`` (nm, > 0)."""

    def __init__(self, fwhm: float = 0.09) -> None:
        self.fwhm = _positive("fwhm", fwhm)

    @property
    def sigma(self) -> float:
        """Standard deviation in nm."""
        return self.fwhm / _FWHM_PER_SIGMA

    def otf(self, shape: tuple[int, int], pixel_size: float) -> np.ndarray:
        return _gaussian_otf(self.sigma / pixel_size, tuple(shape))

    def support_radius(self) -> float:
        return 6.0 * self.sigma

    def to_dict(self) -> dict:
        return {"type": "GaussianProbe", "fwhm": self.fwhm}

    def __repr__(self) -> str:
        return f"GaussianProbe(fwhm={self.fwhm:g})"


class PhysicalProbe(_Probe):
    """Probe of a round lens: ``PSF = |IFT[A(k) exp(-i chi(k))]|**2`` (normalised).

    Parameters
    ----------
    energy : float
        Beam energy in keV (> 0); the relativistic wavelength is used.
    convergence : float
        Convergence semi-angle in mrad (> 0): the aperture ``A(k)`` passes
        ``|k| <= convergence / lambda``.
    defocus : float
        Defocus ``df`` in nm in ``chi(k) = pi lambda df k**2 + pi/2 Cs lambda**3 k**4``
        (k in cycles/nm); negative is underfocus and balances a positive Cs.
    cs : float
        Spherical aberration Cs in mm (>= 0 for a round lens, any sign accepted).
    source_size : float
        FWHM (nm, >= 0) of a Gaussian effective source; the PSF is convolved with it
        (incoherent source-size broadening, 0.08-0.09 nm for a cold FEG).

    Notes
    -----
    The probe wavefunction is computed on a grid twice as fine as the image, so that
    ``|psi|**2`` (band limit ``2 convergence / lambda``) is not aliased, and its Fourier
    transform is kept on the image's frequencies. For pixel sizes above
    ``lambda / (2 convergence)`` (Nyquist) the image itself is under-sampled; the
    renderer then drops the frequencies above the image Nyquist limit.
    """

    def __init__(
        self,
        energy: float = 200.0,
        convergence: float = 24.0,
        defocus: float = 0.0,
        cs: float = 0.0,
        source_size: float = 0.0,
    ) -> None:
        self.energy = _positive("energy", energy)
        self.convergence = _positive("convergence", convergence)
        self.defocus = _real("defocus", defocus)
        self.cs = _real("cs", cs)
        self.source_size = _positive("source_size", source_size, allow_zero=True)

    @property
    def wavelength(self) -> float:
        """Electron wavelength in nm."""
        return electron_wavelength(self.energy)

    @property
    def k_max(self) -> float:
        """Aperture radius in cycles/nm."""
        return self.convergence * 1e-3 / self.wavelength

    def chi(self, k: np.ndarray) -> np.ndarray:
        """Aberration phase ``chi(k)`` (rad) for spatial frequencies ``k`` in cycles/nm."""
        lam = self.wavelength
        k2 = np.asarray(k, dtype=float) ** 2
        return np.pi * lam * self.defocus * k2 + 0.5 * np.pi * (self.cs * 1e6) * lam**3 * k2**2

    def support_radius(self) -> float:
        alpha = self.convergence * 1e-3
        geometric = abs(self.defocus) * alpha + abs(self.cs * 1e6) * alpha**3
        return 10.0 * self.wavelength / alpha + geometric + 3.0 * self.source_size

    def otf(self, shape: tuple[int, int], pixel_size: float) -> np.ndarray:
        return _physical_otf(
            self.energy, self.convergence, self.defocus, self.cs, self.source_size, tuple(shape), float(pixel_size)
        )

    def to_dict(self) -> dict:
        return {
            "type": "PhysicalProbe", "energy": self.energy, "convergence": self.convergence,
            "defocus": self.defocus, "cs": self.cs, "source_size": self.source_size,
            "wavelength": self.wavelength,
        }

    def __repr__(self) -> str:
        return (
            f"PhysicalProbe(energy={self.energy:g}, convergence={self.convergence:g}, defocus={self.defocus:g}, "
            f"cs={self.cs:g}, source_size={self.source_size:g})"
        )


@lru_cache(maxsize=16)
def _physical_otf(
    energy: float, convergence: float, defocus: float, cs: float, source_size: float,
    shape: tuple[int, int], pixel_size: float,
) -> np.ndarray:
    probe = PhysicalProbe(energy, convergence, defocus, cs, source_size)
    ny, nx = shape
    fy, fx = 2 * ny, 2 * nx  # twice finer real-space sampling, same frequency spacing
    ky = scipy.fft.fftfreq(fy, d=pixel_size / 2)[:, None]
    kx = scipy.fft.fftfreq(fx, d=pixel_size / 2)[None, :]
    k = np.sqrt(ky**2 + kx**2)
    # aperture with its edge anti-aliased over one frequency sample (fractional coverage)
    dk = 1.0 / (max(ny, nx) * pixel_size)
    aperture = np.clip((probe.k_max - k) / dk + 0.5, 0.0, 1.0)
    if probe.k_max < 2 * dk:
        raise ValueError(
            "the probe aperture is not resolved by the simulation grid: increase the image size or the convergence"
        )
    wave = aperture * np.exp(-1j * probe.chi(k))
    psi = scipy.fft.ifft2(wave, workers=-1)
    intensity = np.abs(psi) ** 2
    intensity /= intensity.sum()
    otf_fine = scipy.fft.rfft2(intensity, workers=-1)
    rows = np.concatenate([np.arange(0, ny // 2 + 1), np.arange(fy - (ny - ny // 2 - 1), fy)])
    otf = otf_fine[rows, : nx // 2 + 1].real.copy()
    if ny % 2 == 0:  # Nyquist row: the image's DFT cannot tell +N/2 from -N/2
        otf[ny // 2] = 0.5 * (otf_fine[ny // 2, : nx // 2 + 1].real + otf_fine[fy - ny // 2, : nx // 2 + 1].real)
    if source_size > 0:
        otf *= _gaussian_otf(source_size / _FWHM_PER_SIGMA / pixel_size, shape)
    otf.setflags(write=False)
    return otf


class HRTEMTransfer(_Probe):
    """Phase-contrast (HRTEM) imaging of a weak phase object through the contrast transfer function.

    Use it as the ``probe`` of :func:`simulate_image`: the image becomes

    ``I(r) = 1 + contrast * sum_c I_c h(r - p_c) / max|h|``,
    ``h = IFT[sin(chi(k)) E_t(k) E_s(k) A(k) G(k)]``

    the linear image of a weak phase object (``psi = 1 + i sigma V``, ``I = 1 + 2
    sigma V conv h``) whose projected potential ``V`` is a sum of Gaussian columns of
    weight ``I_c`` (the column intensities of the lattice) and width ``column_width``
    (``G(k)``, its Fourier transform). ``chi`` is the aberration function of
    :class:`PhysicalProbe`, ``E_t = exp(-(pi lambda focal_spread)**2 k**4 / 2)`` the
    temporal and ``E_s = exp(-(pi convergence / lambda)**2 (lambda df k + Cs
    lambda**3 k**3)**2)`` the spatial-coherence envelope, ``A`` the objective aperture.
    The image is 1 (the bright field, in image units) away from the specimen; columns
    are dark where ``h(0) < 0`` (e.g. Scherzer underfocus, ``defocus < 0`` with ``cs >
    0``) and bright where it is positive: with ``cs = 0`` changing the sign of the
    defocus reverses the contrast exactly.

    Parameters
    ----------
    energy : float
        Beam energy in keV (> 0).
    defocus : float
        Defocus in nm (negative is underfocus, as :class:`PhysicalProbe`).
    cs : float
        Spherical aberration in mm (any sign; aberration-corrected microscopes are near 0).
    focal_spread : float
        Defocus spread (nm, >= 0) of the temporal-coherence envelope.
    convergence : float
        Illumination semi-angle (mrad, >= 0) of the spatial-coherence envelope.
    aperture : float or None
        Objective aperture semi-angle (mrad, > 0); None for none.
    column_width : float
        FWHM (nm, > 0) of the Gaussian projected potential of a column.
    contrast : float
        Extremum ``max|I - 1|`` of an isolated column of intensity 1 (> 0); 0.05-0.2
        for thin specimens.

    Notes
    -----
    :meth:`otf` is the phase-contrast transfer ``sin(chi) E_t E_s A G``, which is 0 at
    zero frequency (a weak phase object shows no mean contrast), not the normalised
    OTF of an incoherent probe. A region's diffuse ``level`` is added as amplitude
    contrast, blurred by ``G``.
    """

    _mode = "HRTEM"
    _bright_field = 1.0

    def __init__(
        self,
        energy: float = 80.0,
        defocus: float = -6.0,
        cs: float = 0.0,
        focal_spread: float = 2.0,
        convergence: float = 0.1,
        aperture: float | None = None,
        column_width: float = 0.05,
        contrast: float = 0.1,
    ) -> None:
        self.energy = _positive("energy", energy)
        self.defocus = _real("defocus", defocus)
        self.cs = _real("cs", cs)
        self.focal_spread = _positive("focal_spread", focal_spread, allow_zero=True)
        self.convergence = _positive("convergence", convergence, allow_zero=True)
        self.aperture = None if aperture is None else _positive("aperture", aperture)
        self.column_width = _positive("column_width", column_width)
        self.contrast = _positive("contrast", contrast)

    @property
    def wavelength(self) -> float:
        """Electron wavelength in nm."""
        return electron_wavelength(self.energy)

    def chi(self, k: np.ndarray) -> np.ndarray:
        """Aberration phase ``chi(k)`` (rad) for spatial frequencies ``k`` in cycles/nm."""
        lam = self.wavelength
        k2 = np.asarray(k, dtype=float) ** 2
        return np.pi * lam * self.defocus * k2 + 0.5 * np.pi * (self.cs * 1e6) * lam**3 * k2**2

    def transfer(self, k: np.ndarray) -> np.ndarray:
        """The phase-contrast transfer ``sin(chi) E_t E_s A G`` at frequencies ``k`` (cycles/nm)."""
        return np.sin(self.chi(k)) * self._envelope(k)

    def _envelope(self, k: np.ndarray) -> np.ndarray:
        """``|transfer| / |sin(chi)|``: the damping envelopes, column transform and aperture."""
        lam = self.wavelength
        k = np.abs(np.asarray(k, dtype=float))
        e_t = np.exp(-0.5 * (np.pi * lam * self.focal_spread) ** 2 * k**4)
        e_s = np.exp(-((np.pi * self.convergence * 1e-3 / lam) ** 2)
                     * (lam * self.defocus * k + self.cs * 1e6 * lam**3 * k**3) ** 2)
        sigma = self.column_width / _FWHM_PER_SIGMA
        out = e_t * e_s * np.exp(-2 * np.pi**2 * sigma**2 * k**2)
        if self.aperture is not None:
            out = out * (k <= self.aperture * 1e-3 / lam)
        return out

    def _k_limit(self) -> float:
        """Frequency (cycles/nm) beyond which the envelope stays below 1e-4."""
        sigma = self.column_width / _FWHM_PER_SIGMA
        k_hard = math.sqrt(math.log(1e4) / (2 * np.pi**2 * sigma**2))  # the column transform alone
        k = np.linspace(0.0, k_hard, 4001)
        above = np.flatnonzero(self._envelope(k) > 1e-4)
        return float(k[above[-1]]) if len(above) else float(k_hard)

    def support_radius(self) -> float:
        k = np.linspace(0.0, self._k_limit(), 512)
        lam = self.wavelength
        delocalisation = float(np.abs(lam * self.defocus * k + self.cs * 1e6 * lam**3 * k**3).max())
        # |h| < 1e-3 of its peak beyond ~1.05 x the delocalisation (checked against its Hankel transform)
        return 1.5 * delocalisation + 6.0 * self.column_width / _FWHM_PER_SIGMA + 2.0 / self._k_limit()

    def otf(self, shape: tuple[int, int], pixel_size: float) -> np.ndarray:
        return _hrtem_otf(self.energy, self.defocus, self.cs, self.focal_spread, self.convergence,
                          self.aperture, self.column_width, tuple(shape), float(pixel_size))

    def _peak(self, otf: np.ndarray, shape: tuple[int, int]) -> float:
        return float(np.abs(scipy.fft.irfft2(otf, s=shape)).max()) / self.contrast

    def _diffuse_otf(self, shape: tuple[int, int], pixel_size: float) -> np.ndarray:
        return _gaussian_otf(self.column_width / _FWHM_PER_SIGMA / pixel_size, tuple(shape))

    def to_dict(self) -> dict:
        return {
            "type": "HRTEMTransfer", "energy": self.energy, "defocus": self.defocus, "cs": self.cs,
            "focal_spread": self.focal_spread, "convergence": self.convergence,
            "aperture": -1.0 if self.aperture is None else self.aperture, "column_width": self.column_width,
            "contrast": self.contrast, "wavelength": self.wavelength,
        }

    def __repr__(self) -> str:
        return (
            f"HRTEMTransfer(energy={self.energy:g}, defocus={self.defocus:g}, cs={self.cs:g}, "
            f"focal_spread={self.focal_spread:g}, convergence={self.convergence:g}, aperture={self.aperture}, "
            f"column_width={self.column_width:g}, contrast={self.contrast:g})"
        )


@lru_cache(maxsize=16)
def _hrtem_otf(
    energy: float, defocus: float, cs: float, focal_spread: float, convergence: float, aperture: float | None,
    column_width: float, shape: tuple[int, int], pixel_size: float,
) -> np.ndarray:
    t = HRTEMTransfer(energy, defocus, cs, focal_spread, convergence, aperture, column_width)
    ky = scipy.fft.fftfreq(shape[0], d=pixel_size)[:, None]
    kx = scipy.fft.rfftfreq(shape[1], d=pixel_size)[None, :]
    otf = t.transfer(np.sqrt(ky**2 + kx**2))
    otf.setflags(write=False)
    return otf


def _as_probe(probe: Any) -> _Probe:
    if probe is None:
        return GaussianProbe()
    if not isinstance(probe, _Probe):
        raise TypeError(f"probe must be a GaussianProbe, PhysicalProbe or HRTEMTransfer, got {type(probe).__name__}")
    return probe
