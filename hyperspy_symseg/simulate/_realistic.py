"""Ready-made scenes that look like real images: controls, thick particles, interfaces, contamination."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._lattices import Amorphous, Lattice
from ._noise import ConstantBackground, LowFrequencyBackground
from ._presets import _default_imaging, _merge, _sampling, hrtem_imaging
from ._result import SimulationResult
from ._scene import Region, Scene
from ._shapes import Ellipse, HalfPlane, Polygon, SinusoidalBoundary
from ._simulate import simulate_image
from ._thickness import DomeThickness, WedgeThickness
from ._utils import _direction, _image_shape, _pair, _positive, _real

#: Pixels per period of the new scenes when neither ``pixel_size`` nor ``period_px`` is given.
DEFAULT_PERIOD_PX = 15.0


def _fov(shape: tuple[int, int], pixel_size: float) -> float:
    return min(shape) * pixel_size


def single_crystal(
    shape: tuple[int, int] = (512, 512),
    pixel_size: float | None = None,
    lattice: Lattice | None = None,
    random_state: Any = None,
    *,
    period_px: float | None = None,
    thickness: Any = None,
    level: float = 0.0,
    **imaging: Any,
) -> SimulationResult:
    """One crystal filling the field of view: a control whose correct segmentation is one pattern.

    Label 0 everywhere. With a ``thickness`` ramp (e.g. ``WedgeThickness``) and a strong
    background (:func:`distorted_imaging`) it checks that intensity variations alone do
    not split a single crystal.

    Parameters
    ----------
    shape : (int, int)
        Image shape.
    pixel_size : float, optional
        nm per pixel; or give ``period_px``. Default: 15 px per period.
    lattice : Lattice, optional
        Default ``Lattice.perovskite_001(0.39, rotation=8)`` (SrTiO3-like [001]).
    random_state : None, int or Generator
        Seed.
    period_px : float, optional
        Pixels per lattice period; sets the pixel size and the default probe
        (:func:`probe_for_lattice`).
    thickness : None, float, ThicknessMap or callable
        Thickness modulation of the column intensities (see :class:`Region`).
    level : float
        Diffuse intensity inside the crystal (see :class:`Region`).
    **imaging
        As :func:`two_grain_image`.

    Returns
    -------
    SimulationResult

    See Also
    --------
    two_grain_image, WedgeThickness, distorted_imaging

    Examples
    --------
    >>> from hyperspy_symseg import simulate
    >>> sim = simulate.single_crystal((128, 128), period_px=10, random_state=0,
    ...                               thickness=simulate.WedgeThickness(angle=0.0, slope=0.2))
    >>> int(sim.labels.data.max()), round(sim.image.axes_manager[0].scale, 4)
    (0, 0.039)
    """
    lat = lattice if lattice is not None else Lattice.perovskite_001(0.39, rotation=8.0)
    pixel_size = _sampling(pixel_size, period_px, lat, [lat], imaging, default_period=DEFAULT_PERIOD_PX)
    scene = Scene(shape, pixel_size, [Region(lat, name="crystal", thickness=thickness, level=level)],
                  name=f"single crystal ({lat.name})")
    return simulate_image(scene, random_state=random_state, **_default_imaging(imaging))


def _faceted(n_facets: int, radius: float, aspect: float, angle: float,
             center: Sequence[float] = (0.0, 0.0)) -> Polygon:
    """A regular ``n_facets``-gon of circumradius ``radius``, squeezed to ``aspect`` across
    the direction ``angle`` (degrees) and rotated to it."""
    base = Polygon.regular(n_facets, radius, angle=180.0 / n_facets).vertices  # a flat facet on top
    u, v = _direction(angle), _direction(angle + 90.0)
    along, across = base[:, 1], -base[:, 0]  # coordinates along the directions 0 and 90 degrees
    verts = np.outer(along, u) + np.outer(aspect * across, v) + np.asarray(center, dtype=float)
    return Polygon(verts)


#: Supports of :func:`nanoparticle`.
SUPPORTS = ("vacuum", "carbon", "holey carbon")
#: The hole of ``support="holey carbon"``: centre (y = x, towards the lower right corner)
#: and semi-axes, in fields of view.
HOLE_CENTRE = 0.4
HOLE_SEMI_AXES = (0.3, 0.2)


def nanoparticle(
    shape: tuple[int, int] = (512, 512),
    pixel_size: float | None = None,
    lattice: Lattice | None = None,
    random_state: Any = None,
    *,
    period_px: float | None = None,
    support: str = "vacuum",
    radius: float | None = None,
    n_facets: int = 8,
    aspect: float = 0.8,
    angle: float = 30.0,
    thickness_minimum: float = 0.35,
    level: float = 0.5,
    **imaging: Any,
) -> SimulationResult:
    """A thick faceted nanoparticle with a thickness ramp, on vacuum or on amorphous carbon.

    The particle (label 1) is a squeezed polygon whose column intensities and diffuse
    level follow a :class:`DomeThickness` (1 at its centre, ``thickness_minimum`` at
    its rim), as in HAADF images of nanoparticles: bright, brightest in the middle,
    with an intensity step at the edge. Label 0 is the support:

    * ``"vacuum"``: no columns, a near-zero background (0.01 + a 0.005 low-frequency
      field), so the step is from ~0.01 to ~1;
    * ``"carbon"``: a dense, weak amorphous carbon film (15 columns/nm^2, intensities
      0.04-0.12, diffuse level 0.06) whose thickness rises across the field of view (a
      :class:`WedgeThickness` from 0.6 to 1.4), under a 0.02 background;
    * ``"holey carbon"``: the same film with a hole (vacuum, label 2, drawn over the
      particle where they meet) in the lower right corner (:data:`HOLE_CENTRE`,
      :data:`HOLE_SEMI_AXES`): three regions, a particle on a support that is partly
      carbon, partly vacuum, as on holey-carbon grids.

    Parameters
    ----------
    shape, pixel_size, random_state, period_px
        As :func:`single_crystal`; default 15 px per period of the particle lattice.
    lattice : Lattice, optional
        Default ``Lattice.centred_rectangular(0.408, 0.2885, rotation=20)``: an fcc
        metal (Au) along [110].
    support : {"vacuum", "carbon", "holey carbon"}
    radius : float, optional
        Circumradius of the polygon in nm; default 38 % of the field of view.
    n_facets : int
        Vertices of the polygon (>= 3).
    aspect : float
        Squeeze (0, 1] of the polygon across ``angle``.
    angle : float
        Direction of its long axis, degrees.
    thickness_minimum : float
        Relative thickness at the rim, in [0, 1].
    level : float
        Diffuse intensity of the particle at its centre (image units).
    **imaging
        As :func:`two_grain_image`; the backgrounds above are the defaults.

    Returns
    -------
    SimulationResult

    See Also
    --------
    particle_on_vacuum, DomeThickness, Region

    Examples
    --------
    >>> import numpy as np
    >>> from hyperspy_symseg import simulate
    >>> sim = simulate.nanoparticle((128, 128), period_px=8, random_state=0, peak_counts=None, scan_noise=None)
    >>> img, lab = sim.image.data, sim.labels.data
    >>> sim.region_names, bool(img[lab == 1].mean() > 10 * img[lab == 0].mean())
    (['vacuum', 'particle'], True)
    """
    if support not in SUPPORTS:
        raise ValueError(f"support must be one of {SUPPORTS}, got {support!r}")
    lat = lattice if lattice is not None else Lattice.centred_rectangular(0.408, 0.2885, rotation=20.0)
    shape = _image_shape("shape", shape)
    aspect = _positive("aspect", aspect)
    if aspect > 1:
        raise ValueError(f"aspect must be in (0, 1], got {aspect}")
    if isinstance(n_facets, bool) or not isinstance(n_facets, (int, np.integer)) or n_facets < 3:
        raise ValueError(f"n_facets must be an int >= 3, got {n_facets!r}")
    carbon = Amorphous(density=15.0, min_distance=0.15, intensity=(0.04, 0.12))
    # the probe is scaled to the particle only: the carbon's min_distance is no column spacing to resolve
    pixel_size = _sampling(pixel_size, period_px, lat, [lat], imaging, default_period=DEFAULT_PERIOD_PX)
    fov = _fov(shape, pixel_size)
    radius = 0.38 * fov if radius is None else _positive("radius", radius)
    if support == "vacuum":
        body = Region(None, name="vacuum")
        imaging.setdefault("background", [ConstantBackground(0.01), LowFrequencyBackground(0.005, 0.3 * fov)])
    else:
        body = Region(carbon, name="carbon", level=0.06,
                      thickness=WedgeThickness(angle=-60.0, slope=0.8 / fov, level=1.0, minimum=0.0))
        imaging.setdefault("background", [ConstantBackground(0.02), LowFrequencyBackground(0.01, 0.3 * fov)])
    dome = DomeThickness(radius=1.02 * radius, minimum=thickness_minimum)
    particle = Region(lat, _faceted(int(n_facets), radius, aspect, _real("angle", angle)), name="particle",
                      thickness=dome, level=level)
    regions = [body, particle]
    if support == "holey carbon":
        regions.append(Region(None, Ellipse((HOLE_CENTRE * fov, HOLE_CENTRE * fov),
                                            (HOLE_SEMI_AXES[0] * fov, HOLE_SEMI_AXES[1] * fov), -45.0),
                              name="vacuum"))
    scene = Scene(shape, pixel_size, regions, name=f"thick {lat.name} particle on {support}")
    return simulate_image(scene, random_state=random_state, **_default_imaging(imaging))


def phase_interface(
    shape: tuple[int, int] = (512, 512),
    pixel_size: float | None = None,
    lattices: Sequence[Lattice] | None = None,
    random_state: Any = None,
    *,
    period_px: float | None = None,
    angle: float = 2.0,
    offset: float = 0.15,
    levels: Sequence[float] = (0.25, 0.0),
    **imaging: Any,
) -> SimulationResult:
    """Two phases stacked across a straight, nearly horizontal interface with an intensity step.

    Like an epitaxial interface in HAADF (heavier film on a lighter substrate): label 0
    (top) is a bright phase with a diffuse level, label 1 (bottom, below the line at
    ``angle`` degrees, ``offset`` times the field of view below the centre) a dimmer one.

    Parameters
    ----------
    shape, pixel_size, random_state, period_px
        As :func:`single_crystal`; the period is that of the top phase.
    lattices : pair of Lattice, optional
        Top and bottom phase; default ``Lattice.hexagonal(0.3)`` (intensity 1) and
        ``Lattice.centred_rectangular(0.3, 0.42, intensities=(0.5, 0.3))``.
    angle : float
        Direction of the interface (0 is horizontal), degrees.
    offset : float
        Position of the interface below the centre, fraction of the field of view.
    levels : pair of float
        Diffuse intensity of the top and the bottom phase (image units).
    **imaging
        As :func:`two_grain_image`.

    Returns
    -------
    SimulationResult

    See Also
    --------
    two_phase_image, Region

    Examples
    --------
    >>> from hyperspy_symseg import simulate
    >>> sim = simulate.phase_interface((128, 128), period_px=8, random_state=0)
    >>> top, bottom = sim.image.data[:30].mean(), sim.image.data[-30:].mean()
    >>> sim.region_names, bool(top > 1.5 * bottom)
    (['phase_hexagonal', 'phase_centred_rectangular'], True)
    """
    if lattices is None:
        lattices = (Lattice.hexagonal(0.3, rotation=0.0),
                    Lattice.centred_rectangular(0.3, 0.42, intensities=(0.5, 0.3)))
    if len(lattices) != 2:
        raise ValueError(f"lattices must have 2 entries, got {len(lattices)}")
    lv = _pair("levels", levels)
    shape = _image_shape("shape", shape)
    pixel_size = _sampling(pixel_size, period_px, lattices[0], lattices, imaging, default_period=DEFAULT_PERIOD_PX)
    fov = _fov(shape, pixel_size)
    scene = Scene(
        shape, pixel_size,
        [Region(lattices[0], name=f"phase_{lattices[0].name}", level=lv[0]),
         Region(lattices[1], HalfPlane(_real("angle", angle), _real("offset", offset) * fov),
                name=f"phase_{lattices[1].name}", level=lv[1])],
        name=f"interface ({lattices[0].name} on {lattices[1].name})",
    )
    return simulate_image(scene, random_state=random_state, **_default_imaging(imaging))


#: Harmonics (order, relative amplitude, phase in degrees) of the outline of the contaminant.
_BLOB_HARMONICS = ((2, 0.18, 30.0), (3, 0.12, 200.0), (5, 0.07, 90.0), (7, 0.04, 310.0))


def _blob(center: Sequence[float], radius: float, angle: float = 0.0, n: int = 96) -> Polygon:
    """An irregular, smooth closed outline: ``r(phi) = radius (1 + sum a_m cos(m phi + p_m))``."""
    phi = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    r = np.ones(n)
    for m, a, ph in _BLOB_HARMONICS:
        r += a * np.cos(m * phi + math.radians(ph))
    t = phi + math.radians(angle)
    verts = np.column_stack([-np.sin(t), np.cos(t)]) * (radius * r)[:, None] + np.asarray(center, dtype=float)
    return Polygon(verts)


def contaminated_graphene(
    shape: tuple[int, int] = (512, 512),
    pixel_size: float | None = None,
    random_state: Any = None,
    *,
    period_px: float | None = None,
    rotations: Sequence[float] = (0.0, 17.0),
    boundary_angle: float = 100.0,
    contaminant_center: Sequence[float] = (-0.22, 0.05),
    contaminant_radius: float = 0.26,
    transmission: float = 0.5,
    hrtem: bool = True,
    **imaging: Any,
) -> SimulationResult:
    """Two graphene grains partly covered by amorphous contamination (label 2).

    Graphene (``Lattice.honeycomb(0.246)``, equal sites) in two orientations
    (labels 0 and 1, a wavy boundary at ``boundary_angle``), and an irregular patch of
    amorphous carbon lying *on top* of both (``Region(..., overlay=True)``): under the
    patch the graphene columns remain, weakened by ``transmission``, with the
    amorphous columns (20 /nm^2, 0.15 nm apart or more, intensities 0.5-2.5: a
    thicker, heavier layer) superposed, as in HRTEM images of graphene with
    hydrocarbon contamination. The ground-truth label under the patch
    is the contaminant's.

    Parameters
    ----------
    shape, pixel_size, random_state, period_px
        As :func:`single_crystal`; default 9 px per graphene period (0.246 nm).
    rotations : pair of float
        Orientation of the two grains, degrees.
    boundary_angle : float
        Direction of the grain boundary (see :class:`HalfPlane`).
    contaminant_center : pair of float
        Centre ``(y, x)`` of the patch, fraction of the field of view from its centre.
    contaminant_radius : float
        Mean radius of the patch, fraction of the field of view.
    transmission : float
        Factor in [0, 1] on the graphene columns under the patch.
    hrtem : bool
        True (default): HRTEM imaging, :func:`hrtem_imaging` with defocus -10 nm,
        contrast 0.05 and 1000 counts at the bright field (80 kV, Cs 0); False:
        HAADF-STEM, the defaults of :func:`two_grain_image` with the probe scaled to
        graphene.
    **imaging
        Overrides of the imaging (``probe``, ``peak_counts``, ``background``, ...).

    Returns
    -------
    SimulationResult

    See Also
    --------
    Region, HRTEMTransfer, hrtem_imaging

    Examples
    --------
    >>> from hyperspy_symseg import simulate
    >>> sim = simulate.contaminated_graphene((128, 128), period_px=9, random_state=0)
    >>> sim.region_names, sorted(set(sim.labels.data.ravel().tolist()))
    (['grain_0', 'grain_1', 'contaminant'], [0, 1, 2])
    """
    shape = _image_shape("shape", shape)
    graphene = Lattice.honeycomb(0.246, intensities=(1.0, 1.0))
    r0, r1 = _pair("rotations", rotations)
    if period_px is None and pixel_size is None:
        period_px = 9.0
    # HRTEM keeps its transfer function: only HAADF takes the probe scaled to graphene
    pixel_size = _sampling(pixel_size, period_px, graphene, [graphene], {} if hrtem else imaging)
    fov = _fov(shape, pixel_size)
    cy, cx = _pair("contaminant_center", contaminant_center)
    patch = _blob((cy * fov, cx * fov), _positive("contaminant_radius", contaminant_radius) * fov, angle=15.0)
    dirt = Amorphous(density=20.0, min_distance=0.15, intensity=(0.5, 2.5))
    scene = Scene(
        shape, pixel_size,
        [Region(graphene.rotated(r0), name="grain_0"),
         Region(graphene.rotated(r1), SinusoidalBoundary(_real("boundary_angle", boundary_angle), 0.0,
                                                         0.03 * fov, 0.6 * fov), name="grain_1"),
         Region(dirt, patch, name="contaminant", overlay=True, transmission=transmission)],
        min_separation=0.1,
        name="graphene grains with amorphous contamination",
    )
    if hrtem:
        opts = _merge(hrtem_imaging(shape, pixel_size, defocus=-10.0, contrast=0.05, peak_counts=1000.0), imaging)
        return simulate_image(scene, random_state=random_state, **opts)
    return simulate_image(scene, random_state=random_state, **_default_imaging(imaging))
