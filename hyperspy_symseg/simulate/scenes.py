"""Ready-made scenes with ground truth, for tests, benchmarks and examples.

Every scene takes ``shape`` and either ``pixel_size`` (nm; default 0.02) or
``period_px`` (pixels per period of its first lattice; the pixel size is then
``pixel_size_for_period(lattice, period_px)`` and the default probe
``probe_for_lattice(...)``, FWHM 0.35 x the nearest-neighbour distance), a
``random_state`` and imaging overrides (``probe``, ``peak_counts``, ``dose``,
``scan_noise``, ``background``, ...). Geometry given as a fraction of the field of
view scales with it; lengths given in nm stay in nm.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._lattices import Amorphous, Lattice
from ._noise import ConstantBackground, LowFrequencyBackground
from ._presets import _default_imaging, _sampling, distorted_imaging, hrtem_imaging
from ._realistic import contaminated_graphene, nanoparticle, phase_interface, single_crystal
from ._result import SimulationResult
from ._scene import Region, Scene
from ._shapes import BulgingBoundary, Ellipse, HalfPlane, Polygon, SinusoidalBoundary, TripleJunction
from ._simulate import simulate_image, simulate_series
from ._utils import _image_shape, _pair, _positive, _real


__all__ = [
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

# --------------------------------------------------------------------------- #
# ready-made scenes
# --------------------------------------------------------------------------- #
def two_grain_image(
    shape: tuple[int, int] = (512, 512),
    pixel_size: float | None = None,
    lattice: Lattice | None = None,
    rotations: Sequence[float] = (5.0, 27.0),
    boundary_angle: float = 85.0,
    boundary_offset: float = 0.0,
    random_state: Any = None,
    *,
    period_px: float | None = None,
    **imaging: Any,
) -> SimulationResult:
    """A bicrystal: one lattice in two orientations, boundary roughly vertical.

    Label 0 is the left grain, label 1 the right grain (right of a line through the
    centre at ``boundary_angle`` degrees, shifted by ``boundary_offset`` nm).

    Parameters
    ----------
    shape, pixel_size
        Image shape and nm per pixel (default 0.02); the default hexagonal lattice
        (a = 0.3 nm) has a period of 15 px at 0.02 nm.
    lattice : Lattice, optional
        Default ``Lattice.hexagonal(a=0.3)``.
    rotations : pair of float
        Rotation (degrees) of the lattice in the left and right grain.
    random_state : None, int or Generator
        Seed.
    period_px : float, optional
        Pixels per period of the (first) lattice instead of ``pixel_size``: the pixel
        size is ``pixel_size_for_period(lattice, period_px)`` and the default probe
        ``probe_for_lattice(lattice)`` (FWHM 0.35 x nearest-neighbour distance).
    **imaging
        Overrides of the imaging defaults passed to :func:`simulate_image`: ``probe``
        (``GaussianProbe(0.09)``, or the scaled probe with ``period_px``),
        ``peak_counts`` (100), ``scan_noise`` (``ScanNoise(sigma=0.01)``),
        ``background`` (0.05 + low-frequency 0.02), ``dose``, ``read_noise``,
        ``shift``. Pass ``peak_counts=None, scan_noise=None, background=None`` for a
        clean image; see also :func:`distorted_imaging`.

    See Also
    --------
    single_crystal, triple_junction, pixel_size_for_period

    Examples
    --------
    >>> from hyperspy_symseg import simulate
    >>> sim = simulate.two_grain_image((128, 128), period_px=8, random_state=0)
    >>> sim.image.axes_manager[0].scale, sim.region_names
    (0.0375, ['grain_left', 'grain_right'])
    """
    lat = lattice if lattice is not None else Lattice.hexagonal(a=0.3)
    r0, r1 = _pair("rotations", rotations)
    pixel_size = _sampling(pixel_size, period_px, lat, [lat], imaging)
    scene = Scene(
        shape, pixel_size,
        [Region(lat.rotated(r0), name="grain_left"),
         Region(lat.rotated(r1), HalfPlane(boundary_angle, boundary_offset), name="grain_right")],
        name=f"two grains ({lat.name}, {r0:g} and {r1:g} deg)",
    )
    return simulate_image(scene, random_state=random_state, **_default_imaging(imaging))


def two_phase_image(
    shape: tuple[int, int] = (512, 512),
    pixel_size: float | None = None,
    lattices: Sequence[Lattice] | None = None,
    boundary_angle: float = 95.0,
    amplitude: float = 0.4,
    wavelength: float = 4.0,
    random_state: Any = None,
    *,
    period_px: float | None = None,
    **imaging: Any,
) -> SimulationResult:
    """Two phases (different lattices) separated by a wavy (sinusoidal) interface.

    Default phases: hexagonal a = 0.3 nm (label 0, left) and perovskite [001]
    a = 0.39 nm (label 1, right); the interface ``amplitude`` and ``wavelength`` are
    in nm. ``pixel_size``, ``period_px`` (of the first lattice) and ``**imaging`` as
    :func:`two_grain_image`.
    """
    if lattices is None:
        lattices = (Lattice.hexagonal(0.3, rotation=8.0), Lattice.perovskite_001(0.39, rotation=0.0))
    if len(lattices) != 2:
        raise ValueError(f"lattices must have 2 entries, got {len(lattices)}")
    pixel_size = _sampling(pixel_size, period_px, lattices[0], lattices, imaging)
    scene = Scene(
        shape, pixel_size,
        [Region(lattices[0], name=f"phase_{lattices[0].name}"),
         Region(lattices[1], SinusoidalBoundary(boundary_angle, 0.0, amplitude, wavelength),
                name=f"phase_{lattices[1].name}")],
        name=f"two phases ({lattices[0].name} / {lattices[1].name})",
    )
    return simulate_image(scene, random_state=random_state, **_default_imaging(imaging))


def particle_on_vacuum(
    shape: tuple[int, int] = (512, 512),
    pixel_size: float | None = None,
    lattice: Lattice | None = None,
    radius: float | None = None,
    n_facets: int = 6,
    support: str = "vacuum",
    random_state: Any = None,
    *,
    period_px: float | None = None,
    **imaging: Any,
) -> SimulationResult:
    """A faceted nanoparticle on vacuum (label 0) or on an amorphous support.

    Parameters
    ----------
    lattice : Lattice, optional
        Default ``Lattice.hexagonal(a=0.28, rotation=12)`` (fcc [111]-like).
    radius : float, optional
        Circumradius of the particle polygon, nm; default 35 % of the field of view.
    n_facets : int
        Number of facets of the regular polygon (>= 3).
    support : {"vacuum", "amorphous"}
        Label 0 is vacuum or a thin amorphous support; label 1 is the particle.
    period_px, **imaging
        As :func:`two_grain_image` (the default background is 0.02 on vacuum).

    See Also
    --------
    nanoparticle : a thick particle with a thickness ramp and an intensity step.
    """
    if support not in ("vacuum", "amorphous"):
        raise ValueError(f"support must be 'vacuum' or 'amorphous', got {support!r}")
    lat = lattice if lattice is not None else Lattice.hexagonal(a=0.28, rotation=12.0)
    shape = _image_shape("shape", shape)
    pixel_size = _sampling(pixel_size, period_px, lat, [lat], imaging)
    if radius is None:
        radius = 0.35 * min(shape) * pixel_size
    body = (Region(None, name="vacuum") if support == "vacuum"
            else Region(Amorphous(density=6.0, min_distance=0.22, intensity=(0.08, 0.2)), name="amorphous_support"))
    particle = Region(lat, Polygon.regular(n_facets, radius, angle=10.0), name="particle")
    scene = Scene(shape, pixel_size, [body, particle], name=f"{lat.name} particle on {support}")
    imaging.setdefault("background", [ConstantBackground(0.02), LowFrequencyBackground(0.01, 2.0)])
    return simulate_image(scene, random_state=random_state, **_default_imaging(imaging))


def crystal_and_amorphous(
    shape: tuple[int, int] = (512, 512),
    pixel_size: float | None = None,
    lattice: Lattice | None = None,
    amorphous: Amorphous | None = None,
    boundary_angle: float = 80.0,
    random_state: Any = None,
    *,
    amplitude: float = 0.3,
    wavelength: float = 3.0,
    period_px: float | None = None,
    **imaging: Any,
) -> SimulationResult:
    """A crystal (label 0, left) next to amorphous material (label 1, right) with a
    wavy interface (``amplitude`` and ``wavelength`` in nm). Defaults: square lattice
    a = 0.39 nm rotated 15 degrees and ``Amorphous()``. ``pixel_size``, ``period_px``
    and ``**imaging`` as :func:`two_grain_image`."""
    lat = lattice if lattice is not None else Lattice.square(0.39, rotation=15.0)
    am = amorphous if amorphous is not None else Amorphous()
    pixel_size = _sampling(pixel_size, period_px, lat, [lat], imaging)
    scene = Scene(
        shape, pixel_size,
        [Region(lat, name="crystal"),
         Region(am, SinusoidalBoundary(boundary_angle, 0.0, amplitude, wavelength), name="amorphous")],
        name=f"{lat.name} crystal and amorphous",
    )
    return simulate_image(scene, random_state=random_state, **_default_imaging(imaging))


def triple_junction(
    shape: tuple[int, int] = (512, 512),
    pixel_size: float | None = None,
    lattice: Lattice | None = None,
    rotations: Sequence[float] = (0.0, 20.0, 40.0),
    angles: Sequence[float] = (90.0, 210.0, 330.0),
    center: Sequence[float] = (0.0, 0.0),
    random_state: Any = None,
    *,
    period_px: float | None = None,
    **imaging: Any,
) -> SimulationResult:
    """Three grains of one lattice meeting at a triple junction at ``center`` (nm from
    the centre); boundaries leave it at ``angles``. Label 0 is the grain between
    ``angles[0]`` and ``angles[1]``, etc. Default lattice ``Lattice.square(0.36)``.
    ``pixel_size``, ``period_px`` and ``**imaging`` as :func:`two_grain_image`."""
    lat = lattice if lattice is not None else Lattice.square(0.36)
    rot = [_real("rotations", r) for r in rotations]
    pixel_size = _sampling(pixel_size, period_px, lat, [lat], imaging)
    if len(rot) != 3:
        raise ValueError(f"rotations must have 3 values, got {len(rot)}")
    tj = TripleJunction(center, angles)
    scene = Scene(
        shape, pixel_size,
        [Region(lat.rotated(rot[0]), name="grain_0"),
         Region(lat.rotated(rot[1]), tj.sector(1), name="grain_1"),
         Region(lat.rotated(rot[2]), tj.sector(2), name="grain_2")],
        name=f"triple junction ({lat.name})",
    )
    return simulate_image(scene, random_state=random_state, **_default_imaging(imaging))


def precipitate(
    shape: tuple[int, int] = (512, 512),
    pixel_size: float | None = None,
    matrix: Lattice | None = None,
    particle: Lattice | None = None,
    semi_axes: Sequence[float] | None = None,
    angle: float = 30.0,
    random_state: Any = None,
    *,
    period_px: float | None = None,
    **imaging: Any,
) -> SimulationResult:
    """An elliptical precipitate (label 1) in a matrix (label 0).

    Defaults: matrix ``Lattice.square(0.36)``, precipitate ``Lattice.hexagonal(0.3,
    rotation=10)``, semi-axes 30 % and 18 % of the field of view. ``pixel_size``,
    ``period_px`` (of the matrix; the probe is scaled to both lattices) and
    ``**imaging`` as :func:`two_grain_image`.
    """
    shape = _image_shape("shape", shape)
    m = matrix if matrix is not None else Lattice.square(0.36)
    p = particle if particle is not None else Lattice.hexagonal(0.3, rotation=10.0, intensities=(1.3,))
    pixel_size = _sampling(pixel_size, period_px, m, [m, p], imaging)
    fov = min(shape) * pixel_size
    axes = semi_axes if semi_axes is not None else (0.3 * fov, 0.18 * fov)
    scene = Scene(
        shape, pixel_size,
        [Region(m, name="matrix"), Region(p, Ellipse((0.0, 0.0), axes, angle), name="precipitate")],
        name=f"{p.name} precipitate in {m.name} matrix",
    )
    return simulate_image(scene, random_state=random_state, **_default_imaging(imaging))


def migrating_boundary_series(
    n_frames: int = 10,
    shape: tuple[int, int] = (256, 256),
    pixel_size: float | None = None,
    lattice: Lattice | None = None,
    twin_angle: float = 20.0,
    start_offset: float | None = None,
    velocity: float | None = None,
    bulge: float | None = None,
    bulge_width: float | None = None,
    drift: Sequence[float] = (0.01, 0.02),
    frame_time: float = 1.0,
    random_state: Any = None,
    *,
    period_px: float | None = None,
    **imaging: Any,
) -> SimulationResult:
    """A migrating, bulging twin boundary, ``(t | y, x)`` with per-frame ground truth.

    The lattice is rotated by ``+twin_angle`` in the left grain (label 0) and
    ``-twin_angle`` in the right grain (label 1), mirror images across the vertical
    boundary. The boundary moves right by ``velocity`` nm per frame from
    ``start_offset`` (nm from the centre) while a Gaussian bulge of width
    ``bulge_width`` grows linearly to ``bulge`` nm at the last frame; the specimen drifts
    by ``drift`` (dy, dx) nm per frame.

    Defaults: ``Lattice.centred_rectangular(0.35, 0.5)``, start at -20 % of the field
    of view, velocity 30 % of the field of view over the series, bulge 15 % and width
    15 % of the field of view. ``pixel_size``, ``period_px`` and ``**imaging`` as
    :func:`two_grain_image`.
    """
    if isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)) or n_frames < 1:
        raise ValueError(f"n_frames must be an int >= 1, got {n_frames!r}")
    shape = _image_shape("shape", shape)
    lat = lattice if lattice is not None else Lattice.centred_rectangular(0.35, 0.5)
    pixel_size = _sampling(pixel_size, period_px, lat, [lat], imaging)
    fov = min(shape) * pixel_size
    start_offset = -0.2 * fov if start_offset is None else _real("start_offset", start_offset)
    velocity = 0.3 * fov / max(n_frames - 1, 1) if velocity is None else _real("velocity", velocity)
    bulge = 0.15 * fov if bulge is None else _real("bulge", bulge)
    bulge_width = 0.15 * fov if bulge_width is None else _positive("bulge_width", bulge_width)
    left, right = lat.rotated(twin_angle), lat.rotated(-twin_angle)
    scenes = []
    for k in range(n_frames):
        grow = k / (n_frames - 1) if n_frames > 1 else 1.0
        boundary = BulgingBoundary(90.0, start_offset + velocity * k, bulge * grow, bulge_width, 0.0)
        scenes.append(Scene(shape, pixel_size, [Region(left, name="grain_left"),
                                                Region(right, boundary, name="grain_right")],
                            name=f"migrating twin boundary ({lat.name})"))
    d = np.asarray(_pair("drift", drift))
    shifts = np.arange(n_frames)[:, None] * d[None, :]
    opts = _default_imaging(imaging)
    opts.pop("shift", None)
    return simulate_series(scenes, shifts=shifts, frame_time=frame_time, random_state=random_state, **opts)
