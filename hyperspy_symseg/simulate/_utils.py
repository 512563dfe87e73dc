"""Argument checks and small helpers shared by the forward model."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


# --------------------------------------------------------------------------- #
# validation helpers
# --------------------------------------------------------------------------- #
def _real(name: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def _positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    value = _real(name, value)
    if value < 0 or (value == 0 and not allow_zero):
        rng = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {rng}, got {value}")
    return value


def _pair(name: str, value: Any) -> tuple[float, float]:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair of real numbers (y, x), got {value!r}") from None
    if arr.shape != (2,):
        raise ValueError(f"{name} must be a pair of real numbers (y, x), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(arr[0]), float(arr[1])


def _image_shape(name: str, value: Any) -> tuple[int, int]:
    try:
        ny, nx = value
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair of integers (rows, columns), got {value!r}") from None
    out = []
    for v in (ny, nx):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be a pair of integers (rows, columns), got {value!r}")
        if v < 4:
            raise ValueError(f"{name} must be at least (4, 4) pixels, got {value!r}")
        out.append(int(v))
    return out[0], out[1]


def _direction(theta_deg: float) -> np.ndarray:
    """Unit vector (dy, dx) at ``theta`` degrees counter-clockwise as displayed."""
    t = math.radians(theta_deg)
    return np.array([-math.sin(t), math.cos(t)])


def _rotate(vectors: np.ndarray, theta_deg: float) -> np.ndarray:
    """Rotate (..., 2) vectors (y, x) counter-clockwise as displayed."""
    t = math.radians(theta_deg)
    c, s = math.cos(t), math.sin(t)
    v = np.asarray(vectors, dtype=float)
    y, x = v[..., 0], v[..., 1]
    return np.stack([c * y - s * x, s * y + c * x], axis=-1)


def _rng(random_state: Any) -> np.random.Generator:
    if isinstance(random_state, (bool, np.bool_)):
        raise TypeError("random_state must be None, an int or a numpy.random.Generator")
    try:
        return np.random.default_rng(random_state)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"random_state must be None, a non-negative int or a numpy.random.Generator, got {random_state!r}"
        ) from err


def _plain(value: Any) -> Any:
    """Convert numpy scalars/arrays in nested containers to plain Python values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


def _dict_repr(obj: Any) -> str:
    """``Type(key=value, ...)`` from an object's ``to_dict()`` (its ``"type"`` entry first)."""
    d = dict(obj.to_dict())
    t = d.pop("type")
    return f"{t}({', '.join(f'{k}={v}' for k, v in d.items())})"
