"""Shared input checks and lattice helpers of the atom-column functions (no numerics).

Used by :mod:`hyperspy_symseg.atom_columns` (finding columns) and
:mod:`hyperspy_symseg._columns_denoise` (denoising); neither imports the other.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from . import _validation as check

#: Below this lattice quality (0..1, :func:`hyperspy_symseg.lattice.find_lattice`) an image
#: is said to hold no lattice: :func:`find_atom_columns` and :func:`denoise` refuse it.
#: Measured on the forward model: Poisson or Gaussian noise, vacuum and amorphous
#: material 0.0; single crystals 0.49-0.66 at 8 counts, two grains 0.43 at 8 counts.
MIN_LATTICE_QUALITY = 0.1


# --------------------------------------------------------------------------- lattice


def _find_lattice(image: np.ndarray):
    """The project's lattice analysis (power-spectrum Bragg peaks, every grain)."""
    from .lattice import find_lattice

    return find_lattice(image)


#: Lattices with a smaller share of the Bragg power do not set the column separation
#: (a weak spurious lattice of 2 px would make every pixel a candidate).
MIN_LATTICE_SHARE = 0.1


def _significant_lattices(lattice) -> list:
    lats = list(getattr(lattice, "lattices", []))
    keep = [li for k, li in enumerate(lats) if k == 0 or getattr(li, "share", 1.0) >= MIN_LATTICE_SHARE]
    return keep


def _min_separation(lattice) -> float:
    """Shortest column separation (px) over the significant lattices."""
    lats = _significant_lattices(lattice)
    if not lats:
        return float(lattice.min_separation_px)
    return float(min(li.min_separation_px for li in lats))


def _no_lattice_error(quality: float, threshold: float, what: str) -> ValueError:
    return ValueError(
        f"the image holds no lattice (lattice quality {quality:.3f} < min_lattice_quality={threshold:g}): "
        f"{what} would only return noise. If the image does show a lattice, give min_separation= "
        "(and lattice_vectors= / translations= for denoise) explicitly or lower min_lattice_quality."
    )


# --------------------------------------------------------------------------- input


_PIXEL_AXES = {"scale": (1.0, 1.0), "offset": (0.0, 0.0), "units": ("px", "px"), "names": ("y", "x")}


def _signal_axes(am) -> dict:
    """Calibration of the (y, x) signal axes of an axes manager."""
    sx, sy = am.signal_axes
    return {
        "scale": (float(sy.scale), float(sx.scale)),
        "offset": (float(sy.offset), float(sx.offset)),
        "units": (str(sy.units), str(sx.units)),
        "names": (str(sy.name), str(sx.name)),
    }


def _check_frame(data: Any, name: str = "signal") -> np.ndarray:
    """One image as an ndarray, checked: 2D, real, at least 8 x 8, finite."""
    if hasattr(data, "compute"):
        data = data.compute()
    data = np.asarray(data)
    if data.ndim != 2:
        raise ValueError(f"{name} must be a 2D image, got an array of shape {data.shape}.")
    check.check_image_dtype(data.dtype, name)
    if min(data.shape) < 8:
        raise ValueError(f"{name} must be at least 8 x 8 pixels, got {data.shape}.")
    check.check_finite(data, name)
    return data


def _is_stack(signal: Any) -> bool:
    return hasattr(signal, "axes_manager") and signal.axes_manager.navigation_dimension > 0


def _image_and_axes(signal: Any, name: str = "signal") -> tuple[np.ndarray, dict]:
    """(H, W) data and the calibration of a single-image signal or array."""
    if isinstance(signal, np.ndarray):
        return _check_frame(signal, name), dict(_PIXEL_AXES)
    if hasattr(signal, "axes_manager") and hasattr(signal, "data"):
        am = signal.axes_manager
        if am.signal_dimension != 2:
            raise ValueError(f"{name} must have 2 signal dimensions (an image), got {am.signal_dimension}.")
        if am.navigation_dimension != 0:
            raise ValueError(f"{name} holds {am.navigation_size} images (navigation shape {am.navigation_shape}); "
                             "this function works on one image: pick one with s.inav[i].")
        return _check_frame(signal.data, name), _signal_axes(am)
    raise TypeError(f"{name} must be a HyperSpy Signal2D or a 2D NumPy array, got {type(signal).__name__}.")


def _real(name: str, value: Any, low: float | None = None, high: float | None = None, *,
          open_low: bool = True) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}.")
    value = float(value)
    bad = not math.isfinite(value)
    if low is not None:
        bad |= value <= low if open_low else value < low
    if high is not None:
        bad |= value > high
    if bad:
        lo = "" if low is None else (f"> {low:g}" if open_low else f">= {low:g}")
        hi = "" if high is None else f"<= {high:g}"
        rng = " and ".join(r for r in (lo, hi) if r)
        raise ValueError(f"{name} must be a finite number{' ' + rng if rng else ''}, got {value}.")
    return value


def _labels_image(segmentation: Any, shape: tuple[int, int]) -> np.ndarray | None:
    if segmentation is None:
        return None
    labels = getattr(segmentation, "labels", segmentation)  # SymmetrySegmentation -> its labels
    if hasattr(labels, "axes_manager"):
        if labels.axes_manager.navigation_dimension != 0:
            raise ValueError("segmentation must be one label image (no navigation axes); pick a frame first.")
        labels = labels.data
        if hasattr(labels, "compute"):
            labels = labels.compute()
    labels = np.asarray(labels)
    if labels.shape != shape:
        raise ValueError(f"segmentation must have the image's shape {shape}, got {labels.shape}.")
    return check.as_integer_array(labels, "segmentation must hold integer labels")
