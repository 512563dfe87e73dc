"""Forward model of atomic-resolution images with ground truth.

Realistic test images with known answers: crystal lattices in regions of any
shape, imaged with the linear incoherent (HAADF-STEM) model or as HRTEM phase
contrast, with thickness ramps, diffuse backgrounds, shot noise and scan
distortions, returned as calibrated HyperSpy signals together with the
ground-truth label image and the column positions.

The model follows the forward model of Lin et al., Sci. Rep. 11, 5386 (2021):

* **Imaging.** ``I(r) = sum_c I_c PSF(r - p_c) + background(r)``: point-like
  columns of relative intensity ``I_c`` at positions ``p_c`` convolved with the
  probe intensity ``PSF = |psi|**2``. The PSF is either a Gaussian
  (:class:`GaussianProbe`) or the probe of a round lens (:class:`PhysicalProbe`)
  from beam energy, convergence semi-angle, defocus and spherical aberration.
  ``I_c`` is the lattice site intensity times the region's thickness map
  (:class:`WedgeThickness`, :class:`DomeThickness`); a region's diffuse ``level``
  (times its thickness, blurred by the probe) adds the intensity between columns.
* **HRTEM.** With :class:`HRTEMTransfer` as the probe the image is the linear image
  of a weak phase object, ``I = 1 + contrast * sum_c I_c h(r - p_c) / max|h|``
  with ``h`` the inverse transform of ``sin(chi) E_t E_s`` (CTF with temporal and
  spatial-coherence envelopes): columns dark or bright depending on the defocus.
* **Shot noise.** Poisson counts with mean ``peak_counts * I(r)`` (or
  ``dose * peak_fraction * I(r)``).
* **Scan noise.** Each scan row ``i`` samples the specimen at a displaced
  position ``r + delta_i`` with ``delta_i = z_i * sigma * (sin(2 pi f t_i + phi0),
  sin(2 pi f t_i))`` (y, x), ``z_i ~ Normal(0, 1)`` one draw per row shared by x and
  y, ``t_i`` the time at which the row is scanned, plus a slow drift. The ground
  truth (labels and column positions) goes through the same distortion, so it stays
  registered with the image.

Conventions
-----------
Lengths are in nm, angles in degrees, times in s.

* **Image frame.** Pixel ``(i, j)`` (row, column) has its centre at
  ``(y, x) = (i * pixel_size, j * pixel_size)``: HyperSpy axes "y" and "x" with
  offset 0 and scale ``pixel_size``. ``x`` is horizontal (columns), ``y`` points
  down (rows), as images are displayed. All position arrays are ``(y, x)``.
* **Angles** are counter-clockwise *as displayed* (with y pointing down), from
  the +x axis: the direction at angle ``theta`` is ``(dy, dx) = (-sin theta,
  cos theta)``. This holds for lattice rotations and for every shape.
* **Shapes** (:class:`HalfPlane`, :class:`Polygon`, ...) take coordinates in nm
  relative to the **centre of the field of view**.
* **Regions and labels.** A :class:`Scene` lists regions; region ``k`` covers the
  points its shape contains and *later regions are painted over earlier ones*
  (``Region(..., overlay=True)``: laid on top, the columns below stay, attenuated by
  its ``transmission``). A region without shape covers the whole plane, so the first
  region is usually the background. The ground-truth label of a pixel is the index
  ``k`` (0..K-1, in the order the scene lists its regions) of the topmost region that
  covers it.
* **Sampling.** :func:`pixel_size_for_period` gives the pixel size at which a
  lattice has ``period_px`` pixels per period (:attr:`Lattice.period`, its shortest
  translation); :func:`probe_for_lattice` the Gaussian probe of FWHM 0.35 x the
  nearest-neighbour column distance, which keeps columns resolved at 4 px per
  period. Every ready-made scene takes ``period_px=`` and uses both.
* **Intensities.** The noise-free image is in units of the peak of an isolated
  column of intensity 1.0, so lattice intensities are isolated-column peak heights;
  backgrounds use the same units.
* **Aberration function.** ``chi(k) = pi lambda df k**2 + pi/2 Cs lambda**3 k**4``
  with ``k`` in cycles per nm; with this sign a *negative* ``defocus`` is underfocus,
  the one that balances a positive ``cs`` (Scherzer-like probes have ``df < 0``).

Contents
--------
* Lattices: :class:`Lattice` (``square``, ``rectangular``, ``centred_rectangular``,
  ``hexagonal``, ``honeycomb``, ``perovskite_001``, ``dumbbell_110``),
  :class:`Amorphous`, :class:`Vacuum`.
* Shapes: :class:`HalfPlane`, :class:`SinusoidalBoundary`, :class:`BulgingBoundary`,
  :class:`Polygon`, :class:`Ellipse`, :class:`Sector`, :class:`TripleJunction`.
* Scenes: :class:`Region`, :class:`Scene`; thickness maps :class:`WedgeThickness`,
  :class:`DomeThickness` (base :class:`ThicknessMap`, or any callable).
* Imaging: :class:`GaussianProbe`, :class:`PhysicalProbe`, :class:`HRTEMTransfer`,
  :func:`electron_wavelength`, :func:`render_columns`, :class:`ConstantBackground`,
  :class:`LinearBackground`, :class:`LowFrequencyBackground`, :class:`ScanNoise`;
  sampling :func:`pixel_size_for_period`, :func:`probe_for_lattice`; presets
  :func:`distorted_imaging` (strong background, jitter, shear) and
  :func:`hrtem_imaging`.
* Simulation: :func:`simulate_image`, :func:`simulate_series` returning a
  :class:`SimulationResult`.
* Ready-made scenes (module :mod:`hyperspy_symseg.simulate.scenes`):
  :func:`two_grain_image`, :func:`two_phase_image`, :func:`particle_on_vacuum`,
  :func:`crystal_and_amorphous`, :func:`triple_junction`, :func:`precipitate`,
  :func:`migrating_boundary_series`, and the scenes that real images look like:
  :func:`single_crystal` (a control), :func:`nanoparticle` (thick particle on vacuum
  or carbon), :func:`phase_interface` (intensity step), :func:`contaminated_graphene`
  (HRTEM, amorphous overlay).

Accuracy: columns are placed exactly (sub-pixel) for every spatial frequency below the
image's Nyquist limit (relative error ~1e-6 against direct summation for a 0.08 nm
Gaussian probe at 0.02 nm/px); frequencies above Nyquist are dropped, so probes
narrower than about one pixel (sigma) are rendered band-limited, without aliasing.

Example
-------
>>> from hyperspy_symseg import simulate
>>> lat = simulate.Lattice.hexagonal(a=0.3, rotation=10.0)
>>> scene = simulate.Scene(
...     shape=(256, 256), pixel_size=0.02,
...     regions=[simulate.Region(lat),
...              simulate.Region(lat.rotated(20.0), simulate.HalfPlane(angle=80.0))])
>>> sim = simulate.simulate_image(scene, simulate.GaussianProbe(fwhm=0.09),
...                               peak_counts=100, random_state=0)
>>> sim.image, sim.labels, sim.positions, sim.column_regions  # doctest: +SKIP
"""

from __future__ import annotations

from ._lattices import Amorphous, Lattice, Vacuum
from ._noise import ConstantBackground, LinearBackground, LowFrequencyBackground, ScanNoise
from ._probes import GaussianProbe, HRTEMTransfer, PhysicalProbe, electron_wavelength
from ._render import render_columns
from ._result import SimulationResult
from ._sampling import pixel_size_for_period, probe_for_lattice
from ._scene import ColumnSet, Region, Scene
from ._shapes import BulgingBoundary, Ellipse, HalfPlane, Polygon, Sector, Shape, SinusoidalBoundary, TripleJunction
from ._simulate import simulate_image, simulate_series
from ._thickness import DomeThickness, ThicknessMap, WedgeThickness
from .scenes import (
    _default_imaging,  # noqa: F401  (used by benchmarks/bench_accuracy.py)
    contaminated_graphene,
    crystal_and_amorphous,
    distorted_imaging,
    hrtem_imaging,
    migrating_boundary_series,
    nanoparticle,
    particle_on_vacuum,
    phase_interface,
    precipitate,
    single_crystal,
    triple_junction,
    two_grain_image,
    two_phase_image,
)

__all__ = [
    "Lattice",
    "Amorphous",
    "Vacuum",
    "Shape",
    "HalfPlane",
    "SinusoidalBoundary",
    "BulgingBoundary",
    "Polygon",
    "Ellipse",
    "Sector",
    "TripleJunction",
    "Region",
    "Scene",
    "ColumnSet",
    "ThicknessMap",
    "WedgeThickness",
    "DomeThickness",
    "GaussianProbe",
    "PhysicalProbe",
    "HRTEMTransfer",
    "ConstantBackground",
    "LinearBackground",
    "LowFrequencyBackground",
    "ScanNoise",
    "SimulationResult",
    "electron_wavelength",
    "pixel_size_for_period",
    "probe_for_lattice",
    "render_columns",
    "simulate_image",
    "simulate_series",
    "two_grain_image",
    "two_phase_image",
    "particle_on_vacuum",
    "crystal_and_amorphous",
    "triple_junction",
    "precipitate",
    "migrating_boundary_series",
    "single_crystal",
    "nanoparticle",
    "phase_interface",
    "contaminated_graphene",
    "distorted_imaging",
    "hrtem_imaging",
]
