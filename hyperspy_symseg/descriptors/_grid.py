"""Geometry shared by the descriptor kernels: shift sets and descriptor grids.

Pure NumPy, no HyperSpy. Conventions used throughout the package:

* Images are ``(rows, columns)`` arrays, i.e. ``(y, x)`` in HyperSpy terms.
* A translation is an integer pair ``(m, n) = (dy, dx)`` in pixels, ``m`` along
  the rows (down) and ``n`` along the columns (right), the order of NumPy indices
  and of the paper's ``T(m, n)``.
* ``patch_x`` / ``window_x`` are half sizes along x (columns) and ``patch_y`` /
  ``window_y`` along y (rows), following HyperSpy where x is horizontal. (The
  paper and pySTEM call the vertical half size ``patch_x``; with the default
  square patches and windows the two conventions give the same numbers.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DescriptorGrid:
    """Pixel positions at which descriptors are evaluated.

    Grid point ``(i, j)`` is centred on image pixel
    ``(y0 + i * stride, x0 + j * stride)``, for ``0 <= i < ny`` and ``0 <= j < nx``.
    """

    y0: int
    x0: int
    ny: int
    nx: int
    stride: int

    @property
    def shape(self) -> tuple[int, int]:
        return (self.ny, self.nx)

    def rows(self) -> np.ndarray:
        """(ny,) int array of the image rows of the grid centres."""
        return self.y0 + self.stride * np.arange(self.ny)

    def cols(self) -> np.ndarray:
        """(nx,) int array of the image columns of the grid centres."""
        return self.x0 + self.stride * np.arange(self.nx)


def translation_grid(window_x: int, window_y: int, max_num_points: int) -> np.ndarray:
    """Shifts on a uniform, symmetric grid inside a window, including zero.

    The shifts are ``(m, n) = (a * s, b * s)`` for all integers ``a, b`` with
    ``|a * s| <= window_y`` and ``|b * s| <= window_x``, where the step ``s``
    is the smallest positive integer for which their number,
    ``(2 * (window_y // s) + 1) * (2 * (window_x // s) + 1)``, does not exceed
    ``max_num_points``. One step is used for both axes so the sampling is
    isotropic in pixel space. The grid is symmetric about and contains the zero
    shift; e.g. window 21 and 100 points give step 5 and the 81 shifts
    -20, -15, ..., 20 on both axes (pySTEM uses -21..19, which is not symmetric).

    Parameters
    ----------
    window_x, window_y : int
        Half sizes (>= 0) of the shift window along x (columns) and y (rows).
    max_num_points : int
        Largest allowed number of shifts (>= 1).

    Returns
    -------
    shifts : (N, 2) int64 ndarray
        Rows ``(m, n)`` sorted by ``m`` then ``n`` (row-major over the window).
    """
    if max_num_points < 1:
        raise ValueError(f"max_num_points must be an integer >= 1, got {max_num_points}.")
    step = 1
    while (2 * (window_y // step) + 1) * (2 * (window_x // step) + 1) > max_num_points:
        step += 1
    m = step * np.arange(-(window_y // step), window_y // step + 1)
    n = step * np.arange(-(window_x // step), window_x // step + 1)
    mm, nn = np.meshgrid(m, n, indexing="ij")
    return np.stack([mm.ravel(), nn.ravel()], axis=1).astype(np.int64)


def descriptor_grid(
    shape: tuple[int, int],
    margin_y: int,
    margin_x: int,
    stride: int,
    inner_y: int | None = None,
    inner_x: int | None = None,
) -> DescriptorGrid:
    """A stride grid of centres at least ``margin`` pixels from every edge.

    Centres are ``margin + k * stride`` for the integers ``k >= 0`` that keep them
    at least ``margin`` pixels from the far edge. If ``inner`` is given (<= margin),
    the grid is extended by whole strides towards both edges while the centres stay
    at least ``inner`` pixels inside, so it keeps the same interior points. The
    caller checks that the image is at least ``2 * margin + 1`` pixels along each axis.
    """

    def axis(size, margin, inner):
        if inner is None:
            inner = margin
        start = margin - stride * ((margin - inner) // stride)
        return start, (size - 1 - inner - start) // stride + 1

    y0, ny = axis(shape[0], margin_y, inner_y)
    x0, nx = axis(shape[1], margin_x, inner_x)
    return DescriptorGrid(int(y0), int(x0), int(ny), int(nx), int(stride))


def nearest_grid_index(n_pixels: int, start: int, stride: int, n_points: int) -> np.ndarray:
    """Index of the nearest grid point for every pixel along one axis.

    Grid points sit at ``start + stride * k``. Pixels halfway between two points
    go to the later one; pixels beyond either end go to the end point, so the
    borders of an image are labelled too.
    """
    pixels = np.arange(n_pixels)
    k = np.floor((pixels - start) / stride + 0.5).astype(np.int64)
    return np.clip(k, 0, n_points - 1)


def upsample_labels(labels: np.ndarray, grid: DescriptorGrid, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour labels for every pixel from labels on a descriptor grid.

    Parameters
    ----------
    labels : (..., ny, nx) ndarray
        One label per grid point (leading axes, e.g. frames, are kept).
    grid : DescriptorGrid
    shape : (H, W)
        Image shape.

    Returns
    -------
    (..., H, W) ndarray of the same dtype; every pixel, borders included, gets the
    label of its nearest grid point (see :func:`nearest_grid_index`).
    """
    iy = nearest_grid_index(shape[0], grid.y0, grid.stride, grid.ny)
    ix = nearest_grid_index(shape[1], grid.x0, grid.stride, grid.nx)
    return labels[..., iy[:, None], ix[None, :]]
