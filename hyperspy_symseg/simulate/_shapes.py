"""Region shapes: half-planes, wavy and bulging boundaries, polygons, ellipses, sectors."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._utils import _dict_repr, _direction, _pair, _positive, _real


# --------------------------------------------------------------------------- #
# region shapes
# --------------------------------------------------------------------------- #
class Shape:
    """Base class of region shapes.

    Subclasses implement :meth:`contains`, which takes coordinates ``y, x`` in nm
    relative to the centre of the field of view (any broadcastable arrays) and
    returns a boolean array.
    """

    def contains(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_dict(self) -> dict:  # pragma: no cover - overridden
        return {"type": type(self).__name__}

    __repr__ = _dict_repr


class HalfPlane(Shape):
    """The half-plane to the right of a straight boundary line.

    Parameters
    ----------
    angle : float
        Direction of the boundary line in degrees (counter-clockwise as displayed
        from +x). The region is on the right-hand side when walking along that
        direction: ``angle=90`` gives ``x > offset`` (right part of the image),
        ``angle=0`` the lower part, ``angle=180`` the upper part.
    offset : float
        Signed distance (nm) of the line from the centre of the field of view,
        along the normal pointing into the region.
    """

    def __init__(self, angle: float = 90.0, offset: float = 0.0) -> None:
        self.angle = _real("angle", angle)
        self.offset = _real("offset", offset)

    def _frame(self, y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates along the line (t) and along the inward normal (n)."""
        u = _direction(self.angle)
        nrm = _direction(self.angle - 90.0)
        y = np.asarray(y, dtype=float)
        x = np.asarray(x, dtype=float)
        return y * u[0] + x * u[1], y * nrm[0] + x * nrm[1]

    def boundary_displacement(self, t: np.ndarray) -> np.ndarray | float:
        """Displacement of the boundary along the normal at line coordinate ``t``."""
        return 0.0

    def contains(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        t, n = self._frame(y, x)
        return n > self.offset + self.boundary_displacement(t)

    def to_dict(self) -> dict:
        return {"type": "HalfPlane", "angle": self.angle, "offset": self.offset}


class SinusoidalBoundary(HalfPlane):
    """A half-plane whose boundary is a sine wave (a curved, wavy boundary).

    The boundary is displaced along the normal by
    ``amplitude * sin(2 pi t / wavelength + phase)``, ``t`` the coordinate (nm) along
    the line from the centre. Other parameters as :class:`HalfPlane`.
    """

    def __init__(
        self,
        angle: float = 90.0,
        offset: float = 0.0,
        amplitude: float = 0.5,
        wavelength: float = 5.0,
        phase: float = 0.0,
    ) -> None:
        super().__init__(angle, offset)
        self.amplitude = _real("amplitude", amplitude)
        self.wavelength = _positive("wavelength", wavelength)
        self.phase = _real("phase", phase)

    def boundary_displacement(self, t: np.ndarray) -> np.ndarray:
        return self.amplitude * np.sin(2 * np.pi * t / self.wavelength + math.radians(self.phase))

    def to_dict(self) -> dict:
        return {
            "type": "SinusoidalBoundary", "angle": self.angle, "offset": self.offset,
            "amplitude": self.amplitude, "wavelength": self.wavelength, "phase": self.phase,
        }


class BulgingBoundary(HalfPlane):
    """A half-plane whose boundary has a Gaussian bulge (e.g. a migrating boundary).

    The boundary is displaced along the normal (into the region for ``bulge > 0``)
    by ``bulge * exp(-(t - position)**2 / (2 width**2))``. Other parameters as
    :class:`HalfPlane`.
    """

    def __init__(
        self,
        angle: float = 90.0,
        offset: float = 0.0,
        bulge: float = 0.5,
        width: float = 1.5,
        position: float = 0.0,
    ) -> None:
        super().__init__(angle, offset)
        self.bulge = _real("bulge", bulge)
        self.width = _positive("width", width)
        self.position = _real("position", position)

    def boundary_displacement(self, t: np.ndarray) -> np.ndarray:
        return self.bulge * np.exp(-((t - self.position) ** 2) / (2 * self.width**2))

    def to_dict(self) -> dict:
        return {
            "type": "BulgingBoundary", "angle": self.angle, "offset": self.offset,
            "bulge": self.bulge, "width": self.width, "position": self.position,
        }


class Polygon(Shape):
    """The inside of a simple polygon (even-odd rule).

    Parameters
    ----------
    vertices : (n, 2) array_like of float
        Vertices ``(y, x)`` in nm relative to the centre, n >= 3, in order.
    """

    def __init__(self, vertices: Any) -> None:
        v = np.array(vertices, dtype=float)
        if v.ndim != 2 or v.shape[1] != 2 or v.shape[0] < 3:
            raise ValueError(f"vertices must have shape (n >= 3, 2), got {v.shape}")
        if not np.all(np.isfinite(v)):
            raise ValueError("vertices must be finite")
        self.vertices = v

    @classmethod
    def regular(cls, n: int, radius: float, center: Sequence[float] = (0.0, 0.0), angle: float = 0.0) -> Polygon:
        """A regular ``n``-gon of circumradius ``radius`` (nm); first vertex at ``angle``."""
        if not isinstance(n, (int, np.integer)) or n < 3:
            raise ValueError(f"n must be an int >= 3, got {n!r}")
        radius = _positive("radius", radius)
        c = np.array(_pair("center", center))
        return cls([c + radius * _direction(angle + 360.0 * k / n) for k in range(n)])

    def contains(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        y, x = np.broadcast_arrays(np.asarray(y, dtype=float), np.asarray(x, dtype=float))
        out = np.zeros(y.shape, dtype=bool)
        vy, vx = self.vertices[:, 0], self.vertices[:, 1]
        # outside the bounding box no edge is crossed an odd number of times: test only inside it
        box = (y >= vy.min()) & (y <= vy.max()) & (x >= vx.min()) & (x <= vx.max())
        y, x = y[box], x[box]
        inside = np.zeros(y.shape, dtype=bool)
        n = len(vy)
        for k in range(n):
            y1, x1, y2, x2 = vy[k], vx[k], vy[(k + 1) % n], vx[(k + 1) % n]
            if y1 == y2:
                continue
            crosses = (y1 > y) != (y2 > y)
            x_int = x1 + (y - y1) * ((x2 - x1) / (y2 - y1))
            inside ^= crosses & (x < x_int)
        out[box] = inside
        return out

    def to_dict(self) -> dict:
        return {"type": "Polygon", "vertices": self.vertices.tolist()}


class Ellipse(Shape):
    """The inside of an ellipse.

    Parameters
    ----------
    center : pair of float
        Centre ``(y, x)`` in nm relative to the centre of the field of view.
    semi_axes : pair of float
        Semi-axis along the direction ``angle`` and the perpendicular one, nm, > 0.
    angle : float
        Direction of the first semi-axis, degrees counter-clockwise as displayed.
    """

    def __init__(
        self, center: Sequence[float] = (0.0, 0.0), semi_axes: Sequence[float] = (2.0, 1.0), angle: float = 0.0
    ) -> None:
        self.center = _pair("center", center)
        a, b = _pair("semi_axes", semi_axes)
        if a <= 0 or b <= 0:
            raise ValueError(f"semi_axes must be > 0, got {(a, b)}")
        self.semi_axes = (a, b)
        self.angle = _real("angle", angle)

    def contains(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        dy = np.asarray(y, dtype=float) - self.center[0]
        dx = np.asarray(x, dtype=float) - self.center[1]
        u, v = _direction(self.angle), _direction(self.angle + 90.0)
        p = dy * u[0] + dx * u[1]
        q = dy * v[0] + dx * v[1]
        return (p / self.semi_axes[0]) ** 2 + (q / self.semi_axes[1]) ** 2 < 1.0

    def to_dict(self) -> dict:
        return {"type": "Ellipse", "center": list(self.center), "semi_axes": list(self.semi_axes), "angle": self.angle}


class Sector(Shape):
    """An angular sector around ``center``: polar angles in ``[start, stop)``.

    Angles in degrees counter-clockwise as displayed, the sector runs
    counter-clockwise from ``start`` to ``stop`` (wrapping through 360).
    """

    def __init__(self, center: Sequence[float] = (0.0, 0.0), start: float = 0.0, stop: float = 120.0) -> None:
        self.center = _pair("center", center)
        self.start = _real("start", start)
        self.stop = _real("stop", stop)
        if (self.stop - self.start) % 360.0 == 0.0:
            raise ValueError("stop - start must not be a multiple of 360 degrees (use shape=None for the plane)")

    def contains(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        dy = np.asarray(y, dtype=float) - self.center[0]
        dx = np.asarray(x, dtype=float) - self.center[1]
        phi = np.degrees(np.arctan2(-dy, dx))
        return (phi - self.start) % 360.0 < (self.stop - self.start) % 360.0

    def to_dict(self) -> dict:
        return {"type": "Sector", "center": list(self.center), "start": self.start, "stop": self.stop}


class TripleJunction:
    """Three sectors meeting at ``center``: boundaries leave it at ``angles``.

    ``sector(k)`` is the shape between ``angles[k]`` and ``angles[k + 1]``
    (counter-clockwise, as displayed); use one per region, e.g.
    ``[Region(l0), Region(l1, tj.sector(1)), Region(l2, tj.sector(2))]``.
    """

    def __init__(self, center: Sequence[float] = (0.0, 0.0), angles: Sequence[float] = (90.0, 210.0, 330.0)) -> None:
        self.center = _pair("center", center)
        ang = [_real("angles", a) for a in angles]
        if len(ang) != 3:
            raise ValueError(f"angles must have 3 values, got {len(ang)}")
        rel = sorted((a - ang[0]) % 360.0 for a in ang)
        if len(set(rel)) != 3:
            raise ValueError("angles must be distinct modulo 360")
        self.angles = tuple(ang[0] + r for r in rel)

    def sector(self, k: int) -> Sector:
        if k not in (0, 1, 2):
            raise ValueError(f"k must be 0, 1 or 2, got {k!r}")
        return Sector(self.center, self.angles[k], self.angles[(k + 1) % 3])
