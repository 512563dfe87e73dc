"""The segmentation pipeline on HyperSpy signals.

descriptors (numba kernels) -> navigation-mapped feature signal -> HyperSpy
``decomposition`` (covariance PCA) -> HyperSpy ``cluster_analysis`` (k-means with
several initialisations on a subsample) -> labels sorted by pattern size ->
nearest-neighbour upsampling to every input pixel.

This module turns signals into arrays and back; the numerics are in
:mod:`hyperspy_symseg.descriptors` and :mod:`hyperspy_symseg._learn`.
"""

from __future__ import annotations

import contextlib
import copy
import numbers
import time
from typing import Any

import numba
import numpy as np

from . import _validation as check
from ._learn import CovariancePCA, SubsampledKMeans
from .descriptors import make_descriptor, upsample_labels
from .model import SegmentationModel, count_labels, label_dtype

#: Defaults of the pipeline, chosen on the forward-model accuracy suite
#: (benchmarks/bench_accuracy.py; README; the descriptor defaults are in
#: :func:`hyperspy_symseg.descriptors.descriptor_parameters`). Stride (2-8) and the
#: number of components (3-8) changed the accuracy by less than 0.001; k-means on
#: 5000, 10000 or 20000 grid points gave the same accuracy.
DEFAULTS: dict[str, Any] = {
    "descriptor": "local_correlation_map",
    "stride": 4,
    "n_components": 5,
    "n_init": 10,
    "max_samples": 10_000,
    "decomposition_algorithm": "PCA",
}

#: Dimension reductions: the covariance PCA of the paper, HyperSpy's NMF (for
#: non-negative descriptors such as the power spectrum) and N-FINDR unmixing.
DECOMPOSITION_ALGORITHMS = ("PCA", "NMF", "nfindr")


# --------------------------------------------------------------------------- helpers


def _progressbar_enabled(show_progressbar: bool | None) -> bool:
    if show_progressbar is None:
        from hyperspy.defaults_parser import preferences

        return bool(preferences.General.show_progressbar)
    return bool(show_progressbar)


def _progressbar(total: int, show_progressbar: bool | None, desc: str):
    from hyperspy.external.progressbar import progressbar

    return progressbar(
        total=total, disable=not _progressbar_enabled(show_progressbar), desc=desc, leave=False, unit=" points", unit_scale=True
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


def _image_geometry(signal) -> tuple[tuple[int, ...], int, int]:
    """Navigation shape (array order), height and width of an image signal."""
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


def _compute_frames(frames, spec, stride, show_progressbar, num_workers, desc="Symmetry descriptors"):
    """(F, ny, nx, N) float32 descriptors of (F, H, W) frames, in memory."""
    height, width = frames.shape[-2:]
    grid = spec.grid((height, width), stride)
    out = np.empty((frames.shape[0],) + grid.shape + (spec.n_operations,), dtype=np.float32)
    total = frames.shape[0] * grid.ny * grid.nx
    with _threads(num_workers), _progressbar(total, show_progressbar, desc) as bar:
        for f in range(frames.shape[0]):
            frame = np.asarray(frames[f])
            check.check_finite(frame)
            spec.compute(frame, stride, out=out[f], fft_workers=num_workers or -1, progress=bar.update)
    return out, grid


# ------------------------------------------------------------------ public functions


_DESCRIPTOR_PARAMETERS_DOC = """
    Descriptor parameters
    ---------------------
    Keyword arguments; each family takes only its own, left out means the default
    (see also :func:`hyperspy_symseg.descriptors.descriptor_parameters`):

    ``local_correlation_map`` and ``preselected_translations`` (translations):
        ``patch_x``, ``patch_y`` (12): half width (x, columns) and half height (y, rows)
        of the patch in px; the paper and pySTEM call the vertical half size ``patch_x``.
        ``window_x``, ``window_y`` (20): half sizes of the shift window along x and y.
        ``max_num_points`` (100): at most this many shifts, on the densest symmetric
        grid with one step on both axes, zero shift included (20 and 100: 81 shifts,
        -20..20 in steps of 5). ``preselected_translations``: an (N, 2) int array of
        shifts (m, n) = (rows, columns) in px, for ``preselected_translations`` only.
        ``method`` ("direct"): ``"direct"`` (box sums, cost independent of the patch
        size) or ``"fft"`` (per-centre FFT correlation, the paper's Appendix B; same
        numbers, slower). ``edges`` ("shrink"): ``"shrink"`` reaches to
        ``max(patch, max |shift|)`` px from the image edges, scoring only the part of the
        patch whose pixels and shifted partners lie inside (at least half of it);
        ``"exclude"`` computes descriptors only where every shifted patch fits (pySTEM)
        and copies the nearest labels into that margin.

    ``rotational_symmetry_maximum_pooling`` and ``reflection_symmetry_maximum_pooling``:
        Pearson score of a circular patch of ``radius`` (20 px) with its rotation by each
        of ``angles`` (60, 90, 120, 180 degrees, counter-clockwise as displayed) or its
        mirror image in ``num_reflection_plane`` (10) axes at 0, 180/n, ... degrees from
        +x; then the ``num_max`` largest values (rotations 1 = maximum pooling,
        reflections 10) of each score over a pooling window of half sizes ``window_x``,
        ``window_y`` (rotations 20, reflections 12) around each grid point, among pixels
        ``pool_step`` (3) apart. Rotations by multiples of 90 degrees
        and mirrors at multiples of 45 degrees are exact pixel permutations; the others
        use ``n_radii`` (10) x ``n_angles`` (auto: the smallest suitable multiple >= 48)
        polar samples with cubic B-spline interpolation. ``edges`` ("shrink") as above:
        windows are clipped to the scored region instead of kept inside it. Rotations see
        differently oriented grains of one lattice alike (and mark the boundary);
        reflections tell them apart (paper, Fig. 10).

    ``power_spectrum``:
        ``|FFT|^2`` of the window of half sizes ``window_x``, ``window_y`` (20) around each grid
        point, mean removed and with a separable Hann ``taper`` ("hann"; None for none),
        optionally ``log`` (False: log(1 + x)), keeping the frequencies up to ``crop``
        (0.5) x Nyquist (spatial periods >= 4 px; None keeps all). Non-negative: the
        descriptor for ``decomposition_algorithm="NMF"``. The grid starts ``window`` px
        from the edges.
"""


def get_symmetry_descriptors(
    signal,
    descriptor: str = DEFAULTS["descriptor"],
    stride: int = DEFAULTS["stride"],
    *,
    show_progressbar: bool | None = None,
    num_workers: int | None = None,
    **parameters,
):
    """Local symmetry descriptors of an image as a navigation-mapped signal.

    Parameters
    ----------
    signal : hyperspy.signals.Signal2D
        Image ``(| y, x)`` or image stack ``(t | y, x)`` (any navigation shape),
        real-valued (integers are converted). Not modified.
    descriptor : str
        The descriptor family: ``"local_correlation_map"`` (translations on a uniform
        symmetric grid in a window), ``"preselected_translations"`` (given shifts),
        ``"rotational_symmetry_maximum_pooling"``, ``"reflection_symmetry_maximum_pooling"``
        or ``"power_spectrum"``.
    stride : int
        Spacing of the descriptor grid in pixels (>= 1).
    show_progressbar : bool or None
        None follows HyperSpy's preferences.
    num_workers : int or None
        Threads (default: all cores).
    **parameters
        Descriptor parameters, see below.

    %s
    Returns
    -------
    hyperspy.signals.Signal1D
        Navigation axes: the input's navigation axes, then the grid's ``(x, y)`` with
        the image's names and units, scale = pixel size x stride and offset = the
        calibrated position of the first centre. Signal axis ``operation``: one
        channel per symmetry operation, float32 scores. ``metadata.SymmetryDescriptors``
        holds the operations (e.g. shift vectors in pixels and in calibrated units) and
        all parameters. HyperSpy's ``decomposition`` and ``cluster_analysis`` work on it
        unchanged. Lazy input gives a lazy signal.
    """
    spec = make_descriptor(descriptor, **parameters)
    stride = check.check_int("stride", stride, 1)
    _, height, width = _image_geometry(signal)
    _check_fits(spec, height, width)
    return _descriptors_of(signal, spec, stride, show_progressbar, num_workers, lazy=signal._lazy)


get_symmetry_descriptors.__doc__ %= _DESCRIPTOR_PARAMETERS_DOC


def _descriptors_of(signal, spec, stride, show_progressbar, num_workers, lazy):
    """The descriptor signal of a checked image signal; lazy (dask) or in memory."""
    if lazy:
        data, grid = _lazy_descriptor_array(signal, spec, stride)
    else:
        data, grid = _compute_frames(_frames(signal), spec, stride, show_progressbar, num_workers)
        data = data.reshape(signal.data.shape[:-2] + data.shape[1:])
    return _descriptor_signal(signal, data, spec, grid)


def _lazy_descriptor_array(signal, spec, stride):
    import dask.array as da

    height, width = signal.data.shape[-2:]
    grid = spec.grid((height, width), stride)
    nav_shape = signal.data.shape[:-2]
    frames = signal.data.reshape((-1, height, width)).rechunk({1: -1, 2: -1})

    def block(x):
        out = np.empty((x.shape[0],) + grid.shape + (spec.n_operations,), dtype=np.float32)
        for f in range(x.shape[0]):
            check.check_finite(x[f])
            spec.compute(x[f], stride, out=out[f])
        return out

    desc = da.map_blocks(
        block,
        frames,
        dtype=np.float32,
        chunks=(frames.chunks[0], (grid.ny,), (grid.nx,), (spec.n_operations,)),
        new_axis=3,
    )
    return desc.reshape(nav_shape + desc.shape[1:]), grid


def _descriptor_signal(signal, data, spec, grid):
    from hyperspy.signals import LazySignal1D, Signal1D

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
    cls = Signal1D if isinstance(data, np.ndarray) else LazySignal1D
    return cls(data, axes=axes, metadata=metadata)


class SymmetrySegmentation:
    """Result of :func:`symmetry_segmentation`: labels plus the fitted model.

    Attributes
    ----------
    labels : hyperspy.signals.Signal2D
        Integer pattern labels with the input's shape, axes and metadata; 0 is the
        smallest pattern. Lazy for lazy input (unless ``lazy_output=False``).
    descriptors : hyperspy.signals.Signal1D
        The descriptors of the frames the model was fitted on (all frames, or the
        reference frames), with HyperSpy ``learning_results`` of the decomposition and
        cluster analysis.
    model : SegmentationModel
        The fitted model (descriptor, stride, reduction, centres); NumPy only.
    grid_labels : ndarray
        The labels of the fitted frames' descriptor grid points.
    reference_frames : ndarray or None
        Flat navigation indices of the frames the model was fitted on (None: all).
    explained_variance_ratio : (n_operations,) ndarray or None
        Fraction of the total descriptor variance along every principal component (PCA).
    n_components : int
        Components used for clustering.
    cluster_centers : (n_patterns, n_components) ndarray
        k-means centres; row ``k`` is label ``k``.
    pattern_sizes : (n_patterns,) int ndarray or None
        Pixels per label in ``labels`` (None for lazy labels).
    parameters : dict
        Every parameter of the run.
    descriptor : descriptor object
        The symmetry operations and how they are computed (see
        :mod:`hyperspy_symseg.descriptors`).
    signal : hyperspy.signals.Signal2D
        The segmented signal (a reference, not a copy).
    full : SymmetrySegmentation or None
        For a fast model (:meth:`select_operations`), the result with all operations.
    timings : dict
        Wall-clock seconds of each step: descriptors, reduction, clustering, labels.
    """

    def __init__(self, signal, labels, descriptors, model, grid_labels, parameters, timings=None,
                 reference_frames=None, full=None):
        self.signal = signal
        self.labels = labels
        self.descriptors = descriptors
        self.model = model
        self.grid_labels = grid_labels
        self.parameters = parameters
        self.timings = dict(timings or {})
        self.reference_frames = reference_frames
        self.full = full
        self.decomposition_algorithm = parameters.get("decomposition_algorithm", "PCA")
        self.explained_variance_ratio = getattr(model.reducer, "explained_variance_ratio_", None)
        self.pattern_sizes = None if labels._lazy else count_labels(labels.data, model.n_patterns)

    descriptor = property(lambda self: self.model.descriptor)
    stride = property(lambda self: self.model.stride)
    reducer = property(lambda self: self.model.reducer)
    cluster_centers = property(lambda self: self.model.centers)
    n_components = property(lambda self: int(self.model.centers.shape[1]))

    @property
    def component_maps(self):
        """Maps of the components on the descriptor grid (calibrated Signal2D stack).

        HyperSpy's ``get_decomposition_loadings()`` of the descriptors: PCA scores, NMF
        weights or N-FINDR abundances, one map per component.
        """
        return self.descriptors.get_decomposition_loadings()

    @property
    def abundance_maps(self):
        """Phase-fraction maps of the unmixing routes (NMF, N-FINDR), summing to one.

        N-FINDR abundances are fractions already; NMF weights are converted by giving
        every component spectrum unit sum and normalising each pixel's weights.
        """
        if self.decomposition_algorithm == "PCA":
            raise ValueError(
                "abundance_maps needs decomposition_algorithm='NMF' or 'nfindr'; this result used PCA, "
                "whose component maps (component_maps) are not fractions."
            )
        maps = self.component_maps
        data = np.asarray(maps.data, dtype=np.float64)  # (component, ny, nx)
        if self.decomposition_algorithm == "NMF":
            data = data * np.asarray(self.reducer.components_).sum(axis=1)[:, None, None]
        total = data.sum(axis=0, keepdims=True)
        maps.data = np.divide(data, total, out=np.zeros_like(data), where=total > 0)
        maps.metadata.General.title = f"Abundance maps ({self.decomposition_algorithm}) of {self.signal.metadata.General.title}"
        return maps

    @property
    def n_patterns(self) -> int:
        return self.model.n_patterns

    def __repr__(self) -> str:
        sizes = "lazy" if self.pattern_sizes is None else ", ".join(f"{n}" for n in self.pattern_sizes)
        return (
            f"<SymmetrySegmentation: {self.n_patterns} patterns (pixels: {sizes}), "
            f"{self.descriptor.name} with {self.descriptor.n_operations} operations, "
            f"stride {self.stride}, {self.decomposition_algorithm} with {self.n_components} components>"
        )

    def plot(self, ax=None, frame: int = 0, alpha: float = 0.4):
        """The image with the labels overlaid and a legend of pattern areas.

        Returns the matplotlib Axes (see :func:`hyperspy_symseg.plot.segmentation_overlay`).
        """
        from .plot import segmentation_overlay

        return segmentation_overlay(self.signal, self.labels, ax=ax, alpha=alpha, frame=frame)

    def segment_spectra(self, si, method: str = "mean", frame: int = 0, coverage: float = 0.5):
        """Mean or summed spectrum of every pattern of a spectrum image (EELS, EDS, ...).

        The SI (a Signal1D with two navigation axes, acquired with the segmented image)
        is matched to the labels by calibrated position, whatever its offset, units or
        binning (see :func:`hyperspy_symseg.spectra.segment_spectra`).

        Parameters
        ----------
        si : hyperspy.signals.Signal1D
        method : {"mean", "sum"}
        frame : int
            Which frame of a labelled stack to use.
        coverage : float
            For an SI coarser than the image: the share of an SI pixel its majority
            pattern must cover for the pixel to count.

        Returns
        -------
        signal of the SI's class
            One spectrum per pattern (navigation axis ``pattern``); the pixels each
            pattern got are in ``metadata.SegmentSpectra``.
        """
        from .spectra import segment_spectra

        return segment_spectra(self._frame_labels(frame), si, method, self.n_patterns, coverage)

    def navigation_mask(self, si, patterns, frame: int = 0, coverage: float = 0.5):
        """Mask of a spectrum image's navigation keeping only some patterns (True = excluded).

        For HyperSpy's own learning on one segment: ``si.decomposition(navigation_mask=mask)``
        (see :func:`hyperspy_symseg.spectra.navigation_mask` for ``cluster_analysis``).
        """
        from .spectra import navigation_mask

        return navigation_mask(self._frame_labels(frame), si, patterns, coverage)

    def _frame_labels(self, frame: int):
        if self.labels.axes_manager.navigation_dimension == 0:
            return self.labels
        n_frames = int(np.prod(self.labels.data.shape[:-2], dtype=np.int64))
        frame = check.check_int("frame", frame, 0, n_frames - 1)
        index = np.unravel_index(frame, self.labels.data.shape[:-2])
        labels = self.labels.inav[tuple(reversed(index))]
        return labels.compute() if labels._lazy else labels

    def save(self, filename, overwrite: bool | None = None, descriptors: bool = True) -> None:
        """Save the labels with the fitted model (and the descriptors next to them).

        ``.hspy`` or ``.zspy``; see :func:`hyperspy_symseg.files.save_segmentation`.
        Load with :func:`hyperspy_symseg.load_segmentation`.
        """
        from .files import save_segmentation

        save_segmentation(self, filename, overwrite, descriptors)

    def save_model(self, filename, overwrite: bool | None = None) -> None:
        """Save only the fitted model, to segment later acquisitions.

        Load with :func:`hyperspy_symseg.load_model` and apply with
        :func:`hyperspy_symseg.segment_with_model`.
        """
        from .files import save_model

        save_model(self.model, filename, overwrite)

    def plot_explained_variance(self, ax=None):
        """Explained-variance ratio of every principal component and its cumulative sum (PCA)."""
        from .plot import explained_variance

        if self.explained_variance_ratio is None:
            raise ValueError(f"plot_explained_variance needs PCA; this result used {self.decomposition_algorithm}.")
        return explained_variance(self.explained_variance_ratio, self.n_components, ax=ax)

    def plot_components(self, components=(0, 1), ax=None, max_points: int = 20000):
        """The fitted grid points in the plane of two components, coloured by pattern (paper, Fig. 1c-d)."""
        from .plot import component_scatter

        features = np.asarray(self.descriptors.data).reshape(-1, self.descriptor.n_operations)
        return component_scatter(self.model.reduce(features), self.grid_labels, self.cluster_centers,
                                 components, max_points, ax)

    def plot_separability(self, ax=None):
        """The separability map over the shift (translations, paper Fig. 1f) or bars per operation."""
        from .plot import separability_bars, separability_map

        if getattr(self.descriptor, "shifts", None) is not None:
            try:
                return separability_map(self.separability_map, ax=ax)
            except ValueError:
                pass  # shifts not on a regular grid
        return separability_bars(self.separability_values(), self.descriptor.operation_names(), ax=ax, top=40)

    def plot_confidence(self, signal=None, frame: int = 0, ax=None):
        """The confidence map of ``signal`` (default: the segmented signal), one frame."""
        from .plot import scalar_map

        return scalar_map(self.confidence_map(signal), ax=ax, frame=frame, vmin=0, vmax=1, label="confidence")

    def project(self, descriptors: np.ndarray) -> np.ndarray:
        """(..., n_components) coordinates of (..., n_operations) descriptors in the fitted reduction."""
        return self.model.reduce(descriptors)

    def predict(self, signal, lazy_output: bool | None = None, show_progressbar: bool | None = None,
                num_workers: int | None = None):
        """Segment another image, or every frame of a stack, with this fitted model.

        The same symmetry operations, stride, reduction and cluster centres are used,
        so a label means the same pattern in every image.

        Parameters
        ----------
        signal : hyperspy.signals.Signal2D
            Image or image stack (eager or lazy); each image must be large enough for
            the descriptor.
        lazy_output : bool or None
            Return lazy labels (computed chunk by chunk by dask, also on a
            dask.distributed cluster). None: lazy if ``signal`` is lazy.

        Returns
        -------
        hyperspy.signals.Signal2D
            Labels with the shape, axes and metadata of ``signal``.
        """
        _, height, width = _image_geometry(signal)
        _check_fits(self.descriptor, height, width)
        labels = _label_all(self.model, signal, lazy_output, show_progressbar, num_workers)
        return _label_signal(signal, labels, self.parameters)

    def confidence_map(self, signal=None, lazy_output: bool | None = None, show_progressbar: bool | None = None,
                       num_workers: int | None = None):
        """How clearly every pixel belongs to its pattern, in [0, 1].

        ``(d2 - d1) / (d2 + d1)`` from the distances of the pixel's nearest grid point
        to the nearest and second-nearest cluster centre in the reduced space: 0 on a
        decision boundary (e.g. a boundary between patterns, or something fitting no
        pattern well), 1 at a centre. ``signal`` defaults to the segmented signal.

        Returns
        -------
        hyperspy.signals.Signal2D
            float32, with the axes and metadata of ``signal``.
        """
        from .analysis import confidence

        signal = self.signal if signal is None else signal
        _, height, width = _image_geometry(signal)
        _check_fits(self.descriptor, height, width)
        if _lazy_output(signal, lazy_output):
            data = self.model.dask_labels(_dask_frames(signal), confidence=True).reshape(signal.data.shape)
        else:
            _, distances = _eager_labels(self.model, signal, show_progressbar, num_workers, distances=True)
            data = confidence(distances).astype(np.float32).reshape(signal.data.shape)
        return _map_signal(signal, data, "Segmentation confidence", "Confidence")

    def outlier_map(self, threshold: float = 3.5, signal=None, show_progressbar: bool | None = None,
                    num_workers: int | None = None):
        """Pixels that fit their own pattern unusually badly: candidate defects.

        The distance (in the reduced space) of each pixel's nearest grid point to its
        own cluster centre, as a robust z-score against the distances of that cluster's
        points in the fitted frames: ``(d - median) / (1.4826 MAD)``; pixels with a
        score above ``threshold`` are flagged (the paper's "certainty of the
        classifier ... to find a relevant isolated outlier, that is, a defect").

        Returns
        -------
        hyperspy.signals.Signal2D
            Boolean outlier mask with the axes and metadata of ``signal`` (default the
            segmented signal); the z-scores are in ``.metadata.Outliers`` summary only.
        """
        if not (np.isfinite(threshold) and threshold > 0):
            raise ValueError(f"threshold must be a positive number of robust standard deviations, got {threshold}.")
        signal = self.signal if signal is None else signal
        labels, distances = _eager_labels(self.model, signal, show_progressbar, num_workers, distances=True)
        median, mad = self._distance_statistics()
        own = np.sqrt(np.take_along_axis(distances, labels[..., None].astype(np.int64), axis=-1)[..., 0])
        z = (own - median[labels]) / (1.4826 * mad[labels])
        mask = (z > threshold).reshape(signal.data.shape)
        out = _map_signal(signal, mask, "Outliers", "Outlier")
        out.metadata.set_item("Outliers.threshold", float(threshold))
        out.metadata.set_item("Outliers.fraction", float(mask.mean()))
        return out

    def _distance_statistics(self):
        """Median and MAD of the distance to the own centre per cluster, on the fitted grid."""
        if not hasattr(self, "_distance_stats"):
            features = np.asarray(self.descriptors.data).reshape(-1, self.descriptor.n_operations)
            reduced = self.model.reduce(features)
            labels = np.asarray(self.grid_labels).ravel().astype(np.int64)
            d = np.sqrt(((reduced - self.model.centers[labels]) ** 2).sum(axis=1))
            median = np.zeros(self.n_patterns)
            mad = np.ones(self.n_patterns)
            for k in range(self.n_patterns):
                dk = d[labels == k]
                if dk.size:
                    median[k] = np.median(dk)
                    mad[k] = max(np.median(np.abs(dk - median[k])), 1e-12 * max(median[k], 1.0))
            self._distance_stats = (median, mad)
        return self._distance_stats

    # ------------------------------------------------------------ video outputs

    def _time_axis(self):
        """(name, scale, offset, units, size) of the frames' axis (flat navigation)."""
        nav = self.labels.axes_manager.navigation_axes
        n_frames = int(np.prod(self.labels.data.shape[:-2], dtype=np.int64))
        if len(nav) == 1:
            a = nav[0]
            units = a.units if isinstance(a.units, str) and a.units != "<undefined>" else ""
            return a.name if isinstance(a.name, str) else "frame", float(a.scale), float(a.offset), units, n_frames
        return "frame", 1.0, 0.0, "", n_frames

    def _per_frame(self, function, n_values: int) -> np.ndarray:
        """(n_frames, n_values) results of ``function(labels (k, H, W)) -> (k, n_values)`` over the labels."""
        data = self.labels.data
        if not self.labels._lazy:
            return function(np.asarray(data).reshape((-1,) + data.shape[-2:]))
        frames = data.reshape((-1,) + data.shape[-2:]).rechunk({1: -1, 2: -1})
        return frames.map_blocks(
            lambda b: function(b)[:, :, None], dtype=np.float64, chunks=(frames.chunks[0], (n_values,), (1,)), drop_axis=[]
        ).compute()[:, :, 0]

    def pattern_areas(self, fraction: bool = False):
        """Area (calibrated, e.g. nm^2) or fraction of every pattern in every frame.

        Returns
        -------
        hyperspy.signals.Signal1D
            Navigation axis ``pattern``, signal axis the frames (the stack's time axis
            with its calibration, or a frame index).
        """
        from hyperspy.signals import Signal1D

        from .analysis import pattern_areas

        x, y = self.labels.axes_manager.signal_axes
        pixel_area = abs(float(x.scale * y.scale))
        column = 1 if fraction else 0
        values = self._per_frame(lambda b: pattern_areas(b, self.n_patterns, pixel_area)[column], self.n_patterns)
        name, scale, offset, units, size = self._time_axis()
        area_units = f"{x.units}^2" if isinstance(x.units, str) and x.units not in ("", "<undefined>") else "px^2"
        out = Signal1D(values.T, axes=[
            {"name": "pattern", "size": self.n_patterns, "navigate": True},
            {"name": name, "scale": scale, "offset": offset, "units": units, "size": size},
        ])
        out.metadata.General.title = ("Pattern fractions" if fraction else "Pattern areas") + f" of {self.signal.metadata.General.title}"
        out.metadata.Signal.quantity = "Fraction" if fraction else f"Area ({area_units})"
        return out

    def track_boundary(self, a: int = 0, b: int = 1):
        """Position, velocity and length of the boundary between patterns a and b per frame.

        The position is the mean (y, x) of the pixels on both sides of the a|b interface
        in calibrated units (NaN in frames without it); the velocity is its time
        derivative (central differences) in units per time unit of the stack's axis, or
        per frame; the length counts the pixel edges shared by a and b pixels.

        Returns
        -------
        dict of hyperspy.signals.Signal1D
            ``"position"`` and ``"velocity"`` (navigation axis ``coordinate``: y, x) and
            ``"length"``, all with the frames as signal axis.
        """
        from hyperspy.signals import Signal1D

        from .analysis import boundary_lengths, boundary_positions, velocities

        a = check.check_int("a", a, 0, self.n_patterns - 1)
        b = check.check_int("b", b, 0, self.n_patterns - 1)
        if a == b:
            raise ValueError(f"a and b must be two different patterns, got {a} and {b}.")
        x, y = self.labels.axes_manager.signal_axes
        size = (float(y.scale), float(x.scale))
        origin = (float(y.offset), float(x.offset))
        positions = self._per_frame(lambda lab: boundary_positions(lab, a, b, size, origin), 2)
        lengths = self._per_frame(lambda lab: boundary_lengths(lab, a, b, size)[:, None], 1)[:, 0]
        name, dt, offset, t_units, n = self._time_axis()
        space = x.units if isinstance(x.units, str) and x.units not in ("", "<undefined>") else "px"
        speed = velocities(positions, dt)
        time_axis = {"name": name, "scale": dt, "offset": offset, "units": t_units, "size": n}
        coordinate = {"name": "coordinate", "size": 2, "navigate": True}
        out = {}
        for key, values, quantity in (
            ("position", positions.T, f"Position ({space})"),
            ("velocity", speed.T, f"Velocity ({space}/{t_units or 'frame'})"),
        ):
            sig = Signal1D(values, axes=[coordinate, time_axis])
            sig.metadata.General.title = f"Boundary {a}|{b} {key} (y, x)"
            sig.metadata.Signal.quantity = quantity
            out[key] = sig
        length = Signal1D(lengths, axes=[time_axis])
        length.metadata.General.title = f"Boundary {a}|{b} length"
        length.metadata.Signal.quantity = f"Length ({space})"
        out["length"] = length
        return out

    # -------------------------------------------------------------- separability

    def separability_values(self) -> np.ndarray:
        """(n_operations,) Fisher separability of every operation on the fitted frames (paper, eq. 4)."""
        from .separability import fisher_separability

        features = np.asarray(self.descriptors.data).reshape(-1, self.descriptor.n_operations)
        return fisher_separability(features, np.asarray(self.grid_labels).ravel(), self.n_patterns)

    @property
    def separability(self):
        """Fisher separability of every operation, as a Signal1D over the operation axis."""
        from hyperspy.signals import Signal1D

        s = Signal1D(self.separability_values())
        s.axes_manager.signal_axes[0].name = "operation"
        s.metadata.General.title = f"Separability of {self.descriptor.name} operations"
        s.metadata.Signal.quantity = "Fisher separability"
        s.metadata.set_item("SymmetryDescriptors", self.descriptors.metadata.SymmetryDescriptors.as_dictionary())
        return s

    @property
    def separability_map(self):
        """Separability over the translation (m, n) as a calibrated Signal2D (paper, Fig. 1f).

        Only for translation descriptors whose shifts lie on a regular grid; the axes
        are the shift along y (rows) and x (columns) in the image's units; NaN where no
        shift was scored.
        """
        from hyperspy.signals import Signal2D

        from .separability import separability_map

        shifts = getattr(self.descriptor, "shifts", None)
        if shifts is None:
            raise ValueError(f"separability_map is for translation descriptors; this is {self.descriptor.name!r}.")
        values, m_values, n_values = separability_map(self.separability_values(), shifts)
        ydict, xdict = self.signal.axes_manager._get_axes_dicts()[-2:]
        axes = []
        for values_, d, name in ((m_values, ydict, "shift y"), (n_values, xdict, "shift x")):
            step = float(values_[1] - values_[0]) if len(values_) > 1 else 1.0
            axes.append({"name": name, "units": d.get("units"), "scale": d["scale"] * step,
                         "offset": d["scale"] * float(values_[0]), "size": len(values_)})
        s = Signal2D(values, axes=axes)
        s.metadata.General.title = f"Separability map of {self.signal.metadata.General.title}".strip()
        s.metadata.Signal.quantity = "Fisher separability"
        return s

    def select_operations(self, n_operations: int, show_progressbar: bool | None = None,
                          num_workers: int | None = None, lazy_output: bool | None = None) -> "SymmetrySegmentation":
        """A fast model using only the ``n_operations`` most separable operations.

        The descriptors of the fitted frames are recomputed with those operations, the
        reduction is refitted on them and each pattern's centre is the mean of its
        points (by this segmentation's labels), so every label keeps its meaning; new
        images are then segmented with a fraction of the work (paper, Fig. 7).
        """
        from .separability import rank_operations

        n_operations = check.check_int("n_operations", n_operations, 2, self.descriptor.n_operations)
        best = rank_operations(self.separability_values(), n_operations)
        spec = self.descriptor.subset(best)
        reference = _reference_signal(self.signal, self.reference_frames)
        clock = time.perf_counter()
        descriptors = _descriptors_of(reference, spec, self.stride, show_progressbar, num_workers, lazy=False)
        n_components = min(self.n_components, spec.n_operations)
        with _threads(num_workers):
            reducer = _reduce(descriptors, self.decomposition_algorithm, n_components, self.parameters.get("random_state"))
        features = np.asarray(descriptors.data).reshape(-1, spec.n_operations)
        reduced = np.asarray(reducer.transform(features), dtype=np.float64)
        labels = np.asarray(self.grid_labels).ravel().astype(np.int64)
        centers = np.stack([
            reduced[labels == k].mean(axis=0) if np.any(labels == k) else np.full(reduced.shape[1], np.inf)
            for k in range(self.n_patterns)
        ])
        model = SegmentationModel(spec, self.stride, reducer, centers)
        timings = {"descriptors+reduction": time.perf_counter() - clock}
        parameters = {**self.parameters, "n_operations": int(n_operations), "operations": np.asarray(best)}
        grid_shape = np.asarray(self.grid_labels).shape
        grid_labels, _ = model.assign(features.reshape(grid_shape + (spec.n_operations,)))
        result = SymmetrySegmentation(
            self.signal, self.labels, descriptors, model, grid_labels, parameters, timings, self.reference_frames, full=self
        )
        result.labels = result.predict(self.signal, lazy_output, show_progressbar=show_progressbar, num_workers=num_workers)
        result.pattern_sizes = None if result.labels._lazy else count_labels(result.labels.data, self.n_patterns)
        return result


def _lazy_output(signal, lazy_output):
    return bool(signal._lazy) if lazy_output is None else bool(lazy_output)


def _dask_frames(signal):
    """The data as a dask array (one chunk per frame for in-memory signals)."""
    import dask.array as da

    data = signal.data if signal._lazy else da.from_array(signal.data, chunks=signal.data.shape[:-2] + (-1, -1))
    return data


def _eager_labels(model, signal, show_progressbar, num_workers, distances=False):
    """Labels (and distances) of every frame of ``signal``, in memory."""
    frames = _frames(signal)
    height, width = frames.shape[-2:]
    grid = model.descriptor.grid((height, width), model.stride)
    labels = np.empty(frames.shape, dtype=model.dtype)
    dist = np.empty(frames.shape + (model.n_patterns,)) if distances else None
    with _threads(num_workers), _progressbar(frames.shape[0] * grid.ny * grid.nx, show_progressbar, "Segmenting") as bar:
        for f in range(frames.shape[0]):
            frame = np.asarray(frames[f])
            check.check_finite(frame)
            result = model.label_block(frame, (height, width), distances=distances, fft_workers=num_workers or -1)
            if distances:
                labels[f], dist[f] = result
            else:
                labels[f] = result
            bar.update(grid.ny * grid.nx)
    return (labels, dist) if distances else labels


def _label_all(model, signal, lazy_output, show_progressbar, num_workers):
    """Labels of every frame: a NumPy array, or a dask array for lazy output."""
    shape = signal.data.shape
    if _lazy_output(signal, lazy_output):
        data = _dask_frames(signal)
        halo = model.halo
        small = [ax for ax in (-2, -1) if min(data.chunks[ax]) < halo and len(data.chunks[ax]) > 1]
        if small:  # overlaps need chunks at least as large as the halo
            data = data.rechunk({data.ndim + ax: max(halo, 256) for ax in small})
        return model.dask_labels(_checked(data))
    return _eager_labels(model, signal, show_progressbar, num_workers).reshape(shape)


def _checked(data):
    """Dask array that raises on NaN/inf pixels when computed."""

    def check_block(block):
        check.check_finite(block)
        return block

    return data.map_blocks(check_block, dtype=data.dtype)


def _map_signal(signal, data, title: str, quantity: str):
    """A Signal2D (lazy for dask data) with the axes and metadata of ``signal``."""
    from hyperspy.signals import LazySignal2D, Signal2D

    metadata = copy.deepcopy(signal.metadata.as_dictionary())
    original = metadata.get("General", {}).get("title", "")
    metadata.setdefault("General", {})["title"] = f"{title} of {original}".strip()
    metadata.setdefault("Signal", {}).update({"signal_type": "", "quantity": quantity})
    axes = [dict(a) for a in signal.axes_manager._get_axes_dicts()]
    cls = Signal2D if isinstance(data, np.ndarray) else LazySignal2D
    return cls(data, axes=axes, metadata=metadata)


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


def _label_signal(signal, labels, parameters: dict):
    """A plain Signal2D (lazy for dask labels) with the axes and metadata of ``signal``."""
    out = _map_signal(signal, labels, "Symmetry segmentation", "Pattern label")
    info = {k: v for k, v in parameters.items() if v is not None}
    if isinstance(labels, np.ndarray):
        sizes = count_labels(labels, int(parameters["n_patterns"]))
        info.update(pattern_sizes_px=sizes, pattern_fractions=sizes / max(labels.size, 1))
    out.metadata.set_item("SymmetrySegmentation", info)
    out.original_metadata.add_dictionary(signal.original_metadata.as_dictionary())
    return out


def symmetry_segmentation(
    signal,
    n_patterns: int = 2,
    descriptor: str = DEFAULTS["descriptor"],
    stride: int = DEFAULTS["stride"],
    n_components: int | float | None = None,
    random_state=None,
    *,
    n_init: int = DEFAULTS["n_init"],
    max_samples: int = DEFAULTS["max_samples"],
    decomposition_algorithm: str = DEFAULTS["decomposition_algorithm"],
    reference_frames=None,
    n_operations: int | None = None,
    lazy_output: bool | None = None,
    show_progressbar: bool | None = None,
    num_workers: int | None = None,
    **parameters,
) -> SymmetrySegmentation:
    """Segment an image (or image stack) into ``n_patterns`` crystal patterns.

    Descriptors on a stride grid -> PCA (HyperSpy ``decomposition``) -> k-means
    (HyperSpy ``cluster_analysis``) -> labels sorted by size -> nearest upsampling.
    For a stack, one model labels every frame, so a label means the same pattern in
    every frame: fitted on all frames (in-memory stacks, by default) or on
    ``reference_frames`` and applied to the others.

    Parameters
    ----------
    signal : hyperspy.signals.Signal2D
        Image ``(| y, x)`` or stack ``(t | y, x)``; real-valued; not modified.
    n_patterns : int
        Number of patterns (k-means clusters), >= 1 and at most the number of grid points.
    descriptor, stride
        See :func:`get_symmetry_descriptors`.
    n_components : int, float or None
        Components kept: an int in [1, number of operations], or (PCA only) a float in
        (0, 1) for the smallest number of principal components explaining that fraction
        of the variance (the paper recommends 0.8-0.9). None: ``DEFAULTS["n_components"]``
        (or the number of operations if there are fewer) for PCA, ``n_patterns`` for the
        unmixing routes.
    random_state : int, numpy.random.Generator or None
        Seed of the subsample and of k-means; the same seed gives the same labels.
    n_init : int
        k-means++ initialisations (>= 1); the best (lowest inertia) is kept.
    max_samples : int
        k-means is fitted on at most this many grid points (>= n_patterns), then every
        point is assigned to its nearest centre.
    decomposition_algorithm : {"PCA", "NMF", "nfindr"}
        ``"PCA"``: principal components (the paper's choice; fast; always applicable).
        ``"NMF"``: HyperSpy's non-negative matrix factorisation, for non-negative
        descriptors (``power_spectrum``): components are additive parts of the spectra
        and their weights give phase fractions. ``"nfindr"``: N-FINDR endmembers (the
        purest grid points) and non-negative, sum-to-one abundances: each grid point as a
        mixture of pure patterns, e.g. across diffuse interfaces. With NMF and N-FINDR the
        labels come from k-means on the weights/abundances and ``abundance_maps`` holds
        the phase-fraction maps.
    reference_frames : int, sequence of int or None
        Flat navigation indices of the frames to fit the model on; every frame is then
        labelled with it. None: all frames for an in-memory stack, the first frame for a
        lazy one (whose descriptors need not fit in memory).
    n_operations : int or None
        The fast path for series (paper, Fig. 7): after fitting with all operations,
        keep the ``n_operations`` most separable ones (Fisher separability, eq. 4), refit
        on them and label every frame with only those (see
        :meth:`SymmetrySegmentation.select_operations`; ``.full`` keeps the full model).
    lazy_output : bool or None
        Labels as a lazy signal computed chunk by chunk by dask (also on a
        dask.distributed cluster). None: lazy if ``signal`` is lazy.
    show_progressbar, num_workers
        See :func:`get_symmetry_descriptors`.
    **parameters
        Descriptor parameters, see below.

    %s
    Returns
    -------
    SymmetrySegmentation
        ``.labels`` (Signal2D, same shape, axes and metadata as ``signal``), the
        descriptor signal with its learning results, the fitted model (``.predict``).
    """
    n_patterns = check.check_int("n_patterns", n_patterns, 1)
    n_init = check.check_int("n_init", n_init, 1)
    random_state = check.check_random_state(random_state)
    spec = make_descriptor(descriptor, **parameters)
    stride = check.check_int("stride", stride, 1)
    nav_shape, height, width = _image_geometry(signal)
    _check_fits(spec, height, width)
    check.check_choice("decomposition_algorithm", decomposition_algorithm, DECOMPOSITION_ALGORITHMS)
    if spec.n_operations < 2:
        raise ValueError(
            f"segmentation needs at least 2 symmetry operations (descriptor channels); {spec.name!r} with these "
            "parameters has 1. Give more shifts/angles (HyperSpy's decomposition cannot work on one channel)."
        )
    if n_components is None:
        n_components = n_patterns if decomposition_algorithm != "PCA" else DEFAULTS["n_components"]
        n_components = min(n_components, spec.n_operations)
    n_components = check.check_n_components(n_components, spec.n_operations)
    if decomposition_algorithm != "PCA" and not isinstance(n_components, numbers.Integral):
        raise ValueError(
            f"n_components must be an integer number of components for decomposition_algorithm="
            f"{decomposition_algorithm!r} (a variance fraction only makes sense for PCA); got {n_components}."
        )
    if decomposition_algorithm == "NMF" and not spec.nonnegative:
        raise ValueError(
            f"decomposition_algorithm='NMF' needs non-negative descriptors such as descriptor='power_spectrum'; "
            f"{spec.name!r} scores can be negative. Use 'PCA' or 'nfindr'."
        )
    n_frames = int(np.prod(nav_shape, dtype=np.int64))
    if reference_frames is None and signal._lazy:
        reference_frames = [0]
    if reference_frames is not None:
        reference_frames = np.atleast_1d(np.asarray(reference_frames))
        if reference_frames.dtype.kind not in "iu" or reference_frames.ndim != 1 or reference_frames.size == 0:
            raise TypeError(f"reference_frames must be a frame index or a sequence of them, got {reference_frames!r}.")
        if reference_frames.min() < 0 or reference_frames.max() >= n_frames:
            raise ValueError(
                f"reference_frames must be flat navigation indices in [0, {n_frames - 1}]; got {reference_frames.tolist()}."
            )
    if n_operations is not None:
        n_operations = check.check_int("n_operations", n_operations, 2, spec.n_operations)
    grid = spec.grid((height, width), stride)
    n_fit = n_frames if reference_frames is None else len(reference_frames)
    n_points = n_fit * grid.ny * grid.nx
    if n_patterns > n_points:
        raise ValueError(
            f"n_patterns must be an integer in [1, {n_points}] (the number of descriptor grid points "
            f"for this image and stride={stride}); got {n_patterns}."
        )
    max_samples = check.check_int("max_samples", max_samples, n_patterns)

    timings = {}
    clock = time.perf_counter()
    reference = _reference_signal(signal, reference_frames)
    descriptors = _descriptors_of(reference, spec, stride, show_progressbar, num_workers, lazy=False)
    timings["descriptors"], clock = time.perf_counter() - clock, time.perf_counter()

    with _threads(num_workers):
        reducer = _reduce(descriptors, decomposition_algorithm, n_components, random_state)
        timings["reduction"], clock = time.perf_counter() - clock, time.perf_counter()
        k = int(np.asarray(reducer.components_).shape[0])
        kmeans = SubsampledKMeans(n_patterns, n_init=n_init, max_samples=max_samples, random_state=random_state)
        descriptors.cluster_analysis("decomposition", number_of_components=k, preprocessing=None, algorithm=kmeans)
    timings["clustering"], clock = time.perf_counter() - clock, time.perf_counter()

    # Sort the patterns by size, smallest first (ties: by k-means index).
    sizes = np.bincount(kmeans.labels_, minlength=n_patterns)
    order = np.argsort(sizes, kind="stable")
    rank = np.empty(n_patterns, dtype=np.int64)
    rank[order] = np.arange(n_patterns)
    ref_nav = np.asarray(descriptors.data).shape[:-3]
    grid_labels = rank[kmeans.labels_].astype(label_dtype(n_patterns)).reshape(ref_nav + grid.shape)
    model = SegmentationModel(spec, stride, reducer, kmeans.cluster_centers_[order])

    parameters = {
        "n_patterns": n_patterns,
        "descriptor": spec.name,
        "stride": stride,
        **spec.parameters,
        "decomposition_algorithm": decomposition_algorithm,
        "n_components": n_components,
        "n_components_used": int(k),
        "random_state": random_state if isinstance(random_state, numbers.Integral) else None,
        "n_init": n_init,
        "max_samples": max_samples,
        "reference_frames": None if reference_frames is None else reference_frames,
    }
    if reference_frames is None and not _lazy_output(signal, lazy_output):
        # Fitted on every frame: the labels come with the fit.
        target, labels = signal, upsample_labels(grid_labels, grid, (height, width)).reshape(signal.data.shape)
    elif n_operations is not None:
        # The fast model will label every frame; the full model labels the reference.
        target = reference
        labels = upsample_labels(grid_labels, grid, (height, width)).reshape(reference.data.shape)
    else:
        target, labels = signal, _label_all(model, signal, lazy_output, show_progressbar, num_workers)
    timings["labels"] = time.perf_counter() - clock
    result = SymmetrySegmentation(
        target, _label_signal(target, labels, parameters), descriptors, model, grid_labels, parameters, timings,
        reference_frames,
    )
    if n_operations is None:
        return result
    result.signal = signal  # select_operations fits on the reference frames of signal
    fast = result.select_operations(n_operations, show_progressbar=show_progressbar, num_workers=num_workers,
                                    lazy_output=lazy_output)
    result.signal = target
    return fast


def _seed(random_state) -> int | None:
    """An int seed for estimators that do not take a numpy Generator."""
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**31 - 1))
    return random_state


def _reduce(descriptors, algorithm: str, n_components, random_state):
    """Run HyperSpy's decomposition on the descriptor signal; returns the fitted estimator."""
    if algorithm == "PCA":
        reducer = CovariancePCA(n_components)
        descriptors.decomposition(algorithm=reducer, centre=None, print_info=False)
        return reducer
    if algorithm == "NMF":
        return descriptors.decomposition(
            algorithm="NMF", output_dimension=int(n_components), return_info=True, print_info=False,
            init="nndsvda", max_iter=1000, random_state=_seed(random_state),
        )
    from .unmixing import NFINDR

    reducer = NFINDR(int(n_components), random_state=_seed(random_state))
    descriptors.decomposition(algorithm=reducer, print_info=False)
    return reducer


symmetry_segmentation.__doc__ %= _DESCRIPTOR_PARAMETERS_DOC


def segment_with_model(signal, model, lazy_output: bool | None = None, show_progressbar: bool | None = None,
                       num_workers: int | None = None):
    """Labels of an image or image stack from a fitted model (e.g. one loaded from a file).

    Parameters
    ----------
    signal : hyperspy.signals.Signal2D
        Image or stack, eager or lazy.
    model : SegmentationModel or SymmetrySegmentation
        From :func:`hyperspy_symseg.load_model`, or a segmentation result.

    Returns
    -------
    hyperspy.signals.Signal2D
        Labels with the shape, axes and metadata of ``signal`` (lazy for lazy input
        unless ``lazy_output=False``).
    """
    model = getattr(model, "model", model)
    _, height, width = _image_geometry(signal)
    _check_fits(model.descriptor, height, width)
    labels = _label_all(model, signal, lazy_output, show_progressbar, num_workers)
    parameters = {"n_patterns": model.n_patterns, "descriptor": model.descriptor.name, "stride": model.stride,
                  **model.descriptor.parameters}
    return _label_signal(signal, labels, parameters)


def symmetry_segment(signal, n_patterns: int = 2, **kwargs):
    """Pattern labels of an image: ``symmetry_segmentation(signal, n_patterns, **kwargs).labels``.

    See :func:`symmetry_segmentation` for the parameters. Returns a Signal2D of
    integer labels (0 = smallest pattern) with the input's shape, axes and metadata.
    """
    return symmetry_segmentation(signal, n_patterns, **kwargs).labels
