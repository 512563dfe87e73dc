"""Every argument check of the package, once, with messages that name the parameter and the allowed values.

Scalars: :func:`check_int`, :func:`check_real`, :func:`check_positive`,
:func:`check_real_pair`, :func:`check_bool`, :func:`check_choice`,
:func:`check_random_state`, :func:`check_n_components`. Arrays:
:func:`integer_labels` (label images and label vectors, in every module that takes
them), :func:`check_samples` (2D real (n_samples, n_features) arrays),
:func:`check_vector`, :func:`check_label_list`, :func:`check_shifts`,
:func:`as_integer_array`. Images: :func:`check_signal`, :func:`check_image_dtype`,
:func:`check_finite`. NumPy only, no HyperSpy.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

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


#: Largest |shift| accepted in preselected_translations (far beyond any image; keeps
#: every index computation of the kernels inside int64).
MAX_SHIFT = 2**31 - 1


def check_shifts(value) -> np.ndarray:
    """An (N, 2) integer array of translations (m, n) with N >= 1 and |m|, |n| <= MAX_SHIFT."""
    try:
        arr = np.asarray(value)
    except ValueError:  # ragged nested lists
        arr = None
    if arr is None or arr.dtype == object:
        raise ValueError(
            "preselected_translations must be an (N, 2) array of integer shifts (m, n) = (rows, columns) "
            "with N >= 1; got rows of different lengths or non-numbers."
        )
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 1:
        raise ValueError(
            "preselected_translations must be an (N, 2) array of integer shifts (m, n) = (rows, columns) "
            f"with N >= 1; got shape {arr.shape}."
        )
    if arr.dtype.kind in "iuf":
        finite = np.isfinite(arr) if arr.dtype.kind == "f" else np.ones(arr.shape, dtype=bool)
        # Compare before any conversion: int64 would wrap 2**63 (uint64) and 1e20.
        too_large = ~finite | (arr > MAX_SHIFT) | (arr < -MAX_SHIFT)
        if np.any(too_large):
            bad = arr[too_large][0]
            raise ValueError(
                f"preselected_translations must hold shifts in [-{MAX_SHIFT}, {MAX_SHIFT}] px "
                f"(and at most the image size); got {bad!r}."
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


def check_bool(name: str, value, allow_none: bool = False):
    """``value`` as a bool (True/False, also NumPy's), or None if ``allow_none``."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    allowed = "True, False or None" if allow_none else "True or False"
    raise TypeError(f"{name} must be {allowed}; got {value!r}.")


def check_real(name: str, value, minimum: float | None = None, maximum: float | None = None, units: str = "",
               what: str = "a number", finite: bool = True) -> float:
    """``value`` as a float in [minimum, maximum] (finite unless ``finite=False``; never NaN).

    The message reads "``name`` must be ``what`` [range] ``units``; got ...".
    """
    text = f"{name} must be {what}{_range_text(minimum, maximum)}{units}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{text}; got {value!r}.")
    value = float(value)
    bad = np.isnan(value) or (finite and not np.isfinite(value))
    if bad or (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{text}; got {value}.")
    return value


def check_positive(name: str, value) -> float:
    """``value`` as a positive finite float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive real number; got {value!r}.")
    value = float(value)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number; got {value}.")
    return value


def check_real_pair(name: str, value, positive: bool) -> np.ndarray:
    """A number or a pair ``(y, x)`` of finite (positive) reals, as a (2,) float64 array."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a number or a pair (y, x) of real numbers; got {value!r}.")
    if arr.shape not in ((2,), ()):
        raise ValueError(f"{name} must be a number or a pair (y, x) of real numbers; got shape {arr.shape}.")
    arr = np.broadcast_to(arr.astype(np.float64), (2,)).copy()
    if not np.all(np.isfinite(arr)) or (positive and not np.all(arr > 0)):
        kind = "positive finite" if positive else "finite"
        raise ValueError(f"{name} must be {kind} (y, x) values; got {arr.tolist()}.")
    return arr


#: Rows checked at once for NaN/inf in large sample arrays.
_FINITE_ROWS = 65536


def check_samples(X, name: str = "X", finite: bool = True) -> np.ndarray:
    """A 2D ``(n_samples, n_features)`` array of real numbers (finite if ``finite``); not copied."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2D (n_samples, n_features) array; got shape {X.shape}.")
    if X.dtype.kind not in "fiu":
        raise TypeError(f"{name} must hold real numbers (integer or float dtype); got dtype {X.dtype}.")
    if finite and X.dtype.kind == "f":
        for start in range(0, len(X), _FINITE_ROWS):
            if not np.isfinite(X[start : start + _FINITE_ROWS]).all():
                raise ValueError(f"{name} contains NaN or infinite values.")
    return X


def check_vector(name: str, value, what: str = "one value per operation") -> np.ndarray:
    """A non-empty 1D array of real numbers (``what`` says what it holds)."""
    s = np.asarray(value)
    if s.ndim != 1 or s.shape[0] < 1:
        raise ValueError(f"{name} must be a non-empty 1D array ({what}); got shape {s.shape}.")
    if s.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers; got dtype {s.dtype}.")
    return s


def integer_labels(value, name: str = "labels", allow_bool: bool = False, missing: int | None = None) -> np.ndarray:
    """Integer labels from an array or a signal (its data; lazy data are computed).

    Integer arrays come back as they are; booleans (if ``allow_bool``) and floats
    holding integers as int64. Non-finite floats are an error, or become ``missing``
    if given (e.g. -1 for "unlabelled"). Anything else is a TypeError naming ``name``.
    """
    data = value.data if hasattr(value, "axes_manager") else value
    if hasattr(data, "compute") and not isinstance(data, np.ndarray):
        data = data.compute()
    arr = np.asarray(data)
    kind = arr.dtype.kind
    if kind in "iu":
        return arr
    if kind == "b" and allow_bool:
        return arr.astype(np.int64)
    if kind == "f":
        finite = np.isfinite(arr)
        if not finite.all() and missing is None:
            raise ValueError(f"{name} contains NaN or infinite values; labels must be integers.")
        if not np.all(arr[finite] == np.round(arr[finite])):
            raise TypeError(f"{name} must hold integers (integer pattern labels); got non-integer float values.")
        return np.where(finite, arr, missing if missing is not None else 0).astype(np.int64)
    raise TypeError(f"{name} must hold integers (integer pattern labels); got dtype {arr.dtype}.")


def check_label_list(name: str, value) -> list[int]:
    """A label (int >= 0) or a non-empty sequence of them, as a sorted list without repeats."""

    def one(p):
        if isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Integral):
            raise TypeError(f"{name} must be a pattern label (int >= 0) or a sequence of them; got {p!r}.")
        if int(p) < 0:
            raise ValueError(f"{name} must be pattern labels >= 0; got {int(p)}.")
        return int(p)

    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        return [one(value)]
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a pattern label (int >= 0) or a sequence of them; got {value!r}.")
    values = [one(p) for p in np.asarray(list(value), dtype=object).ravel()]
    if not values:
        raise ValueError(f"{name} must name at least one pattern label; got an empty sequence.")
    return sorted(set(values))


def check_signal(signal, name: str = "signal"):
    """A HyperSpy signal (anything with ``data`` and ``axes_manager``), or a TypeError saying what is expected."""
    if not (hasattr(signal, "axes_manager") and hasattr(signal, "data")):
        kind = type(signal).__name__ if signal is not None else "None"
        hint = " Wrap an array with hs.signals.Signal2D(array)." if isinstance(signal, (np.ndarray, list, tuple)) else ""
        raise TypeError(
            f"{name} must be a HyperSpy Signal2D (an image or image stack, e.g. from hs.load(path)); "
            f"got {kind}.{hint}"
        )
    return signal
