"""The translation family: ``local_correlation_map`` and ``preselected_translations``.

The descriptor object (operations, grid, halo, metadata) and its registration; the
kernels are in :mod:`hyperspy_symseg.descriptors.translation`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import _validation as check
from ._grid import DescriptorGrid, translation_grid
from ._registry import register
from .translation import EDGES, local_correlation_grid, local_correlation_map, shift_margins

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
    extent : (int, int) or None
        ``(max |m|, max |n|)`` that sets the grid's margins; None: from ``shifts``. A
        subset keeps its parent's, so it is evaluated on the same grid.
    """

    shifts: np.ndarray
    patch_x: int
    patch_y: int
    method: str = "direct"
    edges: str = "shrink"
    name: str = "local_correlation_map"
    parameters: dict = field(default_factory=dict)
    extent: tuple | None = None

    nonnegative = False
    quantity = "Pearson correlation"

    @property
    def n_operations(self) -> int:
        return len(self.shifts)

    @property
    def _extent_shifts(self) -> np.ndarray:
        """Shifts whose extent sets the grid (the parent's for a subset)."""
        if self.extent is None:
            return self.shifts
        return np.array([[self.extent[0], self.extent[1]]], dtype=np.int64)

    @property
    def margins(self) -> tuple[int, int]:
        """``(margin_y, margin_x)``: distance of the first interior centre from the edge."""
        return shift_margins(self._extent_shifts, self.patch_y, self.patch_x)

    @property
    def min_shape(self) -> tuple[int, int]:
        """Smallest image ``(height, width)`` with at least one grid point."""
        my, mx = self.margins
        return (2 * my + 1, 2 * mx + 1)

    @property
    def size_hint(self) -> str:
        what = (
            "max |shift| of preselected_translations"
            if self.name == "preselected_translations"
            else "the largest shift of the window (window_x, window_y)"
        )
        return f"patch_y={self.patch_y}, patch_x={self.patch_x} and {what}: it needs at least 2*(patch + shift) + 1"

    def grid(self, shape: tuple[int, int], stride: int) -> DescriptorGrid:
        return local_correlation_grid(shape, self._extent_shifts, self.patch_y, self.patch_x, stride, self.edges)

    @property
    def halo(self) -> int:
        """Pixels around a grid point that its descriptor depends on."""
        return max(self.margins)

    def compute(
        self, image: np.ndarray, stride: int, out: np.ndarray | None = None, fft_workers=None, progress=None,
        grid: DescriptorGrid | None = None, origin=(0, 0), reference_std: float | None = None,
    ) -> np.ndarray:
        """(ny, nx, N) float32 scores of ``image`` (H, W) on the stride grid (or ``grid``).

        ``progress``, if given, is called with the number of grid points finished.
        ``origin`` (the tile's position in a larger image) does not change translation
        scores; it is accepted for the common protocol. ``reference_std``: the standard
        deviation of the whole image a tile is cut from (sets the flat-patch threshold).
        """
        if grid is None:
            grid = self.grid(np.shape(image), stride)
        scores, _ = local_correlation_map(
            image, self.shifts, self.patch_y, self.patch_x, stride, self.method, self.edges,
            out=out, fft_workers=fft_workers, progress=progress, grid=grid, reference_std=reference_std,
        )
        return scores

    def operation_names(self) -> list[str]:
        """Readable names, e.g. ``"T(-5, 10)"`` for the shift m=-5 (rows), n=10 (columns)."""
        return [f"T({m}, {n})" for m, n in self.shifts]

    def subset(self, indices) -> "TranslationDescriptor":
        """The same descriptor restricted to some operations (e.g. the most separable)."""
        parameters = {k: v for k, v in self.parameters.items() if k not in ("window_x", "window_y", "max_num_points")}
        extent = self.extent or (int(np.abs(self.shifts[:, 0]).max()), int(np.abs(self.shifts[:, 1]).max()))
        return TranslationDescriptor(
            self.shifts[np.asarray(indices)], self.patch_x, self.patch_y, self.method, self.edges,
            "preselected_translations", parameters, extent,
        )

    def metadata(self) -> dict:
        """Plain-value description for ``metadata`` of HyperSpy signals."""
        return {
            "descriptor": self.name,
            **{k: v for k, v in self.parameters.items() if v is not None},
            "operation_type": "translation",
            "operations": np.asarray(self.shifts),
            "operations_order": "(m, n) = (rows, columns) in pixels",
        }


def _build_translations(
    name, method, patch_x, patch_y, edges, window_x=None, window_y=None, max_num_points=None, preselected_translations=None
):
    check.check_choice("method", method, METHODS)
    check.check_choice("edges", edges, EDGES)
    patch_x = check.check_int("patch_x", patch_x, 1)
    patch_y = check.check_int("patch_y", patch_y, 1)
    parameters = {"method": method, "patch_x": patch_x, "patch_y": patch_y, "edges": edges}
    if name == "preselected_translations":
        if preselected_translations is None:
            raise ValueError(
                "descriptor='preselected_translations' needs preselected_translations=, "
                "an (N, 2) integer array of shifts (m, n) = (rows, columns) in pixels."
            )
        shifts = check.check_shifts(preselected_translations)
    else:
        window_x = check.check_int("window_x", window_x, 1)
        window_y = check.check_int("window_y", window_y, 1)
        max_num_points = check.check_int("max_num_points", max_num_points, 1)
        shifts = translation_grid(window_x, window_y, max_num_points)
        parameters.update(window_x=window_x, window_y=window_y, max_num_points=max_num_points)
    return TranslationDescriptor(shifts, patch_x, patch_y, method, edges, name, parameters)


#: Defaults of the translation descriptors, chosen on the forward-model accuracy suite
#: (benchmarks/bench_accuracy.py; README): patch 12 with window 20 (81 shifts,
#: -20..20 in steps of 5) gave accuracy mean 0.985 / min 0.953, against 0.983 / 0.949
#: for pySTEM's patch 20 and 0.982 / 0.959 for patch = window = 15. Scale patch and
#: window with the lattice period for images sampled much more finely or coarsely.
_TRANSLATION_COMMON = {"method": "direct", "patch_x": 12, "patch_y": 12, "edges": "shrink"}
register(
    "local_correlation_map",
    {**_TRANSLATION_COMMON, "window_x": 20, "window_y": 20, "max_num_points": 100},
    _build_translations,
)
register("preselected_translations", {**_TRANSLATION_COMMON, "preselected_translations": None}, _build_translations)
