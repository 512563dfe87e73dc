"""Signals in and out: geometry checks, frames, axes and the signals the pipeline returns.

HyperSpy is imported inside the functions that build signals; the numerics stay in
the kernels (:mod:`hyperspy_symseg.descriptors`, :mod:`hyperspy_symseg._learn`).
"""

from __future__ import annotations

import contextlib
import copy

import numba
import numpy as np

from . import _validation as check
from .model import count_labels

def _progressbar_enabled(show_progressbar: bool | None) -> bool:
    show_progressbar = check.check_bool("show_progressbar", show_progressbar, allow_none=True)
    if show_progressbar is None:
        from hyperspy.defaults_parser import preferences

        return bool(preferences.General.show_progressbar)
    return bool(show_progressbar)


class _NoProgress:
    """What :func:`_progressbar` returns when the bar is off: a context manager whose ``update`` does nothing.

    HyperSpy's ``progressbar(disable=True)`` still imports tqdm and builds a bar with its
    multiprocessing lock: ~20 ms of a fresh process, for nothing shown.
    """

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n=1):
        return None

    def close(self):
        return None


_NO_PROGRESS = _NoProgress()


def _progressbar(total: int, show_progressbar: bool | None, desc: str):
    if not _progressbar_enabled(show_progressbar):
        return _NO_PROGRESS
    from hyperspy.external.progressbar import progressbar

    return progressbar(
        total=total, disable=False, desc=desc, leave=False, unit=" points", unit_scale=True
    )


@contextlib.contextmanager
def _threads(num_workers: int | None):
    """Limit numba's threads to ``num_workers`` (default: all) inside the block."""
    if num_workers is None:
        yield None
        return
    num_workers = check.check_int("num_workers", num_workers, 1)
    previous = numba.get_num_threads()
    numba.set_num_threads(min(num_workers, numba.config.NUMBA_NUM_THREADS))
    try:
        yield num_workers
    finally:
        numba.set_num_threads(previous)


def _check_run_options(lazy_output=None, show_progressbar=None, num_workers=None) -> None:
    """Check the options every public function shares before any work is done."""
    check.check_bool("lazy_output", lazy_output, allow_none=True)
    check.check_bool("show_progressbar", show_progressbar, allow_none=True)
    if num_workers is not None:
        check.check_int("num_workers", num_workers, 1)


def _image_geometry(signal) -> tuple[tuple[int, ...], int, int]:
    """Navigation shape (array order), height and width of an image signal."""
    check.check_signal(signal)
    if signal.axes_manager.signal_dimension != 2:
        raise ValueError(
            "signal must have exactly 2 signal dimensions (an image or a stack of images); "
            f"got signal dimension {signal.axes_manager.signal_dimension} for {signal!r}. "
            "For a stack stored as a 3D signal, use s.transpose(signal_axes=2)."
        )
    for axis in signal.axes_manager.signal_axes:
        if not axis.is_uniform:
            raise ValueError(f"The signal axis {axis.name!r} must be uniform (constant pixel size).")
    check.check_image_dtype(signal.data.dtype)
    shape = signal.data.shape
    return tuple(shape[:-2]), int(shape[-2]), int(shape[-1])


def _check_fits(spec, height: int, width: int) -> None:
    need_y, need_x = spec.min_shape
    if height < need_y or width < need_x:
        raise ValueError(
            f"The image ({height} x {width} px) is too small for {spec.size_hint} = {need_y} x {need_x} px. "
            "Use smaller sizes (patch, window, radius) or shifts."
        )


def _descriptor_axes(signal, spec, grid) -> list[dict]:
    """Axes (array order) of the descriptor signal: input navigation, grid y, grid x, operation."""
    axes_dicts = signal.axes_manager._get_axes_dicts()
    nav, (ydict, xdict) = axes_dicts[:-2], axes_dicts[-2:]
    out = [dict(a, navigate=True) for a in nav]
    for d, start, size in ((ydict, grid.y0, grid.ny), (xdict, grid.x0, grid.nx)):
        out.append(
            {
                "name": d.get("name"),
                "units": d.get("units"),
                "scale": d["scale"] * grid.stride,
                "offset": d["offset"] + start * d["scale"],
                "size": size,
                "navigate": True,
            }
        )
    out.append({"name": "operation", "units": None, "scale": 1.0, "offset": 0.0, "size": spec.n_operations, "navigate": False})
    return out


def _frames(signal) -> np.ndarray:
    """The data as (n_frames, H, W) (a view for in-memory signals)."""
    data = signal.data
    return data.reshape((-1,) + data.shape[-2:])



def _descriptor_signal(signal, data, spec, grid):
    import hyperspy.signals as signals  # the lazy class only for dask data: its import pulls in dask

    axes = _descriptor_axes(signal, spec, grid)
    ydict, xdict = signal.axes_manager._get_axes_dicts()[-2:]
    metadata = copy.deepcopy(signal.metadata.as_dictionary())
    title = metadata.get("General", {}).get("title", "")
    metadata.setdefault("General", {})["title"] = f"{spec.name} descriptors of {title}".strip()
    metadata.setdefault("Signal", {}).update({"signal_type": "", "quantity": spec.quantity})
    info = {**spec.metadata(), "operation_names": spec.operation_names()}
    if getattr(spec, "shifts", None) is not None:
        info["operations_calibrated"] = np.asarray(spec.shifts) * np.array([ydict["scale"], xdict["scale"]])
        info["operations_units"] = xdict.get("units")
    metadata["SymmetryDescriptors"] = {**info, "stride": int(grid.stride), "grid_origin_px": np.array([grid.y0, grid.x0])}
    cls = signals.Signal1D if isinstance(data, np.ndarray) else signals.LazySignal1D
    return cls(data, axes=axes, metadata=metadata)



def _lazy_output(signal, lazy_output):
    lazy_output = check.check_bool("lazy_output", lazy_output, allow_none=True)
    return bool(signal._lazy) if lazy_output is None else lazy_output


def _dask_frames(signal):
    """The data as a dask array (one chunk per frame for in-memory signals)."""
    import dask.array as da

    data = signal.data if signal._lazy else da.from_array(signal.data, chunks=signal.data.shape[:-2] + (-1, -1))
    return data



def _checked(data):
    """Dask array that raises on NaN/inf pixels when computed."""

    def check_block(block):
        check.check_finite(block)
        return block

    return data.map_blocks(check_block, dtype=data.dtype)


def _map_signal(signal, data, title: str, quantity: str, signal_type: str = ""):
    """A Signal2D (lazy for dask data) with the axes and (copied) metadata of ``signal``."""
    import hyperspy.signals as signals  # the lazy class only for dask data: its import pulls in dask

    metadata = copy.deepcopy(signal.metadata.as_dictionary())
    original = metadata.get("General", {}).get("title", "")
    metadata.setdefault("General", {})["title"] = f"{title} of {original}" if original else title
    metadata.setdefault("Signal", {}).update({"signal_type": signal_type, "quantity": quantity})
    axes = [dict(a) for a in signal.axes_manager._get_axes_dicts()]
    cls = signals.Signal2D if isinstance(data, np.ndarray) else signals.LazySignal2D
    out = cls(data, axes=axes, metadata=metadata)
    if signal_type:
        out.set_signal_type(signal_type)
    return out


def _reference_signal(signal, reference_frames):
    """The frames a model is fitted on, as an in-memory signal (None: all frames)."""
    if reference_frames is None and not signal._lazy:
        return signal
    return _stack_signal(signal, reference_frames)


def _stack_signal(signal, indices):
    """In-memory Signal2D of some frames (flat navigation indices) of ``signal``."""
    from hyperspy.signals import Signal2D

    frames = _frames(signal)
    if indices is None:
        indices = np.arange(frames.shape[0])
    data = np.stack([np.asarray(frames[int(i)]) for i in indices])
    axes = [{"name": "frame", "size": len(indices), "navigate": True}] + [dict(a) for a in signal.axes_manager._get_axes_dicts()[-2:]]
    if len(indices) == 1:
        data, axes = data[0], axes[1:]
    out = Signal2D(data, axes=axes, metadata=copy.deepcopy(signal.metadata.as_dictionary()))
    out.metadata.Signal.signal_type = ""
    return out


#: Signal type of the label signals (:class:`hyperspy_symseg.signals.PatternLabels`).
LABELS_SIGNAL_TYPE = "pattern_labels"


def _label_signal(signal, labels, parameters: dict):
    """The labels as a :class:`~hyperspy_symseg.signals.PatternLabels` signal (lazy for dask labels).

    Axes and metadata are copies of ``signal``'s (original_metadata too, deep: editing
    the labels' never edits the input's); the title says what the numbers are.
    """
    out = _map_signal(signal, labels, "Symmetry segmentation", "Pattern label", LABELS_SIGNAL_TYPE)
    info = {k: v for k, v in parameters.items() if v is not None}
    if isinstance(labels, np.ndarray):
        sizes = count_labels(labels, int(parameters["n_patterns"]))
        info.update(pattern_sizes_px=sizes, pattern_fractions=sizes / max(labels.size, 1))
    out.metadata.set_item("SymmetrySegmentation", info)
    out.original_metadata.add_dictionary(copy.deepcopy(signal.original_metadata.as_dictionary()))
    return out


def _use_model_loadings(descriptors, reducer) -> None:
    """Make HyperSpy's decomposition loadings those of ``reducer.transform``, the model's path.

    HyperSpy stores what ``fit_transform`` returned. For NMF that differs from what
    ``transform`` gives on the same data (the fit's weights come from its own
    iterations), so k-means on HyperSpy's loadings would give labels that ``predict``,
    lazy labels and a reloaded model disagree with. With the model's loadings (same
    values, same dtype) every route to labels is the same computation. The factors are
    unchanged.
    """
    if getattr(reducer, "fit_transform_is_transform", False):
        return  # fit_transform(X) is fit(X).transform(X): HyperSpy stored the model's loadings already
    features = np.asarray(descriptors.data).reshape(-1, descriptors.axes_manager.signal_size)
    descriptors.learning_results.loadings = np.asarray(reducer.transform(features))


def _axis_field(axis, name):
    return axis.get(name) if isinstance(axis, dict) else getattr(axis, name, None)


def _space_units(axis) -> str:
    """What the calibrated numbers along an axis (a HyperSpy axis or an axis dict) are.

    Its units; without units, "px" when the scale is 1 (the numbers are pixels), else
    "axis units" (the numbers are in the axis' unnamed units: "px" would be wrong).
    """
    units = _axis_field(axis, "units")
    if isinstance(units, str) and units and units != "<undefined>":
        return units
    return "px" if float(_axis_field(axis, "scale")) == 1.0 else "axis units"


def _time_units(axis) -> str:
    """Units of a frame axis, as :func:`_space_units` but "frame" for an unscaled axis without units."""
    units = _space_units(axis)
    return "frame" if units == "px" else units


def _per(units: str) -> str:
    """``units`` as a denominator: "s", "frame", "(axis units)"."""
    return f"({units})" if " " in units else units


def _pixel_size(signal) -> tuple[list, str]:
    """([scale y, scale x], units) of the image axes (units "" when undefined)."""
    x, y = signal.axes_manager.signal_axes
    units = x.units if isinstance(x.units, str) and x.units != "<undefined>" else ""
    return [float(y.scale), float(x.scale)], units
