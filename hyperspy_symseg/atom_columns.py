"""Atom columns of atomic-resolution images: find, refine, tabulate, denoise.

:func:`find_atom_columns` detects every column (robust to thickness ramps, vacuum and
noise), refines it to sub-pixel precision (centre of mass, then a batched elliptical
2D Gaussian fit with the neighbours subtracted, Poisson maximum likelihood on counts)
and returns an :class:`AtomColumns` result: a table, calibrated HyperSpy markers, CSV
export and, with a segmentation, the columns and lattice vectors of every pattern.

:func:`denoise` returns a denoised copy of an image (same class, axes and metadata;
lazy for lazy input) by non-local averaging over the lattice translations, which
needs no training and keeps vacancies and dopant columns.

The numerics are in :mod:`hyperspy_symseg.columns` (no HyperSpy there).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _validation as check
from ._columns_common import (  # noqa: F401 - _min_separation is used by the benchmarks
    MIN_LATTICE_QUALITY, _check_frame, _find_lattice, _image_and_axes, _is_stack, _labels_image, _min_separation,
    _no_lattice_error, _real, _signal_axes,
)
from ._columns_denoise import denoise
from ._columns_result import AtomColumns, AtomColumnsStack
from .columns import _locate, _table

__all__ = ["AtomColumns", "AtomColumnsStack", "find_atom_columns", "denoise", "MIN_LATTICE_QUALITY"]

# documented (and pickled) under this public module, not the private ones that define them
for _obj in (AtomColumns, AtomColumnsStack, denoise):
    _obj.__module__ = __name__
del _obj

# --------------------------------------------------------------------------- find


def find_atom_columns(
    signal: Any,
    *,
    min_separation: float | None = None,
    sigma: float | None = None,
    segmentation: Any = None,
    noise: str = "auto",
    elliptical: bool = True,
    min_snr: float = _locate.MIN_SNR,
    window: float | None = None,
    fit: bool = True,
    min_lattice_quality: float = MIN_LATTICE_QUALITY,
    split: bool = True,
) -> AtomColumns | AtomColumnsStack:
    """Find the atom columns of an image (or of every frame of a stack) and refine them.

    Candidates are the local maxima of a matched-filtered image that rise above a
    rolling floor (thickness ramps, vacuum edges), then centre of mass, then a batched
    elliptical Gaussian fit per column (numba Levenberg-Marquardt; Poisson maximum
    likelihood on count data, least squares otherwise) in which the neighbours are
    subtracted and re-fitted in sweeps until the positions change by less than
    1e-4 px. A candidate is kept when its fitted amplitude is at least ``min_snr``
    standard errors, its width is within a factor 2 of the median width and its centre
    lies in the image, so vacuum and noise give no columns.

    Parameters
    ----------
    signal : hyperspy Signal2D (eager or lazy) or (H, W) ndarray
        One image, or a stack (any navigation shape: a time series, a tilt series, a
        map of images), real-valued and finite. Every frame of a stack is searched with
        the same parameters; a lazy stack is processed by dask, one task per chunk of
        frames (rechunked to whole images), so the stack never has to fit in memory.
    min_separation : float, optional
        Shortest distance between two columns in **pixels**. Default: from the lattice
        analysis of the image (``find_lattice(image).min_separation_px``), for a stack
        of its **first frame** only (the crystal, hence the separation, is the same in
        every frame, and a per-frame estimate would make the detection vary from frame
        to frame at low dose); an image whose lattice quality is below
        ``min_lattice_quality`` raises ValueError.
    sigma : float, optional
        Column width guess in px (Gaussian standard deviation); default: fitted on the
        brightest candidates of each frame (focus may change along a series).
    segmentation : SymmetrySegmentation, label Signal2D or int array, optional
        Labels of the image's pixels, (H, W), or for a stack either one label image for
        every frame or labels with the stack's navigation shape (e.g. the result of
        ``SymmetrySegmentation.predict(stack)``); each column gets the label under its
        centre and :attr:`AtomColumns.patterns` holds the lattice vectors of every pattern.
    noise : {"auto", "poisson", "gaussian"}
        Fit objective. "auto": Poisson for images of non-negative integers (counts),
        least squares otherwise.
    elliptical : bool
        Fit elliptical Gaussians (7 parameters) or circular ones (5).
    min_snr : float
        Minimum significance (amplitude / its standard error), >= 0.
    window : float, optional
        Fit window radius in px; default 3 sigma.
    fit : bool
        False stops after the centre of mass (fast): every candidate above the
        detection threshold is returned without the significance test, and the fitted
        fields (widths, errors, amplitude, ...) are NaN.
    min_lattice_quality : float
        Lattice quality threshold in [0, 1] for the automatic ``min_separation``.
    split : bool
        Test elongated columns for two merged ones (a dumbbell below ~2.5 widths makes
        one detection candidate) and split them where a two-column fit with one shared
        shape is better by an information criterion; the table marks them ``split``.

    Returns
    -------
    AtomColumns or AtomColumnsStack
        For one image an :class:`AtomColumns`: ``table`` (N,) structured array (px and
        calibrated positions, errors, amplitude, background, widths, angle, integrated
        intensity, SNR, chi2, label), ``to_markers()``, ``to_csv(path)``, ``patterns``,
        ``pattern_table()``. For a stack an :class:`AtomColumnsStack`: one
        :class:`AtomColumns` per frame (``stack[i]``), the tables concatenated with a
        ``frame`` column (``table``, ``to_csv``) and markers that follow the navigation
        (``to_markers()``). Frame ``i`` equals ``find_atom_columns(frame_i,
        min_separation=stack.parameters["min_separation"])``. The result of a lazy stack
        is computed (it is small: tables), not lazy.

    Raises
    ------
    ValueError
        Bad parameters, an image that is not one 2D image, NaN pixels, or an image
        without a lattice (when ``min_separation`` is not given).

    See Also
    --------
    denoise : lattice-guided denoising, useful before finding columns at low dose.
    hyperspy_symseg.columns.gaussian_column_crlb : the precision limit of a column.

    Examples
    --------
    >>> from hyperspy_symseg import simulate
    >>> from hyperspy_symseg.atom_columns import find_atom_columns
    >>> sim = simulate.two_grain_image(shape=(192, 192), random_state=0)
    >>> cols = find_atom_columns(sim.image)
    >>> len(cols) > 50
    True
    >>> cols.table["x"][:3]  # calibrated (nm)  # doctest: +SKIP
    >>> cols.to_csv("columns.csv")  # doctest: +SKIP

    Every frame of a (lazy) stack:

    >>> import hyperspy.api as hs
    >>> stack = hs.stack([sim.image, sim.image]).as_lazy()
    >>> per_frame = find_atom_columns(stack)
    >>> len(per_frame), len(per_frame[1]) == len(cols)
    (2, True)
    """
    check.check_choice("noise", noise, ("auto", "poisson", "gaussian"))
    min_snr = _real("min_snr", min_snr, 0.0, open_low=False)
    min_lattice_quality = _real("min_lattice_quality", min_lattice_quality, 0.0, 1.0, open_low=False)
    if not isinstance(elliptical, (bool, np.bool_)):
        raise TypeError(f"elliptical must be True or False, got {elliptical!r}.")
    if not isinstance(fit, (bool, np.bool_)):
        raise TypeError(f"fit must be True or False, got {fit!r}.")
    if not isinstance(split, (bool, np.bool_)):
        raise TypeError(f"split must be True or False, got {split!r}.")
    stack = _is_stack(signal)
    if stack:
        am = signal.axes_manager
        if am.signal_dimension != 2:
            raise ValueError(f"signal must have 2 signal dimensions (images), got {am.signal_dimension}.")
        nav_shape = tuple(signal.data.shape[:-2])
        image = _check_frame(signal.data[(0,) * len(nav_shape)], "signal (first frame)")
        axes = _signal_axes(am)
    else:
        image, axes = _image_and_axes(signal)
    half = min(image.shape) / 2.0
    lattice = None
    if min_separation is None:
        lattice = _find_lattice(image)
        if not (lattice.found and lattice.quality >= min_lattice_quality):
            raise _no_lattice_error(lattice.quality, min_lattice_quality, "a column search")
        min_separation = _min_separation(lattice)
    min_separation = _real("min_separation", min_separation, 1.0, half, open_low=False)
    if sigma is not None:
        sigma = _real("sigma", sigma, 0.0, min_separation)
    if window is not None:
        window = _real("window", window, 1.0, half, open_low=False)
    opts = {"min_separation": min_separation, "sigma": sigma, "noise": noise, "elliptical": bool(elliptical),
            "window": window, "min_snr": min_snr, "fit": bool(fit), "split": bool(split)}
    if stack:
        return _find_in_stack(signal, nav_shape, axes, segmentation, lattice, opts)
    labels = _labels_image(segmentation, image.shape)
    return _columns_of_frame(image, axes, labels, lattice, opts)


def _columns_of_frame(image: np.ndarray, axes: dict, labels: np.ndarray | None, lattice: Any,
                      opts: dict) -> AtomColumns:
    """The columns of one checked image with validated options."""
    if opts["noise"] == "poisson" and image.min() < 0:
        raise ValueError("noise='poisson' needs non-negative counts, but the image has negative values; "
                         "use noise='gaussian'.")
    res = _locate.locate_columns(
        image, opts["min_separation"], sigma=opts["sigma"], noise=opts["noise"], elliptical=opts["elliptical"],
        window=opts["window"], min_snr=opts["min_snr"], fit=opts["fit"], split=opts.get("split", True),
    )
    table = _table.build_table(res, axes["scale"], axes["offset"], labels)
    patterns = None
    if labels is not None:
        patterns = _table.pattern_lattices(np.column_stack([table["y_px"], table["x_px"]]), table["label"])
    params = {
        "min_separation": opts["min_separation"], "sigma": res["sigma"], "window": res["window"],
        "noise": res["noise"], "elliptical": opts["elliptical"], "min_snr": opts["min_snr"],
        "n_candidates": int(res["n_candidates"]), "n_sweeps": int(res["n_sweeps"]), "fit": opts["fit"],
    }
    return AtomColumns(table, axes, lattice, params, patterns)


# --------------------------------------------------------------------------- stacks


def _stack_labels(segmentation: Any, nav_shape: tuple[int, ...], shape: tuple[int, int]):
    """``(one, each)``: one label image for every frame, or labels per frame (nav_shape + shape)."""
    if segmentation is None:
        return None, None
    labels = getattr(segmentation, "labels", segmentation)  # SymmetrySegmentation -> its labels
    data = labels.data if hasattr(labels, "axes_manager") else labels
    if not hasattr(data, "compute"):
        data = np.asarray(data)
    if tuple(data.shape) == tuple(shape):
        return _labels_image(np.asarray(data.compute() if hasattr(data, "compute") else data), shape), None
    if tuple(data.shape) != tuple(nav_shape) + tuple(shape):
        raise ValueError(f"segmentation must have the image's shape {shape} or the stack's shape "
                         f"{tuple(nav_shape) + tuple(shape)}, got {tuple(data.shape)}.")
    if np.dtype(data.dtype).kind not in "iub":
        raise ValueError("segmentation must hold integer labels")
    return None, data


def _frames_of_block(block: np.ndarray, start: tuple[int, ...], nav_shape: tuple[int, ...], axes: dict,
                     one: np.ndarray | None, each: Any, lattice: Any, opts: dict) -> list:
    """``(flat index, AtomColumns)`` of every frame of a block of frames starting at ``start``.

    ``each`` (labels per frame) is sliced like the block: ``each[idx]`` labels ``block[idx]``.
    """
    block = np.asarray(block)
    out = []
    for idx in np.ndindex(block.shape[:-2]):
        full = tuple(s + i for s, i in zip(start, idx))
        flat = int(np.ravel_multi_index(full, nav_shape))
        image = _check_frame(block[idx], f"signal (frame {full})")
        labels = one
        if each is not None:
            labels = _labels_image(np.asarray(each[idx]), image.shape)
        out.append((flat, _columns_of_frame(image, axes, labels, lattice, opts)))
    return out


def _find_in_stack(signal: Any, nav_shape: tuple[int, ...], axes: dict, segmentation: Any, lattice: Any,
                   opts: dict) -> AtomColumnsStack:
    data = signal.data
    shape = tuple(data.shape[-2:])
    one, each = _stack_labels(segmentation, nav_shape, shape)
    if hasattr(data, "dask") or bool(getattr(signal, "_lazy", False)):
        import dask
        import dask.array as da

        arr = da.asarray(data).rechunk({data.ndim - 2: -1, data.ndim - 1: -1})
        blocks = arr.to_delayed()
        tasks = []
        for bidx in np.ndindex(blocks.shape[:-2]):
            start = tuple(int(sum(arr.chunks[k][: bidx[k]])) for k in range(len(nav_shape)))
            sub = None
            if each is not None:  # only this block's labels go to its task
                sub = each[tuple(slice(a, a + arr.chunks[k][bidx[k]]) for k, a in enumerate(start))]
            tasks.append(dask.delayed(_frames_of_block, pure=True)(
                blocks[bidx + (0, 0)], start, nav_shape, axes, one, sub, lattice, opts))
        parts = [p for blk in dask.compute(*tasks) for p in blk]
    else:
        parts = _frames_of_block(np.asarray(data), (0,) * len(nav_shape), nav_shape, axes, one, each, lattice, opts)
    frames = [cols for _, cols in sorted(parts, key=lambda p: p[0])]
    nav_axes = [{"name": str(ax.name), "scale": float(ax.scale), "offset": float(ax.offset), "units": str(ax.units)}
                for ax in signal.axes_manager.navigation_axes[::-1]]
    shared = {k: v for k, v in opts.items() if k != "sigma"} | {"sigma_given": opts["sigma"]}
    return AtomColumnsStack(frames, nav_shape, nav_axes, lattice, shared)
