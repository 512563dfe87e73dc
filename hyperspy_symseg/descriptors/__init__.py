"""Local symmetry descriptors: NumPy in, NumPy out, no HyperSpy.

A descriptor is a small immutable object that knows its symmetry operations, the
grid it evaluates on for a given image shape and stride, and how to compute the
scores. The same object computes descriptors for the image a model was fitted on
and for every later image the model is applied to. Every family provides:

* ``name`` (str), ``parameters`` (dict of the user-facing parameters),
  ``n_operations`` (int), ``nonnegative`` (bool: scores are >= 0, e.g. for NMF),
  ``quantity`` (str: what the scores are, for the signal's metadata);
* ``min_shape`` ``(height, width)`` and ``size_hint`` (str) for the too-small error;
* ``grid(shape, stride) -> DescriptorGrid`` and ``halo`` (int): how far around a grid
  point the image matters (tiles of a large image overlap by ``halo + stride``);
* ``compute(image, stride, out=None, fft_workers=None, progress=None, grid=None,
  origin=(0, 0))`` returning ``(ny, nx, n_operations)`` float32 scores (``progress`` is
  called with the number of grid points finished; ``grid`` evaluates on given centres,
  e.g. part of a larger image's grid in the coordinates of a tile of it, and ``origin``
  is that tile's position in the larger image);
* ``operation_names() -> list[str]``, ``metadata() -> dict`` (plain values) and
  ``subset(indices)`` (the same descriptor restricted to some operations).

Families register their parameters and a builder with :func:`register`;
:func:`make_descriptor` checks user parameters against them.
"""

from ._grid import DescriptorGrid, descriptor_grid, nearest_grid_index, translation_grid, upsample_labels
from ._registry import descriptor_names, descriptor_parameters, make_descriptor, register
from ._translation_family import METHODS, TranslationDescriptor
from .translation import EDGES, local_correlation_map
from . import point_symmetry  # noqa: E402,F401  (registers the rotation and reflection descriptors)
from . import power_spectrum  # noqa: E402,F401  (registers "power_spectrum")

__all__ = [
    "EDGES",
    "METHODS",
    "DescriptorGrid",
    "TranslationDescriptor",
    "descriptor_grid",
    "descriptor_names",
    "descriptor_parameters",
    "local_correlation_map",
    "make_descriptor",
    "nearest_grid_index",
    "register",
    "translation_grid",
    "upsample_labels",
]
