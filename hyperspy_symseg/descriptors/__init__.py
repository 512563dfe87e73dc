"""Local symmetry descriptors: NumPy in, NumPy out, no HyperSpy.

A descriptor is described by a small immutable object (e.g.
:class:`TranslationDescriptor`) that knows its symmetry operations, the grid it
evaluates on for a given image shape and stride, and how to compute the scores.
The same object computes descriptors for the image a model was fitted on and for
every later image the model is applied to.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._grid import DescriptorGrid, descriptor_grid, nearest_grid_index, translation_grid, upsample_labels
from .translation import EDGES, local_correlation_grid, local_correlation_map, shift_margins

__all__ = [
    "DESCRIPTOR_NAMES",
    "EDGES",
    "METHODS",
    "DescriptorGrid",
    "TranslationDescriptor",
    "descriptor_grid",
    "local_correlation_map",
    "nearest_grid_index",
    "translation_grid",
    "upsample_labels",
]

#: Descriptor families, by the names the paper and pySTEM use.
DESCRIPTOR_NAMES = ("local_correlation_map", "preselected_translations")

#: Ways of computing translation descriptors.
METHODS = ("direct", "fft")


@dataclass(frozen=True, eq=False)
class TranslationDescriptor:
    """Pearson scores of a set of translations (the local correlation map).

    Parameters
    ----------
    shifts : (N, 2) int64 ndarray
        Translations ``(m, n) = (dy, dx)`` in pixels.
    patch_x, patch_y : int
        Half width and half height of the patch (the patch is
        ``(2 * patch_y + 1) x (2 * patch_x + 1)`` pixels).
    method : {"direct", "fft"}
    edges : {"shrink", "exclude"}
        Whether the grid reaches into the edge margin with clipped patches
        (see :mod:`hyperspy_symseg.descriptors.translation`).
    name : str
        ``"local_correlation_map"`` or ``"preselected_translations"``.
    parameters : dict
        The user-facing parameters that produced this descriptor (kept in metadata).
    """

    shifts: np.ndarray
    patch_x: int
    patch_y: int
    method: str = "direct"
    edges: str = "shrink"
    name: str = "local_correlation_map"
    parameters: dict = field(default_factory=dict)

    @property
    def n_operations(self) -> int:
        return len(self.shifts)

    @property
    def margins(self) -> tuple[int, int]:
        """``(margin_y, margin_x)``: distance of the first grid centre from the edge."""
        return shift_margins(self.shifts, self.patch_y, self.patch_x)

    @property
    def min_shape(self) -> tuple[int, int]:
        """Smallest image ``(height, width)`` with at least one grid point."""
        my, mx = self.margins
        return (2 * my + 1, 2 * mx + 1)

    def grid(self, shape: tuple[int, int], stride: int) -> DescriptorGrid:
        return local_correlation_grid(shape, self.shifts, self.patch_y, self.patch_x, stride, self.edges)

    def compute(
        self, image: np.ndarray, stride: int, out: np.ndarray | None = None, fft_workers=None, progress=None
    ) -> np.ndarray:
        """(ny, nx, N) float32 scores of ``image`` (H, W) on the stride grid.

        ``progress``, if given, is called with the number of grid points finished.
        """
        scores, _ = local_correlation_map(
            image, self.shifts, self.patch_y, self.patch_x, stride, self.method, self.edges,
            out=out, fft_workers=fft_workers, progress=progress,
        )
        return scores

    def operation_names(self) -> list[str]:
        """Readable names, e.g. ``"T(-5, 10)"`` for the shift m=-5 (rows), n=10 (columns)."""
        return [f"T({m}, {n})" for m, n in self.shifts]

    def subset(self, indices) -> "TranslationDescriptor":
        """The same descriptor restricted to some operations (e.g. the most separable)."""
        return TranslationDescriptor(
            self.shifts[np.asarray(indices)], self.patch_x, self.patch_y, self.method, self.edges,
            "preselected_translations", dict(self.parameters),
        )

    def metadata(self) -> dict:
        """Plain-value description for ``metadata`` of HyperSpy signals."""
        return {
            "descriptor": self.name,
            "method": self.method,
            "edges": self.edges,
            "patch_x": int(self.patch_x),
            "patch_y": int(self.patch_y),
            "operation_type": "translation",
            "operations": np.asarray(self.shifts),
            "operations_order": "(m, n) = (rows, columns) in pixels",
            **{k: v for k, v in self.parameters.items() if v is not None},
        }
