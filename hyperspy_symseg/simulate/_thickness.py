"""Thickness maps: smooth modulations of a region's column intensities (wedges, particles)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._utils import _dict_repr, _direction, _pair, _positive, _real


class ThicknessMap:
    """Base class of thickness maps.

    A thickness map is a smooth, non-negative factor ``t(y, x)`` that multiplies the
    intensity of every column of a region (and its diffuse ``level``), as the
    HAADF signal of a column grows with the number of atoms along the beam.
    Subclasses implement :meth:`evaluate`, taking coordinates ``y, x`` in nm relative
    to the centre of the field of view (any broadcastable arrays), the frame of the
    region shapes.
    """

    def evaluate(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        return self.evaluate(y, x)

    def to_dict(self) -> dict:  # pragma: no cover - overridden
        return {"type": type(self).__name__}

    __repr__ = _dict_repr


class WedgeThickness(ThicknessMap):
    """A wedge: thickness rising linearly along a direction.

    ``t = max(minimum, level + slope * d)``, ``d`` the signed distance (nm) from the
    centre of the field of view along the direction ``angle`` (degrees,
    counter-clockwise as displayed from +x).

    Parameters
    ----------
    angle : float
        Direction in which the thickness rises.
    slope : float
        Change of ``t`` per nm (any sign).
    level : float
        ``t`` at the centre of the field of view, >= 0.
    minimum : float
        Lower bound of ``t`` (>= 0), reached at the thin edge.
    """

    def __init__(self, angle: float = 0.0, slope: float = 0.1, level: float = 1.0, minimum: float = 0.0) -> None:
        self.angle = _real("angle", angle)
        self.slope = _real("slope", slope)
        self.level = _positive("level", level, allow_zero=True)
        self.minimum = _positive("minimum", minimum, allow_zero=True)

    def evaluate(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        u = _direction(self.angle)
        d = np.asarray(y, dtype=float) * u[0] + np.asarray(x, dtype=float) * u[1]
        return np.maximum(self.minimum, self.level + self.slope * d)

    def to_dict(self) -> dict:
        return {"type": "WedgeThickness", "angle": self.angle, "slope": self.slope, "level": self.level,
                "minimum": self.minimum}


class DomeThickness(ThicknessMap):
    """The projected thickness of a particle: highest at its centre, thin at its edge.

    ``t = minimum + (1 - minimum) * sqrt(1 - (r / radius)**2)`` inside ``radius``
    (the chord of a sphere, normalised to 1 at the centre) and ``minimum`` outside;
    ``r`` is the distance (nm) from ``center``.

    Parameters
    ----------
    center : pair of float
        Centre ``(y, x)`` in nm relative to the centre of the field of view.
    radius : float
        Radius (nm, > 0) at which the dome meets ``minimum``.
    minimum : float
        Thickness at and beyond ``radius``, in [0, 1].
    """

    def __init__(self, center: Sequence[float] = (0.0, 0.0), radius: float = 3.0, minimum: float = 0.3) -> None:
        self.center = _pair("center", center)
        self.radius = _positive("radius", radius)
        self.minimum = _positive("minimum", minimum, allow_zero=True)
        if self.minimum > 1:
            raise ValueError(f"minimum must be in [0, 1], got {self.minimum}")

    def evaluate(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        dy = np.asarray(y, dtype=float) - self.center[0]
        dx = np.asarray(x, dtype=float) - self.center[1]
        s = 1.0 - (dy**2 + dx**2) / self.radius**2
        return self.minimum + (1.0 - self.minimum) * np.sqrt(np.clip(s, 0.0, None))

    def to_dict(self) -> dict:
        return {"type": "DomeThickness", "center": list(self.center), "radius": self.radius,
                "minimum": self.minimum}


class _ConstantThickness(ThicknessMap):
    def __init__(self, value: float) -> None:
        self.value = value

    def evaluate(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        return np.full(np.broadcast_shapes(np.shape(y), np.shape(x)), self.value)

    def to_dict(self) -> dict:
        return {"type": "ConstantThickness", "value": self.value}


class _CallableThickness(ThicknessMap):
    def __init__(self, func: Callable[[np.ndarray, np.ndarray], Any]) -> None:
        self.func = func

    def evaluate(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        y, x = np.broadcast_arrays(np.asarray(y, dtype=float), np.asarray(x, dtype=float))
        out = np.asarray(self.func(y, x), dtype=float)
        if out.shape != y.shape:
            out = np.broadcast_to(out, y.shape)
        if not np.all(np.isfinite(out)) or (out.size and out.min() < 0):
            raise ValueError("thickness must return finite values >= 0")
        return out

    def to_dict(self) -> dict:
        return {"type": "CallableThickness", "function": getattr(self.func, "__qualname__", repr(self.func))}


def _as_thickness(value: Any) -> ThicknessMap | None:
    """None, a number >= 0, a ThicknessMap or a callable ``f(y, x)`` -> ThicknessMap or None."""
    if value is None or isinstance(value, ThicknessMap):
        return value
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        v = float(value)
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"thickness must be >= 0, got {v}")
        return None if v == 1.0 else _ConstantThickness(v)
    if callable(value):
        return _CallableThickness(value)
    raise TypeError(
        "thickness must be None, a number >= 0, a ThicknessMap (WedgeThickness, DomeThickness) or a callable "
        f"f(y, x) -> array, got {type(value).__name__}"
    )
