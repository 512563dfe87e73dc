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
from ._learn import CovariancePCA, SubsampledKMeans, nearest_centre
from .descriptors import make_descriptor, upsample_labels

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
    Descriptor parameters (keyword arguments; each family takes only its own,
    None or left out means the default; see also
    :func:`hyperspy_symseg.descriptors.descriptor_parameters`):

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
        |FFT|^2 of the window of half sizes ``window_x``, ``window_y`` (20) around each grid
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
        Descriptor parameters, below.
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
        Integer pattern labels with the input's shape, axes and metadata;
        0 is the smallest pattern.
    descriptors : hyperspy.signals.Signal1D
        The descriptor signal, with HyperSpy ``learning_results`` of the
        decomposition and cluster analysis.
    explained_variance_ratio : (n_operations,) ndarray
        Fraction of the total descriptor variance along every principal component.
    n_components : int
        Principal components used for clustering.
    cluster_centers : (n_patterns, n_components) ndarray
        k-means centres in principal-component space; row ``k`` is label ``k``.
    pattern_sizes : (n_patterns,) int ndarray
        Pixels per label in ``labels``.
    parameters : dict
        Every parameter of the run.
    descriptor : descriptor object
        The symmetry operations and how they are computed (see
        :mod:`hyperspy_symseg.descriptors`).
    signal : hyperspy.signals.Signal2D
        The segmented signal (a reference, not a copy).
    timings : dict
        Wall-clock seconds of each step: descriptors, reduction, clustering, labels.
    """

    def __init__(self, signal, labels, descriptors, descriptor, stride, reducer, centers, parameters, timings=None):
        self.signal = signal
        self.timings = dict(timings or {})
        self.labels = labels
        self.descriptors = descriptors
        self.descriptor = descriptor
        self.stride = stride
        self.reducer = reducer
        self.decomposition_algorithm = parameters.get("decomposition_algorithm", "PCA")
        self.explained_variance_ratio = getattr(reducer, "explained_variance_ratio_", None)
        self.n_components = int(centers.shape[1])
        self.cluster_centers = centers
        self.parameters = parameters
        self.pattern_sizes = np.bincount(np.asarray(labels.data).ravel(), minlength=len(centers))

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
        return len(self.cluster_centers)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{n}" for n in self.pattern_sizes)
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

    def project(self, descriptors: np.ndarray) -> np.ndarray:
        """(..., n_components) coordinates of (..., n_operations) descriptors in the fitted reduction."""
        flat = descriptors.reshape(-1, descriptors.shape[-1])
        return np.asarray(self.reducer.transform(flat)).reshape(descriptors.shape[:-1] + (-1,))

    def predict(self, signal, show_progressbar: bool | None = None, num_workers: int | None = None):
        """Segment another image, or every frame of a stack, with this fitted model.

        The same symmetry operations, stride, principal axes and cluster centres are
        used, so a label means the same pattern in every image.

        Parameters
        ----------
        signal : hyperspy.signals.Signal2D
            Image or image stack; each image must be large enough for the descriptor.

        Returns
        -------
        hyperspy.signals.Signal2D
            Labels with the shape, axes and metadata of ``signal``.
        """
        nav_shape, height, width = _image_geometry(signal)
        _check_fits(self.descriptor, height, width)
        desc, grid = _compute_frames(_frames(signal), self.descriptor, self.stride, show_progressbar, num_workers)
        grid_labels, _ = nearest_centre(self.project(desc).reshape(-1, self.n_components), self.cluster_centers)
        grid_labels = grid_labels.reshape(desc.shape[:-1]).astype(_label_dtype(self.n_patterns))
        labels = upsample_labels(grid_labels, grid, (height, width)).reshape(nav_shape + (height, width))
        return _label_signal(signal, labels, self.parameters)


def _label_dtype(n_patterns: int):
    return np.uint8 if n_patterns <= 256 else np.uint16


def _label_signal(signal, labels: np.ndarray, parameters: dict):
    """A plain Signal2D of labels with the axes and metadata of ``signal``."""
    from hyperspy.signals import Signal2D

    metadata = copy.deepcopy(signal.metadata.as_dictionary())
    title = metadata.get("General", {}).get("title", "")
    metadata.setdefault("General", {})["title"] = f"Symmetry segmentation of {title}".strip()
    metadata.setdefault("Signal", {}).update({"signal_type": "", "quantity": "Pattern label"})
    n_patterns = int(parameters["n_patterns"])
    sizes = np.bincount(labels.ravel(), minlength=n_patterns)
    metadata["SymmetrySegmentation"] = {
        **{k: v for k, v in parameters.items() if v is not None},
        "pattern_sizes_px": sizes,
        "pattern_fractions": sizes / max(labels.size, 1),
    }
    axes = [dict(a) for a in signal.axes_manager._get_axes_dicts()]
    out = Signal2D(labels, axes=axes, metadata=metadata)
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
    show_progressbar: bool | None = None,
    num_workers: int | None = None,
    **parameters,
) -> SymmetrySegmentation:
    """Segment an image (or image stack) into ``n_patterns`` crystal patterns.

    Descriptors on a stride grid -> PCA (HyperSpy ``decomposition``) -> k-means
    (HyperSpy ``cluster_analysis``) -> labels sorted by size -> nearest upsampling.
    For a stack all frames are clustered together, so labels mean the same in every frame.

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
    show_progressbar, num_workers
        See :func:`get_symmetry_descriptors`.
    **parameters
        Descriptor parameters, below.
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
    grid = spec.grid((height, width), stride)
    n_points = int(np.prod(nav_shape, dtype=np.int64)) * grid.ny * grid.nx
    if n_patterns > n_points:
        raise ValueError(
            f"n_patterns must be an integer in [1, {n_points}] (the number of descriptor grid points "
            f"for this image and stride={stride}); got {n_patterns}."
        )
    max_samples = check.check_int("max_samples", max_samples, n_patterns)

    timings = {}
    clock = time.perf_counter()
    # Lazy input is computed frame by frame into memory for the clustering.
    descriptors = _descriptors_of(signal, spec, stride, show_progressbar, num_workers, lazy=False)
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
    grid_labels = rank[kmeans.labels_].astype(_label_dtype(n_patterns)).reshape(nav_shape + grid.shape)
    centers = kmeans.cluster_centers_[order]

    labels = upsample_labels(grid_labels, grid, (height, width))
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
    }
    label_signal = _label_signal(signal, labels, parameters)
    timings["labels"] = time.perf_counter() - clock
    return SymmetrySegmentation(signal, label_signal, descriptors, spec, stride, reducer, centers, parameters, timings)


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


def symmetry_segment(signal, n_patterns: int = 2, **kwargs):
    """Pattern labels of an image: ``symmetry_segmentation(signal, n_patterns, **kwargs).labels``.

    See :func:`symmetry_segmentation` for the parameters. Returns a Signal2D of
    integer labels (0 = smallest pattern) with the input's shape, axes and metadata.
    """
    return symmetry_segmentation(signal, n_patterns, **kwargs).labels
