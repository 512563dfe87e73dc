"""Automatic parameters: descriptor sizes from the lattice, in units of the lattice period.

NumPy only; no HyperSpy. The rule (measured on ``benchmarks/bench_accuracy.py`` at 4-40
px per period and on the real images of ``benchmarks/bench_real.py``):

* the **period** ``P`` is the longest of the two shortest lattice vectors over all the
  lattices found (:func:`hyperspy_symseg.lattice.find_lattice`), so a window reaching it
  reaches a lattice vector of every grain and phase;
* translations: patch half size ``0.8 P`` and shift window ``1.33 P`` (the shift grid's
  9 x 9 points then sample the local correlation map about every ``P / 3``); the window
  reaches at least one lattice vector along both axes;
* rotations/reflections: radius ``1.33 P``; pooling windows ``1.33 P`` (rotations) and
  ``0.8 P`` (reflections), pooled every ``P / 5`` px;
* power spectrum: window half size ``1.33 P`` (a window of ~2.7 periods);
* stride ``P / 4`` (at least 1, and large enough for at most :data:`MAX_GRID_POINTS`
  grid points per frame);
* background: a structuring element ``P`` wide, smoothed by ``P / 4``.

At ``P = 15`` px these are the fixed defaults the package had (patch 12, window 20,
radius 20, stride 4), which were tuned on scenes of 13-20 px periods; scaling them with
``P`` keeps their accuracy at every sampling. An explicit number for any parameter wins.
"""

from __future__ import annotations

import math

import numpy as np

#: Patch half size, in lattice periods.
PATCH_FACTOR = 0.8
#: Shift window (translations), rotation radius, rotation pooling and power-spectrum window, in periods.
WINDOW_FACTOR = 4.0 / 3.0
#: Reflection pooling window, in periods.
REFLECTION_POOL_FACTOR = 0.8
#: Pooling step, in periods.
POOL_STEP_FACTOR = 0.2
#: Stride, in periods.
STRIDE_FACTOR = 0.25
#: At most this many descriptor grid points per frame by default (memory: x operations x 4 bytes).
MAX_GRID_POINTS = 2**18
#: The period assumed when no lattice is found (the fixed defaults of older versions).
FALLBACK_PERIOD = 15.0

#: The size parameters of each family that ``"auto"`` resolves.
SIZE_PARAMETERS = {
    "local_correlation_map": ("patch_x", "patch_y", "window_x", "window_y"),
    "preselected_translations": ("patch_x", "patch_y"),
    "rotational_symmetry_maximum_pooling": ("radius", "window_x", "window_y", "pool_step"),
    "reflection_symmetry_maximum_pooling": ("radius", "window_x", "window_y", "pool_step"),
    "power_spectrum": ("window_x", "window_y"),
}


def _round(value: float, minimum: int) -> int:
    return max(int(minimum), int(round(value)))


def sizes_for_period(descriptor: str, period: float) -> dict:
    """Every size parameter of ``descriptor`` for a lattice period ``period`` (px)."""
    p = float(period)
    window = _round(WINDOW_FACTOR * p, 2)
    if descriptor in ("local_correlation_map", "preselected_translations"):
        patch = _round(PATCH_FACTOR * p, 2)
        out = {"patch_x": patch, "patch_y": patch}
        if descriptor == "local_correlation_map":
            out.update(window_x=window, window_y=window)
        return out
    if descriptor in ("rotational_symmetry_maximum_pooling", "reflection_symmetry_maximum_pooling"):
        pool = window if descriptor.startswith("rotational") else _round(REFLECTION_POOL_FACTOR * p, 1)
        return {"radius": _round(WINDOW_FACTOR * p, 3), "window_x": pool, "window_y": pool,
                "pool_step": _round(POOL_STEP_FACTOR * p, 1)}
    if descriptor == "power_spectrum":
        return {"window_x": _round(WINDOW_FACTOR * p, 4), "window_y": _round(WINDOW_FACTOR * p, 4)}
    raise ValueError(f"no automatic sizes for descriptor {descriptor!r}.")


def stride_for_period(period: float, image_shape) -> int:
    """The automatic stride: ``P / 4``, at least 1, and enough for <= MAX_GRID_POINTS points."""
    height, width = int(image_shape[-2]), int(image_shape[-1])
    floor = math.ceil(math.sqrt(height * width / MAX_GRID_POINTS))
    return max(1, int(round(STRIDE_FACTOR * float(period))), int(floor))


def background_for_period(period: float) -> tuple[int, float]:
    """(structuring element width, smoothing sigma) of the lattice background, px."""
    return max(3, int(round(float(period)))), max(1.0, float(period) / 4.0)


def feature_patch(descriptor, period: float) -> int:
    """Half size of the box of the extra channels: the translation patch, else ``0.8 P``."""
    patch = getattr(descriptor, "patch_x", None)
    if patch is not None:
        return int(max(patch, getattr(descriptor, "patch_y", patch)))
    return _round(PATCH_FACTOR * float(period), 2)


def is_auto(value) -> bool:
    return isinstance(value, str) and value == "auto"


def resolve_sizes(descriptor: str, parameters: dict, period: float) -> tuple[dict, list]:
    """``parameters`` with every missing or ``"auto"`` size of ``descriptor`` filled in.

    Returns the new parameters and the names that were chosen automatically.
    """
    out = dict(parameters)
    automatic = []
    sizes = sizes_for_period(descriptor, period)
    for name in SIZE_PARAMETERS.get(descriptor, ()):
        if name not in out or is_auto(out[name]):
            out[name] = sizes[name]
            automatic.append(name)
    return out, automatic


def lattice_period(lattice) -> float | None:
    """The period of a :class:`~hyperspy_symseg.lattice.LatticeResult`, or None without a lattice."""
    if lattice is None or not lattice.found:
        return None
    period = float(lattice.period_px)
    return period if np.isfinite(period) else None
