"""The segmentation pipeline on HyperSpy signals.

descriptors (numba kernels) -> navigation-mapped feature signal -> HyperSpy
``decomposition`` (covariance PCA) -> HyperSpy ``cluster_analysis`` (k-means with
several initialisations on a subsample) -> labels sorted by pattern size ->
nearest-neighbour upsampling to every input pixel.

This module turns signals into arrays and back; the numerics are in
:mod:`hyperspy_symseg.descriptors` and :mod:`hyperspy_symseg._learn`.
"""

from __future__ import annotations

import functools
import numbers
import time
from typing import Any

import numpy as np

from . import _validation as check
from ._lazy_fit import fit_descriptors, grid_shape
from ._learn import SubsampledKMeans, nearest_centre
from ._pipeline import (
    _boundary_refiner, _cluster, _descriptors_of, _intensity_split, _label_all, _reduce, _refined_grid_labels, _seed,
)
from ._signal_utils import (
    _check_fits, _check_run_options, _image_geometry, _label_signal, _lazy_output, _pixel_size, _threads,
)
from .descriptors import upsample_labels
from .descriptors._preprocess import shared_backgrounds
from .files import as_model
from .model import SegmentationModel, label_dtype
from . import auto
from ._auto_stage import prepare_descriptor
from .result import SymmetrySegmentation


#: Defaults of the pipeline, chosen on the forward-model accuracy suite
#: (benchmarks/bench_accuracy.py; README; the descriptor defaults are in
#: :func:`hyperspy_symseg.descriptors.descriptor_parameters`). Stride (2-8) and the
#: number of components (3-8) changed the accuracy by less than 0.001; k-means on
#: 5000, 10000 or 20000 grid points gave the same accuracy.
DEFAULTS: dict[str, Any] = {
    "descriptor": "local_correlation_map",
    "stride": "auto",
    "background": "auto",
    "intensity_features": True,
    "refine_boundaries": True,
    "n_components": 5,
    "n_init": 10,
    "max_samples": 10_000,
    "decomposition_algorithm": "PCA",
}

#: Dimension reductions: the covariance PCA of the paper, HyperSpy's NMF (for
#: non-negative descriptors such as the power spectrum) and N-FINDR unmixing.
DECOMPOSITION_ALGORITHMS = ("PCA", "NMF", "nfindr")



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
        size) or ``"fft"`` (FFT correlations of the patch rows, the paper's Appendix B;
        same numbers to 1e-6, slower than direct). ``edges`` ("shrink"): ``"shrink"`` reaches to
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
    stride: int | str = DEFAULTS["stride"],
    *,
    background: int | str | None = DEFAULTS["background"],
    intensity_features: bool = False,
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
    background : int, "auto" or None
        As for :func:`symmetry_segmentation`.
    intensity_features : bool
        False (the default here): one channel per operation of the family. True appends
        the crystallinity, local mean and local std channels :func:`symmetry_segmentation`
        clusters on by default (their scaling measured on this image).
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
    _check_run_options(show_progressbar=show_progressbar, num_workers=num_workers)
    _, height, width = _image_geometry(signal)
    spec, stride, info, _ = prepare_descriptor(signal, descriptor, stride, parameters, background,
                                               intensity_features, reference_frames=[0])
    _check_fits(spec, height, width)
    out = _descriptors_of(signal, spec, stride, show_progressbar, num_workers, lazy=signal._lazy)
    out.metadata.set_item("SymmetryDescriptors.automatic", info)
    return out


get_symmetry_descriptors.__doc__ %= _DESCRIPTOR_PARAMETERS_DOC


def _sharing_backgrounds(function):
    """``function`` inside :func:`~hyperspy_symseg.descriptors._preprocess.shared_backgrounds`: the
    automatic stage, the descriptors and the boundary refinement of one fit share each frame's
    background-free image instead of computing it up to three times."""
    @functools.wraps(function)
    def call(*args, **kwargs):
        with shared_backgrounds():
            return function(*args, **kwargs)

    return call


@_sharing_backgrounds
def symmetry_segmentation(
    signal,
    n_patterns: int = 2,
    descriptor: str = DEFAULTS["descriptor"],
    stride: int | str = DEFAULTS["stride"],
    n_components: int | float | None = None,
    random_state=None,
    *,
    background: int | str | None = DEFAULTS["background"],
    intensity_features: bool = DEFAULTS["intensity_features"],
    refine_boundaries: bool = DEFAULTS["refine_boundaries"],
    max_patterns: int = auto.MAX_PATTERNS,
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
    n_patterns : int or "auto"
        Number of patterns (k-means clusters), >= 1 and at most the number of grid points;
        ``"auto"`` chooses it from 1 to ``max_patterns`` (see
        :func:`hyperspy_symseg.auto.choose_n_patterns`: the gap statistic with a box
        reference, and patterns must be compact regions); the scores of every k tried
        are in ``.n_patterns_selection`` and ``plot_n_patterns()`` shows them.
    descriptor, stride
        See :func:`get_symmetry_descriptors`. ``stride="auto"`` (default) is a quarter of
        the lattice period.
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
    background : "auto", int or None
        Before scoring, subtract the image's edge-preserving lattice background (the
        smoothed morphological mid-range with a square element this many px wide;
        ``"auto"``: one lattice period), so intensity steps at particle edges, thickness
        ramps and slowly varying backgrounds do not become patterns. None scores the
        image as it is (pySTEM's behaviour).
    intensity_features : bool
        Append a crystallinity channel and, where the neighbourhood is not crystalline
        or holds much less contrast than a crystal, the local mean and standard
        deviation (vacuum, amorphous support, contamination and particles whose lattice
        does not show separate by intensity). On by default where a lattice is found;
        False clusters the symmetry scores only (see the user guide). With it, two or
        more non-crystalline patterns next to a crystal (carbon and a vacuum hole) are
        told apart by the local mean and std alone (:mod:`hyperspy_symseg._intensity_split`);
        ``parameters["intensity_split"]`` says whether that acted.
    refine_boundaries : bool
        Decide the grid points near the boundary between a crystal and vacuum (or any
        two patterns whose patch variances differ 5x or more) again with a patch half as
        large, so particles do not come out dilated by a quarter of the patch (see
        :mod:`hyperspy_symseg._boundary_refine`). Only for the automatic local
        correlation map with a patch of at least 12 px (lattice periods above ~14 px);
        ``parameters["refine_boundaries"]`` says whether it acted. False: the nearest
        cluster centre everywhere.
    max_patterns : int
        The largest number of patterns ``n_patterns="auto"`` tries.
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
    _check_run_options(lazy_output, show_progressbar, num_workers)
    automatic_k = auto.is_auto(n_patterns)
    if not isinstance(refine_boundaries, (bool, np.bool_)):
        raise TypeError(f"refine_boundaries must be True or False, got {refine_boundaries!r}.")
    max_patterns = check.check_int("max_patterns", max_patterns, 1)
    n_patterns = 1 if automatic_k else check.check_int("n_patterns", n_patterns, 1)
    n_init = check.check_int("n_init", n_init, 1)
    random_state = check.check_random_state(random_state)
    nav_shape, height, width = _image_geometry(signal)
    check.check_choice("decomposition_algorithm", decomposition_algorithm, DECOMPOSITION_ALGORITHMS)
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
    spec, stride, automatic, lattice = prepare_descriptor(signal, descriptor, stride, parameters, background,
                                                          intensity_features, reference_frames)
    _check_fits(spec, height, width)
    if spec.n_operations < 2:
        raise ValueError(
            f"segmentation needs at least 2 symmetry operations (descriptor channels); {spec.name!r} with these "
            "parameters has 1. Give more shifts/angles (HyperSpy's decomposition cannot work on one channel)."
        )
    if n_components is None:
        n_components = (n_patterns if not automatic_k else DEFAULTS["n_components"]) \
            if decomposition_algorithm != "PCA" else DEFAULTS["n_components"]
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
    if n_operations is not None:
        n_operations = check.check_int("n_operations", n_operations, 2, spec.n_operations)
    grid = spec.grid((height, width), stride)
    n_fit = n_frames if reference_frames is None else len(reference_frames)
    n_points = n_fit * grid.ny * grid.nx
    if n_points < 2:
        raise ValueError(
            f"stride={stride} leaves {n_points} descriptor grid point on this {height} x {width} px image; the "
            "decomposition needs at least 2. Use a smaller stride."
        )
    if not automatic_k and n_patterns > n_points:
        raise ValueError(
            f"n_patterns must be an integer in [1, {n_points}] (the number of descriptor grid points "
            f"for this image and stride={stride}); got {n_patterns}."
        )
    max_samples = check.check_int("max_samples", max_samples, max_patterns if automatic_k else n_patterns)

    timings = {}
    clock = time.perf_counter()
    # reference: the in-memory fitted frames (None: a lazy image fitted on a sample of tiles).
    descriptors, reference = fit_descriptors(signal, reference_frames, spec, stride, max_samples, random_state,
                                             show_progressbar, num_workers)
    timings["descriptors"], clock = time.perf_counter() - clock, time.perf_counter()

    with _threads(num_workers):
        reducer = _reduce(descriptors, decomposition_algorithm, n_components, random_state)
        timings["reduction"], clock = time.perf_counter() - clock, time.perf_counter()
        k = int(np.asarray(reducer.components_).shape[0])
        selection = None
        ref_grid = grid_shape(descriptors)  # the frames' grids, or a stack of sampled tiles
        # Half the extent a grid point's scores depend on: the band where patches straddle two regions.
        reach = max(getattr(spec, "patch_x", 0), getattr(spec, "radius", 0), getattr(spec, "window_x", 0) // 2,
                    getattr(spec, "patch", 0) if getattr(spec, "n_extra", 0) else 0)
        band_width = 1.0 + reach / stride
        if automatic_k:
            features = np.asarray(descriptors.data).reshape(-1, spec.n_operations)
            selection = auto.choose_n_patterns(np.asarray(reducer.transform(features)), ref_grid, max_patterns,
                                               random_state, n_init=n_init, max_samples=max_samples,
                                               band_width=band_width,
                                               profiles=features[:, auto.structure_channels(spec)])
            n_patterns = selection.pop("n_patterns")
            selection.pop("labels")
        kmeans = SubsampledKMeans(n_patterns, n_init=n_init, max_samples=max_samples, random_state=random_state,
                                  grid_shape=ref_grid, band_width=band_width)
        _cluster(descriptors, k, kmeans)  # HyperSpy's cluster_analysis, without its 0.2 s of copies at stride 1
    timings["clustering"], clock = time.perf_counter() - clock, time.perf_counter()

    # Sort the patterns by size, smallest first (ties: by k-means index).
    sizes = np.bincount(kmeans.labels_, minlength=n_patterns)
    order = np.argsort(sizes, kind="stable")
    model = SegmentationModel(spec, stride, reducer, kmeans.cluster_centers_[order])
    # The fit's labels by the model's own rule (nearest sorted centre, ties to the lower
    # label), the rule predict applies: the k-means labels renumbered, except where centres tie.
    grid_labels = nearest_centre(descriptors.learning_results.loadings, model.centers, distances=False)
    grid_labels = grid_labels.astype(label_dtype(n_patterns)).reshape(descriptors.data.shape[:-1])
    if intensity_features:
        # Non-crystalline patterns (carbon, a vacuum hole) told apart by intensity alone (_intensity_split).
        split = _intensity_split(spec, descriptors.data, grid_labels, n_patterns, band_width, _seed(random_state))
        if split is not None:
            grid_labels = split.apply(np.asarray(descriptors.data), grid_labels)
            order = np.argsort(np.bincount(grid_labels.ravel(), minlength=n_patterns), kind="stable")
            grid_labels = np.argsort(order)[grid_labels].astype(grid_labels.dtype)
            model = SegmentationModel(spec, stride, reducer, model.centers[order], intensity_split=split.relabelled(order))
    if refine_boundaries and reference is not None:
        # Crystal / vacuum edges decided again with half the patch (_boundary_refine); part of the
        # model, so that predict, tiles and chunks refine the same way.
        refiner, prepared = _boundary_refiner(reference, spec, stride, automatic.get("period_px"), grid_labels,
                                              n_patterns, random_state)
        if refiner is not None:
            model = SegmentationModel(spec, stride, reducer, model.centers, refiner, model.intensity_split)
            grid_labels = _refined_grid_labels(model, reference, grid_labels, prepared)
    timings["refinement"], clock = time.perf_counter() - clock, time.perf_counter()

    pixel_size, pixel_units = _pixel_size(signal)
    parameters = {
        "n_patterns": n_patterns,
        "n_patterns_requested": "auto" if automatic_k else n_patterns,
        "descriptor": spec.name,
        "stride": stride,
        **spec.parameters,
        "decomposition_algorithm": decomposition_algorithm,
        "n_components": n_components,
        "n_components_used": int(k),
        "random_state": random_state if isinstance(random_state, numbers.Integral) else None,
        "n_init": n_init,
        "max_samples": max_samples,
        "band_refit": bool(kmeans.refitted_),
        "refine_boundaries": model.refiner is not None,
        "intensity_split": model.intensity_split is not None,
        "reference_frames": None if reference_frames is None else reference_frames,
        "automatic": automatic,
        "pixel_size": pixel_size,
        "pixel_units": pixel_units,
    }
    if reference_frames is None and not _lazy_output(signal, lazy_output):
        # Fitted on every frame: the labels come with the fit.
        target, labels = signal, upsample_labels(grid_labels, grid, (height, width)).reshape(signal.data.shape)
    elif n_operations is not None and reference is not None:
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
    result._lattice = lattice
    result.n_patterns_selection = selection
    if n_operations is None:
        return result
    result.signal = signal  # select_operations fits on the reference frames of signal
    fast = result.select_operations(n_operations, show_progressbar=show_progressbar, num_workers=num_workers,
                                    lazy_output=lazy_output)
    result.signal = target
    fast._lattice = lattice
    fast.n_patterns_selection = selection
    return fast



symmetry_segmentation.__doc__ %= _DESCRIPTOR_PARAMETERS_DOC


def segment_with_model(signal, model, lazy_output: bool | None = None, show_progressbar: bool | None = None,
                       num_workers: int | None = None):
    """Labels of an image or image stack from a fitted model (e.g. one loaded from a file).

    Parameters
    ----------
    signal : hyperspy.signals.Signal2D
        Image or stack, eager or lazy.
    model : SegmentationModel, SymmetrySegmentation, str or Path
        From :func:`hyperspy_symseg.load_model`, a segmentation result, or the path of
        a file saved by ``save_model`` or ``seg.save`` (loaded with ``load_model``).

    Returns
    -------
    hyperspy.signals.Signal2D
        Labels with the shape, axes and metadata of ``signal`` (lazy for lazy input
        unless ``lazy_output=False``).
    """
    _check_run_options(lazy_output, show_progressbar, num_workers)
    model = as_model(model)
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
