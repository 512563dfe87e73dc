"""Per-segment spectra: accumulate a spectrum image over each pattern of a segmentation.

The paper segments an atomic-resolution image so that weak signals can be
"selectively accumulated from within each segment". This module does that for a
spectrum image (SI: EELS, EDS, CL, ... any ``Signal1D`` with two navigation axes)
acquired over (part of) the field of view of the segmented image:

* :func:`labels_on_si_grid` transfers the labels to the SI's navigation grid by
  calibrated position (offsets, scales and units of both signals);
* :func:`segment_spectra` sums or averages the SI spectra of every pattern, keeping
  the SI's class (e.g. exspy's ``EELSSpectrum``), signal axis and metadata;
* :func:`navigation_mask` gives HyperSpy's navigation mask (True = excluded) that
  keeps only some patterns, for ``si.decomposition`` or ``si.cluster_analysis`` on
  one segment.

Matching rules (along each navigation axis, in the labels' units):

SI pixel ``i`` spans ``[offset + (i - 0.5) scale, offset + (i + 0.5) scale]``, image
pixel ``j`` likewise with the image's calibration.

* Where the SI pixel is finer than or as fine as the image pixel (SI scale <= image
  scale, with a relative tolerance of 1e-9), the SI pixel takes the label of the image
  pixel nearest to its centre (a centre exactly half-way between two image pixels goes
  to the higher index); SI pixels whose centre lies outside the image are unassigned.
* Where the SI pixel is coarser (binned SI), every image pixel it overlaps votes for
  its label with the fraction of the SI pixel's area that it covers (area outside the
  image votes for nothing). The SI pixel gets the label with the largest share if that
  share is at least ``coverage`` and no other label has the same share (an exact tie
  leaves it unassigned); otherwise it is unassigned.
* When one axis is finer and the other coarser, the nearest-pixel rule is applied
  along the first and the area shares along the second.

Unassigned SI pixels get the label :data:`UNASSIGNED` (-1) and contribute to no
pattern. Negative (or NaN) input labels are treated as unlabelled image pixels.
"""

from __future__ import annotations

import copy
import numbers
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _validation as check

if TYPE_CHECKING:
    from hyperspy.signal import BaseSignal
    from hyperspy.signals import Signal1D, Signal2D

#: Label of the SI pixels that belong to no pattern.
UNASSIGNED: int = -1

#: Reductions of the spectra of a pattern.
METHODS = ("mean", "sum")

_TOL = 1e-9
_BLOCK_BYTES = 64 * 2**20
_PIXEL_UNITS = ("px", "pixel", "pixels")


# --------------------------------------------------------------------------- checks


def _check_coverage(coverage: Any) -> float:
    return check.check_real("coverage", coverage, 0, 1, units=" (a fraction of the SI pixel)", what="a real number")


def _check_si(si: Any) -> None:
    from hyperspy.signal import BaseSignal

    if not isinstance(si, BaseSignal):
        raise TypeError(
            "si must be a HyperSpy Signal1D with two navigation axes (a spectrum image), "
            f"got an object of type {type(si).__name__}."
        )
    am = si.axes_manager
    if am.signal_dimension != 1 or am.navigation_dimension != 2:
        raise ValueError(
            "si must be a spectrum image: a Signal1D with exactly 2 navigation axes (x, y) and 1 signal axis; "
            f"got navigation dimension {am.navigation_dimension} and signal dimension {am.signal_dimension} "
            f"({si!r}). Use si.inav[...] to select a 2D scan, or si.as_signal1D(...) to choose the signal axis."
        )
    for axis in am.navigation_axes:
        if not axis.is_uniform:
            raise ValueError(f"The navigation axis {axis.name!r} of si must be uniform (constant pixel size).")


def _as_int_labels(data: np.ndarray) -> np.ndarray:
    """Labels as an int64 copy, unlabelled pixels (negative, NaN) as -1."""
    out = check.integer_labels(data, "labels", allow_bool=True, missing=UNASSIGNED).astype(np.int64)
    out[out < 0] = UNASSIGNED
    return out


# ------------------------------------------------------------------------- geometry


@dataclass
class _Axis:
    """Calibration of one axis: pixel ``i`` is centred at ``offset + i * scale``."""

    name: str
    offset: float
    scale: float
    size: int
    units: str | None

    def extent(self) -> tuple[float, float]:
        a = self.offset - 0.5 * self.scale
        b = self.offset + (self.size - 0.5) * self.scale
        return (min(a, b), max(a, b))

    def converted(self, units: str | None) -> _Axis:
        factor = _unit_factor(self.units, units, self.name)
        return _Axis(self.name, self.offset * factor, self.scale * factor, self.size, units)


def _units_of(axis) -> str | None:
    units = getattr(axis, "units", None)
    if units is None:
        return None
    text = str(units).strip()
    return None if text in ("", "<undefined>", "None") else text


def _axis_of(axis) -> _Axis:
    return _Axis(str(axis.name), float(axis.offset), float(axis.scale), int(axis.size), _units_of(axis))


def _unit_factor(units: str | None, target: str | None, name: str) -> float:
    """Factor converting lengths in ``units`` to ``target``."""
    if units == target:
        return 1.0
    if units is None or target is None:
        raise ValueError(
            f"Cannot compare the {name} axes of labels and si: one is calibrated in {units or target!r} and the "
            "other has no units. Set the units of both (e.g. s.axes_manager[0].units = 'nm')."
        )
    if units.lower() in _PIXEL_UNITS or target.lower() in _PIXEL_UNITS:
        raise ValueError(
            f"Cannot compare the {name} axes of labels and si: units {units!r} and {target!r} "
            "(pixels cannot be converted to lengths). Calibrate both in the same length units."
        )
    import pint

    registry = pint.get_application_registry()
    try:
        return float(registry.Quantity(1.0, units).to(target).magnitude)
    except Exception as error:  # pint raises several error types
        raise ValueError(
            f"Cannot compare the {name} axes of labels and si: units {units!r} cannot be converted to {target!r}."
        ) from error


def _fmt_extent(axes: list[_Axis]) -> str:
    parts = []
    for ax in axes:
        lo, hi = ax.extent()
        parts.append(f"{ax.name}: [{lo:.6g}, {hi:.6g}] {ax.units or '(no units)'}")
    return ", ".join(parts)


def _si_nav_axes(si) -> tuple[Any, Any]:
    """The (x, y) navigation axes of the SI (HyperSpy order: x first)."""
    nav = si.axes_manager.navigation_axes
    return nav[0], nav[1]


def _labels_input(labels, si) -> tuple[np.ndarray, _Axis, _Axis, str, int | None]:
    """(labels (y, x) int64, x axis, y axis, title, n_patterns from metadata)."""
    from hyperspy.signal import BaseSignal

    if isinstance(labels, np.ndarray):
        sx, sy = _si_nav_axes(si)
        if labels.ndim != 2 or labels.shape != (sy.size, sx.size):
            raise ValueError(
                "labels given as a plain array must have the SI navigation shape (ny, nx) = "
                f"({sy.size}, {sx.size}) and are then taken on the SI grid; got shape {labels.shape}. "
                "Pass a calibrated label Signal2D (e.g. seg.labels) to match by position."
            )
        return _as_int_labels(labels), _axis_of(sx), _axis_of(sy), "labels", None
    if not isinstance(labels, BaseSignal):
        raise TypeError(
            "labels must be a label Signal2D (y, x) such as SymmetrySegmentation.labels, or a 2D integer array "
            f"on the SI grid; got an object of type {type(labels).__name__}."
        )
    am = labels.axes_manager
    if am.signal_dimension != 2 or am.navigation_dimension != 0:
        raise ValueError(
            "labels must be a single label image: a Signal2D with 2 signal axes (x, y) and no navigation axes; "
            f"got navigation dimension {am.navigation_dimension} and signal dimension {am.signal_dimension}. "
            "For a stack of label images, pass one frame (labels.inav[i])."
        )
    ax_x, ax_y = am.signal_axes
    for axis in (ax_x, ax_y):
        if not axis.is_uniform:
            raise ValueError(f"The axis {axis.name!r} of labels must be uniform (constant pixel size).")
    data = np.asarray(labels.data)
    if ax_y.index_in_array > ax_x.index_in_array:
        data = data.T  # stored as (x, y)
    n_meta = labels.metadata.get_item("SymmetrySegmentation.n_patterns")
    n_meta = int(n_meta) if isinstance(n_meta, numbers.Integral) else None
    title = str(labels.metadata.get_item("General.title", "labels"))
    return _as_int_labels(data), _axis_of(ax_x), _axis_of(ax_y), title, n_meta


def _axis_weights(si_ax: _Axis, im_ax: _Axis) -> tuple[np.ndarray, np.ndarray]:
    """Image indices (n_si, k) and weights (n_si, k) of every SI pixel along one axis.

    Weights are 1 for the nearest image pixel when the SI is at least as fine as the
    image, else the fraction of the SI pixel's length that each image pixel covers;
    0 outside the image.
    """
    centres = si_ax.offset + si_ax.scale * np.arange(si_ax.size)
    u = (centres - im_ax.offset) / im_ax.scale  # position in image pixel indices
    ratio = abs(si_ax.scale / im_ax.scale)
    n_im = im_ax.size
    if ratio <= 1.0 + _TOL:
        j = np.floor(u + 0.5 + _TOL).astype(np.int64)
        inside = (j >= 0) & (j < n_im)
        return np.where(inside, j, 0)[:, None], inside.astype(np.float64)[:, None]
    lo, hi = u - 0.5 * ratio, u + 0.5 * ratio
    j = np.floor(lo + 0.5 + _TOL).astype(np.int64)[:, None] + np.arange(int(np.ceil(ratio)) + 1)
    overlap = np.minimum(hi[:, None], j + 0.5) - np.maximum(lo[:, None], j - 0.5)
    weights = np.clip(overlap, 0.0, None) / ratio
    weights[(j < 0) | (j >= n_im) | (weights < _TOL)] = 0.0
    return np.clip(j, 0, n_im - 1), weights


def _match(labels, si, coverage: float) -> tuple[np.ndarray, dict]:
    """Labels on the SI navigation grid (ny, nx) int64, -1 where unassigned, and info."""
    _check_si(si)
    coverage = _check_coverage(coverage)
    image, im_x, im_y, title, n_meta = _labels_input(labels, si)
    sx, sy = (_axis_of(a) for a in _si_nav_axes(si))
    si_x, si_y = sx.converted(im_x.units), sy.converted(im_y.units)

    for a, b in ((si_x, im_x), (si_y, im_y)):
        (a0, a1), (b0, b1) = a.extent(), b.extent()
        if min(a1, b1) - max(a0, b0) <= _TOL * max(abs(a.scale), abs(b.scale)):
            raise ValueError(
                "The fields of view of si and labels do not overlap: "
                f"si covers {_fmt_extent([si_x, si_y])}; labels cover {_fmt_extent([im_x, im_y])}. "
                "Check the offsets and units of both signals' axes."
            )

    jy, wy = _axis_weights(si_y, im_y)
    jx, wx = _axis_weights(si_x, im_x)
    n_labels = int(image.max()) + 1 if image.size and image.max() >= 0 else 0
    shape = (si_y.size, si_x.size)
    grid = np.full(shape, UNASSIGNED, dtype=np.int64)
    if n_labels:
        n_si = shape[0] * shape[1]
        votes = np.zeros(n_si * n_labels, dtype=np.float64)
        pixel = np.arange(n_si, dtype=np.int64).reshape(shape)
        for a in range(jy.shape[1]):
            for b in range(jx.shape[1]):
                weight = wy[:, a, None] * wx[None, :, b]
                lab = image[jy[:, a, None], jx[None, :, b]]
                ok = (weight > 0) & (lab >= 0)
                if ok.any():
                    votes += np.bincount(pixel[ok] * n_labels + lab[ok], weights=weight[ok], minlength=votes.size)
        votes = votes.reshape(n_si, n_labels)
        best = np.argmax(votes, axis=1)
        share = votes[np.arange(n_si), best]
        if n_labels > 1:
            second = np.partition(votes, n_labels - 2, axis=1)[:, n_labels - 2]
            tie = share - second <= _TOL
        else:
            tie = np.zeros(n_si, dtype=bool)
        assigned = (share > _TOL) & (share >= coverage - _TOL) & ~tie
        grid = np.where(assigned, best, UNASSIGNED).reshape(shape)
    info = {
        "labels_title": title,
        "n_labels_in_image": n_labels,
        "n_patterns_metadata": n_meta,
        "coverage": coverage,
        "unassigned_fraction": float(np.mean(grid < 0)) if grid.size else 0.0,
        "si_pixel_size_ratio": (abs(si_x.scale / im_x.scale), abs(si_y.scale / im_y.scale)),
    }
    return grid, info


def _nav_axes_dicts(si) -> list[dict]:
    """The SI's navigation axes as dicts in array order (y, x), as signal axes."""
    axes = sorted(si.axes_manager.navigation_axes, key=lambda a: a.index_in_array)
    out = []
    for axis in axes:
        d = axis.get_axis_dictionary()
        d["navigate"] = False
        out.append(d)
    return out


# --------------------------------------------------------------------- public API


def labels_on_si_grid(labels: Signal2D | np.ndarray, si: Signal1D, coverage: float = 0.5) -> Signal2D:
    """Transfer segmentation labels to the navigation grid of a spectrum image.

    Parameters
    ----------
    labels : hyperspy.signals.Signal2D or numpy.ndarray
        Label image (y, x) with calibrated axes, e.g. ``SymmetrySegmentation.labels``
        (one frame of a stack: ``labels.inav[i]``). A plain 2D integer array is taken
        to be on the SI's navigation grid already and must have its shape. Negative
        labels mark unlabelled image pixels.
    si : hyperspy.signals.Signal1D
        Spectrum image with exactly two uniform navigation axes (x, y), acquired over
        (part of) the labels' field of view; lazy or not. Its data are not read.
    coverage : float, default 0.5
        For SI pixels coarser than the image pixels: the smallest fraction of the SI
        pixel's area that the majority label must cover for the SI pixel to be
        assigned, in [0, 1]. Ignored along axes where the SI is at least as fine as the
        image (nearest image pixel).

    Returns
    -------
    hyperspy.signals.Signal2D
        int32 labels with the SI's navigation axes (same names, offsets, scales and
        units), :data:`UNASSIGNED` (-1) where the SI pixel is outside the image, not
        covered enough by one label, or split equally between labels.
        ``metadata.LabelsOnSIGrid`` holds ``coverage``, ``unassigned_value``,
        ``unassigned_fraction`` and ``pixels_per_label``.

    Raises
    ------
    TypeError
        If ``labels`` or ``si`` is not a signal (or array) of the expected kind.
    ValueError
        If ``si`` is not a spectrum image, the units cannot be converted into each
        other, or the fields of view do not overlap (the message gives both extents in
        the labels' units).

    Notes
    -----
    Positions are compared in the labels' units after converting the SI's axes with
    pint (e.g. µm to nm); neither input is modified. See the module documentation for
    the matching rules.
    """
    from hyperspy.signals import Signal2D

    grid, info = _match(labels, si, coverage)
    counts = np.bincount(grid[grid >= 0].ravel(), minlength=info["n_labels_in_image"])
    out = Signal2D(grid.astype(np.int32), axes=_nav_axes_dicts(si))
    out.metadata.General.title = f"{info['labels_title']} on the SI grid"
    out.metadata.set_item("Signal.quantity", "Pattern label")
    out.metadata.set_item(
        "LabelsOnSIGrid",
        {
            "coverage": info["coverage"],
            "unassigned_value": UNASSIGNED,
            "unassigned_fraction": info["unassigned_fraction"],
            "pixels_per_label": counts.astype(np.int64),
            "labels_title": info["labels_title"],
        },
    )
    return out


def _pattern_sums_block(block: np.ndarray, lab: np.ndarray, n_patterns: int) -> np.ndarray:
    """(n_patterns, n_channels) float64 sums of the spectra of a (by, bx, E) block."""
    out = np.zeros((n_patterns, block.shape[-1]), dtype=np.float64)
    present = np.unique(lab[lab >= 0])
    for k in present[present < n_patterns]:
        out[k] = block[lab == k].sum(axis=0, dtype=np.float64)
    return out


def _pattern_sums(si, grid: np.ndarray, n_patterns: int) -> np.ndarray:
    """Sum of the SI spectra of every pattern, (n_patterns, n_channels) float64."""
    x_axis, y_axis = _si_nav_axes(si)
    order = (y_axis.index_in_array, x_axis.index_in_array, si.axes_manager.signal_axes[0].index_in_array)
    if si._lazy:
        import dask.array as da

        data = si.data.transpose(order)
        lab = da.from_array(grid, chunks=data.chunks[:2])

        def block_sums(block, lab_block):
            return _pattern_sums_block(block, lab_block, n_patterns)[None, None]

        partial = da.blockwise(
            block_sums, "ijkl", data, "ijl", lab, "ij",
            new_axes={"k": n_patterns}, adjust_chunks={"i": 1, "j": 1}, dtype=np.float64,
        )
        return np.asarray(partial.sum(axis=(0, 1)).compute())
    data = np.asarray(si.data).transpose(order)
    ny, nx, n_channels = data.shape
    rows = max(1, int(_BLOCK_BYTES // max(1, nx * n_channels * data.dtype.itemsize)))
    sums = np.zeros((n_patterns, n_channels), dtype=np.float64)
    for r0 in range(0, ny, rows):
        sums += _pattern_sums_block(data[r0 : r0 + rows], grid[r0 : r0 + rows], n_patterns)
    return sums


def _eager_class(si):
    """The SI's class, or its in-memory counterpart for a lazy SI."""
    from hyperspy.signal import BaseSignal
    from hyperspy.signals import LazySignal

    cls = type(si)
    if issubclass(cls, LazySignal):
        for candidate in cls.__mro__:
            if issubclass(candidate, BaseSignal) and not issubclass(candidate, LazySignal):
                return candidate
    return cls


def _spectra_signal(si, data: np.ndarray, title: str, info: dict):
    """A signal of the SI's class: navigation ``pattern``, the SI's signal axis."""
    metadata = copy.deepcopy(si.metadata.as_dictionary())
    for key in ("_HyperSpy", "Markers"):
        metadata.pop(key, None)
    noise = metadata.get("Signal", {}).get("Noise_properties", {})
    noise.pop("variance", None)
    metadata.setdefault("General", {})["title"] = title
    original_metadata = copy.deepcopy(si.original_metadata.as_dictionary())
    signal_axis = si.axes_manager.signal_axes[0].get_axis_dictionary()
    signal_axis["navigate"] = False
    pattern_axis = {"name": "pattern", "size": data.shape[0], "offset": 0.0, "scale": 1.0, "navigate": True}
    out = _eager_class(si)(data, axes=[pattern_axis, signal_axis], metadata=metadata, original_metadata=original_metadata)
    out.metadata.set_item("SegmentSpectra", info)
    return out


def segment_spectra(
    labels: Signal2D | np.ndarray,
    si: Signal1D,
    method: str = "mean",
    n_patterns: int | None = None,
    coverage: float = 0.5,
) -> Signal1D:
    """Mean or summed spectrum of every pattern of a segmentation.

    Parameters
    ----------
    labels : hyperspy.signals.Signal2D or numpy.ndarray
        Label image (y, x) with calibrated axes, e.g. ``SymmetrySegmentation.labels``;
        see :func:`labels_on_si_grid`.
    si : hyperspy.signals.Signal1D
        Spectrum image (any ``Signal1D`` subclass, e.g. exspy's ``EELSSpectrum`` or
        ``EDSTEMSpectrum``) with exactly two navigation axes, acquired over (part of)
        the labels' field of view. Lazy SIs are reduced chunk by chunk with dask and
        never loaded as a whole. Not modified.
    method : {"mean", "sum"}, default "mean"
        Average or sum of the SI spectra assigned to each pattern.
    n_patterns : int or None, default None
        Number of patterns (output length), at least the largest label + 1. None: the
        ``n_patterns`` of the segmentation (``labels.metadata.SymmetrySegmentation``)
        if present, else the largest label in ``labels`` + 1.
    coverage : float, default 0.5
        For an SI coarser than the image: smallest fraction of an SI pixel that its
        majority label must cover for the SI pixel to count, in [0, 1]; see
        :func:`labels_on_si_grid`.

    Returns
    -------
    signal of the SI's class
        In memory, float64, with one navigation axis ``pattern`` (size ``n_patterns``)
        and the SI's signal axis; metadata (e.g. beam energy, detector) and
        original_metadata of the SI, with ``metadata.SegmentSpectra``: ``method``,
        ``n_patterns``, ``pixels_per_pattern`` (SI pixels of each pattern),
        ``n_si_pixels``, ``unassigned_pixels``, ``unassigned_fraction`` (SI pixels in
        no pattern), ``coverage``, ``empty_patterns`` and ``labels_title``.

    Warns
    -----
    UserWarning
        If a pattern got no SI pixel; its spectrum is NaN for ``method="mean"`` and
        zeros for ``method="sum"``.

    Raises
    ------
    TypeError, ValueError
        For inputs of the wrong kind or values (naming the parameter), units that
        cannot be compared, or fields of view that do not overlap.

    Examples
    --------
    >>> seg = haadf.symmetry_segmentation(n_patterns=2)          # doctest: +SKIP
    >>> spectra = segment_spectra(seg.labels, eels_si)            # doctest: +SKIP
    >>> spectra.inav[1].plot()                                    # doctest: +SKIP
    """
    method = check.check_choice("method", method, METHODS)
    grid, info = _match(labels, si, coverage)
    n_min = max(info["n_labels_in_image"], 1)
    if n_patterns is None:
        n_patterns = max(n_min, info["n_patterns_metadata"] or 0)
    else:
        from ._validation import check_int

        n_patterns = check_int("n_patterns", n_patterns, 1)
        if n_patterns < n_min:
            raise ValueError(
                f"n_patterns must be at least {n_min} (the largest label in labels + 1); got {n_patterns}."
            )
    counts = np.bincount(grid[grid >= 0].ravel(), minlength=n_patterns).astype(np.int64)
    sums = _pattern_sums(si, grid, n_patterns)
    if method == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            data = sums / counts[:, None]
        data[counts == 0] = np.nan
    else:
        data = sums
    empty = [int(k) for k in np.flatnonzero(counts == 0)]
    if empty:
        warnings.warn(
            f"Pattern(s) {empty} got no SI pixel (outside the SI's field of view or below coverage={info['coverage']}); "
            f"their {method} spectrum is {'NaN' if method == 'mean' else 'zeros'}.",
            UserWarning,
            stacklevel=2,
        )
    n_si = int(grid.size)
    unassigned = int(np.count_nonzero(grid < 0))
    meta = {
        "method": method,
        "n_patterns": int(n_patterns),
        "pixels_per_pattern": counts,
        "n_si_pixels": n_si,
        "unassigned_pixels": unassigned,
        "unassigned_fraction": unassigned / n_si if n_si else 0.0,
        "coverage": info["coverage"],
        "empty_patterns": empty,
        "labels_title": info["labels_title"],
    }
    original = si.metadata.get_item("General.title", "")
    title = f"Segment {method} spectra" + (f" of {original}" if original else "")
    return _spectra_signal(si, data, title, meta)


def navigation_mask(
    labels: Signal2D | np.ndarray, si: Signal1D, patterns: int | Iterable[int], coverage: float = 0.5
) -> BaseSignal:
    """HyperSpy navigation mask of a spectrum image that keeps only some patterns.

    Parameters
    ----------
    labels : hyperspy.signals.Signal2D or numpy.ndarray
        Label image; see :func:`labels_on_si_grid`.
    si : hyperspy.signals.Signal1D
        Spectrum image with two navigation axes; see :func:`labels_on_si_grid`.
    patterns : int or sequence of int
        Pattern label(s) to keep (>= 0).
    coverage : float, default 0.5
        See :func:`labels_on_si_grid`; unassigned SI pixels are always excluded.

    Returns
    -------
    hyperspy.signal.BaseSignal
        Boolean signal in HyperSpy's mask convention, **True = excluded**, whose
        navigation axes are the SI's (navigation shape = ``si.axes_manager.navigation_shape``,
        no signal axes: the same form as ``si.sum(-1) > threshold``). This is the form
        HyperSpy 2.5's ``decomposition`` accepts as a signal::

            si.decomposition(navigation_mask=mask)

        HyperSpy 2.5's ``cluster_analysis`` does not accept a signal as a mask; pass the
        array (array order (y, x))::

            si.cluster_analysis("signal", n_clusters=2, navigation_mask=mask.data)

        ``mask.T`` is the same mask as a ``Signal2D`` image (for plotting).
        ``metadata.NavigationMask`` holds ``patterns``, ``kept_pixels`` and ``coverage``.

    Warns
    -----
    UserWarning
        If no SI pixel belongs to the given patterns (everything is masked).

    Notes
    -----
    HyperSpy 2.5 refuses a ``Signal2D`` (signal dimension 2) as a navigation mask in
    ``decomposition``, and its ``decomposition`` reads a plain array mask in
    navigation order (x, y), i.e. ``mask.data.T``, whereas ``cluster_analysis`` reads
    it in array order (y, x) (``mask.data``).
    """
    patterns = check.check_label_list("patterns", patterns)
    grid, info = _match(labels, si, coverage)
    keep = np.isin(grid, patterns)
    kept = int(np.count_nonzero(keep))
    if kept == 0:
        warnings.warn(
            f"No SI pixel belongs to pattern(s) {patterns}: the navigation mask excludes everything.",
            UserWarning,
            stacklevel=2,
        )
    from hyperspy.signals import Signal2D

    image = Signal2D(~keep, axes=_nav_axes_dicts(si))
    mask = image.T
    mask.metadata.General.title = f"Navigation mask (True = excluded) keeping pattern(s) {patterns}"
    mask.metadata.set_item("NavigationMask", {"patterns": patterns, "kept_pixels": kept, "coverage": info["coverage"]})
    return mask
