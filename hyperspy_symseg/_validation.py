"""Argument checks with messages that name the parameter and the allowed values."""

from __future__ import annotations

import numbers

import numpy as np


def check_int(name: str, value, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an int, or raise naming ``name`` and the allowed range."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer{_range_text(minimum, maximum)}, got {value!r}.")
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be an integer{_range_text(minimum, maximum)}, got {value}.")
    return value


def _range_text(minimum, maximum) -> str:
    if minimum is not None and maximum is not None:
        return f" in [{minimum}, {maximum}]"
    if minimum is not None:
        return f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""


def check_choice(name: str, value, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {allowed}; got {value!r}.")
    return value


def check_n_components(value, n_operations: int) -> int | float:
    """An int in [1, n_operations] or a float in (0, 1) (fraction of variance)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        return check_int("n_components", value, 1, n_operations)
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        value = float(value)
        if 0.0 < value < 1.0:
            return value
        raise ValueError(
            "n_components must be an integer in [1, number of operations] or a float in (0, 1) "
            f"(the fraction of the variance to explain); got {value}."
        )
    raise TypeError(
        "n_components must be an integer in [1, number of operations] or a float in (0, 1); " f"got {value!r}."
    )


def check_random_state(value):
    if value is None or isinstance(value, np.random.Generator):
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)) and value >= 0:
        return int(value)
    raise TypeError(f"random_state must be None, an integer >= 0 or a numpy.random.Generator; got {value!r}.")


def as_integer_array(value, message: str) -> np.ndarray:
    """``value`` as a contiguous int64 array; floats are accepted if all integral.

    Raises TypeError with ``message`` followed by the dtype otherwise.
    """
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind != "f" or not (np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))):
            raise TypeError(f"{message}; got dtype {arr.dtype}.")
    return np.ascontiguousarray(arr, dtype=np.int64)


def check_shifts(value) -> np.ndarray:
    """An (N, 2) integer array of translations (m, n) with N >= 1."""
    arr = np.asarray(value)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 1:
        raise ValueError(
            "preselected_translations must be an (N, 2) array of integer shifts (m, n) = (rows, columns) "
            f"with N >= 1; got shape {arr.shape}."
        )
    return as_integer_array(arr, "preselected_translations must hold integer shifts in pixels")


def check_image_dtype(dtype: np.dtype, name: str = "signal") -> None:
    """Accept real floats and integers; refuse complex, boolean and non-numeric data."""
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        raise TypeError(
            f"{name} holds complex data ({dtype}); symmetry descriptors need a real image. "
            "Take the modulus or the phase first (e.g. s.amplitude or s.phase)."
        )
    if dtype.kind == "b":
        raise TypeError(f"{name} holds boolean data; symmetry descriptors need a real-valued image.")
    if dtype.kind not in "fiu":
        raise TypeError(f"{name} must hold real numbers (float or integer), got dtype {dtype}.")


def check_finite(data: np.ndarray, name: str = "signal") -> None:
    finite = np.isfinite(data)
    if not finite.all():
        n_bad = int(finite.size - np.count_nonzero(finite))
        raise ValueError(
            f"{name} contains {n_bad} NaN or infinite pixel(s); replace them first "
            "(e.g. with the image mean or an inpainted value)."
        )
