"""Signal classes registered with HyperSpy.

``signal_type="atomic_resolution"``: images to segment; ``signal_type="pattern_labels"``:
the label images a segmentation returns. Thin classes: every method forwards to the
pipeline in :mod:`hyperspy_symseg.segmentation` or to :mod:`hyperspy_symseg.plot`; no
numerics live here.

The lazy classes are defined on first use (``signals.LazyAtomicResolutionImage`` defines
them): their base class imports dask (~0.3 s), which eager signals never need.
"""

import threading

from hyperspy.signals import Signal2D

from . import atom_columns, lattice, segmentation


class AtomicResolutionImage(Signal2D):
    """An atomic-resolution image or image series (HAADF/ADF/ABF-STEM, HRTEM, STM, AFM).

    Load any RosettaSciIO file with ``hs.load(path, signal_type="atomic_resolution")``
    or convert a signal with ``s.set_signal_type("atomic_resolution")``.
    """

    _signal_type = "atomic_resolution"

    def get_symmetry_descriptors(self, descriptor=segmentation.DEFAULTS["descriptor"], stride=segmentation.DEFAULTS["stride"], **kwargs):
        return segmentation.get_symmetry_descriptors(self, descriptor, stride, **kwargs)

    def symmetry_segmentation(self, n_patterns=2, **kwargs):
        return segmentation.symmetry_segmentation(self, n_patterns, **kwargs)

    def symmetry_segment(self, n_patterns=2, **kwargs):
        return segmentation.symmetry_segment(self, n_patterns, **kwargs)

    def estimate_lattice(self, frame=0, **kwargs):
        return lattice.estimate_lattice(self, frame, **kwargs)

    def find_atom_columns(self, **kwargs):
        return atom_columns.find_atom_columns(self, **kwargs)

    def denoise(self, method="lattice_nlm", **kwargs):
        return atom_columns.denoise(self, method, **kwargs)

    find_atom_columns.__doc__ = atom_columns.find_atom_columns.__doc__
    denoise.__doc__ = atom_columns.denoise.__doc__
    get_symmetry_descriptors.__doc__ = segmentation.get_symmetry_descriptors.__doc__
    estimate_lattice.__doc__ = lattice.estimate_lattice.__doc__
    symmetry_segmentation.__doc__ = segmentation.symmetry_segmentation.__doc__
    symmetry_segment.__doc__ = segmentation.symmetry_segment.__doc__


class PatternLabels(Signal2D):
    """Pattern labels of a symmetry segmentation: integers 0 .. n_patterns - 1 (0 = smallest pattern).

    Returned by :func:`hyperspy_symseg.symmetry_segment` and
    :meth:`~hyperspy_symseg.SymmetrySegmentation.predict`, with the axes and metadata of
    the segmented image; ``metadata.SymmetrySegmentation`` holds the parameters.
    ``plot()`` shows one discrete colour per pattern with a legend (as ``seg.plot()``)
    instead of a continuous colour bar.
    """

    _signal_type = "pattern_labels"

    def plot(self, *args, **kwargs):
        from . import plot

        super().plot(*args, **plot.label_plot_kwargs(self, kwargs))
        plot.add_label_legend(self)

    plot.__doc__ = Signal2D.plot.__doc__


_LAZY_CLASSES = ("LazyAtomicResolutionImage", "LazyPatternLabels")
_LAZY_LOCK = threading.Lock()


def _define_lazy_classes() -> None:
    from hyperspy.signals import LazySignal2D

    class LazyAtomicResolutionImage(LazySignal2D, AtomicResolutionImage):
        """Lazy (dask-backed) :class:`AtomicResolutionImage`."""

        _lazy = True

    class LazyPatternLabels(LazySignal2D, PatternLabels):
        """Lazy (dask-backed) :class:`PatternLabels`."""

        _lazy = True

    for cls in (LazyAtomicResolutionImage, LazyPatternLabels):
        cls.__qualname__ = cls.__name__  # module-level names, for HyperSpy's registry and pickle
        globals()[cls.__name__] = cls


def __getattr__(name):
    if name in _LAZY_CLASSES:
        with _LAZY_LOCK:
            if name not in globals():
                _define_lazy_classes()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_CLASSES))
