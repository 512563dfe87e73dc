"""The automatic stage of the pipeline: lattice analysis, then the descriptor it implies.

Before any descriptor is computed, the lattice of the (first) reference frame is
estimated (:func:`hyperspy_symseg.lattice.find_lattice`); every size parameter left out
or given as ``"auto"`` is chosen from its period (:mod:`hyperspy_symseg.auto`), and the
descriptor is wrapped so that it scores the image without its background and appends the
crystallinity and intensity channels (:mod:`hyperspy_symseg.descriptors._augmented`),
their scaling measured on the reference frames. Explicit numbers always win.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np

from . import _validation as check
from . import auto
from ._signal_utils import _check_fits, _frames
from .descriptors import descriptor_names, make_descriptor
from .descriptors._augmented import EXTRA_CHANNELS, AugmentedDescriptor, lattice_translations
from .lattice import find_lattice

#: Frames (at most) on which the extra channels' scaling is measured.
STATS_FRAMES = 4

#: A lazy frame larger than this (px per side) is analysed on its central crop of this
#: size, so the automatic stage never loads a whole large lazy image (memory stays
#: bounded); in-memory frames are analysed whole.
LAZY_CROP = 2048


def _frame_array(signal, index: int) -> np.ndarray:
    frame = _frames(signal)[int(index)]
    if hasattr(frame, "compute"):
        height, width = frame.shape[-2:]
        y0, x0 = max(0, (height - LAZY_CROP) // 2), max(0, (width - LAZY_CROP) // 2)
        frame = frame[y0 : y0 + LAZY_CROP, x0 : x0 + LAZY_CROP].compute()
    return np.asarray(frame)


def _sizes_automatic(descriptor, parameters) -> bool:
    """Whether any size parameter of the family is left out or ``"auto"``."""
    return any(name not in parameters or auto.is_auto(parameters[name])
               for name in auto.SIZE_PARAMETERS.get(descriptor, ()))


def _needs_lattice(descriptor, stride, parameters, background, intensity_features) -> bool:
    return bool(_sizes_automatic(descriptor, parameters) or auto.is_auto(stride) or auto.is_auto(background)
                or intensity_features)


def _explicit_plain(descriptor, stride, parameters, background, intensity_features) -> bool:
    """Every size, the stride and no background given, no extra channels: no lattice analysis."""
    return not _needs_lattice(descriptor, stride, parameters, background, intensity_features) and background is None


def prepare_descriptor(signal, descriptor: str, stride, parameters: dict, background="auto",
                       intensity_features: bool = True, reference_frames=None, lattice=None):
    """The descriptor, stride and a record of the automatic choices for a signal.

    Parameters
    ----------
    signal : hyperspy.signals.Signal2D
        The image or stack (eager or lazy); frames are read, never modified.
    descriptor : str
        The family name.
    stride : int or "auto"
    parameters : dict
        The family's parameters as the user gave them ("auto" or left out = automatic).
    background : "auto", int or None
        Structuring-element width (px) of the lattice background, "auto" (one period)
        or None for none.
    intensity_features : bool
        Append the crystallinity and (gated) intensity channels.
    reference_frames : sequence of int or None
        Flat indices of the frames the model is fitted on (None: all).
    lattice : LatticeResult, optional
        A lattice analysis to use instead of running one.

    Returns
    -------
    spec : descriptor object
    stride : int
    info : dict
        ``period_px``, ``auto_parameters`` (names chosen automatically), ``lattice``
        (the analysis as plain values) and the resolved values.
    lattice : LatticeResult or None
        The lattice analysis used.
    """
    check.check_choice("descriptor", descriptor, descriptor_names())
    if not isinstance(intensity_features, (bool, np.bool_)):
        raise TypeError(f"intensity_features must be True or False, got {intensity_features!r}.")
    if background is not None and not auto.is_auto(background):
        background = check.check_int("background", background, 3)
    n_frames = int(np.prod(signal.data.shape[:-2], dtype=np.int64))
    frames = list(range(n_frames)) if reference_frames is None else [int(i) for i in reference_frames]
    info: dict = {"auto_parameters": []}
    period = None
    plain = _explicit_plain(descriptor, stride, parameters, background, intensity_features)
    if lattice is None and not plain:
        first = _frame_array(signal, frames[0])
        check.check_image_dtype(first.dtype)
        check.check_finite(first)
        if min(first.shape) >= 32:
            lattice = find_lattice(first.astype(np.float64, copy=False))
    if lattice is not None:
        period = auto.lattice_period(lattice)
        info["lattice"] = lattice.to_dict()
        x_axis, y_axis = signal.axes_manager.signal_axes
        units = x_axis.units if isinstance(x_axis.units, str) and x_axis.units not in ("", "<undefined>") else "px"
        if units != "px":
            lattice.scale, lattice.units = (abs(float(y_axis.scale)), abs(float(x_axis.scale))), units
    if period is None and (_sizes_automatic(descriptor, parameters) or auto.is_auto(stride)):
        warnings.warn(
            "no lattice was found in the image (no Bragg peaks stand out of its power spectrum); the automatic "
            f"sizes assume a {auto.FALLBACK_PERIOD:g} px period. Give patch/window/radius and stride explicitly "
            "if the image holds a lattice.", UserWarning, stacklevel=3,
        )
    p = period if period is not None else auto.FALLBACK_PERIOD
    info["period_px"] = float(p)
    resolved, chosen = auto.resolve_sizes(descriptor, parameters, p)
    if auto.is_auto(stride):
        shape = signal.data.shape[-2:]
        stride = auto.stride_for_period(p, shape)
        chosen.append("stride")
    stride = check.check_int("stride", stride, 1)
    info["auto_parameters"] = chosen
    spec = make_descriptor(descriptor, **resolved)
    _check_fits(spec, *signal.data.shape[-2:])  # before any score is computed with it
    if auto.is_auto(background):
        background = auto.background_for_period(p)[0] if period is not None else None
        if background is not None:
            chosen.append("background")
    sigma = auto.background_for_period(background if background else p)[1]
    shifts = halves = None
    if period is not None and not plain:
        per_lattice = [lattice_translations(lat.vectors) for lat in lattice.lattices]
        count = min(len(s) for s, _ in per_lattice)
        if count >= 1:
            shifts = np.stack([s[:count] for s, _ in per_lattice])
            halves = np.stack([h[:count] for _, h in per_lattice])
    if background or shifts is not None:
        channels = EXTRA_CHANNELS if intensity_features else ()
        spec = AugmentedDescriptor(spec, background=background or None, background_sigma=sigma,
                                   lattice_shifts=shifts, half_shifts=halves, patch=auto.feature_patch(spec, p),
                                   extras=channels)
        if shifts is not None:
            step = max(1, len(frames) // STATS_FRAMES)
            spec = spec.fitted(_frame_array(signal, i) for i in frames[::step][:STATS_FRAMES])
    info.update({name: resolved[name] for name in chosen if name in resolved})
    info["stride"] = int(stride)
    info["background"] = int(background) if background else None
    info["intensity_features"] = bool(shifts is not None and intensity_features)
    return spec, stride, info, lattice




def fine_patch(spec, factor: float = 0.5, min_patch: int = 6) -> int | None:
    """Patch half size (px) of the boundary refinement's descriptor, or None when there is none.

    Only the automatic local correlation map (an :class:`AugmentedDescriptor` with the
    lattice translations) is refined, and only when ``factor`` times its patch is at
    least ``min_patch`` px.
    """
    if not isinstance(spec, AugmentedDescriptor) or not spec.has_lattice or spec.name != "local_correlation_map":
        return None
    patch = int(round(factor * min(spec.base.patch_x, spec.base.patch_y)))
    return patch if patch >= min_patch else None


def fine_descriptor(spec, patch: int, frames, prepared_frames, period: float):
    """The descriptor of the boundary refinement: ``spec`` with patch half size ``patch``.

    The same translations, background and channels; the channels' scaling is measured
    again, on ``frames`` (``prepared_frames``: their background-free images, which the
    two descriptors share). ``period``: the lattice period (px) of the automatic sizes.
    """
    base = make_descriptor(spec.name, **{**spec.base.parameters, "patch_x": patch, "patch_y": patch})
    fine = replace(spec, base=base, patch=auto.feature_patch(base, period), stats={})
    return fine.fitted(frames, prepared_frames)
