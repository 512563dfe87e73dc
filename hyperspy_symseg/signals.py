"""Signal classes registered with HyperSpy.

``signal_type="atomic_resolution"``: images to segment; ``signal_type="pattern_labels"``:
the label images a segmentation returns. Thin classes: every method forwards to the
pipeline in :mod:`hyperspy_symseg.segmentation` or to :mod:`hyperspy_symseg.plot`; no
numerics live here.

The lazy classes are defined on first use (``signals.LazyAtomicResolutionImage`` defines
them): their base class imports dask (~0.3 s), which eager signals never need. Likewise
:mod:`hyperspy_symseg.atom_columns` (~35 ms of a fresh process) is imported when one of
its methods is first looked up, not when ``set_signal_type`` loads this module.
"""

import threading
import types

from hyperspy.signals import Signal2D

from . import lattice, segmentation


class _AtomColumnsMethod:
    """A method forwarding to :mod:`hyperspy_symseg.atom_columns`, which loads on first look-up.

    The first access (``s.find_atom_columns``, ``help``, Sphinx) imports the module and
    gives the method the docstring of the function it forwards to.
    """

    def __init__(self, method):
        self._method = method
        self._documented = False

    def __get__(self, obj, objtype=None):
        if not self._documented:
            from . import atom_columns

            self._method.__doc__ = getattr(atom_columns, self._method.__name__).__doc__
            self._documented = True
        return self._method if obj is None else types.MethodType(self._method, obj)


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

    @_AtomColumnsMethod
    def find_atom_columns(self, **kwargs):
        from . import atom_columns

        return atom_columns.find_atom_columns(self, **kwargs)

    @_AtomColumnsMethod
    def denoise(self, method="lattice_nlm", **kwargs):
        from . import atom_columns

        return atom_columns.denoise(self, method, **kwargs)

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
