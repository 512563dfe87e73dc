"""The result of a segmentation: labels, descriptors, the fitted model and what follows from them."""

from __future__ import annotations

import time

import numpy as np

from . import _validation as check
from ._lazy_fit import refit_descriptors
from ._pipeline import _eager_labels, _label_all, _reduce
from ._signal_utils import (
    _check_fits, _check_run_options, _dask_frames, _image_geometry, _label_signal, _lazy_output, _map_signal,
    _per, _pixel_size, _space_units, _threads, _time_units,
)
from ._result_crystal import CrystallinityMixin
from .model import SegmentationModel, count_labels

class SymmetrySegmentation(CrystallinityMixin):
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
        self._lattice = None
        self.n_patterns_selection = None

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

    @classmethod
    def load(cls, filename, signal=None, lazy: bool = False) -> "SymmetrySegmentation":
        """A segmentation saved by :meth:`save` (see :func:`load_segmentation`)."""
        from .files import read_segmentation

        parts = read_segmentation(filename, lazy=lazy)
        labels = parts["labels"]
        return cls(signal if signal is not None else labels, labels, parts["descriptors"], parts["model"],
                   parts["grid_labels"], parts["parameters"], {}, parts["reference_frames"])

    def save(self, filename, overwrite: bool | None = None, descriptors: bool = True) -> bool:
        """Save the labels with the fitted model (and the descriptors next to them).

        ``.hspy`` or ``.zspy``; see :func:`hyperspy_symseg.files.save_segmentation`.
        Load with :func:`hyperspy_symseg.load_segmentation`.
        """
        from .files import save_segmentation

        return save_segmentation(self, filename, overwrite, descriptors)

    def save_model(self, filename, overwrite: bool | None = None) -> bool:
        """Save only the fitted model, to segment later acquisitions.

        Load with :func:`hyperspy_symseg.load_model` and apply with
        :func:`hyperspy_symseg.segment_with_model`.
        """
        from .files import save_model

        return save_model(self.model, filename, overwrite)

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
        _check_run_options(lazy_output, show_progressbar, num_workers)
        _, height, width = _image_geometry(signal)
        _check_fits(self.descriptor, height, width)
        self._warn_pixel_size(signal)
        labels = _label_all(self.model, signal, lazy_output, show_progressbar, num_workers)
        return _label_signal(signal, labels, self.parameters)

    def _warn_pixel_size(self, signal) -> None:
        """Warn when ``signal``'s pixel size differs from the fitted image's (sizes are in px)."""
        import warnings

        fitted, fitted_units = self.parameters.get("pixel_size"), self.parameters.get("pixel_units", "")
        if fitted is None:
            return
        fitted = [float(v) for v in np.asarray(fitted).ravel()]
        new, units = _pixel_size(signal)
        if not (fitted_units and units) or fitted_units != units:
            return
        ratio = max(abs(new[0] / fitted[0]), abs(new[1] / fitted[1]), abs(fitted[0] / new[0]), abs(fitted[1] / new[1]))
        if ratio > 1.02:
            warnings.warn(
                f"the image's pixel size ({new[1]:.4g} {units}) differs from that of the image the model was fitted "
                f"on ({fitted[1]:.4g} {units}) by a factor {ratio:.3g}: the descriptor sizes are in pixels, so the "
                "same lattice looks different to them. Resample the image to the fitted pixel size "
                "(e.g. signal.rebin(scale=...) or interpolate) or fit a new segmentation on it.",
                UserWarning, stacklevel=3,
            )

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

        _check_run_options(lazy_output, show_progressbar, num_workers)
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
        _check_run_options(None, show_progressbar, num_workers)
        signal = self.signal if signal is None else signal
        _, height, width = _image_geometry(signal)
        _check_fits(self.descriptor, height, width)
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
        space = _space_units(x)
        area_units = f"{space}^2" if space != "axis units" else "(axis units)^2"
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
        space = _space_units(x)
        speed = velocities(positions, dt)
        time_axis = {"name": name, "scale": dt, "offset": offset, "units": t_units, "size": n}
        coordinate = {"name": "coordinate", "size": 2, "navigate": True}
        out = {}
        for key, values, quantity in (
            ("position", positions.T, f"Position ({space})"),
            ("velocity", speed.T, f"Velocity ({space}/{_per(_time_units(time_axis))})"),
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
        values, m_values, n_values = separability_map(self.separability_values()[: len(shifts)], shifts)
        ydict, xdict = self.signal.axes_manager._get_axes_dicts()[-2:]
        axes = []
        for values_, d, name in ((m_values, ydict, "shift y"), (n_values, xdict, "shift x")):
            step = float(values_[1] - values_[0]) if len(values_) > 1 else 1.0
            units = d.get("units") if _space_units(d) != "px" else "px"  # shifts of an uncalibrated image are px
            axes.append({"name": name, "units": units, "scale": d["scale"] * step,
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
        clock = time.perf_counter()
        descriptors = refit_descriptors(self.descriptors, self.signal, self.reference_frames, spec, self.stride,
                                        show_progressbar, num_workers)
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




def load_segmentation(filename, signal=None, lazy: bool = False) -> SymmetrySegmentation:
    """Load a segmentation saved by :meth:`SymmetrySegmentation.save`.

    Parameters
    ----------
    filename : str or Path
        A ``.hspy`` or ``.zspy`` file written by ``seg.save``; its descriptors are read
        from ``<stem>_descriptors<ext>`` next to it when present.
    signal : hyperspy.signals.Signal2D, optional
        The segmented image (for plotting and confidence maps); it is not stored.
    lazy : bool
        Load the labels (and descriptors) lazily.

    Returns
    -------
    SymmetrySegmentation

    Examples
    --------
    >>> import hyperspy_symseg as ss
    >>> from hyperspy_symseg import simulate
    >>> sim = simulate.two_grain_image(shape=(128, 128), random_state=0)
    >>> seg = ss.symmetry_segmentation(sim.image, 2, random_state=0, show_progressbar=False)
    >>> seg.save("/tmp/seg_example.hspy", overwrite=True)  # doctest: +SKIP
    >>> back = ss.load_segmentation("/tmp/seg_example.hspy", signal=sim.image)  # doctest: +SKIP

    See Also
    --------
    SymmetrySegmentation.save, hyperspy_symseg.load_model
    """
    return SymmetrySegmentation.load(filename, signal=signal, lazy=lazy)
