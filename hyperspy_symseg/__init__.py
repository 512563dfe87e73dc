"""hyperspy_symseg: segment atomic-resolution images by local symmetry descriptors.

A HyperSpy extension implementing and extending Wang, Freysoldt et al.,
Microsc. Microanal. 27, 1454 (2021): score local symmetry operations with Pearson
correlations, reduce with PCA and cluster with k-means, without any training.

Use it on any HyperSpy image signal::

    import hyperspy.api as hs
    s = hs.load("image.dm4", signal_type="atomic_resolution")
    labels = s.symmetry_segment(n_patterns=2)

or, for a plain ``Signal2D``, ``hyperspy_symseg.symmetry_segment(signal, n_patterns=2)``.
"""

__version__ = "0.1.0.dev0"

# numba's compiler context, the largest fixed cost of a fresh process, is set up here
# with the imports rather than in the first segmentation (benchmarks/bench_lcm.py --fresh).
from ._threading import prepare_numba  # noqa: E402

prepare_numba()
from .files import load_model, save_model  # noqa: E402
from .lattice import estimate_lattice  # noqa: E402
from .result import load_segmentation  # noqa: E402
from .segmentation import (  # noqa: E402
    DEFAULTS,
    SymmetrySegmentation,
    get_symmetry_descriptors,
    segment_with_model,
    symmetry_segment,
    symmetry_segmentation,
)

#: Public names whose modules load on first use: the atom columns (with
#: ``hyperspy_symseg.columns``) and the spectra, which a segmentation does not need
#: (30-60 ms of a fresh process on a busy 2-core machine). The lattice analysis and
#: the model files come with the pipeline anyway.
_LAZY = {
    "AtomColumns": "atom_columns",
    "AtomColumnsStack": "atom_columns",
    "denoise": "atom_columns",
    "find_atom_columns": "atom_columns",
    "labels_on_si_grid": "spectra",
    "navigation_mask": "spectra",
    "segment_spectra": "spectra",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "AtomColumns",
    "AtomColumnsStack",
    "DEFAULTS",
    "SymmetrySegmentation",
    "__version__",
    "denoise",
    "estimate_lattice",
    "find_atom_columns",
    "get_symmetry_descriptors",
    "labels_on_si_grid",
    "load_model",
    "load_segmentation",
    "navigation_mask",
    "save_model",
    "segment_spectra",
    "segment_with_model",
    "symmetry_segment",
    "symmetry_segmentation",
]
