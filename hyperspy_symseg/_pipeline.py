"""The steps of the pipeline on arrays and signals: descriptors, reduction, labels.

descriptors (numba kernels) -> navigation-mapped feature signal -> HyperSpy
``decomposition`` (covariance PCA, NMF or N-FINDR) -> HyperSpy ``cluster_analysis``
(k-means with several initialisations on a subsample) -> labels of every frame,
in memory or chunk by chunk with dask.
"""

from __future__ import annotations

import numpy as np

from . import _validation as check
from ._learn import CovariancePCA, cluster_summaries, exact_nmf
from ._signal_utils import (
    _checked, _dask_frames, _descriptor_signal, _frames, _lazy_output, _progressbar, _threads, _use_model_loadings,
)

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




#: The channels the non-crystalline patterns are told apart by (_intensity_split: the local
#: mean alone split a carbon film of two thicknesses instead of finding the hole in it).
SPLIT_CHANNELS = ("local mean", "local std")


def _intensity_split(spec, features, grid_labels, n_patterns, width, random_state):
    """The :class:`~hyperspy_symseg._intensity_split.IntensitySplit` of a fit, or None.

    None also when the descriptor has no crystallinity, local mean and local std channels
    (intensity features off, no lattice found). ``features``: (..., n_operations) the
    fitted grid points' descriptors; ``grid_labels`` their nearest-centre labels.
    """
    from ._intensity_split import fit_intensity_split

    names = list(spec.operation_names()) if hasattr(spec, "operation_names") else []
    if n_patterns < 2 or not all(name in names for name in ("crystallinity",) + SPLIT_CHANNELS):
        return None
    typical = float(spec.stats.get("crystallinity", 0.0)) * spec.crystallinity_scale
    if not typical > 0.0:
        return None
    features = np.asarray(features).reshape(-1, spec.n_operations)
    return fit_intensity_split(features, grid_labels, n_patterns, names.index("crystallinity"),
                               tuple(names.index(w) for w in SPLIT_CHANNELS), typical, width, random_state)


#: At most this many of the fitted frames (evenly spaced) train the boundary refinement.
REFINE_FRAMES = 4


def _boundary_refiner(reference, spec, stride, period, grid_labels, n_patterns, random_state):
    """``(refiner, prepared)``: the :class:`~hyperspy_symseg._boundary_refine.BoundaryRefiner`
    of a fit (or None) and the background-free images of the frames it was trained on
    (a dict by frame index, for :func:`_refined_grid_labels`).

    ``reference``: the in-memory signal of the fitted frames; ``grid_labels`` their
    (..., ny, nx) labels by the model's nearest-centre rule; ``period`` the lattice
    period (px) the automatic sizes came from.
    """
    from ._auto_stage import fine_descriptor, fine_patch
    from ._boundary_refine import (
        MIN_FINE_PATCH, PATCH_FACTOR, allowed_moves, fine_variance, fit_refiner, pattern_variances,
    )

    patch = fine_patch(spec, PATCH_FACTOR, MIN_FINE_PATCH)
    if patch is None or n_patterns < 2:
        return None, {}
    frames = _frames(reference)
    grid = spec.grid(frames.shape[-2:], stride)
    labels = np.asarray(grid_labels).reshape((-1,) + grid.shape)
    pick = np.unique(np.round(np.linspace(0, len(labels) - 1, min(len(labels), REFINE_FRAMES))).astype(np.int64))
    images = [np.asarray(frames[i], dtype=np.float64) for i in pick]
    variances = [fine_variance(image, grid, patch) for image in images]
    reach = float(max(spec.base.patch_x, spec.base.patch_y))
    # No pair of patterns with a variance contrast (grains, phases): nothing to refine, and the
    # fine descriptor (as costly as the segmentation's own) is not computed.
    medians = pattern_variances(labels[pick], variances, reach, stride, n_patterns)
    if medians is None or not allowed_moves(medians).any():
        return None, {}
    prepared = [spec.prepared(image) for image in images]
    fine = fine_descriptor(spec, patch, images, prepared, period)
    features = [fine.compute(image, stride, grid=grid, prepared=p) for image, p in zip(images, prepared)]
    crystallinity = None
    if "crystallinity" in getattr(fine, "extras", ()):  # the first extra channel, after the base's scores
        crystallinity = [f[..., int(fine.base.n_operations)] for f in features]
    refiner = fit_refiner(fine, patch, reach, stride, labels[pick], features, variances, n_patterns, _seed(random_state),
                          crystallinity)
    return refiner, dict(zip(pick.tolist(), prepared))


def _refined_grid_labels(model, reference, grid_labels, prepared=None):
    """The fitted frames' grid labels refined by ``model.refiner``, as :meth:`SegmentationModel.label_block`
    does (``prepared``: background-free frames by index, where known)."""
    frames = _frames(reference)
    labels = np.asarray(grid_labels).reshape((-1,) + model.descriptor.grid(frames.shape[-2:], model.stride).shape)
    out = np.empty_like(labels)
    for f in range(len(labels)):
        out[f] = model.refine_grid_labels(labels[f], np.asarray(frames[f]), prepared=(prepared or {}).get(f))
    return out.reshape(np.shape(grid_labels))


def _seed(random_state) -> int | None:
    """An int seed for estimators that do not take a numpy Generator."""
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**31 - 1))
    return random_state


class _WithoutVariance:
    """A reducer as HyperSpy's ``decomposition`` sees it, without its ``explained_variance_``.

    HyperSpy 2.5 turns an estimator's ``explained_variance_`` into ratios in a function
    that imports dask.array first, whatever the data: 0.2-0.35 s of a fresh process,
    more than the rest of a small segmentation. Without the attribute HyperSpy stores
    no variances, and :func:`_store_variance` stores them with HyperSpy's own formulas.
    """

    def __init__(self, reducer):
        self.reducer = reducer

    def fit_transform(self, X, y=None):
        return self.reducer.fit_transform(X)

    def transform(self, X):
        return self.reducer.transform(X)

    @property
    def components_(self):
        return self.reducer.components_


def _store_variance(descriptors, reducer) -> None:
    """The learning results HyperSpy's decomposition would have stored for ``reducer`` itself."""
    results = descriptors.learning_results
    results.decomposition_algorithm = reducer
    variance = reducer.explained_variance_
    results.explained_variance = variance
    with np.errstate(invalid="ignore", divide="ignore"):  # a constant image: NaN, as HyperSpy stores it
        results.explained_variance_ratio = variance / variance.sum()
    results.number_significant_components = int(descriptors.estimate_elbow_position(results.explained_variance_ratio) + 1)


def _reduce(descriptors, algorithm: str, n_components, random_state):
    """Run HyperSpy's decomposition on the descriptor signal; returns the fitted estimator.

    The stored loadings are then the estimator's ``transform`` of the descriptors, the
    path every later labelling takes (see :func:`_use_model_loadings`).
    """
    if algorithm == "PCA":
        reducer = CovariancePCA(n_components)
        descriptors.decomposition(algorithm=_WithoutVariance(reducer), centre=None, print_info=False)
        _store_variance(descriptors, reducer)
    elif algorithm == "NMF":
        reducer = exact_nmf(descriptors.decomposition(
            algorithm="NMF", output_dimension=int(n_components), return_info=True, print_info=False,
            init="nndsvda", max_iter=1000, random_state=_seed(random_state),
        ))
    else:
        from .unmixing import NFINDR

        reducer = NFINDR(int(n_components), random_state=_seed(random_state))
        descriptors.decomposition(algorithm=reducer, print_info=False)
    _use_model_loadings(descriptors, reducer)
    return reducer


def _cluster(descriptors, n_components: int, estimator):
    """``descriptors.cluster_analysis("decomposition", number_of_components=n_components,
    preprocessing=None, algorithm=estimator)``, with the same ``learning_results``.

    HyperSpy 2.5 fits the estimator on the loadings and then, per cluster, copies the
    cluster's loadings and computes the distances of every sample to its centroid with
    temporary arrays: 0.2 s on a million samples, more than the k-means itself. Here the
    same fields come from :func:`hyperspy_symseg._learn.cluster_summaries` (one pass for
    the sums, one for the distances), in HyperSpy's order: row ``r`` of
    ``cluster_labels`` (and of the other per-cluster fields) is the estimator's cluster
    ``i`` where ``r = argsort(sizes)[::-1][i]``, as HyperSpy numbers them. Centroids and
    distances are accumulated in float64 (HyperSpy: in the loadings' float32).
    """
    lr = descriptors.learning_results
    loadings = lr.loadings[:, :n_components]
    factors = lr.factors[:, :n_components]
    estimator.fit(loadings)
    labels = np.asarray(estimator.labels_)
    n_clusters = int(labels.max()) + 1
    summary = cluster_summaries(loadings, labels, n_clusters)
    rows = np.argsort(summary["counts"])[::-1]  # HyperSpy: row rows[i] holds cluster i
    cluster_of_row = np.empty(n_clusters, dtype=np.int64)
    cluster_of_row[rows] = np.arange(n_clusters)
    lr.cluster_labels = labels[None, :] == cluster_of_row[:, None]
    lr.cluster_algorithm = estimator
    lr.number_of_clusters = n_clusters
    lr.cluster_sum_signals = summary["sums"][cluster_of_row] @ factors.T
    lr.cluster_centroid_signals = loadings[summary["nearest"][cluster_of_row]] @ factors.T
    lr.cluster_distances = summary["distances"][cluster_of_row]
    lr.cluster_centroids = summary["centroids"][cluster_of_row]
